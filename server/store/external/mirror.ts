// The store seam over an external datastore. Each server mirrors the datastore into its own
// applied state (a state.db rebuilt at every start, plus the same watch window the embedded
// store has), fed by the datastore's change stream with the datastore's revisions. So gets,
// lists and watches are served locally with the embedded store's code and semantics, and
// every server serves them (kube-apiserver's watch cache works the same way). Writes are
// compare-and-swap operations on the datastore; a write resolves once this server's mirror
// has it (read-your-writes). If the stream cannot resume (its revision was compacted), the
// mirror reloads and ends every watch: clients resume and get 410 Gone, never a silent gap.
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { AppliedState } from "../applied-state";
import type { ApplyResult, Command } from "../commands";
import type { Proposer } from "../proposer";
import { StateMachine } from "../state-machine";
import { Store, type Replication } from "../store";
import { WatchWindow } from "../watch-window";
import { decode, StoreUnavailable, type Backend, type Guess, type RawEvent, type Snapshot } from "./backend";

export interface MirrorOptions {
  /** Scratch directory for the mirror's state.db (emptied at start). */
  dir: string;
  windowSize?: number;
  /** How long to keep trying to reach the datastore at start (default 60 s). */
  startTimeoutMs?: number;
  log?: (msg: string) => void;
  /** The Store over the mirror (default a plain Store; the server's seals Secrets). */
  makeStore?: (r: Replication) => Store;
}

const WAIT_MS = 5000;

export class ExternalMirror implements Proposer {
  readonly state: AppliedState;
  readonly store: Store;
  /** Highest datastore revision this mirror has everything up to. */
  private seen = 0;
  private waiters: { rev: number; resolve: () => void }[] = [];
  private stopFollow: (() => void) | undefined;
  private queue: { cmd: Command; resolve: (r: ApplyResult) => void; reject: (e: unknown) => void }[] = [];
  private scheduled = false;
  private closed = false;
  private resyncing: Promise<void> | undefined;
  private log: (msg: string) => void;

  private constructor(
    readonly backend: Backend,
    private readonly o: MirrorOptions,
  ) {
    rmSync(o.dir, { recursive: true, force: true });
    // Nothing here needs to survive a crash: the datastore is the record, the mirror is reloaded.
    this.state = new AppliedState({ dataDir: o.dir, windowSize: o.windowSize, synchronous: "OFF" });
    const r: Replication = { state: this.state, proposer: this, readBarrier: () => this.readBarrier() };
    this.store = o.makeStore ? o.makeStore(r) : new Store(r);
    this.log = o.log ?? ((m) => console.log(m));
  }

  static async open(backend: Backend, o: MirrorOptions): Promise<ExternalMirror> {
    const m = new ExternalMirror(backend, o);
    const snap = await m.snapshotRetrying(o.startTimeoutMs ?? 60_000);
    for (const r of snap.rows) m.applyOne(m.state.sm, r.rev, { rev: r.rev, type: "put", res: r.res, ns: r.ns, name: r.name, value: r.value }, true);
    m.state.commit();
    m.startAt(snap.rev, await m.history(snap.rev));
    return m;
  }

