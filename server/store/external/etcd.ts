// The etcd backend: objects under kube-apiserver's key layout (/registry/<resource>/<ns>/<name>,
// cluster-scoped ones without the namespace), an object's resourceVersion is its mod revision,
// writes are transactions comparing the mod revision (create: create revision 0), and the
// mirror follows one prefix watch. Client: the `etcd3` package (gRPC, reconnects itself).
import "./etcd-protos"; // first: etcd3 reads its .proto files as it loads
import { circuitBreaker, ConsecutiveBreaker, ExponentialBackoff, handleWhen, retry } from "cockatiel";
import { Etcd3, isRecoverableError, type IKeyValue, type IOptions } from "etcd3";
import type { ApplyResult, Command } from "../commands";
import { committed, decode, encode, plan, withTimeout, type Backend, type Current, type Guess, type RawEvent, type Snapshot } from "./backend";

const PREFIX = "/registry/";
const PREFIX_END = "/registry0"; // the prefix with its last byte incremented: a range over every key under it
const BOOTSTRAP_KEY = "/skiff/bootstrap";
const CALL_MS = 5000;

export function etcdKey(res: string, ns: string, name: string): string {
  return `${PREFIX}${res}/${ns ? `${ns}/` : ""}${name}`;
}

export interface EtcdOptions {
  hosts: string[];
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
}

export class EtcdBackend implements Backend {
  readonly kind = "etcd";
  private client: Etcd3;
  /** Which object each key holds, to name the object of a delete event. */
  private keys = new Map<string, { res: string; ns: string; name: string }>();

