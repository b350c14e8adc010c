// What every controller shares: the store, the shared informers, the event recorder and
// options, plus a base class that owns a work queue and calls reconcile(key).
import { controllerUser } from "../../registry/ctx";
import type { Registry } from "../../registry/registry";
import type { Store } from "../../store/store";
import { Api } from "./api";
import type { EventRecorder } from "./events";
import type { ResKey } from "../../store/commands";
import { waitForCacheSync, type Informer, type InformerFactory } from "./informer";
import { WorkQueue } from "./queue";

export interface ControllerOptions {
  /** Lease/heartbeat age after which a node is Unknown (Kubernetes: 40 s). */
  nodeMonitorGracePeriodMs: number;
  /** Toleration seconds for not-ready/unreachable when a pod has none (DefaultTolerationSeconds: 300). */
  defaultTolerationSeconds: number;
  /** Job pod-failure back-off base (Kubernetes: 10 s, doubling, capped at 6 min). */
  jobBackoffBaseMs: number;
  /** How long an Event is kept after it last happened (kube-apiserver --event-ttl: 1 h). */
  eventTtlMs: number;
  /** Where local-path volumes live on nodes. */
  localPathRoot: string;
  /** How often each HorizontalPodAutoscaler is evaluated (--horizontal-pod-autoscaler-sync-period: 15 s). */
  hpaSyncPeriodMs: number;
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
    eventTtlMs: env("SKIFF_EVENT_TTL_SECONDS", 3600) * 1000,
    localPathRoot: process.env.SKIFF_LOCAL_PATH_ROOT ?? "/var/lib/skiff/storage",
    hpaSyncPeriodMs: env("SKIFF_HPA_SYNC_SECONDS", 15) * 1000,
    now: () => Date.now(),
  };
}

export interface ControllerContext {
  /** registry.store: what informers read. */
  store: Store;
  /** Every write goes through it, as the controller's own user. */
  registry: Registry;
  informers: InformerFactory;
  events: EventRecorder;
  opts: ControllerOptions;
  /** Resource usage of pods from their agents (the HPA's metrics client); absent: no metrics. */
  podMetrics?: PodMetricsSource;
}

/** One container's usage sample, as the agents report it for metrics.k8s.io. */
export interface ContainerUsage {
  name: string;
  timestamp: string;
  windowMs: number;
  cpuNanoCores: number;
  memoryBytes: number;
}

/** Usage of the given pods, by pod uid; pods whose node cannot be asked are left out. */
export type PodMetricsSource = (pods: any[]) => Promise<Map<string, ContainerUsage[]>>;

export abstract class Controller {
  readonly queue: WorkQueue;
  readonly api: Api;
  /** The informers this controller reads: run() waits until each has synced. */
  private readonly reads = new Set<Informer>();
  private stopped = false;

  constructor(
    readonly rt: ControllerContext,
    readonly name: string,
    concurrency = 4,
  ) {
    this.api = new Api(rt.registry, controllerUser(`${name}-controller`), `skiff-${name}-controller`);
    this.queue = new WorkQueue((k) => this.reconcile(k), concurrency, (k, e) => {
      if ((e as any)?.code === 409) return; // lost a race: the retry sees fresh state
      console.error(`${name} controller: ${k}: ${(e as Error)?.stack ?? e}`);
    }, undefined, name);
  }

  abstract reconcile(key: string): Promise<void>;

  /** The shared informer for res, recorded as one this controller reads. */
  protected informer(res: ResKey): Informer {
    const i = this.rt.informers.for(res);
    this.reads.add(i);
    return i;
  }

  /** The shared metadata-only informer for res, recorded as one this controller reads. */
  protected metadataInformer(res: ResKey): Informer {
    const i = this.rt.informers.metadata(res);
    this.reads.add(i);
    return i;
  }

  /**
   * Wait until every informer this controller reads has synced, then start reconciling: a
   * reconcile against a half-listed cache would act on a wrong picture (a ReplicaSet whose pods
   * are not listed yet looks empty and gets a second set).
   */
  async run(): Promise<void> {
    await waitForCacheSync(this.reads);
    if (this.stopped) return;
    this.onSynced();
    this.queue.run();
  }

  /** Called once the caches are filled, before the first reconcile (enqueue leftovers here). */
  protected onSynced(): void {}

  stop(): void {
    this.stopped = true;
    this.queue.stop();
  }

  protected record(obj: any, type: "Normal" | "Warning", reason: string, message: string): void {
    this.rt.events.record(obj, type, reason, message, `${this.name}-controller`);
  }

  now(): number {
    return this.rt.opts.now();
  }
}
