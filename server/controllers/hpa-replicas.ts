// The HorizontalPodAutoscaler's arithmetic, pure (upstream pkg/controller/podautoscaler
// replica_calculator.go and the behavior part of horizontal.go): replicas from resource metrics
// with the tolerance and the missing/unready pod rules, then stabilization windows and scaling
// policies. No I/O; time comes in as `now` (ms).
import { quantityValue } from "../../schemas/derive/quantity";

/** --horizontal-pod-autoscaler-tolerance */
export const DEFAULT_TOLERANCE = 0.1;
/** --horizontal-pod-autoscaler-cpu-initialization-period */
const CPU_INITIALIZATION_PERIOD_MS = 5 * 60 * 1000;
/** --horizontal-pod-autoscaler-initial-readiness-delay */
const INITIAL_READINESS_DELAY_MS = 30 * 1000;

export interface PodUsagePoint {
  /** Summed over the pod's containers: cores for cpu, bytes for memory. */
  value: number;
  timestampMs: number;
  windowMs: number;
}

export interface ResourceTarget {
  type: "Utilization" | "AverageValue";
  averageUtilization?: number;
  /** Cores or bytes. */
  averageValue?: number;
}

export interface ResourceResult {
  replicas: number;
  /** Percentage of request over the ready pods (Utilization targets). */
  utilization?: number;
  /** Average usage per ready pod (cores or bytes). */
  average: number;
}

const condition = (p: any, type: string) => (p?.status?.conditions ?? []).find((c: any) => c?.type === type);

/** A pod's request for `resource`, summed over its containers; an error names the first container without one. */
export function podRequest(pod: any, resource: string): number | string {
  let sum = 0;
  for (const c of pod?.spec?.containers ?? []) {
    const q = c?.resources?.requests?.[resource];
    if (q === undefined || q === null) return `missing request for ${resource} in container ${c.name} of Pod ${pod.metadata.name}`;
    sum += quantityValue(q);
  }
  return sum;
}

/** Upstream's groupPods: which pods count, which are unready (cpu only), missing or ignored. */
function groupPods(pods: any[], usage: Map<string, PodUsagePoint>, resource: string, now: number) {
  let ready = 0;
  const unready = new Set<string>();
  const missing = new Set<string>();
  const ignored = new Set<string>();
  for (const p of pods) {
    const name = p.metadata.name;
    if (p.metadata.deletionTimestamp || p.status?.phase === "Failed") {
      ignored.add(name);
      continue;
    }
    if (p.status?.phase === "Pending") {
      unready.add(name);
      continue;
    }
    const m = usage.get(name);
    if (!m) {
      missing.add(name);
      continue;
    }
    if (resource === "cpu") {
      const c = condition(p, "Ready");
      const start = Date.parse(p.status?.startTime ?? "");
      let isUnready: boolean;
      if (!c || !Number.isFinite(start)) isUnready = true;
      else {
        const transition = Date.parse(c.lastTransitionTime ?? "");
        // A pod that just started burns CPU initializing: its sample counts only once it covers ready time.
        if (start + CPU_INITIALIZATION_PERIOD_MS > now) isUnready = c.status === "False" || m.timestampMs < transition + m.windowMs;
        else isUnready = c.status === "False" && start + INITIAL_READINESS_DELAY_MS > transition;
      }
      if (isUnready) {
        unready.add(name);
        continue;
      }
    }
    ready++;
  }
  return { ready, unready, missing, ignored };
}

function ratioOf(metrics: Map<string, number>, requests: Map<string, number>, target: ResourceTarget): { ratio: number; utilization?: number; average: number } | string {
  let total = 0;
  let req = 0;
  for (const [name, v] of metrics) {
    total += v;
    req += requests.get(name) ?? 0;
  }
  const average = metrics.size ? total / metrics.size : 0;
  if (target.type === "AverageValue") return { ratio: average / (target.averageValue || 1), average };
  if (req <= 0) return "no metrics returned matched known pods";
  // Upstream truncates the utilization to an integer before dividing.
  const utilization = Math.trunc((total * 100) / req);
  return { ratio: utilization / (target.averageUtilization || 1), utilization, average };
}

/** Replicas for one Resource metric (upstream GetResourceReplicas / GetRawResourceReplicas). */
/** How far the usage ratio may be from 1 before scaling: one number, or per direction (v2 behavior's tolerance). */
export type Tolerance = number | { up: number; down: number };

const within = (ratio: number, t: Tolerance) => {
  const { up, down } = typeof t === "number" ? { up: t, down: t } : t;
  return ratio >= 1 - down && ratio <= 1 + up;
};

