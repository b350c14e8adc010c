// Writes: commands batched per event-loop turn into one entry, proposed here if this server
// leads or forwarded to the leader, and resolved when the entry is applied here.
//
// An entry's fate is known only once its index is applied: the same term means it
// committed; another term at that index means it was overwritten (certainly not committed),
// and it is proposed again. Followers forward on the peer stream (the leader answers with
// the (index, term) it got, ahead of the entry itself) and resolve from their own apply,
// like local proposals; learners and lagging servers, which might skip the entry by
// installing a snapshot, use the unary Forward call and take the leader's results.
import { RaftError, type Entry, type NodeId } from "../core/types";
import type { Proposal, ProposalResult } from "../transport/codec";
import { unavailable, unknownOutcome } from "./errors";
import type { RaftNode } from "./node";

export interface Outcome<R> {
  results: R[];
  index: number;
}

interface Pending<C, R> {
  term: number;
  cmds: C[];
  deadline: number;
  resolve: (o: Outcome<R>) => void;
  reject: (e: unknown) => void;
}

interface Forwarded<C, R> {
  lead: NodeId;
  cmds: C[];
  deadline: number;
  resolve: (o: Outcome<R> | "retry" | "unsent") => void;
  reject: (e: unknown) => void;
}

export class Proposals<C, R> {
  private queue: { cmd: C; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];
  private flushScheduled = false;
  /** Proposals awaiting their entry, by log index (several: entries of different terms may
   * claim one index; only the applied one's term wins). */
  private pending = new Map<number, Pending<C, R>[]>();
  /** Writes forwarded to the leader over the peer stream, awaiting its (index, term). */
  private fwdSeq: number;
  private fwdPending = new Map<number, Forwarded<C, R>>();
  /** Answers to forwarded writes queued in the transport for the next send (see fromFollowers). */
  private heldResults = false;

  /** `firstId`: where this process's forwarded-write ids start (unique across restarts; below 2^48). */
  constructor(
    private readonly node: RaftNode<C, R, any>,
    firstId = 0,
  ) {
    this.fwdSeq = firstId;
  }

