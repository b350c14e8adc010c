// `skiff secrets-encrypt` on the server: the keyring this server uses (loaded from the
// replicated state, opened with the root key) and the K3s operations on it: status, enable,
// disable, prepare, rotate, reencrypt, rotate-keys. A rotation never stops the API: every
// server reads with the old and the new key until each has loaded the new keyring (it reports
// the generation it loaded in SERVER_STATE_RES), then every Secret is rewritten with the new
// key and only then is the old key dropped.
import { ApiError, badRequest } from "../errors";
import type { StateMachine } from "../store/state-machine";
import { newDataKey, type DataKey } from "./envelope";
import { KEYRING_NAME, KEYRING_RES, keyringFrom, keyringHash, keyringObject, SERVER_STATE_RES, writeEncryptionConfig, type Keyring, type Stage } from "./keyring";
import { ENCRYPTED, storedKeyOf, type EncryptingStore, type KeyringSource } from "./store";

export interface EncryptionStatus {
  enabled: boolean;
  stage: Stage;
  generation: number;
  active: string;
  keys: { name: string; active: boolean; secrets: number }[];
  /** Secrets stored in clear. */
  plaintextSecrets: number;
  servers: { name: string; generation?: number; hash?: string; current: boolean }[];
  hashesMatch: boolean;
}

export interface EncryptionOptions {
  serverDir: string;
  /** This server's name (its record in SERVER_STATE_RES). */
  serverName: string;
  root: DataKey;
  /** The servers of the cluster, by name (Raft members). */
  servers: () => string[];
  /** How long a rotation waits for every server to load a new keyring. */
  serverWaitMs?: number;
  /** Erase this server's on-disk history of old Secret forms (purge.ts), after a re-encryption. */
  purge?: () => Promise<void>;
}

export class SecretsEncryption implements KeyringSource {
  private store?: EncryptingStore;
  private keyring?: Keyring;
  private loadedFrom?: StateMachine;
  private readyWaiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private loadError?: ApiError;
  private reported = 0;
  private reporting = false;
  private busy: Promise<unknown> = Promise.resolve();
  private purging: Promise<void> = Promise.resolve();

  constructor(private readonly o: EncryptionOptions) {}

  attach(store: EncryptingStore): void {
    this.store = store;
    store.onApplied((events) => {
      if (events.some((e) => e.res === KEYRING_RES)) this.load();
    });
    this.load();
  }

  current(): Keyring | undefined {
    // A snapshot install replaces the state machine without events: reload from it.
    if (this.store && this.store.sm !== this.loadedFrom) this.load();
    return this.keyring;
  }

