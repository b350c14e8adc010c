// LoadBalancer Services without extra pods (K3s ServiceLB's semantics; the agents open the
// ports): a Service of type LoadBalancer whose loadBalancerClass is unset or Skiff's gets, as
// status.loadBalancer.ingress, the addresses of the nodes that serve it, and every agent sends
// traffic for those addresses and ports to the Service (agent/services/rules.ts).
//
// Which nodes: Ready ones; when any node is labelled svccontroller.skiff.io/enablelb=true only
// those, and never one labelled false. A port is served by one Service per node: the oldest
// Service holding it keeps it (and the ingress proxy's ports on nodes that run it come first), a
// later one is served only on the nodes where all its ports are free. With externalTrafficPolicy
// Local only the nodes that have one of its ready endpoints serve it (the others would refuse). A Service that no node can
// serve stays pending, with a Warning event saying which port is taken by whom.
import { INGRESS_PORTS_ANNOTATION, isOurLoadBalancer, LB_NODE_LABEL, nodeAddress, nodeReady } from "../../lib/networking";
import { Controller, type ControllerContext } from "./runtime/controller";
import { objKey, type Informer } from "./runtime/informer";

const ALL = "all";

export interface LbPlan {
  /** ns/name → addresses of the nodes serving it (sorted). */
  serving: Map<string, string[]>;
  /** ns/name → why it is not served on some or all nodes. */
  conflicts: Map<string, { node: string; port: string; holder: string }[]>;
  eligible: string[];
}

/** The pure decision: who serves what, from the nodes and the LoadBalancer Services. */
export function planLoadBalancers(nodes: any[], services: any[], endpointNodes: Map<string, Set<string>> = new Map()): LbPlan {
  const ready = nodes.filter((n) => nodeReady(n) && nodeAddress(n)).sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
  const labelled = ready.filter((n) => n.metadata.labels?.[LB_NODE_LABEL] === "true");
  const eligible = labelled.length ? labelled : ready.filter((n) => n.metadata.labels?.[LB_NODE_LABEL] !== "false");
  const claims = new Map<string, Map<string, string>>(); // node → "80/TCP" → holder
  for (const n of eligible) {
    const m = new Map<string, string>();
    for (const p of String(n.metadata.annotations?.[INGRESS_PORTS_ANNOTATION] ?? "").split(",").filter(Boolean)) m.set(`${p.trim()}/TCP`, "the ingress proxy");
    claims.set(n.metadata.name, m);
  }
  const ordered = services
    .filter((s) => isOurLoadBalancer(s) && !s.metadata.deletionTimestamp)
    .sort((a, b) => (a.metadata.creationTimestamp ?? "").localeCompare(b.metadata.creationTimestamp ?? "") || objKey(a).localeCompare(objKey(b)));
  const serving = new Map<string, string[]>();
  const conflicts = new Map<string, { node: string; port: string; holder: string }[]>();
  for (const s of ordered) {
    const key = objKey(s);
    const ports = [...new Set<string>((s.spec.ports ?? []).map((p: any) => `${p.port}/${p.protocol ?? "TCP"}`))];
    const addrs = new Set<string>();
    const why: { node: string; port: string; holder: string }[] = [];
    // externalTrafficPolicy Local: only nodes with a ready endpoint answer (K3s ServiceLB too).
    const local = s.spec.externalTrafficPolicy === "Local" ? (endpointNodes.get(key) ?? new Set<string>()) : undefined;
    for (const n of eligible) {
      if (local && !local.has(n.metadata.name)) continue;
      const m = claims.get(n.metadata.name)!;
      const taken = ports.find((p) => m.has(p) && m.get(p) !== key);
      if (taken) {
        why.push({ node: n.metadata.name, port: taken, holder: m.get(taken)! });
        continue;
      }
      for (const p of ports) m.set(p, key);
      addrs.add(nodeAddress(n)!);
    }
    serving.set(key, [...addrs].sort());
    if (why.length) conflicts.set(key, why);
  }
  return { serving, conflicts, eligible: eligible.map((n) => n.metadata.name) };
}

const ingressOf = (addrs: string[]) => addrs.map((ip) => ({ ip }));

