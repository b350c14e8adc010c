// NetworkPolicy (networking.k8s.io/v1) as iptables chains and ipsets for one node: a pure
// function of the policies, the cluster's pods and namespaces, so it is tested without root.
//
// Each node enforces the policies of its own pods, in the filter table's FORWARD path (pod to
// pod on the bridge, across nodes, through a Service after its DNAT, from outside):
//
//   SKIFF-NP-FORWARD   replies of allowed connections (ctdir REPLY) and related ICMP pass; a pod
//                      reaching itself through a Service (hairpin mark) passes; packets from a
//                      pod isolated for egress go to SKIFF-NP-EGRESS, packets to a pod isolated
//                      for ingress to SKIFF-NP-INGRESS. Every packet in the original direction is
//                      checked, not only the first: a connection a new policy denies stops.
//                      (kube-router and Calico accept ESTABLISHED first, so such connections
//                      live on; kube-network-policies' "strict" mode expires their conntrack
//                      entries instead. Checking every packet costs a set lookup per packet of
//                      an isolated pod, and needs no conntrack sweep on each change.)
//   SKIFF-NP-INGRESS   clears the allow mark, sends the packet through the chain of each policy
//                      selecting the destination (set SKIFF-NPT-<policy>), drops it unmarked
//   SKIFF-NPI-<policy> one rule per (peer set × port) of each ingress rule: marks allowed
//   SKIFF-NP-EGRESS, SKIFF-NPE-<policy>: the same for egress, by source
//
// Sets: the local pods each policy selects (SKIFF-NPT-), the local pods isolated per direction
// (SKIFF-NP-ISO-IN / -OUT), each rule's pod peers anywhere in the cluster (SKIFF-NPP-, made
// even when empty, so a pod that appears is one `ipset add`), each ipBlock (SKIFF-NPB-, hash:net
// with the `except` blocks as nomatch), and pods by the number a named port has on them
// (SKIFF-NPN-). A pod or label change is then a few set members; a policy change, its chains.
//
// Semantics as upstream: policyTypes defaulting (Ingress, plus Egress when egress rules exist),
// an empty rule list isolates (default deny), an empty `from`/`to` or `ports` matches all,
// podSelector / namespaceSelector / both / ipBlock peers, numbered and named ports, endPort,
// TCP/UDP/SCTP. Traffic between a pod and its own node is never filtered (upstream: "traffic
// to and from the node where a Pod is running is always allowed"): it goes through INPUT and
// OUTPUT, not FORWARD, so the node's DNS, the API relay and kubelet-style probes keep working.

import { selectorMatches as labelSelectorMatches } from "./selector.ts";
import type { ChainMap, IpSet, Rendered } from "../iptables.ts";
import { ipv4Number, ipv4String } from "../ip.ts";
import { chainHash } from "../rules.ts";

export const NP_FORWARD = "SKIFF-NP-FORWARD";
export const NP_INGRESS = "SKIFF-NP-INGRESS";
export const NP_EGRESS = "SKIFF-NP-EGRESS";
export const ISO_IN = "SKIFF-NP-ISO-IN";
export const ISO_OUT = "SKIFF-NP-ISO-OUT";
/** Set on a packet a policy allows (cleared before each direction's check). */
export const ALLOW_MARK = "0x10000";
/** Set by the service proxy on a pod reaching itself through a Service. */
export const HAIRPIN_MARK = "0x20000";

export interface PodInfo {
  ns: string;
  name: string;
  labels: Record<string, string>;
  ip: string;
  node: string;
  /** Container ports by name (for named ports in policies). */
  ports: { name: string; port: number; protocol: string }[];
}

export interface PolicyInput {
  policies: any[];
  /** Every pod of the cluster with an address of its own (not hostNetwork), not finished. */
  pods: PodInfo[];
  /** namespace → its labels. */
  namespaces: Map<string, Record<string, string>>;
  nodeName: string;
}

/** The part of a Pod the policies look at (null: not a policy endpoint). */
export function podInfo(p: any): PodInfo | null {
  const ip = p?.status?.podIP;
  if (!ip || p.spec?.hostNetwork || p.status?.phase === "Succeeded" || p.status?.phase === "Failed" || Number.isNaN(ipv4Number(ip))) return null;
  const ports: PodInfo["ports"] = [];
  for (const c of [...(p.spec?.containers ?? []), ...(p.spec?.initContainers ?? [])])
    for (const cp of c.ports ?? []) if (cp.name && cp.containerPort) ports.push({ name: cp.name, port: cp.containerPort, protocol: cp.protocol ?? "TCP" });
  return { ns: p.metadata.namespace, name: p.metadata.name, labels: p.metadata.labels ?? {}, ip, node: p.spec?.nodeName ?? "", ports };
}

