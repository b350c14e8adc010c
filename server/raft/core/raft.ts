// A pure, deterministic Raft state machine in the style of etcd-io/raft.
//
// No timers, sockets, disk, clocks or randomness inside: time advances by tick(), randomness
// (election timeout jitter) comes from the injected `rand`, input arrives by step(), and all
// output is collected in a Ready (see types.ts for how to process one).
//
// Features: leader election with randomized timeouts, pre-vote, check-quorum (with leader
// lease on votes), pipelined and batched AppendEntries with probe/replicate/snapshot flow
// control, leadership transfer (TimeoutNow), ReadIndex, learners, single-server membership
// changes (effective when appended, see config.ts), log compaction and chunked
// InstallSnapshot.
import { cloneConf, ConfigHistory, encodeConfChange, validateConfChange } from "./config";
import { RaftLog } from "./log";
import { Progress } from "./progress";
import { committedIndex, voteResult, type VoteResult } from "./quorum";
import { ReadOnly, type ReadRequest } from "./read-only";
import { chunkCrc, MemorySnapshotReceiver, type SnapshotReceiver } from "./snapshot-receiver";
import type { Storage } from "./storage";
import {
  entrySize,
  message,
  NONE,
  RaftError,
  type ConfChange,
  type ConfState,
  type Entry,
  type EntryType,
  type HardState,
  type Message,
  type MessageType,
  type NodeId,
  type ReadState,
  type Ready,
  type Role,
  type Snapshot,
  type SoftState,
} from "./types";

/** Deliberate bugs, for proving that the simulator's checkers catch them. Never set in production. */
export interface TestingBugs {
  /** Followers accept appends whose preceding entry has a different term. */
  skipAppendTermCheck?: boolean;
  /** Votes are granted without checking that the candidate's log is up to date. */
  voteIgnoringLog?: boolean;
  /** The leader answers ReadIndex without confirming leadership with a heartbeat round. */
  readIndexWithoutQuorum?: boolean;
}

export interface RaftConfig {
  id: NodeId;
  storage: Storage;
  /** Uniform in [0, 1). Inject a seeded generator in tests. */
  rand: () => number;
  /** Ticks without hearing from a leader before campaigning (randomized in [e, 2e)). Default 10. */
  electionTick?: number;
  /** Ticks between leader heartbeats. Default 1. */
  heartbeatTick?: number;
  /** Index the application has already applied (its state machine survives restarts). */
  applied?: number;
  /** Max bytes of entries per append message (batching). Default 1 MiB. */
  maxSizePerMsg?: number;
  /** Max in-flight append messages per follower in replicate state (pipelining). Default 256. */
  maxInflightMsgs?: number;
  /** Max in-flight bytes per follower (0 = unlimited). */
  maxInflightBytes?: number;
  /** Max bytes of committed entries per Ready. Default 64 MiB. */
  maxCommittedSizePerReady?: number;
  /** InstallSnapshot chunk size. Default 1 MiB. */
  maxSnapshotChunkBytes?: number;
  /** Where a follower puts incoming snapshot chunks. Default: in memory. */
  snapshotReceiver?: SnapshotReceiver;
  /** A learner may be promoted only if it is at most this many entries behind commit. Default 1000. */
  maxPromoteLag?: number;
  preVote?: boolean;
  checkQuorum?: boolean;
  testingBugs?: TestingBugs;
}

export interface ProgressStatus {
  match: number;
  next: number;
  state: string;
  isLearner: boolean;
  recentActive: boolean;
}

export interface Status {
  id: NodeId;
  term: number;
  vote: NodeId;
  commit: number;
  applied: number;
  lastIndex: number;
  lead: NodeId;
  role: Role;
  conf: ConfState;
  leadTransferee: NodeId;
  progress?: Record<number, ProgressStatus>;
}

interface SnapReceive {
  from: NodeId;
  term: number;
  index: number;
  snapTerm: number;
  len: number;
}

const EMPTY = new Uint8Array();

function voteRespType(t: MessageType): MessageType {
  if (t === "vote") return "voteResp";
  if (t === "preVote") return "preVoteResp";
  throw new Error(`not a vote message: ${t}`);
}

export class Raft {
  readonly id: NodeId;
  term = 0;
  vote: NodeId = NONE;
  lead: NodeId = NONE;
  role: Role = "follower";
  readonly log: RaftLog;

  private readonly conf: ConfigHistory;
  private voters = new Set<NodeId>();
  private learners = new Set<NodeId>();
  private prs = new Map<NodeId, Progress>();
  private votes = new Map<NodeId, boolean>();
  private msgs: Message[] = [];
  private readStates: ReadState[] = [];
  private readOnly = new ReadOnly();
  private pendingReadIndex: ReadRequest[] = [];
  private leadTransferee: NodeId = NONE;
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  /** randomizedElectionTimeout was shortened by reportLeaderDown(). */
  private leaderDownHint = false;
  private snapRecv: SnapReceive | undefined;
  private readonly snapReceiver: SnapshotReceiver;
  private bcastPending = false;
  private readyOutstanding = false;
  private prevSoft: SoftState;
  private prevHard: HardState;

