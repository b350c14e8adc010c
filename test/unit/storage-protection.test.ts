// StorageObjectInUseProtection and the protection controllers: a claim a running pod uses is only
// marked when deleted and goes once the pod is gone; an unbound volume goes at once.
import { afterEach, expect, test } from "bun:test";
import { startTestCluster, type TestCluster } from "../harness/cluster";

let c: TestCluster;
afterEach(async () => {
  await c.close();
});

test("a claim in use stays (marked) until its pod is gone; an unbound volume is deleted at once", async () => {
  c = await startTestCluster();
  await c.addNode("n1");
  const pv = await c.create("PersistentVolume", { metadata: { name: "spare" }, spec: { capacity: { storage: "1Gi" }, accessModes: ["ReadWriteOnce"], storageClassName: "none", hostPath: { path: "/tmp/x" } } });
  expect(pv.metadata.finalizers).toEqual(["kubernetes.io/pv-protection"]);
  const pvc = await c.create("PersistentVolumeClaim", { metadata: { name: "data", namespace: "default" }, spec: { accessModes: ["ReadWriteOnce"], storageClassName: "none", resources: { requests: { storage: "1Gi" } } } });
  expect(pvc.metadata.finalizers).toEqual(["kubernetes.io/pvc-protection"]);
  await c.until("bound", () => c.get("PersistentVolumeClaim", "default", "data")?.status?.phase === "Bound");
  await c.create("Pod", { metadata: { name: "user", namespace: "default" }, spec: { volumes: [{ name: "v", persistentVolumeClaim: { claimName: "data" } }], containers: [{ name: "c", image: "x" }] } });
  await c.until("pod running", () => c.get("Pod", "default", "user")?.status?.phase === "Running");
  await c.api.delete("PersistentVolumeClaim", "default", "data");
  await Bun.sleep(300);
  const marked = c.get("PersistentVolumeClaim", "default", "data");
  expect(marked?.metadata.deletionTimestamp).toBeTruthy();
  expect(marked?.metadata.finalizers).toEqual(["kubernetes.io/pvc-protection"]);
  await c.api.delete("Pod", "default", "user", { gracePeriodSeconds: 0 });
  await c.until("claim gone", () => !c.get("PersistentVolumeClaim", "default", "data"));
  await c.create("PersistentVolume", { metadata: { name: "lonely" }, spec: { capacity: { storage: "1Gi" }, accessModes: ["ReadWriteOnce"], storageClassName: "other", hostPath: { path: "/tmp/y" } } });
  await c.until("available", () => c.get("PersistentVolume", "", "lonely")?.status?.phase === "Available");
  await c.api.delete("PersistentVolume", "", "lonely");
  await c.until("volume gone", () => !c.get("PersistentVolume", "", "lonely"));
});
