// Pod facts the workload controllers share: activity, readiness, availability, and making a
// pod from a template.
import { timestamp } from "../../registry/meta";
import { controllerRef, type Kind } from "./api";

export const isTerminating = (p: any) => !!p?.metadata?.deletionTimestamp;
export const isFinished = (p: any) => p?.status?.phase === "Succeeded" || p?.status?.phase === "Failed";
/** Counts toward replicas: not finished, not being deleted. */
export const isActive = (p: any) => !isTerminating(p) && !isFinished(p);

function podCondition(p: any, type: string): any | undefined {
  return (p?.status?.conditions ?? []).find((c: any) => c.type === type);
}

export function isReady(p: any): boolean {
  return podCondition(p, "Ready")?.status === "True";
}

/** Ready for at least minReadySeconds at `now`. */
export function isAvailable(p: any, minReadySeconds: number, now: number): boolean {
  if (!isReady(p)) return false;
  if (!minReadySeconds) return true;
  const t = Date.parse(podCondition(p, "Ready")?.lastTransitionTime ?? "");
  return Number.isFinite(t) && t + minReadySeconds * 1000 <= now;
}

/** Milliseconds until a ready pod becomes available (0 when it is or never will be). */
export function msUntilAvailable(p: any, minReadySeconds: number, now: number): number {
  if (!isReady(p) || !minReadySeconds) return 0;
  const t = Date.parse(podCondition(p, "Ready")?.lastTransitionTime ?? "");
  if (!Number.isFinite(t)) return 0;
  return Math.max(0, t + minReadySeconds * 1000 - now);
}

export function setCondition(conds: any[] | undefined, c: { type: string; status: string; reason?: string; message?: string }, now = timestamp(), withUpdate = false): any[] {
  const list = [...(conds ?? [])];
  const i = list.findIndex((x) => x.type === c.type);
  const prev = i >= 0 ? list[i] : undefined;
  const next: any = { ...(prev ?? {}), ...c };
  if (!prev || prev.status !== c.status) next.lastTransitionTime = now;
  else next.lastTransitionTime = prev.lastTransitionTime ?? now;
  if (withUpdate) {
    if (!prev || prev.status !== c.status || prev.reason !== c.reason || prev.message !== c.message) next.lastUpdateTime = now;
    else next.lastUpdateTime = prev.lastUpdateTime ?? now;
  }
  if (i >= 0) list[i] = next;
  else list.push(next);
  return list;
}

/** A pod for `owner` from its template (labels, annotations, spec), to be created. */
export function podFromTemplate(template: any, owner: any, kind: Kind, extra: { name?: string; generateName?: string; labels?: Record<string, string>; annotations?: Record<string, string> } = {}): any {
  const t = structuredClone(template ?? {});
  const meta: any = {
    labels: { ...(t.metadata?.labels ?? {}), ...(extra.labels ?? {}) },
    ownerReferences: [controllerRef(owner, kind)],
  };
  const ann = { ...(t.metadata?.annotations ?? {}), ...(extra.annotations ?? {}) };
  if (Object.keys(ann).length) meta.annotations = ann;
  if (t.metadata?.finalizers) meta.finalizers = t.metadata.finalizers;
  if (extra.name) meta.name = extra.name;
  else meta.generateName = extra.generateName ?? `${owner.metadata.name}-`;
  return { apiVersion: "v1", kind: "Pod", metadata: meta, spec: t.spec ?? {} };
}

/** Stable short hash (FNV-1a 32) encoded with Kubernetes' "safe" alphabet (no vowels). */
export function safeHash(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  const alphabet = "bcdfghjklmnpqrstvwxz2456789";
  return String(h)
    .split("")
    .map((d) => alphabet[d.charCodeAt(0) % alphabet.length])
    .join("");
}

/** JSON with sorted keys, for hashing templates. */
export function stableJson(v: any): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(",")}]`;
  if (v && typeof v === "object")
    return `{${Object.keys(v)
      .filter((k) => v[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson(v[k])}`)
      .join(",")}}`;
  return JSON.stringify(v);
}

/** Resolve an int-or-percent against total (round up for surge, down for unavailable). */
export function intOrPercent(v: any, total: number, roundUp: boolean): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === "number") return v;
  const s = String(v);
  if (s.endsWith("%")) {
    const p = Number(s.slice(0, -1));
    const x = (p * total) / 100;
    return roundUp ? Math.ceil(x) : Math.floor(x);
  }
  return Number(s) || 0;
}