  private readonly rand: () => number;
  readonly electionTimeout: number;
  readonly heartbeatTimeout: number;
  private readonly maxSizePerMsg: number;
  private readonly maxInflight: number;
  private readonly maxInflightBytes: number;
  private readonly maxCommittedSizePerReady: number;
  private readonly maxSnapshotChunkBytes: number;
  private readonly maxPromoteLag: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  private readonly bugs: TestingBugs;

  constructor(cfg: RaftConfig) {
    if (!Number.isInteger(cfg.id) || cfg.id <= 0) throw new Error("raft: id must be a positive integer");
    this.id = cfg.id;
    this.rand = cfg.rand;
    this.electionTimeout = cfg.electionTick ?? 10;
    this.heartbeatTimeout = cfg.heartbeatTick ?? 1;
    if (this.heartbeatTimeout <= 0) throw new Error("raft: heartbeatTick must be > 0");
    if (this.electionTimeout <= this.heartbeatTimeout) throw new Error("raft: electionTick must be > heartbeatTick");
    this.maxSizePerMsg = cfg.maxSizePerMsg ?? 1 << 20;
    this.maxInflight = cfg.maxInflightMsgs ?? 256;
    this.maxInflightBytes = cfg.maxInflightBytes ?? 0;
    this.maxCommittedSizePerReady = cfg.maxCommittedSizePerReady ?? 64 << 20;
    this.maxSnapshotChunkBytes = Math.max(1, cfg.maxSnapshotChunkBytes ?? 1 << 20);
    this.snapReceiver = cfg.snapshotReceiver ?? new MemorySnapshotReceiver();
    this.maxPromoteLag = cfg.maxPromoteLag ?? 1000;
    this.preVote = cfg.preVote ?? true;
    this.checkQuorum = cfg.checkQuorum ?? true;
    this.bugs = cfg.testingBugs ?? {};

    this.log = new RaftLog(cfg.storage);
    const { hardState } = cfg.storage.initialState();
    const snap = cfg.storage.snapshot();
    this.conf = new ConfigHistory(snap.metadata.index, snap.metadata.confState);
    // The log may keep a tail of entries at or before the snapshot index; the snapshot's
    // configuration already includes them.
    const si = snap.metadata.index;
    for (const e of this.log.allEntries()) if (e.type === "conf" && e.index > si) this.conf.onAppend([e]);
    if (si > this.log.committed) {
      this.log.committed = si;
      this.log.applied = si;
    }
    this.refreshConfSets();
    this.log.onAppend = (ents) => this.onLogAppend(ents);

    if (hardState.term !== 0 || hardState.vote !== NONE || hardState.commit !== 0) {
      const commit = Math.max(hardState.commit, this.log.committed);
      if (commit > this.log.lastIndex()) {
        throw new Error(`raft: commit ${commit} is out of range [${this.log.committed}, ${this.log.lastIndex()}]`);
      }
      this.log.committed = commit;
      this.term = hardState.term;
      this.vote = hardState.vote;
    }
    if (cfg.applied !== undefined && cfg.applied > this.log.applied) this.log.appliedTo(cfg.applied);
    this.becomeFollower(this.term, NONE);
    this.prevHard = this.hardState();
    this.prevSoft = this.softState();
  }

  // ---------------------------------------------------------------- public API

  /** Advance logical time by one tick. */
  tick(): void {
    if (this.role === "leader") this.tickHeartbeat();
    else this.tickElection();
  }

