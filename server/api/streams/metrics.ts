// GET /apis/metrics.k8s.io/v1beta1/{nodes[/N], pods, namespaces/NS/pods[/P]}: `kubectl top`.
// Like metrics-server, but nothing is scraped in the background or stored: each request asks the
// agents it needs over their tunnels ({kind: "stats"}, one JSON answer per stream; relay.ts
// carries it when another server holds the tunnel). A node that cannot be asked (no tunnel, a
// timeout) is left out, as metrics-server leaves out a node it cannot scrape: kubectl then prints
// <unknown> for the node, or "metrics not available yet" for its pods.
import { decodeSegment } from "./pods";
import type { StatsReply, StatsRequest, TunnelStream, UsagePoint } from "../../../lib/wsstream/tunnel";
import { registry } from "../../../schemas/registry";
import type { Store } from "../../store/store";
import { metricsList, nodeMetrics, podMetrics } from "../metrics";
import { buildMatcher } from "../request";
import { ApiError, badRequest, methodNotAllowed } from "../../errors";
import type { TunnelRegistry } from "./tunnels";

const METRICS_PATH = /^\/apis\/metrics\.k8s\.io\/v1beta1\/(?:(nodes)|pods|namespaces\/([^/]+)\/pods)(?:\/([^/]+))?\/?$/;

export function isMetricsPath(path: string): boolean {
  return METRICS_PATH.test(path);
}

export interface MetricsDeps {
  store?: Store;
  tunnels: TunnelRegistry;
  /** Per node: opening the stream and reading the answer (default 10 s each). */
  timeoutMs?: number;
}

const nodesRes = () => registry.find((r) => r.group === "" && r.plural === "nodes")!;
const podsRes = () => registry.find((r) => r.group === "" && r.plural === "pods")!;

function json(body: unknown, code = 200): Response {
  return new Response(JSON.stringify(body), { status: code, headers: { "Content-Type": "application/json" } });
}

/** Reads the agent's one JSON answer up to END. */
function readReply(s: TunnelStream, timeoutMs: number): Promise<StatsReply> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    const timer = setTimeout(() => {
      s.reset("no stats answer in time");
      reject(new Error("timeout"));
    }, timeoutMs);
    s.on({
      data: (d) => void chunks.push(d),
      end: () => {
        clearTimeout(timer);
        s.end();
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
        } catch (e) {
          reject(e);
        }
      },
      reset: (r) => {
        clearTimeout(timer);
        reject(new Error(r));
      },
    });
  });
}

/** Each node's answer, or nothing for nodes that cannot be asked (never an error). */
async function askNodes(deps: MetricsDeps, nodes: string[], req: StatsRequest): Promise<Map<string, StatsReply>> {
  const timeout = deps.timeoutMs ?? 10_000;
  const out = new Map<string, StatsReply>();
  await Promise.all(
    nodes.map(async (node) => {
      try {
        const s = await deps.tunnels.open(node, req, timeout);
        out.set(node, await readReply(s, timeout));
      } catch {
        // Unreachable node: left out, like metrics-server's failed scrape.
      }
    }),
  );
  return out;
}

function requireStore(deps: MetricsDeps): Store {
  if (!deps.store) throw new ApiError(503, "ServiceUnavailable", "the metrics API needs the server's store");
  return deps.store;
}

export async function handleMetrics(deps: MetricsDeps, method: string, url: URL): Promise<Response> {
  const m = METRICS_PATH.exec(url.pathname)!;
  if (method !== "GET") throw methodNotAllowed();
  const q = url.searchParams;
  if (q.get("watch") === "true" || q.get("watch") === "1") throw methodNotAllowed("the metrics API does not support watch: list or get again");
  const store = requireStore(deps);
  const now = new Date();
  const labelSelector = q.get("labelSelector") ?? undefined;
  const fieldSelector = q.get("fieldSelector") ?? undefined;

  if (m[1]) {
    const name = m[3] !== undefined ? decodeSegment(m[3]) : undefined;
    let nodes: any[];
    if (name !== undefined) {
      const n = store.get("nodes", "", name)?.obj;
      if (!n) throw new ApiError(404, "NotFound", `nodes "${name}" not found`, { name, kind: "nodes" });
      nodes = [n];
    } else nodes = store.list("nodes", undefined, { match: buildMatcher(nodesRes(), labelSelector, fieldSelector) }).items;
    const answers = await askNodes(deps, nodes.map((n) => n.metadata.name), { kind: "stats", node: true });
    const items = nodes.filter((n) => answers.get(n.metadata.name)?.node).map((n) => nodeMetrics(n, answers.get(n.metadata.name)!.node!, now));
    if (name !== undefined) {
      if (!items.length) throw new ApiError(404, "NotFound", `nodemetrics.metrics.k8s.io "${name}" not found`, { name, group: "metrics.k8s.io", kind: "nodes" });
      return json(items[0]);
    }
    return json(metricsList("NodeMetricsList", items));
  }

  const ns = m[2] !== undefined ? decodeSegment(m[2]) : undefined;
  const name = m[3] !== undefined ? decodeSegment(m[3]) : undefined;
  let pods: any[];
  if (name !== undefined) {
    if (ns === undefined) throw badRequest(`PodMetrics is namespaced: use /apis/metrics.k8s.io/v1beta1/namespaces/NAMESPACE/pods/${name}`);
    const p = store.get("pods", ns, name)?.obj;
    if (!p) throw new ApiError(404, "NotFound", `pods "${name}" not found`, { name, kind: "pods" });
    pods = [p];
  } else pods = store.list("pods", ns, { match: buildMatcher(podsRes(), labelSelector, fieldSelector) }).items;
  // Only pods placed on a node and not finished can have running containers.
  const live = pods.filter((p) => p.spec?.nodeName && p.status?.phase !== "Succeeded" && p.status?.phase !== "Failed");
  const answers = await askNodes(deps, [...new Set(live.map((p) => p.spec.nodeName as string))], { kind: "stats", pods: true });
  const byUid = new Map<string, NonNullable<StatsReply["pods"]>[number]>();
  for (const a of answers.values()) for (const p of a.pods ?? []) byUid.set(p.uid, p);
  const items = live.filter((p) => byUid.get(p.metadata.uid)?.containers.length).map((p) => podMetrics(p, byUid.get(p.metadata.uid)!.containers, now));
  if (name !== undefined) {
    if (!items.length) throw new ApiError(404, "NotFound", `podmetrics.metrics.k8s.io "${ns}/${name}" not found`, { name, group: "metrics.k8s.io", kind: "pods" });
    return json(items[0]);
  }
  return json(metricsList("PodMetricsList", items));
}

/** Container usage per pod uid as the agents report it (the HPA controller's metrics client). */
export type PodUsage = Map<string, ({ name: string } & UsagePoint)[]>;

/** The usage of `pods` from their nodes' agents; pods on nodes that cannot be asked are left out. */
export async function podUsage(deps: MetricsDeps, pods: any[]): Promise<PodUsage> {
  const live = pods.filter((p) => p.spec?.nodeName && p.status?.phase !== "Succeeded" && p.status?.phase !== "Failed");
  const answers = await askNodes(deps, [...new Set(live.map((p) => p.spec.nodeName as string))], { kind: "stats", pods: true });
  const out: PodUsage = new Map();
  for (const a of answers.values()) for (const p of a.pods ?? []) if (p.containers.length) out.set(p.uid, p.containers);
  return out;
}
