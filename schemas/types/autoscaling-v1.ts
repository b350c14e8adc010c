// autoscaling/v1 HorizontalPodAutoscaler: served from the stored autoscaling/v2 objects. v1 knows
// only a CPU utilization target; what v2 has beyond it (other metrics, behavior, conditions,
// current metrics) rides in annotations while an object is in v1 form, as upstream's conversion
// does, so a v1 client's read-modify-write keeps it. The annotations hold the v2 shapes as JSON.
import { F, int32, int64, obj, str, time } from "../dsl";
import type { ResourceDef } from "../registry";
import { isObj } from "../helpers/json";
import { typeMetaFields } from "./meta";

export const CrossVersionObjectReferenceV1 = obj("io.k8s.api.autoscaling.v1.CrossVersionObjectReference", () => ({
  kind: F(str, 1, { required: true }),
  name: F(str, 2, { required: true }),
  apiVersion: F(str, 3),
}));

export const HorizontalPodAutoscalerSpecV1 = obj("io.k8s.api.autoscaling.v1.HorizontalPodAutoscalerSpec", () => ({
  scaleTargetRef: F(CrossVersionObjectReferenceV1, 1, { required: true }),
  minReplicas: F(int32, 2),
  maxReplicas: F(int32, 3, { required: true }),
  targetCPUUtilizationPercentage: F(int32, 4),
}));

export const HorizontalPodAutoscalerStatusV1 = obj("io.k8s.api.autoscaling.v1.HorizontalPodAutoscalerStatus", () => ({
  observedGeneration: F(int64, 1),
  lastScaleTime: F(time, 2),
  currentReplicas: F(int32, 3, { required: true }),
  desiredReplicas: F(int32, 4, { required: true }),
  currentCPUUtilizationPercentage: F(int32, 5),
}));

export const HorizontalPodAutoscalerV1 = obj("io.k8s.api.autoscaling.v1.HorizontalPodAutoscaler", () => ({
  ...typeMetaFields(),
  spec: F(HorizontalPodAutoscalerSpecV1, 2),
  status: F(HorizontalPodAutoscalerStatusV1, 3),
}));

const METRICS = "autoscaling.alpha.kubernetes.io/metrics";
const CURRENT_METRICS = "autoscaling.alpha.kubernetes.io/current-metrics";
const CONDITIONS = "autoscaling.alpha.kubernetes.io/conditions";
const BEHAVIOR = "autoscaling.alpha.kubernetes.io/behavior";

const isCpuUtilization = (m: any) => m?.type === "Resource" && m.resource?.name === "cpu" && m.resource?.target?.type === "Utilization";

function readJson(annotations: Record<string, string>, key: string): any {
  const v = annotations[key];
  delete annotations[key];
  if (v === undefined) return undefined;
  try {
    return JSON.parse(v);
  } catch {
    return undefined; // a hand-edited annotation that is not JSON is dropped, as upstream drops it
  }
}

