// Start and stop every in-process controller (and the scheduler) as one unit, so leadership
// changes can move them: `const c = startControllers(store); ... await c.stop();`
import type { Store } from "../store/store";
import { Scheduler, type SchedulerOptions } from "../scheduler/scheduler";
import { ApiServerEndpoints } from "./apiserver-endpoints";
import { CronJobController } from "./cronjob";
import { DaemonSetController } from "./daemonset";
import { DeploymentController } from "./deployment";
import { EndpointsController } from "./endpoints";
import { EndpointSliceController } from "./endpointslice";
import { EventTtlController } from "./event-ttl";
import { GarbageCollector } from "./garbage-collector";
import { JobController } from "./job";
import { NamespaceController } from "./namespace";
import { NodeLifecycleController } from "./node-lifecycle";
import { PodGCController } from "./podgc";
import { ReplicaSetController } from "./replicaset";
import { Api } from "./runtime/api";
import { defaultOptions, type Controller, type ControllerOptions, type Runtime } from "./runtime/controller";
import { EventRecorder } from "./runtime/events";
import { InformerFactory } from "./runtime/informer";
import { ServiceAccountController } from "./serviceaccount";
import { ServiceLBController } from "./servicelb";
import { IngressStatusController } from "./ingress-status";
import { StatefulSetController } from "./statefulset";
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
}

export interface RunningControllers {
  runtime: Runtime;
  controllers: Controller[];
  scheduler?: Scheduler;
  stop(): Promise<void>;
}

const ALL: Record<string, (rt: Runtime) => Controller> = {
  replicaset: (rt) => new ReplicaSetController(rt),
  deployment: (rt) => new DeploymentController(rt),
  statefulset: (rt) => new StatefulSetController(rt),
  daemonset: (rt) => new DaemonSetController(rt),
  job: (rt) => new JobController(rt),
  cronjob: (rt) => new CronJobController(rt),
  serviceaccount: (rt) => new ServiceAccountController(rt),
  nodelifecycle: (rt) => new NodeLifecycleController(rt),
  podgc: (rt) => new PodGCController(rt),
  volumebinder: (rt) => new VolumeBinderController(rt),
  endpoints: (rt) => new EndpointsController(rt),
  endpointslice: (rt) => new EndpointSliceController(rt),
  servicelb: (rt) => new ServiceLBController(rt),
  ingressstatus: (rt) => new IngressStatusController(rt),
};

export function startControllers(store: Store, opts: StartOptions = {}): RunningControllers {
  const { scheduler: schedOpt, only, skip = [], apiServers, ...rest } = opts;
  const o: ControllerOptions = { ...defaultOptions(), ...Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)) } as ControllerOptions;
  const informers = new InformerFactory(store);
  const events = new EventRecorder(store);
  const rt: Runtime = { store, informers, events, opts: o };
  const names = (only ?? Object.keys(ALL)).filter((n) => !skip.includes(n));
  const controllers = names.filter((n) => ALL[n]).map((n) => ALL[n]!(rt));
  const want = (n: string) => (!only || only.includes(n)) && !skip.includes(n);
  const wantSched = schedOpt !== false && want("scheduler");
  const scheduler = wantSched ? new Scheduler(rt, typeof schedOpt === "object" ? schedOpt : {}) : undefined;
  informers.start();
  for (const c of controllers) c.start();
  scheduler?.start();
  const gc = want("garbagecollector") ? new GarbageCollector(store) : undefined;
  const nsc = want("namespace") ? new NamespaceController(store) : undefined;
  const ttl = want("eventttl") ? new EventTtlController(store) : undefined;
  const eps = apiServers && want("apiserverendpoints") ? new ApiServerEndpoints(new Api(store, "skiff-apiserver-endpoints"), apiServers) : undefined;
  return {
    runtime: rt,
    controllers,
    scheduler,
    async stop() {
      scheduler?.stop();
      for (const c of controllers) c.stop();
      gc?.stop();
      nsc?.stop();
      ttl?.stop();
      eps?.stop();
      events.stop();
      informers.stop();
    },
  };
}
