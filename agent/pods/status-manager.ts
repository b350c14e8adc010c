// Writes pod statuses to the API (PATCH pods/<name>/status, JSON merge patch), only when they
// changed, latest value per pod wins, a few writes in flight. While the server is unreachable the
// newest status per pod waits here and is written when the server answers again.

import { isNotFound, isUnreachable, podPath, type AgentApi } from "../api-client.ts";
import type { Pod, PodStatus } from "./types.ts";

interface Pending {
  ns: string;
  name: string;
  uid: string;
  status: PodStatus;
  /** Status as last known on the server (to null out keys that went away). */
  base: PodStatus | undefined;
}

// Code-unit order, not localeCompare: the collator would page ~2 MB of ICU into the idle agent.
const byKey = ([a]: [string, unknown], [b]: [string, unknown]) => (a < b ? -1 : a > b ? 1 : 0);
const stable = (v: unknown) => JSON.stringify(v, (_k, x) => (x && typeof x === "object" && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(byKey)) : x));

/** Keys of `want` whose values differ from `have`. */
function changedKeys(want: PodStatus, have: PodStatus | undefined): string[] {
  return Object.keys(want).filter((k) => stable(want[k]) !== stable(have?.[k]));
}

export interface StatusManagerOptions {
  /** Status writes in flight at once (default 16: a burst of pod starts must not queue). */
  concurrency?: number;
  log?: (msg: string) => void;
  /** Called with true/false when writes start failing / succeed again. */
  onConnectivity?: (online: boolean) => void;
}

export class StatusManager {
  private readonly pending = new Map<string, Pending>();
  /** uid → status the server acknowledged last. */
  private readonly acked = new Map<string, PodStatus>();
  private running = 0;
  private readonly inflight = new Set<string>();
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private retryMs = 500;
  private closed = false;
  writes = 0;

  constructor(
    private readonly api: AgentApi,
    private readonly o: StatusManagerOptions = {},
  ) {}

  /** Queues the status if it differs from what the server has. */
  set(pod: Pod, status: PodStatus): void {
    const uid = pod.metadata.uid;
    const base = this.acked.get(uid) ?? pod.status;
    if (changedKeys(status, base).length === 0 && !this.pending.has(uid)) return;
    const p = this.pending.get(uid);
    if (p && stable(p.status) === stable(status)) return;
    this.pending.set(uid, { ns: pod.metadata.namespace ?? "default", name: pod.metadata.name, uid, status, base });
    this.pump();
  }

  /** The server's copy changed (watch event): use it as the base for the next comparison. */
  observed(pod: Pod): void {
    if (pod.status) this.acked.set(pod.metadata.uid, pod.status);
  }

  forget(uid: string): void {
    this.pending.delete(uid);
    this.acked.delete(uid);
  }

  get queued(): number {
    return this.pending.size;
  }

  /** Resolves when nothing is pending (or after timeoutMs). */
  async flush(timeoutMs = 10_000): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    while ((this.pending.size || this.running) && Date.now() < end) await Bun.sleep(20);
    return this.pending.size === 0 && this.running === 0;
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
  }

  private pump(): void {
    if (this.closed || this.retryTimer) return;
    const max = this.o.concurrency ?? 16;
    for (const [uid, p] of this.pending) {
      if (this.running >= max) return;
      if (this.inflight.has(uid)) continue;
      this.inflight.add(uid);
      this.running++;
      this.write(p).then((retry) => {
        this.running--;
        this.inflight.delete(uid);
        if (this.pending.get(uid) === p && !retry) this.pending.delete(uid);
        if (retry) this.scheduleRetry();
        else this.pump();
      });
    }
  }

  /** Returns true when the write should be retried later (server unreachable). */
  private async write(p: Pending): Promise<boolean> {
    const body: Record<string, unknown> = { ...p.status };
    for (const k of Object.keys(p.base ?? {})) if (!(k in body) && ["podIP", "podIPs", "reason", "message", "initContainerStatuses", "startTime"].includes(k)) body[k] = null;
    try {
      const pod = await this.api.mergePatch<Pod>(podPath(p.ns, p.name) + "/status", { status: body });
      this.writes++;
      this.acked.set(p.uid, pod?.metadata?.uid === p.uid && pod.status ? pod.status : p.status);
      if (this.retryMs !== 500) this.o.onConnectivity?.(true);
      this.retryMs = 500;
      return false;
    } catch (e) {
      if (isNotFound(e)) return false; // the pod is gone: nothing to report
      if (isUnreachable(e)) {
        if (this.retryMs === 500) this.o.onConnectivity?.(false);
        return true;
      }
      this.o.log?.(`pod ${p.ns}/${p.name}: status update failed: ${(e as Error).message}`);
      return false;
    }
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.closed) return;
    const ms = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, 10_000);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.pump();
    }, ms);
  }
}
