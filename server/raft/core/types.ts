// Wire and persistence types of the Raft core. Everything here is plain data so that a
// transport (gRPC) and a storage (SQLite / segment file) can serialise it without knowing
// the core.

/** Node ids are positive integers; 0 means "nobody". */
export type NodeId = number;
export const NONE: NodeId = 0;

/** A normal entry carries application data; a conf entry carries an encoded ConfChange. */
export type EntryType = "normal" | "conf";

export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** Persist before sending any message of the same Ready. */
export interface HardState {
  term: number;
  vote: NodeId;
  commit: number;
}

/** Membership. Voters count in quorums; learners only receive the log. */
export interface ConfState {
  voters: NodeId[];
  learners: NodeId[];
}

export interface SnapshotMetadata {
  index: number;
  term: number;
  /** The configuration in effect at `index` (see config.ts for when changes take effect). */
  confState: ConfState;
}

export interface Snapshot {
  metadata: SnapshotMetadata;
  data: Uint8Array;
}

export type ConfChangeType = "addLearner" | "promote" | "remove";
export interface ConfChange {
  type: ConfChangeType;
  node: NodeId;
}

export type Role = "follower" | "preCandidate" | "candidate" | "leader";

export type MessageType =
  | "app" // AppendEntries (leader → follower)
  | "appResp"
  | "vote"
  | "voteResp"
  | "preVote"
  | "preVoteResp"
  | "heartbeat"
  | "heartbeatResp"
  | "snap" // one chunk of InstallSnapshot
  | "snapResp" // chunk acknowledgement (the final chunk is answered with appResp)
  | "timeoutNow" // leadership transfer: "campaign now"
  | "readIndex" // follower → leader: please confirm a read (context = request id)
  | "readIndexResp"
  | "transferLeader"; // follower → leader: please transfer to `target`

/**
 * One message. Unused fields are 0 / false / empty. Field meaning by type:
 *  app:        index/logTerm = entry preceding `entries`; commit = leader commit
 *  appResp:    index = last index matched (or the rejected index if reject);
 *              rejectHint/logTerm = the follower's guess of where logs diverge
 *  vote/preVote: index/logTerm = candidate's last entry; context "transfer" bypasses lease
 *  heartbeat:  commit = min(leader commit, follower match); context = read-index ctx
 *  snap:       snapshot = metadata; snapOffset/snapData/snapDone = the chunk
 *  snapResp:   index = snapshot index; snapOffset = bytes received so far; reject = gap
 *  readIndex(Resp): context = request id; index = read index
 *  transferLeader: target = the transferee
 */
export interface Message {
  type: MessageType;
  from: NodeId;
  to: NodeId;
  term: number;
  logTerm: number;
  index: number;
  entries: Entry[];
  commit: number;
  reject: boolean;
  rejectHint: number;
  context: string;
  target: NodeId;
  snapshot?: SnapshotMetadata;
  snapOffset: number;
  snapData?: Uint8Array;
  snapDone: boolean;
  /** CRC-32 of snapData (0: not sent, by an older leader). */
  snapCrc: number;
}

export function message(partial: Partial<Message> & Pick<Message, "type" | "to">): Message {
  return {
    from: NONE,
    term: 0,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    context: "",
    target: NONE,
    snapOffset: 0,
    snapDone: false,
    snapCrc: 0,
    ...partial,
  };
}

export interface SoftState {
  lead: NodeId;
  role: Role;
}

/** A confirmed linearizable read: serve it once applied >= index. */
export interface ReadState {
  index: number;
  ctx: string;
}

/**
 * Work for the application. Handle it in this order, then call advance(rd):
 *  1. if snapshot: persist it and restore the state machine from it;
 *  2. persist entries and hardState durably (one fsync for the whole batch: group commit);
 *  3. send messages (only now: they may promise that 1–2 are durable);
 *  4. apply committedEntries in order (they are durable: here or in an earlier Ready);
 *  5. serve readStates once applied >= their index.
 */
export interface Ready {
  softState: SoftState;
  hardState?: HardState;
  entries: Entry[];
  snapshot?: Snapshot;
  committedEntries: Entry[];
  messages: Message[];
  readStates: ReadState[];
  /** true if hardState term/vote or entries changed: step 2 needs an fsync. */
  mustSync: boolean;
}

export class RaftError extends Error {
  constructor(
    readonly code:
      | "notLeader"
      | "noLeader"
      | "transferInProgress"
      | "confChangePending"
      | "notCommittedInTerm"
      | "invalidConfChange"
      | "removed"
      | "snapshotUnavailable",
    message: string,
  ) {
    super(message);
    this.name = "RaftError";
  }
}

export function entrySize(e: Entry): number {
  return e.data.length + 24;
}

export function isEmptySnap(s: Snapshot | undefined): boolean {
  return !s || s.metadata.index === 0;
}
