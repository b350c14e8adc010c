// Durable Raft log: raft.db (SQLite, WAL) holding the entries, the hard state and the
// snapshot metadata; snapshot bodies are files next to it (snap-<index>.db, a `VACUUM INTO`
// copy of state.db). Implements the core's read-side Storage from an in-memory copy of the
// live log (bounded by snapshot-driven compaction); every write of one Ready is ONE SQLite
// transaction followed by ONE fdatasync of the WAL (group commit).
//
// Durability is synchronous=FULL's, with the fsync taken out of SQLite's hands so it can run
// off the event loop: the connection runs with synchronous=OFF (a commit only write()s its
// WAL frames), and `write()` + `sync()`/`syncAsync()` fdatasync the -wal file afterwards —
// the same fsync FULL would issue at COMMIT, so a Ready is durable (checksummed frames up to
// its commit frame) once the sync returns. What OFF would otherwise weaken is handled here:
// automatic checkpoints are off; the node runs `checkpointAsync()` between Readies (SQLite's
// order — WAL durable, pages copied, database fsynced, WAL emptied and fsynced — with the
// fsyncs on the thread pool, see checkpointWal; `maybeCheckpoint()` does the same blocking,
// under FULL), and snapshot/compaction transactions and close() run under FULL too.
import { Database } from "bun:sqlite";
import { closeSync, existsSync, fdatasync, fdatasyncSync, fstatSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { InMemoryLog } from "../core/storage";
import type { ConfState, Entry, HardState, Snapshot, SnapshotMetadata } from "../core/types";
import { checkpointWal } from "../../sqlite/checkpoint";
import type { LogStorage, SaveOptions } from "../node/types";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS entries (idx INTEGER PRIMARY KEY, term INTEGER NOT NULL, conf INTEGER NOT NULL, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID;
`;

const EMPTY = new Uint8Array();

/** fsync a directory so a rename/create in it is durable. */
export function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    /* not supported on this platform */
  }
}

export function writeFileDurable(path: string, data: Uint8Array): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, data);
  const fd = openSync(tmp, "r+");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** A snapshot whose body is read from its file the first time somebody needs it. */
class FileSnapshot implements Snapshot {
  private bytes: Uint8Array | undefined;
  constructor(
    readonly metadata: SnapshotMetadata,
    readonly path: string | undefined,
  ) {}
  get data(): Uint8Array {
    if (!this.bytes) this.bytes = this.path && existsSync(this.path) ? new Uint8Array(readFileSync(this.path)) : EMPTY;
    return this.bytes;
  }
}

export class SqliteLogStorage extends InMemoryLog implements LogStorage<string> {
  readonly db: Database;
  private hs: HardState = { term: 0, vote: 0, commit: 0 };
  protected snap: FileSnapshot;
  /** ents[0] is a dummy holding the compaction point (index, term). */
  protected ents: Entry[];
  private qIns;
  private qTrunc;
  private qMeta;
  private qCompact;
  private readonly walPath: string;
  private walFd: number | undefined;
  private writesSinceCheck = 0;
  /** Checkpoint (and truncate) the WAL once it grows beyond this. */
  walLimitBytes = 16 << 20;

  constructor(readonly dir: string) {
    super();
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.db = new Database(join(dir, "raft.db"), { create: true, strict: true });
    this.db.exec("PRAGMA journal_mode = WAL");
    this.db.exec("PRAGMA busy_timeout = 5000");
    this.db.exec("PRAGMA synchronous = FULL");
    this.db.exec(SCHEMA);
    // From here on every commit is followed by our own fdatasync of the WAL (see the top).
    this.db.exec("PRAGMA wal_autocheckpoint = 0");
    this.db.exec("PRAGMA synchronous = OFF");
    this.walPath = join(dir, "raft.db-wal");
    this.qIns = this.db.query("INSERT OR REPLACE INTO entries (idx, term, conf, data) VALUES (?, ?, ?, ?)");
    this.qTrunc = this.db.query("DELETE FROM entries WHERE idx >= ?");
    this.qCompact = this.db.query("DELETE FROM entries WHERE idx <= ?");
    this.qMeta = this.db.query("INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)");

    const meta = new Map(this.db.query<{ k: string; v: string }, []>("SELECT k, v FROM meta").all().map((r) => [r.k, r.v]));
    if (meta.has("hardstate")) this.hs = JSON.parse(meta.get("hardstate")!);
    const sm = meta.has("snapshot") ? (JSON.parse(meta.get("snapshot")!) as SnapshotMetadata) : { index: 0, term: 0, confState: { voters: [], learners: [] } };
    this.snap = new FileSnapshot(sm, sm.index > 0 ? this.snapPath(sm.index) : undefined);
    const off = meta.has("offset") ? (JSON.parse(meta.get("offset")!) as { index: number; term: number }) : { index: sm.index, term: sm.term };
    this.ents = [{ index: off.index, term: off.term, type: "normal", data: EMPTY }];
    const rows = this.db.query<{ idx: number; term: number; conf: number; data: Uint8Array }, [number]>("SELECT idx, term, conf, data FROM entries WHERE idx > ? ORDER BY idx").all(off.index);
    for (const r of rows) {
      if (r.idx !== this.lastIndex() + 1) throw new Error(`raft.db: gap in the log at index ${this.lastIndex() + 1} (found ${r.idx})`);
      this.ents.push({ index: r.idx, term: r.term, type: r.conf ? "conf" : "normal", data: new Uint8Array(r.data) });
    }
    this.removeStaleSnapshotFiles();
  }

  /** A small key/value area for the node's own metadata (its id, its name). */
  getMeta(k: string): string | undefined {
    return this.db.query<{ v: string }, [string]>("SELECT v FROM meta WHERE k = ?").get(`x:${k}`)?.v;
  }
  setMeta(k: string, v: string): void {
    this.withFull(() => this.qMeta.run(`x:${k}`, v));
  }

  /** Nothing persisted yet: a server that is about to join (or found) a cluster. */
  isEmpty(): boolean {
    return this.lastIndex() === 0 && this.hs.term === 0;
  }

  snapPath(index: number): string {
    return join(this.dir, `snap-${String(index).padStart(16, "0")}.db`);
  }

  // ------------------------------------------------------------------ Storage (read side)

  initialState(): { hardState: HardState } {
    return { hardState: { ...this.hs } };
  }

  /** The snapshot's file (a state.db copy), if there is one. */
  snapshotBody(): string | undefined {
    return this.snap.path;
  }

  hardState(): HardState {
    return { ...this.hs };
  }

  // ------------------------------------------------------------------ write side

  /** Persist a founding member's log: the bootstrap entries and HardState {term 1, commit 1}. */
  bootstrap(entries: Entry[]): void {
    if (!this.isEmpty()) throw new Error("raft.db is not empty");
    this.save({ entries, hardState: { term: 1, vote: 0, commit: entries[entries.length - 1]!.index }, mustSync: true });
  }

  /** Entries (replacing a conflicting suffix) and hard state of one Ready: one transaction, one fsync. */
  save(o: SaveOptions): void {
    if (this.write(o)) this.sync();
  }

  /**
   * Entries (replacing a conflicting suffix) and hard state of one Ready as one transaction,
   * written but not yet fsynced. Returns true if the caller must `sync()`/`syncAsync()`
   * before anything may rely on it (o.mustSync and something was written). The in-memory log
   * serves the new entries at once (the core's unstable entries are the same).
   */
  write(o: SaveOptions): boolean {
    let ents = o.entries;
    if (ents.length > 0) {
      const first = this.firstIndex();
      if (ents[ents.length - 1]!.index < first) ents = [];
      else if (ents[0]!.index < first) ents = ents.slice(first - ents[0]!.index);
    }
    if (ents.length === 0 && !o.hardState) return false;
    if (ents.length > 0 && ents[0]!.index - this.offset() > this.ents.length) {
      throw new Error(`missing log entry [last: ${this.lastIndex()}, append at: ${ents[0]!.index}]`);
    }
    this.db.transaction(() => {
      if (ents.length > 0) {
        if (ents[0]!.index <= this.lastIndex()) this.qTrunc.run(ents[0]!.index);
        for (const e of ents) this.qIns.run(e.index, e.term, e.type === "conf" ? 1 : 0, e.data);
      }
      if (o.hardState) this.qMeta.run("hardstate", JSON.stringify(o.hardState));
    })();
    if (ents.length > 0) {
      const keep = ents[0]!.index - this.offset();
      if (keep === this.ents.length) for (const e of ents) this.ents.push(e);
      else this.ents = this.ents.slice(0, keep).concat(ents);
    }
    if (o.hardState) this.hs = { ...o.hardState };
    this.writesSinceCheck++;
    return o.mustSync;
  }

  private wal(): number {
    if (this.walFd === undefined) {
      // SQLite created the -wal file with the first write; make its directory entry durable once.
      this.walFd = openSync(this.walPath, "r");
      fsyncDir(this.dir);
    }
    return this.walFd;
  }

  /** Make everything written so far durable (blocking). */
  sync(): void {
    fdatasyncSync(this.wal());
  }

  /** Make everything written so far durable, on the thread pool: the event loop keeps running. */
  syncAsync(): Promise<void> {
    const fd = this.wal();
    return new Promise((resolve, reject) => fdatasync(fd, (e) => (e ? reject(e) : resolve())));
  }

  /**
   * Copy the WAL into raft.db and truncate it when it has grown past walLimitBytes. Runs under
   * synchronous=FULL so no acknowledged frame depends on an unsynced page. Call between Readies
   * (after the previous one's sync completed).
   */
  maybeCheckpoint(force = false): void {
    if (!force && this.writesSinceCheck < 256) return;
    this.writesSinceCheck = 0;
    if (!force && (this.walFd === undefined || fstatSync(this.walFd).size < this.walLimitBytes)) return;
    this.withFull(() => this.db.exec("PRAGMA wal_checkpoint(TRUNCATE)"));
  }

  /** The WAL has grown past walLimitBytes (looked at every 256 writes): see checkpointAsync. */
  checkpointDue(): boolean {
    if (this.writesSinceCheck < 256 || this.walFd === undefined) return false;
    this.writesSinceCheck = 0;
    return fstatSync(this.walFd).size >= this.walLimitBytes;
  }

  /**
   * maybeCheckpoint's work with the fsyncs on the thread pool (see checkpointWal). Call between
   * Readies and write nothing until it settles. (The WAL is normally durable already: every
   * write is synced before the next Ready; its fdatasync is then nearly free.)
   */
  checkpointAsync(): Promise<void> {
    return checkpointWal(this.db, join(this.dir, "raft.db"), false, "OFF");
  }

  /** Run fn with synchronous=FULL: its commit fsyncs (for rare metadata changes that must be durable at once). */
  private withFull<T>(fn: () => T): T {
    this.db.exec("PRAGMA synchronous = FULL");
    try {
      return fn();
    } finally {
      this.db.exec("PRAGMA synchronous = OFF");
    }
  }

  /**
   * A snapshot received from the leader (Ready.snapshot): its body is written (fsync) to
   * snap-<index>.db, then the log is replaced by it in one transaction. Returns the file.
   */
  applySnapshot(s: Snapshot): string {
    const { index, term } = s.metadata;
    if (index <= this.snap.metadata.index) throw new Error("snapshot out of date");
    const path = this.snapPath(index);
    writeFileDurable(path, s.data);
    fsyncDir(this.dir);
    this.withFull(() =>
      this.db.transaction(() => {
        this.db.exec("DELETE FROM entries");
        this.qMeta.run("snapshot", JSON.stringify(s.metadata));
        this.qMeta.run("offset", JSON.stringify({ index, term }));
      })(),
    );
    this.snap = new FileSnapshot(cloneMeta(s.metadata), path);
    this.ents = [{ index, term, type: "normal", data: EMPTY }];
    this.removeStaleSnapshotFiles();
    return path;
  }

  /**
   * Record a snapshot the node took itself: `file` (already fsynced) becomes snap-<index>.db
   * and the log is compacted up to `compactTo` (a tail may be kept for slow followers).
   */
  saveLocalSnapshot(meta: SnapshotMetadata, file: string, compactTo: number): void {
    if (meta.index <= this.snap.metadata.index) throw new Error("snapshot out of date");
    if (meta.index > this.lastIndex()) throw new Error("snapshot beyond last index");
    const path = this.snapPath(meta.index);
    renameSync(file, path);
    fsyncDir(this.dir);
    compactTo = Math.min(compactTo, meta.index);
    const offset = this.offset();
    const doCompact = compactTo > offset;
    const cterm = doCompact ? this.term(compactTo) : 0;
    this.withFull(() =>
      this.db.transaction(() => {
        this.qMeta.run("snapshot", JSON.stringify(meta));
        if (doCompact) {
          this.qCompact.run(compactTo);
          this.qMeta.run("offset", JSON.stringify({ index: compactTo, term: cterm }));
        }
      })(),
    );
    this.snap = new FileSnapshot(cloneMeta(meta), path);
    if (doCompact) {
      const i = compactTo - offset;
      this.ents = [{ index: compactTo, term: cterm, type: "normal", data: EMPTY }, ...this.ents.slice(i + 1)];
    }
    this.removeStaleSnapshotFiles();
  }

  private removeStaleSnapshotFiles(): void {
    const keep = this.snap.path;
    for (const f of readdirSync(this.dir)) {
      if (!/^snap-\d+\.db(\.tmp)?$/.test(f) && !/^vacuum-.*\.db$/.test(f)) continue;
      const p = join(this.dir, f);
      if (p === keep) continue;
      try {
        unlinkSync(p);
      } catch {
        /* ignore */
      }
    }
  }

  /** Approximate number of entries kept (for compaction decisions and status). */
  size(): number {
    return this.ents.length - 1;
  }

  close(): void {
    // SQLite checkpoints and deletes the WAL on close: under FULL, so that copy is durable.
    this.db.exec("PRAGMA synchronous = FULL");
    this.db.close();
    if (this.walFd !== undefined) {
      closeSync(this.walFd);
      this.walFd = undefined;
    }
  }
}

function cloneMeta(m: SnapshotMetadata): SnapshotMetadata {
  const cs: ConfState = { voters: [...m.confState.voters], learners: [...m.confState.learners] };
  return { index: m.index, term: m.term, confState: cs };
}
