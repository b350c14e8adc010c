// Cluster DNS records, as CoreDNS's kubernetes plugin answers them (the DNS spec of Kubernetes):
//   <svc>.<ns>.svc.<domain>             A: the ClusterIP; headless: every ready endpoint;
//                                       ExternalName: a CNAME
//   <host>.<svc>.<ns>.svc.<domain>      A: the endpoint with that hostname (StatefulSet pods)
//   _<port>._<proto>.<svc>.<ns>.svc...  SRV: the named port (to the service, or each endpoint)
//   <a-b-c-d>.<ns>.pod.<domain>         A: a-b-c-d as an address
// Other names inside the domain are NXDOMAIN; names outside it are for the upstream resolvers.
// A pure function of the name and what the service cache holds, so it is tested without sockets.

export interface ServiceLookup {
  service(ns: string, name: string): any | undefined;
  slicesOf(ns: string, name: string): any[];
}

export interface DnsRecord {
  name: string;
  type: "A" | "CNAME" | "SRV";
  ttl: number;
  data: string | { priority: number; weight: number; port: number; target: string };
}

export type Resolution = { forward: true } | { forward: false; rcode: "NOERROR" | "NXDOMAIN"; answers: DnsRecord[]; additionals: DnsRecord[] };

export const TTL = 5;

const nx = (): Resolution => ({ forward: false, rcode: "NXDOMAIN", answers: [], additionals: [] });

function readyEndpoints(slices: any[]): { ip: string; hostname?: string; ports: any[] }[] {
  const out: { ip: string; hostname?: string; ports: any[] }[] = [];
  for (const s of slices) {
    if (s.addressType && s.addressType !== "IPv4") continue;
    for (const e of s.endpoints ?? []) {
      if (e.conditions?.ready === false || !e.addresses?.[0]) continue;
      out.push({ ip: e.addresses[0], ...(e.hostname ? { hostname: e.hostname } : {}), ports: s.ports ?? [] });
    }
  }
  return out.sort((a, b) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0));
}

const dashed = (ip: string) => ip.replace(/[.:]/g, "-");

export function resolve(qname: string, qtype: string, domain: string, lookup: ServiceLookup): Resolution {
  const name = qname.toLowerCase().replace(/\.$/, "");
  const d = domain.toLowerCase();
  if (name !== d && !name.endsWith(`.${d}`)) return { forward: true };
  const labels = name === d ? [] : name.slice(0, -(d.length + 1)).split(".");
  const kind = labels.at(-1);
  const answer = (answers: DnsRecord[], additionals: DnsRecord[] = []): Resolution => ({
    forward: false,
    rcode: "NOERROR",
    // The name exists: records of other types make an empty (NODATA) answer, not NXDOMAIN.
    answers: answers.filter((r) => qtype === "ANY" || r.type === qtype || (r.type === "CNAME" && qtype !== "SRV")),
    additionals,
  });

  if (kind === "pod" && labels.length === 3) {
    const ip = labels[0]!.replace(/-/g, ".");
    if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(ip) || ip.split(".").some((o) => Number(o) > 255)) return nx();
    return answer([{ name, type: "A", ttl: TTL, data: ip }]);
  }
  if (kind !== "svc" || labels.length < 3) return nx();
  const ns = labels.at(-2)!;
  const svcName = labels.at(-3)!;
  const svc = lookup.service(ns, svcName);
  if (!svc) return nx();
  const svcFqdn = `${svcName}.${ns}.svc.${d}`;
  const headless = svc.spec?.clusterIP === "None";
  const rest = labels.slice(0, -3);

  if (rest.length === 0) {
    if (svc.spec?.type === "ExternalName") return answer([{ name, type: "CNAME", ttl: TTL, data: String(svc.spec.externalName ?? "").replace(/\.$/, "") }]);
    if (!headless) return answer(svc.spec?.clusterIP ? [{ name, type: "A", ttl: TTL, data: svc.spec.clusterIP }] : []);
    return answer(readyEndpoints(lookup.slicesOf(ns, svcName)).map((e) => ({ name, type: "A" as const, ttl: TTL, data: e.ip })));
  }
  if (rest.length === 1 && !rest[0]!.startsWith("_")) {
    // <hostname>.<svc>...: an endpoint of a headless service by hostname (or dashed IP)
    const eps = readyEndpoints(lookup.slicesOf(ns, svcName)).filter((e) => (e.hostname ?? dashed(e.ip)) === rest[0]);
    if (!eps.length) return nx();
    return answer(eps.map((e) => ({ name, type: "A" as const, ttl: TTL, data: e.ip })));
  }
  if (rest.length === 2 && rest[0]!.startsWith("_") && rest[1]!.startsWith("_")) {
    const portName = rest[0]!.slice(1);
    const proto = rest[1]!.slice(1).toUpperCase();
    const sp = (svc.spec?.ports ?? []).find((p: any) => (p.name ?? "") === portName && (p.protocol ?? "TCP") === proto);
    if (!sp) return nx();
    if (!headless) {
      return answer(
        [{ name, type: "SRV", ttl: TTL, data: { priority: 0, weight: 100, port: sp.port, target: svcFqdn } }],
        svc.spec?.clusterIP ? [{ name: svcFqdn, type: "A", ttl: TTL, data: svc.spec.clusterIP }] : [],
      );
    }
    const srv: DnsRecord[] = [];
    const add: DnsRecord[] = [];
    for (const e of readyEndpoints(lookup.slicesOf(ns, svcName))) {
      const p = e.ports.find((x: any) => (x.name ?? "") === portName && (x.protocol ?? "TCP") === proto);
      if (!p) continue;
      const target = `${e.hostname ?? dashed(e.ip)}.${svcFqdn}`;
      srv.push({ name, type: "SRV", ttl: TTL, data: { priority: 0, weight: 100, port: p.port, target } });
      add.push({ name: target, type: "A", ttl: TTL, data: e.ip });
    }
    return answer(srv, add);
  }
  return nx();
}