  ready(): Promise<void> {
    if (this.current()) return Promise.resolve();
    if (this.loadError) return Promise.reject(this.loadError);
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  private load(): void {
    const store = this.store!;
    this.loadedFrom = store.sm;
    const obj = store.get(KEYRING_RES, "", KEYRING_NAME)?.obj;
    if (!obj) return;
    let k: Keyring;
    try {
      k = keyringFrom(obj, this.o.root);
    } catch (e) {
      const msg = `secrets encryption: the cluster's keyring does not open with ${this.o.serverDir}/cred/encryption-root-key (${(e as Error).message}); copy that file from another server`;
      if (!this.loadError) console.error(msg);
      // Secret writes fail with this instead of waiting for a keyring that will never open.
      this.loadError = new ApiError(500, "InternalError", msg);
      for (const w of this.readyWaiters.splice(0)) w.reject(this.loadError);
      return;
    }
    this.loadError = undefined;
    const prev = this.keyring;
    const changed = k.generation !== prev?.generation;
    this.keyring = k;
    if (changed) writeEncryptionConfig(this.o.serverDir, k);
    // A re-encryption just ended (seen live, not a restart): old forms leave this server's disk.
    if (changed && prev && k.enabled && k.stage === "reencrypt_finished" && this.o.purge) {
      const purge = this.o.purge;
      this.purging = this.purging.then(() => purge().catch((e) => console.error(`secrets encryption: purging old secret versions: ${(e as Error).message}`)));
    }
    for (const w of this.readyWaiters.splice(0)) w.resolve();
    void this.report();
  }

  /** Record which keyring generation this server has loaded (the hash `status` compares). */
  private async report(): Promise<void> {
    if (this.reporting) return;
    this.reporting = true;
    try {
      for (let i = 0; i < 20; i++) {
        const k = this.keyring;
        if (!k || k.generation === this.reported) return;
        const store = this.store!;
        const cur = store.get(SERVER_STATE_RES, "", this.o.serverName);
        const obj = { metadata: { name: this.o.serverName }, spec: { generation: k.generation, hash: keyringHash(k) } };
        // Already recorded (a restart): no write.
        if (cur?.obj?.spec?.generation === obj.spec.generation && cur.obj.spec.hash === obj.spec.hash) {
          this.reported = k.generation;
          return;
        }
        const r = await store
          .propose(cur ? { op: "update", res: SERVER_STATE_RES, ns: "", name: this.o.serverName, obj, pre: { rev: cur.rev } } : { op: "create", res: SERVER_STATE_RES, ns: "", name: this.o.serverName, obj })
          .catch(() => undefined);
        if (r?.ok) this.reported = k.generation;
        else await Bun.sleep(250);
      }
    } finally {
      this.reporting = false;
    }
  }

  /** On a new cluster's first server: make the first keyring (no-op when one exists). */
  async init(o: { create: boolean; enabled?: boolean }): Promise<void> {
    if (!o.create || this.current()) return;
    const key = newDataKey();
    const k: Keyring = { generation: 1, enabled: o.enabled ?? true, stage: "start", active: key.name, keys: [key] };
    const r = await this.store!.propose({ op: "create", res: KEYRING_RES, ns: "", name: KEYRING_NAME, obj: keyringObject(k, this.o.root) });
    if (!r.ok && r.error.code !== "AlreadyExists") throw new Error(`secrets encryption: cannot store the keyring: ${r.error.code}`);
    this.load();
    // A data dir from before encryption: its Secrets are sealed now, in the background.
    if (this.plaintextCount() > 0) void this.exclusive(() => this.reencrypt()).catch((e) => console.error(`secrets encryption: re-encrypting existing secrets: ${(e as Error).message}`));
  }

  status(): EncryptionStatus {
    const k = this.need();
    const counts = new Map<string, number>();
    let plain = 0;
    for (const s of this.stored()) {
      const name = storedKeyOf(s);
      if (name === undefined) plain++;
      else counts.set(name, (counts.get(name) ?? 0) + 1);
    }
    const hash = keyringHash(k);
    const servers = this.o.servers().map((name) => {
      const rec = this.store!.get(SERVER_STATE_RES, "", name)?.obj?.spec;
      return { name, generation: rec?.generation, hash: rec?.hash, current: rec?.hash === hash && rec?.generation === k.generation };
    });
    const names = new Set([...k.keys.map((d) => d.name), ...counts.keys()]);
    return {
      enabled: k.enabled,
      stage: k.stage,
      generation: k.generation,
      active: k.active,
      keys: [...names].map((name) => ({ name, active: name === k.active, secrets: counts.get(name) ?? 0 })),
      plaintextSecrets: plain,
      servers,
      hashesMatch: servers.every((s) => s.current),
    };
  }

  /** Operations run one at a time on this server; another server's change shows as a Conflict. */
  run(op: string): Promise<EncryptionStatus> {
    const ops: Record<string, () => Promise<void>> = {
      enable: () => this.setEnabled(true),
      disable: () => this.setEnabled(false),
      prepare: () => this.prepare(),
      rotate: () => this.rotate(),
      reencrypt: () => this.reencrypt(),
      "rotate-keys": () => this.rotateKeys(),
    };
    const f = Object.hasOwn(ops, op) ? ops[op] : undefined;
    if (!f) throw badRequest(`unknown secrets-encrypt command "${op}": use status, enable, disable, prepare, rotate, reencrypt or rotate-keys`);
    return this.exclusive(async () => {
      // Act on the latest keyring, not on what this server has applied so far.
      await this.store!.readBarrier();
      await f();
      return this.status();
    });
  }

  private exclusive<T>(f: () => Promise<T>): Promise<T> {
    const p = this.busy.then(f, f);
    this.busy = p.catch(() => {});
    return p;
  }

  private need(): Keyring {
    const k = this.current();
    if (!k) throw new ApiError(503, "ServiceUnavailable", "secrets encryption: this server has not loaded the cluster's keyring yet; retry shortly");
    return k;
  }

  /** Propose the next generation of the keyring, only over the one it was derived from. */
  private async commit(next: Omit<Keyring, "generation">): Promise<Keyring> {
    const store = this.store!;
    const cur = store.get(KEYRING_RES, "", KEYRING_NAME);
    const base = this.need();
    if (!cur) throw new ApiError(503, "ServiceUnavailable", "secrets encryption: no keyring stored yet");
    const k: Keyring = { ...next, generation: base.generation + 1 };
    const r = await store.propose({ op: "update", res: KEYRING_RES, ns: "", name: KEYRING_NAME, obj: keyringObject(k, this.o.root), pre: { rev: cur.rev } });
    if (!r.ok) throw new ApiError(409, "Conflict", "secrets encryption: the keyring changed meanwhile (another secrets-encrypt command?); check `skiff secrets-encrypt status` and retry");
    this.load();
    return k;
  }

  private async setEnabled(enabled: boolean): Promise<void> {
    const k = this.need();
    if (k.enabled === enabled) return;
    await this.commit({ ...k, enabled, stage: "start" });
  }

  private async prepare(): Promise<void> {
    const k = this.need();
    await this.commit({ ...k, stage: "prepare", keys: [...k.keys, newDataKey()] });
  }

  private async rotate(): Promise<void> {
    const k = this.need();
    if (k.stage !== "prepare") throw badRequest(`secrets encryption: rotate follows prepare (the current stage is ${k.stage})`);
    await this.commit({ ...k, stage: "rotate", active: k.keys[k.keys.length - 1]!.name });
  }

  private async rotateKeys(): Promise<void> {
    const k = this.need();
    const key = newDataKey();
    await this.commit({ ...k, enabled: true, stage: "rotate", active: key.name, keys: [key, ...k.keys] });
    await this.reencrypt();
  }

  /**
   * Rewrite every Secret that is not stored as the keyring says (sealed with the active key, or
   * in clear when disabled), once every server uses this keyring; then drop the unused keys.
   */
  private async reencrypt(): Promise<void> {
    let k = await this.commit({ ...this.need(), stage: "reencrypt_active" });
    await this.waitForServers(k.generation);
    for (let pass = 0; ; pass++) {
      const stale = this.stored().filter((s) => !inTarget(s, k));
      if (!stale.length) break;
      if (pass === 5) throw new ApiError(409, "Conflict", `secrets encryption: ${stale.length} secrets kept changing during re-encryption; run reencrypt again`);
      for (const s of stale) await this.rewrite(s.metadata.namespace, s.metadata.name);
    }
    k = this.need();
    const keys = k.enabled ? k.keys.filter((d) => d.name === k.active) : k.keys;
    await this.commit({ ...k, stage: "reencrypt_finished", keys });
  }

  private async rewrite(ns: string, name: string): Promise<void> {
    const store = this.store!;
    for (let i = 0; i < 5; i++) {
      const cur = store.get("secrets", ns, name);
      if (!cur) return;
      // Deleting already (no finalizer left to wait for): an update would remove it.
      if (cur.obj.metadata?.deletionTimestamp && !cur.obj.metadata?.finalizers?.length) return;
      const r = await store.propose({ op: "update", res: "secrets", ns, name, obj: cur.obj, pre: { rev: cur.rev } });
      if (r.ok || r.error.code === "NotFound") return;
    }
  }

  private async waitForServers(generation: number): Promise<void> {
    const deadline = Date.now() + (this.o.serverWaitMs ?? (Number(process.env.SKIFF_SECRETS_ENCRYPT_WAIT_MS) || 30_000));
    for (;;) {
      const behind = this.o.servers().filter((n) => (this.store!.get(SERVER_STATE_RES, "", n)?.obj?.spec?.generation ?? 0) < generation);
      if (!behind.length) return;
      if (Date.now() > deadline)
        throw new ApiError(504, "Timeout", `secrets encryption: server(s) ${behind.join(", ")} have not loaded the new keyring; bring them up and run \`skiff secrets-encrypt reencrypt\``);
      await Bun.sleep(100);
    }
  }

  private stored(): any[] {
    const out: any[] = [];
    for (const res of ENCRYPTED) out.push(...this.store!.listStored(res).items);
    return out;
  }

  private plaintextCount(): number {
    return this.stored().filter((s) => storedKeyOf(s) === undefined).length;
  }
}

function inTarget(stored: any, k: Keyring): boolean {
  const key = storedKeyOf(stored);
  return k.enabled ? key === k.active : key === undefined;
}
