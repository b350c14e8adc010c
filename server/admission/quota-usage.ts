// What an object costs against a ResourceQuota (upstream's quota evaluators), shared by the
// ResourceQuota admission plugin (the charge of one write) and the quota controller (the sum
// over a namespace). Usage is exact nanos per resource name, as resource.Quantity adds them.
import { podQOSClass } from "../../schemas/types/pod-defaults";
import { addInto, amounts, nanos, nanosStr, isBinary, type Amounts } from "./resources";

const ONE = 1_000_000_000n;
const POD_COMPUTE = ["cpu", "memory", "ephemeral-storage"];

/** The object-count name of a resource: count/pods, count/deployments.apps. */
export function countName(group: string, plural: string): string {
  return group ? `count/${plural}.${group}` : `count/${plural}`;
}

/** Kinds with a legacy count name ("pods": "2") besides count/<resource>. */
const LEGACY_COUNTS = new Set(["pods", "services", "configmaps", "secrets", "persistentvolumeclaims", "replicationcontrollers", "resourcequotas"]);

/** Does the quota still count this pod (upstream QuotaV1Pod)? Terminal and overdue deleted pods do not. */
export function podCounts(pod: any, now = Date.now()): boolean {
  const phase = pod?.status?.phase;
  if (phase === "Succeeded" || phase === "Failed") return false;
  const del = pod?.metadata?.deletionTimestamp;
  if (del) {
    const grace = pod.metadata.deletionGracePeriodSeconds ?? 0;
    if (now > Date.parse(del) + grace * 1000) return false;
  }
  return true;
}

/** The usage of one object of resource (group, plural). */
export function usageOf(group: string, plural: string, obj: any, now = Date.now()): Amounts {
  const u: Amounts = new Map();
  if (group === "" && plural === "pods" && !podCounts(obj, now)) return u;
  u.set(countName(group, plural), ONE);
  if (group !== "") return u;
  if (LEGACY_COUNTS.has(plural)) u.set(plural, ONE);
  if (plural === "pods") {
    const spec = obj?.spec ?? {};
    const req = podTotals(spec, "requests");
    const lim = podTotals(spec, "limits");
    for (const [k, v] of req) {
      u.set(`requests.${k}`, v);
      if (POD_COMPUTE.includes(k)) u.set(k, v);
    }
    for (const [k, v] of lim) if (POD_COMPUTE.includes(k)) u.set(`limits.${k}`, v);
  } else if (plural === "services") {
    const type = obj?.spec?.type;
    if (type === "LoadBalancer") u.set("services.loadbalancers", ONE);
    if (type === "LoadBalancer" || type === "NodePort") u.set("services.nodeports", BigInt((obj?.spec?.ports ?? []).length) * ONE);
  } else if (plural === "persistentvolumeclaims") {
    const storage = nanos(obj?.spec?.resources?.requests?.storage) ?? 0n;
    u.set("requests.storage", storage);
    const cls = obj?.spec?.storageClassName;
    if (cls) {
      u.set(`${cls}.storageclass.storage.k8s.io/requests.storage`, storage);
      u.set(`${cls}.storageclass.storage.k8s.io/persistentvolumeclaims`, ONE);
    }
  }
  return u;
}

/** Can objects of (group, plural) use resource `name` (upstream evaluator.MatchingResources)? */
export function tracks(group: string, plural: string, name: string): boolean {
  if (name === countName(group, plural)) return true;
  if (group !== "") return false;
  if (name === plural && LEGACY_COUNTS.has(plural)) return true;
  switch (plural) {
    case "pods":
      return POD_COMPUTE.includes(name) || name.startsWith("requests.") && name !== "requests.storage" || /^limits\.(cpu|memory|ephemeral-storage)$/.test(name);
    case "services":
      return name === "services.loadbalancers" || name === "services.nodeports";
    case "persistentvolumeclaims":
      return name === "requests.storage" || name.includes(".storageclass.storage.k8s.io/");
  }
  return false;
}

