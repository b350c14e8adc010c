// Linearizable reads (ReadIndex): the reads that arrive in one event-loop turn share one
// ReadIndex request; each is answered once this server has applied up to the index the
// leader confirmed with a quorum.
import type { ReadState } from "../core/types";
import { unavailable } from "./errors";
import type { RaftNode } from "./node";

interface Waiter {
  resolve: () => void;
  reject: (e: unknown) => void;
}

export class ReadBarrier {
  private queue: Waiter[] = [];
  private scheduled = false;
  private seq = 0;
  private pending = new Map<string, { waiters: Waiter[]; deadline: number }>();

  /** `session`: tells this process's ReadIndex contexts from those of the server's earlier processes. */
  constructor(
    private readonly node: RaftNode<any, any, any>,
    private readonly session = 0,
  ) {}

  /** Resolves once this server has applied everything committed before the call. */
  barrier(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.node.stopped) return reject(unavailable("this server is shutting down"));
      this.queue.push({ resolve, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      const { clock, timing } = this.node;
      clock.soon(() => void this.flush(clock.now() + timing.proposalTimeoutMs - timing.leaderChangeGraceMs));
    });
  }

  private async flush(deadline: number): Promise<void> {
    this.scheduled = false;
    const waiters = this.queue;
    this.queue = [];
    if (waiters.length === 0) return;
    const { node } = this;
    for (;;) {
      const ctx = `${node.id.toString(16)}/${this.session.toString(36)}/${++this.seq}`;
      if (!node.raft.readIndex(ctx)) {
        this.pending.set(ctx, { waiters, deadline });
        node.schedule();
        return;
      }
      const left = deadline - node.clock.now();
      if (left < 0 || !(await node.leaders.wait(Math.min(node.timing.leaderWaitMs, left)))) {
        for (const w of waiters) w.reject(unavailable("quorum lost / no leader: cannot serve a linearizable read (resourceVersion=0 reads still work)"));
        return;
      }
    }
  }

  /** The leader confirmed these reads (a Ready's readStates): answer once applied that far. */
  confirmed(states: ReadState[]): void {
    for (const rs of states) {
      const p = this.pending.get(rs.ctx);
      if (!p) continue;
      this.pending.delete(rs.ctx);
      for (const w of p.waiters) this.node.appliedWaits.wait(rs.index, p.deadline).then(w.resolve, w.reject);
    }
  }

  expire(now: number): void {
    for (const [ctx, r] of this.pending) {
      if (r.deadline >= now) continue;
      this.pending.delete(ctx);
      for (const w of r.waiters) w.reject(unavailable("quorum lost or no leader: cannot confirm a linearizable read (use resourceVersion=0 for a possibly stale read)"));
    }
  }

  stop(): void {
    const err = unavailable("this server is shutting down");
    for (const r of this.pending.values()) for (const w of r.waiters) w.reject(err);
    this.pending.clear();
    for (const w of this.queue) w.reject(err);
    this.queue = [];
  }
}
