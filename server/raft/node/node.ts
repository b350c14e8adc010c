// The driver around the pure Raft core: a tick timer, the Ready loop (persist → send →
// apply → serve reads), proposals with their callers, ReadIndex barriers, snapshots and the
// member address book. Everything runs on the event loop; SQLite calls are synchronous, so a
// Ready is processed start to finish without interleaving, and proposals that arrive while
// one is being fsynced are batched into the next (group commit).
import { closeSync, fsyncSync, openSync } from "node:fs";
import { join } from "node:path";
import { ApiError } from "../../errors";
import type { ApplyResult, Command } from "../../store/commands";
import type { Proposer } from "../../store/proposer";
import type { Store } from "../../store/store";
import { decodeConfChange } from "../core/config";
import { Raft, type Status } from "../core/raft";
import { RaftError, type ConfState, type Entry, type HardState, type Message, type NodeId, type Ready } from "../core/types";
import type { SqliteLogStorage } from "../storage/log-storage";
import type { Proposal, ProposalResult } from "../transport/codec";
import { decodeCommands, encodeCommands } from "./codec";

/** Where the member address book lives in the replicated store (not served by the API). */
export const MEMBERS_RES = "skiff.io/raftmembers";

export interface MemberRecord {
  id: number;
  name: string;
  /** host:port of the peer (gRPC) listener. */
  raftAddr: string;
  /** https://host:port of the member's API. */
  apiUrl: string;
}

export interface NodeOptions {
  id: NodeId;
  storage: SqliteLogStorage;
  store: Store;
  tickMs?: number;
  electionTick?: number;
  heartbeatTick?: number;
  /** Take a snapshot (and compact the log) every this many applied entries. */
  snapshotEntries?: number;
  /** Entries kept behind a snapshot so slightly slow followers catch up from the log. */
  keepEntries?: number;
  /** How long a write or read waits for a leader to appear before failing with 503. */
  leaderWaitMs?: number;
  /** How long an accepted proposal may take to apply before its caller gets 504. */
  proposalTimeoutMs?: number;
  rand?: () => number;
  log?: (msg: string) => void;
}

export interface Transport {
  send(msgs: Message[]): void;
  /** Forward a write to the leader over the peer stream; false if certainly not sent. */
  propose?(to: NodeId, p: Proposal): boolean;
  proposalResult?(to: NodeId, r: ProposalResult, hold?: boolean): void;
  flushOutbox?(): void;
  forward(to: NodeId, req: any, timeoutMs: number): Promise<any>;
}

type Outcome = { results: ApplyResult[]; index: number };
interface Pending {
  term: number;
  cmds: Command[];
  deadline: number;
  resolve: (o: Outcome) => void;
  reject: (e: unknown) => void;
}

export function unavailable(msg: string): ApiError {
  return new ApiError(503, "ServiceUnavailable", msg);
}
export function unknownOutcome(msg: string): ApiError {
  return new ApiError(504, "Timeout", msg);
}

/** Longest an apply transaction on state.db stays open (see applyEntries). */
const STATE_COMMIT_MS = 50;

const cryptoRand = () => crypto.getRandomValues(new Uint32Array(1))[0]! / 2 ** 32;

export class RaftNode {
  readonly id: NodeId;
  readonly raft: Raft;
  readonly store: Store;
  readonly storage: SqliteLogStorage;
  transport: Transport | undefined;
  applied: number;
  removed = false;

  private readonly tickMs: number;
  private readonly snapshotEntries: number;
  private readonly keepEntries: number;
  private readonly leaderWaitMs: number;
  private readonly proposalTimeoutMs: number;
  private readonly log: (msg: string) => void;
  private ticker: ReturnType<typeof setInterval> | undefined;
  private scheduled = false;
  private processing = false;
  private stopped = false;
  private lead: NodeId = 0;
  private isLeaderNow = false;
  private leaderListeners: ((leader: boolean) => void)[] = [];
  private leaderWaiters: (() => void)[] = [];

  private queue: { cmd: Command; resolve: (r: ApplyResult) => void; reject: (e: unknown) => void }[] = [];
  private flushScheduled = false;
  /** Proposals awaiting their entry, by log index (several: entries of different terms may
   * claim one index; only the applied one's term wins). */
  private pending = new Map<number, Pending[]>();
  /** Writes forwarded to the leader over the peer stream, awaiting its (index, term). */
  private fwdSeq = 0;
  private fwdPending = new Map<number, { lead: NodeId; cmds: Command[]; deadline: number; resolve: (o: Outcome | "retry" | "unsent") => void; reject: (e: unknown) => void }>();

  private readQueue: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private readScheduled = false;
  private readSeq = 0;
  private readPending = new Map<string, { waiters: { resolve: () => void; reject: (e: unknown) => void }[]; deadline: number }>();
  private appliedWaiters: { index: number; resolve: () => void; deadline: number; reject: (e: unknown) => void }[] = [];