  /** Feed a message received from a peer. */
  step(m: Message): void {
    if (m.to !== this.id) return;
    if (m.term === 0) {
      // readIndex / transferLeader forwarded by a peer: not bound to a term.
      if (m.type !== "readIndex" && m.type !== "transferLeader") return;
    } else if (m.term > this.term) {
      if (m.type === "vote" || m.type === "preVote") {
        const force = m.context === "transfer";
        const inLease = this.checkQuorum && this.lead !== NONE && this.electionElapsed < this.electionTimeout;
        // Heard from a leader recently: ignore disruptive candidates (e.g. removed nodes).
        if (!force && inLease) return;
      }
      if (m.type === "preVote") {
        // Never change our term in response to a pre-vote.
      } else if (m.type === "preVoteResp" && !m.reject) {
        // Term is bumped when the pre-vote wins.
      } else if (m.type === "app" || m.type === "heartbeat" || m.type === "snap") {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      if ((this.checkQuorum || this.preVote) && (m.type === "app" || m.type === "heartbeat" || m.type === "snap")) {
        // A stale leader (e.g. back from a partition): tell it our term so it steps down.
        this.send(message({ type: "appResp", to: m.from }));
      } else if (m.type === "preVote") {
        this.send(message({ type: "preVoteResp", to: m.from, term: this.term, reject: true }));
      }
      return;
    }

    if (m.type === "vote" || m.type === "preVote") {
      const canVote =
        this.vote === m.from ||
        (this.vote === NONE && this.lead === NONE) ||
        (m.type === "preVote" && m.term > this.term);
      if (canVote && (this.bugs.voteIgnoringLog || this.log.isUpToDate(m.index, m.logTerm))) {
        this.send(message({ type: voteRespType(m.type), to: m.from, term: m.term }));
        if (m.type === "vote") {
          this.electionElapsed = 0;
          this.vote = m.from;
        }
      } else {
        this.send(message({ type: voteRespType(m.type), to: m.from, term: this.term, reject: true }));
      }
      return;
    }
    if (m.type === "readIndexResp") {
      // Safe in any role: the leader confirmed `index` as a linearizable read point.
      this.readStates.push({ index: m.index, ctx: m.context });
      return;
    }
    switch (this.role) {
      case "leader":
        this.stepLeader(m);
        break;
      case "candidate":
      case "preCandidate":
        this.stepCandidate(m);
        break;
      case "follower":
        this.stepFollower(m);
        break;
    }
  }

  /** Propose application data. Returns where the entry went, or an error if not leader. */
  propose(data: Uint8Array): RaftError | { index: number; term: number } {
    return this.proposeEntry("normal", data);
  }

  /**
   * Propose a membership change (addLearner → promote → remove, one at a time).
   * The change takes effect on each node as soon as the entry is in its log.
   */
  proposeConfChange(cc: ConfChange): RaftError | { index: number; term: number } {
    if (this.role !== "leader") return new RaftError("notLeader", "not the leader");
    if (this.leadTransferee !== NONE) return new RaftError("transferInProgress", "leadership transfer in progress");
    if (!this.committedInCurrentTerm()) {
      return new RaftError("notCommittedInTerm", "leader has not yet committed an entry in its term");
    }
    if (this.conf.lastChangeIndex() > this.log.committed) {
      return new RaftError("confChangePending", "a membership change is still uncommitted");
    }
    const cur = this.conf.current();
    const err = validateConfChange(cur, cc);
    if (err) return new RaftError("invalidConfChange", err);
    if (cc.type === "remove" && cc.node === this.id) {
      return new RaftError("invalidConfChange", "cannot remove the leader; transfer leadership first");
    }
    if (cc.type === "promote") {
      const pr = this.prs.get(cc.node);
      if (!pr || pr.state === "snapshot" || this.log.committed - pr.match > this.maxPromoteLag) {
        return new RaftError("invalidConfChange", `learner ${cc.node} has not caught up yet`);
      }
    }
    return this.proposeEntry("conf", encodeConfChange(cc));
  }

  /**
   * Request a linearizable read point. A ReadState with the same ctx appears in a later
   * Ready (possibly never, if leadership is lost: the caller must time out). ctx must be
   * unique among outstanding requests.
   */
  readIndex(ctx: string): RaftError | null {
    if (this.role === "leader") {
      this.handleReadIndexRequest({ ctx, from: this.id });
      return null;
    }
    if (this.lead === NONE) return new RaftError("noLeader", "no leader known");
    this.send(message({ type: "readIndex", to: this.lead, context: ctx }));
    return null;
  }

  /** Ask the leader to hand leadership to `to` (forwarded if we are a follower). */
  transferLeadership(to: NodeId): RaftError | null {
    if (this.role === "leader") return this.handleTransfer(to);
    if (this.lead === NONE) return new RaftError("noLeader", "no leader known");
    this.send(message({ type: "transferLeader", to: this.lead, target: to }));
    return null;
  }

  /**
   * Build a snapshot at `index` (<= applied) from the application's state `data`. The
   * application persists it and compacts its log (e.g. MemoryStorage.saveSnapshot); the
   * leader then sends it to followers that are too far behind.
   */
  createSnapshot(index: number, data: Uint8Array): Snapshot | RaftError {
    if (this.log.hasPendingSnapshot()) {
      return new RaftError("snapshotUnavailable", "a snapshot received from the leader is being installed");
    }
    if (index > this.log.applied) {
      return new RaftError("snapshotUnavailable", `snapshot index ${index} > applied ${this.log.applied}`);
    }
    const cur = this.log.storage.snapshot().metadata.index;
    if (index <= cur) return new RaftError("snapshotUnavailable", `snapshot index ${index} <= current snapshot ${cur}`);
    const term = this.log.term(index);
    if (term === undefined) return new RaftError("snapshotUnavailable", `no term for index ${index}`);
    const confState = cloneConf(this.conf.confAt(index));
    this.conf.compact(index);
    return { metadata: { index, term, confState }, data };
  }

  /** The peer is unreachable (transport error): stop optimistic pipelining to it. */
  reportUnreachable(id: NodeId): void {
    const pr = this.prs.get(id);
    if (this.role === "leader" && pr && pr.state === "replicate") pr.becomeProbe();
  }

  hasReady(): boolean {
    if (this.readyOutstanding) return false;
    if (this.bcastPending && this.role === "leader") return true;
    const soft = this.softState();
    const hard = this.hardState();
    return (
      soft.lead !== this.prevSoft.lead ||
      soft.role !== this.prevSoft.role ||
      !hardEqual(hard, this.prevHard) ||
      this.msgs.length > 0 ||
      this.readStates.length > 0 ||
      this.log.unstableEntries().length > 0 ||
      this.log.hasPendingSnapshot() ||
      this.log.hasNextCommittedEnts()
    );
  }

  /** Collect pending work, or undefined if there is none. Call advance(rd) when done. */
  ready(): Ready | undefined {
    if (this.readyOutstanding) throw new Error("raft: ready() called before advance() of the previous Ready");
    this.flushBcast();
    if (!this.hasReady()) return undefined;
    const hard = this.hardState();
    const hardChanged = !hardEqual(hard, this.prevHard);
    const entries = this.log.unstableEntries().slice();
    const rd: Ready = {
      softState: this.softState(),
      hardState: hardChanged ? hard : undefined,
      entries,
      snapshot: this.log.unstable.snapshot,
      committedEntries: this.log.nextCommittedEnts(this.maxCommittedSizePerReady),
      messages: this.msgs,
      readStates: this.readStates,
      mustSync:
        entries.length > 0 ||
        this.log.unstable.snapshot !== undefined ||
        hard.term !== this.prevHard.term ||
        hard.vote !== this.prevHard.vote,
    };
    this.msgs = [];
    this.readStates = [];
    this.readyOutstanding = true;
    return rd;
  }

  /** The Ready was fully processed (persisted, sent, applied). */
  advance(rd: Ready): void {
    this.readyOutstanding = false;
    this.prevSoft = rd.softState;
    if (rd.hardState) this.prevHard = rd.hardState;
    if (rd.snapshot) {
      const i = rd.snapshot.metadata.index;
      this.log.stableSnapTo(i);
      if (i > this.log.applied) this.log.applied = i;
    }
    if (rd.entries.length > 0) {
      const last = rd.entries[rd.entries.length - 1]!;
      this.log.stableTo(last.index, last.term);
      // Our own entries are durable now: count ourselves toward commit.
      const self = this.role === "leader" ? this.prs.get(this.id) : undefined;
      if (self && self.maybeUpdate(this.log.stableLastIndex()) && this.maybeCommit()) this.bcastAppend();
    }
    if (rd.committedEntries.length > 0) {
      this.log.appliedTo(rd.committedEntries[rd.committedEntries.length - 1]!.index);
    }
  }

  status(): Status {
    const s: Status = {
      id: this.id,
      term: this.term,
      vote: this.vote,
      commit: this.log.committed,
      applied: this.log.applied,
      lastIndex: this.log.lastIndex(),
      lead: this.lead,
      role: this.role,
      conf: cloneConf(this.conf.current()),
      leadTransferee: this.leadTransferee,
    };
    if (this.role === "leader") {
      s.progress = {};
      for (const [id, pr] of this.prs) {
        s.progress[id] = {
          match: pr.match,
          next: pr.next,
          state: pr.state,
          isLearner: pr.isLearner,
          recentActive: pr.recentActive,
        };
      }
    }
    return s;
  }

  /**
   * The transport saw the leader's connection reset (its process died, its host rebooted).
   * A follower then campaigns one tick after the other voters' leases run out (they ignore
   * (pre-)votes for `electionTimeout` ticks after hearing from the leader) instead of after
   * its randomized timeout of up to 2×. Voters go in id order two ticks apart, so survivors
   * that all saw the reset don't split the vote. Only timing changes: pre-vote and the lease
   * still protect a live leader (a false alarm costs at most a rejected pre-vote), and any
   * message from the leader restores the normal randomized timeout.
   */
  reportLeaderDown(id: NodeId): void {
    if (this.role !== "follower" || id === NONE || id !== this.lead || !this.promotable()) return;
    const others = [...this.voters].filter((v) => v !== id).sort((a, b) => a - b);
    const t = this.electionTimeout + 1 + 2 * Math.max(0, others.indexOf(this.id));
    if (t >= this.randomizedElectionTimeout) return;
    this.randomizedElectionTimeout = t;
    this.leaderDownHint = true;
  }

  /** Current membership (latest in the log). */
  confState(): ConfState {
    return cloneConf(this.conf.current());
  }

  /** Is this node a voter that may campaign? */
  promotable(): boolean {
    return this.voters.has(this.id) && !this.log.hasPendingSnapshot();
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  softState(): SoftState {
    return { lead: this.lead, role: this.role };
  }

  // ---------------------------------------------------------------- role changes

  private becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.lead = lead;
    this.role = "follower";
  }

  private becomeCandidate(): void {
    if (this.role === "leader") throw new Error("raft: invalid transition [leader -> candidate]");
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = "candidate";
  }

  private becomePreCandidate(): void {
    if (this.role === "leader") throw new Error("raft: invalid transition [leader -> pre-candidate]");
    // Neither term nor vote change: a pre-vote is a dry run.
    this.votes.clear();
    this.lead = NONE;
    this.role = "preCandidate";
  }

  private becomeLeader(): void {
    if (this.role === "follower") throw new Error("raft: invalid transition [follower -> leader]");
    this.reset(this.term);
    this.lead = this.id;
    this.role = "leader";
    this.prs.get(this.id)!.becomeReplicate();
    // An entry of the new term: once committed, everything before it is known committed,
    // reads may be served and membership changes proposed.
    this.appendEntries([{ type: "normal", data: EMPTY }]);
  }

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.electionTimeout + Math.floor(this.rand() * this.electionTimeout);
    this.leaderDownHint = false;
    this.leadTransferee = NONE;
    this.votes.clear();
    this.prs = new Map();
    const last = this.log.lastIndex();
    for (const id of this.voters) this.prs.set(id, this.newProgress(id, last + 1, false));
    for (const id of this.learners) this.prs.set(id, this.newProgress(id, last + 1, true));
    const self = this.prs.get(this.id);
    if (self) self.match = this.log.stableLastIndex();
    this.readOnly = new ReadOnly();
    this.pendingReadIndex = [];
    this.bcastPending = false;
  }

