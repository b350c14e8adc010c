import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bootstrap } from "../../server/bootstrap";
import { newRegistry } from "../../server/registry/index";
import { addressOf, ApiServerEndpoints, subsetsOf } from "../../server/controllers/apiserver-endpoints";
import { startControllers } from "../../server/controllers/index";
import { until } from "../harness/wait";
import { Store } from "../../server/store/store";

test("API URLs become Endpoints subsets, one per port; hostnames are skipped", () => {
  expect(addressOf("https://10.0.0.2:6443")).toEqual({ ip: "10.0.0.2", port: 6443 });
  expect(addressOf("https://[fd00::1]:6443")).toEqual({ ip: "fd00::1", port: 6443 });
  expect(addressOf("https://server-a:6443")).toBeUndefined();
  expect(subsetsOf([{ ip: "10.0.0.3", port: 6443 }, { ip: "10.0.0.2", port: 6443 }, { ip: "127.0.0.1", port: 7000 }])).toEqual([
    { addresses: [{ ip: "10.0.0.2" }, { ip: "10.0.0.3" }], ports: [{ name: "https", port: 6443, protocol: "TCP" }] },
    { addresses: [{ ip: "127.0.0.1" }], ports: [{ name: "https", port: 7000, protocol: "TCP" }] },
  ]);
});

test("default/kubernetes follows the live servers; a server is dropped after three missed checks; no write when unchanged", async () => {
  const dir = mkdtempSync(join(tmpdir(), "skiff-apieps-"));
  const store = new Store({ dataDir: dir });
  try {
    const registry = newRegistry(store);
    await bootstrap(registry);
    let live = ["https://10.0.0.1:6443", "https://10.0.0.2:6443"];
    const running = startControllers(registry, { only: [], scheduler: false });
    const c = new ApiServerEndpoints(running.runtime, () => live, 1e9);
    void c.run(); // the first sync runs once its cache has synced
    const ips = () => store.get("endpoints", "default", "kubernetes")?.obj.subsets?.flatMap((s: any) => s.addresses.map((a: any) => a.ip));
    await until("the first sync", () => ips()?.length === 2, 2000, 5);
    expect(ips()).toEqual(["10.0.0.1", "10.0.0.2"]);
    const rv = store.get("endpoints", "default", "kubernetes")!.obj.metadata.resourceVersion;
    expect(await c.sync()).toBeUndefined();
    expect(store.get("endpoints", "default", "kubernetes")!.obj.metadata.resourceVersion).toBe(rv);
    live = ["https://10.0.0.1:6443"];
    expect(await c.sync()).toBeUndefined();
    expect(await c.sync()).toBeUndefined();
    expect(ips()).toEqual(["10.0.0.1", "10.0.0.2"]);
    await c.sync();
    expect(ips()).toEqual(["10.0.0.1"]);
    live = ["https://10.0.0.1:6443", "https://10.0.0.3:6443"];
    await c.sync();
    expect(ips()).toEqual(["10.0.0.1", "10.0.0.3"]);
    c.stop();
    await running.stop();
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a server on loopback only is no endpoint (Kubernetes refuses 127.0.0.0/8): the Endpoints stay empty, valid", async () => {
  const dir = mkdtempSync(join(tmpdir(), "skiff-apieps-"));
  const store = new Store({ dataDir: dir });
  try {
    const registry = newRegistry(store);
    await bootstrap(registry);
    let live = ["https://127.0.0.1:6443"];
    const running = startControllers(registry, { only: [], scheduler: false });
    const c = new ApiServerEndpoints(running.runtime, () => live, 1e9);
    void c.run(); // the first sync runs once its cache has synced
    await until("the first sync", () => !!store.get("endpoints", "default", "kubernetes"), 2000, 5);
    expect(store.get("endpoints", "default", "kubernetes")?.obj.subsets ?? []).toEqual([]);
    live = ["https://127.0.0.1:6443", "https://10.0.0.7:6443"];
    await c.sync();
    expect(store.get("endpoints", "default", "kubernetes")?.obj.subsets).toEqual([{ addresses: [{ ip: "10.0.0.7" }], ports: [{ name: "https", port: 6443, protocol: "TCP" }] }]);
    c.stop();
    await running.stop();
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