  private members = new Map<number, MemberRecord>();
  private memberListeners: (() => void)[] = [];
  private confListeners: ((cs: ConfState) => void)[] = [];
  private tickCount = 0;
  private warnedEven = -1;
  /** Term and vote as last written to raft.db (with or without its fsync still running). */
  private durableHard: { term: number; vote: number };
  /** Answers to forwarded writes queued in the transport for the next send (see onProposals). */
  private heldResults = false;
  /** Committed entries not applied yet, in log order (see drainApply). */
  private applyQueue: Entry[] = [];
  /** Every log entry at or below this index is fsynced here and not being rewritten. */
  private durableIndex: number;
  /** Pending COMMIT of the apply transaction (see applyEntries). */
  private stateCommitTimer: ReturnType<typeof setTimeout> | undefined;
  /** A state.db WAL checkpoint in progress: applies wait for it. */
  private stateCkpt: Promise<void> | undefined;
  /** A commit-index-only hard state not written yet (see processReady). */
  private lazyHard: HardState | undefined;
  /** SKIFF_RAFT_TRACE=1: timestamped role/leader events for the failover benchmark. */
  private readonly traceOn = process.env.SKIFF_RAFT_TRACE === "1";
  private tracedRole = "";

  constructor(o: NodeOptions) {
    this.id = o.id;
    this.store = o.store;
    this.storage = o.storage;
    this.tickMs = o.tickMs ?? 100;
    this.snapshotEntries = o.snapshotEntries ?? 10_000;
    this.keepEntries = o.keepEntries ?? 5_000;
    this.leaderWaitMs = o.leaderWaitMs ?? 1_500;
    this.proposalTimeoutMs = o.proposalTimeoutMs ?? 5_000;
    this.log = o.log ?? ((m) => console.log(`raft[${this.id.toString(16)}]: ${m}`));

    // state.db behind the snapshot (lost un-fsynced applies, or a crash while installing one):
    // restore it from the snapshot file first; the log replays the rest.
    const snap = o.storage.snapshot();
    const snapFile = o.storage.snapshotFile();
    if (snap.metadata.index > this.store.sm.appliedIndex && snapFile) {
      this.log(`state.db (applied ${this.store.sm.appliedIndex}) is behind the snapshot at ${snap.metadata.index}: restoring it`);
      this.store.restoreFrom(snapFile);
    }
    // Applied entries are committed: a commit index persisted without fsync may lag them.
    const hs = o.storage.hardState();
    let applied = this.store.sm.appliedIndex;
    if (applied > o.storage.lastIndex()) throw new Error(`state.db applied index ${applied} is beyond the Raft log (${o.storage.lastIndex()}): wrong raft.db?`);
    if (applied > hs.commit && hs.term > 0) o.storage.save({ entries: [], hardState: { ...hs, commit: applied }, mustSync: true });
    if (applied < snap.metadata.index) applied = snap.metadata.index;
    this.applied = applied;
    this.durableHard = o.storage.hardState();
    this.durableIndex = o.storage.lastIndex();
    this.store.sm.manualCheckpoints();

    this.raft = new Raft({
      id: o.id,
      storage: o.storage,
      rand: o.rand ?? cryptoRand,
      electionTick: o.electionTick ?? 10,
      heartbeatTick: o.heartbeatTick ?? 1,
      applied: applied > 0 ? applied : undefined,
      maxSizePerMsg: 4 << 20,
      maxInflightMsgs: 512,
      maxSnapshotChunkBytes: 1 << 20,
    });
    this.loadMembers();
  }

  // ---------------------------------------------------------------- lifecycle

  start(): void {
    this.ticker = setInterval(() => this.tick(), this.tickMs);
    // A lone voter need not wait an election timeout: time is ours to advance.
    const cs = this.raft.confState();
    if (cs.voters.length === 1 && cs.voters[0] === this.id) {
      for (let i = 0; i < this.raft.electionTimeout * 2 && this.raft.role !== "leader"; i++) this.raft.tick();
    }
    this.schedule();
  }

  async stop(opts: { transfer?: boolean } = {}): Promise<void> {
    if (opts.transfer && this.raft.role === "leader") {
      const st = this.raft.status();
      const best = Object.entries(st.progress ?? {})
        .filter(([id, p]) => Number(id) !== this.id && !p.isLearner && p.recentActive)
        .sort((a, b) => b[1].match - a[1].match)[0];
      if (best) {
        this.raft.transferLeadership(Number(best[0]));
        this.schedule();
        const until = Date.now() + 1500;
        while (Date.now() < until && this.raft.role === "leader") await Bun.sleep(20);
      }
    }
    this.commitState();
    this.stopped = true;
    clearInterval(this.ticker);
    const err = unavailable("this server is shutting down");
    const gone = unknownOutcome("this server shut down before the write was confirmed; it may or may not have been applied");
    for (const ps of this.pending.values()) for (const p of ps) p.reject(gone);
    this.pending.clear();
    for (const f of this.fwdPending.values()) f.reject(gone);
    this.fwdPending.clear();
    for (const q of this.queue) q.reject(err);
    this.queue = [];
    for (const r of this.readPending.values()) for (const w of r.waiters) w.reject(err);
    this.readPending.clear();
    for (const r of this.readQueue) r.reject(err);
    this.readQueue = [];
  }

