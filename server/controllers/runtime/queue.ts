// A keyed work queue like client-go's rate-limited workqueue: each key is processed by one
// worker at a time, duplicates collapse, a key re-added while it is being processed runs again
// afterwards, failures retry with per-key exponential back-off (5 ms doubling to 60 s), and
// addAfter() schedules a key for later (deadlines, minReadySeconds, cron times).
// Two rules keep handlers out of places they must not run:
// - add() never calls the handler synchronously: informer events arrive while the store applies
//   an entry (inside applyEntry, maybe inside an open apply transaction), so workers start on a
//   later microtask, after the applying code has returned.
// - Nothing runs before run(): a controller calls it once every informer it reads has synced
//   (client-go's WaitForCacheSync), so a first reconcile never sees a half-filled cache.
import { queueMetrics } from "../../metrics/controllers";

export class WorkQueue {
  private pending = new Set<string>();
  private active = new Set<string>();
  private dirty = new Set<string>();
  private failures = new Map<string, number>();
  private timers = new Map<string, { at: number; t: ReturnType<typeof setTimeout> }>();
  private workers = 0;
  private stopped = false;
  private runStarted = false;
  private pumpScheduled = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly handler: (key: string) => Promise<void>,
    private readonly concurrency = 4,
    private readonly onError: (key: string, e: unknown) => void = () => {},
    private readonly maxDelayMs = 60_000,
    /** Names the queue's workqueue_* metrics (controllers pass theirs). */
    name?: string,
  ) {
    this.metrics = name ? queueMetrics(name) : undefined;
  }

  private readonly metrics: ReturnType<typeof queueMetrics> | undefined;

  add(key: string): void {
    if (this.stopped) return;
    if (this.active.has(key)) {
      this.dirty.add(key);
      return;
    }
    this.pending.add(key);
    this.metrics?.added(this.pending.size);
    this.schedulePump();
  }

  /** Start processing (keys added before are kept and run now). */
  run(): void {
    if (this.stopped || this.runStarted) return;
    this.runStarted = true;
    this.schedulePump();
  }

  get started(): boolean {
    return this.runStarted;
  }

  private schedulePump(): void {
    if (this.pumpScheduled || !this.runStarted) return;
    this.pumpScheduled = true;
    queueMicrotask(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /** Process key after ms (the earliest of several requests wins). */
  addAfter(key: string, ms: number): void {
    if (this.stopped) return;
    if (ms <= 0) return this.add(key);
    const at = Date.now() + ms;
    const cur = this.timers.get(key);
    if (cur && cur.at <= at) return;
    if (cur) clearTimeout(cur.t);
    const t = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms);
    (t as any).unref?.();
    this.timers.set(key, { at, t });
  }

  /** Retry with back-off (a failure without an exception, e.g. "not yet"). */
  addRateLimited(key: string): void {
    const n = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, n);
    this.metrics?.retried();
    this.addAfter(key, Math.min(5 * 2 ** n, this.maxDelayMs));
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  get length(): number {
    return this.pending.size + this.active.size;
  }

  /** Resolves when nothing is pending or running (tests). */
  idle(): Promise<void> {
    if (this.pending.size === 0 && this.active.size === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private pump(): void {
    if (this.stopped) return;
    while (this.workers < this.concurrency && this.pending.size) {
      const key = this.pending.values().next().value as string;
      this.pending.delete(key);
      this.active.add(key);
      this.workers++;
      this.metrics?.depth(this.pending.size);
      const started = performance.now();
      let p: Promise<void>;
      try {
        p = this.handler(key);
      } catch (e) {
        p = Promise.reject(e);
      }
      p.then(
        () => {},
        (e) => {
          if (this.stopped) return;
          this.onError(key, e);
          this.addRateLimited(key);
        },
      ).finally(() => {
        this.metrics?.worked((performance.now() - started) / 1000);
        this.workers--;
        this.active.delete(key);
        if (this.dirty.delete(key)) this.pending.add(key);
        this.schedulePump();
        if (this.pending.size === 0 && this.active.size === 0) {
          const w = this.idleWaiters;
          this.idleWaiters = [];
          for (const f of w) f();
        }
      });
    }
  }

  stop(): void {
    this.stopped = true;
    this.pending.clear();
    this.dirty.clear();
    for (const { t } of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }
}
