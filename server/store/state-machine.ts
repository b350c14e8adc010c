// Applies committed commands to state.db, one SQLite transaction per batch. Deterministic:
// the result depends only on the stored state and the commands. state.db's layout (see
// state-schema.ts) is known only here and there: one revision-ordered log of versions, plus
// the in-memory key index (key-index.ts) rebuilt from it at open. The reads the Store needs
// are methods too.
import { Database } from "bun:sqlite";
import { closeSync, fdatasync, openSync, statSync } from "node:fs";
import { runCopyJob } from "./backup/copy-worker";
import type { ApplyResult, Command } from "./commands";
import { KeyIndex, joinKey, splitKey } from "./key-index";
import { migrate } from "./state-schema";
import type { ChangeEvent, EventType } from "./watch-window";

export interface StoredRow {
  rev: number;
  value: string;
}

export interface KeyedRow {
  ns: string;
  name: string;
  value: string;
}

interface LogRow {
  rev: number;
  res: string;
  ns: string;
  name: string;
  prev: number;
  del: number;
  value: string;
}

/** One change to the key index, undone if its transaction (or savepoint) rolls back. */
type Undo = { res: string; ns: string; name: string; rev: number | undefined };

export class StateMachine {
  readonly db: Database;
  rev = 0;
  appliedIndex = 0;
  /** Revisions <= compacted keep only the live versions on disk: history starts after it. */
  compacted = 0;
  /** The layout state.db had when it was opened (1: migrated now; 0: new). */
  readonly openedLayout: number;

  private readonly keys = new KeyIndex();
  private undo: Undo[] | undefined;

  private qValue;
  private qIns;
  private qMeta;

  /** Checkpoints are the owner's (see manualCheckpoints); while one runs, nothing may write. */
  private manual = false;
  private checkpointing = false;
  /**
   * Copies being read by other connections (copy-worker.ts): no checkpoint meanwhile, since
   * the TRUNCATE step would wait (in the busy handler, on the event loop) for them to finish.
   */
  readers = 0;
  private commitsSinceCheck = 0;
  private walFd: number | undefined;
  private walFlushing = false;

  constructor(
    readonly path: string,
    opts: { synchronous?: "FULL" | "NORMAL" | "OFF" } = {},
  ) {
    this.db = new Database(path, { create: true, strict: true });
    // auto_vacuum must be chosen before the first table exists; INCREMENTAL lets compaction
    // give pages back a little at a time instead of one blocking VACUUM.
    this.db.exec("PRAGMA auto_vacuum = INCREMENTAL");
    this.db.exec("PRAGMA journal_mode = WAL");
    this.db.exec(`PRAGMA synchronous = ${opts.synchronous ?? "FULL"}`);
    this.db.exec("PRAGMA busy_timeout = 5000");
    try {
      this.openedLayout = migrate(this.db, path);
    } catch (e) {
      this.db.close();
      throw e;
    }
    this.qValue = this.db.query<{ value: string }, [number]>("SELECT value FROM kv WHERE rev = ?");
    this.qIns = this.db.query("INSERT INTO kv (rev, res, ns, name, prev, del, value) VALUES (?, ?, ?, ?, ?, ?, ?)");
    this.qMeta = this.db.query("INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)");
    this.loadMeta();
    this.loadKeys();
  }

  private loadMeta(): void {
    const meta = new Map(this.db.query<{ k: string; v: number }, []>("SELECT k, v FROM meta").all().map((r) => [r.k, r.v]));
    this.rev = meta.get("rev") ?? 0;
    this.appliedIndex = meta.get("applied") ?? 0;
    this.compacted = meta.get("compacted") ?? 0;
  }

  /** The key index from the log: in revision order, each row replaces its key's version. */
  private loadKeys(): void {
    this.keys.clear();
    const q = this.db.query<{ rev: number; res: string; ns: string; name: string; del: number }, []>("SELECT rev, res, ns, name, del FROM kv ORDER BY rev");
    for (const r of q.iterate()) {
      if (r.del) this.keys.delete(r.res, r.ns, r.name);
      else this.keys.set(r.res, r.ns, r.name, r.rev);
    }
  }

  /** Number of live keys. */
  get liveKeys(): number {
    return this.keys.size;
  }

  getRow(res: string, ns: string, name: string): StoredRow | null {
    const rev = this.keys.get(res, ns, name);
    if (rev === undefined) return null;
    const r = this.qValue.get(rev);
    return r ? { rev, value: r.value } : null;
  }

  /** Up to n objects of `res` (in namespace `ns`, or all) in key order, after the key `after`. */
  scan(res: string, ns: string | undefined, after: { ns: string; name: string } | undefined, n: number): KeyedRow[] {
    return this.keys.scan(res, ns, after, n).map((k) => ({ ns: k.ns, name: k.name, value: this.qValue.get(k.rev)!.value }));
  }

