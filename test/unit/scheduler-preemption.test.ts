// Priority admission and scheduler preemption against an in-process store (the test cluster's
// fake kubelet finishes deletions): priorityClassName resolves to spec.priority, globalDefault
// applies, and a high-priority pod that fits nowhere evicts the fewest, least important
// lower-priority pods, is nominated to their node and lands there.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { findByKind } from "../../schemas/registry";
import type { ApiError } from "../../server/errors";
import { APISERVER_USER, writeCtx } from "../../server/registry/ctx";
import { startTestCluster, type TestCluster } from "../harness/cluster";

let c: TestCluster;
beforeEach(async () => {
  c = await startTestCluster({ only: ["scheduler"] });
});
afterEach(async () => {
  await c.close();
});

const PC = findByKind("scheduling.k8s.io/v1", "PriorityClass")!;
const pc = (name: string, value: number, extra: any = {}) => c.api.registry.create(writeCtx(APISERVER_USER, "t"), PC, undefined, { metadata: { name }, value, ...extra });
const pod = (name: string, cpu: string, priorityClassName?: string, extra: any = {}) =>
  c.create("Pod", { metadata: { name, namespace: "default" }, spec: { ...extra, ...(priorityClassName ? { priorityClassName } : {}), containers: [{ name: "c", image: "x", resources: { requests: { cpu } } }] } });
const refusal = (p: Promise<unknown>) => p.then(() => undefined, (e: ApiError) => [e.code, e.message]);

test("priority admission: classes resolve, the system classes exist, one global default", async () => {
  expect(c.store.get("scheduling.k8s.io/priorityclasses", "", "system-node-critical")?.obj.value).toBe(2000001000);
  expect(c.store.get("scheduling.k8s.io/priorityclasses", "", "system-cluster-critical")?.obj.value).toBe(2000000000);
  await pc("high", 1000, { preemptionPolicy: "Never" });
  const p = await pod("a", "10m", "high");
  expect([p.spec.priority, p.spec.preemptionPolicy]).toEqual([1000, "Never"]);
  expect((await pod("crit", "10m", "system-cluster-critical")).spec.priority).toBe(2000000000);
  expect((await pod("plain", "10m")).spec.priority).toBe(0);
  expect(await refusal(pod("missing", "10m", "nope"))).toEqual([403, 'pods "missing" is forbidden: no PriorityClass with name nope was found']);
  expect(await refusal(pod("mismatch", "10m", "high", { priority: 5 }))).toEqual([
    403,
    'pods "mismatch" is forbidden: the integer value of priority (5) must not be provided in pod spec; priority admission controller computed 1000 from the given PriorityClass name',
  ]);
  await pc("dflt", 7, { globalDefault: true });
  const d = await pod("defaulted", "10m");
  expect([d.spec.priorityClassName, d.spec.priority]).toEqual(["dflt", 7]);
  expect(await refusal(pc("dflt2", 8, { globalDefault: true }))).toEqual([403, 'priorityclasses.scheduling.k8s.io "dflt2" is forbidden: PriorityClass dflt is already marked as default. Only one default can exist']);
  expect((await refusal(pc("too-high", 2_000_000_000)))?.[0]).toBe(422);
  expect((await refusal(pc("system-mine", 5)))?.[0]).toBe(422);
  expect((await refusal(c.api.registry.delete(writeCtx(APISERVER_USER, "t"), PC, "", "system-node-critical", {})))?.[0]).toBe(403);
});

