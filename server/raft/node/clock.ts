// Time as the node driver sees it. The driver never calls Date, setTimeout, setImmediate or
// Bun.sleep itself: production passes the event loop (realClock), the deterministic
// simulator (test/sim) a simulated one whose every timer is ordered by its seed.

export type Timer = { readonly _timer: unique symbol } | object;

export interface Clock {
  now(): number;
  /** Run fn once after ms. */
  after(ms: number, fn: () => void): Timer;
  /** Run fn every ms. */
  every(ms: number, fn: () => void): Timer;
  cancel(t: Timer | undefined): void;
  /** Run fn in a later turn of the event loop, after the work queued in this one (setImmediate). */
  soon(fn: () => void): void;
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  after: (ms, fn) => setTimeout(fn, ms),
  every: (ms, fn) => setInterval(fn, ms),
  cancel: (t) => clearTimeout(t as ReturnType<typeof setTimeout> | undefined),
  soon: (fn) => void setImmediate(fn),
  sleep: (ms) => Bun.sleep(ms),
};
