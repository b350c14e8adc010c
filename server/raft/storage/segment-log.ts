// The durable Raft log of `skiff server`: append-only segment files in <server>/raft
// (wal-<seq>.log, records as in wal-format.ts), node metadata in node.json, snapshot bodies
// as files next to them (snap-<index>.db). The live log is also kept in memory (bounded by
// snapshot-driven compaction), so the files are only appended to, and read once at start.
//
// One Ready = one record = one write(); sync()/syncAsync() fdatasync the segment (group
// commit: one fsync for everything written since). Nothing is ever rewritten in place: a
// write appends its record and nothing else, which is what a flash disk wants (the SQLite
// raft.db this replaces wrote every page twice, WAL then checkpoint, and a whole page per
// Ready). A conflicting suffix is replaced by appending the new entries (replay keeps the
// last word); compaction is a STATE record, and old segments are deleted once a newer
// segment carries the compaction state (at rotation, checkpointAsync).
//
// Segments are preallocated: zeros are written ahead of the records, a chunk at a time, so
// that a record's fdatasync overwrites blocks the file already owns within its size. Without
// that, every fdatasync also commits the filesystem journal (the file grew: size and block
// map), several times the record's own bytes on ext4. A chunk's zeros ride on the next
// record's fdatasync (one journal commit per chunk, not per record). Zeros where a record's
// length should be read as the end of the log, so a preallocated tail needs no marker.
import { closeSync, existsSync, fdatasync, fdatasyncSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { InMemoryLog } from "../core/storage";
import type { ConfState, Entry, HardState, Snapshot, SnapshotMetadata } from "../core/types";
import type { LogStorage, SaveOptions } from "../node/types";
import { fsyncDir, fsyncDirAsync, writeFileDurable } from "./files";
import { migrateRaftDb } from "./migrate-raft-db";
import { isReceivedSnapshot } from "./snapshot-file";
import { decodeRecords, encodeRecord, READY, STATE, type StateRecord, type WalRecord } from "./wal-format";

const EMPTY = new Uint8Array();
const SEGMENT = /^wal-([0-9a-f]{16})\.log$/;
/** Zeros written ahead of the records. Written (not fallocated): ext4 would journal the
 * conversion of each fallocated ("unwritten") block on its first fdatasync. */
export const PREALLOC_CHUNK = 1 << 20;
const ZERO_PIECE = 4096;
let zeros: Uint8Array | undefined;

/**
 * Write zeros to [from, to) of fd (buffered: the caller's next fdatasync makes them durable).
 * A page at a time: the page cache sizes its folios by the write, and a record later written
 * into a large folio dirties (and is counted, and may be written back, as) all of it: with
 * 1 MiB writes, Linux 6.18 counted 16-64 kB per 2.6 kB record where 4 kB pieces count 4 kB.
 */
function writeZeros(fd: number, from: number, to: number): void {
  zeros ??= new Uint8Array(ZERO_PIECE);
  for (let at = from; at < to; ) at += writeSync(fd, zeros, 0, Math.min(ZERO_PIECE - (at % ZERO_PIECE), to - at), at);
}

/** Whether buf[from..] is all zeros. */
function zeroFrom(buf: Uint8Array, from: number): boolean {
  for (let i = from; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
}

/**
 * A snapshot whose body is its file, mapped (not read) the first time somebody needs it: the
 * leader sends it to a follower a chunk at a time, and only the chunk being sent is paged in,
 * instead of the whole state.db copy being read into memory on the event loop. Snapshot files
 * are renamed and deleted, never rewritten, so the mapping stays valid.
 */
class FileSnapshot implements Snapshot {
  private bytes: Uint8Array | undefined;
  constructor(
    readonly metadata: SnapshotMetadata,
    readonly path: string | undefined,
  ) {}
  get data(): Uint8Array {
    if (!this.bytes) this.bytes = this.path && existsSync(this.path) && statSync(this.path).size > 0 ? Bun.mmap(this.path, { shared: false }) : EMPTY;
    return this.bytes;
  }
}

interface Segment {
  seq: number;
  path: string;
  /** Highest entry index written into it (0: none). */
  maxIndex: number;
}

export class SegmentLogStorage extends InMemoryLog implements LogStorage<string> {
  private hs: HardState = { term: 0, vote: 0, commit: 0 };
  protected snap: FileSnapshot;
  /** ents[0] is a dummy holding the compaction point (index, term). */
  protected ents: Entry[];
  private segments: Segment[] = [];
  private fd = -1;
  /** Bytes of the current segment (where the next record goes). */
  private pos = 0;
  /** Bytes of the current segment file (zeros after pos: preallocated). */
  private allocated = 0;
  private crc = 0;
  /** Segments before this sequence number hold nothing replay needs (a reset came after). */
  private resetSeq = 0;
  private meta: Record<string, string> = {};
  /** Start a new segment (checkpointAsync) once the current one is this big. */
  segmentBytes = 16 << 20;
  /** Zeros kept written ahead of the records (0: none, as before; for benchmarks). */
  preallocBytes = PREALLOC_CHUNK;

  constructor(readonly dir: string) {
    super();
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    migrateRaftDb(dir);
    const metaPath = join(dir, "node.json");
    if (existsSync(metaPath)) this.meta = JSON.parse(readFileSync(metaPath, "utf8"));
    this.snap = new FileSnapshot({ index: 0, term: 0, confState: { voters: [], learners: [] } }, undefined);
    this.ents = [{ index: 0, term: 0, type: "normal", data: EMPTY }];
    this.replay();
    this.removeStaleSnapshotFiles();
  }

  // ------------------------------------------------------------------ opening

  private replay(): void {
    const names = readdirSync(this.dir)
      .map((f) => SEGMENT.exec(f))
      .filter((m): m is RegExpExecArray => !!m)
      .map((m) => ({ seq: parseInt(m[1]!, 16), path: join(this.dir, m[0]) }))
      .sort((a, b) => a.seq - b.seq);
    for (let i = 0; i < names.length; i++) {
      const { seq, path } = names[i]!;
      const buf = new Uint8Array(readFileSync(path));
      const { records, end, crc } = decodeRecords(buf);
      const seg: Segment = { seq, path, maxIndex: 0 };
      this.segments.push(seg);
      for (const r of records) this.replayRecord(r, seg);
      // Zeros after the last record: the preallocated rest of the segment, nothing lost.
      if (end < buf.length && !zeroFrom(buf, end)) {
        // A tail that was never completely written (a crash or power loss during the write):
        // it was never fsynced, so never acknowledged. Only the newest segment can have one.
        if (i !== names.length - 1) throw new Error(`raft log: ${path} is damaged at byte ${end} of ${buf.length}, and newer segments follow it`);
        // Zeroed, not cut off: the next records go there, and no remnant of the torn one
        // may follow them (the file keeps its preallocated size).
        let last = buf.length;
        while (last > end && buf[last - 1] === 0) last--;
        const fd = openSync(path, "r+");
        try {
          writeZeros(fd, end, last);
          fdatasyncSync(fd);
        } finally {
          closeSync(fd);
        }
      }
      if (i === names.length - 1) {
        this.pos = end;
        this.allocated = buf.length;
        this.crc = crc;
      }
    }
    if (Number.isNaN(this.ents[0]!.term)) throw new Error(`raft log: entries before ${this.firstIndex()} are missing (a deleted segment was still needed)`);
    if (this.segments.length > 0) this.fd = openSync(this.segments[this.segments.length - 1]!.path, "r+");
  }

  /** Apply one record to the in-memory state. */
  private replayRecord(r: WalRecord, seg: Segment): void {
    if (r.type === STATE) {
      this.hs = { ...r.hs };
      this.snap = new FileSnapshot(r.snap, r.snap.index > 0 ? this.snapPath(r.snap.index) : undefined);
      if (r.reset) {
        this.ents = [{ index: r.offset.index, term: r.offset.term, type: "normal", data: EMPTY }];
        this.resetSeq = seg.seq;
      } else this.compactTo(r.offset.index, r.offset.term);
      return;
    }
    if (r.hs) this.hs = { ...r.hs };
    for (const e of r.entries) {
      if (e.index <= this.offset()) continue;
      seg.maxIndex = Math.max(seg.maxIndex, e.index);
      const k = e.index - this.offset();
      if (k < this.ents.length) this.ents.length = k;
      if (k > this.ents.length) {
        // Entries before e were in a segment deleted after a later compaction (whose STATE
        // record comes further on): start over at e, the compaction point's term to be
        // confirmed by that record (see the check at the end of replay).
        this.ents = [{ index: e.index - 1, term: NaN, type: "normal", data: EMPTY }];
      }
      this.ents.push(e);
    }
  }

  /** Drop entries up to index (the new compaction point, whose term is `term`). */
  private compactTo(index: number, term: number): void {
    const off = this.offset();
    if (index < off) return;
    if (index > this.lastIndex()) this.ents = [{ index, term, type: "normal", data: EMPTY }];
    else this.ents = [{ index, term, type: "normal", data: EMPTY }, ...this.ents.slice(index - off + 1)];
  }

  // ------------------------------------------------------------------ node metadata

  /** A small key/value area for the node's own metadata (its id, its name). */
  getMeta(k: string): string | undefined {
    return this.meta[k];
  }
  setMeta(k: string, v: string): void {
    if (this.meta[k] === v) return;
    this.meta = { ...this.meta, [k]: v };
    writeFileDurable(join(this.dir, "node.json"), JSON.stringify(this.meta));
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
    if (!this.isEmpty()) throw new Error("the raft log is not empty");
    this.save({ entries, hardState: { term: 1, vote: 0, commit: entries[entries.length - 1]!.index }, mustSync: true });
  }

  /** Entries (replacing a conflicting suffix) and hard state of one Ready: one record, one fsync. */
  save(o: SaveOptions): void {
    if (this.write(o)) this.sync();
  }

  /**
   * Entries (replacing a conflicting suffix) and hard state of one Ready as one record,
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
    this.append({ type: READY, hs: o.hardState, entries: ents });
    if (ents.length > 0) {
      const seg = this.segments[this.segments.length - 1]!;
      seg.maxIndex = Math.max(seg.maxIndex, ents[ents.length - 1]!.index);
      const keep = ents[0]!.index - this.offset();
      if (keep === this.ents.length) for (const e of ents) this.ents.push(e);
      else this.ents = this.ents.slice(0, keep).concat(ents);
    }
    if (o.hardState) this.hs = { ...o.hardState };
    return o.mustSync;
  }

  /** Append one record to the current segment (creating the first one); all or nothing. */
  private append(r: WalRecord): void {
    if (this.fd < 0) this.openSegment(1);
    const { bytes, crc } = encodeRecord(r, this.crc);
    try {
      let done = 0;
      while (done < bytes.length) done += writeSync(this.fd, bytes, done, bytes.length - done, this.pos + done);
    } catch (e) {
      // Never leave half a record for the next one to follow (disk full): cut it off again.
      try {
        ftruncateSync(this.fd, this.pos);
        this.allocated = this.pos;
      } catch {}
      throw e;
    }
    this.pos += bytes.length;
    this.allocated = Math.max(this.allocated, this.pos);
    this.crc = crc;
    this.preallocate();
  }

  /**
   * Keep at least half a chunk of zeros ahead of the next record: when less is left, the next
   * chunk is written now (page cache only; a few hundred µs), and the next fdatasync carries it.
   * A failure (disk full) is not the record's: the records are written and will be synced.
   */
  private preallocate(): void {
    if (this.preallocBytes <= 0 || this.allocated - this.pos >= this.preallocBytes >> 1) return;
    const to = this.pos + this.preallocBytes;
    try {
      writeZeros(this.fd, this.allocated, to);
      this.allocated = to;
    } catch {
      // Partly written zeros are harmless (zeros read as the end of the log).
    }
  }

  /** Create segment `seq` starting with the compaction state; durable (file and name) on return. */
  private openSegment(seq: number): void {
    const path = join(this.dir, `wal-${seq.toString(16).padStart(16, "0")}.log`);
    const fd = openSync(path, "wx+", 0o600);
    const { bytes, crc } = encodeRecord(this.stateRecord(false), 0);
    writeSync(fd, bytes, 0, bytes.length, 0);
    const allocated = this.zeroAhead(fd, bytes.length);
    fdatasyncSync(fd);
    fsyncDir(this.dir);
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = fd;
    this.pos = bytes.length;
    this.allocated = allocated;
    this.crc = crc;
    this.segments.push({ seq, path, maxIndex: 0 });
  }

  /** A new segment's first chunk of zeros (after its first record at [0, pos)); returns the file's size. */
  private zeroAhead(fd: number, pos: number): number {
    if (this.preallocBytes <= 0) return pos;
    try {
      writeZeros(fd, pos, pos + this.preallocBytes);
      return pos + this.preallocBytes;
    } catch {
      return pos;
    }
  }

  private stateRecord(reset: boolean): StateRecord {
    return { type: STATE, reset, hs: { ...this.hs }, snap: cloneMeta(this.snap.metadata), offset: { index: this.offset(), term: this.ents[0]!.term } };
  }

  /** Make everything written so far durable (blocking). */
  sync(): void {
    if (this.fd >= 0) fdatasyncSync(this.fd);
  }

  /** Make everything written so far durable, on the thread pool: the event loop keeps running. */
  syncAsync(): Promise<void> {
    const fd = this.fd;
    if (fd < 0) return Promise.resolve();
    return new Promise((resolve, reject) => fdatasync(fd, (e) => (e ? reject(e) : resolve())));
  }

  /** Time to start a new segment (the current one is full, or older ones can go). */
  checkpointDue(): boolean {
    if (this.fd < 0) return false;
    if (this.pos >= this.segmentBytes) return true;
    return this.obsolete().length > 0 && this.pos >= this.segmentBytes >> 2;
  }

  /**
   * Start a new segment (its first record is the compaction state), then delete the segments
   * nothing needs any more. Call between Readies (after the previous one's sync), and write
   * nothing until it settles.
   */
  async checkpointAsync(): Promise<void> {
    if (this.fd < 0) return;
    await this.syncAsync();
    const seq = this.segments[this.segments.length - 1]!.seq + 1;
    const path = join(this.dir, `wal-${seq.toString(16).padStart(16, "0")}.log`);
    const fd = openSync(path, "wx+", 0o600);
    const { bytes, crc } = encodeRecord(this.stateRecord(false), 0);
    writeSync(fd, bytes, 0, bytes.length, 0);
    const allocated = this.zeroAhead(fd, bytes.length);
    await new Promise<void>((resolve, reject) => fdatasync(fd, (e) => (e ? reject(e) : resolve())));
    await fsyncDirAsync(this.dir);
    closeSync(this.fd);
    this.fd = fd;
    this.pos = bytes.length;
    this.allocated = allocated;
    this.crc = crc;
    this.segments.push({ seq, path, maxIndex: 0 });
    const gone = new Set(this.obsolete());
    for (const s of gone) {
      try {
        unlinkSync(s.path);
      } catch {}
    }
    this.segments = this.segments.filter((s) => !gone.has(s));
  }

  /** Older segments whose every entry is compacted (or that a reset made irrelevant). */
  private obsolete(): Segment[] {
    const cur = this.segments[this.segments.length - 1];
    return this.segments.filter((s) => s !== cur && (s.seq < this.resetSeq || s.maxIndex <= this.offset()));
  }

  /**
   * A snapshot received from the leader (Ready.snapshot): its body is written (fsync) to
   * snap-<index>.db, then the log is replaced by it (a reset record, fsynced). Returns the file.
   */
  applySnapshot(s: Snapshot): string {
    const { index, term } = s.metadata;
    if (index <= this.snap.metadata.index) throw new Error("snapshot out of date");
    const path = this.snapPath(index);
    if (isReceivedSnapshot(s)) {
      // Received into a file (fsynced): it becomes the snapshot as it is.
      renameSync(s.file, path);
      fsyncDir(this.dir);
    } else writeFileDurable(path, s.data);
    this.snap = new FileSnapshot(cloneMeta(s.metadata), path);
    this.ents = [{ index, term, type: "normal", data: EMPTY }];
    this.append(this.stateRecord(true));
    this.sync();
    this.resetSeq = this.segments[this.segments.length - 1]!.seq;
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
    this.snap = new FileSnapshot(cloneMeta(meta), path);
    if (compactTo > this.offset()) this.compactTo(compactTo, this.term(compactTo));
    this.append(this.stateRecord(false));
    this.sync();
    this.removeStaleSnapshotFiles();
  }

  /**
   * Start this (empty) log over from a state.db copy (a cluster reset): `file` (fsynced)
   * becomes the snapshot at meta.index, nothing follows it, and the hard state keeps `term`
   * (never going back in terms) with the snapshot's index committed.
   */
  resetToSnapshot(meta: SnapshotMetadata, file: string, term: number): void {
    if (!this.isEmpty()) throw new Error("the raft log is not empty");
    const path = this.snapPath(meta.index);
    renameSync(file, path);
    fsyncDir(this.dir);
    this.snap = new FileSnapshot(cloneMeta(meta), path);
    this.ents = [{ index: meta.index, term: meta.term, type: "normal", data: EMPTY }];
    this.hs = { term: Math.max(term, meta.term), vote: 0, commit: meta.index };
    this.append(this.stateRecord(true));
    this.sync();
    this.resetSeq = this.segments[this.segments.length - 1]!.seq;
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
    if (this.fd >= 0) {
      fdatasyncSync(this.fd);
      closeSync(this.fd);
      this.fd = -1;
    }
  }
}

function cloneMeta(m: SnapshotMetadata): SnapshotMetadata {
  const cs: ConfState = { voters: [...m.confState.voters], learners: [...m.confState.learners] };
  return { index: m.index, term: m.term, confState: cs };
}
