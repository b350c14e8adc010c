// The HorizontalPodAutoscaler controller (upstream pkg/controller/podautoscaler/horizontal.go):
// every sync period each autoscaler reads its target's scale, the usage of the target's pods from
// the agents (what metrics.k8s.io serves to `kubectl top`), computes the replicas each metric asks
// for (hpa-replicas.ts), stabilizes and rate-limits them by the v2 behavior, writes the target's
// scale subresource, and records status (current metrics, conditions) and events as upstream.
// Metrics other than resource usage need a custom or external metrics API, which Skiff does not
// serve: such a metric is reported invalid (ScalingActive False) instead of being ignored.
import { findByKind } from "../../schemas/registry";
import { matchLabels, parseLabelSelector } from "../../schemas/helpers/selectors";
import { writeCtx } from "../registry/ctx";
import { toScale, updateScale } from "../registry/kinds/scale";
import { timestamp } from "../registry/meta";
import { resKeyOf } from "../store/commands";
import { DEFAULT_TOLERANCE, normalizeWithBehavior, recordScale, resourceReplicas, type History, type PodUsagePoint, type ResourceTarget, type Tolerance } from "./hpa-replicas";
import { Controller, type ControllerContext, type ContainerUsage } from "./runtime/controller";
import { objKey, type Informer } from "./runtime/informer";
import { setCondition } from "./runtime/pods";
import { quantityValue } from "../../schemas/derive/quantity";

interface MetricOutcome {
  replicas: number;
  /** Upstream's metric name in events and conditions ("cpu resource utilization (percentage of request)"). */
  name: string;
  status: any;
}

const resourceMetricName = (resource: string, target: ResourceTarget) =>
  target.type === "Utilization" ? `${resource} resource utilization (percentage of request)` : `${resource} resource`;

function quantityOf(resource: string, v: number): string {
  return resource === "cpu" ? `${Math.round(v * 1000)}m` : String(Math.round(v));
}

export class HorizontalPodAutoscalerController extends Controller {
  private hpas: Informer;
  private pods: Informer;
  private history = new Map<string, History>();

  constructor(rt: ControllerContext) {
    super(rt, "horizontal-pod-autoscaler", 4);
    this.hpas = this.informer("autoscaling/horizontalpodautoscalers");
    this.pods = this.informer("pods");
    this.hpas.addHandler({
      add: (o) => this.queue.add(objKey(o)),
      // Status writes (ours) do not trigger a sync; a spec change does at once.
      update: (a, b) => a.metadata.generation !== b.metadata.generation && this.queue.add(objKey(b)),
      delete: (o) => void this.history.delete(objKey(o)),
    });
  }

  async reconcile(key: string): Promise<void> {
    const hpa = this.hpas.get(key);
    if (!hpa || hpa.metadata.deletionTimestamp) return;
    try {
      await this.sync(key, hpa);
    } finally {
      if (this.hpas.get(key)) this.queue.addAfter(key, this.rt.opts.hpaSyncPeriodMs);
    }
  }

