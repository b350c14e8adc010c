// Events (core/v1) aggregated like client-go's EventRecorder: the same involved object,
// type, reason and message bump `count` and `lastTimestamp` of one Event instead of creating
// another. Writes are asynchronous, bounded (a full buffer drops, as Kubernetes' broadcaster
// does) and rate limited per involved object (burst 25, then one per 5 minutes... relaxed to
// one per 10 s here so a long-running retry loop still shows its latest state).
import { timestamp } from "../../registry/meta";
import { CONTROLLER_MANAGER_USER } from "../../registry/ctx";
import type { Registry } from "../../registry/registry";
import { Api } from "./api";

interface Pending {
  key: string;
  obj: any;
  type: "Normal" | "Warning";
  reason: string;
  message: string;
  component: string;
  host?: string;
  at: string;
}

interface Bucket {
  tokens: number;
  last: number;
}

const MAX_BUFFER = 1000;
const BURST = 25;
const REFILL_MS = 10_000;

export class EventRecorder {
  private api: Api;
  private buffer: Pending[] = [];
  private cache = new Map<string, { ns: string; name: string; count: number }>();
  private buckets = new Map<string, Bucket>();
  private inflight = 0;
  private stopped = false;
  private seq = 0;

  constructor(registry: Registry, private readonly concurrency = 8) {
    this.api = new Api(registry, CONTROLLER_MANAGER_USER, "skiff-event-recorder");
  }

  /** Record an event about obj (any API object with kind/apiVersion/metadata). */
  record(obj: any, type: "Normal" | "Warning", reason: string, message: string, component: string, host?: string): void {
    if (this.stopped || !obj?.metadata?.name) return;
    const m = obj.metadata;
    const objId = `${obj.kind}|${m.namespace ?? ""}|${m.name}|${m.uid ?? ""}`;
    if (!this.allow(objId)) return;
    if (this.buffer.length >= MAX_BUFFER) return;
    const key = `${objId}|${type}|${reason}|${message}|${component}`;
    this.buffer.push({ key, obj, type, reason, message, component, host, at: timestamp() });
    this.pump();
  }

  private allow(id: string): boolean {
    const now = Date.now();
    let b = this.buckets.get(id);
    if (!b) {
      if (this.buckets.size > 10_000) this.buckets.clear();
      this.buckets.set(id, (b = { tokens: BURST, last: now }));
    }
    b.tokens = Math.min(BURST, b.tokens + (now - b.last) / REFILL_MS);
    b.last = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  private pump(): void {
    while (this.inflight < this.concurrency && this.buffer.length) {
      const p = this.buffer.shift()!;
      this.inflight++;
      this.write(p)
        .catch(() => {})
        .finally(() => {
          this.inflight--;
          this.pump();
        });
    }
  }

  private async write(p: Pending): Promise<void> {
    const m = p.obj.metadata;
    const ns = m.namespace || "default";
    const prev = this.cache.get(p.key);
    if (prev) {
      const updated = await this.api.update("Event", prev.ns, prev.name, (ev) => {
        ev.count = (ev.count ?? 1) + 1;
        ev.lastTimestamp = p.at;
        return ev;
      });
      if (updated) {
        prev.count = updated.count;
        return;
      }
      this.cache.delete(p.key);
    }
    const name = `${m.name}.${(Date.now() * 1000 + (this.seq++ % 1000)).toString(16)}`;
    const ev = {
      metadata: { name, namespace: ns },
      involvedObject: { kind: p.obj.kind, namespace: m.namespace, name: m.name, uid: m.uid, apiVersion: p.obj.apiVersion, resourceVersion: m.resourceVersion },
      reason: p.reason,
      message: p.message,
      source: { component: p.component, ...(p.host ? { host: p.host } : {}) },
      firstTimestamp: p.at,
      lastTimestamp: p.at,
      count: 1,
      type: p.type,
      eventTime: null,
      reportingComponent: p.component,
      reportingInstance: p.host ?? "",
    };
    if (!ev.involvedObject.namespace) delete (ev.involvedObject as any).namespace;
    try {
      await this.api.create("Event", ns, ev);
    } catch {
      return; // namespace gone or terminating: nothing to tell
    }
    if (this.cache.size > 4096) this.cache.clear();
    this.cache.set(p.key, { ns, name, count: 1 });
  }

  /** Resolves when every buffered event has been written (tests). */
  async flush(): Promise<void> {
    while (this.buffer.length || this.inflight) await new Promise((r) => setTimeout(r, 5));
  }

  stop(): void {
    this.stopped = true;
    this.buffer = [];
  }
}
