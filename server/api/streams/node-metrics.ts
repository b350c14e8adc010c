// GET /api/v1/nodes/NAME/proxy/metrics and /proxy/metrics/cadvisor: the node's Prometheus
// metrics, as kubelet serves them behind the API server's node proxy. Read from the agent over
// its tunnel ({kind: "metrics"}), so they reach agents behind NAT too.
import type { NodeMetricsRequest, TunnelStream } from "../../../lib/wsstream/tunnel";
import type { Store } from "../../store/store";
import { ApiError, methodNotAllowed } from "../../errors";
import { decodeSegment } from "./pods";
import type { TunnelRegistry } from "./tunnels";

const NODE_METRICS = /^\/api\/v1\/nodes\/([^/]+)\/proxy(\/metrics(?:\/cadvisor)?)$/;

export function isNodeMetricsPath(path: string): boolean {
  return NODE_METRICS.test(path);
}

function readAll(s: TunnelStream, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    const timer = setTimeout(() => {
      s.reset("no metrics answer in time");
      reject(new ApiError(504, "Timeout", `the node did not send its metrics within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    s.on({
      data: (d) => void chunks.push(d),
      end: () => {
        clearTimeout(timer);
        s.end();
        resolve(Buffer.concat(chunks).toString("utf8"));
      },
      reset: (r) => {
        clearTimeout(timer);
        reject(new ApiError(503, "ServiceUnavailable", `the node's metrics stream broke: ${r}`));
      },
    });
  });
}

export async function handleNodeMetrics(deps: { store?: Store; tunnels: TunnelRegistry; timeoutMs?: number }, method: string, url: URL): Promise<Response> {
  const m = NODE_METRICS.exec(url.pathname)!;
  if (method !== "GET") throw methodNotAllowed();
  const node = decodeSegment(m[1]!);
  if (deps.store && !deps.store.get("nodes", "", node)) throw new ApiError(404, "NotFound", `nodes "${node}" not found`, { name: node, kind: "nodes" });
  const timeout = deps.timeoutMs ?? 10_000;
  const req: NodeMetricsRequest = { kind: "metrics", path: m[2] as NodeMetricsRequest["path"] };
  const text = await readAll(await deps.tunnels.open(node, req, timeout), timeout);
  return new Response(text, { headers: { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" } });
}
