// The scheduling queue: an active heap (higher priority first, then FIFO), a back-off area
// for pods that just failed, and an unschedulable set that moves back when the cluster
// changes (node added or updated, pod deleted) or after a minute regardless.
interface QueuedPod {
  key: string;
  priority: number;
  seq: number;
  attempts: number;
}

export class SchedulingQueue {
  private heap: QueuedPod[] = [];
  private inActive = new Map<string, QueuedPod>();
  private unschedulable = new Map<string, { q: QueuedPod; since: number }>();
  private backoff = new Map<string, ReturnType<typeof setTimeout>>();
  private attempts = new Map<string, number>();
  private seq = 0;
  private waiter?: () => void;
  private flushTimer: ReturnType<typeof setInterval>;
  closed = false;

  constructor(private readonly maxBackoffMs = 10_000, private readonly unschedulableTimeoutMs = 60_000) {
    this.flushTimer = setInterval(() => {
      const now = Date.now();
      for (const [k, v] of this.unschedulable) if (now - v.since > this.unschedulableTimeoutMs) this.activate(k, v.q.priority);
    }, 5_000);
    (this.flushTimer as any).unref?.();
  }

  add(key: string, priority: number): void {
    if (this.inActive.has(key) || this.backoff.has(key)) return;
    this.unschedulable.delete(key);
    this.activate(key, priority);
  }

  private activate(key: string, priority: number): void {
    this.unschedulable.delete(key);
    if (this.inActive.has(key)) return;
    const q: QueuedPod = { key, priority, seq: this.seq++, attempts: this.attempts.get(key) ?? 0 };
    this.inActive.set(key, q);
    this.push(q);
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  remove(key: string): void {
    this.inActive.delete(key);
    this.unschedulable.delete(key);
    const t = this.backoff.get(key);
    if (t) clearTimeout(t);
    this.backoff.delete(key);
    this.attempts.delete(key);
  }

  done(key: string): void {
    this.attempts.delete(key);
  }

  /** The pod did not fit: park it until something changes (with back-off). */
  unschedulableAgain(key: string, priority: number): void {
    const n = (this.attempts.get(key) ?? 0) + 1;
    this.attempts.set(key, n);
    this.unschedulable.set(key, { q: { key, priority, seq: 0, attempts: n }, since: Date.now() });
  }

  /** An error (bind failed...): retry after back-off. */
  retry(key: string, priority: number): void {
    const n = (this.attempts.get(key) ?? 0) + 1;
    this.attempts.set(key, n);
    const delay = Math.min(1000 * 2 ** (n - 1), this.maxBackoffMs);
    const old = this.backoff.get(key);
    if (old) clearTimeout(old);
    const t = setTimeout(() => {
      this.backoff.delete(key);
      this.activate(key, priority);
    }, delay);
    (t as any).unref?.();
    this.backoff.set(key, t);
  }

  /** Cluster changed: unschedulable pods get another chance (after their back-off). */
  moveAllToActive(): void {
    for (const [k, v] of [...this.unschedulable]) {
      this.unschedulable.delete(k);
      const n = v.q.attempts;
      const delay = Math.min(1000 * 2 ** Math.max(0, n - 1), this.maxBackoffMs);
      const since = Date.now() - v.since;
      if (since >= delay) this.activate(k, v.q.priority);
      else {
        const t = setTimeout(() => {
          this.backoff.delete(k);
          this.activate(k, v.q.priority);
        }, delay - since);
        (t as any).unref?.();
        this.backoff.set(k, t);
      }
    }
  }

  get pending(): number {
    return this.inActive.size + this.unschedulable.size + this.backoff.size;
  }

  /** Next pod, or undefined when the active queue is empty. */
  pop(): QueuedPod | undefined {
    while (this.heap.length) {
      const q = this.pop0();
      if (this.inActive.get(q.key) === q) {
        this.inActive.delete(q.key);
        return q;
      }
    }
    return undefined;
  }

  wait(): Promise<void> {
    if (this.inActive.size || this.closed) return Promise.resolve();
    return new Promise((r) => (this.waiter = r));
  }

  close(): void {
    this.closed = true;
    clearInterval(this.flushTimer);
    for (const t of this.backoff.values()) clearTimeout(t);
    this.backoff.clear();
    this.waiter?.();
  }

  private less(a: QueuedPod, b: QueuedPod): boolean {
    return a.priority !== b.priority ? a.priority > b.priority : a.seq < b.seq;
  }

  private push(q: QueuedPod): void {
    const h = this.heap;
    h.push(q);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop0(): QueuedPod {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}
