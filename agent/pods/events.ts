// Pod events (core/v1 Event) as kubelet records them, for what a user looks for in
// `kubectl describe pod`: failed mounts and hooks, unhealthy probes, kills, back-off, image and
// config errors, and the normal Pulled/Created/Started/Killing trail. Like client-go's recorder:
// a repeat of the same event bumps `count` on one Event instead of creating another, and a token
// bucket per pod (burst 25, one more every 5 minutes, client-go's spam filter) keeps a failing
// probe or a crash loop from turning into a steady stream of writes. Writes are fire and forget: an agent that cannot
// reach the server drops them (the pod status says the same thing and is kept).

import { nsPath, type AgentApi } from "../api-client.ts";
import type { Pod } from "./types.ts";

const BURST = 25;
const REFILL_MS = 300_000;
/** Repeats of one event are written at most this often (their count in between is kept). */
const REPEAT_MS = 10_000;
/** A repeat within this window updates the existing Event (client-go: 10 min). */
const AGGREGATE_MS = 10 * 60_000;
const MAX_INFLIGHT = 8;
const MAX_KEYS = 4096;

interface Known {
  name: string;
  count: number;
  /** When the server last got this event. */
  writtenAt: number;
}

export class PodEvents {
  private readonly known = new Map<string, Known>();
  private readonly buckets = new Map<string, { tokens: number; last: number }>();
  private inflight = 0;
  private seq = 0;

  constructor(private readonly api: AgentApi) {}

  /** Records an event; `container` sets involvedObject.fieldPath like kubelet does. */
  record(pod: Pod, type: "Normal" | "Warning", reason: string, message: string, container?: { name: string; init: boolean; ephemeral?: boolean }): void {
    const uid = pod.metadata.uid;
    const list = container?.ephemeral ? "ephemeralContainers" : container?.init ? "initContainers" : "containers";
    const fieldPath = container ? `spec.${list}{${container.name}}` : undefined;
    const key = `${uid}|${type}|${reason}|${fieldPath ?? ""}|${message}`;
    const known = this.known.get(key);
    const now = Date.now();
    if (known && now - known.writtenAt < AGGREGATE_MS) {
      known.count++;
      // Repeats inside one refill period are only counted; the next write carries the count.
      if (now - known.writtenAt < REPEAT_MS || !this.take(uid, now) || this.inflight >= MAX_INFLIGHT) return;
      known.writtenAt = now;
      // Gone (event TTL) or refused: the next repeat creates a fresh Event.
      this.send(this.api.mergePatch(nsPath(pod.metadata.namespace ?? "default", "events", known.name), { count: known.count, lastTimestamp: ts(now) }), () => this.known.delete(key));
      return;
    }
    if (!this.take(uid, now) || this.inflight >= MAX_INFLIGHT) return;
    const ns = pod.metadata.namespace ?? "default";
    const name = `${pod.metadata.name}.${(now * 1000 + (this.seq++ % 1000)).toString(16)}`;
    if (this.known.size >= MAX_KEYS) this.known.clear();
    this.known.set(key, { name, count: 1, writtenAt: now });
    const host = pod.spec.nodeName ?? "";
    this.send(
      this.api.create(nsPath(ns, "events"), {
        apiVersion: "v1",
        kind: "Event",
        metadata: { name, namespace: ns },
        involvedObject: { kind: "Pod", apiVersion: "v1", namespace: ns, name: pod.metadata.name, uid, ...(fieldPath ? { fieldPath } : {}) },
        reason,
        message,
        type,
        source: { component: "kubelet", host },
        reportingComponent: "kubelet",
        reportingInstance: host,
        firstTimestamp: ts(now),
        lastTimestamp: ts(now),
        count: 1,
      }),
      () => this.known.delete(key),
    );
  }

  private take(uid: string, now: number): boolean {
    let b = this.buckets.get(uid);
    if (!b) {
      if (this.buckets.size >= MAX_KEYS) this.buckets.clear();
      this.buckets.set(uid, (b = { tokens: BURST, last: now }));
    }
    b.tokens = Math.min(BURST, b.tokens + (now - b.last) / REFILL_MS);
    b.last = now;
    if (b.tokens < 1) return false;
    b.tokens--;
    return true;
  }

  private send(p: Promise<unknown>, onError?: () => void): void {
    this.inflight++;
    p.catch(() => onError?.()).finally(() => this.inflight--);
  }

  /** The pod is gone: its keys and bucket go too. */
  forget(uid: string): void {
    this.buckets.delete(uid);
    for (const k of this.known.keys()) if (k.startsWith(uid + "|")) this.known.delete(k);
  }
}

function ts(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** One recorder per API connection: workers share it without a change to their wiring. */
const recorders = new WeakMap<AgentApi, PodEvents>();
export function podEvents(api: AgentApi): PodEvents {
  let r = recorders.get(api);
  if (!r) recorders.set(api, (r = new PodEvents(api)));
  return r;
}
