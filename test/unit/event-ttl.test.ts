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
  const TTL = 2000;
  const store = new Store({ dataDir: dir });
  const running = startControllers(newRegistry(store), { only: ["eventttl"], scheduler: false, eventTtlMs: TTL });
  try {
    const registry = running.runtime.registry;
    await bootstrap(registry);
    const ctx = writeCtx(APISERVER_USER, "t");
    const r = findByKind("v1", "Event")!;
    const ev = (name: string, last: Date) => ({ apiVersion: "v1", kind: "Event", metadata: { name }, involvedObject: { kind: "Pod", name: "p", namespace: "default" }, reason: "R", message: "m", type: "Normal", lastTimestamp: last.toISOString().replace(/\.\d+Z$/, "Z") });
    const names = () => store.list("events", "default").items.map((e) => e.metadata.name);
    // Lower bounds only (a slow machine can only make them larger): each event goes no sooner
    // than a TTL after its last write. Timers may fire a few ms before Date.now() agrees.
    const goneAfter = async (name: string, wroteAt: number) => {
      await until(`${name} gone`, () => !names().includes(name), 15_000, 20);
      return Date.now() - wroteAt;
    };
    const oldAt = Date.now();
    await registry.create(ctx, r, "default", ev("old", new Date(Date.now() - 3_600_000))); // an hour-old timestamp
    await registry.create(ctx, r, "default", ev("new", new Date()));
    await Bun.sleep(1000);
    // A write renews the TTL (the recorder bumping count).
    const renewedAt = Date.now();
    await registry.update(ctx, r, "default", "new", (e) => ({ ...e, count: 2 }));
    expect(await goneAfter("old", oldAt)).toBeGreaterThanOrEqual(TTL - 20);
    expect(await goneAfter("new", renewedAt)).toBeGreaterThanOrEqual(TTL - 20);
  } finally {
    await running.stop();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
