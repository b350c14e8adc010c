// This server's applied state: state.db (objects, their event history, the applied index),
// the in-memory watch window and the watchers it feeds. Committed entries come in through
// applyCommitted (from Raft) or applyEntry (a store of one); it is also what Raft snapshots
// and restores. Reads go through the Store (store.ts), the seam everything else uses.
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { ApplyResult, Command, ResKey } from "./commands";
import { runCopyJob, type CopyResult } from "./backup/copy-worker";
import { StateMachine } from "./state-machine";
import type { Watcher } from "./store";
import { WatchWindow, type ChangeEvent } from "./watch-window";

export interface StoreOptions {
  dataDir: string;
  /** Recent events kept for watch resume (memory and disk). */
  windowSize?: number;
  synchronous?: "FULL" | "NORMAL" | "OFF";
}

/**
 * An apply transaction on state.db (see applyCommitted) is committed COMMIT_MS after it began
 * if BUSY_ENTRIES came in meanwhile (a busy server), else once it holds MAX_ENTRIES...
 */
const COMMIT_MS = 50;
const BUSY_ENTRIES = 8;
const MAX_ENTRIES = 64;
/** ... and after this long in any case (a trickle of writes: an idle cluster's Lease renewals). */
const IDLE_COMMIT_MS = 300_000;
/** Compaction runs this often, in steps (see compact). */
const COMPACT_EVERY_MS = 1000;
/** Free space worth giving back to the filesystem (incremental vacuum), with a quarter of the file free. */
const VACUUM_MIN_BYTES = 8 << 20;
/** Longest a compaction run holds the event loop (and so the writers). */
const COMPACT_BUDGET_MS = 10;

export class AppliedState {
  /** Replaced (not mutated) when a Raft snapshot is installed: see restoreFrom. */
  sm: StateMachine;
  window: WatchWindow;
  private watchers = new Map<ResKey, Set<Watcher>>();
  private appliedListeners: ((events: ChangeEvent[]) => void)[] = [];
  private resetListeners: (() => void)[] = [];
  private compactTimer: ReturnType<typeof setInterval>;
  private commitTimer: ReturnType<typeof setTimeout> | undefined;
  private txnStart = 0;
  private txnEntries = 0;
  /** Checkpoints are the owner's (Raft's, between applies): see StateMachine.manualCheckpoints. */
  private manual = false;

  constructor(readonly opts: StoreOptions) {
    mkdirSync(opts.dataDir, { recursive: true });
    this.sm = new StateMachine(join(opts.dataDir, "state.db"), { synchronous: opts.synchronous });
    this.window = this.loadWindow(opts.windowSize ?? 8192);
    this.compactTimer = setInterval(() => this.compact(), COMPACT_EVERY_MS);
    this.compactTimer.unref?.();
  }

  private loadWindow(cap: number): WatchWindow {
    const loaded = this.sm.loadEvents(cap);
    // Every event after `floor` is known; the window starts where the loaded history begins.
    const floor = loaded.length ? loaded[0]!.rev - 1 : this.sm.rev;
    const w = new WatchWindow(cap, Math.max(floor, this.sm.compacted));
    for (const e of loaded) w.push(e);
    return w;
  }

  get rev(): number {
    return this.sm.rev;
  }

  get appliedIndex(): number {
    return this.sm.appliedIndex;
  }

  // ---------------------------------------------------------------- applying

  /** Apply one committed entry in its own transaction and publish its events. */
  applyEntry(index: number, cmds: Command[]): ApplyResult[] {
    const { results, events } = this.sm.apply(index, cmds);
    // History past the watch window leaves with the writes that push it out, in the same
    // transaction: compaction keeps pace with any write rate, a few revisions per write.
    if (events.length) this.sm.compact(this.compactionTarget(), events.length + 16);
    for (const e of events) {
      this.window.push(e);
      const set = this.watchers.get(e.res);
      if (set) for (const w of set) deliver(w, e);
    }
    if (events.length) for (const l of this.appliedListeners) l(events);
    return results;
  }