/** Requests or limits of a pod (max of init containers, sum of app containers, overhead). */
function podTotals(spec: any, which: "requests" | "limits"): Amounts {
  const sum: Amounts = new Map();
  for (const c of spec.containers ?? []) addInto(sum, amounts(c?.resources?.[which]));
  const side: Amounts = new Map();
  for (const c of spec.initContainers ?? []) {
    const a = amounts(c?.resources?.[which]);
    if (c?.restartPolicy === "Always") {
      addInto(side, a);
      continue;
    }
    const withSide = new Map(a);
    addInto(withSide, side);
    for (const [k, v] of withSide) if ((sum.get(k) ?? -1n) < v) sum.set(k, v);
  }
  addInto(sum, side);
  if (spec.overhead) addInto(sum, amounts(spec.overhead));
  return sum;
}

/** A quota's scopes and scope selector, as (scope, operator, values) terms. */
function scopeTerms(quota: any): { scope: string; op: string; values: string[] }[] {
  const terms = (quota?.spec?.scopes ?? []).map((s: string) => ({ scope: s, op: "Exists", values: [] }));
  for (const e of quota?.spec?.scopeSelector?.matchExpressions ?? []) terms.push({ scope: e.scopeName, op: e.operator, values: e.values ?? [] });
  return terms;
}

/** Scoped quotas only track pods; each scope term must hold for the pod. */
export function quotaMatches(quota: any, group: string, plural: string, obj: any): boolean {
  const terms = scopeTerms(quota);
  if (!terms.length) return true;
  if (group !== "" || plural !== "pods") return false;
  const spec = obj?.spec ?? {};
  return terms.every((t) => {
    switch (t.scope) {
      case "Terminating":
        return (t.op === "DoesNotExist") !== (spec.activeDeadlineSeconds != null && spec.activeDeadlineSeconds >= 0);
      case "NotTerminating":
        return (t.op === "DoesNotExist") !== !(spec.activeDeadlineSeconds != null && spec.activeDeadlineSeconds >= 0);
      case "BestEffort":
        return (t.op === "DoesNotExist") !== (podQOSClass(spec) === "BestEffort");
      case "NotBestEffort":
        return (t.op === "DoesNotExist") !== (podQOSClass(spec) !== "BestEffort");
      case "PriorityClass": {
        const pc = spec.priorityClassName ?? "";
        if (t.op === "In") return t.values.includes(pc);
        if (t.op === "NotIn") return !t.values.includes(pc);
        if (t.op === "Exists") return pc !== "";
        return pc === "";
      }
      case "CrossNamespacePodAffinity": {
        const terms = [...(spec.affinity?.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []), ...(spec.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? [])];
        const cross = terms.some((x: any) => (x.namespaces ?? []).length || x.namespaceSelector);
        return (t.op === "DoesNotExist") !== cross;
      }
      default:
        return false;
    }
  });
}

/** The hard limits the quota enforces: status.hard once the controller has copied it, else spec. */
export function hardOf(quota: any): Record<string, unknown> {
  return { ...(quota?.spec?.hard ?? {}), ...(quota?.status?.hard ?? {}) };
}

/** Resource names a pod must request or limit explicitly when the quota tracks them. */
const REQUIRED_EXPLICIT = ["requests.cpu", "requests.memory", "limits.cpu", "limits.memory", "cpu", "memory"];

/** upstream podEvaluator.Constraints: "must specify limits.cpu for: app; ..." or undefined. */
export function podConstraintError(pod: any, tracked: string[]): string | undefined {
  const required = tracked.filter((r) => REQUIRED_EXPLICIT.includes(r));
  if (!required.length) return;
  const missing = new Map<string, string[]>();
  for (const c of [...(pod?.spec?.containers ?? []), ...(pod?.spec?.initContainers ?? [])]) {
    const has = new Set<string>();
    for (const k of Object.keys(c?.resources?.requests ?? {})) has.add(`requests.${k}`).add(k);
    for (const k of Object.keys(c?.resources?.limits ?? {})) has.add(`limits.${k}`);
    for (const r of required) if (!has.has(r)) missing.set(r, [...(missing.get(r) ?? []), c.name]);
  }
  if (!missing.size) return;
  return `must specify ${[...missing.keys()].sort().map((r) => `${r} for: ${[...new Set(missing.get(r))].sort().join(",")}`).join("; ")}`;
}

/** "pods=2,requests.cpu=500m": sorted, canonical quantities (upstream prettyPrint). */
export function prettyPrint(a: Amounts): string {
  return [...a.keys()].sort().map((k) => `${k}=${nanosStr(a.get(k)!, isBinary(k))}`).join(",");
}
