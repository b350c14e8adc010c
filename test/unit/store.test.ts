import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ExpiredError, Store } from "../../server/store/store";

const dirs: string[] = [];
function fresh(windowSize = 100): { store: Store; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), "skiff-store-"));
  dirs.push(dir);
  return { store: new Store({ dataDir: dir, windowSize }), dir };
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const cm = (name: string, v = "1") => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: "ns", uid: `u-${name}` }, data: { v } });

describe("store", () => {
  test("create assigns increasing revisions and rejects duplicates", async () => {
    const { store } = fresh();
    const a = await store.propose({ op: "create", res: "configmaps", ns: "ns", name: "a", obj: cm("a") });
    const b = await store.propose({ op: "create", res: "configmaps", ns: "ns", name: "b", obj: cm("b") });
    expect(a.ok && b.ok).toBe(true);
    if (!a.ok || !b.ok) return;
    expect(b.rev).toBe(a.rev + 1);
    expect(a.obj.metadata.resourceVersion).toBe(String(a.rev));
    const dup = await store.propose({ op: "create", res: "configmaps", ns: "ns", name: "a", obj: cm("a") });
    expect(dup).toEqual({ ok: false, error: { code: "AlreadyExists" } });
    store.close();
  });

  test("update with a stale revision conflicts", async () => {
    const { store } = fresh();
    const a = await store.propose({ op: "create", res: "configmaps", ns: "ns", name: "a", obj: cm("a") });
    if (!a.ok) throw new Error("create failed");
    const u1 = await store.propose({ op: "update", res: "configmaps", ns: "ns", name: "a", obj: cm("a", "2"), pre: { rev: a.rev } });
    expect(u1.ok).toBe(true);
    const u2 = await store.propose({ op: "update", res: "configmaps", ns: "ns", name: "a", obj: cm("a", "3"), pre: { rev: a.rev } });
    expect(u2.ok).toBe(false);
    if (!u2.ok) expect(u2.error.code).toBe("Conflict");
    store.close();
  });

  test("proposals in one tick commit in one batch, all visible", async () => {
    const { store } = fresh(5000);
    const rs = await Promise.all(Array.from({ length: 500 }, (_, i) => store.propose({ op: "create", res: "configmaps", ns: "ns", name: `c${i}`, obj: cm(`c${i}`) })));
    expect(rs.every((r) => r.ok)).toBe(true);
    expect(store.list("configmaps", "ns").items.length).toBe(500);
    expect(store.sm.appliedIndex).toBeLessThan(10);
    store.close();
  });

  test("a txn is all or nothing", async () => {
    const { store } = fresh();
    await store.propose({ op: "create", res: "configmaps", ns: "ns", name: "a", obj: cm("a") });
    const rev = store.rev;
    const r = await store.propose({ op: "txn", cmds: [{ op: "create", res: "configmaps", ns: "ns", name: "b", obj: cm("b") }, { op: "create", res: "configmaps", ns: "ns", name: "a", obj: cm("a") }] });
    expect(r.ok).toBe(false);
    expect(store.rev).toBe(rev);
    expect(store.get("configmaps", "ns", "b")).toBeUndefined();
    store.close();
  });

  test("pagination and exact-revision lists see the state at that revision", async () => {
    const { store } = fresh();
    for (let i = 0; i < 10; i++) await store.propose({ op: "create", res: "configmaps", ns: "ns", name: `c${i}`, obj: cm(`c${i}`) });
    const p1 = store.list("configmaps", "ns", { limit: 4 });
    expect(p1.items.map((o) => o.metadata.name)).toEqual(["c0", "c1", "c2", "c3"]);
    expect(p1.more).toEqual({ ns: "ns", name: "c3" });
    // Churn after the first page must not leak into later pages.
    await store.propose({ op: "delete", res: "configmaps", ns: "ns", name: "c5" });
    await store.propose({ op: "create", res: "configmaps", ns: "ns", name: "c45", obj: cm("c45") });
    const p2 = store.list("configmaps", "ns", { limit: 100, after: p1.more, atRev: p1.rev });
    expect(p2.items.map((o) => o.metadata.name)).toEqual(["c4", "c5", "c6", "c7", "c8", "c9"]);
    store.close();
  });

  test("watch replays from a revision and expires outside the window", async () => {
    const { store } = fresh(5);
    const first = await store.propose({ op: "create", res: "configmaps", ns: "ns", name: "a", obj: cm("a") });
    if (!first.ok) throw new Error("create failed");
    const seen: string[] = [];
    const stop = store.watch({ res: "configmaps", match: () => true, send: (t, o) => seen.push(`${t}:${o.metadata.name}`) }, first.rev);
    await store.propose({ op: "update", res: "configmaps", ns: "ns", name: "a", obj: cm("a", "2") });
    await store.propose({ op: "delete", res: "configmaps", ns: "ns", name: "a" });
    expect(seen).toEqual(["MODIFIED:a", "DELETED:a"]);
    stop();
    for (let i = 0; i < 10; i++) await store.propose({ op: "create", res: "configmaps", ns: "ns", name: `x${i}`, obj: cm(`x${i}`) });
    expect(() => store.watch({ res: "configmaps", match: () => true, send: () => {} }, first.rev)).toThrow(ExpiredError);
    store.close();
  });

  test("a label change that leaves a selector is a DELETED event for that watcher", async () => {
    const { store } = fresh();
    const o = { ...cm("a"), metadata: { ...cm("a").metadata, labels: { app: "x" } } };
    await store.propose({ op: "create", res: "configmaps", ns: "ns", name: "a", obj: o });
    const seen: string[] = [];
    store.watch({ res: "configmaps", match: (x) => x.metadata.labels?.app === "x", send: (t) => seen.push(t) }, store.rev);
    await store.propose({ op: "update", res: "configmaps", ns: "ns", name: "a", obj: cm("a") });
    expect(seen).toEqual(["DELETED"]);
    store.close();
  });

  test("state and the watch window survive a restart", async () => {
    const { store, dir } = fresh();
    await store.propose({ op: "create", res: "configmaps", ns: "ns", name: "a", obj: cm("a") });
    const rev = store.rev;
    await store.propose({ op: "update", res: "configmaps", ns: "ns", name: "a", obj: cm("a", "2") });
    store.close();
    const again = new Store({ dataDir: dir, windowSize: 100 });
    expect(again.get("configmaps", "ns", "a")?.obj.data.v).toBe("2");
    const seen: string[] = [];
    again.watch({ res: "configmaps", match: () => true, send: (t) => seen.push(t) }, rev);
    expect(seen).toEqual(["MODIFIED"]);
    again.close();
  });

  test("compaction keeps the live versions and the window's history, nothing older", async () => {
    const { store, dir } = fresh(10);
    for (let i = 0; i < 20; i++) await store.propose({ op: "create", res: "configmaps", ns: "ns", name: `c${i}`, obj: cm(`c${i}`) });
    for (let round = 2; round < 7; round++) for (let i = 0; i < 20; i++) await store.propose({ op: "update", res: "configmaps", ns: "ns", name: `c${i}`, obj: cm(`c${i}`, String(round)) });
    for (let i = 10; i < 20; i++) await store.propose({ op: "delete", res: "configmaps", ns: "ns", name: `c${i}` });
    const rows = () => store.sm.db.query<{ n: number }, []>("SELECT count(*) AS n FROM kv").get()!.n;
    // Compaction keeps pace with the writes: each one pushes the oldest revision of the window out.
    expect(store.sm.compacted).toBe(store.rev - 10);
    // 10 live objects, the last 10 revisions (the deletes) and the versions they replaced
    // (for lists at a revision inside the history); every older update is gone.
    expect(rows()).toBe(30);
    store.state.compact(1000); // the timer's pass finds nothing more to do
    expect(rows()).toBe(30);
    expect(store.list("configmaps", "ns").items.map((o) => `${o.metadata.name}=${o.data.v}`)).toEqual(Array.from({ length: 10 }, (_, i) => `c${i}=6`).sort());
    // An exact-revision list inside the history sees the objects deleted since.
    expect(store.list("configmaps", "ns", { atRev: store.rev - 5 }).items.length).toBe(15);
    expect(() => store.list("configmaps", "ns", { atRev: store.rev - 11 })).toThrow(ExpiredError);
    store.close();
    // The key index is rebuilt from the compacted log.
    const again = new Store({ dataDir: dir, windowSize: 10 });
    expect(again.list("configmaps", "ns").items.length).toBe(10);
    expect(again.get("configmaps", "ns", "c15")).toBeUndefined();
    again.close();
  });
});

