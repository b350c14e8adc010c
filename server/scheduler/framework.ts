// Filter and score plugins (the default kube-scheduler profile, minus preemption, volume
// zones and image locality). prepare() does the per-pod work once (PreFilter), so filtering a
// node is a handful of map lookups.
import { matchNodeSelectorTerm, matchesNodeSelectorAndAffinity, selectorMatches, tolerates, untoleratedTaint } from "./predicates";
import { parseTerm, type NodeInfo, type PodInfo, type SchedulerCache, type TermInfo } from "./cache";
import type { Resources } from "./resources";

interface Spread {
  maxSkew: number;
  topologyKey: string;
  hard: boolean;
  term: TermInfo;
  minDomains: number;
  honorTaints: boolean;
  /** Filled per cycle: domain → matching pods; the minimum over eligible domains. */
  counts?: Map<string, number>;
  min?: number;
}

export interface VolumeInfo {
  /** Claim names that do not exist: the pod is unschedulable everywhere. */
  missing?: string;
  /** Required node affinity of bound volumes (each must match). */
  nodeAffinities: any[];
  /** Unbound claims waiting for a consumer, to be marked with the selected node. */
  delayed: { ns: string; name: string }[];
}

interface PodContext {
  pod: any;
  pi: PodInfo;
  spec: any;
  tolerations: any[];
  affinityTerms: TermInfo[];
  antiTerms: TermInfo[];
  /** Existing pods' anti-affinity that the incoming pod matches: topologyKey → forbidden domains. */
  forbidden: { topologyKey: string; domains: Map<string, number> }[];
  affinityCounts: Map<string, number>[];
  antiCounts: Map<string, number>[];
  /** Affinity terms no pod matches yet but the pod itself does (first of its group): ignore. */
  affinitySelfMatch: boolean;
  spreads: Spread[];
  prefAffinity: { term: TermInfo; weight: number; counts: Map<string, number> }[];
  prefNode: { weight: number; term: any }[];
  volumes: VolumeInfo;
}

export function prepare(cache: SchedulerCache, pod: any, pi: PodInfo, volumes: VolumeInfo): PodContext {
  const spec = pod.spec ?? {};
  const ns = pi.ns;
  const aff = spec.affinity ?? {};
  const affinityTerms = (aff.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []).map((t: any) => parseTerm(t, ns));
  const antiTerms = pi.antiTerms;
  const affinityCounts = affinityTerms.map((t: TermInfo) => cache.domainCounts(t).counts);
  const antiCounts = antiTerms.map((t) => cache.domainCounts(t).counts);
  // Kubernetes lets the first pod of a self-affine group go anywhere.
  const affinitySelfMatch =
    affinityTerms.length > 0 && affinityTerms.every((t: TermInfo, i: number) => affinityCounts[i]!.size === 0 && cache.termMatchesPod(t, pi));
  const forbidden: PodContext["forbidden"] = [];
  for (const g of cache.antiGroups.values()) if (g.total > 0 && cache.termMatchesPod(g.term, pi)) forbidden.push({ topologyKey: g.term.topologyKey, domains: g.counts });
  const spreads: Spread[] = [];
  for (const c of spec.topologySpreadConstraints ?? []) {
    const sel = c.labelSelector;
    const withKeys = { ...(sel ?? {}) };
    if (c.matchLabelKeys?.length) {
      withKeys.matchLabels = { ...(withKeys.matchLabels ?? {}) };
      for (const k of c.matchLabelKeys) if (pi.labels[k] !== undefined) withKeys.matchLabels[k] = pi.labels[k];
    }
    const term = parseTerm({ labelSelector: withKeys, topologyKey: c.topologyKey }, ns);
    spreads.push({ maxSkew: c.maxSkew ?? 1, topologyKey: c.topologyKey, hard: c.whenUnsatisfiable !== "ScheduleAnyway", term, minDomains: c.minDomains ?? 1, counts: cache.domainCounts(term).counts, honorTaints: c.nodeTaintsPolicy === "Honor" });
  }
  const prefAffinity: PodContext["prefAffinity"] = [];
  for (const w of aff.podAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []) {
    const term = parseTerm(w.podAffinityTerm ?? {}, ns);
    prefAffinity.push({ term, weight: w.weight ?? 1, counts: cache.domainCounts(term).counts });
  }
  for (const w of aff.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []) {
    const term = parseTerm(w.podAffinityTerm ?? {}, ns);
    prefAffinity.push({ term, weight: -(w.weight ?? 1), counts: cache.domainCounts(term).counts });
  }
  const prefNode = (aff.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []).map((p: any) => ({ weight: p.weight ?? 1, term: p.preference }));
  return { pod, pi, spec, tolerations: spec.tolerations ?? [], affinityTerms, antiTerms, forbidden, affinityCounts, antiCounts, affinitySelfMatch, spreads, prefAffinity, prefNode, volumes };
}

