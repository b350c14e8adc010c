// A bounded in-memory window of recent change events, the source of every watch.
import type { ResKey } from "./commands";

export type EventType = "ADDED" | "MODIFIED" | "DELETED";

export interface ChangeEvent {
  rev: number;
  type: EventType;
  res: ResKey;
  ns: string;
  name: string;
  /** The object after the change (for DELETED: the last state, at the delete revision). */
  obj: any;
  /** The object before the change, when known (undefined for ADDED or events reloaded from disk). */
  prev?: any;
  /** True if `prev` is authoritative (the event was applied in this process). */
  hasPrev: boolean;
}

export class WatchWindow {
  private buf: ChangeEvent[] = [];
  private head = 0; // index of the oldest event in buf (ring as array + offset, compacted lazily)
  /** Events with rev > floor are all in the window; a watch from rev < floor is Expired. */
  floor: number;

  constructor(
    readonly capacity: number,
    floor: number,
  ) {
    this.floor = floor;
  }

  push(ev: ChangeEvent): void {
    this.buf.push(ev);
    if (this.buf.length - this.head > this.capacity) {
      this.floor = this.buf[this.head]!.rev;
      this.head++;
      if (this.head > 4096 && this.head * 2 > this.buf.length) {
        this.buf = this.buf.slice(this.head);
        this.head = 0;
      }
    }
  }

  /** Events with rev > from, oldest first; undefined if some of them are no longer kept. */
  since(from: number): ChangeEvent[] | undefined {
    if (from < this.floor) return undefined;
    // binary search for the first rev > from
    let lo = this.head;
    let hi = this.buf.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.buf[mid]!.rev <= from) lo = mid + 1;
      else hi = mid;
    }
    return this.buf.slice(lo);
  }

  get size(): number {
    return this.buf.length - this.head;
  }
}
