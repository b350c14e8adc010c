// The storage the core reads from (like etcd's raft.Storage). The core never writes to it:
// the application persists what a Ready hands it (snapshot, entries, hard state) and then
// calls advance(). A real implementation (SQLite / segment file) implements the same
// read interface; MemoryStorage is the reference used by tests and the simulator.
import { bootstrapEntries } from "./config";
import type { Entry, HardState, NodeId, Snapshot } from "./types";
import { entrySize } from "./types";

/** The requested index is below firstIndex (compacted into a snapshot). */
export class CompactedError extends Error {
  constructor() {
    super("requested index is unavailable due to compaction");
  }
}
/** The requested index is above lastIndex. */
export class UnavailableError extends Error {
  constructor() {
    super("requested entry at index is unavailable");
  }
}

export interface Storage {
  /** Persisted hard state (term 0 / vote 0 / commit 0 on a fresh node). */
  initialState(): { hardState: HardState };
  /**
   * Entries in [lo, hi), at most maxBytes in total but always at least one if any.
   * Throws CompactedError if lo < firstIndex().
   */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  /**
   * Term of entry i, for firstIndex()-1 <= i <= lastIndex() (the entry at firstIndex()-1
   * is the compaction point: only its index and term are kept). Throws CompactedError / UnavailableError outside.
   */
  term(i: number): number;
  /**
   * Index of the first entry still in the log. The log may retain entries at or before the
   * snapshot's index (firstIndex()-1 <= snapshot().metadata.index), never fewer.
   */
  firstIndex(): number;
  /** Index of the last persisted entry (snapshot index if the log is empty). */
  lastIndex(): number;
  /** The most recent snapshot (index 0, empty ConfState, on a fresh node). */
  snapshot(): Snapshot;
}

export function limitSize(ents: Entry[], maxBytes: number): Entry[] {
  if (ents.length === 0) return ents;
  let size = entrySize(ents[0]!);
  let n = 1;
  for (; n < ents.length; n++) {
    size += entrySize(ents[n]!);
    if (size > maxBytes) break;
  }
  return n === ents.length ? ents : ents.slice(0, n);
}

/**
 * The read side of a log held in memory (the whole log, or the durable log's cached tail):
 * ents[0] is a dummy entry holding the compaction point's index and term.
 */
export abstract class InMemoryLog {
  protected abstract snap: Snapshot;
  protected abstract ents: Entry[];

  protected offset(): number {
    return this.ents[0]!.index;
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    const offset = this.offset();
    if (lo <= offset) throw new CompactedError();
    if (hi > this.lastIndex() + 1) throw new Error(`entries hi(${hi}) out of bound lastIndex(${this.lastIndex()})`);
    return limitSize(this.ents.slice(lo - offset, hi - offset), maxBytes);
  }

  term(i: number): number {
    const offset = this.offset();
    if (i < offset) throw new CompactedError();
    if (i - offset >= this.ents.length) throw new UnavailableError();
    return this.ents[i - offset]!.term;
  }

  firstIndex(): number {
    return this.offset() + 1;
  }

  lastIndex(): number {
    return this.offset() + this.ents.length - 1;
  }

  snapshot(): Snapshot {
    return this.snap;
  }
}

/**
 * In-memory Storage. ents[0] is a dummy entry holding the snapshot's index and term.
 * Write methods model the durable writes an application performs for a Ready.
 */
export class MemoryStorage extends InMemoryLog implements Storage {
  private hardState: HardState = { term: 0, vote: 0, commit: 0 };
  protected snap: Snapshot;
  protected ents: Entry[];

  /**
   * A fresh node. With `voters`, it is a founding member of a new cluster: its log starts
   * with the bootstrap entry (see bootstrapEntries). Without, it is empty and waits to be
   * added by an existing cluster's leader.
   */
  constructor(voters?: NodeId[]) {
    super();
    this.snap = { metadata: { index: 0, term: 0, confState: { voters: [], learners: [] } }, data: new Uint8Array() };
    this.ents = [{ index: 0, term: 0, type: "normal", data: new Uint8Array() }];
    if (voters && voters.length > 0) {
      this.append(bootstrapEntries(voters));
      this.hardState = { term: 1, vote: 0, commit: 1 };
    }
  }

  initialState(): { hardState: HardState } {
    return { hardState: { ...this.hardState } };
  }

  setHardState(hs: HardState): void {
    this.hardState = { ...hs };
  }


  /** Install a snapshot received from the leader (Ready.snapshot): the log is replaced. */
  applySnapshot(s: Snapshot): void {
    if (s.metadata.index <= this.snap.metadata.index) throw new Error("snapshot out of date");
    this.snap = s;
    this.ents = [{ index: s.metadata.index, term: s.metadata.term, type: "normal", data: new Uint8Array() }];
  }

  /**
   * Record a snapshot taken locally by the application (Raft.createSnapshot) and drop the
   * log up to `compactTo` (<= snapshot index; keeping a tail lets slow followers catch up
   * from the log instead of the snapshot).
   */
  saveSnapshot(s: Snapshot, compactTo = s.metadata.index): void {
    if (s.metadata.index <= this.snap.metadata.index) throw new Error("snapshot out of date");
    if (s.metadata.index > this.lastIndex()) throw new Error("snapshot beyond last index");
    this.snap = s;
    this.compact(Math.min(compactTo, s.metadata.index));
  }

  /** Discard entries before compactIndex (compactIndex becomes the dummy entry). */
  compact(compactIndex: number): void {
    const offset = this.offset();
    if (compactIndex <= offset) return;
    if (compactIndex > this.lastIndex()) throw new Error("compact beyond last index");
    const i = compactIndex - offset;
    const first = this.ents[i]!;
    this.ents = [{ index: first.index, term: first.term, type: "normal", data: new Uint8Array() }, ...this.ents.slice(i + 1)];
  }

  /** Persist Ready.entries: a conflicting suffix is replaced. */
  append(entries: Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = entries[entries.length - 1]!.index;
    if (last < first) return; // all already compacted
    if (entries[0]!.index < first) entries = entries.slice(first - entries[0]!.index);
    const offset = entries[0]!.index - this.offset();
    if (offset > this.ents.length) throw new Error(`missing log entry [last: ${this.lastIndex()}, append at: ${entries[0]!.index}]`);
    this.ents = this.ents.slice(0, offset).concat(entries);
  }
}

export { cloneConf } from "./config";
