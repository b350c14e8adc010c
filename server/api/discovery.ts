// Discovery documents, derived from the registry, in the shapes kubectl reads.
import { Hono } from "hono";
import { groupVersions, registry, type RegisteredResource } from "../../schemas/registry";
import { METRICS_GROUP, METRICS_RESOURCES, METRICS_VERSION } from "./metrics";
import { KUBE_VERSION } from "../../schemas/version";

const DEFAULT_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

function storageVersionHash(r: RegisteredResource): string {
  const h = new Bun.CryptoHasher("sha256").update(`${r.group}/${r.version}/${r.kind}`).digest("base64");
  return h.slice(0, 11) + "=";
}

export function apiResources(group: string, version: string): any[] {
  // Served from the agents on demand, not stored: not in the registry (see metrics.ts).
  if (group === METRICS_GROUP && version === METRICS_VERSION) return METRICS_RESOURCES.map((r) => ({ ...r, verbs: [...r.verbs] }));
  const out: any[] = [];
  for (const r of registry) {
    if (r.group !== group || r.version !== version) continue;
    const res: any = {
      name: r.plural,
      singularName: r.singular,
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: r.verbs ?? DEFAULT_VERBS,
    };
    if (r.shortNames?.length) res.shortNames = r.shortNames;
    if (r.categories?.length) res.categories = r.categories;
    if ((r.verbs ?? DEFAULT_VERBS).includes("list")) res.storageVersionHash = storageVersionHash(r);
    out.push(res);
    if (r.subresources?.approval) out.push({ name: `${r.plural}/approval`, singularName: "", namespaced: r.namespaced, kind: r.kind, verbs: ["get", "patch", "update"] });
    if (r.subresources?.status) out.push({ name: `${r.plural}/status`, singularName: "", namespaced: r.namespaced, kind: r.kind, verbs: ["get", "patch", "update"] });
    if (r.subresources?.scale)
      out.push({ name: `${r.plural}/scale`, singularName: "", namespaced: r.namespaced, group: "autoscaling", version: "v1", kind: "Scale", verbs: ["get", "patch", "update"] });
    for (const sub of extraSubresources(r)) out.push(sub);
  }
  return out;
}

/** Subresources served by handlers outside the generic CRUD path. */
function extraSubresources(r: RegisteredResource): any[] {
  const ns = r.namespaced;
  if (r.group === "" && r.plural === "pods")
    return [
      { name: "pods/binding", singularName: "", namespaced: ns, kind: "Binding", verbs: ["create"] },
      { name: "pods/eviction", singularName: "", namespaced: ns, group: "policy", version: "v1", kind: "Eviction", verbs: ["create"] },
      { name: "pods/ephemeralcontainers", singularName: "", namespaced: ns, kind: "Pod", verbs: ["get", "patch", "update"] },
    ];
  if (r.group === "" && r.plural === "serviceaccounts")
    return [{ name: "serviceaccounts/token", singularName: "", namespaced: ns, group: "authentication.k8s.io", version: "v1", kind: "TokenRequest", verbs: ["create"] }];
  if (r.group === "" && r.plural === "namespaces") return [{ name: "namespaces/finalize", singularName: "", namespaced: false, kind: "Namespace", verbs: ["update"] }];
  return [];
}

function groupList() {
  const groups = new Map<string, string[]>();
  for (const gv of groupVersions()) {
    if (!gv.group) continue;
    const vs = groups.get(gv.group) ?? [];
    vs.push(gv.version);
    groups.set(gv.group, vs);
  }
  groups.set(METRICS_GROUP, [METRICS_VERSION]);
  return [...groups].map(([name, versions]) => ({
    name,
    versions: versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v })),
    preferredVersion: { groupVersion: `${name}/${versions[0]}`, version: versions[0] },
  }));
}