  /**
   * Apply a committed entry inside one state.db transaction that stays open across entries
   * (each entry's own transaction nests as a savepoint): COMMIT_MS on a busy server, up to
   * IDLE_COMMIT_MS or MAX_ENTRIES when writes trickle in. A commit writes
   * every page it dirtied to the WAL once, and a key-value workload dirties about one B-tree
   * leaf per write: committing every 50 ms (like etcd's backend batches) instead of every
   * Ready halves the WAL and checkpoint traffic, which competes with the Raft log's fsyncs
   * for the disk. Callers are answered at once: everything reads through this one
   * connection, which sees its own transaction, and a crash before the COMMIT loses nothing
   * that the Raft log does not replay (state.db never fsyncs on commit anyway; a restart replays
   * at most IDLE_COMMIT_MS of entries). An idle cluster's trickle (a Lease renewal every 10 s
   * per node) committed every 50 ms appended every page it dirtied to the WAL each time (the
   * table's last leaf, the meta row, the pointer map: ~20 kB per renewal), most of an idle
   * server's writes to flash.
   */
  applyCommitted(index: number, cmds: Command[]): ApplyResult[] {
    if (this.sm.begin()) {
      this.txnStart = performance.now();
      this.txnEntries = 0;
      this.commitTimer = setTimeout(() => {
        if (this.txnEntries >= BUSY_ENTRIES) this.commit();
        else (this.commitTimer = setTimeout(() => this.commit(), IDLE_COMMIT_MS - COMMIT_MS)).unref?.();
      }, COMMIT_MS);
    }
    const r = this.applyEntry(index, cmds);
    if (++this.txnEntries >= MAX_ENTRIES && performance.now() - this.txnStart >= COMMIT_MS) this.commit();
    return r;
  }

  /** COMMIT the open apply transaction, if any (before checkpoints, snapshots, shutdown). */
  commit(): void {
    clearTimeout(this.commitTimer);
    this.commitTimer = undefined;
    if (this.sm.commit()) this.sm.flushWalInBackground();
  }

  /**
   * From now on state.db's WAL checkpoints are the caller's (checkpointIfDue, between applies,
   * with the fsyncs off the event loop) and commits do not fsync: the Raft log replays what a
   * power loss takes.
   */
  manualCheckpoints(): void {
    this.manual = true;
    this.sm.manualCheckpoints();
  }

  /** A WAL checkpoint when one is due: nothing may be applied until the promise settles. */
  checkpointIfDue(): Promise<void> | undefined {
    if (!this.sm.checkpointDue()) return undefined;
    this.commit();
    return this.sm.checkpointAsync();
  }

  // ---------------------------------------------------------------- snapshots

  /** A consistent copy of state.db (for a Raft snapshot): `VACUUM INTO` a new file. */
  snapshotTo(file: string): { appliedIndex: number; rev: number } {
    this.commit(); // VACUUM INTO cannot run inside a transaction
    rmSync(file, { force: true });
    const at = { appliedIndex: this.sm.appliedIndex, rev: this.sm.rev };
    this.sm.copyTo(file);
    return at;
  }

  /**
   * Run a read of the whole database on a worker thread (copy-worker.ts) with checkpoints
   * held off meanwhile: everything applied before the call is committed first, so the copy
   * holds at least that (its meta says exactly where it stands).
   */
  async readCopy<T extends CopyResult>(job: (src: string) => Promise<T>): Promise<T> {
    this.commit();
    // A checkpoint's TRUNCATE step waits for readers: start only between checkpoints.
    while (this.sm.checkpointRunning) await Bun.sleep(5);
    const sm = this.sm;
    sm.readers++;
    try {
      return await job(sm.path);
    } finally {
      sm.readers--;
    }
  }

  /** A consistent `VACUUM INTO` copy of state.db made off the event loop. */
  copyAsync(file: string): Promise<{ appliedIndex: number; rev: number }> {
    return this.readCopy((src) => runCopyJob({ kind: "copy", src, dst: file })).then((r) => ({ appliedIndex: r.meta.applied ?? 0, rev: r.meta.rev ?? 0 }));
  }

