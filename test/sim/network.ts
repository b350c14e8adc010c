// A seeded, lossy network between simulated nodes: drops, delays (hence reordering),
// duplicates, and partitions that may be asymmetric (a → b blocked while b → a works).
import type { NodeId } from "../../server/raft/core/types";
import type { Rng } from "./rng";

/** Anything sent from one node to another (a Raft message, a forwarded write, a call). */
export interface Packet {
  from: NodeId;
  to: NodeId;
  /** Never duplicated (a request/response call: the real transport does not replay it). */
  once?: boolean;
}

export interface NetworkConfig {
  dropRate: number;
  dupRate: number;
  minDelay: number;
  maxDelay: number;
  /** Probability of a long delay (a message that arrives very late, e.g. after elections). */
  longDelayRate: number;
  longDelayMax: number;
}

interface InFlight<P extends Packet> {
  m: P;
  at: number;
  seq: number;
}

export class Network<P extends Packet> {
  private inflight: InFlight<P>[] = [];
  private seq = 0;
  private blocked = new Set<string>();
  sent = 0;
  dropped = 0;
  duplicated = 0;

  constructor(
    private readonly rng: Rng,
    public cfg: NetworkConfig,
  ) {}

  send(m: P, now: number): void {
    this.sent++;
    if (this.isBlocked(m.from, m.to) || this.rng.chance(this.cfg.dropRate)) {
      this.dropped++;
      return;
    }
    this.enqueue(m, now);
    if (!m.once && this.rng.chance(this.cfg.dupRate)) {
      this.duplicated++;
      this.enqueue(m, now);
    }
  }

  private enqueue(m: P, now: number): void {
    const delay = this.rng.chance(this.cfg.longDelayRate)
      ? this.rng.range(this.cfg.maxDelay, this.cfg.longDelayMax)
      : this.rng.range(this.cfg.minDelay, this.cfg.maxDelay);
    this.inflight.push({ m, at: now + delay, seq: this.seq++ });
  }

  /** Messages due at `now`, in a random order; partitions apply at delivery time too. */
  due(now: number): P[] {
    const out: P[] = [];
    const keep: InFlight<P>[] = [];
    for (const f of this.inflight) {
      if (f.at <= now) {
        if (this.isBlocked(f.m.from, f.m.to)) this.dropped++;
        else out.push(f.m);
      } else keep.push(f);
    }
    this.inflight = keep;
    return this.rng.shuffle(out);
  }

  /** Hold a message for a paused receiver until `at`. */
  defer(m: P, at: number): void {
    this.inflight.push({ m, at, seq: this.seq++ });
  }

  isBlocked(from: NodeId, to: NodeId): boolean {
    return this.blocked.size > 0 && this.blocked.has(`${from}>${to}`);
  }

  block(from: NodeId, to: NodeId): void {
    this.blocked.add(`${from}>${to}`);
  }

  /** Split into two sides that cannot talk (symmetric). */
  partition(a: NodeId[], b: NodeId[]): void {
    for (const x of a)
      for (const y of b) {
        this.block(x, y);
        this.block(y, x);
      }
  }

  heal(): void {
    this.blocked.clear();
  }

  partitioned(): boolean {
    return this.blocked.size > 0;
  }

  pending(): number {
    return this.inflight.length;
  }
}
