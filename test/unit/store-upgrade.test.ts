// Upgrades of the binary on a data dir (server/store/backup/upgrade.ts): the snapshot taken
// before the store is migrated holds the old layout as it was; a rollback puts state.db back
// byte for byte in content; a failed upgrade is not tried again by itself; a start of the old
// version while the new one's upgrade is pending rolls back first.
import { afterEach, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { AppliedState } from "../../server/store/applied-state";
import { readHeader } from "../../server/store/backup/archive";
import { beginUpgrade, MAX_ATTEMPTS, nameOf, readUpgrade, readVersion, recordReady, UpgradeRefusedError } from "../../server/store/backup/upgrade";
import { layoutOf } from "../../server/store/state-schema";
import { rejection } from "../harness/rejection.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const quiet = () => {};

/** A server dir whose state.db has layout 1 (objects + events), as an older Skiff wrote it. */
function layout1Dir(): { serverDir: string; dbPath: string; snapshotDir: string } {
  const serverDir = mkdtempSync(join(tmpdir(), "skiff-upgrade-"));
  dirs.push(serverDir);
  mkdirSync(join(serverDir, "db"));
  const dbPath = join(serverDir, "db", "state.db");
  const old = new Database(dbPath, { create: true });
  old.exec("PRAGMA journal_mode = WAL");
  old.exec(`CREATE TABLE objects (res TEXT NOT NULL, ns TEXT NOT NULL, name TEXT NOT NULL, rev INTEGER NOT NULL, value TEXT NOT NULL, PRIMARY KEY (res, ns, name)) WITHOUT ROWID;
    CREATE TABLE events (rev INTEGER PRIMARY KEY, type TEXT NOT NULL, res TEXT NOT NULL, ns TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL);
    CREATE TABLE meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL) WITHOUT ROWID;`);
  for (let i = 1; i <= 20; i++) {
    const o = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: `m${i}`, namespace: "ns", resourceVersion: String(i) }, data: { v: String(i) } };
    old.query("INSERT INTO objects VALUES (?, ?, ?, ?, ?)").run("configmaps", "ns", `m${i}`, i, JSON.stringify(o));
    old.query("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)").run(i, "ADDED", "configmaps", "ns", `m${i}`, JSON.stringify(o));
  }
  old.exec("INSERT INTO meta VALUES ('rev', 20), ('applied', 77), ('compacted', 0)");
  old.close();
  return { serverDir, dbPath, snapshotDir: join(serverDir, "db", "snapshots") };
}

/** Every row of every table, as text: what "the same data" means. */
function dump(dbPath: string): string {
  const db = new Database(dbPath, { readonly: true });
  try {
    const tables = db.query<{ name: string }, []>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all();
    return JSON.stringify([layoutOf(db), ...tables.map((t) => [t.name, db.query(`SELECT * FROM "${t.name}" ORDER BY 1, 2`).all()])]);
  } finally {
    db.close();
  }
}

test("version names make snapshot names", () => {
  expect(nameOf("v1.2.3")).toBe("1.2.3");
  expect(nameOf("0.2.0-RC.1+g1234")).toBe("0.2.0-rc.1-g1234");
  expect(nameOf("+++")).toBe("unknown");
});

test("a new data dir: no snapshot; its version is noted; the same version again is no upgrade", async () => {
  const serverDir = mkdtempSync(join(tmpdir(), "skiff-upgrade-"));
  dirs.push(serverDir);
  const o = { serverDir, version: "1.0.0", node: "n1", snapshotDir: join(serverDir, "db", "snapshots"), log: quiet };
  expect(await beginUpgrade(o)).toBeUndefined();
  expect(readVersion(serverDir)?.version).toBe("1.0.0");
  new AppliedState({ dataDir: join(serverDir, "db") }).close();
  expect(await beginUpgrade(o)).toBeUndefined();
  recordReady(serverDir, "1.0.0");
  expect(await beginUpgrade(o)).toBeUndefined();
  expect(existsSync(o.snapshotDir)).toBe(false);
});