  private async snapshotRetrying(timeoutMs: number): Promise<Snapshot> {
    const until = Date.now() + timeoutMs;
    let logged = false;
    for (;;) {
      try {
        return await this.backend.snapshot();
      } catch (e) {
        if (this.closed || Date.now() > until) throw e;
        if (!logged) this.log(`waiting for the ${this.backend.kind} datastore: ${(e as Error).message}`);
        logged = true;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  /**
   * The datastore's recent history before `rev`, so that a client whose watch was on another
   * server (or on this one before a restart) resumes from its last revision instead of relisting.
   */
  private async history(rev: number): Promise<{ from: number; events: RawEvent[] } | undefined> {
    const from = Math.max(0, rev - this.state.window.capacity);
    const events = await this.backend.history(from, rev).catch(() => undefined);
    return events ? { from, events } : undefined;
  }

  /** The mirror holds the snapshot at `rev`: watches start there (or at the history's start), the stream continues after it. */
  private startAt(rev: number, hist?: { from: number; events: RawEvent[] }): void {
    this.state.sm.rev = Math.max(this.state.sm.rev, rev);
    this.state.window = new WatchWindow(this.state.window.capacity, hist ? hist.from : rev);
    for (const e of hist?.events ?? []) {
      const obj = e.value === undefined ? undefined : decode(e.value, e.rev);
      if (obj === undefined) continue;
      const type = e.type === "delete" ? "DELETED" : e.created ? "ADDED" : "MODIFIED";
      this.state.window.push({ rev: e.rev, type, res: e.res, ns: e.ns, name: e.name, obj, hasPrev: false });
    }
    this.seen = rev;
    this.stopFollow = this.backend.follow(rev, {
      events: (evs) => this.onEvents(evs),
      lost: (why) => void this.resync(why),
      progress: (r) => this.advance(r),
    });
    this.advance(rev);
  }

  /**
   * Apply one datastore change at its revision. The state machine numbers writes itself
   * (rev + 1), so it is set to the revision before; datastore revisions may have gaps.
   */
  private applyOne(sm: StateMachine, index: number, e: RawEvent, loading = false): void {
    const cur = sm.getRow(e.res, e.ns, e.name);
    let cmd: Command;
    if (e.type === "put") cmd = cur ? { op: "update", res: e.res, ns: e.ns, name: e.name, obj: JSON.parse(e.value!) } : { op: "create", res: e.res, ns: e.ns, name: e.name, obj: JSON.parse(e.value!) };
    else if (cur) cmd = { op: "delete", res: e.res, ns: e.ns, name: e.name };
    else return;
    sm.rev = e.rev - 1;
    if (loading || sm !== this.state.sm) sm.apply(index, [cmd]);
    else this.state.applyCommitted(index, [cmd]);
  }

  private onEvents(evs: RawEvent[]): void {
    if (this.closed || this.resyncing) return;
    let last = this.seen;
    for (const e of evs) {
      if (e.rev <= this.state.sm.rev) continue; // a resumed stream may repeat the last revision
      this.applyOne(this.state.sm, e.rev, e);
      last = e.rev;
    }
    this.advance(last);
  }

  private advance(rev: number): void {
    if (rev > this.seen) this.seen = rev;
    if (!this.waiters.length) return;
    const ready = this.waiters.filter((w) => w.rev <= this.seen);
    if (!ready.length) return;
    this.waiters = this.waiters.filter((w) => w.rev > this.seen);
    for (const w of ready) w.resolve();
  }

  /** Resolves when the mirror has everything up to `rev`; false after `ms`. */
  private waitFor(rev: number, ms: number): Promise<boolean> {
    if (rev <= this.seen) return Promise.resolve(true);
    this.backend.kick?.();
    return new Promise((resolve) => {
      const w = { rev, resolve: () => (clearTimeout(t), resolve(true)) };
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        resolve(false);
      }, ms);
      this.waiters.push(w);
    });
  }

  /** Linearizable reads: the datastore's revision now, then wait until the mirror has it. */
  async readBarrier(): Promise<void> {
    const rev = await this.backend.currentRev();
    if (!(await this.waitFor(rev, WAIT_MS))) throw new StoreUnavailable(`this server's copy is behind the datastore (at ${this.seen}, datastore at ${rev})`);
  }

  /** Proposals made in the same tick go to the datastore together (one transaction on PostgreSQL). */
  propose(cmd: Command): Promise<ApplyResult> {
    if (this.closed) return Promise.reject(new StoreUnavailable("the server is shutting down"));
    return new Promise((resolve, reject) => {
      this.queue.push({ cmd, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private guess: Guess = (res, ns, name) => {
    const row = this.state.sm.getRow(res, ns, name);
    return row ? { rev: row.rev, obj: JSON.parse(row.value) } : undefined;
  };

  private async flush(): Promise<void> {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (!batch.length) return;
    let results: ApplyResult[];
    try {
      results = await this.backend.commit(
        batch.map((b) => b.cmd),
        this.guess,
      );
    } catch (e) {
      for (const b of batch) b.reject(e);
      return;
    }
    // Committed: answer once this server's mirror shows the write (read-your-writes). If the
    // stream is down the write still stands, so it is answered anyway after a while.
    const top = Math.max(0, ...results.map((r) => (r.ok ? r.rev : 0)));
    await this.waitFor(top, WAIT_MS);
    batch.forEach((b, i) => b.resolve(results[i]!));
  }

  /** The stream cannot continue: reload everything, then end every watch (clients resume or get 410). */
  private resync(why: string): Promise<void> {
    this.resyncing ??= (async () => {
      this.log(`datastore watch lost (${why}): reloading`);
      this.stopFollow?.();
      const snap = await this.snapshotRetrying(Number.MAX_SAFE_INTEGER);
      if (this.closed) return;
      const tmp = mkdtempSync(join(this.o.dir, "reload-"));
      const file = join(tmp, "state.db");
      const sm = new StateMachine(file, { synchronous: "OFF" });
      for (const r of snap.rows) this.applyOne(sm, r.rev, { rev: r.rev, type: "put", res: r.res, ns: r.ns, name: r.name, value: r.value });
      sm.close();
      this.state.restoreFrom(file);
      rmSync(tmp, { recursive: true, force: true });
      this.resyncing = undefined;
      this.startAt(snap.rev, await this.history(snap.rev));
    })().finally(() => (this.resyncing = undefined));
    return this.resyncing;
  }

  /** Compact the datastore's history at or below `rev` (the leader does, every few minutes). */
  compact(rev: number): Promise<void> {
    return this.backend.compact(rev);
  }

  get rev(): number {
    return this.seen;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.stopFollow?.();
    for (const b of this.queue) b.reject(new StoreUnavailable("the server is shutting down"));
    this.queue = [];
    this.store.close();
    await this.backend.close();
  }
}

/** Every `everyMs`, compact the datastore to the revision seen one period earlier (kube-apiserver's schedule). */
export function startCompactor(m: ExternalMirror, everyMs: number): () => void {
  let prev = m.rev;
  const t = setInterval(() => {
    const target = prev;
    prev = m.rev;
    if (target > 0) m.compact(target).catch(() => {}); // retried next period
  }, everyMs);
  t.unref?.();
  return () => clearInterval(t);
}