  /**
   * Up to n objects of `res` as they were at revision `at` (>= compacted), in key order after
   * `after`: the current keys, with every change made after `at` undone (the row that
   * replaced a version names it in `prev`, and compaction keeps those rows).
   */
  scanAt(res: string, ns: string | undefined, at: number, after: { ns: string; name: string } | undefined, n: number): KeyedRow[] {
    if (at < this.compacted) throw new Error(`revision ${at} is compacted (${this.compacted})`);
    const undone = new Map<string, number>();
    const rows = this.db
      .query<{ ns: string; name: string; prev: number }, [number, string]>("SELECT ns, name, prev FROM kv WHERE rev > ? AND res = ? ORDER BY rev DESC")
      .all(at, res);
    // Newest first: the last one seen per key is the first change after `at`, whose prev is the version at `at`.
    for (const r of rows) if (ns === undefined || r.ns === ns) undone.set(joinKey(r.ns, r.name), r.prev);
    const afterKey = after ? joinKey(after.ns, after.name) : "";
    // Merge the current keys (minus the changed ones) with the versions the changes replaced,
    // both in key order: n + |undone| current keys are enough for n results.
    const cur: { k: string; rev: number }[] = [];
    for (const c of this.keys.scan(res, ns, after, n + undone.size)) {
      const k = joinKey(c.ns, c.name);
      if (!undone.has(k)) cur.push({ k, rev: c.rev });
    }
    const old = [...undone].filter(([k, rev]) => rev > 0 && k > afterKey).map(([k, rev]) => ({ k, rev }));
    old.sort((a, b) => (a.k < b.k ? -1 : 1));
    const out: KeyedRow[] = [];
    let i = 0;
    let j = 0;
    while (out.length < n && (i < cur.length || j < old.length)) {
      const p = j >= old.length || (i < cur.length && cur[i]!.k < old[j]!.k) ? cur[i++]! : old[j++]!;
      out.push({ ...splitKey(p.k), value: this.qValue.get(p.rev)!.value });
    }
    return out;
  }

  /** Stored objects per resource key (for apiserver_storage_objects). */
  countByResource(): { res: string; n: number }[] {
    return this.keys.counts();
  }

  /** How many objects of `res` (in `ns`, or all) come after the key `after`. */
  countAfter(res: string, ns: string | undefined, after: { ns: string; name: string }): number {
    return this.keys.countAfter(res, ns, after);
  }

  /**
   * Apply the commands of one committed log entry (index) atomically. Returns one result per
   * command and the change events to publish once the transaction is durable.
   */
  apply(index: number, cmds: Command[]): { results: ApplyResult[]; events: ChangeEvent[] } {
    const results: ApplyResult[] = [];
    const events: ChangeEvent[] = [];
    if (this.checkpointing) throw new Error("state.db: apply during a checkpoint (the owner must wait for checkpointAsync)");
    if (index <= this.appliedIndex) {
      // Already applied before a crash (replay): do nothing, report nothing.
      return { results: cmds.map(() => ({ ok: false, error: { code: "Conflict", currentRev: this.rev } })), events };
    }
    this.undo = [];
    const run = this.db.transaction(() => {
      for (const cmd of cmds) results.push(this.applyOne(cmd, events));
      this.appliedIndex = index;
      this.qMeta.run("rev", this.rev);
      this.qMeta.run("applied", index);
    });
    try {
      run();
    } catch (e) {
      // The transaction rolled back: undo the key index and the counters, and report the failure to every caller.
      this.rollbackKeys(0);
      this.loadMeta();
      throw e;
    } finally {
      this.undo = undefined;
    }
    return { results, events };
  }

  private rollbackKeys(to: number): void {
    const u = this.undo!;
    for (let i = u.length - 1; i >= to; i--) {
      const x = u[i]!;
      if (x.rev === undefined) this.keys.delete(x.res, x.ns, x.name);
      else this.keys.set(x.res, x.ns, x.name, x.rev);
    }
    u.length = to;
  }

  /** Open a transaction that later applies join (as savepoints); false if one is open already. */
  begin(): boolean {
    if (this.db.inTransaction) return false;
    this.db.exec("BEGIN");
    return true;
  }

  /** COMMIT the open transaction; false if none was open. */
  commit(): boolean {
    if (!this.db.inTransaction) return false;
    this.db.exec("COMMIT");
    return true;
  }

  /** A consistent copy of the database in a new file (`VACUUM INTO`; outside a transaction). */
  copyTo(file: string): void {
    this.db.run("VACUUM INTO ?", [file]);
  }

