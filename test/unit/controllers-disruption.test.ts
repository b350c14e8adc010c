// PodDisruptionBudget status from the disruption controller, and pods/eviction honouring it,
// against an in-process store, the controllers and the fake kubelet.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { startTestCluster, type TestCluster } from "../harness/cluster";
import { evictPod } from "../../server/registry/kinds/eviction";
import { writeCtx, APISERVER_USER } from "../../server/registry/ctx";
import { ApiError } from "../../server/errors";

let c: TestCluster;
beforeEach(async () => {
  c = await startTestCluster();
  await c.addNode("n1");
});
afterEach(async () => {
  await c.close();
});

const deploy = (name: string, replicas: number) =>
  c.create("Deployment", {
    metadata: { name, namespace: "default" },
    spec: { replicas, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: "c", image: "busybox:1" }] } } },
  });
const pdb = (name: string, spec: any) => c.create("PodDisruptionBudget", { metadata: { name, namespace: "default" }, spec });
const status = (name: string) => c.get("PodDisruptionBudget", "default", name)?.status;
const live = (app: string) => c.list("Pod", "default").filter((p) => p.metadata.labels?.app === app && !p.metadata.deletionTimestamp);
const evict = (name: string) => evictPod(c.api.registry, writeCtx(APISERVER_USER, "test"), "default", name, { apiVersion: "policy/v1", kind: "Eviction", metadata: { name } });

test("status: minAvailable, maxUnavailable and percentages against a Deployment's scale", async () => {
  await deploy("web", 3);
  await pdb("min", { minAvailable: 2, selector: { matchLabels: { app: "web" } } });
  await pdb("max", { maxUnavailable: "34%", selector: { matchLabels: { app: "web" } } });
  await pdb("pct", { minAvailable: "50%", selector: { matchLabels: { app: "web" } } });
  await pdb("none", { minAvailable: 1, selector: { matchLabels: { app: "nothing" } } });
  await c.until("3 ready pods", () => live("web").filter((p) => p.status?.phase === "Running").length === 3);
  await c.until("min status", () => status("min")?.currentHealthy === 3 && status("min"));
  expect(status("min")).toMatchObject({ expectedPods: 3, desiredHealthy: 2, currentHealthy: 3, disruptionsAllowed: 1, observedGeneration: 1 });
  expect(status("min").conditions[0]).toMatchObject({ type: "DisruptionAllowed", status: "True", reason: "SufficientPods" });
  // 34% of 3 rounds up to 2 unavailable: 1 must stay healthy.
  await c.until("max status", () => status("max")?.currentHealthy === 3);
  expect(status("max")).toMatchObject({ expectedPods: 3, desiredHealthy: 1, disruptionsAllowed: 2 });
  await c.until("pct status", () => status("pct")?.currentHealthy === 3);
  expect(status("pct")).toMatchObject({ expectedPods: 3, desiredHealthy: 2, disruptionsAllowed: 1 });
  await c.until("none status", () => status("none")?.observedGeneration === 1);
  expect(status("none")).toMatchObject({ expectedPods: 0, currentHealthy: 0, desiredHealthy: 1, disruptionsAllowed: 0 });
  expect(status("none").conditions[0]).toMatchObject({ status: "False", reason: "InsufficientPods" });
});

test("eviction spends the budget once: of two racing evictions one is refused with 429", async () => {
  await deploy("two", 2);
  await pdb("two", { minAvailable: 1, selector: { matchLabels: { app: "two" } } });
  await c.until("budget allows 1", () => status("two")?.disruptionsAllowed === 1 && status("two")?.currentHealthy === 2);
  const [a, b] = live("two").map((p) => p.metadata.name);
  const results = await Promise.allSettled([evict(a!), evict(b!)]);
  const ok = results.filter((r) => r.status === "fulfilled");
  const refused = results.filter((r) => r.status === "rejected").map((r) => (r as PromiseRejectedResult).reason as ApiError);
  expect(ok.length).toBe(1);
  expect(refused.length).toBe(1);
  expect(refused[0]!.code).toBe(429);
  expect(refused[0]!.reason).toBe("TooManyRequests");
  expect(refused[0]!.message).toBe("Cannot evict pod as it would violate the pod's disruption budget.");
  expect(refused[0]!.details?.causes?.[0]).toEqual({ reason: "DisruptionBudget", message: "The disruption budget two needs 1 healthy pods and has 2 currently" });
  // The replacement becomes ready and the budget allows the second eviction.
  await c.until("replacement ready, budget back", () => status("two")?.disruptionsAllowed === 1 && status("two")?.currentHealthy === 2 && !status("two")?.disruptedPods);
  const second = live("two").find((p) => p.metadata.name === a || p.metadata.name === b)!;
  await evict(second.metadata.name);
  await c.until("both originals gone", () => !c.get("Pod", "default", a!) && !c.get("Pod", "default", b!));
});

test("eviction marks DisruptionTarget; a one-replica budget blocks; pods outside budgets just go", async () => {
  await deploy("one", 1);
  await pdb("one", { minAvailable: 1, selector: { matchLabels: { app: "one" } } });
  await c.until("one ready", () => status("one")?.currentHealthy === 1);
  const p = live("one")[0]!;
  const err = await evict(p.metadata.name).catch((e) => e);
  expect(err).toBeInstanceOf(ApiError);
  expect(err.code).toBe(429);
  expect(err.details.causes[0].message).toBe("The disruption budget one needs 1 healthy pods and has 1 currently");
  expect(c.get("Pod", "default", p.metadata.name).metadata.deletionTimestamp).toBeUndefined();

  c.kubelet.enabled = false; // keep the evicted pod terminating so its condition can be read
  await c.create("Pod", { metadata: { name: "free", namespace: "default", labels: { app: "free" } }, spec: { nodeName: "n1", containers: [{ name: "c", image: "busybox:1" }] } });
  await c.api.updateStatus("Pod", "default", "free", (cur) => ({ ...cur, status: { ...cur.status, phase: "Running" } }));
  await evict("free");
  const gone = c.get("Pod", "default", "free");
  expect(gone.metadata.deletionTimestamp).toBeDefined();
  expect(gone.status.conditions.find((x: any) => x.type === "DisruptionTarget")).toMatchObject({ status: "True", reason: "EvictionByEvictionAPI", message: "Eviction API: evicting" });
});

test("two budgets over one pod: eviction is refused with upstream's message", async () => {
  await deploy("dup", 1);
  await pdb("a", { minAvailable: 0, selector: { matchLabels: { app: "dup" } } });
  await pdb("b", { maxUnavailable: 1, selector: { matchLabels: { app: "dup" } } });
  await c.until("ready", () => live("dup")[0]?.status?.phase === "Running");
  const err = await evict(live("dup")[0]!.metadata.name).catch((e) => e);
  expect(err.code).toBe(500);
  expect(err.message).toBe("This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.");
});

test("validation: minAvailable and maxUnavailable are exclusive; percentages are checked", async () => {
  const e1 = await pdb("bad", { minAvailable: 1, maxUnavailable: 1, selector: {} }).catch((e) => e);
  expect(e1.code).toBe(422);
  expect(e1.message).toContain("minAvailable and maxUnavailable cannot be both set");
  const e2 = await pdb("bad2", { minAvailable: "150%", selector: {} }).catch((e) => e);
  expect(e2.code).toBe(422);
  expect(e2.message).toContain("must not be greater than 100%");
});