/** apidiscovery.k8s.io/v2 aggregated discovery: one request instead of one per group. */
function aggregated(core: boolean) {
  const items: any[] = [];
  const groups = core ? [{ name: "", versions: ["v1"] }] : groupList().map((g) => ({ name: g.name, versions: g.versions.map((v) => v.version) }));
  for (const g of groups) {
    items.push({
      metadata: { name: g.name, creationTimestamp: null },
      versions: g.versions.map((v) => ({
        version: v,
        freshness: "Current",
        resources:
          g.name === METRICS_GROUP
            ? METRICS_RESOURCES.map((r) => ({
                resource: r.name,
                responseKind: { group: METRICS_GROUP, version: METRICS_VERSION, kind: r.kind },
                scope: r.namespaced ? "Namespaced" : "Cluster",
                singularResource: r.singularName,
                verbs: [...r.verbs],
              }))
            : registry
          .filter((r) => r.group === g.name && r.version === v)
          .map((r) => {
            const subs: any[] = [];
            if (r.subresources?.approval) subs.push({ subresource: "approval", responseKind: { group: r.group, version: r.version, kind: r.kind }, verbs: ["get", "patch", "update"] });
            if (r.subresources?.status) subs.push({ subresource: "status", responseKind: { group: r.group, version: r.version, kind: r.kind }, verbs: ["get", "patch", "update"] });
            if (r.subresources?.scale) subs.push({ subresource: "scale", responseKind: { group: "autoscaling", version: "v1", kind: "Scale" }, verbs: ["get", "patch", "update"] });
            for (const s of extraSubresources(r))
              subs.push({ subresource: s.name.split("/")[1], responseKind: { group: s.group ?? "", version: s.version ?? "v1", kind: s.kind }, verbs: s.verbs });
            const res: any = {
              resource: r.plural,
              responseKind: { group: r.group, version: r.version, kind: r.kind },
              scope: r.namespaced ? "Namespaced" : "Cluster",
              singularResource: r.singular,
              verbs: r.verbs ?? DEFAULT_VERBS,
            };
            if (r.shortNames?.length) res.shortNames = r.shortNames;
            if (r.categories?.length) res.categories = r.categories;
            if (subs.length) res.subresources = subs;
            return res;
          }),
      })),
    });
  }
  return { kind: "APIGroupDiscoveryList", apiVersion: "apidiscovery.k8s.io/v2", metadata: {}, items };
}

function wantsAggregated(accept: string | undefined): string | undefined {
  if (!accept) return undefined;
  for (const part of accept.split(",")) {
    if (part.includes("as=APIGroupDiscoveryList") && part.includes("g=apidiscovery.k8s.io")) {
      const v = /v=(v2beta1|v2)/.exec(part)?.[1];
      if (v) return v;
    }
  }
  return undefined;
}

export function discoveryApp(serverAddress: () => string): Hono {
  const app = new Hono();
  app.get("/version", (c) =>
    c.json({
      ...KUBE_VERSION,
      gitCommit: "skiff",
      gitTreeState: "clean",
      buildDate: "2026-11-01T00:00:00Z",
      goVersion: `bun${Bun.version}`,
      compiler: "bun",
      platform: `linux/${process.arch === "x64" ? "amd64" : process.arch}`,
    }),
  );
  app.get("/api", (c) => {
    const agg = wantsAggregated(c.req.header("accept"));
    if (agg) return c.json({ ...aggregated(true), apiVersion: `apidiscovery.k8s.io/${agg}` }, 200, { "Content-Type": `application/json;g=apidiscovery.k8s.io;v=${agg};as=APIGroupDiscoveryList` });
    return c.json({ kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: serverAddress() }] });
  });
  app.get("/apis", (c) => {
    const agg = wantsAggregated(c.req.header("accept"));
    if (agg) return c.json({ ...aggregated(false), apiVersion: `apidiscovery.k8s.io/${agg}` }, 200, { "Content-Type": `application/json;g=apidiscovery.k8s.io;v=${agg};as=APIGroupDiscoveryList` });
    return c.json({ kind: "APIGroupList", apiVersion: "v1", groups: groupList() });
  });
  app.get("/api/v1", (c) => c.json({ kind: "APIResourceList", groupVersion: "v1", resources: apiResources("", "v1") }));
  app.get("/apis/:group", (c) => {
    const g = groupList().find((x) => x.name === c.req.param("group"));
    if (!g) return c.json({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: "the server could not find the requested resource", reason: "NotFound", code: 404 }, 404);
    return c.json({ kind: "APIGroup", apiVersion: "v1", ...g });
  });
  app.get("/apis/:group/:version", (c) => {
    const { group, version } = c.req.param();
    const resources = apiResources(group, version);
    if (!resources.length) return c.json({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: "the server could not find the requested resource", reason: "NotFound", code: 404 }, 404);
    return c.json({ kind: "APIResourceList", apiVersion: "v1", groupVersion: `${group}/${version}`, resources });
  });
  for (const p of ["/healthz", "/livez", "/readyz"]) app.get(p, (c) => c.text("ok"));
  // Upstream answers discovery with a trailing slash too (the Python client asks for /apis/).
  for (const r of [...app.routes]) if (r.method === "GET" && !r.path.endsWith("/")) app.get(`${r.path}/`, r.handler);
  return app;
}
