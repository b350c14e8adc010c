// The agent's kubelet-style metrics text (issue 14): CRI operation counts and cumulative
// histogram buckets, per-container usage with escaped label values. (promtool checks the real
// output in test/e2e/ecosystem.test.ts.)
import { expect, test } from "bun:test";
import { observeCriCall, operationType, renderNodeMetrics } from "../../agent/metrics";

const source = {
  node: () => ({ tMs: 0, cpuNs: 0, memoryBytes: 0 }),
  containers: async () => [{ id: "abc", namespace: "ns", pod: 'we"ird', uid: "u1", container: "c", tMs: 0, cpuNs: 1.5e9, memoryBytes: 4096 }],
};

test("CRI method names map to kubelet's operation types", () => {
  expect(operationType("RunPodSandbox")).toBe("run_podsandbox");
  expect(operationType("CreateContainer")).toBe("create_container");
  expect(operationType("ListContainerStats")).toBe("list_container_stats");
});

test("kubelet and cadvisor text", async () => {
  observeCriCall("CreateContainer", 0.01, true);
  observeCriCall("CreateContainer", 0.002, false);
  const k = await renderNodeMetrics("/metrics", "n1", source);
  expect(k).toContain('kubelet_node_name{node="n1"} 1\n');
  expect(k).toContain("kubelet_running_pods 1\n");
  expect(k).toContain('kubelet_runtime_operations_total{operation_type="create_container"} 2\n');
  expect(k).toContain('kubelet_runtime_operations_errors_total{operation_type="create_container"} 1\n');
  expect(k).toContain('kubelet_runtime_operations_duration_seconds_bucket{operation_type="create_container",le="0.005"} 1\n');
  expect(k).toContain('kubelet_runtime_operations_duration_seconds_bucket{operation_type="create_container",le="0.025"} 2\n');
  expect(k).toContain('kubelet_runtime_operations_duration_seconds_bucket{operation_type="create_container",le="+Inf"} 2\n');
  const c = await renderNodeMetrics("/metrics/cadvisor", "n1", source);
  expect(c).toContain('container_cpu_usage_seconds_total{container="c",namespace="ns",pod="we\\"ird",id="abc"} 1.5\n');
  expect(c).toContain('container_memory_working_set_bytes{container="c",namespace="ns",pod="we\\"ird",id="abc"} 4096\n');
  expect(c).toContain("# TYPE container_cpu_usage_seconds_total counter\n");
});
