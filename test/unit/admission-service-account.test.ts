// ServiceAccount admission and the root CA publisher: pods get the default account and upstream's
// kube-api-access projected volume in every container unless automount is off (pod or account);
// every namespace gets kube-root-ca.crt with the cluster CA, put back when deleted or changed.
import { afterEach, expect, test } from "bun:test";
import { startTestCluster, type TestCluster } from "../harness/cluster";

const CA = "-----BEGIN CERTIFICATE-----\nTEST\n-----END CERTIFICATE-----\n";
const MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount";
let c: TestCluster;
afterEach(async () => {
  await c.close();
});

test("a pod gets the default account and the kube-api-access volume in each container; automount false on pod or account leaves it out", async () => {
  c = await startTestCluster({ only: [] , scheduler: false });
  const p = await c.create("Pod", { metadata: { name: "p", namespace: "default" }, spec: { initContainers: [{ name: "i", image: "x" }], containers: [{ name: "a", image: "x" }, { name: "b", image: "x", volumeMounts: [{ name: "own", mountPath: MOUNT }] }], volumes: [{ name: "own", emptyDir: {} }] } });
  expect(p.spec.serviceAccountName).toBe("default");
  const vol = p.spec.volumes.find((v: any) => v.name.startsWith("kube-api-access-"));
  expect(vol.name).toMatch(/^kube-api-access-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
  expect(vol.projected.sources).toEqual([
    { serviceAccountToken: { expirationSeconds: 3607, path: "token" } },
    { configMap: { name: "kube-root-ca.crt", items: [{ key: "ca.crt", path: "ca.crt" }] } },
    { downwardAPI: { items: [{ path: "namespace", fieldRef: { apiVersion: "v1", fieldPath: "metadata.namespace" } }] } },
  ]);
  const mounts = (c0: any) => (c0.volumeMounts ?? []).filter((m: any) => m.mountPath === MOUNT);
  expect(mounts(p.spec.initContainers[0])).toEqual([{ name: vol.name, readOnly: true, mountPath: MOUNT }]);
  expect(mounts(p.spec.containers[0])).toEqual([{ name: vol.name, readOnly: true, mountPath: MOUNT }]);
  expect(mounts(p.spec.containers[1])).toEqual([{ name: "own", mountPath: MOUNT }]); // its own mount wins

  const off = await c.create("Pod", { metadata: { name: "off", namespace: "default" }, spec: { automountServiceAccountToken: false, containers: [{ name: "a", image: "x" }] } });
  expect(off.spec.volumes ?? []).toEqual([]);
  await c.create("ServiceAccount", { metadata: { name: "quiet", namespace: "default" }, automountServiceAccountToken: false });
  const quiet = await c.create("Pod", { metadata: { name: "quiet", namespace: "default" }, spec: { serviceAccountName: "quiet", containers: [{ name: "a", image: "x" }] } });
  expect(quiet.spec.volumes ?? []).toEqual([]);
  // The pod's own true overrides the account's false, as upstream.
  const on = await c.create("Pod", { metadata: { name: "on", namespace: "default" }, spec: { serviceAccountName: "quiet", automountServiceAccountToken: true, containers: [{ name: "a", image: "x" }] } });
  expect(on.spec.volumes.map((v: any) => v.name)[0]).toStartWith("kube-api-access-");
  // A mirror pod is left alone.
  const mirror = await c.create("Pod", { metadata: { name: "m", namespace: "default", annotations: { "kubernetes.io/config.mirror": "x" } }, spec: { containers: [{ name: "a", image: "x" }] } });
  expect(mirror.spec.volumes ?? []).toEqual([]);
});

test("every namespace gets kube-root-ca.crt with the CA; deleted or changed, it is put back", async () => {
  c = await startTestCluster({ only: ["rootcacertpublisher"], scheduler: false, rootCaPem: CA });
  await c.create("Namespace", { metadata: { name: "team" } });
  for (const ns of ["default", "team"]) await c.until(`kube-root-ca.crt in ${ns}`, () => c.get("ConfigMap", ns, "kube-root-ca.crt")?.data?.["ca.crt"] === CA || undefined);
  await c.api.delete("ConfigMap", "team", "kube-root-ca.crt");
  await c.until("recreated", () => c.get("ConfigMap", "team", "kube-root-ca.crt")?.data?.["ca.crt"] === CA || undefined);
  await c.api.update("ConfigMap", "team", "kube-root-ca.crt", (cm) => ({ ...cm, data: { "ca.crt": "tampered" } }));
  await c.until("put back", () => c.get("ConfigMap", "team", "kube-root-ca.crt")?.data?.["ca.crt"] === CA || undefined);
});
