// ClusterIP and NodePort allocation for Services and pod CIDRs for Nodes, in the registry as
// upstream does them. Decided before proposing (deterministic apply); short-lived reservations
// keep two concurrent creates from picking the same value.
import type { Store } from "../store/store";

const SERVICE_CIDR = { base: (10 << 24) | (43 << 16), size: 1 << 16 }; // 10.43.0.0/16, like K3s
const NODE_PORT_RANGE = { min: 30000, max: 32767 };

const reserved = new Map<string, number>(); // value -> expiry (ms)

function isReserved(key: string): boolean {
  const t = reserved.get(key);
  if (t === undefined) return false;
  if (t < Date.now()) {
    reserved.delete(key);
    return false;
  }
  return true;
}

function reserve(key: string): void {
  reserved.set(key, Date.now() + 30_000);
}

function ipToString(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join(".");
}

function inUse(store: Store): { ips: Set<string>; ports: Set<number> } {
  const ips = new Set<string>();
  const ports = new Set<number>();
  for (const svc of store.list("services", undefined).items) {
    for (const ip of svc.spec?.clusterIPs ?? [svc.spec?.clusterIP]) if (ip) ips.add(ip);
    for (const p of svc.spec?.ports ?? []) if (p.nodePort) ports.add(p.nodePort);
  }
  return { ips, ports };
}

/** Assign spec.clusterIP(s) and missing nodePorts. Throws nothing: a full range leaves them unset for validation to report. */
export function allocateServiceFields(store: Store, svc: any): void {
  const spec = (svc.spec ??= {});
  const type = spec.type ?? "ClusterIP";
  if (type === "ExternalName") return;
  const used = inUse(store);
  if (!spec.clusterIP && !spec.clusterIPs?.length) {
    // .1 is the kubernetes service; start from a hash of the name so IPs are spread out.
    const start = (Bun.hash(`${svc.metadata?.namespace}/${svc.metadata?.name}`) as bigint | number);
    const offset = Number(BigInt(start) % BigInt(SERVICE_CIDR.size - 12)) + 10;
    for (let i = 0; i < SERVICE_CIDR.size - 12; i++) {
      const ip = ipToString(SERVICE_CIDR.base + ((offset + i) % (SERVICE_CIDR.size - 12)) + 10);
      if (!used.ips.has(ip) && !isReserved(ip)) {
        reserve(ip);
        spec.clusterIP = ip;
        break;
      }
    }
  } else if (!spec.clusterIP) spec.clusterIP = spec.clusterIPs[0];
  if (spec.clusterIP) {
    spec.clusterIPs = spec.clusterIPs?.length ? spec.clusterIPs : [spec.clusterIP];
    if (spec.clusterIP !== "None") {
      spec.ipFamilies ??= ["IPv4"];
      spec.ipFamilyPolicy ??= "SingleStack";
    } else {
      spec.ipFamilies ??= ["IPv4"];
      spec.ipFamilyPolicy ??= "SingleStack";
    }
  }
  if (type === "NodePort" || type === "LoadBalancer") {
    for (const p of spec.ports ?? []) {
      if (p.nodePort) continue;
      for (let port = NODE_PORT_RANGE.min; port <= NODE_PORT_RANGE.max; port++) {
        const key = `port:${port}`;
        if (!used.ports.has(port) && !isReserved(key)) {
          reserve(key);
          used.ports.add(port);
          p.nodePort = port;
          break;
        }
      }
    }
    if (type === "LoadBalancer") spec.allocateLoadBalancerNodePorts ??= true;
    spec.externalTrafficPolicy ??= "Cluster";
  }
}

const CLUSTER_CIDR = { base: (10 << 24) | (42 << 16), nodeBits: 8 }; // 10.42.0.0/16, a /24 per node like K3s

/** Give a new Node a free /24 from the cluster CIDR (spec.podCIDR and podCIDRs). */
export function allocateNodePodCidr(store: Store, node: any): void {
  const spec = (node.spec ??= {});
  if (spec.podCIDR) {
    spec.podCIDRs ??= [spec.podCIDR];
    return;
  }
  const used = new Set<string>();
  for (const n of store.list("nodes", undefined).items) for (const c of n.spec?.podCIDRs ?? [n.spec?.podCIDR]) if (c) used.add(c);
  for (let i = 0; i < 256; i++) {
    const cidr = `${ipToString(CLUSTER_CIDR.base + (i << CLUSTER_CIDR.nodeBits))}/24`;
    if (!used.has(cidr) && !isReserved(`cidr:${cidr}`)) {
      reserve(`cidr:${cidr}`);
      spec.podCIDR = cidr;
      spec.podCIDRs = [cidr];
      return;
    }
  }
}
