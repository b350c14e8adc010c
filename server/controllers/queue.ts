// A keyed work queue: each key is processed by one worker at a time, duplicates collapse,
// failures retry with exponential back-off (5 ms doubling to 60 s, like client-go's default).
export class WorkQueue {
  private pending = new Set<string>();
  private active = new Set<string>();
  private dirty = new Set<string>();
  private failures = new Map<string, number>();
  private running = 0;
  private stopped = false;

  constructor(
    private readonly handler: (key: string) => Promise<void>,
    private readonly concurrency = 4,
    private readonly onError: (key: string, e: unknown) => void = () => {},
  ) {}

  add(key: string): void {
    if (this.stopped) return;
    if (this.active.has(key)) {
      this.dirty.add(key);
      return;
    }
    this.pending.add(key);
    this.pump();
  }

  private pump(): void {
    while (this.running < this.concurrency && this.pending.size) {
      const key = this.pending.values().next().value as string;
      this.pending.delete(key);
      this.active.add(key);
      this.running++;
      this.handler(key)
        .then(
          () => this.failures.delete(key),
          (e) => {
            const n = (this.failures.get(key) ?? 0) + 1;
            this.failures.set(key, n);
            this.onError(key, e);
            const delay = Math.min(5 * 2 ** n, 60_000);
            setTimeout(() => this.add(key), delay).unref?.();
          },
        )
        .finally(() => {
          this.running--;
          this.active.delete(key);
          if (this.dirty.delete(key)) this.pending.add(key);
          this.pump();
        });
    }
  }

  stop(): void {
    this.stopped = true;
    this.pending.clear();
  }
}
