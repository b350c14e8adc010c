// Callers waiting for this server to apply an index, or for a leader to be known.
import type { Clock } from "./clock";
import { unavailable } from "./errors";

interface AppliedWaiter {
  index: number;
  deadline: number;
  resolve: () => void;
  reject: (e: unknown) => void;
}

export class AppliedWaits {
  private waiters: AppliedWaiter[] = [];

  constructor(private readonly applied: () => number) {}

  /** Resolves once applied >= index; rejects (503) if that has not happened by `deadline`. */
  wait(index: number, deadline: number): Promise<void> {
    if (this.applied() >= index) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ index, deadline, resolve, reject }));
  }

  wake(): void {
    if (this.waiters.length === 0) return;
    const applied = this.applied();
    this.waiters = this.waiters.filter((w) => {
      if (applied < w.index) return true;
      w.resolve();
      return false;
    });
  }

  expire(now: number): void {
    if (this.waiters.length === 0) return;
    this.waiters = this.waiters.filter((w) => {
      if (w.deadline >= now) return true;
      w.reject(unavailable(`this server has not caught up to index ${w.index} (applied ${this.applied()})`));
      return false;
    });
  }
}

export class LeaderWaits {
  private waiters: (() => void)[] = [];

  constructor(
    private readonly clock: Clock,
    private readonly lead: () => number,
  ) {}

  /** Resolves true once a leader is known, false after ms without one. */
  wait(ms: number): Promise<boolean> {
    if (this.lead() !== 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = this.clock.after(ms, () => {
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve(false);
      });
      const done = () => {
        this.clock.cancel(t);
        resolve(true);
      };
      this.waiters.push(done);
    });
  }

  wake(): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }
}
