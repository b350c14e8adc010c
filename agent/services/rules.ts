// The service proxy's iptables rules, kube-proxy's iptables mode in miniature: a pure function
// from Services and EndpointSlices to `iptables-restore` input, so it is tested without root.
//
//   nat  SKIFF-SERVICES    ClusterIP:port → the internal chain (traffic from outside the cluster's
//                          pods marked for masquerade); externalIPs and LoadBalancer addresses →
//                          SKIFF-EXT-<hash>; addresses of this node → SKIFF-NODEPORTS
//        SKIFF-NODEPORTS   nodePort → SKIFF-EXT-<hash>
//        SKIFF-EXT-<hash>  from outside: externalTrafficPolicy Cluster → masquerade, SVC;
//                          Local → SVL, the client's address kept (the cluster's pods and the
//                          node itself still go to SVC)
//        SKIFF-SVC-<hash>  every endpoint; SKIFF-SVL-<hash> this node's endpoints only (the
//                          internal chain is SVL with internalTrafficPolicy Local). Session
//                          affinity ClientIP first (xt_recent, per endpoint), then one endpoint at
//                          random (statistic, probability 1/(n-i)) → SKIFF-SEP-<hash>
//        SKIFF-SEP-<hash>  hairpin (the endpoint itself) marked; DNAT to podIP:targetPort
//        SKIFF-POSTROUTING marked packets, and pods' traffic leaving the cluster CIDR, masqueraded
//                          (pods see each other's real addresses; the CNI bridge does not
//                          masquerade)
//   filter SKIFF-SERVICES  a port with no endpoints is rejected (connection refused, not a
//                          timeout), as kube-proxy does
//          SKIFF-FIREWALL  127.0.0.0/8 reached from outside the node is dropped (route_localnet
//                          is on for nodePorts on 127.0.0.1; kube-proxy's CVE-2020-8558 guard)
//
// Endpoints: those ready; when none is, the serving terminating ones (KEP-1669). Services
// without a ClusterIP (headless, ExternalName) get no rules. `default/kubernetes` goes to the
// node's API relay and `kube-system/kube-dns` to the node's DNS (nodeLocal), whatever their
// Endpoints say.

import { inCidr } from "./ip.ts";

export const CHAIN_PREFIX = "SKIFF-";
export const MASQ_MARK = "0x4000";
/** Masquerade + hairpin (netpol/model.ts HAIRPIN_MARK 0x20000). */
const HAIRPIN_MARKS = "0x24000";
export const DEFAULT_AFFINITY_SECONDS = 10800;

/** The service proxy's chains (other parts of the agent have their own SKIFF- names). */
export const isProxyChain = (name: string) => /^SKIFF-(SERVICES|NODEPORTS|POSTROUTING|FIREWALL|MARK-|SVC-|SVL-|SEP-|EXT-)/.test(name);

export interface ProxyInput {
  services: any[];
  slices: any[];
  /** This node's pod CIDR: its endpoints are the local ones. */
  podCidr: string;
  /** The cluster's pod CIDR (default the pod CIDR): traffic from elsewhere is masqueraded. */
  clusterCidr?: string;
  /** The node's API relay (api-relay.ts): `default/kubernetes` goes there, not to its Endpoints. */
  apiRelay?: { ip: string; port: number };
  /** The node's DNS: `kube-system/kube-dns` goes there (same port). */
  nodeDns?: string;
}

export interface RenderedRules {
  nat: string;
  filter: string;
  /** Chains of the nat table this rendering uses. */
  natChains: Set<string>;
  /** Counts, for logs and tests. */
  services: number;
  endpoints: number;
}

export function chainHash(s: string): string {
  return new Bun.CryptoHasher("sha256").update(s).digest("hex").slice(0, 16).toUpperCase();
}

export interface Endpoint {
  ip: string;
  port: number;
  /** On this node. */
  local?: boolean;
}

