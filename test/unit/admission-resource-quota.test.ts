// ResourceQuota admission and the quota controller in one process: counts and compute
// resources are charged and refused with upstream's messages, status.used follows deletes,
// scopes select pods, and concurrent creates never pass the last slot.
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findByKind } from "../../schemas/registry";
import { bootstrap } from "../../server/bootstrap";
import { startControllers, type RunningControllers } from "../../server/controllers/index";
import type { ApiError } from "../../server/errors";
import { APISERVER_USER, writeCtx } from "../../server/registry/ctx";
import { newRegistry } from "../../server/registry/index";
import type { Registry } from "../../server/registry/registry";
import { Store } from "../../server/store/store";

const kind = (apiVersion: string, k: string) => findByKind(apiVersion, k)!;
const ctx = () => writeCtx(APISERVER_USER, "t");
let dir: string;
let store: Store;
let ctrl: RunningControllers | undefined;
afterEach(async () => {
  await ctrl?.stop();
  ctrl = undefined;
  store?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function setup(): Promise<Registry> {
  dir = mkdtempSync(join(tmpdir(), "skiff-rq-"));
  store = new Store({ dataDir: dir });
  const registry = newRegistry(store);
  await bootstrap(registry);
  ctrl = startControllers(registry, { only: ["resourcequota"], scheduler: false });
  return registry;
}

async function until<T>(f: () => T | undefined, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error("timed out");
    await Bun.sleep(20);
  }
}

async function quota(registry: Registry, name: string, spec: any): Promise<void> {
  await registry.create(ctx(), kind("v1", "ResourceQuota"), "default", { metadata: { name }, spec });
  await until(() => store.get("resourcequotas", "default", name)?.obj.status?.used);
}
const used = (name: string) => store.get("resourcequotas", "default", name)?.obj.status?.used;
const pod = (name: string, resources?: any, extra: any = {}) => ({ metadata: { name }, spec: { ...extra, containers: [{ name: "c", image: "busybox", ...(resources ? { resources } : {}) }] } });
const refusal = (p: Promise<unknown>) => p.then(() => undefined, (e: ApiError) => [e.code, e.message]);

test("a quota of 2 pods: the third is 403 exceeded quota; used follows creates and deletes", async () => {
  const registry = await setup();
  await quota(registry, "q", { hard: { pods: "2", configmaps: "1", "count/deployments.apps": "0" } });
  expect(store.get("resourcequotas", "default", "q")!.obj.status).toEqual({ hard: { pods: "2", configmaps: "1", "count/deployments.apps": "0" }, used: { pods: "0", configmaps: "0", "count/deployments.apps": "0" } });
  await registry.create(ctx(), kind("v1", "Pod"), "default", pod("p1"));
  await registry.create(ctx(), kind("v1", "Pod"), "default", pod("p2"));
  expect(used("q").pods).toBe("2");
  expect(await refusal(registry.create(ctx(), kind("v1", "Pod"), "default", pod("p3")))).toEqual([403, 'pods "p3" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2']);
  await registry.create(ctx(), kind("v1", "ConfigMap"), "default", { metadata: { name: "one" } });
  expect(await refusal(registry.create(ctx(), kind("v1", "ConfigMap"), "default", { metadata: { name: "x" } }))).toEqual([
    403,
    'configmaps "x" is forbidden: exceeded quota: q, requested: configmaps=1, used: configmaps=1, limited: configmaps=1',
  ]);
  expect((await refusal(registry.create(ctx(), kind("apps/v1", "Deployment"), "default", { metadata: { name: "d" }, spec: { selector: { matchLabels: { a: "b" } }, template: { metadata: { labels: { a: "b" } }, spec: { containers: [{ name: "c", image: "x" }] } } } })))?.[1]).toContain("exceeded quota: q, requested: count/deployments.apps=1, used: count/deployments.apps=0, limited: count/deployments.apps=0");
  // Dry run checks but charges nothing.
  await registry.delete(ctx(), kind("v1", "Pod"), "default", "p1", { gracePeriodSeconds: 0 });
  await until(() => used("q").pods === "1", 6000);
  await registry.create(writeCtx(APISERVER_USER, "t", { dryRun: true }), kind("v1", "Pod"), "default", pod("dry"));
  expect(used("q").pods).toBe("1");
  await registry.create(ctx(), kind("v1", "Pod"), "default", pod("p3"));
  expect(used("q").pods).toBe("2");
});

test("compute quotas need explicit requests and limits, and sum them", async () => {
  const registry = await setup();
  await quota(registry, "compute", { hard: { "requests.cpu": "1", "limits.memory": "1Gi" } });
  expect(await refusal(registry.create(ctx(), kind("v1", "Pod"), "default", pod("bare")))).toEqual([
    403,
    'pods "bare" is forbidden: failed quota: compute: must specify limits.memory for: c; requests.cpu for: c',
  ]);
  const sized = (name: string, cpu: string) => pod(name, { requests: { cpu }, limits: { memory: "512Mi" } });
  await registry.create(ctx(), kind("v1", "Pod"), "default", sized("a", "600m"));
  expect(used("compute")).toEqual({ "requests.cpu": "600m", "limits.memory": "512Mi" });
  expect(await refusal(registry.create(ctx(), kind("v1", "Pod"), "default", sized("b", "500m")))).toEqual([
    403,
    'pods "b" is forbidden: exceeded quota: compute, requested: requests.cpu=500m, used: requests.cpu=600m, limited: requests.cpu=1',
  ]);
  await registry.create(ctx(), kind("v1", "Pod"), "default", sized("c", "400m"));
  expect(used("compute")).toEqual({ "requests.cpu": "1", "limits.memory": "1Gi" });
});

test("scopes: a BestEffort quota counts only best-effort pods; Terminating only pods with a deadline", async () => {
  const registry = await setup();
  await quota(registry, "be", { hard: { pods: "1" }, scopes: ["BestEffort"] });
  await quota(registry, "term", { hard: { pods: "1" }, scopes: ["Terminating"] });
  await registry.create(ctx(), kind("v1", "Pod"), "default", pod("be1"));
  expect((await refusal(registry.create(ctx(), kind("v1", "Pod"), "default", pod("be2"))))?.[1]).toContain("exceeded quota: be");
  const sized = { requests: { cpu: "10m" } };
  await registry.create(ctx(), kind("v1", "Pod"), "default", pod("burst1", sized));
  await registry.create(ctx(), kind("v1", "Pod"), "default", pod("burst2", sized));
  await registry.create(ctx(), kind("v1", "Pod"), "default", pod("job1", sized, { activeDeadlineSeconds: 60 }));
  expect((await refusal(registry.create(ctx(), kind("v1", "Pod"), "default", pod("job2", sized, { activeDeadlineSeconds: 60 }))))?.[1]).toContain("exceeded quota: term");
  expect([used("be").pods, used("term").pods]).toEqual(["1", "1"]);
});

test("concurrent creates never pass the quota", async () => {
  const registry = await setup();
  await quota(registry, "q", { hard: { pods: "5" } });
  const results = await Promise.all(Array.from({ length: 30 }, (_, i) => registry.create(ctx(), kind("v1", "Pod"), "default", pod(`p${i}`)).then(() => "ok", (e: ApiError) => e.code)));
  expect(results.filter((r) => r === "ok").length).toBe(5);
  expect(results.filter((r) => r !== "ok").every((r) => r === 403)).toBe(true);
  expect(store.list("pods", "default").items.length).toBe(5);
  expect(used("q").pods).toBe("5");
});

test("a burst of creates under a roomy quota all pass and are all counted", async () => {
  const registry = await setup();
  await quota(registry, "roomy", { hard: { pods: "100" } });
  const results = await Promise.all(Array.from({ length: 60 }, (_, i) => registry.create(ctx(), kind("v1", "Pod"), "default", pod(`b${i}`)).then(() => "ok", (e: ApiError) => e.message)));
  expect(results.filter((r) => r !== "ok")).toEqual([]);
  expect(used("roomy").pods).toBe("60");
});