test("an upgrade over a layout-1 store: the snapshot holds layout 1; ready records the new version", async () => {
  const { serverDir, dbPath, snapshotDir } = layout1Dir();
  recordReady(serverDir, "0.9.0");
  const before = dump(dbPath);
  const up = (await beginUpgrade({ serverDir, version: "1.0.0", node: "n1", snapshotDir, log: quiet }))!;
  expect(up).toBeDefined();
  expect(up.snapshot).toMatch(/\/pre-upgrade-0\.9\.0-1\.0\.0-n1-\d+\.skiff-snapshot$/);
  const h = await readHeader(up.snapshot);
  expect(h.layout).toBe(1);
  expect(h.appliedIndex).toBe(77);
  expect(readUpgrade(serverDir)).toMatchObject({ from: "0.9.0", to: "1.0.0", attempts: 1 });
  // Taking it changed nothing.
  expect(dump(dbPath)).toBe(before);
  // The new version migrates the store when it opens it.
  const st = new AppliedState({ dataDir: join(serverDir, "db") });
  expect(st.sm.openedLayout).toBe(1);
  expect(st.objects("configmaps").length).toBe(20);
  st.close();
  up.ready();
  expect(readVersion(serverDir)?.version).toBe("1.0.0");
  expect(readUpgrade(serverDir)).toBeUndefined();
  expect(existsSync(up.snapshot)).toBe(true);
  // Later starts of 1.0.0: nothing more to do.
  expect(await beginUpgrade({ serverDir, version: "1.0.0", node: "n1", snapshotDir, log: quiet })).toBeUndefined();
});

test("a rollback after the migration puts state.db back as it was; the failed version is refused until forced", async () => {
  const { serverDir, dbPath, snapshotDir } = layout1Dir();
  recordReady(serverDir, "0.9.0");
  const before = dump(dbPath);
  const up = (await beginUpgrade({ serverDir, version: "1.0.0", node: "n1", snapshotDir, log: quiet }))!;
  const st = new AppliedState({ dataDir: join(serverDir, "db") }); // migrated to layout 2
  st.close();
  expect(dump(dbPath)).not.toBe(before);
  const msg = await up.rollback("not ready within 1 s");
  expect(msg).toContain("run Skiff 0.9.0 again");
  expect(dump(dbPath)).toBe(before);
  expect(existsSync(`${dbPath}-wal`)).toBe(false);
  expect(readVersion(serverDir)?.version).toBe("0.9.0");
  // Restarted by the service manager: refused, nothing touched.
  expect(await rejection(beginUpgrade({ serverDir, version: "1.0.0", node: "n1", snapshotDir, log: quiet }))).toBeInstanceOf(UpgradeRefusedError);
  expect((await rejection(beginUpgrade({ serverDir, version: "1.0.0", node: "n1", snapshotDir, log: quiet }))).message).toMatch(/failed at .* \(not ready within 1 s\).*run Skiff 0\.9\.0.*--force-upgrade/);
  expect(dump(dbPath)).toBe(before);
  // The old version runs as before.
  expect(await beginUpgrade({ serverDir, version: "0.9.0", node: "n1", snapshotDir, log: quiet })).toBeUndefined();
  expect(dump(dbPath)).toBe(before);
  recordReady(serverDir, "0.9.0");
  // ... and 1.0.0 is still refused after it.
  expect(readUpgrade(serverDir)?.failed?.reason).toBe("not ready within 1 s");
  expect(await rejection(beginUpgrade({ serverDir, version: "1.0.0", node: "n1", snapshotDir, log: quiet }))).toBeInstanceOf(UpgradeRefusedError);
  // Forced: a new attempt, with a new snapshot.
  const again = (await beginUpgrade({ serverDir, version: "1.0.0", node: "n1", snapshotDir, force: true, log: quiet }))!;
  expect(again).toBeDefined();
  expect(readUpgrade(serverDir)?.failed).toBeUndefined();
});