export class ServiceLBController extends Controller {
  private services: Informer;
  private nodes: Informer;
  private slices: Informer;
  /** The last warning told per Service, so a steady state writes no more events. */
  private told = new Map<string, string>();

  constructor(rt: ControllerContext) {
    super(rt, "servicelb", 1);
    this.services = this.informer("services");
    this.nodes = this.informer("nodes");
    this.slices = this.informer("discovery.k8s.io/endpointslices");
    const all = () => this.queue.add(ALL);
    const onSvc = (s: any) => (isOurLoadBalancer(s) || s.status?.loadBalancer?.ingress?.length ? all() : undefined);
    this.services.addHandler({ add: onSvc, update: (o, s) => (onSvc(o), onSvc(s)), delete: onSvc });
    this.nodes.addHandler({ add: all, update: all, delete: all });
    // Endpoints move between nodes: only Local LoadBalancers care.
    const onSlice = (sl: any) => {
      const svc = this.services.get(`${sl.metadata.namespace}/${sl.metadata.labels?.["kubernetes.io/service-name"]}`);
      if (svc && isOurLoadBalancer(svc) && svc.spec.externalTrafficPolicy === "Local") all();
    };
    this.slices.addHandler({ add: onSlice, update: (_, sl) => onSlice(sl), delete: onSlice });
  }

  protected override onSynced(): void {
    this.queue.add(ALL);
  }

  async reconcile(): Promise<void> {
    const services = this.services.list();
    const plan = planLoadBalancers(this.nodes.list(), services, this.endpointNodes(services));
    for (const s of services) {
      const key = objKey(s);
      const want = plan.serving.get(key);
      if (!want) {
        // No longer a LoadBalancer at all (not another class's): its old addresses go.
        if (s.spec?.type !== "LoadBalancer" && !s.spec?.loadBalancerClass && s.status?.loadBalancer?.ingress?.length) await this.setIngress(s, []);
        this.told.delete(key);
        continue;
      }
      if (JSON.stringify(s.status?.loadBalancer?.ingress ?? []) !== JSON.stringify(ingressOf(want))) await this.setIngress(s, want);
      const why = plan.conflicts.get(key);
      let msg = "";
      if (!plan.eligible.length) msg = `no node can serve LoadBalancer Services: none is Ready${this.nodes.list().some((n) => n.metadata.labels?.[LB_NODE_LABEL]) ? ` among those labelled ${LB_NODE_LABEL}` : ""}`;
      else if (why?.length && !want.length)
        msg = `pending: ${why.map((w) => `port ${w.port} on node ${w.node} is taken by ${w.holder}`).join("; ")}`;
      else if (why?.length) msg = `not served on ${why.map((w) => `node ${w.node} (port ${w.port} is taken by ${w.holder})`).join(", ")}`;
      if (msg && this.told.get(key) !== msg) this.record(s, "Warning", want.length ? "PortConflict" : "Pending", msg);
      if (msg) this.told.set(key, msg);
      else this.told.delete(key);
    }
  }

  /** Local LoadBalancers → the nodes their ready endpoints are on. */
  private endpointNodes(services: any[]): Map<string, Set<string>> {
    const out = new Map<string, Set<string>>();
    for (const svc of services) if (isOurLoadBalancer(svc) && svc.spec.externalTrafficPolicy === "Local") out.set(objKey(svc), new Set());
    if (!out.size) return out;
    for (const sl of this.slices.list()) {
      const nodes = out.get(`${sl.metadata.namespace}/${sl.metadata.labels?.["kubernetes.io/service-name"]}`);
      if (nodes) for (const e of sl.endpoints ?? []) if (e.conditions?.ready !== false && e.nodeName) nodes.add(e.nodeName);
    }
    return out;
  }

  private async setIngress(s: any, addrs: string[]): Promise<void> {
    await this.api.updateStatus("Service", s.metadata.namespace, s.metadata.name, (cur) => {
      cur.status = { ...(cur.status ?? {}), loadBalancer: addrs.length ? { ingress: ingressOf(addrs) } : {} };
      return cur;
    });
  }
}