/** policyTypes as the API defaults them (older objects may lack it). */
export function policyTypes(np: any): { ingress: boolean; egress: boolean } {
  const t: string[] = np.spec?.policyTypes?.length ? np.spec.policyTypes : ["Ingress", ...(np.spec?.egress?.length ? ["Egress"] : [])];
  return { ingress: t.includes("Ingress"), egress: t.includes("Egress") };
}

/** The pods a (non-ipBlock) peer selects, for a policy in namespace `ns`. */
export function peerPods(peer: any, ns: string, pods: PodInfo[], namespaces: Map<string, Record<string, string>>): PodInfo[] {
  const inNs = peer.namespaceSelector
    ? (p: PodInfo) => namespaces.has(p.ns) && labelSelectorMatches(peer.namespaceSelector, namespaces.get(p.ns))
    : (p: PodInfo) => p.ns === ns;
  const sel = peer.podSelector ?? {};
  return pods.filter((p) => inNs(p) && labelSelectorMatches(sel, p.labels));
}

/** hash:net members for an ipBlock: the CIDR (0.0.0.0/0 as two halves: hash:net has no /0), `except` as nomatch. */
export function ipBlockEntries(b: any): string[] {
  const cidr = String(b?.cidr ?? "");
  if (cidr.includes(":")) return []; // IPv6: iptables rules here are IPv4 only
  // As the kernel keeps them (network address, /32 spelled out), so members compare with `ipset save`.
  const norm = (c: string) => {
    const [ip, len = "32"] = c.split("/");
    const bits = Number(len);
    const n = ipv4Number(ip!);
    if (Number.isNaN(n) || !(bits >= 0 && bits <= 32)) return c;
    const net = bits === 0 ? 0 : (n & (~0 << (32 - bits))) >>> 0;
    return `${ipv4String(net)}/${bits}`;
  };
  const main = norm(cidr).endsWith("/0") ? ["0.0.0.0/1", "128.0.0.0/1"] : [norm(cidr)];
  const except = (b.except ?? []).filter((e: string) => !e.includes(":")).map((e: string) => `${norm(e).endsWith("/0") ? "0.0.0.0/1" : norm(e)} nomatch`);
  return [...new Set([...main, ...except])];
}

const name = (kind: string, key: string) => `SKIFF-${kind}-${chainHash(key)}`;
const proto = (p: string | undefined) => (p ?? "TCP").toLowerCase();
const quote = (s: string) => `"${s.replace(/["\\]/g, "")}"`;

