// Upgrades of the binary with the real dist/skiff (issue 15: "an upgrade of the binary takes a
// snapshot before migrating and rolls back by itself if the new version does not become
// ready"). No systemd here: a supervisor loop stands in for the unit's Restart=always (it
// starts whatever binary is installed at the path, as systemd does), and `skiff upgrade
// --restart-command` stops the running server so the loop starts the new one. The versions are
// wrapper scripts around dist/skiff that set SKIFF_TEST_VERSION (and, for the version that
// never becomes ready, SKIFF_TEST_NEVER_READY): the same code, told it is another version.
//   1. 1.0.0 -> 1.1.0: the new version snapshots the store first (pre-upgrade-1.0.0-1.1.0-*),
//      becomes ready, and every object is there, Secrets decrypting;
//   2. 1.1.0 -> 1.2.0, which never becomes ready: the server restores the store from its
//      snapshot and exits naming 1.1.0; `skiff upgrade` puts 1.1.0 back, which runs with
//      the objects as they were (and a write 1.2.0 acknowledged meanwhile: the Raft log is
//      kept and replayed); a start of 1.2.0 is refused from then on.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readHeader } from "../../server/store/backup/archive";
import { BUN, freePort, REPO } from "./raft-harness";

setDefaultTimeout(240_000);

const DIST = join(REPO, "dist/skiff");
const work = mkdtempSync(join(tmpdir(), "skiff-upgrade-e2e-"));
const dataDir = join(work, "data");
const serverDir = join(dataDir, "server");
const bin = join(work, "bin", "skiff");
const pidFile = join(work, "server.pid");
const stopFile = join(work, "stop");
const logFile = join(work, "server.log");
let port = 0;
let supervisor: ReturnType<typeof Bun.spawn> | undefined;

/** A "version" of Skiff: dist/skiff told it is `version`. */
function wrapper(version: string, env = ""): string {
  const f = join(work, `skiff-${version}`);
  writeFileSync(f, `#!/bin/sh\nSKIFF_TEST_VERSION=${version} ${env} exec ${DIST} "$@"\n`);
  chmodSync(f, 0o755);
  return f;
}

async function sh(cmd: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  const p = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
  const [o, e] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  return { code: await p.exited, out: o + e };
}

const api = (path: string, init: RequestInit = {}) =>
  fetch(`https://127.0.0.1:${port}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${readFileSync(join(serverDir, "admin-token"), "utf8").trim()}`, "content-type": "application/json" },
    tls: { ca: readFileSync(join(serverDir, "tls", "ca.crt"), "utf8") },
    signal: AbortSignal.timeout(10_000),
  } as RequestInit);

/** name -> (resourceVersion, data) of the test's ConfigMaps and Secrets: "the data". */
async function objects(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const kind of ["configmaps", "secrets"]) {
    const r = await api(`/api/v1/namespaces/default/${kind}?labelSelector=upgrade-test`);
    expect(r.status).toBe(200);
    for (const o of ((await r.json()) as any).items) out[`${kind}/${o.metadata.name}`] = `${o.metadata.resourceVersion} ${JSON.stringify(o.data)}`;
  }
  return out;
}

/** The newest modification time of the sources dist/skiff is built from. */
function newestSource(): number {
  let newest = 0;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (/\.(ts|js|json|proto)$/.test(e.name)) newest = Math.max(newest, statSync(join(d, e.name)).mtimeMs);
    }
  };
  for (const d of ["cli", "server", "agent", "lib", "schemas"]) if (existsSync(join(REPO, d))) walk(join(REPO, d));
  return Math.max(newest, statSync(join(REPO, "package.json")).mtimeMs);
}

const readJson = (f: string) => JSON.parse(readFileSync(f, "utf8"));