export function resourceReplicas(current: number, pods: any[], usage: Map<string, PodUsagePoint>, resource: string, target: ResourceTarget, tolerance: Tolerance, now: number): ResourceResult | string {
  if (pods.length === 0) return "no pods returned by selector while calculating replica count";
  const g = groupPods(pods, usage, resource, now);
  const metrics = new Map<string, number>();
  for (const [name, m] of usage) if (!g.ignored.has(name) && !g.unready.has(name) && pods.some((p) => p.metadata.name === name)) metrics.set(name, m.value);
  if (metrics.size === 0) return "did not receive metrics for targeted pods (pods might be unready)";
  const requests = new Map<string, number>();
  if (target.type === "Utilization")
    for (const p of pods) {
      const r = podRequest(p, resource);
      if (typeof r === "string") return r;
      requests.set(p.metadata.name, r);
    }
  const first = ratioOf(metrics, requests, target);
  if (typeof first === "string") return first;
  const { ratio, utilization, average } = first;
  const scaleUpWithUnready = g.unready.size > 0 && ratio > 1;
  if (!scaleUpWithUnready && g.missing.size === 0) {
    if (within(ratio, tolerance)) return { replicas: current, utilization, average };
    return { replicas: Math.ceil(ratio * g.ready), utilization, average };
  }
  // Missing pods are assumed at 100% of request (or the target) when scaling down, idle when scaling up.
  const assumedFull = target.type === "Utilization" ? (n: string) => requests.get(n) ?? 0 : () => target.averageValue ?? 0;
  for (const n of g.missing) metrics.set(n, ratio < 1 ? assumedFull(n) : 0);
  if (scaleUpWithUnready) for (const n of g.unready) metrics.set(n, 0);
  const second = ratioOf(metrics, requests, target);
  if (typeof second === "string") return second;
  const r2 = second.ratio;
  if (within(r2, tolerance) || (ratio < 1 && r2 > 1) || (ratio > 1 && r2 < 1)) return { replicas: current, utilization, average };
  const next = Math.ceil(r2 * metrics.size);
  if ((r2 < 1 && next > current) || (r2 > 1 && next < current)) return { replicas: current, utilization, average };
  return { replicas: next, utilization, average };
}

// ---------------------------------------------------------------------------------------------
// behavior

export interface ScalingPolicy {
  type: "Pods" | "Percent";
  value: number;
  periodSeconds: number;
}
export interface ScalingRules {
  stabilizationWindowSeconds?: number;
  selectPolicy?: "Max" | "Min" | "Disabled";
  policies?: ScalingPolicy[];
}
export interface Behavior {
  scaleUp?: ScalingRules;
  scaleDown?: ScalingRules;
}

/** Upstream's defaults (autoscaling/v2 SetDefaults_HorizontalPodAutoscalerBehavior). */
export const DEFAULT_SCALE_UP: ScalingRules = {
  stabilizationWindowSeconds: 0,
  selectPolicy: "Max",
  policies: [
    { type: "Pods", value: 4, periodSeconds: 15 },
    { type: "Percent", value: 100, periodSeconds: 15 },
  ],
};
export const DEFAULT_SCALE_DOWN: ScalingRules = { stabilizationWindowSeconds: 300, selectPolicy: "Max", policies: [{ type: "Percent", value: 100, periodSeconds: 15 }] };

export interface Recommendation {
  at: number;
  replicas: number;
}
export interface ScaleEvent {
  at: number;
  /** Positive: replicas added; negative: removed. */
  change: number;
}

/** What the controller remembers per autoscaler between syncs (upstream keeps it in memory too). */
export interface History {
  recommendations: Recommendation[];
  events: ScaleEvent[];
}

export interface Normalized {
  replicas: number;
  /** AbleToScale reason/message when stabilization changed the proposal. */
  stabilized?: { reason: string; message: string };
  limited: { limited: boolean; reason: string; message: string };
}

function rules(b: Behavior | undefined, dir: "scaleUp" | "scaleDown"): ScalingRules {
  const d = dir === "scaleUp" ? DEFAULT_SCALE_UP : DEFAULT_SCALE_DOWN;
  const r = b?.[dir];
  return { stabilizationWindowSeconds: r?.stabilizationWindowSeconds ?? d.stabilizationWindowSeconds, selectPolicy: r?.selectPolicy ?? d.selectPolicy, policies: r?.policies?.length ? r.policies : d.policies };
}

function changedIn(events: ScaleEvent[], periodSeconds: number, now: number): { added: number; removed: number } {
  let added = 0;
  let removed = 0;
  for (const e of events) {
    if (e.at <= now - periodSeconds * 1000) continue;
    if (e.change > 0) added += e.change;
    else removed -= e.change;
  }
  return { added, removed };
}

function scaleUpLimit(current: number, events: ScaleEvent[], r: ScalingRules, now: number): number {
  if (r.selectPolicy === "Disabled") return current;
  const pick = r.selectPolicy === "Min" ? Math.min : Math.max;
  let result = r.selectPolicy === "Min" ? Infinity : -Infinity;
  for (const p of r.policies ?? []) {
    const { added, removed } = changedIn(events, p.periodSeconds, now);
    const start = current - added + removed;
    const proposed = p.type === "Pods" ? start + p.value : Math.ceil(start * (1 + p.value / 100));
    result = pick(result, proposed);
  }
  return Number.isFinite(result) ? result : current;
}

