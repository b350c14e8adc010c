import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findByKind } from "../../schemas/registry";
import { bootstrap } from "../../server/bootstrap";
import { startControllers } from "../../server/controllers/index";
import { APISERVER_USER, writeCtx } from "../../server/registry/ctx";
import { newRegistry } from "../../server/registry/index";
import { Store } from "../../server/store/store";
import { until } from "../harness/wait";

test("an event expires a TTL after its last write, whatever its timestamps say", async () => {
  const dir = mkdtempSync(join(tmpdir(), "skiff-ttl-"));
  const store = new Store({ dataDir: dir });
  const running = startControllers(newRegistry(store), { only: ["eventttl"], scheduler: false, eventTtlMs: 2000 });
  try {
    const registry = running.runtime.registry;
    await bootstrap(registry);
    const ctx = writeCtx(APISERVER_USER, "t");
    const r = findByKind("v1", "Event")!;
    const ev = (name: string, last: Date) => ({ apiVersion: "v1", kind: "Event", metadata: { name }, involvedObject: { kind: "Pod", name: "p", namespace: "default" }, reason: "R", message: "m", type: "Normal", lastTimestamp: last.toISOString().replace(/\.\d+Z$/, "Z") });
    await registry.create(ctx, r, "default", ev("old", new Date(Date.now() - 3_600_000)));
    await registry.create(ctx, r, "default", ev("new", new Date()));
    const names = () => store.list("events", "default").items.map((e) => e.metadata.name).join();
    await Bun.sleep(1000);
    // A write renews the TTL (the recorder bumping count): "new" now outlives "old".
    await registry.update(ctx, r, "default", "new", (e) => ({ ...e, count: 2 }));
    await Bun.sleep(700);
    expect(names()).toBe("new,old");
    await until("old gone a TTL after its write", () => names() === "new", 2000, 20);
    await until("new gone a TTL after its last write", () => names() === "", 2000, 20);
  } finally {
    await running.stop();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
