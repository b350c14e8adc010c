// What every controller shares: the store, the shared informers, the event recorder and
// options, plus a base class that owns a work queue and calls reconcile(key).
import type { Store } from "../../store/store";
import { Api } from "./api";
import type { EventRecorder } from "./events";
import type { InformerFactory } from "./informer";
import { WorkQueue } from "./queue";

export interface ControllerOptions {
  /** Lease/heartbeat age after which a node is Unknown (Kubernetes: 40 s). */
  nodeMonitorGracePeriodMs: number;
  /** Toleration seconds for not-ready/unreachable when a pod has none (DefaultTolerationSeconds: 300). */
  defaultTolerationSeconds: number;
  /** Job pod-failure back-off base (Kubernetes: 10 s, doubling, capped at 6 min). */
  jobBackoffBaseMs: number;
  /** Where local-path volumes live on nodes. */
  localPathRoot: string;
  /** Clock (tests). */
  now: () => number;
}

export function defaultOptions(): ControllerOptions {
  const env = (k: string, d: number) => {
    const v = Number(process.env[k]);
    return Number.isFinite(v) && v > 0 ? v : d;
  };
  return {
    nodeMonitorGracePeriodMs: env("SKIFF_NODE_MONITOR_GRACE_SECONDS", 40) * 1000,
    defaultTolerationSeconds: env("SKIFF_DEFAULT_TOLERATION_SECONDS", 300),
    jobBackoffBaseMs: env("SKIFF_JOB_BACKOFF_MS", 10_000),
    localPathRoot: process.env.SKIFF_LOCAL_PATH_ROOT ?? "/var/lib/skiff/storage",
    now: () => Date.now(),
  };
}

export interface Runtime {
  store: Store;
  informers: InformerFactory;
  events: EventRecorder;
  opts: ControllerOptions;
}

export abstract class Controller {
  readonly queue: WorkQueue;
  readonly api: Api;

  constructor(
    readonly rt: Runtime,
    readonly name: string,
    concurrency = 4,
  ) {
    this.api = new Api(rt.store, `skiff-${name}-controller`);
    this.queue = new WorkQueue((k) => this.reconcile(k), concurrency, (k, e) => {
      if ((e as any)?.code === 409) return; // lost a race: the retry sees fresh state
      console.error(`${name} controller: ${k}: ${(e as Error)?.stack ?? e}`);
    });
  }

  abstract reconcile(key: string): Promise<void>;

  /** Called once the shared informers have listed (enqueue the initial state here if needed). */
  start(): void {}

  stop(): void {
    this.queue.stop();
  }

  protected record(obj: any, type: "Normal" | "Warning", reason: string, message: string): void {
    this.rt.events.record(obj, type, reason, message, `${this.name}-controller`);
  }

  now(): number {
    return this.rt.opts.now();
  }
}
