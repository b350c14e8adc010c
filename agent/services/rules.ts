// The service proxy's iptables rules, kube-proxy's iptables mode in miniature: a pure function
// from Services and EndpointSlices to `iptables-restore` input, so it is tested without root.
//
//   nat  SKIFF-SERVICES   ClusterIP:port → SKIFF-SVC-<hash>; local destinations → SKIFF-NODEPORTS
//        SKIFF-NODEPORTS  nodePort → mark for masquerade, SKIFF-SVC-<hash>
//        SKIFF-SVC-<hash> traffic not from this node's pods is marked; one endpoint chosen at
//                         random (statistic, probability 1/(n-i)) → SKIFF-SEP-<hash>
//        SKIFF-SEP-<hash> hairpin (the endpoint itself) marked; DNAT to podIP:targetPort
//        SKIFF-POSTROUTING marked packets are masqueraded
//   filter SKIFF-SERVICES  a ClusterIP:port with no endpoints is rejected (connection refused,
//                         not a timeout), as kube-proxy does
//
// Endpoints: those ready; when none is, the serving terminating ones (KEP-1669). Services
// without a ClusterIP (headless, ExternalName) get no rules. Not done: sessionAffinity,
// externalIPs, LoadBalancer ingress IPs (type LoadBalancer works through its nodePort),
// internal/externalTrafficPolicy Local.

export const CHAIN_PREFIX = "SKIFF-";
export const MASQ_MARK = "0x4000";

export interface ProxyInput {
  services: any[];
  slices: any[];
  /** This node's pod CIDR: traffic from elsewhere to a ClusterIP is masqueraded. */
  podCidr: string;
  /** The node's API relay (api-relay.ts): `default/kubernetes` goes there, not to its Endpoints. */
  apiRelay?: { ip: string; port: number };
}

export interface RenderedRules {
  nat: string;
  filter: string;
  /** Chains of the nat table this rendering uses (to delete stale ones). */
  natChains: Set<string>;
  /** Counts, for logs and tests. */
  services: number;
  endpoints: number;
}

export function chainHash(s: string): string {
  return new Bun.CryptoHasher("sha256").update(s).digest("hex").slice(0, 16).toUpperCase();
}

interface Endpoint {
  ip: string;
  port: number;
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
  const natChains = new Set<string>([
    `${CHAIN_PREFIX}SERVICES`,
    `${CHAIN_PREFIX}NODEPORTS`,
    `${CHAIN_PREFIX}POSTROUTING`,
    `${CHAIN_PREFIX}MARK-MASQ`,
  ]);
  const nat: string[] = [];
  const filter: string[] = [];
  const mark = `${CHAIN_PREFIX}MARK-MASQ`;
  nat.push(`-A ${mark} -j MARK --or-mark ${MASQ_MARK}`);
  nat.push(`-A ${CHAIN_PREFIX}POSTROUTING -m mark ! --mark ${MASQ_MARK}/${MASQ_MARK} -j RETURN`);
  nat.push(`-A ${CHAIN_PREFIX}POSTROUTING -j MARK --xor-mark ${MASQ_MARK}`);
  nat.push(`-A ${CHAIN_PREFIX}POSTROUTING -j MASQUERADE --random-fully`);
  let services = 0;
  let endpoints = 0;
  const nodePorts: string[] = [];
  // Each service's slices, found once (not per service port).
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
    for (const sp of svc.spec?.ports ?? []) {
      const protocol = sp.protocol ?? "TCP";
      const portName = sp.name ?? "";
      const id = `${svc.metadata.namespace}/${svc.metadata.name}:${portName}`;
      const comment = `-m comment --comment "${id}"`;
      const relay = input.apiRelay && id.startsWith("default/kubernetes:") && protocol === "TCP" ? input.apiRelay : undefined;
      const eps = relay ? [relay] : endpointsFor(svc, portName, protocol, slicesBySvc.get(`${svc.metadata.namespace}/${svc.metadata.name}`) ?? []);
      const match = `-p ${proto(protocol)} -m ${proto(protocol)} --dport`;
      if (!eps.length) {
        filter.push(`-A ${CHAIN_PREFIX}SERVICES -d ${ip}/32 ${match} ${sp.port} ${comment} -j REJECT`);
        if (sp.nodePort) filter.push(`-A ${CHAIN_PREFIX}SERVICES -m addrtype --dst-type LOCAL ${match} ${sp.nodePort} ${comment} -j REJECT`);
        continue;
      }
      const svcChain = `${CHAIN_PREFIX}SVC-${chainHash(`${id}/${protocol}`)}`;
      natChains.add(svcChain);
      nat.push(`-A ${CHAIN_PREFIX}SERVICES -d ${ip}/32 ${match} ${sp.port} ${comment} -j ${svcChain}`);
      if (sp.nodePort) {
        nodePorts.push(`-A ${CHAIN_PREFIX}NODEPORTS ${match} ${sp.nodePort} ${comment} -j ${mark}`);
        nodePorts.push(`-A ${CHAIN_PREFIX}NODEPORTS ${match} ${sp.nodePort} ${comment} -j ${svcChain}`);
      }
      // The relay is on this node: delivered locally, nothing to masquerade.
      if (!relay) nat.push(`-A ${svcChain} ! -s ${input.podCidr} -d ${ip}/32 ${match} ${sp.port} ${comment} -j ${mark}`);
      eps.forEach((ep, i) => {
        endpoints++;
        const sep = `${CHAIN_PREFIX}SEP-${chainHash(`${id}/${protocol}/${ep.ip}:${ep.port}`)}`;
        natChains.add(sep);
        const left = eps.length - i;
        const pick = left > 1 ? ` -m statistic --mode random --probability ${(1 / left).toFixed(10)}` : "";
        nat.push(`-A ${svcChain} ${comment}${pick} -j ${sep}`);
        if (!relay) nat.push(`-A ${sep} -s ${ep.ip}/32 ${comment} -j ${mark}`);
        nat.push(`-A ${sep} -p ${proto(protocol)} ${comment} -j DNAT --to-destination ${ep.ip}:${ep.port}`);
      });
    }
  }
  nat.push(...nodePorts);
  // Last: anything addressed to this node may be a nodePort.
  nat.push(`-A ${CHAIN_PREFIX}SERVICES -m addrtype --dst-type LOCAL -j ${CHAIN_PREFIX}NODEPORTS`);
  const head = (chains: Iterable<string>) => [...chains].map((c) => `:${c} - [0:0]`);
  return {
    nat: ["*nat", ...head(natChains), ...nat, "COMMIT", ""].join("\n"),
    filter: ["*filter", ...head([`${CHAIN_PREFIX}SERVICES`]), ...filter, "COMMIT", ""].join("\n"),
    natChains,
    services,
    endpoints,
  };
}

/** iptables-restore lines that delete our nat chains the new rendering no longer uses. */
export function staleChains(existing: Iterable<string>, keep: Set<string>): string[] {
  return [...existing].filter((c) => c.startsWith(CHAIN_PREFIX) && !keep.has(c));
}

/** Our chains in `iptables-save -t nat` output. */
export function chainsIn(save: string): string[] {
  const out: string[] = [];
  for (const line of save.split("\n")) {
    const m = /^:(\S+) /.exec(line);
    if (m && m[1]!.startsWith(CHAIN_PREFIX)) out.push(m[1]!);
  }
  return out;
}
