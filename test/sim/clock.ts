// Simulated time for the real node driver. One scheduler orders every timer and "later in
// the event loop" callback of every simulated process by (time, sequence); after each one
// the microtask queue is drained (bun:jsc drainMicrotasks), as the event loop does, so
// promise continuations run exactly where they would — and a seed replays exactly.
import { drainMicrotasks } from "bun:jsc";
import type { Clock, Timer } from "../../server/raft/node/clock";
import type { Rng } from "./rng";

interface Task {
  at: number;
  seq: number;
  owner: Process | undefined;
  incarnation: number;
  fn: () => void;
  cancelled: boolean;
  /** For every(): the interval. */
  every?: number;
}

/** A simulated OS process: its timers die with it (crash) and wait while it is stopped (SIGSTOP). */
export interface Process {
  incarnation: number;
  pausedUntil: number;
}

export class Scheduler {
  now = 0;
  private heap: Task[] = [];
  private seq = 0;
  tasksRun = 0;

  /** `incarnation`: the owner's life the task belongs to (default: the current one). */
  schedule(owner: Process | undefined, at: number, fn: () => void, every?: number, incarnation = owner?.incarnation ?? 0): Task {
    const t: Task = { at, seq: this.seq++, owner, incarnation, fn, cancelled: false, every };
    this.push(t);
    return t;
  }

  /** Run every task due at or before `until` (including those they schedule), draining microtasks after each. */
  runUntil(until: number, onAfterTask: () => void, maxTasks: number): void {
    let n = 0;
    while (this.heap.length > 0 && this.heap[0]!.at <= until) {
      const t = this.pop()!;
      if (t.cancelled) continue;
      const p = t.owner;
      if (p && p.incarnation !== t.incarnation) continue; // the process died
      if (p && p.pausedUntil > t.at) {
        // Stopped: it runs when the process resumes, in the order it was due.
        t.at = p.pausedUntil;
        t.seq = this.seq++;
        this.push(t);
        continue;
      }
      if (++n > maxTasks) throw new Error(`more than ${maxTasks} tasks due at t=${until}: livelock`);
      if (t.every !== undefined) {
        t.at += t.every;
        t.seq = this.seq++;
        this.push(t);
      }
      this.tasksRun++;
      t.fn();
      drainMicrotasks();
      onAfterTask();
    }
  }

  private push(t: Task): void {
    const h = this.heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): Task | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l]!, h[m]!)) m = l;
        if (r < h.length && before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

function before(a: Task, b: Task): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/**
 * One process's view of time. Ticks are skewed like a real clock under load: now and then
 * one is skipped or doubled.
 */
export class SimClock implements Clock {
  /** This clock's process life: timers set by a process that has since died never fire. */
  private readonly life: number;

  constructor(
    private readonly sched: Scheduler,
    private readonly proc: Process,
    private readonly rng: Rng,
    private readonly skew: number,
  ) {
    this.life = proc.incarnation;
  }

  now(): number {
    return this.sched.now;
  }

  after(ms: number, fn: () => void): Timer {
    return this.sched.schedule(this.proc, this.sched.now + Math.max(0, ms), fn, undefined, this.life);
  }

  every(ms: number, fn: () => void): Timer {
    const first = this.sched.now + ms - this.rng.int(ms); // processes tick out of phase
    return this.sched.schedule(
      this.proc,
      first,
      () => {
        const x = this.rng.next();
        if (x < this.skew) return;
        fn();
        if (x > 1 - this.skew) fn();
      },
      ms,
      this.life,
    );
  }

  cancel(t: Timer | undefined): void {
    if (t) (t as Task).cancelled = true;
  }

  soon(fn: () => void): void {
    this.sched.schedule(this.proc, this.sched.now, fn, undefined, this.life);
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.after(ms, resolve));
  }
}
