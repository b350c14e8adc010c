// Applies committed commands to state.db, one SQLite transaction per batch. Deterministic:
// the result depends only on the stored state and the commands. state.db's table layout is
// known only here (the reads the Store needs are methods too).
import { Database } from "bun:sqlite";
import { closeSync, fdatasync, openSync, statSync } from "node:fs";
import { checkpointWal } from "../sqlite/checkpoint";
import type { ApplyResult, Command } from "./commands";
import type { ChangeEvent } from "./watch-window";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS objects (
  res TEXT NOT NULL, ns TEXT NOT NULL, name TEXT NOT NULL,
  rev INTEGER NOT NULL, value TEXT NOT NULL,
  PRIMARY KEY (res, ns, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
  rev INTEGER PRIMARY KEY, type TEXT NOT NULL, res TEXT NOT NULL, ns TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL) WITHOUT ROWID;
`;

export interface StoredRow {
  rev: number;
  value: string;
}

export interface KeyedRow {
  ns: string;
  name: string;
  value: string;
}

export class StateMachine {
  readonly db: Database;
  rev = 0;
  appliedIndex = 0;
  /** Revisions <= compacted have had their events removed from disk. */
  compacted = 0;

  private qGet;
  private qPut;
  private qDel;
  private qEvent;
  private qMeta;

  /** Checkpoints are the owner's (see manualCheckpoints); while one runs, nothing may write. */
  private manual = false;
  private checkpointing = false;
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
    this.db.exec(SCHEMA);
    this.qGet = this.db.query<StoredRow, [string, string, string]>("SELECT rev, value FROM objects WHERE res = ? AND ns = ? AND name = ?");
    this.qPut = this.db.query("INSERT OR REPLACE INTO objects (res, ns, name, rev, value) VALUES (?, ?, ?, ?, ?)");
    this.qDel = this.db.query("DELETE FROM objects WHERE res = ? AND ns = ? AND name = ?");
    this.qEvent = this.db.query("INSERT INTO events (rev, type, res, ns, name, value) VALUES (?, ?, ?, ?, ?, ?)");
    this.qMeta = this.db.query("INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)");
    const meta = new Map(this.db.query<{ k: string; v: number }, []>("SELECT k, v FROM meta").all().map((r) => [r.k, r.v]));
    this.rev = meta.get("rev") ?? 0;
    this.appliedIndex = meta.get("applied") ?? 0;
    this.compacted = meta.get("compacted") ?? 0;
  }

  getRow(res: string, ns: string, name: string): StoredRow | null {
    return this.qGet.get(res, ns, name);
  }

  /** Up to n objects of `res` (in namespace `ns`, or all) in key order, after the key `after`. */
  scan(res: string, ns: string | undefined, after: { ns: string; name: string } | undefined, n: number): KeyedRow[] {
    if (ns !== undefined) {
      return this.db
        .query<KeyedRow, [string, string, string, number]>("SELECT ns, name, value FROM objects WHERE res = ? AND ns = ? AND name > ? ORDER BY name LIMIT ?")
        .all(res, ns, after?.name ?? "", n);
    }
    if (!after) return this.db.query<KeyedRow, [string, number]>("SELECT ns, name, value FROM objects WHERE res = ? ORDER BY ns, name LIMIT ?").all(res, n);
    return this.db
      .query<KeyedRow, [string, string, string, number]>("SELECT ns, name, value FROM objects WHERE res = ? AND (ns, name) > (?, ?) ORDER BY ns, name LIMIT ?")
      .all(res, after.ns, after.name, n);
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
    const run = this.db.transaction(() => {
      for (const cmd of cmds) results.push(this.applyOne(cmd, events));
      this.appliedIndex = index;
      this.qMeta.run("rev", this.rev);
      this.qMeta.run("applied", index);
    });
    try {
      run();
    } catch (e) {
      // The transaction rolled back: undo in-memory counters and report the failure to every caller.
      const meta = new Map(this.db.query<{ k: string; v: number }, []>("SELECT k, v FROM meta").all().map((r) => [r.k, r.v]));
      this.rev = meta.get("rev") ?? 0;
      this.appliedIndex = meta.get("applied") ?? 0;
      throw e;
    }
    return { results, events };
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
   * every checkpoint ours (see checkpointWal), a power loss can only lose the latest commits,
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
    if (!this.manual || ++this.commitsSinceCheck < 64) return false;
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

  /** Checkpoint with the fsyncs off the event loop; nothing may write until it settles. */
  async checkpointAsync(): Promise<void> {
    if (this.db.inTransaction) return;
    this.checkpointing = true;
    try {
      await checkpointWal(this.db, this.path, false, "OFF");
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
      let last: ApplyResult = { ok: true, rev: this.rev, obj: undefined };
      for (let i = 0; i < cmd.cmds.length; i++) {
        const r = this.applyOne(cmd.cmds[i]!, events);
        if (!r.ok) {
          this.db.exec(`ROLLBACK TO ${sp}`);
          this.db.exec(`RELEASE ${sp}`);
          this.rev = revBefore;
          events.length = evBefore;
          return { ...r, index: i };
        }
        last = r;
      }
      this.db.exec(`RELEASE ${sp}`);
      return last;
    }
    const cur = this.qGet.get(cmd.res, cmd.ns, cmd.name);
    if (cmd.op === "create") {
      if (cur) return { ok: false, error: { code: "AlreadyExists" } };
      return this.write(cmd.res, cmd.ns, cmd.name, cmd.obj, undefined, events);
    }
    if (!cur) return { ok: false, error: { code: "NotFound" } };
    const prev = JSON.parse(cur.value);
    if (cmd.pre?.rev !== undefined && cmd.pre.rev !== cur.rev) return { ok: false, error: { code: "Conflict", currentRev: cur.rev } };
    if (cmd.pre?.uid !== undefined && cmd.pre.uid !== prev?.metadata?.uid) return { ok: false, error: { code: "UidMismatch" } };
    if (cmd.op === "update") {
      const m = cmd.obj?.metadata ?? {};
      // The last finalizer removed from an object being deleted: it goes away now.
      // (A namespace also waits for its spec.finalizers: the namespace controller empties it first.)
      const nsFinalizers = cmd.res === "namespaces" ? cmd.obj?.spec?.finalizers?.length : 0;
      if (m.deletionTimestamp && !m.finalizers?.length && !nsFinalizers && !(m.deletionGracePeriodSeconds > 0)) {
        return this.remove(cmd.res, cmd.ns, cmd.name, cmd.obj, prev, events);
      }
      return this.write(cmd.res, cmd.ns, cmd.name, cmd.obj, prev, events);
    }
    return this.remove(cmd.res, cmd.ns, cmd.name, prev, prev, events);
  }

  private write(res: string, ns: string, name: string, obj: any, prev: any, events: ChangeEvent[]): ApplyResult {
    const rev = ++this.rev;
    obj.metadata ??= {};
    obj.metadata.resourceVersion = String(rev);
    const value = JSON.stringify(obj);
    this.qPut.run(res, ns, name, rev, value);
    const type = prev ? "MODIFIED" : "ADDED";
    this.qEvent.run(rev, type, res, ns, name, value);
    events.push({ rev, type, res, ns, name, obj, prev, hasPrev: true });
    return { ok: true, rev, obj };
  }

  private remove(res: string, ns: string, name: string, last: any, prev: any, events: ChangeEvent[]): ApplyResult {
    const rev = ++this.rev;
    const obj = last === prev ? structuredClone(last) : last;
    obj.metadata ??= {};
    obj.metadata.resourceVersion = String(rev);
    const value = JSON.stringify(obj);
    this.qDel.run(res, ns, name);
    this.qEvent.run(rev, "DELETED", res, ns, name, value);
    events.push({ rev, type: "DELETED", res, ns, name, obj, prev, hasPrev: true });
    return { ok: true, rev, obj, deleted: true };
  }

  /** Recent events from disk, oldest first, to refill the watch window after a restart. */
  loadEvents(limit: number): ChangeEvent[] {
    const rows = this.db
      .query<{ rev: number; type: string; res: string; ns: string; name: string; value: string }, [number]>(
        "SELECT rev, type, res, ns, name, value FROM events ORDER BY rev DESC LIMIT ?",
      )
      .all(limit);
    rows.reverse();
    return rows.map((r) => ({ rev: r.rev, type: r.type as ChangeEvent["type"], res: r.res, ns: r.ns, name: r.name, obj: JSON.parse(r.value), hasPrev: false }));
  }

  /**
   * Drop events at or below `upTo` from disk, a bounded number at a time so writers are never
   * blocked for long, and return freed pages to the filesystem incrementally.
   */
  compact(upTo: number, maxRows = 2000): number {
    if (upTo <= this.compacted || this.checkpointing) return 0;
    const target = Math.min(upTo, this.compacted + maxRows);
    const n = this.db.query("DELETE FROM events WHERE rev <= ?").run(target).changes;
    this.compacted = target;
    this.qMeta.run("compacted", target);
    this.db.exec("PRAGMA incremental_vacuum(256)");
    return n;
  }

  close(): void {
    this.db.close();
    if (this.walFd !== undefined) closeSync(this.walFd);
    this.walFd = undefined;
  }
}