test("a high-priority pod that cannot fit preempts the least important pod on a full node", async () => {
  await pc("low", 10);
  await pc("mid", 100);
  await pc("high", 1000);
  await c.addNode("n1", { cpu: "2" });
  await pod("low-a", "600m", "low");
  await pod("mid-b", "600m", "mid");
  await pod("low-c", "600m", "low");
  await c.until("all three running", () => ["low-a", "mid-b", "low-c"].every((n) => c.get("Pod", "default", n)?.spec?.nodeName === "n1"));
  await pod("high", "700m", "high");
  // One low pod is enough (200m free + 600m): the reprieve keeps the other one and the mid pod.
  await c.until("high bound to n1", () => c.get("Pod", "default", "high")?.spec?.nodeName === "n1");
  const high = c.get("Pod", "default", "high");
  expect(high.status.nominatedNodeName).toBe("n1");
  const left = ["low-a", "mid-b", "low-c"].filter((n) => c.get("Pod", "default", n));
  expect(left.length).toBe(2);
  expect(left).toContain("mid-b");
  const gone = ["low-a", "low-c"].find((n) => !left.includes(n))!;
  const ev = c.list("Event", "default").find((e) => e.involvedObject.name === gone && e.reason === "Preempted");
  expect(ev?.message).toBe(`Preempted by pod ${high.metadata.uid} on node n1`);

  // Equal or lower priority never preempts, and preemptionPolicy Never waits.
  await pod("low-d", "900m", "low");
  await pc("polite", 5000, { preemptionPolicy: "Never" });
  await pod("polite-e", "900m", "polite");
  const fail = await c.until("polite unschedulable", () => c.list("Event", "default").find((e) => e.involvedObject.name === "polite-e" && e.reason === "FailedScheduling"));
  expect(fail.message).toContain("preemption: not eligible due to preemptionPolicy=Never.");
  await Bun.sleep(200);
  expect(left.every((n) => c.get("Pod", "default", n))).toBe(true);
  expect(c.get("Pod", "default", "low-d").spec.nodeName).toBeUndefined();
});

test("preemption spares pods guarded by a PodDisruptionBudget: the node without a budget violation wins", async () => {
  await pc("low", 10);
  await pc("mid", 100);
  await pc("high", 1000);
  await c.addNode("n1", { cpu: "1" });
  await c.addNode("n2", { cpu: "1" });
  const PDB = findByKind("policy/v1", "PodDisruptionBudget")!;
  await c.api.registry.create(writeCtx(APISERVER_USER, "t"), PDB, "default", { metadata: { name: "guard", namespace: "default" }, spec: { minAvailable: 1, selector: { matchLabels: { app: "guarded" } } } });
  await c.create("Pod", { metadata: { name: "guarded", namespace: "default", labels: { app: "guarded" } }, spec: { nodeName: "n1", priorityClassName: "low", containers: [{ name: "c", image: "x", resources: { requests: { cpu: "800m" } } }] } });
  await c.create("Pod", { metadata: { name: "free", namespace: "default", labels: { app: "free" } }, spec: { nodeName: "n2", priorityClassName: "mid", containers: [{ name: "c", image: "x", resources: { requests: { cpu: "800m" } } }] } });
  await c.until("both running", () => ["guarded", "free"].every((n) => c.get("Pod", "default", n)?.status?.phase === "Running"));
  // Without the budget n1 would win: its only victim is less important (10 < 100).
  await pod("high", "500m", "high");
  await c.until("high bound to n2", () => c.get("Pod", "default", "high")?.spec?.nodeName === "n2");
  expect(c.get("Pod", "default", "guarded")).toBeDefined();
  expect(c.get("Pod", "default", "free")).toBeUndefined();
});

test("on one node, a victim a PodDisruptionBudget guards is reprieved before a more important one", async () => {
  await pc("low", 10);
  await pc("mid", 100);
  await pc("high", 1000);
  await c.addNode("n1", { cpu: "1" });
  const PDB = findByKind("policy/v1", "PodDisruptionBudget")!;
  await c.api.registry.create(writeCtx(APISERVER_USER, "t"), PDB, "default", { metadata: { name: "guard", namespace: "default" }, spec: { minAvailable: 1, selector: { matchLabels: { app: "guarded" } } } });
  await c.create("Pod", { metadata: { name: "guarded", namespace: "default", labels: { app: "guarded" } }, spec: { priorityClassName: "low", containers: [{ name: "c", image: "x", resources: { requests: { cpu: "400m" } } }] } });
  await pod("plain", "400m", "mid");
  await c.until("both on n1", () => ["guarded", "plain"].every((n) => c.get("Pod", "default", n)?.spec?.nodeName === "n1"));
  // 200m free, 500m wanted: one victim. By priority alone the low "guarded" pod would go.
  await pod("high", "500m", "high");
  await c.until("high bound to n1", () => c.get("Pod", "default", "high")?.spec?.nodeName === "n1");
  expect(c.get("Pod", "default", "guarded")).toBeDefined();
  expect(c.get("Pod", "default", "plain")).toBeUndefined();
});
