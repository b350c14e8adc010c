// The driver around the pure Raft core (what etcd's node.go is): a tick timer, and the Ready
// loop — persist → send → apply → serve reads → advance. Writes and forwarding are in
// proposals.ts, ReadIndex in reads.ts, membership changes in membership.ts; the log storage,
// the application (the store), the transport and the clock are given to it (types.ts), so
// the simulator in test/sim runs this same code. Everything runs on one event loop, and
// proposals that arrive while a Ready is being fsynced are batched into the next (group commit).
import { decodeConfChange } from "../core/config";
import { Raft, type Status } from "../core/raft";
import type { ConfState, Entry, Message, NodeId, Ready } from "../core/types";
import type { Proposal, ProposalResult } from "../transport/codec";
import { realClock, type Clock, type Timer } from "./clock";
import { confChange, promoteCaughtUpLearners, transferTarget, warnEvenVoters } from "./membership";
import { Proposals, type Outcome } from "./proposals";
import { ReadBarrier } from "./reads";
import { recoverApplied, saveTakenSnapshot, takeSnapshot } from "./snapshots";
import { DEFAULT_TIMING, type Application, type LogStorage, type NodeOptions, type Timing, type Transport } from "./types";
import { AppliedWaits, LeaderWaits } from "./waits";

const cryptoRand = () => crypto.getRandomValues(new Uint32Array(1))[0]! / 2 ** 32;

function exitOnFatal(e: unknown): void {
  console.error(`raft: fatal error in the Ready loop: ${(e as Error)?.stack ?? e}`);
  process.exit(70);
}

export class RaftNode<C, R, B> {
  readonly id: NodeId;
  readonly raft: Raft;
  readonly storage: LogStorage<B>;
  readonly app: Application<C, R, B>;
  readonly clock: Clock;
  readonly timing: Timing;
  transport: Transport | undefined;
  /** Last entry applied to the application by this driver. */
  applied: number;
  removed = false;
  stopped = false;

  readonly proposals: Proposals<C, R>;
  readonly reads: ReadBarrier;
  readonly appliedWaits: AppliedWaits;
  readonly leaders: LeaderWaits;
  /** Cluster-level requests (join, remove, members) handled by the membership layer. */
  extraForward: ((from: NodeId, req: any) => Promise<any>) | undefined;

  readonly snapshotEntries: number;
  readonly keepEntries: number;
  readonly promotable: (id: NodeId) => boolean;
  readonly log: (msg: string) => void;
  private readonly fatalHandler: (e: unknown) => void;
  private readonly traceOn: boolean;
  private tracedRole = "";
  private ticker: Timer | undefined;
  private tickCount = 0;
  private scheduled = false;
  private processing = false;
  /** An off-loop snapshot copy is running or waits to be recorded (maybeSnapshot). */
  private snapshotting = false;
  private lead: NodeId = 0;
  private isLeaderNow = false;
  private leaderListeners: ((leader: boolean) => void)[] = [];
  private confListeners: ((cs: ConfState) => void)[] = [];
  private removedListeners: (() => void)[] = [];
  /** Term and vote as last written to the log storage (with or without its fsync still running). */
  private durableHard: { term: number; vote: number };
  /** Committed entries not applied yet, in log order (see drainApply). */
  private applyQueue: Entry[] = [];
  /** Every log entry at or below this index is fsynced here and not being rewritten. */
  private durableIndex: number;
  /** The application's housekeeping (a state.db WAL checkpoint) in progress: applies wait. */
  private appPause: Promise<void> | undefined;
  /** A commit-index-only hard state not written yet (see persistReady). */
  private lazyHard: Ready["hardState"];

