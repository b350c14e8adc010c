// The simulator's peer transport: the node driver's Transport (server/raft/node/types.ts)
// over the seeded lossy network, shaped like the gRPC one: Raft messages, writes forwarded
// on the peer stream with the leader's answers riding in the same frame as the next append
// (answers first), and request/response calls with a deadline.
import type { Message, NodeId } from "../../server/raft/core/types";
import type { Clock } from "../../server/raft/node/clock";
import type { Transport } from "../../server/raft/node/types";
import type { Proposal, ProposalResult } from "../../server/raft/transport/codec";
import type { Packet } from "./network";

export type SimPacket = Packet &
  (
    | { kind: "raft"; m: Message; results?: ProposalResult[]; props?: Proposal[] }
    | { kind: "frame"; results?: ProposalResult[]; props?: Proposal[] }
    | { kind: "call"; id: number; session: number; req: string }
    | { kind: "reply"; id: number; session: number; ok: boolean; body: string }
  );

export interface SimNet {
  send(p: SimPacket): void;
  /** The peer's process is running (else a connection is refused). */
  up(id: NodeId): boolean;
  /** Traffic from → to is cut (a partition). */
  blocked(from: NodeId, to: NodeId): boolean;
}

/** Numbers the transports (one per process incarnation) for their calls' replies. */
let sessions = 0;

export class SimTransport implements Transport {
  /**
   * A unary call's reply travels on the caller's connection, which dies with its process: a
   * reply to a call made before a restart never reaches the new process (whose call ids start
   * over). Raft messages and stream frames, addressed to a node, may still reach it.
   */
  readonly session = ++sessions;
  private outProps = new Map<NodeId, Proposal[]>();
  private outResults = new Map<NodeId, ProposalResult[]>();
  private flushQueued = false;
  private callSeq = 0;
  private calls = new Map<number, { resolve: (v: any) => void; reject: (e: unknown) => void; timer: unknown }>();
  /** For reportUnreachable. */
  unreachable: (id: NodeId) => void = () => {};
  forwarded = 0;

  constructor(
    private readonly id: NodeId,
    private readonly net: SimNet,
    private readonly clock: Clock,
  ) {}

  private take<T>(m: Map<NodeId, T[]>, to: NodeId): T[] | undefined {
    const l = m.get(to);
    if (!l || l.length === 0) return undefined;
    m.delete(to);
    return l;
  }

  send(msgs: Message[]): void {
    for (const m of msgs) {
      if (!this.net.up(m.to)) {
        this.unreachable(m.to);
        continue;
      }
      // Anything queued for this peer rides along in the same frame, answers first.
      const results = this.take(this.outResults, m.to);
      const props = this.take(this.outProps, m.to);
      this.net.send({ kind: "raft", from: this.id, to: m.to, m, results, props });
    }
  }

  propose(to: NodeId, p: Proposal): boolean {
    // Only on an established stream: a write sent into a dead connection has an unknown fate.
    if (!this.net.up(to) || this.net.blocked(this.id, to) || this.net.blocked(to, this.id)) return false;
    this.forwarded++;
    let l = this.outProps.get(to);
    if (!l) this.outProps.set(to, (l = []));
    l.push(p);
    this.queueFlush();
    return true;
  }

  proposalResult(to: NodeId, r: ProposalResult, hold = false): void {
    let l = this.outResults.get(to);
    if (!l) this.outResults.set(to, (l = []));
    l.push(r);
    if (!hold) this.queueFlush();
  }

  private queueFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => {
      this.flushQueued = false;
      this.flushOutbox();
    });
  }

  flushOutbox(): void {
    const peers = new Set([...this.outProps.keys(), ...this.outResults.keys()]);
    for (const to of peers) {
      const results = this.take(this.outResults, to);
      const props = this.take(this.outProps, to);
      if (results || props) this.net.send({ kind: "frame", from: this.id, to, results, props });
    }
  }

  forward(to: NodeId, req: any, timeoutMs: number): Promise<any> {
    return new Promise((resolve, reject) => {
      if (this.net.blocked(this.id, to)) {
        this.clock.after(timeoutMs, () => reject(new Error(`peer ${to} unreachable (timeout)`)));
        return;
      }
      if (!this.net.up(to)) return reject(new Error(`peer ${to}: No connection established`));
      const id = ++this.callSeq;
      const timer = this.clock.after(timeoutMs, () => {
        this.calls.delete(id);
        reject(new Error(`peer ${to}: Deadline exceeded`));
      });
      this.calls.set(id, { resolve, reject, timer });
      this.net.send({ kind: "call", from: this.id, to, id, session: this.session, req: JSON.stringify(req), once: true });
    });
  }

  /** A reply to one of our calls arrived. */
  reply(p: { id: number; session: number; ok: boolean; body: string }): void {
    if (p.session !== this.session) return;
    const c = this.calls.get(p.id);
    if (!c) return;
    this.calls.delete(p.id);
    this.clock.cancel(c.timer as any);
    if (p.ok) c.resolve(JSON.parse(p.body));
    else c.reject(new Error(p.body));
  }
}