  // ---------------------------------------------------------------- inputs

  private tick(): void {
    if (this.stopped) return;
    this.raft.tick();
    this.tickCount++;
    this.expire();
    if (this.raft.role === "leader" && this.tickCount % 5 === 0) this.maybePromote();
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
    // to us, which broke too in all likelihood. Their fate is unknown: don't hold the callers
    // for the full proposal timeout.
    const soon = Date.now() + 300;
    for (const f of this.fwdPending.values()) if (f.lead === id) f.deadline = Math.min(f.deadline, soon);
  }

  schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.processReady();
    });
  }

  // ---------------------------------------------------------------- the Ready loop

  /**
   * One Ready at a time: write it (one SQLite transaction), fdatasync it on the thread pool
   * while the event loop keeps stepping messages, ticking and queueing proposals (they form
   * the next Ready: group commit), then send, apply and advance. A leader sends before its
   * own fsync (Raft dissertation §10.2.1): the core counts the leader's copy toward commit
   * only in advance(), i.e. after the fsync, so nothing it sends claims its own durability.
   */
  private processReady(): void {
    if (this.processing || this.stopped) return;
    let rd: Ready | undefined;
    try {
      rd = this.raft.ready();
    } catch (e) {
      this.fatal(e);
    }
    if (!rd) return this.releaseResults();
    this.processing = true;
    if (rd.snapshot && rd.snapshot.metadata.index > 0 && this.stateCkpt) {
      // state.db is about to be replaced: let its checkpoint finish first.
      const r = rd;
      this.stateCkpt.then(() => !this.stopped && this.persistReady(r));
      return;
    }
    this.persistReady(rd);
  }

  private persistReady(rd: Ready): void {
    let needSync = false;
    let sent = false;
    let written = 0;
    try {
      // 1. snapshot from the leader: persist (fsync inside), then replace state.db
      if (rd.snapshot && rd.snapshot.metadata.index > 0) this.installSnapshot(rd);
      // Early send: a leader whose term and vote are already durable (this Ready changes
      // neither) may replicate before its own write is durable.
      if (this.earlySendOk(rd) && rd.messages.length > 0) {
        this.transport?.send(rd.messages);
        sent = true;
        this.releaseResults();
      }
      // 2. entries + hard state: one transaction, then one fsync
      if (rd.hardState && !rd.mustSync && rd.entries.length === 0) {
        // Only the commit index moved. Raft needs no durable commit index (a restart learns it
        // again; the constructor raises it to state.db's applied index), so don't spend a
        // transaction on it: it rides along with the next write.
        this.lazyHard = rd.hardState;
      } else if (rd.entries.length > 0 || rd.hardState) {
        const hardState = rd.hardState ?? this.lazyHard;
        this.lazyHard = undefined;
        // Entries this Ready rewrites are not durable until its fsync.
        if (rd.entries.length > 0 && rd.entries[0]!.index <= this.durableIndex) this.durableIndex = rd.entries[0]!.index - 1;
        needSync = this.storage.write({ entries: rd.entries, hardState, mustSync: rd.mustSync });
        written = this.storage.lastIndex();
        // Durable by the time the next Ready is checked (Readies run one at a time).
        if (rd.hardState) this.durableHard = { term: rd.hardState.term, vote: rd.hardState.vote };
      }
      // 3. committed entries: applied in order once durable here (see drainApply). Those that
      // already are go now, while this Ready's fsync runs on the thread pool: the apply is the
      // biggest piece of a Ready's event-loop time.
      for (const e of rd.committedEntries) this.applyQueue.push(e);
      if (needSync) this.drainApply();
    } catch (e) {
      this.fatal(e);
    }
    const ready = rd;
    const done = () => {
      this.processing = false;
      this.schedule();
    };
    const finish = () => {
      if (this.stopped) return;
      let ckpt: Promise<void> | undefined;
      try {
        if (needSync) this.durableIndex = Math.max(this.durableIndex, written);
        this.finishReady(ready, sent);
        ckpt = this.storage.checkpointDue() ? this.storage.checkpointAsync() : undefined;
      } catch (e) {
        this.fatal(e);
      }
      if (!ckpt) return done();
      // raft.db's WAL checkpoint (fsyncs on the thread pool, see checkpointWal): the next
      // Ready waits (it would write raft.db); the event loop does not.
      ckpt.then(
        () => !this.stopped && done(),
        (e) => !this.stopped && this.fatal(e),
      );
    };
    if (!needSync) return finish();
    this.storage.syncAsync().then(finish, (e) => {
      if (!this.stopped) this.fatal(e);
    });
  }

  /** Send the answers to forwarded writes that the last send() did not carry. */
  private releaseResults(): void {
    if (!this.heldResults) return;
    this.heldResults = false;
    this.transport?.flushOutbox?.();
  }

  /** Failing to persist or apply is not recoverable in-process: the log is the truth and a
   * restart replays it. Exit rather than serve from a diverged state. */
  private fatal(e: unknown): never {
    console.error(`raft: fatal error in the Ready loop: ${(e as Error)?.stack ?? e}`);
    process.exit(70);
  }

  /** Term and vote in this Ready are the ones already on disk, and we lead. */
  private earlySendOk(rd: Ready): boolean {
    if (rd.softState.role !== "leader" || rd.snapshot) return false;
    const hs = rd.hardState;
    return !hs || (hs.term === this.durableHard.term && hs.vote === this.durableHard.vote);
  }

  private installSnapshot(rd: Ready): void {
    this.commitState();
    const file = this.storage.applySnapshot(rd.snapshot!);
    this.store.restoreFrom(file);
    this.store.sm.manualCheckpoints();
    const idx = rd.snapshot!.metadata.index;
    this.applied = idx;
    this.durableIndex = this.storage.lastIndex();
    this.applyQueue = this.applyQueue.filter((e) => e.index > idx);
    for (const [i, ps] of this.pending) {
      if (i <= idx) {
        this.pending.delete(i);
        for (const p of ps) p.reject(unknownOutcome("this server installed a snapshot from the leader before learning the fate of the write; it may or may not have been applied"));
      }
    }
    this.loadMembers();
    this.log(`installed snapshot at index ${idx} (term ${rd.snapshot!.metadata.term})`);
    this.emitConf(rd.snapshot!.metadata.confState);
  }

  private finishReady(rd: Ready, sent: boolean): void {
    // 3. messages, only now that 1-2 are durable (unless sent early by a leader)
    if (!sent && rd.messages.length > 0) this.transport?.send(rd.messages);
    this.releaseResults();
    // 4. apply what is durable now
    this.drainApply();
    // 5. reads
    for (const rs of rd.readStates) {
      const p = this.readPending.get(rs.ctx);
      if (!p) continue;
      this.readPending.delete(rs.ctx);
      for (const w of p.waiters) this.waitApplied(rs.index, p.deadline).then(w.resolve, w.reject);
    }
    this.raft.advance(rd);
    this.onSoftState(rd);
    if (rd.committedEntries.length > 0 && !this.stateCkpt) this.maybeSnapshot();
  }

  /**
   * Apply the queued committed entries that are durable in our own log (a follower may learn
   * that an entry is committed in the same append that brings it: that one waits for the
   * fsync). The Raft core counts them applied at advance(); the application may lag behind
   * it (etcd's applies are asynchronous too): clients wait for `applied`, and a restart
   * replays from state.db's applied index. Not during a state.db checkpoint, which is started
   * here when due: it pauses applies on this server only, never the log, the acknowledgements
   * or the commit of the cluster.
   */
  private drainApply(): void {
    const q = this.applyQueue;
    if (this.stateCkpt || this.stopped || q.length === 0) return;
    let n = 0;
    while (n < q.length && q[n]!.index <= this.durableIndex) n++;
    if (n === 0) return;
    this.applyQueue = n === q.length ? [] : q.slice(n);
    this.applyEntries(n === q.length ? q : q.slice(0, n));
    if (!this.store.sm.checkpointDue()) return;
    this.commitState();
    this.stateCkpt = this.store.sm.checkpointAsync().then(
      () => {
        this.stateCkpt = undefined;
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

  /**
   * Apply committed entries (those at or below `applied` are skipped) inside one state.db
   * transaction that stays open across batches for up to STATE_COMMIT_MS (each entry's own
   * transaction nests as a savepoint). A commit writes every page it dirtied to the WAL once,
   * and a key-value workload dirties about one B-tree leaf per write: committing every 50 ms
   * (like etcd's backend batches) instead of every Ready halves the WAL and checkpoint
   * traffic, which competes with the Raft log's fsyncs for the disk. Callers are answered at once: everything reads through
   * this one connection, which sees its own transaction, and a crash before the COMMIT loses
   * nothing that the Raft log does not replay (state.db never fsyncs on commit anyway).
   */
  private applyEntries(ents: Entry[]): void {
    const db = this.store.sm.db;
    if (!db.inTransaction) {
      db.exec("BEGIN");
      this.stateCommitTimer = setTimeout(() => this.commitState(), STATE_COMMIT_MS);
    }
    let membersChanged = false;
    for (const e of ents) membersChanged = this.apply(e) || membersChanged;
    if (membersChanged) this.loadMembers();
    this.wakeApplied();
  }

  /** COMMIT the open apply transaction, if any (before checkpoints, snapshots, shutdown). */
  private commitState(): void {
    clearTimeout(this.stateCommitTimer);
    this.stateCommitTimer = undefined;
    const db = this.store.sm.db;
    if (!db.inTransaction) return;
    try {
      db.exec("COMMIT");
    } catch (e) {
      this.fatal(e);
    }
    this.store.sm.flushWalInBackground();
  }

  private apply(e: Entry): boolean {
    if (e.index <= this.applied) return false;
    let membersChanged = false;
    if (e.type === "conf") {
      this.store.applyEntry(e.index, []);
      const cc = decodeConfChange(e.data);
      if (cc.type === "remove" && cc.node === this.id) this.markRemoved("its removal was applied here");
      this.emitConf(this.raft.confState());
    } else {
      const cmds = e.data.length ? decodeCommands(e.data) : [];
      const results = this.store.applyEntry(e.index, cmds);
      for (const c of cmds) if (touchesMembers(c)) membersChanged = true;
      const ps = this.pending.get(e.index);
      if (ps) {
        this.pending.delete(e.index);
        for (const p of ps) {
          if (p.term === e.term) p.resolve({ results, index: e.index });
          // Another leader's entry took this index: ours was certainly not committed. Retry.
          else setImmediate(() => this.submit(p.cmds, p.deadline).then(p.resolve, p.reject));
        }
      }
    }
    this.applied = e.index;
    return membersChanged;
  }

  trace(ev: string): void {
    if (this.traceOn) console.log(`raft-trace ${Date.now()} ${ev}`);
  }

  private onSoftState(rd: Ready): void {
    const { lead, role } = rd.softState;
    if (this.traceOn && role !== this.tracedRole) {
      this.tracedRole = role;
      this.trace(`role ${role} term ${this.raft.term} lead ${lead.toString(16)}`);
    }
    if (lead !== this.lead) {
      this.lead = lead;
      // Writes forwarded to a former leader: their fate is unknown; don't hold them long.
      const soon = Date.now() + 1000;
      for (const f of this.fwdPending.values()) if (f.lead !== lead) f.deadline = Math.min(f.deadline, soon);
      if (lead !== 0) {
        const ws = this.leaderWaiters;
        this.leaderWaiters = [];
        for (const w of ws) w();
      }
    }
    const leader = role === "leader";
    if (leader !== this.isLeaderNow) {
      this.isLeaderNow = leader;
      if (!leader) {
        // Their fate is now up to the next leader: give it a moment, then tell the callers
        // (504, outcome unknown) instead of holding them for the full proposal timeout.
        const soon = Date.now() + 1000;
        for (const ps of this.pending.values()) for (const p of ps) p.deadline = Math.min(p.deadline, soon);
      }
      this.log(leader ? `became leader at term ${this.raft.term}` : `no longer leader (term ${this.raft.term}, leader ${lead.toString(16) || "unknown"})`);
      for (const l of this.leaderListeners) {
        try {
          l(leader);
        } catch (e) {
          console.error("leader listener:", e);
        }
      }
    }
  }

  private emitConf(cs: ConfState): void {
    if (this.raft.role === "leader" && cs.voters.length % 2 === 0 && cs.voters.length > 0 && this.warnedEven !== cs.voters.length) {
      this.warnedEven = cs.voters.length;
      console.warn(`warning: the cluster has ${cs.voters.length} voters; an even number tolerates no more failures than ${cs.voters.length - 1} (quorum is ${Math.floor(cs.voters.length / 2) + 1})`);
    }
    for (const l of this.confListeners) l(cs);
  }

  private maybeSnapshot(): void {
    const snapIdx = this.storage.snapshot().metadata.index;
    if (this.applied - snapIdx < this.snapshotEntries) return;
    this.snapshotNow();
  }

  /** Snapshot state.db at the applied index and compact the log behind it. */
  snapshotNow(): boolean {
    this.commitState(); // VACUUM INTO cannot run inside a transaction
    const idx = this.applied;
    if (idx <= this.storage.snapshot().metadata.index) return false;
    const tmp = join(this.storage.dir, `vacuum-${idx}.db`);
    const t0 = performance.now();
    const at = this.store.snapshotTo(tmp);
    if (at.appliedIndex !== idx) throw new Error(`snapshot: state.db applied ${at.appliedIndex} ≠ raft applied ${idx}`);
    const fd = openSync(tmp, "r+");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    const snap = this.raft.createSnapshot(idx, new Uint8Array());
    if (snap instanceof RaftError) {
      this.log(`snapshot at ${idx} skipped: ${snap.message}`);
      return false;
    }
    this.storage.saveLocalSnapshot(snap.metadata, tmp, idx - this.keepEntries);
    this.log(`snapshot at index ${idx} in ${(performance.now() - t0).toFixed(0)} ms; log now ${this.storage.firstIndex()}..${this.storage.lastIndex()}`);
    return true;
  }

  // ---------------------------------------------------------------- waiting helpers

  private waitApplied(index: number, deadline: number): Promise<void> {
    if (this.applied >= index) return Promise.resolve();
    return new Promise((resolve, reject) => this.appliedWaiters.push({ index, resolve, reject, deadline }));
  }

  private wakeApplied(): void {
    if (this.appliedWaiters.length === 0) return;
    const keep: typeof this.appliedWaiters = [];
    for (const w of this.appliedWaiters) {
      if (this.applied >= w.index) w.resolve();
      else keep.push(w);
    }
    this.appliedWaiters = keep;
  }

  private waitLeader(ms: number): Promise<boolean> {
    if (this.raft.lead !== 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.leaderWaiters = this.leaderWaiters.filter((w) => w !== done);
        resolve(false);
      }, ms);
      const done = () => {
        clearTimeout(t);
        resolve(true);
      };
      this.leaderWaiters.push(done);
    });
  }

  private expire(): void {
    const now = Date.now();
    const late = () => unknownOutcome(`the write was not confirmed within ${this.proposalTimeoutMs} ms (leader lost or quorum unavailable); it may or may not have been applied`);
    for (const [i, ps] of this.pending) {
      const keep = ps.filter((p) => p.deadline >= now);
      if (keep.length === ps.length) continue;
      for (const p of ps) if (p.deadline < now) p.reject(late());
      if (keep.length) this.pending.set(i, keep);
      else this.pending.delete(i);
    }
    for (const [id, f] of this.fwdPending) {
      if (f.deadline < now) {
        this.fwdPending.delete(id);
        f.reject(late());
      }
    }
    for (const [ctx, r] of this.readPending) {
      if (r.deadline < now) {
        this.readPending.delete(ctx);
        for (const w of r.waiters) w.reject(unavailable("quorum lost or no leader: cannot confirm a linearizable read (use resourceVersion=0 for a possibly stale read)"));
      }
    }
    if (this.appliedWaiters.length) {
      const keep: typeof this.appliedWaiters = [];
      for (const w of this.appliedWaiters) {
        if (w.deadline < now) w.reject(unavailable(`this server has not caught up to index ${w.index} (applied ${this.applied})`));
        else keep.push(w);
      }
      this.appliedWaiters = keep;
    }
  }

  // ---------------------------------------------------------------- writes

  /** The Store's proposer: commands batched per event-loop turn into one entry. */
  readonly proposer: Proposer = {
    propose: (cmd: Command) =>
      new Promise<ApplyResult>((resolve, reject) => {
        if (this.stopped) return reject(unavailable("this server is shutting down"));
        this.queue.push({ cmd, resolve, reject });
        if (!this.flushScheduled) {
          this.flushScheduled = true;
          setImmediate(() => this.flush());
        }
      }),
  };

  private flush(): void {
    this.flushScheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    this.submit(
      batch.map((b) => b.cmd),
      Date.now() + this.proposalTimeoutMs,
    ).then(
      (o) => batch.forEach((b, i) => b.resolve(o.results[i]!)),
      (e) => batch.forEach((b) => b.reject(e)),
    );
  }

  /** Commit `cmds` as one entry, here if leader or through the leader; resolves when applied here. */
  async submit(cmds: Command[], deadline: number): Promise<Outcome> {
    /** Since when the known leader has had no live connection (it may have just died). */
    let unreachableSince = 0;
    const leaderUnreachable = async (why: string) => {
      unreachableSince ||= Date.now();
      // Wait for the link to come back or a new leader (an election takes about one election
      // timeout), but fail like "no leader" does once that is over.
      if (Date.now() - unreachableSince > this.leaderWaitMs || Date.now() > deadline) {
        throw unavailable(`cannot reach the leader (${why}): the write was not sent (retry later)`);
      }
      await Bun.sleep(20);
    };
    for (let attempt = 0; ; attempt++) {
      if (this.stopped) throw unavailable("this server is shutting down");
      if (this.removed) throw unavailable("this server was removed from the cluster");
      if (Date.now() > deadline) throw unavailable("no leader: quorum lost or an election is in progress");
      if (this.raft.role === "leader") {
        const r = this.proposeLocal(cmds, deadline);
        if (r) return r;
        await Bun.sleep(20); // transfer in progress
        continue;
      }
      const lead = this.raft.lead;
      if (lead === 0) {
        if (!(await this.waitLeader(Math.min(this.leaderWaitMs, deadline - Date.now())))) {
          throw unavailable("quorum lost / no leader: the write was not accepted (retry later)");
        }
        continue;
      }
      if (this.transport?.propose && this.streamForwardOk()) {
        const o = await this.forwardPropose(lead, cmds, deadline);
        if (o === "unsent") {
          await leaderUnreachable("no connection");
          continue;
        }
        if (o !== "retry") return o;
        await Bun.sleep(Math.min(50 * (attempt + 1), 300));
        continue;
      }
      let resp: any;
      try {
        resp = await this.transport!.forward(lead, { k: "propose", cmds }, Math.max(100, deadline - Date.now()));
      } catch (e) {
        if (/No connection established|ECONNREFUSED/.test((e as Error).message)) {
          await leaderUnreachable((e as Error).message);
          continue;
        }
        if (this.raft.lead === lead && lead !== 0) {
          throw unknownOutcome(`cannot reach the leader (${(e as Error).message}); the write may or may not have been applied`);
        }
        continue;
      }
      if (resp?.err === "notLeader" || resp?.err === "noLeader") {
        await Bun.sleep(Math.min(50 * (attempt + 1), 300));
        continue;
      }
      if (resp?.err) throw resp.code === 504 ? unknownOutcome(resp.msg) : unavailable(resp.msg);
      // Read-your-writes on this server: wait (briefly) until it has applied the entry too.
      try {
        await this.waitApplied(resp.index, Date.now() + 2000);
      } catch {
        /* the write is committed; this replica is just slow */
      }
      return resp as Outcome;
    }
  }

  private proposeLocal(cmds: Command[], deadline: number): Promise<Outcome> | undefined {
    const r = this.raft.propose(encodeCommands(cmds));
    if (r instanceof RaftError) {
      if (r.code === "transferInProgress") return undefined;
      return Promise.reject(unavailable(`the write was not accepted: ${r.message}`));
    }
    this.schedule();
    return new Promise((resolve, reject) => this.addPending(r.index, { term: r.term, cmds, deadline, resolve, reject }));
  }

  private addPending(index: number, p: Pending): void {
    const ps = this.pending.get(index);
    if (ps) ps.push(p);
    else this.pending.set(index, [p]);
  }

  /**
   * Forward a write to the leader over the peer stream. Resolves "retry" if the leader refused
   * it (not leader: certainly not in its log); otherwise it waits for the entry the leader
   * announced to be applied here, exactly like a local proposal (results come from our own
   * apply, which also gives read-your-writes on this server).
   */
  private forwardPropose(lead: NodeId, cmds: Command[], deadline: number): Promise<Outcome | "retry" | "unsent"> {
    return new Promise((resolve, reject) => {
      const id = ++this.fwdSeq;
      // Not sent (no established stream to the leader): certainly not in its log, retry.
      if (!this.transport!.propose!(lead, { id, data: encodeCommands(cmds) })) return resolve("unsent");
      this.fwdPending.set(id, { lead, cmds, deadline, resolve, reject });
    });
  }

  /**
   * Forward over the stream only as a caught-up voter: the write then resolves from our own
   * apply, which a lagging server (a learner catching up, a voter far behind) might skip by
   * installing a snapshot — it asks the leader for the results (unary Forward) instead.
   */
  private streamForwardOk(): boolean {
    if (!this.raft.confState().voters.includes(this.id)) return false;
    return this.raft.log.committed - this.applied < 1000 && !this.raft.log.hasPendingSnapshot();
  }

  /** The leader's answers to writes we forwarded (transport callback). */
  onProposalResults(from: NodeId, results: ProposalResult[]): void {
    for (const r of results) {
      const f = this.fwdPending.get(r.id);
      if (!f || f.lead !== from) continue;
      this.fwdPending.delete(r.id);
      if (r.error === "notLeader") f.resolve("retry");
      else if (r.error) f.reject(r.code === 504 ? unknownOutcome(r.error) : unavailable(r.error));
      else if (r.index <= this.applied) {
        // Not expected (the answer travels ahead of the entry), but never guess a result.
        f.reject(unknownOutcome("the write reached the leader but its result here is unknown; it may or may not have been applied"));
      } else this.addPending(r.index, { term: r.term, cmds: f.cmds, deadline: f.deadline, resolve: f.resolve, reject: f.reject });
    }
  }

  /** Writes forwarded to us by followers (transport callback): propose them if we lead. */
  onProposals(from: NodeId, props: Proposal[]): void {
    if (this.stopped) return;
    for (const p of props) {
      if (this.raft.role !== "leader") {
        this.transport?.proposalResult?.(from, { id: p.id, index: 0, term: 0, error: "notLeader", code: 503 });
        continue;
      }
      const r = this.raft.propose(p.data);
      if (r instanceof RaftError) {
        const retry = r.code === "transferInProgress" || r.code === "notLeader";
        this.transport?.proposalResult?.(from, { id: p.id, index: 0, term: 0, error: retry ? "notLeader" : `the write was not accepted: ${r.message}`, code: 503 });
      } else {
        // Held for the Ready that sends the entry: one frame carries both (answer first).
        this.transport?.proposalResult?.(from, { id: p.id, index: r.index, term: r.term, error: "", code: 0 }, true);
        this.heldResults = true;
      }
    }
    this.schedule();
  }

  // ---------------------------------------------------------------- linearizable reads

  /** Resolves once this server has applied everything committed before the call (ReadIndex). */
  readBarrier = (): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      if (this.stopped) return reject(unavailable("this server is shutting down"));
      this.readQueue.push({ resolve, reject });
      if (!this.readScheduled) {
        this.readScheduled = true;
        setImmediate(() => this.flushReads(Date.now() + this.proposalTimeoutMs - 1000));
      }
    });

  private async flushReads(deadline: number): Promise<void> {
    this.readScheduled = false;
    const waiters = this.readQueue;
    this.readQueue = [];
    if (waiters.length === 0) return;
    for (;;) {
      const ctx = `${this.id.toString(16)}/${++this.readSeq}`;
      const err = this.raft.readIndex(ctx);
      if (!err) {
        this.readPending.set(ctx, { waiters, deadline });
        this.schedule();
        return;
      }
      if (Date.now() > deadline || !(await this.waitLeader(Math.min(this.leaderWaitMs, deadline - Date.now())))) {
        for (const w of waiters) w.reject(unavailable("quorum lost / no leader: cannot serve a linearizable read (resourceVersion=0 reads still work)"));
        return;
      }
    }
  }

  // ---------------------------------------------------------------- requests from peers

  async handleForward(from: NodeId, req: any): Promise<any> {
    switch (req?.k) {
      case "propose": {
        if (this.raft.role !== "leader") return { err: this.raft.lead ? "notLeader" : "noLeader", lead: this.raft.lead };
        try {
          const p = this.proposeLocal(req.cmds as Command[], Date.now() + this.proposalTimeoutMs);
          if (!p) return { err: "notLeader", lead: this.raft.lead };
          return await p;
        } catch (e) {
          const ae = e as ApiError;
          return { err: "failed", code: ae.code ?? 503, msg: ae.message };
        }
      }
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

  /** Cluster-level requests (join, remove, members) handled by the membership layer. */
  extraForward: ((from: NodeId, req: any) => Promise<any>) | undefined;

  localStatus(): Status & { appliedIndex: number; name?: string } {
    const st = this.raft.status();
    return { ...st, appliedIndex: this.applied, name: this.members.get(this.id)?.name };
  }

  // ---------------------------------------------------------------- membership helpers

  private maybePromote(): void {
    const st = this.raft.status();
    for (const [id, p] of Object.entries(st.progress ?? {})) {
      if (!p.isLearner || p.state !== "replicate" || st.commit - p.match > 100) continue;
      if (!this.members.has(Number(id))) continue; // removed / unknown
      const r = this.raft.proposeConfChange({ type: "promote", node: Number(id) });
      if (!(r instanceof RaftError)) {
        this.log(`promoting learner ${Number(id).toString(16)} (${this.members.get(Number(id))?.name}) to voter`);
        this.schedule();
      }
      return;
    }
  }

  /** Propose a membership change and wait until it is applied here. Retries while another change is pending. */
  async confChange(type: "addLearner" | "promote" | "remove", node: NodeId, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.raft.role !== "leader") throw unavailable("not the leader");
      const r = this.raft.proposeConfChange({ type, node });
      if (!(r instanceof RaftError)) {
        this.schedule();
        await this.waitApplied(r.index, deadline);
        let t: number | undefined;
        try {
          t = this.storage.term(r.index);
        } catch {
          t = undefined;
        }
        if (t !== undefined && t !== r.term) throw unknownOutcome("leadership changed during the membership change; retry");
        return;
      }
      if (r.code === "invalidConfChange" || r.code === "notLeader" || r.code === "removed") throw new ApiError(r.code === "invalidConfChange" ? 400 : 503, r.code === "invalidConfChange" ? "BadRequest" : "ServiceUnavailable", r.message);
      if (Date.now() > deadline) throw unavailable(`membership change not possible now: ${r.message}`);
      await Bun.sleep(50);
    }
  }

  loadMembers(): void {
    const page = this.store.list(MEMBERS_RES, "");
    const m = new Map<number, MemberRecord>();
    for (const o of page.items) if (o?.spec?.id) m.set(o.spec.id, o.spec as MemberRecord);
    this.members = m;
    for (const l of this.memberListeners) l();
  }

  memberTable(): Map<number, MemberRecord> {
    return this.members;
  }

  onMembersChanged(cb: () => void): void {
    this.memberListeners.push(cb);
  }

  onConfChange(cb: (cs: ConfState) => void): void {
    this.confListeners.push(cb);
  }

  private removedListeners: (() => void)[] = [];

  /** This server is no longer a member (its removal applied, or the leader said so). */
  markRemoved(why: string): void {
    if (this.removed) return;
    this.removed = true;
    this.log(`this server was removed from the cluster (${why})`);
    for (const cb of this.removedListeners) cb();
  }

  /** Called once the removal of this server (skiff cluster remove) is applied here. */
  onRemoved(cb: () => void): void {
    this.removedListeners.push(cb);
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

function touchesMembers(c: Command): boolean {
  if (c.op === "txn") return c.cmds.some(touchesMembers);
  return c.res === MEMBERS_RES;
}

export function memberCommand(m: MemberRecord, exists: boolean): Command {
  const obj = { metadata: { name: String(m.id) }, spec: m };
  return exists ? { op: "update", res: MEMBERS_RES, ns: "", name: String(m.id), obj } : { op: "create", res: MEMBERS_RES, ns: "", name: String(m.id), obj };
}