  /**
   * Stop SQLite's automatic checkpoints, which fsync (synchronous=NORMAL) on the caller's
   * thread in the middle of an apply (so does the first commit into a reused WAL); the owner
   * (the Raft node, between Readies) runs checkpointAsync() when checkpointDue() says so, with
   * the fsyncs on the thread pool. Commits then need no fsync at all (synchronous=OFF): with
   * every checkpoint ours (see copy-worker.ts), a power loss can only lose the latest commits,
   * which the Raft log replays, never leave a torn database.
   */
  manualCheckpoints(): void {
    if (this.manual) return;
    this.manual = true;
    this.db.exec("PRAGMA wal_autocheckpoint = 0");
    this.db.exec("PRAGMA synchronous = OFF");
    // The owner batches many applies per COMMIT: keep their dirty pages in memory until then.
    this.db.exec("PRAGMA cache_size = -32768");
  }

  /** With manualCheckpoints: the WAL has grown past `limitBytes` (looked at every 64 calls). */
  checkpointDue(limitBytes = 16 << 20): boolean {
    if (!this.manual || this.readers > 0 || ++this.commitsSinceCheck < 64) return false;
    this.commitsSinceCheck = 0;
    try {
      return statSync(`${this.path}-wal`).size >= limitBytes;
    } catch {
      return false;
    }
  }

  /**
   * Start writing the WAL back to disk in the background (fdatasync on the thread pool, not
   * awaited, at most one at a time) after a commit, so that a checkpoint's first step — the WAL
   * must be durable before its pages are copied — finds little left to flush and holds the
   * applies for less time. Durability does not depend on it.
   */
  flushWalInBackground(): void {
    if (!this.manual || this.walFlushing || this.checkpointing) return;
    try {
      this.walFd ??= openSync(`${this.path}-wal`, "r");
    } catch {
      return;
    }
    this.walFlushing = true;
    fdatasync(this.walFd, () => {
      this.walFlushing = false;
    });
  }

  /** A checkpoint is running (checkpointAsync has not settled). */
  get checkpointRunning(): boolean {
    return this.checkpointing;
  }

  /** Checkpoint with the fsyncs off the event loop; nothing may write until it settles. */
  async checkpointAsync(): Promise<void> {
    if (this.db.inTransaction || this.readers > 0) return;
    this.checkpointing = true;
    try {
      // On a worker's connection: copying the WAL's pages would hold the event loop.
      await runCopyJob({ kind: "checkpoint", src: this.path });
    } finally {
      this.checkpointing = false;
    }
  }

  private applyOne(cmd: Command, events: ChangeEvent[]): ApplyResult {
    if (cmd.op === "txn") {
      const sp = `sp${events.length}_${this.rev}`;
      this.db.exec(`SAVEPOINT ${sp}`);
      const revBefore = this.rev;
      const evBefore = events.length;
      const undoBefore = this.undo!.length;
      let last: ApplyResult = { ok: true, rev: this.rev, obj: undefined };
      for (let i = 0; i < cmd.cmds.length; i++) {
        const r = this.applyOne(cmd.cmds[i]!, events);
        if (!r.ok) {
          this.db.exec(`ROLLBACK TO ${sp}`);
          this.db.exec(`RELEASE ${sp}`);
          this.rev = revBefore;
          events.length = evBefore;
          this.rollbackKeys(undoBefore);
          return { ...r, index: i };
        }
        last = r;
      }
      this.db.exec(`RELEASE ${sp}`);
      return last;
    }
    const curRev = this.keys.get(cmd.res, cmd.ns, cmd.name);
    if (cmd.op === "create") {
      if (curRev !== undefined) return { ok: false, error: { code: "AlreadyExists" } };
      return this.write(cmd.res, cmd.ns, cmd.name, cmd.obj, undefined, 0, events);
    }
    if (curRev === undefined) return { ok: false, error: { code: "NotFound" } };
    const prev = JSON.parse(this.qValue.get(curRev)!.value);
    if (cmd.pre?.rev !== undefined && cmd.pre.rev !== curRev) return { ok: false, error: { code: "Conflict", currentRev: curRev } };
    if (cmd.pre?.uid !== undefined && cmd.pre.uid !== prev?.metadata?.uid) return { ok: false, error: { code: "UidMismatch" } };
    if (cmd.op === "update") {
      const m = cmd.obj?.metadata ?? {};
      // The last finalizer removed from an object being deleted: it goes away now.
      // (A namespace also waits for its spec.finalizers: the namespace controller empties it first.)
      const nsFinalizers = cmd.res === "namespaces" ? cmd.obj?.spec?.finalizers?.length : 0;
      if (m.deletionTimestamp && !m.finalizers?.length && !nsFinalizers && !(m.deletionGracePeriodSeconds > 0)) {
        return this.remove(cmd.res, cmd.ns, cmd.name, cmd.obj, prev, curRev, events);
      }
      return this.write(cmd.res, cmd.ns, cmd.name, cmd.obj, prev, curRev, events);
    }
    return this.remove(cmd.res, cmd.ns, cmd.name, prev, prev, curRev, events);
  }