test("installing a snapshot ends open watches so clients resume or relist", async () => {
  const a = fresh();
  const b = fresh();
  await a.store.propose({ op: "create", res: "configmaps", ns: "ns", name: "x", obj: cm("x") });
  let closed = 0;
  b.store.watch({ res: "configmaps", match: () => true, send: () => {}, close: () => closed++ }, b.store.rev);
  const snap = join(a.dir, "snap.db");
  a.store.state.snapshotTo(snap);
  b.store.state.restoreFrom(snap);
  expect(closed).toBe(1);
  expect(b.store.get("configmaps", "ns", "x")?.obj.data.v).toBe("1");
  a.store.close();
  b.store.close();
});

test("a layout-1 state.db (objects + events) is migrated at open: every object kept, history dropped", () => {
  const dir = mkdtempSync(join(tmpdir(), "skiff-store-"));
  dirs.push(dir);
  const { Database } = require("bun:sqlite") as typeof import("bun:sqlite");
  const old = new Database(join(dir, "state.db"), { create: true });
  old.exec("PRAGMA journal_mode = WAL");
  old.exec(`CREATE TABLE objects (res TEXT NOT NULL, ns TEXT NOT NULL, name TEXT NOT NULL, rev INTEGER NOT NULL, value TEXT NOT NULL, PRIMARY KEY (res, ns, name)) WITHOUT ROWID;
    CREATE TABLE events (rev INTEGER PRIMARY KEY, type TEXT NOT NULL, res TEXT NOT NULL, ns TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL);
    CREATE TABLE meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL) WITHOUT ROWID;`);
  const put = old.query("INSERT INTO objects VALUES (?, ?, ?, ?, ?)");
  const ev = old.query("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)");
  for (let i = 1; i <= 5; i++) {
    const o = { ...cm(`m${i}`, String(i)), metadata: { ...cm(`m${i}`).metadata, resourceVersion: String(i * 2) } };
    put.run("configmaps", "ns", `m${i}`, i * 2, JSON.stringify(o));
    ev.run(i * 2, "ADDED", "configmaps", "ns", `m${i}`, JSON.stringify(o));
  }
  old.exec("INSERT INTO meta VALUES ('rev', 11), ('applied', 42), ('compacted', 0)");
  old.close();
  const store = new Store({ dataDir: dir, windowSize: 100 });
  expect(store.sm.openedLayout).toBe(1);
  expect(store.rev).toBe(11);
  expect(store.sm.appliedIndex).toBe(42);
  expect(store.list("configmaps", "ns").items.map((o) => `${o.metadata.name}@${o.metadata.resourceVersion}=${o.data.v}`)).toEqual(["m1@2=1", "m2@4=2", "m3@6=3", "m4@8=4", "m5@10=5"]);
  // Watches from before the upgrade relist; from now on they resume.
  expect(() => store.watch({ res: "configmaps", match: () => true, send: () => {} }, 5)).toThrow(ExpiredError);
  expect(store.sm.db.query("PRAGMA auto_vacuum").get()).toEqual({ auto_vacuum: 2 });
  store.close();
});
