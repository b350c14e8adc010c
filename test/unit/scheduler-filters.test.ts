// The scheduler against an in-process store: placement rules and FailedScheduling messages.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { startTestCluster, type TestCluster } from "../harness/cluster";

let c: TestCluster;
beforeEach(async () => {
  c = await startTestCluster({ only: ["scheduler", "replicaset"] });
});
afterEach(async () => {
  await c.close();
});

const pod = (name: string, spec: any = {}, labels: Record<string, string> = {}) =>
  c.create("Pod", { metadata: { name, namespace: "default", labels }, spec: { containers: [{ name: "c", image: "x", ...(spec.container ?? {}) }], ...spec, container: undefined } });
const nodeOf = (name: string) => c.get("Pod", "default", name)?.spec?.nodeName;
const events = (name: string) => c.list("Event", "default").filter((e) => e.involvedObject.name === name);

test("an unplaceable pod gets a Kubernetes-style FailedScheduling message and is retried when a node appears", async () => {
  await c.addNode("a", { cpu: "1" });
  await c.addNode("b", { taints: [{ key: "dedicated", value: "gpu", effect: "NoSchedule" }] });
  await c.addNode("c", { taints: [{ key: "dedicated", value: "gpu", effect: "NoSchedule" }] });
  await pod("big", { container: { resources: { requests: { cpu: "2" } } } });
  const ev = await c.until("event", () => events("big").find((e) => e.reason === "FailedScheduling"));
  expect(ev.message).toBe(
    "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {dedicated: gpu}. preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling.",
  );
  expect(ev.type).toBe("Warning");
  const cond = c.get("Pod", "default", "big").status.conditions.find((x: any) => x.type === "PodScheduled");
  expect(cond).toMatchObject({ status: "False", reason: "Unschedulable" });
  await c.addNode("d", { cpu: "4" });
  await c.until("placed on the new node", () => nodeOf("big") === "d", 5000);
});

test("resources, pods count, nodeSelector, tolerations and host ports", async () => {
  await c.addNode("small", { cpu: "1", pods: 2, labels: { disk: "hdd" } });
  await c.addNode("ssd", { cpu: "2", labels: { disk: "ssd" } });
  await pod("sel", { nodeSelector: { disk: "ssd" } });
  await c.until("selector", () => nodeOf("sel") === "ssd");
  await c.addNode("tainted", { cpu: "8", taints: [{ key: "k", value: "v", effect: "NoSchedule" }] });
  await pod("tol", { tolerations: [{ key: "k", operator: "Equal", value: "v", effect: "NoSchedule" }], nodeSelector: { "kubernetes.io/hostname": "tainted" } });
  await c.until("toleration", () => nodeOf("tol") === "tainted");
  await pod("hp1", { nodeSelector: { disk: "ssd" }, container: { ports: [{ containerPort: 80, hostPort: 8080 }] } });
  await c.until("hp1", () => nodeOf("hp1") === "ssd");
  await pod("hp2", { nodeSelector: { disk: "ssd" }, container: { ports: [{ containerPort: 80, hostPort: 8080 }] } });
  const ev = await c.until("port conflict", () => events("hp2").find((e) => e.reason === "FailedScheduling"));
  expect(ev.message).toContain("1 node(s) didn't have free ports for the requested pod ports");
  expect(ev.message).toContain("1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had untolerated taint {k: v}");
});

test("required pod anti-affinity spreads a group one per node; affinity co-locates", async () => {
  for (const n of ["a", "b", "c"]) await c.addNode(n);
  const anti = { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: "db" } }, topologyKey: "kubernetes.io/hostname" }] } };
  for (let i = 0; i < 4; i++) await pod(`db-${i}`, { affinity: anti }, { app: "db" });
  await c.until("three placed", () => [0, 1, 2].every((i) => nodeOf(`db-${i}`)));
  expect(new Set([0, 1, 2].map((i) => nodeOf(`db-${i}`))).size).toBe(3);
  const ev = await c.until("fourth unschedulable", () => events("db-3").find((e) => e.reason === "FailedScheduling"));
  expect(ev.message).toContain("3 node(s) didn't satisfy existing pods anti-affinity rules");
  await pod("cache", { affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: "db" } }, topologyKey: "kubernetes.io/hostname" }] } } }, { app: "cache" });
  await c.until("affinity", () => nodeOf("cache"));
  expect(["a", "b", "c"]).toContain(nodeOf("cache"));
});

test("topology spread keeps zones within maxSkew", async () => {
  for (let i = 0; i < 6; i++) await c.addNode(`z${i}`, { labels: { zone: `zone-${i % 3}` } });
  const spread = [{ maxSkew: 1, topologyKey: "zone", whenUnsatisfiable: "DoNotSchedule", labelSelector: { matchLabels: { app: "web" } } }];
  for (let i = 0; i < 9; i++) await pod(`web-${i}`, { topologySpreadConstraints: spread }, { app: "web" });
  await c.until("all placed", () => Array.from({ length: 9 }, (_, i) => nodeOf(`web-${i}`)).every(Boolean));
  const perZone = new Map<string, number>();
  for (let i = 0; i < 9; i++) {
    const z = c.get("Node", "", nodeOf(`web-${i}`)).metadata.labels.zone;
    perZone.set(z, (perZone.get(z) ?? 0) + 1);
  }
  expect([...perZone.values()]).toEqual([3, 3, 3]);
});

test("node affinity required and preferred; cordoned nodes are skipped", async () => {
  await c.addNode("fast", { labels: { tier: "fast" } });
  await c.addNode("slow", { labels: { tier: "slow" } });
  await c.addNode("other", { labels: { tier: "other" } });
  await c.api.update("Node", "", "other", (n) => ({ ...n, spec: { ...n.spec, unschedulable: true } }));
  const aff = {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: "tier", operator: "In", values: ["fast", "slow"] }] }] },
      preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, preference: { matchExpressions: [{ key: "tier", operator: "In", values: ["slow"] }] } }],
    },
  };
  for (let i = 0; i < 3; i++) await pod(`p${i}`, { affinity: aff });
  await c.until("placed", () => [0, 1, 2].every((i) => nodeOf(`p${i}`)));
  for (let i = 0; i < 3; i++) expect(nodeOf(`p${i}`)).toBe("slow");
  await pod("any");
  await c.until("any", () => nodeOf("any"));
  expect(nodeOf("any")).not.toBe("other");
});

test("a pod whose claim does not exist is unschedulable", async () => {
  await c.addNode("a");
  await pod("needs-pvc", { volumes: [{ name: "d", persistentVolumeClaim: { claimName: "missing" } }] });
  const ev = await c.until("event", () => events("needs-pvc").find((e) => e.reason === "FailedScheduling"));
  expect(ev.message).toStartWith('0/1 nodes are available: persistentvolumeclaim "missing" not found.');
});