export function renderPolicies(input: PolicyInput): Rendered {
  const filter: ChainMap = new Map();
  const sets = new Map<string, IpSet>();
  const ingressDispatch: string[] = [];
  const egressDispatch: string[] = [];
  const isoIn = new Set<string>();
  const isoOut = new Set<string>();
  const local = input.pods.filter((p) => p.node === input.nodeName);
  const hashIp = (entries: Iterable<string>): IpSet => ({ type: "hash:ip", entries: [...new Set(entries)].sort() });
  const policies = [...input.policies].sort((a, b) => (`${a.metadata.namespace}/${a.metadata.name}` < `${b.metadata.namespace}/${b.metadata.name}` ? -1 : 1));

  for (const np of policies) {
    const ns = np.metadata.namespace;
    const id = `${ns}/${np.metadata.name}`;
    const targets = local.filter((p) => p.ns === ns && labelSelectorMatches(np.spec?.podSelector ?? {}, p.labels));
    if (!targets.length) continue; // nothing of this node's to enforce
    const types = policyTypes(np);
    const tset = name("NPT", id);
    sets.set(tset, hashIp(targets.map((p) => p.ip)));

    const direction = (dir: "ingress" | "egress", rules: any[]) => {
      const chain = name(dir === "ingress" ? "NPI" : "NPE", id);
      const peerSide = dir === "ingress" ? "src" : "dst";
      const lines: string[] = [];
      rules.forEach((rule, r) => {
        const peers: any[] = (dir === "ingress" ? rule?.from : rule?.to) ?? [];
        const key = `${id}/${dir}/${r}`;
        // Who: any, or the rule's pod peers (one set) and each ipBlock (a set each).
        let who: string[] = [""];
        if (peers.length) {
          who = [];
          const podPeers = peers.filter((p) => !p.ipBlock);
          if (podPeers.length) {
            const set = name("NPP", key);
            sets.set(set, hashIp(podPeers.flatMap((p) => peerPods(p, ns, input.pods, input.namespaces)).map((p) => p.ip)));
            who.push(`-m set --match-set ${set} ${peerSide}`);
          }
          peers.forEach((p, j) => {
            if (!p.ipBlock) return;
            const entries = ipBlockEntries(p.ipBlock);
            if (!entries.length) return;
            const set = name("NPB", `${key}/${j}`);
            sets.set(set, { type: "hash:net", entries });
            who.push(`-m set --match-set ${set} ${peerSide}`);
          });
        }
        // What: any, or each port (numbered, a range, a protocol, or a name resolved per pod).
        let what: string[] = [""];
        const ports: any[] = rule?.ports ?? [];
        if (ports.length) {
          what = [];
          ports.forEach((pt, k) => {
            const pr = proto(pt.protocol);
            if (pt.port === undefined || pt.port === null) what.push(`-p ${pr}`);
            else if (typeof pt.port === "number") what.push(`-p ${pr} -m ${pr} --dport ${pt.port}${pt.endPort ? `:${pt.endPort}` : ""}`);
            else {
              // A named port means, on each destination pod, the number its container port of
              // that name has: ingress resolves it on this node's selected pods, egress on any pod.
              const candidates = dir === "ingress" ? targets : input.pods;
              const byNumber = new Map<number, string[]>();
              for (const p of candidates) {
                const cp = p.ports.find((x) => x.name === pt.port && x.protocol.toLowerCase() === pr);
                if (cp) (byNumber.get(cp.port) ?? byNumber.set(cp.port, []).get(cp.port)!).push(p.ip);
              }
              for (const [n, ips] of [...byNumber].sort((a, b) => a[0] - b[0])) {
                const set = name("NPN", `${key}/${k}/${n}`);
                sets.set(set, hashIp(ips));
                what.push(`-p ${pr} -m set --match-set ${set} dst -m ${pr} --dport ${n}`);
              }
            }
          });
        }
        for (const q of what) for (const w of who) lines.push(`-A ${chain} ${[q, w, "-m comment"].filter(Boolean).join(" ")} --comment ${quote(`${id} ${dir} ${r}`)} -j MARK --set-xmark ${ALLOW_MARK}/${ALLOW_MARK}`);
      });
      filter.set(chain, lines);
      const side = dir === "ingress" ? "dst" : "src";
      (dir === "ingress" ? ingressDispatch : egressDispatch).push(`-A ${dir === "ingress" ? NP_INGRESS : NP_EGRESS} -m set --match-set ${tset} ${side} -m comment --comment ${quote(id)} -j ${chain}`);
      for (const p of targets) (dir === "ingress" ? isoIn : isoOut).add(p.ip);
    };
    if (types.ingress) direction("ingress", np.spec?.ingress ?? []);
    if (types.egress) direction("egress", np.spec?.egress ?? []);
  }

  if (!sets.size) return { tables: { filter: new Map([[NP_FORWARD, []]]) }, sets };
  sets.set(ISO_IN, hashIp(isoIn));
  sets.set(ISO_OUT, hashIp(isoOut));
  const drop = (chain: string, what: string) => `-A ${chain} -m mark ! --mark ${ALLOW_MARK}/${ALLOW_MARK} -m comment --comment "skiff network policy: ${what} not allowed" -j DROP`;
  const clear = (chain: string) => `-A ${chain} -j MARK --set-xmark 0x0/${ALLOW_MARK}`;
  filter.set(NP_FORWARD, [
    `-A ${NP_FORWARD} -m conntrack --ctstate RELATED -j RETURN`,
    `-A ${NP_FORWARD} -m conntrack --ctstate ESTABLISHED --ctdir REPLY -j RETURN`,
    `-A ${NP_FORWARD} -m mark --mark ${HAIRPIN_MARK}/${HAIRPIN_MARK} -j RETURN`,
    `-A ${NP_FORWARD} -m set --match-set ${ISO_OUT} src -j ${NP_EGRESS}`,
    `-A ${NP_FORWARD} -m set --match-set ${ISO_IN} dst -j ${NP_INGRESS}`,
  ]);
  filter.set(NP_EGRESS, [clear(NP_EGRESS), ...egressDispatch, drop(NP_EGRESS, "egress")]);
  filter.set(NP_INGRESS, [clear(NP_INGRESS), ...ingressDispatch, drop(NP_INGRESS, "ingress")]);
  return { tables: { filter }, sets };
}
