// The scheduler's view of the cluster, kept incrementally: per-node allocatable and requested
// resources, pod counts and host ports, assigned pods indexed by label, and per-term domain
// counters for inter-pod (anti-)affinity and topology spread, so scheduling one pod never
// rescans every pod.
import { stableJson } from "../controllers/runtime/pods";
import { add, nodeAllocatable, podRequests, zero, type Allocatable, type Resources } from "./resources";
import { parseSelector, selectorMatches, type ParsedSelector } from "./predicates";

export interface TermInfo {
  key: string;
  /** Namespaces the term applies to; null = every namespace (namespaceSelector: {}). */
  namespaces: Set<string> | null;
  nsSelector?: ParsedSelector;
  sel: ParsedSelector;
  topologyKey: string;
  weight?: number;
}

export interface PodInfo {
  key: string;
  uid: string;
  ns: string;
  labels: Record<string, string>;
  nodeName: string;
  req: Resources;
  nonzero: Resources;
  hostPorts: string[];
  /** Required anti-affinity terms (the symmetric check for incoming pods). */
  antiTerms: TermInfo[];
  pod: any;
}

export class NodeInfo {
  node: any;
  name: string;
  labels: Record<string, string>;
  alloc: Allocatable;
  req: Resources = zero();
  nonzero: Resources = zero();
  podCount = 0;
  pods = new Map<string, PodInfo>();
  hostPorts = new Map<string, number>();

  constructor(node: any) {
    this.node = node;
    this.name = node.metadata.name;
    this.labels = node.metadata.labels ?? {};
    this.alloc = nodeAllocatable(node);
  }

  setNode(node: any): void {
    this.node = node;
    this.labels = node.metadata.labels ?? {};
    this.alloc = nodeAllocatable(node);
  }
}

function termKey(namespaces: Set<string> | null, nsSel: any, sel: any, topologyKey: string): string {
  return `${namespaces ? [...namespaces].sort().join(",") : "*"}|${nsSel ? stableJson(nsSel) : ""}|${stableJson(sel ?? null)}|${topologyKey}`;
}

/** A PodAffinityTerm of a pod in namespace ns. */
export function parseTerm(t: any, ns: string, weight?: number): TermInfo {
  const nsSel = t.namespaceSelector;
  let namespaces: Set<string> | null = new Set(t.namespaces?.length ? t.namespaces : nsSel ? [] : [ns]);
  let nsSelector: ParsedSelector | undefined;
  if (nsSel) {
    const p = parseSelector(nsSel);
    if (p.reqs.length === 0) namespaces = null;
    else nsSelector = p;
  }
  return { key: termKey(namespaces, nsSelector ? nsSel : undefined, t.labelSelector, t.topologyKey ?? ""), namespaces, nsSelector, sel: parseSelector(t.labelSelector), topologyKey: t.topologyKey ?? "", weight };
}

function hostPortsOf(pod: any): string[] {
  const out: string[] = [];
  for (const c of pod.spec?.containers ?? [])
    for (const p of c.ports ?? []) if (p.hostPort) out.push(`${p.protocol ?? "TCP"}/${p.hostIP && p.hostIP !== "0.0.0.0" ? p.hostIP : "*"}/${p.hostPort}`);
  return out;
}

export function makePodInfo(pod: any): PodInfo {
  const ns = pod.metadata.namespace;
  return {
    key: `${ns}/${pod.metadata.name}`,
    uid: pod.metadata.uid,
    ns,
    labels: pod.metadata.labels ?? {},
    nodeName: pod.spec?.nodeName ?? "",
    req: podRequests(pod.spec),
    nonzero: podRequests(pod.spec, true),
    hostPorts: hostPortsOf(pod),
    antiTerms: (pod.spec?.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []).map((t: any) => parseTerm(t, ns)),
    pod,
  };
}

interface Counter {
  term: TermInfo;
  counts: Map<string, number>;
  total: number;
}

export class SchedulerCache {
  nodes = new Map<string, NodeInfo>();
  private nodeArr: NodeInfo[] | undefined;
  pods = new Map<string, PodInfo>();
  private labelIndex = new Map<string, Set<PodInfo>>();
  private counters = new Map<string, Counter>();
  /** Existing pods' required anti-affinity terms → domains where such pods run. */
  antiGroups = new Map<string, Counter>();
  nsLabels = new Map<string, Record<string, string>>();
  /** Pods bound to nodes the cache does not know (yet). */
  private unattached = new Map<string, Map<string, PodInfo>>();

  nodeList(): NodeInfo[] {
    return (this.nodeArr ??= [...this.nodes.values()]);
  }

  upsertNode(node: any): { labelsChanged: boolean; isNew: boolean } {
    const cur = this.nodes.get(node.metadata.name);
    if (!cur) {
      const ni = new NodeInfo(node);
      this.nodes.set(node.metadata.name, ni);
      this.nodeArr = undefined;
      const waiting = this.unattached.get(ni.name);
      if (waiting) {
        this.unattached.delete(ni.name);
        for (const pi of waiting.values()) this.attach(ni, pi);
      }
      this.invalidateDomains();
      return { labelsChanged: true, isNew: true };
    }
    const changed = stableJson(cur.labels) !== stableJson(node.metadata.labels ?? {});
    cur.setNode(node);
    if (changed) this.invalidateDomains();
    return { labelsChanged: changed, isNew: false };
  }