  /**
   * Replace state.db by a snapshot file (a follower installing the leader's snapshot) and
   * reopen. The watch window restarts from the snapshot's own event history; open watches
   * are ended (see below).
   */
  restoreFrom(file: string): void {
    this.commit();
    const path = join(this.opts.dataDir, "state.db");
    this.sm.close();
    for (const f of [path, `${path}-wal`, `${path}-shm`]) rmSync(f, { force: true });
    copyFileSync(file, path);
    this.sm = new StateMachine(path, { synchronous: this.opts.synchronous });
    if (this.manual) this.sm.manualCheckpoints();
    this.window = this.loadWindow(this.window.capacity);
    // Events between the old state and the snapshot were never seen here: end every watch so
    // clients resume from their last revision (served from the new window) or relist on 410.
    const open = [...this.watchers.values()].flatMap((set) => [...set]);
    this.watchers.clear();
    for (const w of open) w.close?.();
    for (const l of this.resetListeners) l();
  }

  // ---------------------------------------------------------------- watchers and listeners

  /** Deliver every event applied from now on for w.res to w (after its backlog, sent by the caller). */
  addWatcher(w: Watcher): () => void {
    let set = this.watchers.get(w.res);
    if (!set) this.watchers.set(w.res, (set = new Set()));
    set.add(w);
    return () => {
      set!.delete(w);
    };
  }

  onApplied(listener: (events: ChangeEvent[]) => void): () => void {
    this.appliedListeners.push(listener);
    return () => {
      this.appliedListeners = this.appliedListeners.filter((l) => l !== listener);
    };
  }

  /** Called after the whole state was replaced by a snapshot (no per-object events). */
  onReset(listener: () => void): void {
    this.resetListeners.push(listener);
  }

  /** Every stored object of one resource (small internal tables, e.g. Raft's member list). */
  objects(res: ResKey): any[] {
    return this.sm.scan(res, undefined, undefined, 1e9).map((r) => JSON.parse(r.value));
  }

  /**
   * Keep the on-disk history to the watch window: move the compaction point to where the
   * window starts, a step at a time and for at most COMPACT_BUDGET_MS per run (the writers
   * wait meanwhile), then give free pages back to the filesystem a few at a time once they
   * are more than a quarter of the file and at least VACUUM_MIN_BYTES (new rows reuse free pages first, so under steady
   * churn the file stops growing without any vacuum).
   */
  private compactionTarget(): number {
    return Math.max(this.sm.rev - this.window.capacity, this.window.floor);
  }

  compact(budgetMs = COMPACT_BUDGET_MS): void {
    const upTo = this.compactionTarget();
    const t0 = performance.now();
    // Steps of 100 revisions (a few ms: their old versions are deleted from pages all over the file).
    while (upTo > this.sm.compacted && performance.now() - t0 < budgetMs) this.sm.compact(upTo, 100);
    if (performance.now() - t0 >= budgetMs) return;
    // Moving pages writes them: only worth it for a lot of space (a mass deletion), never for
    // the few free pages of a small, idle store (100 moved pages cost an idle server 400 kB).
    const p = this.sm.pages();
    if (p.free * p.size >= VACUUM_MIN_BYTES && p.free * 4 > p.total) this.sm.vacuumStep(Math.min(p.free - (p.total >> 3), 128));
  }

  close(): void {
    clearInterval(this.compactTimer);
    this.commit();
    this.sm.close();
  }
}

/** Kubernetes watch semantics with selectors: objects entering the filter are ADDED, leaving it DELETED. */
export function deliver(w: Watcher, e: ChangeEvent): void {
  if (w.ns !== undefined && e.ns !== w.ns) return;
  const now = w.match(e.obj);
  if (e.type === "ADDED") {
    if (now) w.send("ADDED", e.obj, e.rev);
    return;
  }
  if (e.type === "DELETED") {
    if (now || (e.prev && w.match(e.prev))) w.send("DELETED", e.obj, e.rev);
    return;
  }
  const before = e.prev ? w.match(e.prev) : now;
  if (now && before) w.send("MODIFIED", e.obj, e.rev);
  else if (now) w.send("ADDED", e.obj, e.rev);
  else if (before) w.send("DELETED", e.obj, e.rev);
}
