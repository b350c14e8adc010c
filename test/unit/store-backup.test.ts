// Snapshot files of the store (server/store/backup): taken from a live store on a worker,
// restored whole, retention, sealed secrets, and clear errors for what is not a snapshot.
import { afterEach, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { extractDb, readHeader } from "../../server/store/backup/archive";
import { openBundle, sealBundle, WrongTokenError } from "../../server/store/backup/bundle";
import { cronError, listSnapshots, Snapshotter, SUFFIX } from "../../server/store/backup/snapshots";
import { Store } from "../../server/store/store";
import { rejection } from "../harness/rejection.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), "skiff-backup-"));
  dirs.push(d);
  return d;
};
const TOKEN = `K10${"a".repeat(64)}::server:secret-one`;

test("a snapshot of a live store holds every object; retention keeps the newest of each name", async () => {
  const dir = tmp();
  const serverDir = join(dir, "server");
  mkdirSync(join(serverDir, "cred"), { recursive: true });
  writeFileSync(join(serverDir, "token"), TOKEN);
  writeFileSync(join(serverDir, "cred", "encryption-root-key"), "root-key-bytes", { mode: 0o600 });
  // Durability of these writes is not what is tested: no fsync per write (the test ran near its 5 s budget under load).
  const store = new Store({ dataDir: join(serverDir, "db"), synchronous: "OFF" });
  for (let i = 0; i < 500; i++) await store.propose({ op: "create", res: "configmaps", ns: "ns", name: `c${i}`, obj: { metadata: { name: `c${i}`, namespace: "ns" }, data: { v: String(i) } } });
  // Names carry the second they were taken in: a clock stepped by a second per snapshot.
  let clock = Date.parse("2026-01-01T00:00:00Z");
  const snaps = new Snapshotter({ state: store.state, serverDir, dir: join(dir, "snaps"), node: "n1", retention: 2, now: () => new Date((clock += 1000)) });
  // Writes while the copy is read on the worker: the copy is consistent at its own revision.
  const saving = snaps.save("nightly");
  for (let i = 500; i < 520; i++) await store.propose({ op: "create", res: "configmaps", ns: "ns", name: `c${i}`, obj: { metadata: { name: `c${i}`, namespace: "ns" }, data: { v: String(i) } } });
  const info = await saving;
  expect(info.name).toMatch(new RegExp(`^nightly-n1-\\d+\\${SUFFIX}$`));
  const h = await readHeader(info.file);
  expect(h.rev).toBeGreaterThanOrEqual(500);
  expect(h.secrets?.files).toEqual(["cred/encryption-root-key", "token"]);

  const out = tmp();
  await extractDb(info.file, join(out, "state.db"));
  const restored = new Store({ dataDir: out });
  expect(restored.rev).toBe(h.rev);
  const items = restored.list("configmaps", "ns").items;
  expect(items.length).toBe(h.rev);
  expect(items.find((o) => o.metadata.name === "c42")?.data.v).toBe("42");
  restored.close();

  // Retention: the two newest "nightly" stay.
  for (let k = 0; k < 2; k++) await snaps.save("nightly");
  await snaps.save("other");
  const names = readdirSync(join(dir, "snaps")).filter((f) => f.endsWith(SUFFIX));
  expect(names.filter((f) => f.startsWith("nightly-")).length).toBe(2);
  expect(names.filter((f) => f.startsWith("other-")).length).toBe(1);
  expect((await listSnapshots(join(dir, "snaps"))).length).toBe(3);
  expect(() => snaps.save("Bad/Name")).toThrow(/lower-case letters/);
  store.close();
});

test("sealed secrets open only with the server token", async () => {
  const dir = tmp();
  mkdirSync(join(dir, "cred", "sub"), { recursive: true });
  mkdirSync(join(dir, "tls"));
  writeFileSync(join(dir, "cred", "sub", "k"), "key material", { mode: 0o600 });
  writeFileSync(join(dir, "tls", "ca.crt"), "CA");
  writeFileSync(join(dir, "tls", "serving.crt"), "leaf, not carried");
  writeFileSync(join(dir, "token-key"), "tk");
  const b = await sealBundle(dir, TOKEN);
  expect(b.files).toEqual(["cred/sub/k", "tls/ca.crt", "token-key"]);
  expect(Buffer.from(b.data, "base64").includes(Buffer.from("key material"))).toBe(false);
  // The bare secret works as well as the full token; another secret does not.
  const files = await openBundle(b, "secret-one");
  expect(files.get("cred/sub/k")?.data.toString()).toBe("key material");
  expect(files.get("cred/sub/k")?.mode).toBe(0o600);
  expect(await rejection(openBundle(b, "secret-two"))).toBeInstanceOf(WrongTokenError);
});

test("what is not a snapshot gets a clear error; cron expressions are checked", async () => {
  const dir = tmp();
  const plain = join(dir, "plain");
  writeFileSync(plain, "hello");
  expect((await rejection(readHeader(plain))).message).toMatch(/not a Skiff snapshot/);
  const other = join(dir, "other.gz");
  writeFileSync(other, gzipSync(Buffer.from('{"format":"something-else"}\nxx')));
  expect((await rejection(readHeader(other))).message).toMatch(/not a Skiff snapshot/);
  expect((await rejection(readHeader(join(dir, "missing")))).message).toMatch(/no such file/);
  const truncated = join(dir, "t.gz");
  writeFileSync(truncated, gzipSync(Buffer.from('{"format":"skiff-snapshot","version":1}\n' + "x".repeat(100000))).subarray(0, 200));
  expect((await rejection(extractDb(truncated, join(dir, "state.db")))).message).toMatch(/truncated|not a Skiff snapshot/);
  expect(cronError("0 */12 * * *")).toBeUndefined();
  expect(cronError("every day")).toBeString();
});