/** Spread minimums need the eligible domains: computed once per cycle over all nodes. */
export function prepareSpread(ctx: PodContext, nodes: NodeInfo[]): void {
  for (const s of ctx.spreads) {
    const domains = new Set<string>();
    for (const n of nodes) {
      if (!matchesNodeSelectorAndAffinity(ctx.spec, n.node)) continue;
      if (s.honorTaints && untoleratedTaint(n.node.spec?.taints, ctx.tolerations, ["NoSchedule", "NoExecute"])) continue;
      const d = n.labels[s.topologyKey];
      if (d !== undefined) domains.add(d);
    }
    let min = Infinity;
    for (const d of domains) min = Math.min(min, s.counts!.get(d) ?? 0);
    if (domains.size < s.minDomains) min = 0;
    s.min = min === Infinity ? 0 : min;
  }
}

interface FilterResult {
  reasons: string[];
  /** Preemption could help (resources, ports, anti-affinity); otherwise it cannot. */
  resolvable: boolean;
}

const fail = (r: string, resolvable = false): FilterResult => ({ reasons: [r], resolvable });

/** Run every filter for one node; undefined when the pod fits. */
export function filter(ctx: PodContext, n: NodeInfo): FilterResult | undefined {
  const node = n.node;
  const spec = ctx.spec;
  // NodeUnschedulable
  if (node.spec?.unschedulable && !ctx.tolerations.some((t: any) => tolerates(t, { key: "node.kubernetes.io/unschedulable", effect: "NoSchedule" })))
    return fail("node(s) were unschedulable");
  // NodeName
  if (spec.nodeName && spec.nodeName !== n.name) return fail("node(s) didn't match the requested node name");
  // TaintToleration
  const taint = untoleratedTaint(node.spec?.taints, ctx.tolerations, ["NoSchedule", "NoExecute"]);
  if (taint) return fail(`node(s) had untolerated taint {${taint.key}: ${taint.value ?? ""}}`);
  // NodeAffinity
  if (!matchesNodeSelectorAndAffinity(spec, node)) return fail("node(s) didn't match Pod's node affinity/selector");
  // NodePorts
  if (ctx.pi.hostPorts.length && n.hostPorts.size) {
    for (const want of ctx.pi.hostPorts) {
      const [proto, ip, port] = want.split("/");
      for (const have of n.hostPorts.keys()) {
        const [p2, ip2, port2] = have.split("/");
        if (p2 === proto && port2 === port && (ip === "*" || ip2 === "*" || ip === ip2)) return fail("node(s) didn't have free ports for the requested pod ports", true);
      }
    }
  }
  // NodeResourcesFit
  const reasons = fitReasons(ctx.pi.req, n);
  if (reasons.length) return { reasons, resolvable: true };
  // VolumeBinding (bound PVs' node affinity)
  for (const na of ctx.volumes.nodeAffinities) {
    const terms = na?.required?.nodeSelectorTerms ?? [];
    if (terms.length && !terms.some((t: any) => matchNodeSelectorTerm(t, node))) return fail("node(s) had volume node affinity conflict");
  }
  // InterPodAffinity
  for (const f of ctx.forbidden) {
    const d = n.labels[f.topologyKey];
    if (d !== undefined && (f.domains.get(d) ?? 0) > 0) return fail("node(s) didn't satisfy existing pods anti-affinity rules", true);
  }
  if (!ctx.affinitySelfMatch) {
    for (let i = 0; i < ctx.affinityTerms.length; i++) {
      const d = n.labels[ctx.affinityTerms[i]!.topologyKey];
      if (d === undefined || !(ctx.affinityCounts[i]!.get(d) ?? 0)) return fail("node(s) didn't match pod affinity rules");
    }
  }
  for (let i = 0; i < ctx.antiTerms.length; i++) {
    const d = n.labels[ctx.antiTerms[i]!.topologyKey];
    if (d !== undefined && (ctx.antiCounts[i]!.get(d) ?? 0) > 0) return fail("node(s) didn't match pod anti-affinity rules", true);
  }
  // PodTopologySpread
  for (const s of ctx.spreads) {
    if (!s.hard) continue;
    const d = n.labels[s.topologyKey];
    if (d === undefined) return fail("node(s) didn't match pod topology spread constraints (missing required label)");
    const selfMatch = ctx.pi && s.term.sel && matchesSelf(s.term, ctx.pi) ? 1 : 0;
    if ((s.counts!.get(d) ?? 0) + selfMatch - (s.min ?? 0) > s.maxSkew) return fail("node(s) didn't match pod topology spread constraints", true);
  }
  return undefined;
}

