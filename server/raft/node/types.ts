// What the node driver is given: its log storage, the application it applies committed
// entries to, the peer transport and the clock. Production passes raft.db, the store,
// gRPC and the event loop (cluster/consensus.ts); the simulator (test/sim) passes an
// in-memory log, a key-value application, a lossy network and a simulated clock.
import type { RaftConfig } from "../core/raft";
import type { Storage } from "../core/storage";
import type { Entry, HardState, Message, NodeId, Snapshot, SnapshotMetadata } from "../core/types";
import type { Proposal, ProposalResult } from "../transport/codec";
import type { Clock } from "./clock";

export interface SaveOptions {
  hardState?: HardState;
  entries: Entry[];
  /** true = fsync (term/vote or entries changed); false = commit index only, no fsync needed. */
  mustSync: boolean;
}

/**
 * The durable log: the core's read side (Storage) plus the writes a Ready asks for. `B` is
 * a snapshot body as the application makes and restores it (a state.db copy's path).
 */
export interface LogStorage<B> extends Storage {
  hardState(): HardState;
  /** The body of snapshot(), if there is one. */
  snapshotBody(): B | undefined;
  /** Write and make durable at once (blocking). */
  save(o: SaveOptions): void;
  /** Write one Ready's entries (a conflicting suffix is replaced) and hard state, not yet
   * durable; true if the caller must syncAsync() before relying on it. */
  write(o: SaveOptions): boolean;
  /** Make everything written so far durable, off the event loop. */
  syncAsync(): Promise<void>;
  /** Housekeeping (a WAL checkpoint) is due: the driver runs checkpointAsync() between Readies. */
  checkpointDue(): boolean;
  checkpointAsync(): Promise<void>;
  /** Persist a snapshot received from the leader (durable on return); the log is replaced by it. */
  applySnapshot(s: Snapshot): B;
  /** Record a snapshot taken here (`body` is durable) and compact the log up to `compactTo`. */
  saveLocalSnapshot(meta: SnapshotMetadata, body: B, compactTo: number): void;
}

/**
 * The replicated application (the store): commands of type C batched into entries, a
 * result R per command, snapshots with bodies of type B.
 */
export interface Application<C, R, B> {
  /** The last entry applied, as it survived in the application's own storage. */
  readonly appliedIndex: number;
  encode(cmds: C[]): Uint8Array;
  /** Apply committed entries in log order; per entry, the results of its commands ([] for a conf entry). */
  apply(entries: Entry[]): R[][];
  /** Make what apply() wrote visible to snapshot() and to a restart (a COMMIT). */
  flush(): void;
  /** Housekeeping after applies (a WAL checkpoint): while the promise runs, nothing is applied. */
  pauseIfDue(): Promise<void> | undefined;
  /** A durable, consistent copy of the state at appliedIndex (after flush()). */
  snapshot(index: number): B;
  /**
   * Like snapshot(), off the event loop (optional): a copy at whatever index was applied and
   * flushed when it began (>= the index asked for), returned with that index.
   */
  snapshotAsync?(index: number): Promise<{ index: number; body: B }>;
  /** Replace the state by a snapshot body. */
  restore(body: B): void;
}

export interface Transport {
  send(msgs: Message[]): void;
  /** Forward a write to the leader over the peer stream; false if certainly not sent. */
  propose?(to: NodeId, p: Proposal): boolean;
  proposalResult?(to: NodeId, r: ProposalResult, hold?: boolean): void;
  flushOutbox?(): void;
  /** A request/response call to a peer; rejects on transport errors and timeouts. */
  forward(to: NodeId, req: any, timeoutMs: number): Promise<any>;
}

/** The driver's waits and deadlines, in ms (the simulator scales them to its time). */
export interface Timing {
  tickMs: number;
  /** How long a write or read waits for a leader to appear before failing with 503. */
  leaderWaitMs: number;
  /** How long an accepted proposal may take to apply before its caller gets 504. */
  proposalTimeoutMs: number;
  /** Pause between retries of a write (no leader yet, transfer in progress). */
  retryMs: number;
  /** Grace for writes forwarded to a leader whose connection just broke. */
  peerDownGraceMs: number;
  /** Grace for writes in flight when leadership moves. */
  leaderChangeGraceMs: number;
  /** How long a forwarded write waits for this server to apply it too (read-your-writes). */
  readYourWritesMs: number;
  /** How long stop({transfer}) waits for the transfer. */
  transferWaitMs: number;
}

export const DEFAULT_TIMING: Timing = {
  tickMs: 100,
  leaderWaitMs: 1_500,
  proposalTimeoutMs: 5_000,
  retryMs: 20,
  peerDownGraceMs: 300,
  leaderChangeGraceMs: 1_000,
  readYourWritesMs: 2_000,
  transferWaitMs: 1_500,
};

export interface NodeOptions<C, R, B> {
  id: NodeId;
  storage: LogStorage<B>;
  app: Application<C, R, B>;
  transport?: Transport;
  clock?: Clock;
  timing?: Partial<Timing>;
  electionTick?: number;
  heartbeatTick?: number;
  /** Take a snapshot (and compact the log) every this many applied entries. */
  snapshotEntries?: number;
  /** Entries kept behind a snapshot so slightly slow followers catch up from the log. */
  keepEntries?: number;
  rand?: () => number;
  log?: (msg: string) => void;
  /** Timestamped role/leader events (SKIFF_RAFT_TRACE=1, for the failover benchmark). */
  trace?: boolean;
  /** Learners the leader may promote once caught up (default: any). */
  promotable?: (id: NodeId) => boolean;
  /** Core settings beyond the defaults (message and chunk sizes; the simulator's). */
  raftConfig?: Partial<RaftConfig>;
  /** Persisting or applying failed: not recoverable in-process (default: exit, the log replays). */
  fatal?: (e: unknown) => void;
}