  /** The store's proposer: commands of one event-loop turn become one entry. */
  propose(cmd: C): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      if (this.node.stopped) return reject(unavailable("this server is shutting down"));
      this.queue.push({ cmd, resolve, reject });
      if (this.flushScheduled) return;
      this.flushScheduled = true;
      this.node.clock.soon(() => this.flush());
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    this.submit(
      batch.map((b) => b.cmd),
      this.node.clock.now() + this.node.timing.proposalTimeoutMs,
    ).then(
      (o) => batch.forEach((b, i) => b.resolve(o.results[i]!)),
      (e) => batch.forEach((b) => b.reject(e)),
    );
  }

  /** Commit `cmds` as one entry, here if leader or through the leader; resolves when applied here. */
  async submit(cmds: C[], deadline: number): Promise<Outcome<R>> {
    const { node } = this;
    const { clock, timing } = node;
    /** Since when the known leader has had no live connection (it may have just died). */
    let unreachableSince = 0;
    const leaderUnreachable = async (why: string) => {
      unreachableSince ||= clock.now();
      // Wait for the link to come back or a new leader (an election takes about one election
      // timeout), but fail like "no leader" does once that is over.
      if (clock.now() - unreachableSince > timing.leaderWaitMs || clock.now() > deadline) {
        throw unavailable(`cannot reach the leader (${why}): the write was not sent (retry later)`);
      }
      await clock.sleep(timing.retryMs);
    };
    const backoff = (attempt: number) => clock.sleep(Math.min((timing.retryMs * 5 * (attempt + 1)) / 2, timing.retryMs * 15));
    for (let attempt = 0; ; attempt++) {
      if (node.stopped) throw unavailable("this server is shutting down");
      if (node.removed) throw unavailable("this server was removed from the cluster");
      if (clock.now() > deadline) throw unavailable("no leader: quorum lost or an election is in progress");
      if (node.raft.role === "leader") {
        const r = this.proposeLocal(cmds, deadline);
        if (r) return r;
        await clock.sleep(timing.retryMs); // transfer in progress
        continue;
      }
      const lead = node.raft.lead;
      if (lead === 0) {
        if (!(await node.leaders.wait(Math.min(timing.leaderWaitMs, deadline - clock.now())))) {
          throw unavailable("quorum lost / no leader: the write was not accepted (retry later)");
        }
        continue;
      }
      const transport = node.transport!;
      if (transport.propose && this.streamForwardOk()) {
        const o = await this.forwardOnStream(lead, cmds, deadline);
        if (o === "unsent") {
          await leaderUnreachable("no connection");
          continue;
        }
        if (o !== "retry") return o;
        await backoff(attempt);
        continue;
      }
      let resp: any;
      try {
        resp = await transport.forward(lead, { k: "propose", cmds }, Math.max(100, deadline - clock.now()));
      } catch (e) {
        if (/No connection established|ECONNREFUSED/.test((e as Error).message)) {
          await leaderUnreachable((e as Error).message);
          continue;
        }
        // The leader may have proposed it before the call failed, even if leadership has moved
        // since (the next leader may commit it): sending it again could apply it twice, and
        // "not applied" would be a lie. Found by the simulator (test/sim).
        throw unknownOutcome(`cannot reach the leader (${(e as Error).message}); the write may or may not have been applied`);
      }
      if (resp?.err === "notLeader" || resp?.err === "noLeader") {
        await backoff(attempt);
        continue;
      }
      if (resp?.err) throw resp.code === 504 ? unknownOutcome(resp.msg) : unavailable(resp.msg);
      // Read-your-writes on this server: wait (briefly) until it has applied the entry too.
      try {
        await node.appliedWaits.wait(resp.index, clock.now() + timing.readYourWritesMs);
      } catch {
        /* the write is committed; this replica is just slow */
      }
      return resp as Outcome<R>;
    }
  }

  private proposeLocal(cmds: C[], deadline: number): Promise<Outcome<R>> | undefined {
    const r = this.node.raft.propose(this.node.app.encode(cmds));
    if (r instanceof RaftError) {
      if (r.code === "transferInProgress") return undefined;
      return Promise.reject(unavailable(`the write was not accepted: ${r.message}`));
    }
    this.node.schedule();
    return new Promise((resolve, reject) => this.addPending(r.index, { term: r.term, cmds, deadline, resolve, reject }));
  }

  private addPending(index: number, p: Pending<C, R>): void {
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
  private forwardOnStream(lead: NodeId, cmds: C[], deadline: number): Promise<Outcome<R> | "retry" | "unsent"> {
    return new Promise((resolve, reject) => {
      const id = ++this.fwdSeq;
      // Not sent (no established stream to the leader): certainly not in its log, retry.
      if (!this.node.transport!.propose!(lead, { id, data: this.node.app.encode(cmds) })) return resolve("unsent");
      this.fwdPending.set(id, { lead, cmds, deadline, resolve, reject });
    });
  }

  /**
   * Forward over the stream only as a caught-up voter: the write then resolves from our own
   * apply, which a lagging server (a learner catching up, a voter far behind) might skip by
   * installing a snapshot — it asks the leader for the results (unary Forward) instead.
   */
  private streamForwardOk(): boolean {
    const { raft } = this.node;
    if (!raft.confState().voters.includes(this.node.id)) return false;
    return raft.log.committed - this.node.applied < 1000 && !raft.log.hasPendingSnapshot();
  }

  /** The leader's answers to writes we forwarded (transport callback). */
  resultsFromLeader(from: NodeId, results: ProposalResult[]): void {
    for (const r of results) {
      const f = this.fwdPending.get(r.id);
      if (!f || f.lead !== from) continue;
      this.fwdPending.delete(r.id);
      if (r.error === "notLeader") f.resolve("retry");
      else if (r.error) f.reject(r.code === 504 ? unknownOutcome(r.error) : unavailable(r.error));
      else if (r.index <= this.node.applied) {
        // Not expected (the answer travels ahead of the entry), but never guess a result.
        f.reject(unknownOutcome("the write reached the leader but its result here is unknown; it may or may not have been applied"));
      } else this.addPending(r.index, { term: r.term, cmds: f.cmds, deadline: f.deadline, resolve: f.resolve, reject: f.reject });
    }
  }

  /** Writes forwarded to us by followers (transport callback): propose them if we lead. */
  fromFollowers(from: NodeId, props: Proposal[]): void {
    const { raft, transport } = this.node;
    for (const p of props) {
      if (raft.role !== "leader") {
        transport?.proposalResult?.(from, { id: p.id, index: 0, term: 0, error: "notLeader", code: 503 });
        continue;
      }
      const r = raft.propose(p.data);
      if (r instanceof RaftError) {
        const retry = r.code === "transferInProgress" || r.code === "notLeader";
        transport?.proposalResult?.(from, { id: p.id, index: 0, term: 0, error: retry ? "notLeader" : `the write was not accepted: ${r.message}`, code: 503 });
      } else {
        // Held for the Ready that sends the entry: one frame carries both (answer first).
        transport?.proposalResult?.(from, { id: p.id, index: r.index, term: r.term, error: "", code: 0 }, true);
        this.heldResults = true;
      }
    }
    this.node.schedule();
  }

  /** Send the answers to forwarded writes that the last send() did not carry. */
  releaseResults(): void {
    if (!this.heldResults) return;
    this.heldResults = false;
    this.node.transport?.flushOutbox?.();
  }

  /** The unary Forward "propose" from a learner or lagging server: the results, once applied here. */
  async forwarded(cmds: C[]): Promise<any> {
    const { node } = this;
    if (node.raft.role !== "leader") return { err: node.raft.lead ? "notLeader" : "noLeader", lead: node.raft.lead };
    try {
      const p = this.proposeLocal(cmds, node.clock.now() + node.timing.proposalTimeoutMs);
      if (!p) return { err: "notLeader", lead: node.raft.lead };
      return await p;
    } catch (e) {
      const ae = e as { code?: number; message: string };
      return { err: "failed", code: ae.code ?? 503, msg: ae.message };
    }
  }

  /** Entry `e` was applied here with these results: settle the proposals waiting for its index. */
  applied(e: Entry, results: R[]): void {
    const ps = this.pending.get(e.index);
    if (!ps) return;
    this.pending.delete(e.index);
    for (const p of ps) {
      if (p.term === e.term) p.resolve({ results, index: e.index });
      // Another leader's entry took this index: ours was certainly not committed. Retry.
      else this.node.clock.soon(() => this.submit(p.cmds, p.deadline).then(p.resolve, p.reject));
    }
  }

  /** A snapshot up to `index` was installed: entries up to it will never be applied here. */
  skipped(index: number): void {
    for (const [i, ps] of this.pending) {
      if (i > index) continue;
      this.pending.delete(i);
      for (const p of ps) p.reject(unknownOutcome("this server installed a snapshot from the leader before learning the fate of the write; it may or may not have been applied"));
    }
  }

  /** Writes forwarded to a leader that is gone: their fate is unknown; don't hold them long. */
  leaderGone(pred: (lead: NodeId) => boolean, graceMs: number): void {
    const soon = this.node.clock.now() + graceMs;
    for (const f of this.fwdPending.values()) if (pred(f.lead)) f.deadline = Math.min(f.deadline, soon);
  }

  /** Lost leadership: the fate of our proposals is up to the next leader; give it a moment,
   * then tell the callers (504, outcome unknown) instead of holding them for the full timeout. */
  notLeader(): void {
    const soon = this.node.clock.now() + this.node.timing.leaderChangeGraceMs;
    for (const ps of this.pending.values()) for (const p of ps) p.deadline = Math.min(p.deadline, soon);
  }

  expire(now: number): void {
    const late = () => unknownOutcome(`the write was not confirmed within ${this.node.timing.proposalTimeoutMs} ms (leader lost or quorum unavailable); it may or may not have been applied`);
    for (const [i, ps] of this.pending) {
      const keep = ps.filter((p) => p.deadline >= now);
      if (keep.length === ps.length) continue;
      for (const p of ps) if (p.deadline < now) p.reject(late());
      if (keep.length) this.pending.set(i, keep);
      else this.pending.delete(i);
    }
    for (const [id, f] of this.fwdPending) {
      if (f.deadline >= now) continue;
      this.fwdPending.delete(id);
      f.reject(late());
    }
  }

  stop(): void {
    const gone = unknownOutcome("this server shut down before the write was confirmed; it may or may not have been applied");
    for (const ps of this.pending.values()) for (const p of ps) p.reject(gone);
    this.pending.clear();
    for (const f of this.fwdPending.values()) f.reject(gone);
    this.fwdPending.clear();
    const err = unavailable("this server is shutting down");
    for (const q of this.queue) q.reject(err);
    this.queue = [];
  }
}
