// Secrets encryption at the store boundary (kube-apiserver's storage transformer, K3s
// --secrets-encryption): a Store whose propose seals Secrets before they become Raft commands
// and whose get/list/watch open them. So the Raft log, state.db, its events history, snapshots
// and backups hold only envelopes; everything above the store (registry, API, controllers,
// informers) sees plain objects. It overrides only the KubeStore methods, so it does not
// depend on how state.db or the log are laid out.
//
// A sealed Secret keeps in clear only the metadata the state machine itself reads (name,
// namespace, uid, resourceVersion, deletion fields, finalizers); the whole object, those
// included, is inside the envelope, and opening checks that the clear copy matches it.
// onApplied listeners see the stored form (they read metadata only).
import { ApiError } from "../errors";
import type { ApplyResult, Command, ResKey } from "../store/commands";
import { ExpiredError, Store, type ListOptions, type ListPage, type Replication, type Watcher } from "../store/store";
import type { StoreOptions } from "../store/applied-state";
import type { EventType } from "../store/watch-window";
import { keyNameOf, open, seal, UnsealError } from "./envelope";
import type { Keyring } from "./keyring";

/** Resources encrypted at rest (upstream's EncryptionConfiguration `resources`, as K3s sets it). */
export const ENCRYPTED = new Set<ResKey>(["secrets"]);
/** The field of a stored object that holds the envelope. */
export const SEALED_FIELD = "encrypted";
const CLEAR_METADATA = ["name", "namespace", "uid", "resourceVersion", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "finalizers"] as const;

export interface KeyringSource {
  /** The keyring in force on this server; undefined until it has loaded one. */
  current(): Keyring | undefined;
  /** Resolves once a keyring is loaded (a joining server waits for it to replicate). */
  ready(): Promise<void>;
}

export const isSealed = (obj: any): boolean => obj != null && typeof obj === "object" && typeof obj[SEALED_FIELD] === "string";
/** The key a stored object is sealed with; undefined when it is stored in clear. */
export const storedKeyOf = (obj: any): string | undefined => (isSealed(obj) ? keyNameOf(obj[SEALED_FIELD]) : undefined);

/** Memory for recently opened envelopes (with their plaintext). */
const OPENED_CACHE_BYTES = 8 * 1024 * 1024;

export class EncryptingStore extends Store {
  private readonly opened = new Map<string, string>();
  private openedBytes = 0;

  /** Like Store: `options` for a store of one, or a replicated state and its proposer. */
  constructor(
    o: StoreOptions | Replication,
    private readonly keys: KeyringSource,
  ) {
    super(o);
  }

  /** Seal for storage with the active key, or leave in clear when encryption is disabled. */
  seal(obj: any, k: Keyring): any {
    if (!k.enabled || obj == null || typeof obj !== "object") return obj;
    const key = k.keys.find((d) => d.name === k.active);
    if (!key) throw new ApiError(500, "InternalError", `secrets encryption: the active key "${k.active}" is missing from the keyring`);
    const m = obj.metadata ?? {};
    const clear: Record<string, unknown> = {};
    for (const f of CLEAR_METADATA) if (m[f] !== undefined) clear[f] = m[f];
    const json = JSON.stringify(obj);
    const envelope = seal(key, new TextEncoder().encode(json));
    this.remember(envelope, json);
    return { apiVersion: obj.apiVersion, kind: obj.kind, metadata: clear, [SEALED_FIELD]: envelope };
  }

  /** Open a stored object (a clear one is returned as it is). Throws UnsealError. */
  unseal(stored: any): any {
    if (!isSealed(stored)) return stored;
    const obj = JSON.parse(this.plaintextOf(stored[SEALED_FIELD]));
    const m = stored.metadata ?? {};
    const inner = (obj.metadata ??= {});
    // The clear copy is what the state machine acted on; an envelope moved from another row fails here.
    if (inner.name !== m.name || (inner.namespace ?? "") !== (m.namespace ?? "") || (m.uid !== undefined && inner.uid !== m.uid))
      throw new UnsealError(`envelope of ${m.namespace}/${m.name} holds another object (${inner.namespace}/${inner.name})`);
    for (const f of CLEAR_METADATA) {
      if (m[f] !== undefined) inner[f] = m[f];
      else delete inner[f];
    }
    return obj;
  }

  /**
   * The JSON inside an envelope. Opening costs ~0.1 ms per KiB (secretbox in JavaScript), so
   * recently opened ones are kept in memory (bounded, least recently used first out): the same
   * envelope always holds the same plaintext, and a key dropped from the keyring stops its hits.
   */
  private plaintextOf(envelope: string): string {
    const k = this.keys.current();
    const keyOf = (n: string) => k?.keys.find((d) => d.name === n);
    const name = keyNameOf(envelope);
    const hit = name && keyOf(name) ? this.opened.get(envelope) : undefined;
    if (hit !== undefined) {
      this.opened.delete(envelope);
      this.opened.set(envelope, hit);
      return hit;
    }
    const json = new TextDecoder().decode(open(envelope, keyOf));
    this.remember(envelope, json);
    return json;
  }

