// The simulator's log storage: raft.db's contract (server/raft/node/types.ts LogStorage) in
// memory, with its durability. A write is durable only once a later sync has completed; a
// process crash keeps what was written (the OS has it), a power loss keeps the last synced
// state plus any prefix of the writes after it (SQLite's WAL is checksummed frame by frame).
// Snapshot installs and local snapshots are durable on return, as SqliteLogStorage's are.
import { bootstrapEntries } from "../../server/raft/core/config";
import { InMemoryLog } from "../../server/raft/core/storage";
import type { Entry, HardState, NodeId, Snapshot, SnapshotMetadata } from "../../server/raft/core/types";
import type { LogStorage, SaveOptions } from "../../server/raft/node/types";

interface Image {
  snap: Snapshot;
  ents: Entry[];
  hs: HardState;
}

export interface DiskModel {
  /**
   * After the simulated fsync latency, on behalf of the owning process: complete() makes the
   * data durable (false: the process died meanwhile), then resolve() tells the caller — unless
   * the process dies in between.
   */
  fsync(complete: () => boolean, resolve: () => void): void;
  /** Whether a WAL checkpoint is due now (exercises the driver's wait). */
  checkpointDue(): boolean;
  /** A snapshot from the leader is being installed (for the safety checker). */
  installing(meta: SnapshotMetadata): void;
}

const EMPTY = new Uint8Array();

export class MemoryLogStorage extends InMemoryLog implements LogStorage<Uint8Array> {
  protected snap: Snapshot;
  protected ents: Entry[];
  private hs: HardState = { term: 0, vote: 0, commit: 0 };
  /** The state as of the last completed sync, then the state after each later write. */
  private durable: Image;
  private unsynced: Image[] = [];
  /** Bumped by a crash: a sync that was running when the process died never completes. */
  private epoch = 0;
  disk: DiskModel | undefined;

  constructor(voters?: NodeId[]) {
    super();
    this.snap = { metadata: { index: 0, term: 0, confState: { voters: [], learners: [] } }, data: EMPTY };
    this.ents = [{ index: 0, term: 0, type: "normal", data: EMPTY }];
    if (voters && voters.length > 0) {
      this.ents.push(...bootstrapEntries(voters));
      this.hs = { term: 1, vote: 0, commit: 1 };
    }
    this.durable = this.image();
  }

  private image(): Image {
    return { snap: this.snap, ents: this.ents.slice(), hs: { ...this.hs } };
  }

  private restoreImage(i: Image): void {
    this.snap = i.snap;
    this.ents = i.ents.slice();
    this.hs = { ...i.hs };
  }

  initialState(): { hardState: HardState } {
    return { hardState: { ...this.hs } };
  }

  hardState(): HardState {
    return { ...this.hs };
  }

  /** The term as it is on disk (synced): what survives any crash. */
  durableTerm(): number {
    return this.durable.hs.term;
  }

  snapshotBody(): Uint8Array | undefined {
    return this.snap.metadata.index > 0 ? this.snap.data : undefined;
  }

  save(o: SaveOptions): void {
    this.write(o);
    this.syncNow();
  }

  write(o: SaveOptions): boolean {
    let ents = o.entries;
    if (ents.length > 0) {
      const first = this.firstIndex();
      if (ents[ents.length - 1]!.index < first) ents = [];
      else if (ents[0]!.index < first) ents = ents.slice(first - ents[0]!.index);
    }
    if (ents.length === 0 && !o.hardState) return false;
    if (ents.length > 0) {
      const keep = ents[0]!.index - this.offset();
      if (keep > this.ents.length) throw new Error(`missing log entry [last: ${this.lastIndex()}, append at: ${ents[0]!.index}]`);
      this.ents = keep === this.ents.length ? this.ents.concat(ents) : this.ents.slice(0, keep).concat(ents);
    }
    if (o.hardState) this.hs = { ...o.hardState };
    this.unsynced.push(this.image());
    return o.mustSync;
  }

  private syncNow(): void {
    this.durable = this.image();
    this.unsynced = [];
  }

  syncAsync(): Promise<void> {
    const upTo = this.unsynced.length;
    const epoch = this.epoch;
    return new Promise((resolve) =>
      this.disk!.fsync(() => {
        if (epoch !== this.epoch) return false;
        // Everything written before the call is durable now.
        if (upTo > 0) this.durable = this.unsynced[upTo - 1]!;
        this.unsynced = this.unsynced.slice(upTo);
        return true;
      }, resolve),
    );
  }

  checkpointDue(): boolean {
    return this.disk?.checkpointDue() ?? false;
  }

  checkpointAsync(): Promise<void> {
    const epoch = this.epoch;
    return new Promise((resolve) => this.disk!.fsync(() => epoch === this.epoch, resolve));
  }

  applySnapshot(s: Snapshot): Uint8Array {
    if (s.metadata.index <= this.snap.metadata.index) throw new Error("snapshot out of date");
    this.disk?.installing(s.metadata);
    this.snap = { metadata: s.metadata, data: s.data };
    this.ents = [{ index: s.metadata.index, term: s.metadata.term, type: "normal", data: EMPTY }];
    this.syncNow();
    return s.data;
  }

  saveLocalSnapshot(meta: SnapshotMetadata, body: Uint8Array, compactTo: number): void {
    if (meta.index <= this.snap.metadata.index) throw new Error("snapshot out of date");
    if (meta.index > this.lastIndex()) throw new Error("snapshot beyond last index");
    this.snap = { metadata: meta, data: body };
    compactTo = Math.min(compactTo, meta.index);
    const offset = this.offset();
    if (compactTo > offset) {
      const i = compactTo - offset;
      this.ents = [{ index: compactTo, term: this.ents[i]!.term, type: "normal", data: EMPTY }, ...this.ents.slice(i + 1)];
    }
    this.syncNow();
  }

  /**
   * The process died. A crash keeps everything written; a power loss keeps the synced state
   * and the first `keep` writes after it.
   */
  crash(powerLoss: boolean, keep: (n: number) => number): void {
    this.epoch++;
    if (powerLoss) {
      const k = keep(this.unsynced.length);
      this.restoreImage(k > 0 ? this.unsynced[k - 1]! : this.durable);
    }
    this.syncNow();
  }
}