  constructor(o: NodeOptions<C, R, B>) {
    this.id = o.id;
    this.storage = o.storage;
    this.app = o.app;
    this.transport = o.transport;
    this.clock = o.clock ?? realClock;
    this.timing = { ...DEFAULT_TIMING, ...o.timing };
    this.snapshotEntries = o.snapshotEntries ?? 10_000;
    this.keepEntries = o.keepEntries ?? 5_000;
    this.promotable = o.promotable ?? (() => true);
    this.log = o.log ?? ((m) => console.log(`raft[${this.id.toString(16)}]: ${m}`));
    this.fatalHandler = o.fatal ?? exitOnFatal;
    this.traceOn = o.trace ?? false;
    const rand = o.rand ?? cryptoRand;
    // Ids of this process's forwarded writes and ReadIndex contexts start at a random point:
    // the leader may answer a request of this server's previous process (sent just before a
    // crash, read late by a stalled leader) after a restart, and with ids counted from 1 again
    // that answer would be taken for one of ours — a write acknowledged with another write's
    // result, or a read served at an index from before it was called. Found by the simulator.
    const session = Math.floor(rand() * 2 ** 32) * 2 ** 16 + Math.floor(rand() * 2 ** 16);
    this.proposals = new Proposals(this, session);
    this.reads = new ReadBarrier(this, session);
    this.appliedWaits = new AppliedWaits(() => this.applied);
    this.leaders = new LeaderWaits(this.clock, () => this.raft.lead);

    this.applied = recoverApplied(o.storage, o.app, this.log);
    this.durableHard = o.storage.hardState();
    this.durableIndex = o.storage.lastIndex();

    this.raft = new Raft({
      maxSizePerMsg: 4 << 20,
      maxInflightMsgs: 512,
      maxSnapshotChunkBytes: 1 << 20,
      ...o.raftConfig,
      id: o.id,
      storage: o.storage,
      rand,
      electionTick: o.electionTick ?? 10,
      heartbeatTick: o.heartbeatTick ?? 1,
      applied: this.applied > 0 ? this.applied : undefined,
    });
  }

  // ---------------------------------------------------------------- lifecycle

  start(): void {
    this.ticker = this.clock.every(this.timing.tickMs, () => this.tick());
    // A lone voter need not wait an election timeout: time is ours to advance.
    const cs = this.raft.confState();
    if (cs.voters.length === 1 && cs.voters[0] === this.id) {
      for (let i = 0; i < this.raft.electionTimeout * 2 && this.raft.role !== "leader"; i++) this.raft.tick();
    }
    this.schedule();
  }

  async stop(opts: { transfer?: boolean } = {}): Promise<void> {
    const to = opts.transfer && this.raft.role === "leader" ? transferTarget(this) : undefined;
    if (to) {
      this.transferLeadership(to);
      const until = this.clock.now() + this.timing.transferWaitMs;
      while (this.clock.now() < until && this.raft.role === "leader") await this.clock.sleep(this.timing.retryMs);
    }
    this.app.flush();
    // The latest commit index, for a quicker restart (not needed for safety: see persistReady).
    if (this.lazyHard && !this.stopped) this.storage.write({ entries: [], hardState: this.lazyHard, mustSync: false });
    this.lazyHard = undefined;
    this.stopped = true;
    this.clock.cancel(this.ticker);
    this.proposals.stop();
    this.reads.stop();
  }

  // ---------------------------------------------------------------- inputs

  private tick(): void {
    if (this.stopped) return;
    this.raft.tick();
    this.tickCount++;
    // Housekeeping comes after applies, and also when none come (state.db's compaction writes
    // on an idle server too): checked every tick, between Readies.
    if (!this.appPause && !this.processing) this.pauseIfDue();
    const now = this.clock.now();
    this.proposals.expire(now);
    this.reads.expire(now);
    this.appliedWaits.expire(now);
    if (this.raft.role === "leader" && this.tickCount % 5 === 0) promoteCaughtUpLearners(this);
    this.schedule();
  }

  /** Messages from the transport. */
  step(msgs: Message[]): void {
    if (this.stopped) return;
    for (const m of msgs) {
      try {
        this.raft.step(m);
      } catch (e) {
        this.log(`step ${m.type} from ${m.from}: ${(e as Error).message}`);
      }
    }
    this.schedule();
  }

  reportUnreachable(id: NodeId): void {
    if (this.stopped) return;
    this.raft.reportUnreachable(id);
  }

  /** The transport lost an established stream to `id` (connection reset, peer died). */
  peerDown(id: NodeId): void {
    if (this.stopped) return;
    const lead = this.raft.lead;
    this.trace(`peer-down ${id.toString(16)}${id === lead ? " (leader)" : ""}`);
    if (id !== lead || this.raft.role !== "follower") return;
    this.raft.reportLeaderDown(id);
    // Writes forwarded to it whose answer has not come: it travels on the leader's own stream
    // to us, which broke too in all likelihood.
    this.proposals.leaderGone((l) => l === id, this.timing.peerDownGraceMs);
  }

  /** Writes forwarded by followers, and the leader's answers to ours (transport callbacks). */
  onProposals(from: NodeId, props: Proposal[]): void {
    if (!this.stopped) this.proposals.fromFollowers(from, props);
  }
  onProposalResults(from: NodeId, results: ProposalResult[]): void {
    this.proposals.resultsFromLeader(from, results);
  }

  schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    this.clock.soon(() => {
      this.scheduled = false;
      this.processReady();
    });
  }

  // ---------------------------------------------------------------- the Ready loop

  /**
   * One Ready at a time: write it (one transaction), fdatasync it on the thread pool while the
   * event loop keeps stepping messages, ticking and queueing proposals (they form the next
   * Ready: group commit), then send, apply and advance. A leader sends before its own fsync
   * (Raft dissertation §10.2.1): the core counts the leader's copy toward commit only in
   * advance(), i.e. after the fsync, so nothing it sends claims its own durability.
   */
  private processReady(): void {
    if (this.processing || this.stopped) return;
    let rd: Ready | undefined;
    try {
      rd = this.raft.ready();
    } catch (e) {
      return this.fatal(e);
    }
    if (!rd) return this.proposals.releaseResults();
    this.processing = true;
    if (rd.snapshot && rd.snapshot.metadata.index > 0 && this.appPause) {
      // The applied state is about to be replaced: let its housekeeping finish first.
      const r = rd;
      this.appPause.then(() => !this.stopped && this.persistReady(r));
      return;
    }
    this.persistReady(rd);
  }

  private persistReady(rd: Ready): void {
    let needSync = false;
    let sent = false;
    let written = 0;
    try {
      // 1. snapshot from the leader: persist (durable on return), then replace the applied state
      if (rd.snapshot && rd.snapshot.metadata.index > 0) this.installSnapshot(rd);
      // Early send: a leader whose term and vote are already durable (this Ready changes
      // neither) may replicate before its own write is durable.
      if (this.earlySendOk(rd) && rd.messages.length > 0) {
        this.transport?.send(rd.messages);
        sent = true;
        this.proposals.releaseResults();
      }
      // 2. entries + hard state: one transaction, then one fsync. Raft needs no durable commit
      // index (a restart learns it again; the constructor raises it to the applied index), so a
      // hard state whose term and vote are already on disk is not written: it would rewrite the
      // log's metadata page on every Ready. It rides along with the next term or vote change.
      const hs = rd.hardState;
      const termOrVote = !!hs && (hs.term !== this.durableHard.term || hs.vote !== this.durableHard.vote);
      if (hs && !termOrVote) this.lazyHard = hs;
      if (rd.entries.length > 0 || termOrVote) {
        const hardState = termOrVote ? hs : undefined;
        if (termOrVote) this.lazyHard = undefined;
        // Entries this Ready rewrites are not durable until its fsync.
        if (rd.entries.length > 0 && rd.entries[0]!.index <= this.durableIndex) this.durableIndex = rd.entries[0]!.index - 1;
        needSync = this.storage.write({ entries: rd.entries, hardState, mustSync: rd.mustSync });
        written = this.storage.lastIndex();
        // Durable by the time the next Ready is checked (Readies run one at a time).
        if (hs && termOrVote) this.durableHard = { term: hs.term, vote: hs.vote };
      }
      // 3. committed entries: applied in order once durable here (see drainApply). Those that
      // already are go now, while this Ready's fsync runs on the thread pool: the apply is the
      // biggest piece of a Ready's event-loop time.
      for (const e of rd.committedEntries) this.applyQueue.push(e);
      if (needSync) this.drainApply();
    } catch (e) {
      return this.fatal(e);
    }
    const done = () => {
      this.processing = false;
      this.schedule();
    };
    const finish = () => {
      if (this.stopped) return;
      let ckpt: Promise<void> | undefined;
      try {
        if (needSync) this.durableIndex = Math.max(this.durableIndex, written);
        this.finishReady(rd, sent);
        ckpt = this.storage.checkpointDue() ? this.storage.checkpointAsync() : undefined;
      } catch (e) {
        return this.fatal(e);
      }
      if (!ckpt) return done();
      // The log's WAL checkpoint (fsyncs on the thread pool): the next Ready waits (it would
      // write the log); the event loop does not.
      ckpt.then(
        () => !this.stopped && done(),
        (e) => !this.stopped && this.fatal(e),
      );
    };
    if (!needSync) return finish();
    this.storage.syncAsync().then(finish, (e) => !this.stopped && this.fatal(e));
  }

  /** Failing to persist or apply is not recoverable in-process: the log is the truth and a
   * restart replays it. Never serve from a diverged state. */
  private fatal(e: unknown): void {
    this.stopped = true;
    this.clock.cancel(this.ticker);
    this.fatalHandler(e);
  }

  /** Term and vote in this Ready are the ones already on disk, and we lead. */
  private earlySendOk(rd: Ready): boolean {
    if (rd.softState.role !== "leader" || rd.snapshot) return false;
    const hs = rd.hardState;
    return !hs || (hs.term === this.durableHard.term && hs.vote === this.durableHard.vote);
  }

  private installSnapshot(rd: Ready): void {
    const snap = rd.snapshot!;
    this.app.flush();
    this.app.restore(this.storage.applySnapshot(snap));
    const idx = snap.metadata.index;
    this.applied = idx;
    this.durableIndex = this.storage.lastIndex();
    this.applyQueue = this.applyQueue.filter((e) => e.index > idx);
    this.proposals.skipped(idx);
    this.appliedWaits.wake();
    this.log(`installed snapshot at index ${idx} (term ${snap.metadata.term})`);
    this.emitConf(snap.metadata.confState);
  }

  private finishReady(rd: Ready, sent: boolean): void {
    // 3. messages, only now that 1-2 are durable (unless sent early by a leader)
    if (!sent && rd.messages.length > 0) this.transport?.send(rd.messages);
    this.proposals.releaseResults();
    // 4. apply what is durable now
    this.drainApply();
    // 5. reads
    this.reads.confirmed(rd.readStates);
    this.raft.advance(rd);
    this.onSoftState(rd);
    if (rd.committedEntries.length > 0 && !this.appPause) this.maybeSnapshot();
  }

  /**
   * Apply the queued committed entries that are durable in our own log (a follower may learn
   * that an entry is committed in the same append that brings it: that one waits for the
   * fsync). The Raft core counts them applied at advance(); the application may lag behind
   * it (etcd's applies are asynchronous too): clients wait for `applied`, and a restart
   * replays from the application's applied index. Not during the application's housekeeping,
   * which pauses applies on this server only, never the log, the acknowledgements or the
   * commit of the cluster.
   */
  private drainApply(): void {
    const q = this.applyQueue;
    if (this.appPause || this.stopped || q.length === 0) return;
    let n = 0;
    while (n < q.length && q[n]!.index <= this.durableIndex) n++;
    if (n === 0) return;
    this.applyQueue = n === q.length ? [] : q.slice(n);
    this.applyEntries(n === q.length ? q : q.slice(0, n));
    this.pauseIfDue();
  }

  /** The application's housekeeping, if due: applies wait until it settles. */
  private pauseIfDue(): void {
    const pause = this.app.pauseIfDue();
    if (!pause) return;
    this.appPause = pause.then(
      () => {
        this.appPause = undefined;
        if (this.stopped) return;
        try {
          this.drainApply();
        } catch (e) {
          this.fatal(e);
        }
      },
      (e) => {
        if (!this.stopped) this.fatal(e);
      },
    );
  }

  private applyEntries(ents: Entry[]): void {
    const fresh = ents[0]!.index > this.applied ? ents : ents.filter((e) => e.index > this.applied);
    if (fresh.length === 0) return;
    const results = this.app.apply(fresh);
    for (let i = 0; i < fresh.length; i++) {
      const e = fresh[i]!;
      this.applied = e.index;
      if (e.type === "conf") {
        const cc = decodeConfChange(e.data);
        if (cc.type === "remove" && cc.node === this.id) this.markRemoved("its removal was applied here");
        this.emitConf(this.raft.confState());
      } else this.proposals.applied(e, results[i]!);
    }
    this.appliedWaits.wake();
  }

  trace(ev: string): void {
    if (this.traceOn) console.log(`raft-trace ${this.clock.now()} ${ev}`);
  }

  private onSoftState(rd: Ready): void {
    const { lead, role } = rd.softState;
    if (this.traceOn && role !== this.tracedRole) {
      this.tracedRole = role;
      this.trace(`role ${role} term ${this.raft.term} lead ${lead.toString(16)}`);
    }
    if (lead !== this.lead) {
      this.lead = lead;
      this.proposals.leaderGone((l) => l !== lead, this.timing.leaderChangeGraceMs);
      if (lead !== 0) this.leaders.wake();
    }
    const leader = role === "leader";
    if (leader === this.isLeaderNow) return;
    this.isLeaderNow = leader;
    if (!leader) this.proposals.notLeader();
    this.log(leader ? `became leader at term ${this.raft.term}` : `no longer leader (term ${this.raft.term}, leader ${lead.toString(16) || "unknown"})`);
    for (const l of this.leaderListeners) {
      try {
        l(leader);
      } catch (e) {
        console.error("leader listener:", e);
      }
    }
  }

  private emitConf(cs: ConfState): void {
    warnEvenVoters(this, cs);
    for (const l of this.confListeners) l(cs);
  }

  private maybeSnapshot(): void {
    if (this.applied - this.storage.snapshot().metadata.index < this.snapshotEntries) return;
    if (!this.app.snapshotAsync) {
      this.snapshotNow();
      return;
    }
    // Copying a large state blocks nobody: the copy runs on a worker; it is recorded in the
    // log between Readies (here, or at once if none is in progress).
    if (this.snapshotting) return;
    this.snapshotting = true;
    const startedAt = this.clock.now();
    this.app.flush();
    this.app.snapshotAsync(this.applied).then(
      (d) => {
        // Recorded between Readies and applies (the log is being written otherwise).
        const record = () => {
          if (this.stopped) return;
          if (this.processing || this.appPause) return void setTimeout(record, 2);
          this.snapshotting = false;
          saveTakenSnapshot(this, d.index, d.body, startedAt);
          // Entries applied while it was copied may make the next one due already.
          this.maybeSnapshot();
        };
        record();
      },
      (e) => {
        this.snapshotting = false;
        if (!this.stopped) this.log(`snapshot failed: ${(e as Error).message}`);
      },
    );
  }

  /**
   * Start a new log segment now, between Readies, and delete the older ones that hold only
   * compacted entries (after snapshotNow(0): no copy of an old entry stays on disk).
   */
  async rollLog(): Promise<void> {
    while (this.processing && !this.stopped) await new Promise((r) => setTimeout(r, 5));
    if (this.stopped) return;
    this.processing = true;
    try {
      await this.storage.checkpointAsync();
    } finally {
      this.processing = false;
      this.schedule();
    }
  }

  /**
   * Snapshot the applied state at the applied index and compact the log behind it, keeping
   * `keep` entries (default keepEntries; 0 after secrets were re-encrypted: no old entry stays).
   */
  snapshotNow(keep?: number): boolean {
    return takeSnapshot(this, keep);
  }

  // ---------------------------------------------------------------- the application's API

  /** Commit one command through Raft; resolves with its result once applied here. */
  propose(cmd: C): Promise<R> {
    return this.proposals.propose(cmd);
  }

  /** Commit `cmds` as one entry (here or through the leader); resolves once applied here. */
  submit(cmds: C[], deadline: number): Promise<Outcome<R>> {
    return this.proposals.submit(cmds, deadline);
  }

  /** Resolves once this server has applied everything committed before the call (ReadIndex). */
  readBarrier(): Promise<void> {
    return this.reads.barrier();
  }

  /** Propose a membership change and wait until it is applied here (see membership.ts). */
  confChange(type: "addLearner" | "promote" | "remove", node: NodeId, timeoutMs = 10_000): Promise<void> {
    return confChange(this, type, node, timeoutMs);
  }

  transferLeadership(to: NodeId): void {
    this.raft.transferLeadership(to);
    this.schedule();
  }

  // ---------------------------------------------------------------- requests from peers

  async handleForward(from: NodeId, req: any): Promise<any> {
    switch (req?.k) {
      case "propose":
        return this.proposals.forwarded(req.cmds as C[]);
      case "status":
        return this.localStatus();
      case "removed":
        // The leader stops replicating to a server as soon as it appends its removal, so the
        // server would never apply it: the leader tells it directly.
        if (from !== this.raft.lead && !this.raft.confState().voters.includes(from)) return { err: "invalid", msg: "only a member may say so" };
        this.markRemoved(`the leader ${from.toString(16)} said so`);
        return { ok: true };
      default:
        return this.extraForward ? this.extraForward(from, req) : { err: "unknown", msg: `unknown request ${req?.k}` };
    }
  }

  localStatus(): Status & { appliedIndex: number } {
    return { ...this.raft.status(), appliedIndex: this.applied };
  }

  // ---------------------------------------------------------------- notifications

  /** This server is no longer a member (its removal applied, or the leader said so). */
  markRemoved(why: string): void {
    if (this.removed) return;
    this.removed = true;
    this.log(`this server was removed from the cluster (${why})`);
    for (const cb of this.removedListeners) cb();
  }

  onRemoved(cb: () => void): void {
    this.removedListeners.push(cb);
  }

  onConfChange(cb: (cs: ConfState) => void): void {
    this.confListeners.push(cb);
  }

  onLeaderChange(cb: (leader: boolean) => void): () => void {
    this.leaderListeners.push(cb);
    return () => {
      this.leaderListeners = this.leaderListeners.filter((l) => l !== cb);
    };
  }

  isLeader(): boolean {
    return this.raft.role === "leader";
  }

  leaderId(): NodeId {
    return this.raft.lead;
  }
}

