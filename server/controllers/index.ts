// Start and stop every in-process controller (and the scheduler) as one unit, so leadership
// changes can move them: `const c = startControllers(registry); ... await c.stop();`
import type { Registry } from "../registry/registry";
import { Scheduler, type SchedulerOptions } from "../scheduler/scheduler";
import { ApiServerEndpoints } from "./apiserver-endpoints";
import { CronJobController } from "./cronjob";
import { CsrCleanerController } from "./csr-cleaner";
import { CsrSigningController } from "./csr-signing";
import type { KeyPairPem } from "../tls/pki";
import { CrdCleanupController } from "./crd-cleanup";
import { DaemonSetController } from "./daemonset";
import { DeploymentController } from "./deployment";
import { DisruptionController } from "./disruption";
import { EndpointsController } from "./endpoints";
import { EndpointSliceController } from "./endpointslice";
import { EventTtlController } from "./event-ttl";
import { HorizontalPodAutoscalerController } from "./hpa";
import { GarbageCollector } from "./garbage-collector";
import { JobController } from "./job";
import { NamespaceController } from "./namespace";
import { NodeLifecycleController } from "./node-lifecycle";
import { PodGCController } from "./podgc";
import { REPLICATION_CONTROLLER, ReplicaSetController } from "./replicaset";
import { ResourceQuotaController } from "./resourcequota";
import { defaultOptions, type Controller, type ControllerOptions, type ControllerContext, type PodMetricsSource } from "./runtime/controller";
import { EventRecorder } from "./runtime/events";
import { InformerFactory } from "./runtime/informer";
import { RootCaPublisher } from "./root-ca-publisher";
import { ServiceAccountController } from "./serviceaccount";
import { ServiceLBController } from "./servicelb";
import { IngressStatusController } from "./ingress-status";
import { StatefulSetController } from "./statefulset";
import { StorageProtectionController } from "./storage-protection";
import { VolumeBinderController } from "./volume-binder";

export interface StartOptions extends Partial<ControllerOptions> {
  /** Run the scheduler too (default true). */
  scheduler?: boolean | Partial<SchedulerOptions>;
  /** Only these controllers (by name); default all. */
  only?: string[];
  /** All but these. */
  skip?: string[];
  /** API URLs of the live servers, for the `default/kubernetes` Endpoints (omitted: not kept). */
  apiServers?: () => string[];
  /** The cluster CA (PEM) published as kube-root-ca.crt in every namespace (omitted: not published). */
  rootCaPem?: string;
  /** The cluster CA with its key: the CSR signing controller signs with it (omitted: not run). */
  signingCa?: KeyPairPem;
  /** Pod resource usage for the HPA controller (server/main.ts asks the agents' tunnels). */
  podMetrics?: PodMetricsSource;
}

export interface RunningControllers {
  runtime: ControllerContext;
  controllers: Controller[];
  scheduler?: Scheduler;
  stop(): Promise<void>;
}

/** Every controller by name; undefined when its options say it does not run. */
const ALL: Record<string, (rt: ControllerContext, o: StartOptions) => Controller | undefined> = {
  replicaset: (rt) => new ReplicaSetController(rt),
  replicationcontroller: (rt) => new ReplicaSetController(rt, REPLICATION_CONTROLLER),
  deployment: (rt) => new DeploymentController(rt),
  statefulset: (rt) => new StatefulSetController(rt),
  daemonset: (rt) => new DaemonSetController(rt),
  job: (rt) => new JobController(rt),
  cronjob: (rt) => new CronJobController(rt),
  serviceaccount: (rt) => new ServiceAccountController(rt),
  csrsigning: (rt, o) => (o.signingCa ? new CsrSigningController(rt, o.signingCa) : undefined),
  csrcleaner: (rt) => new CsrCleanerController(rt),
  rootcacertpublisher: (rt, o) => (o.rootCaPem ? new RootCaPublisher(rt, o.rootCaPem) : undefined),
  nodelifecycle: (rt) => new NodeLifecycleController(rt),
  podgc: (rt) => new PodGCController(rt),
  volumebinder: (rt) => new VolumeBinderController(rt),
  endpoints: (rt) => new EndpointsController(rt),
  endpointslice: (rt) => new EndpointSliceController(rt),
  garbagecollector: (rt) => new GarbageCollector(rt),
  namespace: (rt) => new NamespaceController(rt),
  crdcleanup: (rt) => new CrdCleanupController(rt),
  eventttl: (rt) => new EventTtlController(rt),
  disruption: (rt) => new DisruptionController(rt),
  horizontalpodautoscaling: (rt) => new HorizontalPodAutoscalerController(rt),
  resourcequota: (rt) => new ResourceQuotaController(rt),
  storageprotection: (rt) => new StorageProtectionController(rt),
  apiserverendpoints: (rt, o) => (o.apiServers ? new ApiServerEndpoints(rt, o.apiServers) : undefined),
  servicelb: (rt) => new ServiceLBController(rt),
  ingressstatus: (rt) => new IngressStatusController(rt),
};

export function startControllers(registry: Registry, opts: StartOptions = {}): RunningControllers {
  const store = registry.store;
  const { scheduler: schedOpt, only, skip = [], apiServers, podMetrics, ...rest } = opts;
  const o: ControllerOptions = { ...defaultOptions(), ...Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)) } as ControllerOptions;
  const informers = new InformerFactory(store);
  const events = new EventRecorder(registry);
  const rt: ControllerContext = { store, registry, informers, events, opts: o, podMetrics };
  const names = (only ?? Object.keys(ALL)).filter((n) => !skip.includes(n));
  const controllers = names.flatMap((n) => ALL[n]?.(rt, opts) ?? []);
  const want = (n: string) => (!only || only.includes(n)) && !skip.includes(n);
  const wantSched = schedOpt !== false && want("scheduler");
  const scheduler = wantSched ? new Scheduler(rt, typeof schedOpt === "object" ? schedOpt : {}) : undefined;
  informers.start();
  for (const c of controllers) void c.run();
  scheduler?.start();
  return {
    runtime: rt,
    controllers,
    scheduler,
    async stop() {
      scheduler?.stop();
      for (const c of controllers) c.stop();
      events.stop();
      informers.stop();
    },
  };
}