  private write(res: string, ns: string, name: string, obj: any, prev: any, prevRev: number, events: ChangeEvent[]): ApplyResult {
    const rev = ++this.rev;
    obj.metadata ??= {};
    obj.metadata.resourceVersion = String(rev);
    this.qIns.run(rev, res, ns, name, prevRev, 0, JSON.stringify(obj));
    this.undo!.push({ res, ns, name, rev: this.keys.set(res, ns, name, rev) });
    events.push({ rev, type: prev ? "MODIFIED" : "ADDED", res, ns, name, obj, prev, hasPrev: true });
    return { ok: true, rev, obj };
  }

  private remove(res: string, ns: string, name: string, last: any, prev: any, prevRev: number, events: ChangeEvent[]): ApplyResult {
    const rev = ++this.rev;
    const obj = last === prev ? structuredClone(last) : last;
    obj.metadata ??= {};
    obj.metadata.resourceVersion = String(rev);
    this.qIns.run(rev, res, ns, name, prevRev, 1, JSON.stringify(obj));
    this.undo!.push({ res, ns, name, rev: this.keys.delete(res, ns, name) });
    events.push({ rev, type: "DELETED", res, ns, name, obj, prev, hasPrev: true });
    return { ok: true, rev, obj, deleted: true };
  }

  /**
   * The latest `limit` changes (after the compaction point) from the log, oldest first, to
   * refill the watch window after a start; each with the version it replaced.
   */
  loadEvents(limit: number): ChangeEvent[] {
    const rows = this.db
      .query<LogRow, [number, number]>("SELECT rev, res, ns, name, prev, del, value FROM kv WHERE rev > ? ORDER BY rev DESC LIMIT ?")
      .all(this.compacted, limit);
    rows.reverse();
    const objs = new Map<number, any>();
    const out: ChangeEvent[] = [];
    for (const r of rows) {
      const obj = JSON.parse(r.value);
      objs.set(r.rev, obj);
      let prev: any;
      if (r.prev) prev = objs.get(r.prev) ?? JSON.parse(this.qValue.get(r.prev)?.value ?? "null") ?? undefined;
      const type: EventType = r.del ? "DELETED" : r.prev ? "MODIFIED" : "ADDED";
      out.push({ rev: r.rev, type, res: r.res, ns: r.ns, name: r.name, obj, prev, hasPrev: prev !== undefined || !r.prev });
    }
    return out;
  }

  /**
   * Move the compaction point towards `upTo`, at most `maxRevs` revisions per call so writers
   * are never held for long: the versions replaced by a change in that range, and the
   * deletions in it, leave the log. Returns the rows removed.
   */
  compact(upTo: number, maxRevs = 1000): number {
    if (upTo <= this.compacted || this.checkpointing) return 0;
    const from = this.compacted;
    const to = Math.min(upTo, from + maxRevs, this.rev);
    let n = 0;
    this.db.transaction(() => {
      n += this.db.query("DELETE FROM kv WHERE rev IN (SELECT prev FROM kv WHERE rev > ? AND rev <= ? AND prev > 0)").run(from, to).changes;
      n += this.db.query("DELETE FROM kv WHERE rev > ? AND rev <= ? AND del = 1").run(from, to).changes;
      this.qMeta.run("compacted", to);
    })();
    this.compacted = to;
    return n;
  }

  /** Pages on the free list and in the file. */
  pages(): { free: number; total: number; size: number } {
    const free = this.db.query<{ freelist_count: number }, []>("PRAGMA freelist_count").get()!.freelist_count;
    const total = this.db.query<{ page_count: number }, []>("PRAGMA page_count").get()!.page_count;
    const size = this.db.query<{ page_size: number }, []>("PRAGMA page_size").get()!.page_size;
    return { free, total, size };
  }

  /** Give up to n free pages back to the filesystem (moves pages from the end of the file). */
  vacuumStep(n: number): void {
    if (this.checkpointing) return;
    this.db.exec(`PRAGMA incremental_vacuum(${Math.max(1, Math.floor(n))})`);
  }

  close(): void {
    this.db.close();
    if (this.walFd !== undefined) closeSync(this.walFd);
    this.walFd = undefined;
  }
}
