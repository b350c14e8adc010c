// Server-set object metadata: names, uids, timestamps, generations, QoS.
import type { RegisteredResource } from "../../schemas/registry";

const NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789";

/** Kubernetes' generateName suffix: 5 characters from a vowel-free alphabet. */
export function randomSuffix(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(5));
  let s = "";
  for (const b of bytes) s += NAME_CHARS[b % NAME_CHARS.length];
  return s;
}

export function timestamp(d: Date = new Date()): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Kinds whose strategy sets metadata.generation and bumps it on spec changes. */
const GENERATION_KINDS = new Set([
  "apps/deployments",
  "apps/replicasets",
  "apps/statefulsets",
  "apps/daemonsets",
  "batch/jobs",
  "batch/cronjobs",
  "networking.k8s.io/ingresses",
  "networking.k8s.io/networkpolicies",
  "autoscaling/horizontalpodautoscalers",
  "policy/poddisruptionbudgets",
]);

export function tracksGeneration(r: RegisteredResource): boolean {
  return GENERATION_KINDS.has(`${r.group}/${r.plural}`);
}

/** Everything that is neither metadata nor status: a change here bumps generation. */
export function specPart(o: any): Record<string, unknown> {
  const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = o ?? {};
  return rest;
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    if (a.length !== bb.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], bb[i])) return false;
    return true;
  }
  const ka = Object.keys(a as object).filter((k) => (a as any)[k] !== undefined);
  const kb = Object.keys(b as object).filter((k) => (b as any)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  for (const k of ka) if (!deepEqual((a as any)[k], (b as any)[k])) return false;
  return true;
}

/** Pod QoS class from its containers' requests and limits (Kubernetes' GetPodQOS, simplified to cpu/memory). */
export function podQosClass(pod: any): "Guaranteed" | "Burstable" | "BestEffort" {
  const containers = [...(pod?.spec?.initContainers ?? []), ...(pod?.spec?.containers ?? [])];
  let any = false;
  let guaranteed = true;
  for (const c of containers) {
    const req = c?.resources?.requests ?? {};
    const lim = c?.resources?.limits ?? {};
    for (const res of ["cpu", "memory"]) {
      if (req[res] !== undefined || lim[res] !== undefined) any = true;
      const l = lim[res];
      const q = req[res] ?? l;
      if (l === undefined || String(q) !== String(l)) guaranteed = false;
    }
  }
  if (!any) return "BestEffort";
  return guaranteed ? "Guaranteed" : "Burstable";
}