  private remember(envelope: string, json: string): void {
    this.opened.set(envelope, json);
    this.openedBytes += envelope.length + json.length;
    for (const [e, j] of this.opened) {
      if (this.openedBytes <= OPENED_CACHE_BYTES) break;
      this.opened.delete(e);
      this.openedBytes -= e.length + j.length;
    }
  }

  private openOrFail(stored: any): any {
    try {
      return this.unseal(stored);
    } catch (e) {
      if (!(e instanceof UnsealError)) throw e;
      const m = stored?.metadata ?? {};
      throw new ApiError(500, "InternalError", `secrets "${m.name}" in namespace "${m.namespace}" cannot be decrypted: ${e.message}`);
    }
  }

  override get(res: ResKey, ns: string, name: string): { obj: any; rev: number } | undefined {
    const r = super.get(res, ns, name);
    if (!r || !ENCRYPTED.has(res)) return r;
    return { obj: this.openOrFail(r.obj), rev: r.rev };
  }

  /** Stored objects as they are on disk (sealed), for re-encryption and status. */
  listStored(res: ResKey, ns?: string, o: ListOptions = {}): ListPage {
    return super.list(res, ns, o);
  }

  override list(res: ResKey, ns: string | undefined, o: ListOptions = {}): ListPage {
    if (!ENCRYPTED.has(res)) return super.list(res, ns, o);
    const opened = new WeakMap<object, any>();
    const historical = o.atRev !== undefined && o.atRev < this.rev;
    const dec = (s: any) => {
      if (!isSealed(s)) return s;
      let v = opened.get(s);
      if (v === undefined) {
        try {
          v = historical ? this.unseal(s) : this.openOrFail(s);
        } catch (e) {
          // History sealed with a key since retired: the client relists at the current revision.
          if (e instanceof UnsealError) throw new ExpiredError(o.atRev!, this.rev);
          throw e;
        }
        opened.set(s, v);
      }
      return v;
    };
    const match = o.match;
    const page = super.list(res, ns, { ...o, match: match ? (s) => match(dec(s)) : undefined });
    return { ...page, items: page.items.map(dec) };
  }

  override watch(w: Watcher, fromRev: number): () => void {
    if (!ENCRYPTED.has(w.res)) return super.watch(w, fromRev);
    // Replayed history sealed with a retired key cannot be opened: 410 Gone, the client relists.
    for (const e of this.window.since(fromRev) ?? []) {
      if (e.res !== w.res) continue;
      for (const o of [e.obj, e.prev])
        if (isSealed(o))
          try {
            this.unseal(o);
          } catch {
            throw new ExpiredError(fromRev, this.rev);
          }
    }
    const opened = new WeakMap<object, any>();
    let failed = false;
    const dec = (s: any): any => {
      if (!isSealed(s)) return s;
      let v = opened.get(s);
      if (v === undefined) {
        v = this.unseal(s);
        opened.set(s, v);
      }
      return v;
    };
    // A live event this server cannot open (it should not happen: keys arrive first, in log
    // order) ends the watch instead of throwing into the apply path; the client re-watches.
    const guard = <T>(f: () => T, fallback: T): T => {
      if (failed) return fallback;
      try {
        return f();
      } catch (e) {
        failed = true;
        console.error(`secrets watch closed: ${(e as Error).message}`);
        queueMicrotask(() => w.close?.());
        return fallback;
      }
    };
    return super.watch(
      {
        res: w.res,
        ns: w.ns,
        close: w.close,
        match: (s) => guard(() => w.match(dec(s)), false),
        send: (type: EventType, s: any, rev: number) => guard(() => w.send(type, dec(s), rev), undefined),
      },
      fromRev,
    );
  }

  override async propose(cmd: Command): Promise<ApplyResult> {
    let sealed = cmd;
    if (touches(cmd)) {
      await this.keys.ready();
      sealed = this.sealCommand(cmd, this.keys.current()!);
    }
    const r = await super.propose(sealed);
    // Also a delete's answer: the last stored state of the Secret.
    if (r.ok && isSealed(r.obj)) return { ...r, obj: this.openOrFail(r.obj) };
    return r;
  }

  private sealCommand(cmd: Command, k: Keyring): Command {
    if (cmd.op === "txn") return { ...cmd, cmds: cmd.cmds.map((c) => this.sealCommand(c, k)) };
    if (cmd.op === "delete" || !ENCRYPTED.has(cmd.res)) return cmd;
    return { ...cmd, obj: this.seal(cmd.obj, k) };
  }
}

function touches(cmd: Command): boolean {
  return cmd.op === "txn" ? cmd.cmds.some(touches) : cmd.op !== "delete" && ENCRYPTED.has(cmd.res);
}
