// The server's own Prometheus metrics (GET /metrics, RBAC nonResourceURL "/metrics"), named and
// labelled like kube-apiserver's so dashboards and alerts written for Kubernetes work:
// request counts and latencies by verb/resource/code, open watches, stored objects per
// resource, and the Raft state (etcd-style names) of this server.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "./prom";
import type { Attributes } from "../auth/attributes";
import { findByPlural } from "../../schemas/registry";

export const metricsRegistry = new Registry();
collectDefaultMetrics({ register: metricsRegistry });
// prom-client names these gauges *_total, which `promtool check metrics` rejects (only counters
// may end in _total); process_* and the event loop lag metrics stay.
for (const name of ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"]) metricsRegistry.removeSingleMetric(name);

const requestLabels = ["verb", "dry_run", "group", "version", "resource", "subresource", "scope", "component", "code"] as const;
const requestTotal = new Counter({
  name: "apiserver_request_total",
  help: "Counter of apiserver requests broken out for each verb, dry run value, group, version, resource, scope, component, and HTTP response code.",
  labelNames: requestLabels,
  registers: [metricsRegistry],
});
const requestDuration = new Histogram({
  name: "apiserver_request_duration_seconds",
  help: "Response latency distribution in seconds for each verb, dry run value, group, version, resource, subresource, scope and component.",
  labelNames: ["verb", "dry_run", "group", "version", "resource", "subresource", "scope", "component"],
  // Upstream's buckets, thinned: edge servers keep fewer series.
  buckets: [0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1, 1.5, 2, 3, 5, 10, 20, 30, 60],
  registers: [metricsRegistry],
});
const longRunning = new Gauge({
  name: "apiserver_longrunning_requests",
  help: "Gauge of all active long-running apiserver requests broken out by verb, group, version, resource, scope and component.",
  labelNames: ["verb", "group", "version", "resource", "subresource", "scope", "component"],
  registers: [metricsRegistry],
});
const registeredWatchers = new Gauge({
  name: "apiserver_registered_watchers",
  help: "Number of currently registered watchers for a given resources",
  labelNames: ["group", "version", "kind"],
  registers: [metricsRegistry],
});

/** Upstream's verb label: the request's verb in upper case, LIST/WATCH/APPLY told apart. */
export function metricVerb(method: string, a: Attributes, contentType: string | undefined): string {
  if (!a.resourceRequest) return method.toUpperCase();
  if (a.verb === "watch") return "WATCH";
  if (a.verb === "list") return "LIST";
  if (method === "PATCH" && (contentType ?? "").startsWith("application/apply-patch")) return "APPLY";
  if (["log", "exec", "attach", "portforward", "proxy"].includes(a.subresource)) return "CONNECT";
  return method === "HEAD" ? "GET" : method.toUpperCase();
}

function labels(a: Attributes, verb: string) {
  const scope = !a.resourceRequest ? "" : a.name ? "resource" : a.namespace ? "namespace" : "cluster";
  return { verb, group: a.apiGroup, version: a.apiVersion, resource: a.resource, subresource: a.subresource, scope, component: "apiserver" };
}

/** Count one finished request (and its latency, unless it was a watch). */
export function observeRequest(a: Attributes, verb: string, dryRun: boolean, code: number, seconds: number): void {
  const l = labels(a, verb);
  const dry_run = dryRun ? "All" : "";
  requestTotal.inc({ ...l, dry_run, code: String(code) });
  if (verb !== "WATCH" && verb !== "CONNECT") requestDuration.observe({ ...l, dry_run }, seconds);
}

/** A watch opened; call the returned function when its stream ends. */
export function watchOpened(a: Attributes): () => void {
  const l = labels(a, "WATCH");
  const kind = findByPlural(a.apiGroup, a.apiVersion, a.resource)?.kind ?? a.resource;
  const w = { group: a.apiGroup, version: a.apiVersion, kind };
  longRunning.inc(l);
  registeredWatchers.inc(w);
  let done = false;
  return () => {
    if (done) return;
    done = true;
    longRunning.dec(l);
    registeredWatchers.dec(w);
  };
}