/** A stored autoscaling/v2 object as autoscaling/v1. */
export function hpaToV1(o: any): any {
  const out: any = { ...o, apiVersion: "autoscaling/v1", kind: "HorizontalPodAutoscaler", metadata: { ...(o.metadata ?? {}) } };
  const ann: Record<string, string> = { ...(o.metadata?.annotations ?? {}) };
  const spec = o.spec ?? {};
  const metrics: any[] = spec.metrics ?? [];
  const cpu = metrics.find(isCpuUtilization);
  const others = metrics.filter((m) => m !== cpu);
  out.spec = { scaleTargetRef: spec.scaleTargetRef, minReplicas: spec.minReplicas, maxReplicas: spec.maxReplicas };
  if (cpu) out.spec.targetCPUUtilizationPercentage = cpu.resource.target.averageUtilization;
  if (others.length) ann[METRICS] = JSON.stringify(others);
  if (spec.behavior) ann[BEHAVIOR] = JSON.stringify(spec.behavior);
  for (const k of Object.keys(out.spec)) if (out.spec[k] === undefined) delete out.spec[k];
  if (o.status) {
    const st = o.status;
    out.status = { observedGeneration: st.observedGeneration, lastScaleTime: st.lastScaleTime, currentReplicas: st.currentReplicas ?? 0, desiredReplicas: st.desiredReplicas ?? 0 };
    const current: any[] = st.currentMetrics ?? [];
    const curCpu = current.find((m) => m?.type === "Resource" && m.resource?.name === "cpu" && m.resource?.current?.averageUtilization !== undefined);
    if (curCpu) out.status.currentCPUUtilizationPercentage = curCpu.resource.current.averageUtilization;
    const otherCurrent = current.filter((m) => m !== curCpu);
    if (otherCurrent.length) ann[CURRENT_METRICS] = JSON.stringify(otherCurrent);
    if (st.conditions?.length) ann[CONDITIONS] = JSON.stringify(st.conditions);
    for (const k of Object.keys(out.status)) if (out.status[k] === undefined) delete out.status[k];
  }
  if (Object.keys(ann).length) out.metadata.annotations = ann;
  return out;
}

/** An autoscaling/v1 object as the stored autoscaling/v2 form. */
export function hpaFromV1(o: any): any {
  const out: any = { ...o, apiVersion: "autoscaling/v2", kind: "HorizontalPodAutoscaler", metadata: { ...(o.metadata ?? {}) } };
  const ann: Record<string, string> = { ...(o.metadata?.annotations ?? {}) };
  const spec = o.spec ?? {};
  const others = readJson(ann, METRICS);
  const behavior = readJson(ann, BEHAVIOR);
  const metrics: any[] = [];
  if (typeof spec.targetCPUUtilizationPercentage === "number")
    metrics.push({ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: spec.targetCPUUtilizationPercentage } } });
  if (Array.isArray(others)) metrics.push(...others);
  out.spec = { scaleTargetRef: spec.scaleTargetRef, minReplicas: spec.minReplicas, maxReplicas: spec.maxReplicas };
  if (metrics.length) out.spec.metrics = metrics;
  if (isObj(behavior)) out.spec.behavior = behavior;
  for (const k of Object.keys(out.spec)) if (out.spec[k] === undefined) delete out.spec[k];
  const current = readJson(ann, CURRENT_METRICS);
  const conditions = readJson(ann, CONDITIONS);
  if (o.status) {
    const st = o.status;
    out.status = { observedGeneration: st.observedGeneration, lastScaleTime: st.lastScaleTime, currentReplicas: st.currentReplicas, desiredReplicas: st.desiredReplicas ?? 0 };
    const cm: any[] = [];
    if (typeof st.currentCPUUtilizationPercentage === "number") cm.push({ type: "Resource", resource: { name: "cpu", current: { averageUtilization: st.currentCPUUtilizationPercentage } } });
    if (Array.isArray(current)) cm.push(...current);
    if (cm.length) out.status.currentMetrics = cm;
    if (Array.isArray(conditions)) out.status.conditions = conditions;
    for (const k of Object.keys(out.status)) if (out.status[k] === undefined) delete out.status[k];
  }
  if (Object.keys(ann).length) out.metadata.annotations = ann;
  else delete out.metadata.annotations;
  return out;
}

export const resources: ResourceDef[] = [
  {
    group: "autoscaling",
    version: "v1",
    kind: "HorizontalPodAutoscaler",
    plural: "horizontalpodautoscalers",
    singular: "horizontalpodautoscaler",
    namespaced: true,
    shortNames: ["hpa"],
    categories: ["all"],
    type: HorizontalPodAutoscalerV1,
    subresources: { status: true },
    conversion: { storedVersion: "v2", toStored: hpaFromV1, fromStored: hpaToV1 },
  },
];