function matchesSelf(t: TermInfo, pi: PodInfo): boolean {
  return (t.namespaces === null || t.namespaces.has(pi.ns)) && selectorMatches(t.sel, pi.labels);
}

function fitReasons(req: Resources, n: NodeInfo): string[] {
  const out: string[] = [];
  const a = n.alloc;
  if (n.podCount + 1 > a.pods) out.push("Too many pods");
  if (req.cpu > 0 && n.req.cpu + req.cpu > a.cpu) out.push("Insufficient cpu");
  if (req.memory > 0 && n.req.memory + req.memory > a.memory) out.push("Insufficient memory");
  if (req.ephemeral > 0 && n.req.ephemeral + req.ephemeral > a.ephemeral && a.ephemeral > 0) out.push("Insufficient ephemeral-storage");
  for (const [k, v] of Object.entries(req.scalars ?? {})) {
    if (v <= 0) continue;
    const have = a.scalars?.[k] ?? 0;
    if ((n.req.scalars?.[k] ?? 0) + v > have) out.push(`Insufficient ${k}`);
  }
  return out;
}

/** Weighted sum of the default scores (each 0..100) for the feasible nodes. */
export function score(ctx: PodContext, nodes: NodeInfo[]): number[] {
  const out = new Array<number>(nodes.length).fill(0);
  const req = ctx.pi.nonzero;
  const raw = (f: (n: NodeInfo) => number) => nodes.map(f);
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i]!;
    const cpuCap = n.alloc.cpu, memCap = n.alloc.memory;
    const cpuUsed = n.nonzero.cpu + req.cpu, memUsed = n.nonzero.memory + req.memory;
    // NodeResourcesFit LeastAllocated (weight 1)
    const lc = cpuCap > 0 ? Math.max(0, ((cpuCap - cpuUsed) * 100) / cpuCap) : 0;
    const lm = memCap > 0 ? Math.max(0, ((memCap - memUsed) * 100) / memCap) : 0;
    out[i]! += (lc + lm) / 2;
    // NodeResourcesBalancedAllocation (weight 1)
    const fc = cpuCap > 0 ? Math.min(1, cpuUsed / cpuCap) : 1;
    const fm = memCap > 0 ? Math.min(1, memUsed / memCap) : 1;
    out[i]! += (1 - Math.abs(fc - fm) / 2) * 100;
  }
  // TaintToleration (weight 3): fewer untolerated PreferNoSchedule taints is better.
  const taints = raw((n) => (n.node.spec?.taints ?? []).filter((t: any) => t.effect === "PreferNoSchedule" && !ctx.tolerations.some((tol: any) => tolerates(tol, t))).length);
  addNormalized(out, taints, 3, true);
  // NodeAffinity preferred (weight 2)
  if (ctx.prefNode.length) addNormalized(out, raw((n) => ctx.prefNode.reduce((s, p) => s + (matchNodeSelectorTerm(p.term, n.node) ? p.weight : 0), 0)), 2, false);
  // InterPodAffinity preferred (weight 2)
  if (ctx.prefAffinity.length)
    addNormalized(out, raw((n) => ctx.prefAffinity.reduce((s, p) => {
      const d = n.labels[p.term.topologyKey];
      return s + (d === undefined ? 0 : (p.counts.get(d) ?? 0) * p.weight);
    }, 0)), 2, false);
  // PodTopologySpread (weight 2): fewer matching pods in the domain is better.
  if (ctx.spreads.length)
    addNormalized(out, raw((n) => ctx.spreads.reduce((s, sp) => {
      const d = n.labels[sp.topologyKey];
      return s + (d === undefined ? 0 : (sp.counts!.get(d) ?? 0) + sp.maxSkew - 1);
    }, 0)), 2, true);
  return out;
}

function addNormalized(out: number[], vals: number[], weight: number, reverse: boolean): void {
  let min = Infinity, max = -Infinity;
  for (const v of vals) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (max === min) {
    for (let i = 0; i < out.length; i++) out[i]! += weight * (reverse ? 100 : vals[i]! > 0 ? 100 : 0);
    return;
  }
  for (let i = 0; i < out.length; i++) {
    const x = ((vals[i]! - min) * 100) / (max - min);
    out[i]! += weight * (reverse ? 100 - x : x);
  }
}