  removeNode(name: string): void {
    const ni = this.nodes.get(name);
    if (ni && ni.pods.size) this.unattached.set(name, new Map(ni.pods));
    if (this.nodes.delete(name)) {
      this.nodeArr = undefined;
      this.invalidateDomains();
    }
  }

  private invalidateDomains(): void {
    this.counters.clear();
    this.antiGroups.clear();
    for (const pi of this.pods.values()) this.addAnti(pi, 1);
  }

  domainOf(nodeName: string, topologyKey: string): string | undefined {
    return this.nodes.get(nodeName)?.labels[topologyKey];
  }

  nsMatches(t: TermInfo, ns: string): boolean {
    if (t.nsSelector) return (t.namespaces?.has(ns) ?? false) || selectorMatches(t.nsSelector, this.nsLabels.get(ns));
    return t.namespaces === null || t.namespaces.has(ns);
  }

  termMatchesPod(t: TermInfo, pi: { ns: string; labels: Record<string, string> }): boolean {
    return this.nsMatches(t, pi.ns) && selectorMatches(t.sel, pi.labels);
  }

  addPod(pi: PodInfo): void {
    const old = this.pods.get(pi.key);
    if (old) this.removePod(old.key);
    this.pods.set(pi.key, pi);
    const n = this.nodes.get(pi.nodeName);
    if (n) this.attach(n, pi);
    else {
      let m = this.unattached.get(pi.nodeName);
      if (!m) this.unattached.set(pi.nodeName, (m = new Map()));
      m.set(pi.key, pi);
    }
    for (const [k, v] of Object.entries(pi.labels)) {
      const ik = `${k}\u0000${v}`;
      let s = this.labelIndex.get(ik);
      if (!s) this.labelIndex.set(ik, (s = new Set()));
      s.add(pi);
    }
    for (const c of this.counters.values()) this.count(c, pi, 1);
    this.addAnti(pi, 1);
  }

  removePod(key: string): PodInfo | undefined {
    const pi = this.pods.get(key);
    if (!pi) return undefined;
    this.pods.delete(key);
    this.unattached.get(pi.nodeName)?.delete(key);
    const n = this.nodes.get(pi.nodeName);
    if (n && n.pods.delete(key)) {
      add(n.req, pi.req, -1);
      add(n.nonzero, pi.nonzero, -1);
      n.podCount--;
      for (const hp of pi.hostPorts) {
        const c = (n.hostPorts.get(hp) ?? 1) - 1;
        if (c <= 0) n.hostPorts.delete(hp);
        else n.hostPorts.set(hp, c);
      }
    }
    for (const [k, v] of Object.entries(pi.labels)) this.labelIndex.get(`${k}\u0000${v}`)?.delete(pi);
    for (const c of this.counters.values()) this.count(c, pi, -1);
    this.addAnti(pi, -1);
    return pi;
  }

  private attach(n: NodeInfo, pi: PodInfo): void {
    n.pods.set(pi.key, pi);
    add(n.req, pi.req);
    add(n.nonzero, pi.nonzero);
    n.podCount++;
    for (const hp of pi.hostPorts) n.hostPorts.set(hp, (n.hostPorts.get(hp) ?? 0) + 1);
  }

  private addAnti(pi: PodInfo, sign: number): void {
    for (const t of pi.antiTerms) {
      const d = this.domainOf(pi.nodeName, t.topologyKey);
      if (d === undefined) continue;
      let g = this.antiGroups.get(t.key);
      if (!g) {
        if (sign < 0) continue;
        this.antiGroups.set(t.key, (g = { term: t, counts: new Map(), total: 0 }));
      }
      bump(g, d, sign);
      if (g.total <= 0) this.antiGroups.delete(t.key);
    }
  }

  private count(c: Counter, pi: PodInfo, sign: number): void {
    if (!this.termMatchesPod(c.term, pi)) return;
    const d = this.domainOf(pi.nodeName, c.term.topologyKey);
    if (d !== undefined) bump(c, d, sign);
  }

  /** Pods matching term, per topology domain (built on first use, then kept up to date). */
  domainCounts(t: TermInfo): Counter {
    let c = this.counters.get(t.key);
    if (c) return c;
    c = { term: t, counts: new Map(), total: 0 };
    for (const pi of this.candidates(t.sel)) this.count(c, pi, 1);
    if (this.counters.size > 2000) this.counters.clear();
    this.counters.set(t.key, c);
    return c;
  }

  /** A superset of pods a selector can match, from the label index when it can narrow. */
  private candidates(sel: ParsedSelector): Iterable<PodInfo> {
    if (sel.null) return [];
    let best: PodInfo[] | Set<PodInfo> | undefined;
    for (const r of sel.reqs) {
      if (r.op === "=") {
        const s = this.labelIndex.get(`${r.key}\u0000${r.values[0]}`) ?? new Set();
        if (!best || s.size < sizeOf(best)) best = s;
      } else if (r.op === "in") {
        const u: PodInfo[] = [];
        for (const v of r.values) for (const pi of this.labelIndex.get(`${r.key}\u0000${v}`) ?? []) u.push(pi);
        if (!best || u.length < sizeOf(best)) best = u;
      }
    }
    return best ?? this.pods.values();
  }
}

function sizeOf(x: PodInfo[] | Set<PodInfo>): number {
  return Array.isArray(x) ? x.length : x.size;
}

function bump(c: Counter, d: string, sign: number): void {
  const v = (c.counts.get(d) ?? 0) + sign;
  if (v <= 0) c.counts.delete(d);
  else c.counts.set(d, v);
  c.total += sign;
}