  private newProgress(id: NodeId, next: number, learner: boolean): Progress {
    return new Progress(id, next, learner, this.maxInflight, this.maxInflightBytes);
  }

  // ---------------------------------------------------------------- configuration

  private refreshConfSets(): void {
    const cs = this.conf.current();
    this.voters = new Set(cs.voters);
    this.learners = new Set(cs.learners);
  }

  private onLogAppend(ents: Entry[]): void {
    const before = this.conf.current();
    this.conf.onAppend(ents);
    if (this.conf.current() === before) return;
    this.refreshConfSets();
    if (this.role !== "leader") return;
    const last = this.log.lastIndex();
    for (const id of this.voters) {
      const pr = this.prs.get(id);
      if (pr) pr.isLearner = false;
      else this.prs.set(id, this.newProgress(id, last + 1, false));
    }
    for (const id of this.learners) {
      const pr = this.prs.get(id);
      if (pr) pr.isLearner = true;
      else this.prs.set(id, this.newProgress(id, last + 1, true));
    }
    for (const id of [...this.prs.keys()]) {
      if (!this.voters.has(id) && !this.learners.has(id)) this.prs.delete(id);
    }
    if (this.leadTransferee !== NONE && !this.voters.has(this.leadTransferee)) this.leadTransferee = NONE;
  }

