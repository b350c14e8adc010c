// Events expire (Kubernetes' --event-ttl, default 1 h), so a busy cluster's database stays
// bounded. A sweep a minute deletes events whose last occurrence is older than the TTL.
import { findByKind } from "../../schemas/registry";
import { ApiError } from "../errors";
import { controllerUser, writeCtx } from "../registry/ctx";
import type { Registry } from "../registry/registry";

export function eventTtlMs(): number {
  const s = Number(process.env.SKIFF_EVENT_TTL_SECONDS);
  return Number.isFinite(s) && s > 0 ? s * 1000 : 3600_000;
}

function lastSeen(e: any): number {
  const t = e.series?.lastObservedTime ?? e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? e.metadata?.creationTimestamp;
  const ms = t ? Date.parse(t) : NaN;
  return Number.isFinite(ms) ? ms : 0;
}

export class EventTtlController {
  private timer: ReturnType<typeof setInterval>;
  private running = false;

  constructor(
    private readonly registry: Registry,
    private readonly ttlMs = eventTtlMs(),
    everyMs = 60_000,
  ) {
    this.timer = setInterval(() => void this.sweep(), everyMs);
    this.timer.unref?.();
  }

  /** Delete expired events; returns how many. */
  async sweep(now = Date.now()): Promise<number> {
    if (this.running) return 0;
    this.running = true;
    const r = findByKind("v1", "Event")!;
    const ctx = writeCtx(controllerUser("event-ttl-controller"), "skiff-event-ttl");
    let n = 0;
    try {
      for (const e of this.registry.store.list("events", undefined).items) {
        if (now - lastSeen(e) < this.ttlMs) continue;
        try {
          await this.registry.delete(ctx, r, e.metadata.namespace, e.metadata.name, {});
          n++;
        } catch (err) {
          if (!(err instanceof ApiError && err.code === 404)) throw err;
        }
      }
    } finally {
      this.running = false;
    }
    return n;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