  private async sync(key: string, hpa: any): Promise<void> {
    const now = this.now();
    const stamp = timestamp(new Date(now));
    const ns = hpa.metadata.namespace;
    const spec = hpa.spec ?? {};
    const min = spec.minReplicas ?? 1;
    const max = spec.maxReplicas ?? 1;
    let conds: any[] = hpa.status?.conditions ?? [];
    const cond = (type: string, status: string, reason: string, message: string) => (conds = setCondition(conds, { type, status, reason, message }, stamp));
    const ref = spec.scaleTargetRef ?? {};
    const r = findByKind(ref.apiVersion ?? "", ref.kind ?? "");
    const target = r?.subresources?.scale ? this.rt.store.get(resKeyOf(r.group, r.plural), ns, ref.name)?.obj : undefined;
    if (!r?.subresources?.scale || !target) {
      const group = (ref.apiVersion ?? "").includes("/") ? ref.apiVersion.split("/")[0] : "";
      const why = !r ? `no matches for kind "${ref.kind}" in group "${group}"` : !r.subresources?.scale ? `${r.plural} "${ref.name}" has no scale subresource` : `${r.group ? `${r.plural}.${r.group}` : r.plural} "${ref.name}" not found`;
      this.record(hpa, "Warning", "FailedGetScale", why);
      cond("AbleToScale", "False", "FailedGetScale", `the HPA controller was unable to get the target's current scale: ${why}`);
      await this.writeStatus(hpa, conds, { currentReplicas: hpa.status?.currentReplicas ?? 0, desiredReplicas: hpa.status?.desiredReplicas ?? 0 });
      return;
    }
    const scale = toScale(target, r);
    const current: number = scale.spec.replicas;
    let desired = current;
    let rescaleReason = "";
    let metrics: any[] | undefined = hpa.status?.currentMetrics;
    const h = this.history.get(key) ?? { recommendations: [], events: [] };
    this.history.set(key, h);

    if (current === 0 && min !== 0) {
      desired = 0;
      cond("ScalingActive", "False", "ScalingDisabled", "scaling is disabled since the replica count of the target is zero");
    } else if (current > max) {
      desired = max;
      rescaleReason = "Current number of replicas above Spec.MaxReplicas";
    } else if (current < min) {
      desired = min;
      rescaleReason = "Current number of replicas below Spec.MinReplicas";
    } else {
      const computed = await this.computeReplicas(hpa, scale.status.selector, current, now);
      if ("error" in computed) {
        cond("ScalingActive", "False", computed.reason, `the HPA was unable to compute the replica count: ${computed.first}`);
        this.record(hpa, "Warning", "FailedComputeMetricsReplicas", computed.error);
        await this.writeStatus(hpa, conds, { currentReplicas: current, desiredReplicas: hpa.status?.desiredReplicas ?? current, currentMetrics: undefined });
        return;
      }
      metrics = computed.statuses;
      cond("ScalingActive", "True", "ValidMetricFound", `the HPA was able to successfully calculate a replica count from ${computed.name}`);
      const n = normalizeWithBehavior(h, spec.behavior, current, computed.replicas, min, max, now);
      if (n.stabilized) cond("AbleToScale", "True", n.stabilized.reason, n.stabilized.message);
      else if (computed.replicas === current) cond("AbleToScale", "True", "ReadyForNewScale", "recommended size matches current size");
      cond("ScalingLimited", n.limited.limited ? "True" : "False", n.limited.reason, n.limited.message);
      desired = n.replicas;
      rescaleReason = desired > current ? `${computed.name} above target` : "All metrics below target";
    }

    let lastScaleTime = hpa.status?.lastScaleTime;
    if (desired !== current) {
      try {
        await updateScale(this.rt.registry, writeCtx(this.api.user, this.api.manager), r, ns, ref.name, () => desired);
      } catch (e) {
        const msg = (e as Error).message;
        this.record(hpa, "Warning", "FailedRescale", `New size: ${desired}; reason: ${rescaleReason}; error: ${msg}`);
        cond("AbleToScale", "False", "FailedUpdateScale", `the HPA controller was unable to update the target scale: ${msg}`);
        await this.writeStatus(hpa, conds, { currentReplicas: current, desiredReplicas: hpa.status?.desiredReplicas ?? current, currentMetrics: metrics });
        return;
      }
      recordScale(h, spec.behavior, current, desired, now);
      cond("AbleToScale", "True", "SucceededRescale", `the HPA controller was able to update the target scale to ${desired}`);
      this.record(hpa, "Normal", "SuccessfulRescale", `New size: ${desired}; reason: ${rescaleReason}`);
      lastScaleTime = stamp;
    } else if (!conds.some((c) => c.type === "AbleToScale")) cond("AbleToScale", "True", "ReadyForNewScale", "recommended size matches current size");
    await this.writeStatus(hpa, conds, { currentReplicas: current, desiredReplicas: desired, currentMetrics: metrics, lastScaleTime });
  }

  private async writeStatus(hpa: any, conditions: any[], st: { currentReplicas: number; desiredReplicas: number; currentMetrics?: any[]; lastScaleTime?: string }): Promise<void> {
    await this.api.updateStatus("HorizontalPodAutoscaler", hpa.metadata.namespace, hpa.metadata.name, (cur) => {
      const next: any = { ...(cur.status ?? {}), observedGeneration: cur.metadata.generation, currentReplicas: st.currentReplicas, desiredReplicas: st.desiredReplicas, conditions };
      if (st.currentMetrics?.length) next.currentMetrics = st.currentMetrics;
      else delete next.currentMetrics;
      if (st.lastScaleTime) next.lastScaleTime = st.lastScaleTime;
      cur.status = next;
      return cur;
    });
  }