  constructor(o: EtcdOptions) {
    const opts: IOptions = {
      hosts: o.hosts,
      dialTimeout: 3000,
      faultHandling: {
        // Fail fast while etcd is down (the API answers 503) and try again a second later.
        host: () => circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: 1000, breaker: new ConsecutiveBreaker(3) }),
        global: retry(handleWhen(isRecoverableError), { maxAttempts: 2 }),
        // etcd3's type says a backoff, its watch manager calls next() on it: a factory is what it needs.
        watchBackoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 1000 }) as any,
      },
    };
    if (o.tls && (o.tls.ca || o.tls.cert)) opts.credentials = { rootCertificate: o.tls.ca ?? Buffer.alloc(0), privateKey: o.tls.key, certChain: o.tls.cert };
    this.client = new Etcd3(opts);
  }

  private remember(key: string, r: { res: string; ns: string; name: string }): void {
    this.keys.set(key, r);
  }

  /** res/ns/name of a key holding `value`; undefined for a key that is not an object of ours. */
  private parse(key: string, value: string | undefined): { res: string; ns: string; name: string } | undefined {
    const known = this.keys.get(key);
    if (known || value === undefined) return known;
    let meta: any;
    try {
      meta = JSON.parse(value)?.metadata;
    } catch {
      return undefined;
    }
    const ns = typeof meta?.namespace === "string" ? meta.namespace : "";
    const name = meta?.name;
    if (typeof name !== "string") return undefined;
    const suffix = ns ? `/${ns}/${name}` : `/${name}`;
    if (!key.startsWith(PREFIX) || !key.endsWith(suffix) || key.length <= PREFIX.length + suffix.length) return undefined;
    return { res: key.slice(PREFIX.length, key.length - suffix.length), ns, name };
  }

  async snapshot(): Promise<Snapshot> {
    this.keys.clear();
    const rows: Snapshot["rows"] = [];
    let rev = 0;
    let from = Buffer.from(PREFIX);
    for (;;) {
      const r = await withTimeout(this.client.kv.range({ key: from, range_end: Buffer.from(PREFIX_END), limit: "1000", revision: rev ? String(rev) : undefined }), CALL_MS, "etcd range");
      if (!rev) rev = Number(r.header.revision);
      for (const kv of r.kvs) {
        const key = kv.key.toString();
        const value = kv.value.toString();
        const id = this.parse(key, value);
        if (!id) continue;
        this.remember(key, id);
        rows.push({ rev: Number(kv.mod_revision), ...id, value });
      }
      if (!r.more || r.kvs.length === 0) break;
      from = Buffer.concat([r.kvs[r.kvs.length - 1]!.key, Buffer.from([0])]);
    }
    rows.sort((a, b) => a.rev - b.rev);
    return { rev, rows };
  }

  /**
   * The changes in (fromRev, toRev] from a watch started at fromRev + 1 (etcd has no other way
   * to read past revisions); undefined unless it provably reaches toRev. That watch covers every
   * key, not only /registry/: every revision after the first changes some key, so an event at
   * toRev always comes, even when the last write was not an object's.
   */
  history(fromRev: number, toRev: number): Promise<RawEvent[] | undefined> {
    // Revision 1 is an empty etcd's own: no key changed at it.
    if (toRev <= Math.max(fromRev, 1)) return Promise.resolve([]);
    return new Promise((resolve) => {
      const out: RawEvent[] = [];
      let done = false;
      const finish = (v: RawEvent[] | undefined) => {
        if (done) return;
        done = true;
        clearTimeout(t);
        stop();
        resolve(v);
      };
      const t = setTimeout(() => finish(undefined), CALL_MS);
      const stop = this.watchFrom(fromRev, {
        events: (evs, raw, lastRev) => {
          for (let i = 0; i < evs.length; i++) {
            const e = evs[i]!;
            if (e.rev > toRev) return finish(out);
            out.push({ ...e, created: raw[i]!.created });
          }
          if (lastRev >= toRev) finish(out);
        },
        lost: () => finish(undefined),
      }, true);
    });
  }

  follow(fromRev: number, h: { events(evs: RawEvent[]): void; lost(why: string): void; progress?(rev: number): void }): () => void {
    return this.watchFrom(fromRev, { events: (evs) => h.events(evs), lost: h.lost, progress: h.progress }, false);
  }

  private watchFrom(fromRev: number, h: { events(evs: RawEvent[], meta: { created: boolean }[], lastRev: number): void; lost(why: string): void; progress?(rev: number): void }, history: boolean): () => void {
    let stopped = false;
    let watcher: Awaited<ReturnType<ReturnType<Etcd3["watch"]>["create"]>> | undefined;
    const onData = (res: any) => {
      if (stopped) return;
      if (Number(res.compact_revision) > 0) return; // answered by the cancel that follows
      const evs: RawEvent[] = [];
      const meta: { created: boolean }[] = [];
      let lastRev = 0;
      for (const ev of res.events as { type: string; kv: IKeyValue; prev_kv?: IKeyValue }[]) {
        const key = ev.kv.key.toString();
        const rev = Number(ev.kv.mod_revision);
        lastRev = Math.max(lastRev, rev);
        if (ev.type === "Put") {
          const value = ev.kv.value.toString();
          const id = this.parse(key, value);
          if (!id) continue;
          if (!history) this.remember(key, id);
          evs.push({ rev, type: "put", ...id, value });
          meta.push({ created: ev.kv.create_revision === ev.kv.mod_revision });
        } else {
          const last = ev.prev_kv?.value.toString();
          const id = this.parse(key, last);
          if (!history) this.keys.delete(key);
          if (id) {
            evs.push({ rev, type: "delete", ...id, value: last });
            meta.push({ created: false });
          } else if (history && key.startsWith(PREFIX)) return h.lost("a deleted object's last value is compacted");
        }
      }
      if (evs.length || (history && lastRev)) h.events(evs, meta, lastRev);
      else if (res.events.length === 0 && h.progress) h.progress(Number(res.header.revision));
    };
    const builder = this.client.watch();
    void (history ? builder.inRange({ start: Buffer.from([0]), end: Buffer.from([0]) }) : builder.prefix(PREFIX))
      .startRevision(String(fromRev + 1))
      .withPreviousKV()
      .create()
      .then((w) => {
        watcher = w;
        if (stopped) return void w.cancel();
        w.on("data", onData);
        // A canceled watch (its start revision was compacted) cannot resume: resync.
        w.on("error", (e: Error) => !stopped && h.lost(e.message));
      })
      .catch((e) => !stopped && h.lost((e as Error).message));
    return () => {
      stopped = true;
      void watcher?.cancel().catch(() => {});
    };
  }

  async commit(cmds: Command[], guess: Guess): Promise<ApplyResult[]> {
    return Promise.all(cmds.map((c) => this.commitOne(c, guess)));
  }

  private async get(key: string): Promise<Current | undefined> {
    const r = await withTimeout(this.client.kv.range({ key: Buffer.from(key) }), CALL_MS, "etcd get");
    const kv = r.kvs[0];
    return kv ? { rev: Number(kv.mod_revision), obj: decode(kv.value.toString(), Number(kv.mod_revision)) } : undefined;
  }

  private async commitOne(cmd: Command, guess: Guess): Promise<ApplyResult> {
    if (cmd.op === "txn") {
      // One etcd transaction gives all its writes one revision; the store's revisions are one per
      // write (the watch resumes after a revision), so only single-write transactions map.
      if (cmd.cmds.length !== 1) throw new Error("etcd datastore: a multi-write transaction is not supported");
      const r = await this.commitOne(cmd.cmds[0]!, guess);
      return r.ok ? r : { ...r, index: 0 };
    }
    const key = etcdKey(cmd.res, cmd.ns, cmd.name);
    let cur = guess(cmd.res, cmd.ns, cmd.name);
    let fresh = false;
    for (let attempt = 0; ; attempt++) {
      const p = plan(cmd, cur);
      if (p.kind === "error") {
        // The mirror may be behind: an error is only final when the datastore confirms it.
        if (fresh) return { ok: false, error: p.error };
        cur = await this.get(key);
        fresh = true;
        continue;
      }
      const compare = p.expectRev === 0 ? { key: Buffer.from(key), target: "Create" as const, result: "Equal" as const, create_revision: "0" } : { key: Buffer.from(key), target: "Mod" as const, result: "Equal" as const, mod_revision: String(p.expectRev) };
      const op = p.kind === "put" ? { request_put: { key: Buffer.from(key), value: Buffer.from(encode(p.obj)) } } : { request_delete_range: { key: Buffer.from(key) } };
      const r = await withTimeout(this.client.kv.txn({ compare: [compare], success: [op], failure: [{ request_range: { key: Buffer.from(key) } }] }), CALL_MS, "etcd txn");
      if (r.succeeded) return committed(p, Number(r.header.revision));
      const kv = r.responses[0]?.response_range?.kvs[0];
      cur = kv ? { rev: Number(kv.mod_revision), obj: decode(kv.value.toString(), Number(kv.mod_revision)) } : undefined;
      fresh = true;
      if (attempt > 20) return { ok: false, error: { code: "Conflict", currentRev: cur?.rev ?? 0 } };
    }
  }

  async currentRev(): Promise<number> {
    const r = await withTimeout(this.client.kv.range({ key: Buffer.from(PREFIX), range_end: Buffer.from(PREFIX_END), count_only: true }), CALL_MS, "etcd revision");
    return Number(r.header.revision);
  }

  async compact(rev: number): Promise<void> {
    await withTimeout(this.client.kv.compact({ revision: String(rev) }), CALL_MS, "etcd compact");
  }

  async bootstrap(create: string): Promise<string> {
    const key = Buffer.from(BOOTSTRAP_KEY);
    const r = await withTimeout(
      this.client.kv.txn({
        compare: [{ key, target: "Create", result: "Equal", create_revision: "0" }],
        success: [{ request_put: { key, value: Buffer.from(create) } }],
        failure: [{ request_range: { key } }],
      }),
      CALL_MS,
      "etcd bootstrap",
    );
    return r.succeeded ? create : r.responses[0]!.response_range!.kvs[0]!.value.toString();
  }

  async close(): Promise<void> {
    this.client.close();
  }
}