  // ---------------------------------------------------------------- ticking

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(this.preVote ? "pre" : "elect");
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeout) {
      this.electionElapsed = 0;
      if (this.checkQuorum) {
        if (!this.quorumActive()) {
          this.becomeFollower(this.term, NONE);
          return;
        }
        for (const [id, pr] of this.prs) if (id !== this.id) pr.recentActive = false;
      }
      // A transfer must finish within one election timeout.
      if (this.leadTransferee !== NONE) this.leadTransferee = NONE;
    }
    if (this.heartbeatElapsed >= this.heartbeatTimeout) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat(undefined);
    }
  }

  private quorumActive(): boolean {
    const acts = new Map<NodeId, boolean>();
    for (const [id, pr] of this.prs) acts.set(id, id === this.id || pr.recentActive);
    return voteResult(this.voters, acts) === "won";
  }

  // ---------------------------------------------------------------- elections

  private hup(kind: "pre" | "elect" | "transfer"): void {
    if (this.role === "leader") return;
    if (!this.promotable()) return;
    this.campaign(kind);
  }

  private campaign(kind: "pre" | "elect" | "transfer"): void {
    let voteMsg: MessageType;
    let term: number;
    if (kind === "pre") {
      this.becomePreCandidate();
      voteMsg = "preVote";
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      voteMsg = "vote";
      term = this.term;
    }
    if (this.poll(this.id, true) === "won") {
      // Single-voter cluster.
      if (kind === "pre") this.campaign("elect");
      else this.becomeLeader();
      return;
    }
    const lastIndex = this.log.lastIndex();
    const lastTerm = this.log.lastTerm();
    for (const id of [...this.voters].sort((a, b) => a - b)) {
      if (id === this.id) continue;
      this.send(
        message({
          type: voteMsg,
          to: id,
          term,
          index: lastIndex,
          logTerm: lastTerm,
          context: kind === "transfer" ? "transfer" : "",
        }),
      );
    }
  }

  private poll(from: NodeId, granted: boolean): VoteResult {
    if (!this.votes.has(from)) this.votes.set(from, granted);
    return voteResult(this.voters, this.votes);
  }

  // ---------------------------------------------------------------- stepping by role

  private stepLeader(m: Message): void {
    switch (m.type) {
      case "readIndex":
        this.handleReadIndexRequest({ ctx: m.context, from: m.from });
        return;
      case "transferLeader":
        this.handleTransfer(m.target);
        return;
    }
    const pr = this.prs.get(m.from);
    if (!pr) return;
    switch (m.type) {
      case "appResp":
        this.handleAppendResponse(m, pr);
        break;
      case "heartbeatResp":
        this.handleHeartbeatResponse(m, pr);
        break;
      case "snapResp":
        pr.recentActive = true;
        if (pr.state !== "snapshot" || m.index !== pr.pendingSnapshot || !pr.snap) return;
        if (m.reject || m.snapOffset > pr.snapAcked) {
          pr.snapAcked = Math.min(m.snapOffset, pr.snap.data.length);
          this.sendSnapChunk(m.from, pr);
        }
        break;
    }
  }

  private handleAppendResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    if (m.reject) {
      let hint = m.rejectHint;
      if (m.logTerm > 0) hint = this.log.findConflictByTerm(m.rejectHint, m.logTerm)[0];
      if (pr.maybeDecrTo(m.index, hint)) {
        if (pr.state === "replicate") pr.becomeProbe();
        this.sendAppend(m.from);
      }
      return;
    }
    const oldPaused = pr.isPaused();
    if (!(pr.maybeUpdate(m.index) || (pr.match === m.index && pr.state === "probe"))) return;
    switch (pr.state) {
      case "probe":
        pr.becomeReplicate();
        break;
      case "snapshot":
        if (pr.match >= pr.pendingSnapshot || pr.match + 1 >= this.log.firstIndex()) {
          pr.becomeProbe();
          if (pr.match + 1 >= this.log.firstIndex()) pr.becomeReplicate();
        }
        break;
      case "replicate":
        pr.inflights.freeLE(m.index);
        break;
    }
    if (this.maybeCommit()) {
      this.bcastAppend();
    } else if (oldPaused) {
      this.sendAppend(m.from);
    }
    // Pipelining: keep sending while there are entries and the window allows.
    while (this.maybeSendAppend(m.from, false)) {
      /* loop */
    }
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) {
      this.send(message({ type: "timeoutNow", to: m.from }));
    }
  }

  private handleHeartbeatResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    pr.msgAppFlowPaused = false;
    if (pr.state === "replicate" && pr.inflights.full()) pr.inflights.freeFirstOne();
    if (pr.state === "snapshot") {
      this.sendSnapChunk(m.from, pr); // retransmit the unacknowledged chunk
    } else if (pr.match < this.log.lastIndex() || pr.state === "probe") {
      this.sendAppend(m.from);
    }
    if (m.context === "" || this.readOnly.size() === 0) return;
    const acks = this.readOnly.recvAck(m.from, m.context);
    if (!acks || voteResult(this.voters, acks) !== "won") return;
    for (const rs of this.readOnly.advance(m.context)) this.respondRead(rs.req, rs.index);
  }

  private stepCandidate(m: Message): void {
    const myResp: MessageType = this.role === "preCandidate" ? "preVoteResp" : "voteResp";
    switch (m.type) {
      case "app":
        this.becomeFollower(m.term, m.from);
        this.handleAppendEntries(m);
        return;
      case "heartbeat":
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case "snap":
        this.becomeFollower(m.term, m.from);
        this.handleSnapshotChunk(m);
        return;
    }
    if (m.type === myResp) {
      const r = this.poll(m.from, !m.reject);
      if (r === "won") {
        if (this.role === "preCandidate") {
          this.campaign("elect");
        } else {
          this.becomeLeader();
          this.bcastAppend();
        }
      } else if (r === "lost") {
        this.becomeFollower(this.term, NONE);
      }
    }
  }

  private stepFollower(m: Message): void {
    if (this.leaderDownHint && (m.type === "app" || m.type === "heartbeat" || m.type === "snap")) {
      // The leader is alive after all (the reset was a blip): back to the normal timeout.
      this.leaderDownHint = false;
      this.randomizedElectionTimeout = this.electionTimeout + Math.floor(this.rand() * this.electionTimeout);
    }
    switch (m.type) {
      case "app":
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppendEntries(m);
        break;
      case "heartbeat":
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        break;
      case "snap":
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshotChunk(m);
        break;
      case "transferLeader":
        if (this.lead !== NONE) this.send(message({ type: "transferLeader", to: this.lead, target: m.target }));
        break;
      case "readIndex":
        // Sent to us by a node that thought we lead; forwarding would lose the requester.
        break;
      case "timeoutNow":
        // Leadership transfer: campaign immediately, skipping pre-vote and the lease.
        this.hup("transfer");
        break;
    }
  }

  // ---------------------------------------------------------------- follower handlers

  private handleAppendEntries(m: Message): void {
    if (m.index < this.log.committed) {
      this.send(message({ type: "appResp", to: m.from, index: this.log.committed }));
      return;
    }
    const skip =
      this.bugs.skipAppendTermCheck === true &&
      m.index <= this.log.lastIndex() &&
      this.log.term(m.index) !== undefined;
    const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries, skip);
    if (lastNew !== undefined) {
      this.send(message({ type: "appResp", to: m.from, index: lastNew }));
      return;
    }
    const [hintIndex, hintTerm] = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
    this.send(
      message({ type: "appResp", to: m.from, index: m.index, reject: true, rejectHint: hintIndex, logTerm: hintTerm }),
    );
  }

  private handleHeartbeat(m: Message): void {
    this.log.commitTo(m.commit);
    this.send(message({ type: "heartbeatResp", to: m.from, context: m.context }));
  }

  private handleSnapshotChunk(m: Message): void {
    const meta = m.snapshot;
    if (!meta) return;
    if (meta.index <= this.log.committed) {
      // Already have it (or newer): tell the leader where we are.
      if (this.snapRecv) this.snapReceiver.abort();
      this.snapRecv = undefined;
      this.send(message({ type: "appResp", to: m.from, index: this.log.committed }));
      return;
    }
    let buf = this.snapRecv;
    if (!buf || buf.from !== m.from || buf.term !== m.term || buf.index !== meta.index || buf.snapTerm !== meta.term) {
      if (m.snapOffset !== 0) {
        this.send(message({ type: "snapResp", to: m.from, index: meta.index, snapOffset: 0, reject: true }));
        return;
      }
      buf = { from: m.from, term: m.term, index: meta.index, snapTerm: meta.term, len: 0 };
      this.snapRecv = buf;
      this.snapReceiver.begin(meta);
    }
    if (m.snapOffset !== buf.len) {
      // Duplicate (behind) or gap (ahead): report what we have.
      this.send(
        message({ type: "snapResp", to: m.from, index: meta.index, snapOffset: buf.len, reject: m.snapOffset > buf.len }),
      );
      return;
    }
    const data = m.snapData ?? EMPTY;
    if (m.snapCrc !== 0 && chunkCrc(data) !== m.snapCrc) {
      // Damaged on the way: ask for it again (a gap report makes the leader resend from here).
      this.send(message({ type: "snapResp", to: m.from, index: meta.index, snapOffset: buf.len, reject: true }));
      return;
    }
    let snap: Snapshot | undefined;
    try {
      if (data.length > 0) this.snapReceiver.append(data);
      buf.len += data.length;
      if (m.snapDone) snap = this.snapReceiver.finish({ ...meta, confState: cloneConf(meta.confState) }, buf.len);
    } catch (e) {
      // The receiver could not keep it (a full disk): start over when the leader sends again.
      this.snapRecv = undefined;
      this.snapReceiver.abort();
      this.send(message({ type: "snapResp", to: m.from, index: meta.index, snapOffset: 0, reject: true }));
      throw e;
    }
    if (!snap) {
      this.send(message({ type: "snapResp", to: m.from, index: meta.index, snapOffset: buf.len }));
      return;
    }
    this.snapRecv = undefined;
    if (this.restore(snap)) {
      this.send(message({ type: "appResp", to: m.from, index: this.log.lastIndex() }));
    } else {
      this.snapReceiver.discard(snap);
      this.send(message({ type: "appResp", to: m.from, index: this.log.committed }));
    }
  }

  private restore(s: Snapshot): boolean {
    const { index, term } = s.metadata;
    if (index <= this.log.committed) return false;
    if (this.role !== "follower") throw new Error("raft: non-follower attempted to restore a snapshot");
    if (this.log.matchTerm(index, term)) {
      // Our log already contains the snapshot's last entry: just fast-forward commit.
      this.log.commitTo(index);
      return false;
    }
    this.log.restore(s);
    this.conf.restore(index, s.metadata.confState);
    this.refreshConfSets();
    return true;
  }

  // ---------------------------------------------------------------- leader helpers

  private proposeEntry(type: EntryType, data: Uint8Array): RaftError | { index: number; term: number } {
    if (this.role !== "leader") return new RaftError("notLeader", "not the leader");
    if (!this.prs.has(this.id)) return new RaftError("removed", "this node is not a member");
    if (this.leadTransferee !== NONE) return new RaftError("transferInProgress", "leadership transfer in progress");
    this.appendEntries([{ type, data }]);
    this.bcastPending = true;
    return { index: this.log.lastIndex(), term: this.term };
  }

  private appendEntries(es: { type: EntryType; data: Uint8Array }[]): void {
    const li = this.log.lastIndex();
    const ents: Entry[] = es.map((e, i) => ({ term: this.term, index: li + 1 + i, type: e.type, data: e.data }));
    this.log.append(ents);
    // The leader's own copy counts toward commit only once it is durable (advance()), so the
    // application may send these entries to followers before its own fsync completes
    // (Raft dissertation §10.2.1). A lone voter commits on advance().
  }

  private committedInCurrentTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  private maybeCommit(): boolean {
    const mci = committedIndex(this.voters, (id) => this.prs.get(id)?.match ?? 0);
    if (mci === Infinity) return false;
    if (!this.log.maybeCommit(mci, this.term)) return false;
    if (this.pendingReadIndex.length > 0 && this.committedInCurrentTerm()) {
      const reqs = this.pendingReadIndex;
      this.pendingReadIndex = [];
      for (const r of reqs) this.handleReadIndexRequest(r);
    }
    return true;
  }

  private flushBcast(): void {
    if (!this.bcastPending) return;
    this.bcastPending = false;
    if (this.role !== "leader") return;
    for (const id of this.prs.keys()) {
      if (id === this.id) continue;
      while (this.maybeSendAppend(id, false)) {
        /* loop */
      }
    }
  }

  private bcastAppend(): void {
    for (const id of this.prs.keys()) if (id !== this.id) this.sendAppend(id);
  }

  private sendAppend(to: NodeId): void {
    this.maybeSendAppend(to, true);
  }

  /** Send entries from pr.next (or a snapshot if they are compacted). */
  private maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.prs.get(to);
    if (!pr || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    const ents = prevTerm === undefined ? undefined : this.log.entries(pr.next, this.maxSizePerMsg);
    if (prevTerm === undefined || ents === undefined) return this.startSnapshot(to, pr);
    if (ents.length === 0 && !sendIfEmpty) return false;
    let bytes = 0;
    for (const e of ents) bytes += entrySize(e);
    this.send(
      message({ type: "app", to, index: prevIndex, logTerm: prevTerm, entries: ents, commit: this.log.committed }),
    );
    pr.sentEntries(ents.length, ents.length > 0 ? ents[ents.length - 1]!.index : prevIndex, bytes);
    return true;
  }

  private startSnapshot(to: NodeId, pr: Progress): boolean {
    if (!pr.recentActive) return false;
    const snap = this.log.snapshot();
    if (snap.metadata.index === 0) throw new Error("raft: need a snapshot but none is available");
    pr.becomeSnapshot(snap);
    this.sendSnapChunk(to, pr);
    return true;
  }

  private sendSnapChunk(to: NodeId, pr: Progress): void {
    const snap = pr.snap;
    if (!snap) return;
    const off = pr.snapAcked;
    const data = snap.data.subarray(off, off + this.maxSnapshotChunkBytes);
    this.send(
      message({
        type: "snap",
        to,
        snapshot: snap.metadata,
        snapOffset: off,
        snapData: data,
        snapDone: off + data.length >= snap.data.length,
        snapCrc: chunkCrc(data),
      }),
    );
  }

  private bcastHeartbeat(ctx: string | undefined): void {
    const c = ctx ?? this.readOnly.lastPendingCtx() ?? "";
    for (const [id, pr] of this.prs) {
      if (id === this.id) continue;
      this.send(message({ type: "heartbeat", to: id, commit: Math.min(pr.match, this.log.committed), context: c }));
    }
  }

  private handleReadIndexRequest(req: ReadRequest): void {
    if (this.voters.size === 1 && this.voters.has(this.id)) {
      this.respondRead(req, this.log.committed);
      return;
    }
    if (!this.committedInCurrentTerm()) {
      // The commit index may lag what earlier leaders committed until our first entry
      // commits; defer the request until then.
      this.pendingReadIndex.push(req);
      return;
    }
    if (this.bugs.readIndexWithoutQuorum) {
      this.respondRead(req, this.log.committed);
      return;
    }
    if (this.readOnly.addRequest(this.log.committed, req)) {
      const acks = this.readOnly.recvAck(this.id, req.ctx)!;
      if (voteResult(this.voters, acks) === "won") {
        for (const rs of this.readOnly.advance(req.ctx)) this.respondRead(rs.req, rs.index);
        return;
      }
      this.bcastHeartbeat(req.ctx);
    }
  }

  private respondRead(req: ReadRequest, index: number): void {
    if (req.from === this.id || req.from === NONE) this.readStates.push({ index, ctx: req.ctx });
    else this.send(message({ type: "readIndexResp", to: req.from, index, context: req.ctx }));
  }

  private handleTransfer(to: NodeId): RaftError | null {
    const pr = this.prs.get(to);
    if (!pr || pr.isLearner) return new RaftError("invalidConfChange", `cannot transfer leadership to ${to}: not a voter`);
    if (this.leadTransferee !== NONE) {
      if (this.leadTransferee === to) return null;
      this.leadTransferee = NONE;
    }
    if (to === this.id) return null;
    this.electionElapsed = 0; // the transfer must complete within one election timeout
    this.leadTransferee = to;
    if (pr.match === this.log.lastIndex()) this.send(message({ type: "timeoutNow", to }));
    else this.sendAppend(to);
    return null;
  }

  private send(m: Message): void {
    m.from = this.id;
    if (m.type === "vote" || m.type === "voteResp" || m.type === "preVote" || m.type === "preVoteResp") {
      if (m.term === 0) throw new Error(`raft: term should be set when sending ${m.type}`);
    } else if (m.type === "readIndex" || m.type === "transferLeader") {
      m.term = 0;
    } else {
      m.term = this.term;
    }
    this.msgs.push(m);
  }
}

function hardEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}
