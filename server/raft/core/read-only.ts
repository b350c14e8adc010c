// ReadIndex bookkeeping on the leader: a read request records the commit index at arrival;
// it is released once a quorum of voters acknowledged a heartbeat carrying its context
// (proving we were still leader when the request arrived). Requests are released in order.
import type { NodeId } from "./types";

export interface ReadRequest {
  ctx: string;
  from: NodeId;
}

interface ReadIndexStatus {
  req: ReadRequest;
  index: number;
  acks: Map<NodeId, boolean>;
}

export class ReadOnly {
  private pending = new Map<string, ReadIndexStatus>();
  private queue: string[] = [];

  /** Returns false if a request with the same ctx is already pending. */
  addRequest(index: number, req: ReadRequest): boolean {
    if (this.pending.has(req.ctx)) return false;
    this.pending.set(req.ctx, { req, index, acks: new Map() });
    this.queue.push(req.ctx);
    return true;
  }

  /** Record an ack; returns the acks so far for that ctx (undefined if unknown). */
  recvAck(id: NodeId, ctx: string): Map<NodeId, boolean> | undefined {
    const rs = this.pending.get(ctx);
    if (!rs) return undefined;
    rs.acks.set(id, true);
    return rs.acks;
  }

  /** Release every request queued up to and including ctx. */
  advance(ctx: string): { req: ReadRequest; index: number }[] {
    const i = this.queue.indexOf(ctx);
    if (i < 0) return [];
    const released = this.queue.splice(0, i + 1);
    const out: { req: ReadRequest; index: number }[] = [];
    for (const c of released) {
      const rs = this.pending.get(c)!;
      this.pending.delete(c);
      out.push({ req: rs.req, index: rs.index });
    }
    return out;
  }

  lastPendingCtx(): string | undefined {
    return this.queue.length > 0 ? this.queue[this.queue.length - 1] : undefined;
  }

  size(): number {
    return this.queue.length;
  }
}