  /** The highest replica count any valid metric asks for (upstream computeReplicasForMetrics). */
  private async computeReplicas(hpa: any, selector: string, current: number, now: number): Promise<{ replicas: number; name: string; statuses: any[] } | { error: string; reason: string; first: string }> {
    const ns = hpa.metadata.namespace;
    let reqs;
    try {
      reqs = parseLabelSelector(selector);
    } catch {
      const first = `couldn't convert selector into a corresponding internal selector object: ${selector}`;
      return { error: first, reason: "InvalidSelector", first };
    }
    const pods = this.pods.byIndex("namespace", ns).filter((p) => matchLabels(reqs, p.metadata.labels));
    const specs: any[] = hpa.spec?.metrics ?? [];
    // behavior.scaleUp/scaleDown.tolerance (a quantity such as "0.05") override the default 0.1.
    const tol = (rules: any) => {
      const t = rules?.tolerance;
      return t === undefined || t === null ? DEFAULT_TOLERANCE : quantityValue(t);
    };
    const tolerance: Tolerance = { up: tol(hpa.spec?.behavior?.scaleUp), down: tol(hpa.spec?.behavior?.scaleDown) };
    let usage: Map<string, ContainerUsage[]> | undefined;
    const getUsage = async () => (usage ??= this.rt.podMetrics ? await this.rt.podMetrics(pods).catch(() => new Map()) : new Map());
    let best: MetricOutcome | undefined;
    const statuses: any[] = [];
    const errors: { message: string; reason: string }[] = [];
    for (const m of specs) {
      const out = await this.metricReplicas(m, pods, current, getUsage, now, tolerance);
      if (typeof out === "string") {
        errors.push({ message: out, reason: failedReason(m) });
        this.record(hpa, "Warning", failedReason(m), out);
        continue;
      }
      statuses.push(out.status);
      if (!best || out.replicas > best.replicas) best = out;
    }
    if (!best) {
      const first = errors[0] ?? { message: "no metrics to compute a replica count from", reason: "FailedGetResourceMetric" };
      return { error: `invalid metrics (${errors.length} invalid out of ${specs.length}), first error is: ${first.message}`, reason: first.reason, first: first.message };
    }
    // With some metrics invalid, only scale up: the missing ones might want more.
    if (errors.length && best.replicas < current) best = { ...best, replicas: current };
    return { replicas: best.replicas, name: best.name, statuses };
  }

  private async metricReplicas(m: any, pods: any[], current: number, getUsage: () => Promise<Map<string, ContainerUsage[]>>, now: number, tolerance: Tolerance): Promise<MetricOutcome | string> {
    const src = m?.type === "Resource" ? m.resource : m?.type === "ContainerResource" ? m.containerResource : undefined;
    if (!src) {
      const name = m?.pods?.metric?.name ?? m?.object?.metric?.name ?? m?.external?.metric?.name ?? "";
      const api = m?.type === "External" ? "external.metrics.k8s.io" : "custom.metrics.k8s.io";
      return `failed to get ${m?.type?.toLowerCase() ?? ""} metric value: unable to get metric ${name}: no ${api} API is served by this cluster`;
    }
    const resource: string = src.name;
    if (resource !== "cpu" && resource !== "memory") return `failed to get ${resource} utilization: unable to get metrics for resource ${resource}: only cpu and memory are reported`;
    const t = src.target ?? {};
    const target: ResourceTarget = t.type === "AverageValue" ? { type: "AverageValue", averageValue: quantityValue(t.averageValue ?? 0) } : { type: "Utilization", averageUtilization: t.averageUtilization };
    const all = await getUsage();
    const points = new Map<string, PodUsagePoint>();
    for (const p of pods) {
      const cs = (all.get(p.metadata.uid) ?? []).filter((c) => m.type !== "ContainerResource" || c.name === src.container);
      if (!cs.length) continue;
      const newest = cs.reduce((a, b) => (Date.parse(b.timestamp) > Date.parse(a.timestamp) ? b : a));
      points.set(p.metadata.name, { value: cs.reduce((s, c) => s + (resource === "cpu" ? c.cpuNanoCores / 1e9 : c.memoryBytes), 0), timestampMs: Date.parse(newest.timestamp), windowMs: newest.windowMs });
    }
    const what = target.type === "Utilization" ? `${resource} utilization` : `${resource} usage`;
    if (points.size === 0) return `failed to get ${what}: unable to get metrics for resource ${resource}: no metrics returned from resource metrics API`;
    const scoped = m.type === "ContainerResource" ? pods.map((p) => ({ ...p, spec: { ...p.spec, containers: (p.spec?.containers ?? []).filter((c: any) => c.name === src.container) } })) : pods;
    const res = resourceReplicas(current, scoped, points, resource, target, tolerance, now);
    if (typeof res === "string") return `failed to get ${what}: ${res}`;
    const currentValue: any = { averageValue: quantityOf(resource, res.average) };
    if (res.utilization !== undefined) currentValue.averageUtilization = res.utilization;
    const status =
      m.type === "ContainerResource"
        ? { type: "ContainerResource", containerResource: { name: resource, container: src.container, current: currentValue } }
        : { type: "Resource", resource: { name: resource, current: currentValue } };
    const name = m.type === "ContainerResource" ? `${resource} container resource utilization (percentage of request)` : resourceMetricName(resource, target);
    return { replicas: res.replicas, name, status };
  }
}

function failedReason(m: any): string {
  switch (m?.type) {
    case "Pods":
      return "FailedGetPodsMetric";
    case "Object":
      return "FailedGetObjectMetric";
    case "External":
      return "FailedGetExternalMetric";
    case "ContainerResource":
      return "FailedGetContainerResourceMetric";
    default:
      return "FailedGetResourceMetric";
  }
}