/** The endpoints of one service port, from the Service's slices. */
export function endpointsFor(svc: any, portName: string, protocol: string, slices: any[]): Endpoint[] {
  const ready: Endpoint[] = [];
  const fallback: Endpoint[] = [];
  const seen = new Set<string>();
  for (const s of slices) {
    if (s.metadata?.namespace !== svc.metadata.namespace || s.metadata?.labels?.["kubernetes.io/service-name"] !== svc.metadata.name) continue;
    if (s.addressType && s.addressType !== "IPv4") continue; // IPv4 rules only (iptables, not ip6tables)
    const p = (s.ports ?? []).find((x: any) => (x.name ?? "") === portName && (x.protocol ?? "TCP") === protocol);
    if (!p?.port) continue;
    for (const e of s.endpoints ?? []) {
      const ip = e.addresses?.[0];
      if (!ip) continue;
      const key = `${ip}:${p.port}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const c = e.conditions ?? {};
      if (c.ready !== false) ready.push({ ip, port: p.port });
      else if (c.serving && c.terminating) fallback.push({ ip, port: p.port });
    }
  }
  const out = ready.length ? ready : fallback;
  return out.sort((a, b) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : a.port - b.port));
}

const proto = (p: string) => p.toLowerCase();

export function renderRules(input: ProxyInput): RenderedRules {
  const cluster = input.clusterCidr ?? input.podCidr;
  const P = CHAIN_PREFIX;
  const mark = `${P}MARK-MASQ`;
  const natChains = new Set<string>([`${P}SERVICES`, `${P}NODEPORTS`, `${P}POSTROUTING`, mark, `${P}MARK-HAIRPIN`]);
  const nat: string[] = [];
  const filter: string[] = [];
  const firewall: string[] = [`-A ${P}FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP`];
  nat.push(`-A ${mark} -j MARK --or-mark ${MASQ_MARK}`);
  // A pod reaching itself through a Service: masqueraded, and marked so that NetworkPolicy
  // lets it through (a pod cannot block itself).
  nat.push(`-A ${P}MARK-HAIRPIN -j MARK --or-mark ${HAIRPIN_MARKS}`);
  // The pods' own traffic leaving the cluster (to the LAN, the internet, other hosts) takes the
  // node's address; between pods it keeps theirs.
  nat.push(`-A ${P}POSTROUTING -s ${input.podCidr} ! -d ${cluster} -m comment --comment "pods leaving the cluster" -j MASQUERADE --random-fully`);
  nat.push(`-A ${P}POSTROUTING -m mark ! --mark ${MASQ_MARK}/${MASQ_MARK} -j RETURN`);
  nat.push(`-A ${P}POSTROUTING -j MARK --xor-mark ${MASQ_MARK}`);
  nat.push(`-A ${P}POSTROUTING -j MASQUERADE --random-fully`);
  let services = 0;
  let endpoints = 0;
  const nodePorts: string[] = [];
  const slicesBySvc = new Map<string, any[]>();
  for (const s of input.slices) {
    const k = `${s.metadata?.namespace}/${s.metadata?.labels?.["kubernetes.io/service-name"]}`;
    const list = slicesBySvc.get(k);
    if (list) list.push(s);
    else slicesBySvc.set(k, [s]);
  }
  const sorted = [...input.services].sort((a, b) => (`${a.metadata.namespace}/${a.metadata.name}` < `${b.metadata.namespace}/${b.metadata.name}` ? -1 : 1));
  for (const svc of sorted) {
    const ip = svc.spec?.clusterIP;
    if (!ip || ip === "None" || svc.spec?.type === "ExternalName" || ip.includes(":")) continue;
    services++;
    const svcId = `${svc.metadata.namespace}/${svc.metadata.name}`;
    const spec = svc.spec ?? {};
    const affinity = spec.sessionAffinity === "ClientIP" ? (spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? DEFAULT_AFFINITY_SECONDS) : 0;
    const externalLocal = spec.externalTrafficPolicy === "Local" && (spec.type === "NodePort" || spec.type === "LoadBalancer");
    const internalLocal = spec.internalTrafficPolicy === "Local";
    const externalAddrs = [
      ...(spec.externalIPs ?? []),
      ...(spec.type === "LoadBalancer" ? (svc.status?.loadBalancer?.ingress ?? []).map((i: any) => i.ip).filter(Boolean) : []),
    ].filter((a: string) => !a.includes(":"));
    for (const sp of spec.ports ?? []) {
      const protocol = sp.protocol ?? "TCP";
      const portName = sp.name ?? "";
      const id = `${svcId}:${portName}`;
      const comment = `-m comment --comment "${id}"`;
      const match = `-p ${proto(protocol)} -m ${proto(protocol)} --dport`;
      // The node's own API relay and DNS stand in for these two Services' endpoints.
      const nodeLocal =
        svcId === "default/kubernetes" && input.apiRelay && protocol === "TCP"
          ? { ip: input.apiRelay.ip, port: input.apiRelay.port }
          : svcId === "kube-system/kube-dns" && input.nodeDns && protocol !== "SCTP"
            ? { ip: input.nodeDns, port: 53 }
            : undefined;
      const all = nodeLocal ? [{ ...nodeLocal, local: true }] : endpointsFor(svc, portName, protocol, slicesBySvc.get(svcId) ?? []).map((e) => ({ ...e, local: inCidr(e.ip, input.podCidr) }));
      const local = all.filter((e) => e.local);
      const internal = internalLocal ? local : all;
      const external = externalLocal ? local : all;
      const h = chainHash(`${id}/${protocol}`);
      const svcChain = `${P}SVC-${h}`;
      const svlChain = `${P}SVL-${h}`;
      const extChain = `${P}EXT-${h}`;
      const sepOf = (ep: Endpoint) => `${P}SEP-${chainHash(`${id}/${protocol}/${ep.ip}:${ep.port}`)}`;
      // One chain that picks an endpoint: the one a client had (affinity), else at random.
      const balance = (chain: string, eps: Endpoint[]) => {
        natChains.add(chain);
        if (affinity) for (const ep of eps) nat.push(`-A ${chain} ${comment} -m recent --name ${sepOf(ep)} --mask 255.255.255.255 --rsource --rcheck --seconds ${affinity} --reap -j ${sepOf(ep)}`);
        eps.forEach((ep, i) => {
          const left = eps.length - i;
          const pick = left > 1 ? ` -m statistic --mode random --probability ${(1 / left).toFixed(10)}` : "";
          nat.push(`-A ${chain} ${comment}${pick} -j ${sepOf(ep)}`);
        });
      };
      const used = new Map<string, Endpoint>();
      if (all.length) {
        balance(svcChain, all);
        for (const e of all) used.set(sepOf(e), e);
      }
      if ((internalLocal || externalLocal) && local.length) balance(svlChain, local);
      for (const [sep, ep] of used) {
        endpoints++;
        natChains.add(sep);
        if (!nodeLocal) nat.push(`-A ${sep} -s ${ep.ip}/32 ${comment} -j ${P}MARK-HAIRPIN`);
        const remember = affinity ? ` -m recent --name ${sep} --mask 255.255.255.255 --rsource --set` : "";
        nat.push(`-A ${sep} -p ${proto(protocol)} ${comment}${remember} -j DNAT --to-destination ${ep.ip}:${ep.port}`);
      }
      const chainFor = (eps: Endpoint[], isLocal: boolean) => (!eps.length ? undefined : isLocal ? svlChain : svcChain);
      // ClusterIP.
      const internalChain = chainFor(internal, internalLocal);
      if (internalChain) {
        if (!nodeLocal) nat.push(`-A ${P}SERVICES ! -s ${cluster} -d ${ip}/32 ${match} ${sp.port} ${comment} -j ${mark}`);
        nat.push(`-A ${P}SERVICES -d ${ip}/32 ${match} ${sp.port} ${comment} -j ${internalChain}`);
      } else filter.push(`-A ${P}SERVICES -d ${ip}/32 ${match} ${sp.port} ${comment} -j REJECT`);
      // nodePort, externalIPs, LoadBalancer addresses: through the external chain.
      if (!sp.nodePort && !externalAddrs.length) continue;
      if (!all.length) {
        if (sp.nodePort) filter.push(`-A ${P}SERVICES -m addrtype --dst-type LOCAL ${match} ${sp.nodePort} ${comment} -j REJECT`);
        for (const a of externalAddrs) filter.push(`-A ${P}SERVICES -d ${a}/32 ${match} ${sp.port} ${comment} -j REJECT`);
        continue;
      }
      natChains.add(extChain);
      if (externalLocal) {
        // Pods and the node itself are no outside clients: they use every endpoint.
        nat.push(`-A ${extChain} -s ${cluster} ${comment} -j ${svcChain}`);
        nat.push(`-A ${extChain} -m addrtype --src-type LOCAL ${comment} -j ${mark}`);
        nat.push(`-A ${extChain} -m addrtype --src-type LOCAL ${comment} -j ${svcChain}`);
        // No endpoint here: nothing is DNATed, the node refuses the connection itself.
        if (local.length) nat.push(`-A ${extChain} ${comment} -j ${svlChain}`);
      } else {
        nat.push(`-A ${extChain} ${comment} -j ${mark}`);
        nat.push(`-A ${extChain} ${comment} -j ${svcChain}`);
      }
      if (sp.nodePort) nodePorts.push(`-A ${P}NODEPORTS ${match} ${sp.nodePort} ${comment} -j ${extChain}`);
      for (const a of externalAddrs) nat.push(`-A ${P}SERVICES -d ${a}/32 ${match} ${sp.port} ${comment} -j ${extChain}`);
    }
  }
  nat.push(...nodePorts);
  // Last: anything addressed to this node may be a nodePort (127.0.0.1 too: route_localnet).
  nat.push(`-A ${P}SERVICES -m addrtype --dst-type LOCAL -j ${P}NODEPORTS`);
  const head = (chains: Iterable<string>) => [...chains].map((c) => `:${c} - [0:0]`);
  return {
    nat: ["*nat", ...head(natChains), ...nat, "COMMIT", ""].join("\n"),
    filter: ["*filter", ...head([`${P}SERVICES`, `${P}FIREWALL`]), ...filter, ...firewall, "COMMIT", ""].join("\n"),
    natChains,
    services,
    endpoints,
  };
}
