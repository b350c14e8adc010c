// The node's Prometheus metrics, served through the server as kubelet's are:
// /api/v1/nodes/NAME/proxy/metrics (kubelet_* and CRI operation metrics) and
// /api/v1/nodes/NAME/proxy/metrics/cadvisor (per-container CPU and memory). The server asks over
// the agent's tunnel ({kind: "metrics"}); nothing is scraped in the background: CRI calls are
// counted as they happen, container usage is read from CRI when asked.
// Written out by hand rather than with prom-client (the server uses it): loading prom-client
// costs the agent 5-19 MiB of RSS, a third of its budget, for a handful of series.
import { cpus, totalmem } from "node:os";
import type { StatsSource } from "./stats.ts";

const BUCKETS = [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

interface OpStats {
  count: number;
  errors: number;
  sum: number;
  /** Cumulative per bucket upper bound, as exposed. */
  buckets: number[];
}
const ops = new Map<string, OpStats>();

/** CRI method name ("RunPodSandbox") → kubelet's operation_type ("run_podsandbox"). */
export function operationType(method: string): string {
  return method
    .replace(/PodSandbox/g, "Podsandbox")
    .replace(/([a-z])([A-Z])/g, "$1_$2")
    .toLowerCase();
}

/** Count one CRI call (the CRI client calls this for every RPC). */
export function observeCriCall(method: string, seconds: number, failed: boolean): void {
  const t = operationType(method);
  let s = ops.get(t);
  if (!s) ops.set(t, (s = { count: 0, errors: 0, sum: 0, buckets: BUCKETS.map(() => 0) }));
  s.count++;
  s.sum += seconds;
  if (failed) s.errors++;
  BUCKETS.forEach((b, i) => {
    if (seconds <= b) s.buckets[i]!++;
  });
}

/** A label value in the text exposition: backslash, double quote and newline escaped. */
const esc = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
const labels = (l: Record<string, string>) => `{${Object.entries(l).map(([k, v]) => `${k}="${esc(v)}"`).join(",")}}`;

class Text {
  private out: string[] = [];
  family(name: string, type: "counter" | "gauge" | "histogram", help: string): this {
    this.out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    return this;
  }
  sample(name: string, l: Record<string, string> | undefined, v: number): this {
    this.out.push(`${name}${l && Object.keys(l).length ? labels(l) : ""} ${Number.isFinite(v) ? v : 0}`);
    return this;
  }
  toString(): string {
    return `${this.out.join("\n")}\n`;
  }
}

export type MetricsPath = "/metrics" | "/metrics/cadvisor";

/** The text exposition for one path, with the current containers read from `source`. */
export async function renderNodeMetrics(path: MetricsPath, node: string, source: StatsSource): Promise<string> {
  const containers = await source.containers();
  const t = new Text();
  if (path === "/metrics") {
    t.family("kubelet_node_name", "gauge", "The node's name. The count is always 1.").sample("kubelet_node_name", { node }, 1);
    t.family("kubelet_running_pods", "gauge", "Number of pods that have a running pod sandbox").sample("kubelet_running_pods", undefined, new Set(containers.map((c) => c.uid)).size);
    t.family("kubelet_running_containers", "gauge", "Number of containers currently running").sample("kubelet_running_containers", { container_state: "running" }, containers.length);
    const sorted = [...ops.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    t.family("kubelet_runtime_operations_total", "counter", "Cumulative number of runtime operations by operation type.");
    for (const [op, s] of sorted) t.sample("kubelet_runtime_operations_total", { operation_type: op }, s.count);
    t.family("kubelet_runtime_operations_errors_total", "counter", "Cumulative number of runtime operation errors by operation type.");
    for (const [op, s] of sorted) t.sample("kubelet_runtime_operations_errors_total", { operation_type: op }, s.errors);
    t.family("kubelet_runtime_operations_duration_seconds", "histogram", "Duration in seconds of runtime operations. Broken down by operation type.");
    for (const [op, s] of sorted) {
      BUCKETS.forEach((b, i) => t.sample("kubelet_runtime_operations_duration_seconds_bucket", { operation_type: op, le: String(b) }, s.buckets[i]!));
      t.sample("kubelet_runtime_operations_duration_seconds_bucket", { operation_type: op, le: "+Inf" }, s.count);
      t.sample("kubelet_runtime_operations_duration_seconds_sum", { operation_type: op }, s.sum);
      t.sample("kubelet_runtime_operations_duration_seconds_count", { operation_type: op }, s.count);
    }
    return t.toString();
  }
  t.family("container_cpu_usage_seconds_total", "counter", "Cumulative cpu time consumed in seconds.");
  for (const c of containers) t.sample("container_cpu_usage_seconds_total", { container: c.container, namespace: c.namespace, pod: c.pod, id: c.id }, c.cpuNs / 1e9);
  t.family("container_memory_working_set_bytes", "gauge", "Current working set in bytes.");
  for (const c of containers) t.sample("container_memory_working_set_bytes", { container: c.container, namespace: c.namespace, pod: c.pod, id: c.id }, c.memoryBytes);
  t.family("machine_cpu_cores", "gauge", "Number of logical CPU cores.").sample("machine_cpu_cores", undefined, cpus().length);
  t.family("machine_memory_bytes", "gauge", "Amount of memory installed on the machine.").sample("machine_memory_bytes", undefined, totalmem());
  return t.toString();
}
