// The node's Prometheus metrics, served through the server as kubelet's are:
// /api/v1/nodes/NAME/proxy/metrics (kubelet_* and CRI operation metrics) and
// /api/v1/nodes/NAME/proxy/metrics/cadvisor (per-container CPU and memory). The server asks over
// the agent's tunnel ({kind: "metrics"}); nothing is scraped in the background: CRI calls are
// counted as they happen, container usage is read from CRI when asked.
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { cpus, totalmem } from "node:os";
import type { StatsSource } from "./stats.ts";

const kubelet = new Registry();
const cadvisor = new Registry();

const ops = new Counter({ name: "kubelet_runtime_operations_total", help: "Cumulative number of runtime operations by operation type.", labelNames: ["operation_type"], registers: [kubelet] });
const opErrors = new Counter({
  name: "kubelet_runtime_operations_errors_total",
  help: "Cumulative number of runtime operation errors by operation type.",
  labelNames: ["operation_type"],
  registers: [kubelet],
});
const opDuration = new Histogram({
  name: "kubelet_runtime_operations_duration_seconds",
  help: "Duration in seconds of runtime operations. Broken down by operation type.",
  labelNames: ["operation_type"],
  buckets: [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  registers: [kubelet],
});
const nodeName = new Gauge({ name: "kubelet_node_name", help: "The node's name. The count is always 1.", labelNames: ["node"], registers: [kubelet] });
const runningPods = new Gauge({ name: "kubelet_running_pods", help: "Number of pods that have a running pod sandbox", registers: [kubelet] });
const runningContainers = new Gauge({ name: "kubelet_running_containers", help: "Number of containers currently running", labelNames: ["container_state"], registers: [kubelet] });

const cpuTotal = new Counter({
  name: "container_cpu_usage_seconds_total",
  help: "Cumulative cpu time consumed in seconds.",
  labelNames: ["container", "namespace", "pod", "id"],
  registers: [cadvisor],
});
const memWorkingSet = new Gauge({
  name: "container_memory_working_set_bytes",
  help: "Current working set in bytes.",
  labelNames: ["container", "namespace", "pod", "id"],
  registers: [cadvisor],
});
const machineCores = new Gauge({ name: "machine_cpu_cores", help: "Number of logical CPU cores.", registers: [cadvisor] });
const machineMemory = new Gauge({ name: "machine_memory_bytes", help: "Amount of memory installed on the machine.", registers: [cadvisor] });

/** CRI method name ("RunPodSandbox") → kubelet's operation_type ("run_podsandbox"). */
export function operationType(method: string): string {
  return method
    .replace(/PodSandbox/g, "Podsandbox")
    .replace(/([a-z])([A-Z])/g, "$1_$2")
    .toLowerCase();
}

/** Count one CRI call (the CRI client calls this for every RPC). */
export function observeCriCall(method: string, seconds: number, failed: boolean): void {
  const operation_type = operationType(method);
  ops.inc({ operation_type });
  opDuration.observe({ operation_type }, seconds);
  if (failed) opErrors.inc({ operation_type });
}

export type MetricsPath = "/metrics" | "/metrics/cadvisor";

/** The text exposition for one path, with the current containers read from `source`. */
export async function renderNodeMetrics(path: MetricsPath, node: string, source: StatsSource): Promise<string> {
  const containers = await source.containers();
  if (path === "/metrics") {
    nodeName.reset();
    nodeName.set({ node }, 1);
    runningPods.set(new Set(containers.map((c) => c.uid)).size);
    runningContainers.reset();
    runningContainers.set({ container_state: "running" }, containers.length);
    return kubelet.metrics();
  }
  cpuTotal.reset();
  memWorkingSet.reset();
  for (const c of containers) {
    const l = { container: c.container, namespace: c.namespace, pod: c.pod, id: c.id };
    cpuTotal.inc(l, c.cpuNs / 1e9);
    memWorkingSet.set(l, c.memoryBytes);
  }
  machineCores.set(cpus().length);
  machineMemory.set(totalmem());
  return cadvisor.metrics();
}