function scaleDownLimit(current: number, events: ScaleEvent[], r: ScalingRules, now: number): number {
  if (r.selectPolicy === "Disabled") return current;
  // "Max" picks the policy allowing the biggest change, which for scaling down is the lowest count.
  const pick = r.selectPolicy === "Min" ? Math.max : Math.min;
  let result = r.selectPolicy === "Min" ? -Infinity : Infinity;
  for (const p of r.policies ?? []) {
    const { added, removed } = changedIn(events, p.periodSeconds, now);
    const start = current - added + removed;
    const proposed = p.type === "Pods" ? start - p.value : Math.trunc(start * (1 - p.value / 100));
    result = pick(result, proposed);
  }
  return Number.isFinite(result) ? result : current;
}

/**
 * Upstream normalizeDesiredReplicasWithBehaviors: stabilize the proposal over the windows
 * (recording it in `h`), then hold it to the scaling policies and to min/max.
 */
export function normalizeWithBehavior(h: History, behavior: Behavior | undefined, current: number, proposal: number, min: number, max: number, now: number): Normalized {
  const up = rules(behavior, "scaleUp");
  const down = rules(behavior, "scaleDown");
  // Upstream's maybeInitScaleDownStabilizationWindow: a controller that just started (or a new
  // autoscaler) does not scale down before one window has passed.
  if (!h.recommendations.length && (down.stabilizationWindowSeconds ?? 0) > 0) h.recommendations.push({ at: now, replicas: current });
  const upCut = now - (up.stabilizationWindowSeconds ?? 0) * 1000;
  const downCut = now - (down.stabilizationWindowSeconds ?? 0) * 1000;
  let upRec = proposal;
  let downRec = proposal;
  for (const r of h.recommendations) {
    if (r.at > upCut) upRec = Math.min(upRec, r.replicas);
    if (r.at > downCut) downRec = Math.max(downRec, r.replicas);
  }
  const keep = Math.max(up.stabilizationWindowSeconds ?? 0, down.stabilizationWindowSeconds ?? 0) * 1000;
  h.recommendations = [...h.recommendations.filter((r) => r.at > now - keep), { at: now, replicas: proposal }];
  let stabilizedTo = current;
  if (stabilizedTo < upRec) stabilizedTo = upRec;
  if (stabilizedTo > downRec) stabilizedTo = downRec;
  let stabilized: Normalized["stabilized"];
  if (stabilizedTo !== proposal)
    stabilized =
      stabilizedTo > proposal
        ? { reason: "ScaleDownStabilized", message: "recent recommendations were higher than current one, applying the highest recent recommendation" }
        : { reason: "ScaleUpStabilized", message: "recent recommendations were lower than current one, applying the lowest recent recommendation" };

  let replicas = stabilizedTo;
  let limited = { limited: false, reason: "DesiredWithinRange", message: "the desired count is within the acceptable range" };
  if (replicas > current) {
    const limit = Math.max(scaleUpLimit(current, h.events, up, now), current);
    const [cap, reason, message] = max > limit ? [limit, "ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate"] : [max, "TooManyReplicas", "the desired replica count is more than the maximum replica count"];
    if (replicas > cap) {
      replicas = cap;
      limited = { limited: true, reason, message };
    }
  } else if (replicas < current) {
    const limit = Math.min(scaleDownLimit(current, h.events, down, now), current);
    const [floor, reason, message] = min > limit ? [min, "TooFewReplicas", "the desired replica count is less than the minimum replica count"] : [limit, "ScaleDownLimit", "the desired replica count is decreasing faster than the maximum scale rate"];
    if (replicas < floor) {
      replicas = floor;
      limited = { limited: true, reason, message };
    }
  }
  if (replicas > max) {
    replicas = max;
    limited = { limited: true, reason: "TooManyReplicas", message: "the desired replica count is more than the maximum replica count" };
  } else if (replicas < min) {
    replicas = min;
    limited = { limited: true, reason: "TooFewReplicas", message: "the desired replica count is less than the minimum replica count" };
  }
  return { replicas, stabilized, limited };
}

/** Remember a scale change for the policies' periods (upstream storeScaleEvent). */
export function recordScale(h: History, behavior: Behavior | undefined, from: number, to: number, now: number): void {
  const longest = Math.max(...[...(rules(behavior, "scaleUp").policies ?? []), ...(rules(behavior, "scaleDown").policies ?? [])].map((p) => p.periodSeconds), 0) * 1000;
  h.events = [...h.events.filter((e) => e.at > now - longest), { at: now, change: to - from }];
}
