import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findByKind } from "../../schemas/registry";
import { writeCtx, APISERVER_USER } from "../../server/registry/ctx";
import { newRegistry } from "../../server/registry/index";
import { bootstrap } from "../../server/bootstrap";
import { EventTtlController } from "../../server/controllers/event-ttl";
import { Store } from "../../server/store/store";

test("events older than the TTL are deleted, recent ones kept", async () => {
  const dir = mkdtempSync(join(tmpdir(), "skiff-ttl-"));
  const store = new Store({ dataDir: dir });
  try {
    const registry = newRegistry(store);
    await bootstrap(registry);
    const ctx = writeCtx(APISERVER_USER, "t");
    const r = findByKind("v1", "Event")!;
    const ev = (name: string, last: string) => ({ apiVersion: "v1", kind: "Event", metadata: { name }, involvedObject: { kind: "Pod", name: "p", namespace: "default" }, reason: "R", message: "m", type: "Normal", lastTimestamp: last });
    await registry.create(ctx, r, "default", ev("old", "2026-01-01T00:00:00Z"));
    await registry.create(ctx, r, "default", ev("new", "2026-01-01T00:59:00Z"));
    const c = new EventTtlController(registry, 3600_000, 1e9);
    expect(await c.sweep(Date.parse("2026-01-01T01:30:00Z"))).toBe(1);
    c.stop();
    expect(store.list("events", "default").items.map((e) => e.metadata.name)).toEqual(["new"]);
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
