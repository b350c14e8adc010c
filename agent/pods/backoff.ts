// Exponential back-off per key (container restarts, image pulls), like kubelet's flowcontrol
// Backoff: the first retry is immediate, then 10 s doubling up to 5 min; an entry that has not
// been used for twice the maximum starts over.

export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
}

interface Entry {
  delayMs: number;
  lastUpdate: number;
}

export class Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
  private readonly entries = new Map<string, Entry>();

  constructor(o: BackoffOptions = {}, private readonly now: () => number = Date.now) {
    this.initialMs = o.initialMs ?? 10_000;
    this.maxMs = o.maxMs ?? 300_000;
  }

  private entry(key: string): Entry | undefined {
    const e = this.entries.get(key);
    if (e && this.now() - e.lastUpdate > 2 * this.maxMs) {
      this.entries.delete(key);
      return undefined;
    }
    return e;
  }

  /** Current delay for key (0 when there is none). */
  delay(key: string): number {
    return this.entry(key)?.delayMs ?? 0;
  }

  /** Is key still backing off for an event at `since` (ms)? Returns the ms left, or 0. */
  remaining(key: string, since: number): number {
    const e = this.entry(key);
    if (!e) return 0;
    const left = since + e.delayMs - this.now();
    return left > 0 ? left : 0;
  }

  /** Records an attempt: the next delay doubles (or starts at initialMs). */
  next(key: string): number {
    const e = this.entry(key);
    const delayMs = e ? Math.min(e.delayMs * 2, this.maxMs) : this.initialMs;
    this.entries.set(key, { delayMs, lastUpdate: this.now() });
    return delayMs;
  }

  reset(key: string): void {
    this.entries.delete(key);
  }

  deletePrefix(prefix: string): void {
    for (const k of this.entries.keys()) if (k.startsWith(prefix)) this.entries.delete(k);
  }
}