async function until<T>(what: string, f: () => T | undefined | false, timeoutMs = 90_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; server log:\n${readFileSync(logFile, "utf8").slice(-4000)}`);
    await Bun.sleep(300);
  }
}
const readyWith = (version: string, since: number) =>
  until(`Skiff ${version} ready`, () => {
    if (!existsSync(join(serverDir, "version.json"))) return false;
    const v = readJson(join(serverDir, "version.json"));
    return v.version === version && v.ready && Date.parse(v.ready) >= since && v;
  });

beforeAll(async () => {
  // The binary as the sources are now (built only if a source is newer: CI has just built it).
  if (!existsSync(DIST) || statSync(DIST).mtimeMs < newestSource()) {
    const b = await sh([BUN, "run", "build:native"]);
    if (b.code !== 0) throw new Error(`build failed:\n${b.out}`);
  }
  mkdirSync(join(work, "bin"));
  writeFileSync(bin, readFileSync(wrapper("1.0.0")));
  chmodSync(bin, 0o755);
  port = await freePort();
  const raftPort = await freePort();
  // Restart=always, as the unit `skiff install` writes has it.
  const loop = `while [ ! -e ${stopFile} ]; do
  ${bin} server --data-dir ${dataDir} --disable-agent --https-listen-port ${port} --raft-listen-port ${raftPort} --node-name up1 --upgrade-ready-timeout 30 --disable-snapshots >> ${logFile} 2>&1 &
  echo $! > ${pidFile}; wait $!; sleep 0.5
done`;
  supervisor = Bun.spawn(["sh", "-c", loop], { stdout: "ignore", stderr: "ignore" });
});

afterAll(async () => {
  writeFileSync(stopFile, "");
  if (existsSync(pidFile)) {
    try {
      process.kill(Number(readFileSync(pidFile, "utf8")), "SIGTERM");
    } catch {}
  }
  await Promise.race([supervisor?.exited, Bun.sleep(15_000)]);
  supervisor?.kill(9);
  if (!process.env.SKIFF_TEST_KEEP) rmSync(work, { recursive: true, force: true });
});

// Like `systemctl restart`: whatever runs stops, and the loop starts the installed binary (a
// server that has exited already, e.g. after its rollback, is being restarted by the loop anyway).
const restart = `kill $(cat ${pidFile}) 2>/dev/null; true`;
let before: Record<string, string> = {};

test("1.0.0 -> 1.1.0: a snapshot of the store is taken before the upgrade; the new version is ready with every object", async () => {
  await readyWith("1.0.0", 0);
  for (let i = 0; i < 20; i++) {
    const r = await api("/api/v1/namespaces/default/configmaps", { method: "POST", body: JSON.stringify({ metadata: { name: `cm${i}`, labels: { "upgrade-test": "1" } }, data: { v: `value ${i}` } }) });
    expect(r.status).toBe(201);
  }
  const s = await api("/api/v1/namespaces/default/secrets", { method: "POST", body: JSON.stringify({ metadata: { name: "pw", labels: { "upgrade-test": "1" } }, stringData: { password: "hunter2" } }) });
  expect(s.status).toBe(201);
  before = await objects();
  expect(Object.keys(before).length).toBe(21);

  const t0 = Date.now();
  const up = await sh([DIST, "upgrade", "--binary", wrapper("1.1.0"), "--bin", bin, "--data-dir", dataDir, "--restart-command", restart, "--timeout", "90"]);
  expect(up.out).toContain("Skiff 1.0.0 -> 1.1.0");
  expect(up.code).toBe(0);
  await readyWith("1.1.0", t0);
  expect((await sh([bin, "version"])).out).toContain("skiff version v1.1.0");
  expect((await sh([`${bin}.previous`, "version"])).out).toContain("skiff version v1.0.0");
  // The snapshot, taken by 1.1.0 before it opened the store, as 1.0.0 left it.
  const snaps = readdirSync(join(serverDir, "db", "snapshots")).filter((f) => f.startsWith("pre-upgrade-1.0.0-1.1.0-up1-"));
  expect(snaps.length).toBe(1);
  const h = await readHeader(join(serverDir, "db", "snapshots", snaps[0]!));
  expect(h.secrets?.files).toContain("cred/encryption-root-key");
  expect(h.rev).toBeGreaterThan(20);
  expect(existsSync(join(serverDir, "upgrade.json"))).toBe(false);
  expect(await objects()).toEqual(before);
  const pw = (await (await api("/api/v1/namespaces/default/secrets/pw")).json()) as any;
  expect(Buffer.from(pw.data.password, "base64").toString()).toBe("hunter2");
  expect(readFileSync(logFile, "utf8")).toContain("upgrade from 1.0.0 to 1.1.0 done");
});

test("1.1.0 -> 1.2.0 never ready: the store is restored, 1.1.0 is put back and runs with the data as before; 1.2.0 is refused", async () => {
  before = await objects();
  const t0 = Date.now();
  const upgrading = sh([DIST, "upgrade", "--binary", wrapper("1.2.0", "SKIFF_TEST_NEVER_READY=1"), "--bin", bin, "--data-dir", dataDir, "--restart-command", restart, "--timeout", "90"]);
  // 1.2.0 serves (it is only "not ready"): a write it acknowledges is in the Raft log, which
  // a rollback keeps (1.1.0 replays it onto the restored state.db): acknowledged is never lost.
  await until("1.2.0 started", () => readFileSync(logFile, "utf8").includes("Skiff 1.2.0 starts on a data dir"));
  let acked = false;
  for (let i = 0; i < 60 && !acked; i++) {
    try {
      const r = await api("/api/v1/namespaces/default/configmaps", { method: "POST", body: JSON.stringify({ metadata: { name: "during-upgrade", labels: { "upgrade-test": "1" } }, data: { v: "1.2.0" } }) });
      acked = r.status === 201;
    } catch {}
    if (!acked) await Bun.sleep(250);
  }
  expect(acked).toBe(true);
  const up = await upgrading;
  expect(up.code).toBe(1);
  expect(up.out).toContain("Skiff 1.2.0 did not become ready: not ready within 30 s");
  expect(up.out).toContain("Skiff 1.1.0 runs again, its store restored from the snapshot taken before the upgrade");
  // The server said what happened and which version to run.
  const log = readFileSync(logFile, "utf8");
  expect(log).toMatch(/upgrade from Skiff 1\.1\.0 to 1\.2\.0 failed: not ready within 30 s .*restored from .*pre-upgrade-1\.1\.0-1\.2\.0-up1-\d+\.skiff-snapshot.*run Skiff 1\.1\.0 again/);
  expect(statSync(bin).size).toBe(statSync(join(work, "skiff-1.1.0")).size);
  expect((await sh([bin, "version"])).out).toContain("skiff version v1.1.0");
  await readyWith("1.1.0", t0);
  const after = await objects();
  expect(after["configmaps/during-upgrade"]).toContain('{"v":"1.2.0"}');
  delete after["configmaps/during-upgrade"];
  expect(after).toEqual(before);
  const pw = (await (await api("/api/v1/namespaces/default/secrets/pw")).json()) as any;
  expect(Buffer.from(pw.data.password, "base64").toString()).toBe("hunter2");
  expect(readJson(join(serverDir, "upgrade.json"))).toMatchObject({ from: "1.1.0", to: "1.2.0", failed: { reason: "not ready within 30 s (--upgrade-ready-timeout)" } });
  // Writes work on the rolled-back server.
  const w = await api("/api/v1/namespaces/default/configmaps", { method: "POST", body: JSON.stringify({ metadata: { name: "after-rollback" }, data: { v: "1" } }) });
  expect(w.status).toBe(201);
  // A start of 1.2.0 on this data dir (the unit restarting it, say) is refused before it touches anything.
  const again = await sh([join(work, "skiff-1.2.0"), "server", "--data-dir", dataDir, "--disable-agent", "--https-listen-port", String(await freePort()), "--raft-listen-port", String(await freePort())]);
  expect(again.code).toBe(1);
  expect(again.out).toMatch(/the upgrade from Skiff 1\.1\.0 to 1\.2\.0 failed at .*run Skiff 1\.1\.0, or start 1\.2\.0 with --force-upgrade/);
  const last = await objects();
  delete last["configmaps/during-upgrade"];
  expect(last).toEqual(before);
});

test("a new version whose start fails on the store (here: a layout it cannot read) restores it and exits naming the previous version", async () => {
  const dir = join(work, "data-bad");
  mkdirSync(join(dir, "server", "db"), { recursive: true });
  const dbPath = join(dir, "server", "db", "state.db");
  const { Database } = await import("bun:sqlite");
  const db = new Database(dbPath, { create: true });
  db.exec("CREATE TABLE kv (rev INTEGER PRIMARY KEY, value TEXT); INSERT INTO kv VALUES (1, 'kept'); CREATE TABLE meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL) WITHOUT ROWID; INSERT INTO meta VALUES ('rev', 1), ('applied', 1); PRAGMA user_version = 99");
  db.close();
  writeFileSync(join(dir, "server", "version.json"), JSON.stringify({ version: "1.0.0", layout: 2, ready: new Date().toISOString() }));
  const bytes = readFileSync(dbPath);
  const r = await sh([DIST, "server", "--data-dir", dir, "--disable-agent", "--https-listen-port", String(await freePort()), "--raft-listen-port", String(await freePort()), "--node-name", "bad"], { SKIFF_TEST_VERSION: "1.1.0" });
  expect(r.code).toBe(1);
  expect(r.out).toMatch(/upgrade from Skiff 1\.0\.0 to 1\.1\.0 failed: the server did not start: .*store layout 99.*restored from .*pre-upgrade-1\.0\.0-1\.1\.0-bad-\d+\.skiff-snapshot.*run Skiff 1\.0\.0 again/);
  expect(r.out).not.toMatch(/^\s+at /m); // a clear message, no stack trace
  const back = new Database(dbPath, { readonly: true });
  expect(back.query("SELECT value FROM kv").all()).toEqual([{ value: "kept" }]);
  expect(back.query("PRAGMA user_version").get()).toEqual({ user_version: 99 });
  back.close();
  expect(readFileSync(dbPath).length).toBe(bytes.length);
});
