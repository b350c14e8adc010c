// The leader's view of each follower, and the flow control that goes with it.
//
//  probe:     we don't know where the follower's log matches; send one append at a time
//             (paused until a response or a heartbeat response arrives).
//  replicate: steady state; appends are pipelined optimistically (next advances on send)
//             up to a window of in-flight messages / bytes.
//  snapshot:  the follower needs a snapshot; appends stop, snapshot chunks are sent one at a
//             time (acknowledged by snapResp, retransmitted on heartbeat responses).
import type { NodeId, Snapshot } from "./types";

/** Sliding window of in-flight append messages (by last index and byte size). */
export class Inflights {
  private items: { index: number; bytes: number }[] = [];
  private head = 0;
  private bytes = 0;

  constructor(
    readonly size: number,
    readonly maxBytes: number,
  ) {}

  count(): number {
    return this.items.length - this.head;
  }

  add(index: number, bytes: number): void {
    this.items.push({ index, bytes });
    this.bytes += bytes;
  }

  /** Free everything with index <= to. */
  freeLE(to: number): void {
    while (this.head < this.items.length && this.items[this.head]!.index <= to) {
      this.bytes -= this.items[this.head]!.bytes;
      this.head++;
    }
    this.compactIfNeeded();
  }

  freeFirstOne(): void {
    if (this.head < this.items.length) {
      this.bytes -= this.items[this.head]!.bytes;
      this.head++;
    }
    this.compactIfNeeded();
  }

  private compactIfNeeded(): void {
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 64) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }

  full(): boolean {
    return this.count() >= this.size || (this.maxBytes > 0 && this.bytes >= this.maxBytes);
  }

  reset(): void {
    this.items = [];
    this.head = 0;
    this.bytes = 0;
  }
}

export type ProgressState = "probe" | "replicate" | "snapshot";

export class Progress {
  /** Highest index known to be replicated on the follower. */
  match = 0;
  /** Next index to send. */
  next: number;
  state: ProgressState = "probe";
  /** In probe state: an append is outstanding, wait for a response before the next one. */
  msgAppFlowPaused = false;
  /** Heard from since the last check-quorum round. */
  recentActive = true;
  isLearner: boolean;
  readonly inflights: Inflights;
  /** snapshot state: the index being sent, the snapshot, and bytes acknowledged so far. */
  pendingSnapshot = 0;
  snap: Snapshot | undefined;
  snapAcked = 0;

  constructor(
    readonly id: NodeId,
    next: number,
    isLearner: boolean,
    maxInflight: number,
    maxInflightBytes: number,
  ) {
    this.next = next;
    this.isLearner = isLearner;
    this.inflights = new Inflights(maxInflight, maxInflightBytes);
  }

  private resetState(state: ProgressState): void {
    this.msgAppFlowPaused = false;
    this.pendingSnapshot = 0;
    this.snap = undefined;
    this.snapAcked = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    if (this.state === "snapshot") {
      const pending = this.pendingSnapshot;
      this.resetState("probe");
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState("probe");
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState("replicate");
    this.next = this.match + 1;
  }

  becomeSnapshot(snap: Snapshot): void {
    this.resetState("snapshot");
    this.pendingSnapshot = snap.metadata.index;
    this.snap = snap;
  }

  /** An append acknowledged up to n. Returns false if the acknowledgement is stale. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.msgAppFlowPaused = false;
    }
    this.next = Math.max(this.next, n + 1);
    return updated;
  }

  /** Record an append of `entries` entries (last index lastIndex) just sent. */
  sentEntries(entries: number, lastIndex: number, bytes: number): void {
    if (this.state === "replicate") {
      if (entries > 0) {
        this.next = lastIndex + 1;
        this.inflights.add(lastIndex, bytes);
      }
      // An empty append (commit update) needs no window slot.
    } else if (this.state === "probe") {
      this.msgAppFlowPaused = true;
    }
  }

  /**
   * The follower rejected an append at index `rejected`; matchHint is our best guess of
   * where the logs agree. Returns false if the rejection is stale.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === "replicate") {
      if (rejected <= this.match) return false; // stale
      this.next = this.match + 1;
      return true;
    }
    if (this.state === "snapshot") return false;
    // probe: only the outstanding probe (at next-1) can be rejected meaningfully.
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1, 1);
    this.msgAppFlowPaused = false;
    return true;
  }

  isPaused(): boolean {
    switch (this.state) {
      case "probe":
        return this.msgAppFlowPaused;
      case "replicate":
        return this.inflights.full();
      case "snapshot":
        return true;
    }
  }
}