test("the old version started while the upgrade is pending (new one killed, or swapped back) rolls back first", async () => {
  const { serverDir, dbPath, snapshotDir } = layout1Dir();
  recordReady(serverDir, "0.9.0");
  const before = dump(dbPath);
  await beginUpgrade({ serverDir, version: "1.0.0", node: "n1", snapshotDir, log: quiet });
  new AppliedState({ dataDir: join(serverDir, "db") }).close(); // migrated, then killed before ready
  expect(await beginUpgrade({ serverDir, version: "0.9.0", node: "n1", snapshotDir, log: quiet })).toBeUndefined();
  expect(dump(dbPath)).toBe(before);
  expect(readUpgrade(serverDir)?.failed?.reason).toMatch(/0\.9\.0 was started again before 1\.0\.0 became ready/);
});

test("a new version that keeps dying before it is ready is rolled back after a few starts", async () => {
  const { serverDir, dbPath, snapshotDir } = layout1Dir();
  recordReady(serverDir, "0.9.0");
  const before = dump(dbPath);
  const o = { serverDir, version: "1.0.0", node: "n1", snapshotDir, log: quiet };
  const first = (await beginUpgrade(o))!;
  new AppliedState({ dataDir: join(serverDir, "db") }).close();
  for (let i = 2; i <= MAX_ATTEMPTS; i++) {
    const up = (await beginUpgrade(o))!;
    expect(up.record.attempts).toBe(i);
    expect(up.snapshot).toBe(first.snapshot); // one snapshot for the whole upgrade
  }
  expect((await rejection(beginUpgrade(o))).message).toMatch(/started 3 times without becoming ready/);
  expect(dump(dbPath)).toBe(before);
  expect(readUpgrade(serverDir)?.failed).toBeDefined();
  expect(JSON.parse(readFileSync(join(serverDir, "version.json"), "utf8")).version).toBe("0.9.0");
});

test("a data dir from before version records: the first start of this version is an upgrade from 'unknown'", async () => {
  const { serverDir, snapshotDir } = layout1Dir();
  const up = (await beginUpgrade({ serverDir, version: "1.0.0", node: "n1", snapshotDir, log: quiet }))!;
  expect(up.from).toBe("unknown");
  expect(up.snapshot).toContain("pre-upgrade-unknown-1.0.0-n1-");
});

test("a done upgrade keeps the newest --snapshot-retention pre-upgrade snapshots, the one just taken among them", async () => {
  const { serverDir, snapshotDir } = layout1Dir();
  mkdirSync(snapshotDir, { recursive: true });
  // Three earlier upgrades' snapshots (one from a far future clock), a scheduled one, another node's.
  const old = ["pre-upgrade-0.6.0-0.7.0-n1-1000", "pre-upgrade-0.7.0-0.8.0-n1-2000", "pre-upgrade-0.8.0-0.9.0-n1-9999999999"];
  const others = ["etcd-snapshot-n1-1500", "pre-upgrade-0.7.0-0.8.0-n2-500", "on-demand-n1-100"];
  for (const n of [...old, ...others]) writeFileSync(join(snapshotDir, `${n}.skiff-snapshot`), "x");
  recordReady(serverDir, "0.9.0");
  const up = (await beginUpgrade({ serverDir, version: "1.0.0", node: "n1", snapshotDir, retention: 2, log: quiet }))!;
  up.ready();
  const left = readdirSync(snapshotDir).sort();
  // Kept: the new one and the newest earlier one (by the time in its name); nothing of other names or nodes touched.
  expect(left).toEqual([basename(up.snapshot), ...[old[2]!, ...others].map((n) => `${n}.skiff-snapshot`)].sort());
  // retention 0 keeps every one.
  recordReady(serverDir, "1.0.0");
  const up2 = (await beginUpgrade({ serverDir, version: "1.1.0", node: "n1", snapshotDir, retention: 0, log: quiet }))!;
  up2.ready();
  expect(readdirSync(snapshotDir).length).toBe(left.length + 1);
});
