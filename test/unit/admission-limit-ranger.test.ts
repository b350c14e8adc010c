// LimitRanger through the registry's write path: defaults and default requests land on a pod
// created without resources (with upstream's annotation), and min/max/ratio for Container, Pod
// and PersistentVolumeClaim refuse with upstream's 403 messages.
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findByKind } from "../../schemas/registry";
import { bootstrap } from "../../server/bootstrap";
import type { ApiError } from "../../server/errors";
import { APISERVER_USER, writeCtx } from "../../server/registry/ctx";
import { newRegistry } from "../../server/registry/index";
import type { Registry } from "../../server/registry/registry";
import { Store } from "../../server/store/store";

const kind = (apiVersion: string, k: string) => findByKind(apiVersion, k)!;
const ctx = () => writeCtx(APISERVER_USER, "t");
let dir: string;
let store: Store;
afterEach(() => {
  store?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function setup(limits: any[]): Promise<Registry> {
  dir = mkdtempSync(join(tmpdir(), "skiff-lr-"));
  store = new Store({ dataDir: dir });
  const registry = newRegistry(store);
  await bootstrap(registry);
  await registry.create(ctx(), kind("v1", "LimitRange"), "default", { metadata: { name: "lr" }, spec: { limits } });
  return registry;
}

const pod = (name: string, containers: any[], initContainers?: any[]) => ({ metadata: { name }, spec: { containers, ...(initContainers ? { initContainers } : {}) } });
const c = (name: string, resources?: any) => ({ name, image: "busybox", ...(resources ? { resources } : {}) });
const refusal = (p: Promise<unknown>) => p.then(() => undefined, (e: ApiError) => [e.code, e.reason, e.message]);

test("defaults and default requests fill a pod created without resources, noted in an annotation", async () => {
  const registry = await setup([{ type: "Container", default: { cpu: "500m", memory: "256Mi" }, defaultRequest: { cpu: "100m" } }]);
  const p = await registry.create(ctx(), kind("v1", "Pod"), "default", pod("p", [c("app"), c("side", { limits: { cpu: "1" } })], [c("init")]));
  expect(p.spec.containers[0].resources).toEqual({ limits: { cpu: "500m", memory: "256Mi" }, requests: { cpu: "100m", memory: "256Mi" } });
  // An explicit limit stays, and its request (defaulted from the limit before admission) too.
  expect(p.spec.containers[1].resources).toEqual({ limits: { cpu: "1", memory: "256Mi" }, requests: { cpu: "1", memory: "256Mi" } });
  expect(p.spec.initContainers[0].resources.limits).toEqual({ cpu: "500m", memory: "256Mi" });
  expect(p.metadata.annotations["kubernetes.io/limit-ranger"]).toBe(
    "LimitRanger plugin set: cpu, memory request; cpu, memory limit for container app; memory request; memory limit for container side; cpu, memory request; cpu, memory limit for init container init",
  );
  expect(p.status.qosClass).toBe("Burstable");
});

test("max alone defaults the limit and the request (LimitRange defaulting), and refuses more", async () => {
  const registry = await setup([{ type: "Container", max: { cpu: "500m", memory: "1Gi" } }]);
  const lr = store.get("limitranges", "default", "lr")!.obj;
  expect(lr.spec.limits[0].default).toEqual({ cpu: "500m", memory: "1Gi" });
  const p = await registry.create(ctx(), kind("v1", "Pod"), "default", pod("p", [c("app")]));
  expect(p.spec.containers[0].resources).toEqual({ limits: { cpu: "500m", memory: "1Gi" }, requests: { cpu: "500m", memory: "1Gi" } });
  expect(await refusal(registry.create(ctx(), kind("v1", "Pod"), "default", pod("big", [c("app", { limits: { cpu: "1", memory: "1536Mi" } })])))).toEqual([
    403,
    "Forbidden",
    'pods "big" is forbidden: [maximum cpu usage per Container is 500m, but limit is 1, maximum memory usage per Container is 1Gi, but limit is 1536Mi]',
  ]);
  expect(await refusal(registry.create(ctx(), kind("v1", "Pod"), "default", pod("mem", [c("app", { limits: { memory: "2Gi" } })])))).toEqual([
    403,
    "Forbidden",
    'pods "mem" is forbidden: maximum memory usage per Container is 1Gi, but limit is 2Gi',
  ]);
  expect(store.get("pods", "default", "big")).toBeUndefined();
});

test("min and maxLimitRequestRatio per Container", async () => {
  const registry = await setup([{ type: "Container", min: { cpu: "200m" }, maxLimitRequestRatio: { memory: "2" } }]);
  expect(await refusal(registry.create(ctx(), kind("v1", "Pod"), "default", pod("small", [c("app", { requests: { cpu: "100m", memory: "64Mi" }, limits: { memory: "64Mi" } })])))).toEqual([
    403,
    "Forbidden",
    'pods "small" is forbidden: minimum cpu usage per Container is 200m, but request is 100m',
  ]);
  expect(await refusal(registry.create(ctx(), kind("v1", "Pod"), "default", pod("bursty", [c("app", { requests: { cpu: "300m", memory: "64Mi" }, limits: { memory: "256Mi" } })])))).toEqual([
    403,
    "Forbidden",
    'pods "bursty" is forbidden: memory max limit to request ratio per Container is 2, but provided ratio is 4.000000',
  ]);
  await registry.create(ctx(), kind("v1", "Pod"), "default", pod("ok", [c("app", { requests: { cpu: "300m", memory: "64Mi" }, limits: { memory: "128Mi" } })]));
});

test("a Pod item bounds the sum of the containers", async () => {
  const registry = await setup([{ type: "Pod", max: { cpu: "1" } }]);
  const two = (name: string, cpu: string) => pod(name, [c("a", { limits: { cpu } }), c("b", { limits: { cpu } })]);
  await registry.create(ctx(), kind("v1", "Pod"), "default", two("fits", "500m"));
  expect(await refusal(registry.create(ctx(), kind("v1", "Pod"), "default", two("over", "600m")))).toEqual([
    403,
    "Forbidden",
    'pods "over" is forbidden: maximum cpu usage per Pod is 1, but limit is 1200m',
  ]);
});

test("a PersistentVolumeClaim item bounds the requested storage", async () => {
  const registry = await setup([{ type: "PersistentVolumeClaim", min: { storage: "1Gi" }, max: { storage: "2Gi" } }]);
  const claim = (name: string, storage: string) => ({ metadata: { name }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage } } } });
  await registry.create(ctx(), kind("v1", "PersistentVolumeClaim"), "default", claim("ok", "2Gi"));
  expect(await refusal(registry.create(ctx(), kind("v1", "PersistentVolumeClaim"), "default", claim("huge", "5Gi")))).toEqual([
    403,
    "Forbidden",
    'persistentvolumeclaims "huge" is forbidden: maximum storage usage per PersistentVolumeClaim is 2Gi, but request is 5Gi',
  ]);
  expect(await refusal(registry.create(ctx(), kind("v1", "PersistentVolumeClaim"), "default", claim("tiny", "100Mi")))).toEqual([
    403,
    "Forbidden",
    'persistentvolumeclaims "tiny" is forbidden: minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 100Mi',
  ]);
});
