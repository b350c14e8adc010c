// Node lifecycle (lease expiry → taints → eviction → replacement), service accounts, volume
// binding, garbage collection and namespace deletion, in-process.
import { afterEach, expect, test } from "bun:test";
import { startTestCluster, type TestCluster } from "../harness/cluster";
import { timestamp } from "../../server/registry/meta";

let c: TestCluster;
afterEach(async () => {
  await c?.close();
});

const lease = (name: string) =>
  c.create("Lease", { metadata: { name, namespace: "kube-node-lease" }, spec: { holderIdentity: name, leaseDurationSeconds: 40, renewTime: new Date().toISOString().replace("Z", "000Z") } });

test("a node whose lease stops is tainted unreachable and its pods move after their toleration", async () => {
  c = await startTestCluster({ nodeMonitorGracePeriodMs: 1000, defaultTolerationSeconds: 1 });
  await c.addNode("a");
  await c.addNode("b");
  await lease("a");
  await lease("b");
  // Keep b alive.
  let holdUntil = 0;
  const beat = setInterval(() => Date.now() >= holdUntil && void c.api.update("Lease", "kube-node-lease", "b", (l) => ({ ...l, spec: { ...l.spec, renewTime: new Date().toISOString().replace("Z", "000Z") } })), 100);
  try {
    await c.create("Deployment", { metadata: { name: "app", namespace: "default" }, spec: { replicas: 2, selector: { matchLabels: { app: "x" } }, template: { metadata: { labels: { app: "x" } }, spec: { nodeSelector: {}, containers: [{ name: "c", image: "x" }] } } } });
    await c.until("available", () => c.get("Deployment", "default", "app")?.status?.availableReplicas === 2);
    c.kubelet.enabled = false; // node a's "kubelet" is gone; b keeps serving below
    // The whole process stalls for longer than the grace period (a loaded machine, a long GC):
    // b's heartbeats were due meanwhile, so b must not be judged unreachable. Its next one
    // arrives 150 ms after the stall (sent during it, still on its way through the datastore):
    // a judge that does not count its own stall would condemn b before it lands. (Grace 1 s: that
    // renewal has ~0.8 s to be committed, also on an external datastore on a slow machine.)
    await Bun.sleep(150);
    const stall = Date.now();
    while (Date.now() - stall < 1500) {}
    holdUntil = Date.now() + 150;
    await c.until("unreachable taint", () => c.get("Node", "", "a").spec.taints?.some((t: any) => t.key === "node.kubernetes.io/unreachable" && t.effect === "NoExecute"), 10_000);
    expect(c.get("Node", "", "a").status.conditions.find((x: any) => x.type === "Ready").status).toBe("Unknown");
    expect(c.get("Node", "", "b").spec.taints).toBeUndefined();
    c.kubelet.enabled = true;
    await c.until("pods recreated on b", () => {
      const pods = c.list("Pod", "default").filter((p) => p.metadata.labels?.app === "x" && !p.metadata.deletionTimestamp);
      return pods.length === 2 && pods.every((p) => p.spec.nodeName === "b" && p.status.phase === "Running");
    }, 5000);
  } finally {
    clearInterval(beat);
  }
  // Its own waits add up to 17 s (more than bun's default 5 s test timeout on a loaded machine).
}, 30_000);

test("every namespace gets a default service account", async () => {
  c = await startTestCluster();
  await c.create("Namespace", { metadata: { name: "team" } });
  await c.until("default SA", () => c.get("ServiceAccount", "team", "default"));
  await c.api.delete("ServiceAccount", "team", "default");
  await c.until("recreated", () => c.get("ServiceAccount", "team", "default"));
});

test("claims bind to matching static volumes; released volumes follow reclaimPolicy", async () => {
  c = await startTestCluster();
  await c.create("PersistentVolume", { metadata: { name: "pv1" }, spec: { storageClassName: "manual", capacity: { storage: "5Gi" }, accessModes: ["ReadWriteOnce"], persistentVolumeReclaimPolicy: "Retain", hostPath: { path: "/tmp/pv1" } } });
  await c.create("PersistentVolumeClaim", { metadata: { name: "claim", namespace: "default" }, spec: { storageClassName: "manual", accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } });
  await c.until("bound", () => c.get("PersistentVolumeClaim", "default", "claim")?.status?.phase === "Bound");
  expect(c.get("PersistentVolume", "", "pv1").spec.claimRef.name).toBe("claim");
  await c.api.delete("PersistentVolumeClaim", "default", "claim");
  await c.until("released", () => c.get("PersistentVolume", "", "pv1")?.status?.phase === "Released");
  expect(c.get("StorageClass", "", "local-path").metadata.annotations["storageclass.kubernetes.io/is-default-class"]).toBe("true");
});

test("garbage collection: background, orphan; namespace deletion empties the namespace", async () => {
  c = await startTestCluster();
  await c.addNode("a");
  await c.create("Namespace", { metadata: { name: "tmp" } });
  await c.create("ReplicaSet", { metadata: { name: "rs", namespace: "tmp" }, spec: { replicas: 2, selector: { matchLabels: { a: "b" } }, template: { metadata: { labels: { a: "b" } }, spec: { containers: [{ name: "c", image: "x" }] } } } });
  await c.until("pods", () => c.list("Pod", "tmp").length === 2);
  await c.api.delete("ReplicaSet", "tmp", "rs", { propagationPolicy: "Orphan" });
  await c.until("rs gone", () => !c.get("ReplicaSet", "tmp", "rs"));
  await c.until("orphaned pods", () => c.list("Pod", "tmp").every((p) => !p.metadata.ownerReferences));
  expect(c.list("Pod", "tmp").length).toBe(2);
  await c.api.delete("Namespace", "", "tmp");
  await c.until("namespace gone", () => !c.get("Namespace", "", "tmp"), 8000);
  expect(c.list("Pod", "tmp").length).toBe(0);
  void timestamp;
}, 15_000);
