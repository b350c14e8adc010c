// The ingress proxy's routing table: a pure function of Skiff's Ingresses, so it is tested
// without a network. Kubernetes' rules:
//
//   host   exact ("foo.example.com"), or a wildcard of one label ("*.example.com" matches
//          "a.example.com", not "example.com" nor "a.b.example.com"); a rule without host
//          matches every host. The most specific host class that has a matching path wins:
//          exact, then wildcard, then host-less.
//   path   Exact: the whole path; Prefix: whole path elements ("/foo" matches "/foo", "/foo/"
//          and "/foo/bar", not "/foobar"; a trailing "/" in the rule is ignored);
//          ImplementationSpecific: a plain string prefix. The longest path wins, Exact before
//          Prefix at equal length, then the oldest Ingress.
//   else   the defaultBackend of the oldest Ingress that has one, else 404.
//
// TLS: each `tls` entry's hosts are served with its Secret's certificate (SNI).

export interface Backend {
  ns: string;
  service: string;
  /** Service port: a number or a port name. */
  port: number | string;
}

interface PathRule {
  type: "Exact" | "Prefix" | "ImplementationSpecific";
  path: string;
  backend: Backend;
  /** Ingress age rank (older first), for ties. */
  rank: number;
}

export interface RouteTable {
  exact: Map<string, PathRule[]>;
  wildcard: Map<string, PathRule[]>;
  any: PathRule[];
  defaultBackend?: Backend;
  /** host (or "*.domain") → "ns/secret" of its certificate. */
  tls: Map<string, string>;
}

const byAge = (a: any, b: any) =>
  (a.metadata.creationTimestamp ?? "").localeCompare(b.metadata.creationTimestamp ?? "") || `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`);

function backendOf(ns: string, b: any): Backend | undefined {
  const svc = b?.service;
  if (!svc?.name) return undefined; // resource backends: not supported
  const port = svc.port?.number ?? svc.port?.name;
  return port === undefined ? undefined : { ns, service: svc.name, port };
}

export function buildRoutes(ingresses: any[]): RouteTable {
  const t: RouteTable = { exact: new Map(), wildcard: new Map(), any: [], tls: new Map() };
  [...ingresses].sort(byAge).forEach((ing, rank) => {
    const ns = ing.metadata.namespace;
    if (!t.defaultBackend && ing.spec?.defaultBackend) t.defaultBackend = backendOf(ns, ing.spec.defaultBackend);
    for (const rule of ing.spec?.rules ?? []) {
      const paths: PathRule[] = [];
      for (const p of rule.http?.paths ?? []) {
        const backend = backendOf(ns, p.backend);
        if (backend) paths.push({ type: p.pathType ?? "ImplementationSpecific", path: p.path || "/", backend, rank });
      }
      const host = String(rule.host ?? "").toLowerCase();
      const list = !host ? t.any : host.startsWith("*.") ? (t.wildcard.get(host.slice(2)) ?? t.wildcard.set(host.slice(2), []).get(host.slice(2))!) : (t.exact.get(host) ?? t.exact.set(host, []).get(host)!);
      list.push(...paths);
    }
    for (const tls of ing.spec?.tls ?? [])
      if (tls.secretName) for (const h of tls.hosts ?? []) if (!t.tls.has(h.toLowerCase())) t.tls.set(h.toLowerCase(), `${ns}/${tls.secretName}`);
  });
  const order = (a: PathRule, b: PathRule) => b.path.length - a.path.length || (a.type === "Exact" ? -1 : 0) - (b.type === "Exact" ? -1 : 0) || a.rank - b.rank;
  for (const l of [...t.exact.values(), ...t.wildcard.values(), t.any]) l.sort(order);
  return t;
}

export function pathMatches(r: { type: string; path: string }, path: string): boolean {
  if (r.type === "Exact") return path === r.path;
  if (r.type === "Prefix") {
    const p = r.path.replace(/\/+$/, "");
    return p === "" || path === p || path.startsWith(p + "/");
  }
  return path.startsWith(r.path);
}

/** The backend for a request (host without port, lower case), or undefined (404). */
export function route(t: RouteTable, host: string, path: string): Backend | undefined {
  const h = host.toLowerCase().replace(/:\d+$/, "").replace(/\.$/, "");
  const dot = h.indexOf(".");
  for (const list of [t.exact.get(h), dot > 0 ? t.wildcard.get(h.slice(dot + 1)) : undefined, t.any]) {
    const hit = list?.find((r) => pathMatches(r, path));
    if (hit) return hit.backend;
  }
  return t.defaultBackend;
}

/** The Secret ("ns/name") whose certificate serves this SNI name. */
export function certFor(t: RouteTable, host: string): string | undefined {
  const h = host.toLowerCase();
  const dot = h.indexOf(".");
  return t.tls.get(h) ?? (dot > 0 ? t.tls.get(`*.${h.slice(dot + 1)}`) : undefined);
}

/** Ready endpoints ("ip:port") of a backend, from its Service and EndpointSlices. */
export function endpointsOf(b: Backend, service: any, slices: any[]): string[] {
  const sp = (service?.spec?.ports ?? []).find((p: any) => (typeof b.port === "number" ? p.port === b.port : p.name === b.port));
  if (!sp || (sp.protocol ?? "TCP") !== "TCP") return [];
  const name = sp.name ?? "";
  const out = new Set<string>();
  for (const s of slices) {
    if (s.addressType && s.addressType !== "IPv4") continue;
    const port = (s.ports ?? []).find((p: any) => (p.name ?? "") === name && (p.protocol ?? "TCP") === "TCP")?.port;
    if (!port) continue;
    // Ready only: an endpoint on its way out (terminating, not ready) gets no new requests.
    for (const e of s.endpoints ?? []) if (e.conditions?.ready !== false && e.addresses?.[0]) out.add(`${e.addresses[0]}:${port}`);
  }
  return [...out].sort();
}
