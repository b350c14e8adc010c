// TaintNodesByCondition and DefaultTolerationSeconds: a new Node is tainted not-ready:NoSchedule
// and gets no pods until it reports Ready (the node lifecycle controller then lifts the taint);
// pods get the default not-ready/unreachable NoExecute tolerations.
import { afterEach, expect, test } from "bun:test";
import { timestamp } from "../../server/registry/meta";
import { startTestCluster, type TestCluster } from "../harness/cluster";

let c: TestCluster;
afterEach(async () => {
  await c.close();
});

test("a node is not-ready:NoSchedule until it reports Ready; no pod lands on it before", async () => {
  c = await startTestCluster({ only: ["scheduler", "nodelifecycle"] });
  const node = await c.create("Node", { metadata: { name: "fresh", labels: { "kubernetes.io/hostname": "fresh" } }, spec: {} });
  expect(node.spec.taints).toEqual([{ key: "node.kubernetes.io/not-ready", effect: "NoSchedule" }]);
  const p = await c.create("Pod", { metadata: { name: "p", namespace: "default" }, spec: { containers: [{ name: "c", image: "x" }] } });
  expect(p.spec.tolerations).toEqual([
    { key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 },
    { key: "node.kubernetes.io/unreachable", operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 },
  ]);
  const ev = await c.until("FailedScheduling", () => c.list("Event", "default").find((e) => e.involvedObject.name === "p" && e.reason === "FailedScheduling"));
  expect(ev.message).toContain("1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }");
  expect(c.get("Node", "", "fresh").spec.taints?.length).toBe(1); // the lifecycle controller keeps it
  await c.api.updateStatus("Node", "", "fresh", (n) => {
    const cap = { cpu: "4", memory: "8Gi", pods: "110" };
    n.status = { capacity: cap, allocatable: cap, conditions: [{ type: "Ready", status: "True", reason: "KubeletReady", lastHeartbeatTime: timestamp(), lastTransitionTime: timestamp() }] };
    return n;
  });
  await c.until("taint lifted", () => !c.get("Node", "", "fresh").spec.taints);
  await c.until("pod scheduled", () => c.get("Pod", "default", "p")?.spec?.nodeName === "fresh");
  // A pod tolerating everything keeps its own tolerations only.
  const t = await c.create("Pod", { metadata: { name: "t", namespace: "default" }, spec: { tolerations: [{ operator: "Exists" }], containers: [{ name: "c", image: "x" }] } });
  expect(t.spec.tolerations).toEqual([{ operator: "Exists" }]);
});
