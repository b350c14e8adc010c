// The agent's tmpfs secret store and the pod cache's split of resolved env: containers whose env
// takes a value from a Secret never have it written under the data dir's disk.
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { isMountPoint, mountsUnder, unmount } from "../../agent/volumes/mount.ts";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PodCache } from "../../agent/cache/pod-cache.ts";
import { isMemoryBacked, SecretStore } from "../../agent/cache/secret-store.ts";
import { usesSecretEnv } from "../../agent/pods/env.ts";
import type { Container, Pod } from "../../agent/pods/types.ts";

const SHM = "/dev/shm";
const shm = existsSync(SHM) && isMemoryBacked(SHM);
const cleanup: string[] = [];
afterEach(() => {
  for (const d of cleanup.splice(0)) rmSync(d, { recursive: true, force: true });
});
const disk = () => {
  const d = mkdtempSync(join(tmpdir(), "skiff-secret-store-"));
  cleanup.push(d);
  return d;
};
const mem = () => {
  const d = mkdtempSync(join(SHM, "skiff-secret-store-"));
  cleanup.push(d);
  return d;
};

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

const secretC: Container = { name: "app", image: "x", env: [{ name: "PW", valueFrom: { secretKeyRef: { name: "db", key: "pw" } } }] } as Container;
const fromC: Container = { name: "side", image: "x", envFrom: [{ secretRef: { name: "db" } }] } as Container;
const plainC: Container = { name: "plain", image: "x", env: [{ name: "A", value: "1" }, { name: "B", valueFrom: { configMapKeyRef: { name: "c", key: "k" } } }] } as Container;
const pod = (uid: string): Pod => ({ metadata: { name: "p", namespace: "default", uid }, spec: { containers: [secretC, fromC, plainC] } }) as unknown as Pod;
const ENV = [{ key: "PW", value: "s3cr3t-value" }];

describe("usesSecretEnv", () => {
  test("secretKeyRef and envFrom.secretRef count, configMaps and literals do not", () => {
    expect(usesSecretEnv(secretC)).toBe(true);
    expect(usesSecretEnv(fromC)).toBe(true);
    expect(usesSecretEnv(plainC)).toBe(false);
    expect(usesSecretEnv({ name: "n", image: "x" } as Container)).toBe(false);
  });
});

describe("SecretStore", () => {
  test("on a disk directory nothing is written and write says so", () => {
    const root = join(disk(), "secrets");
    const s = SecretStore.at(root);
    expect(s.available).toBe(false);
    expect(s.write("pods/u/env/app.json", "v")).toBe(false);
    expect(filesUnder(root)).toEqual([]);
    expect(s.read("pods/u/env/app.json")).toBeNull();
  });

  test.skipIf(!shm)("on tmpfs: atomic 0600 writes, reads, removal of a directory; no path out of the store", () => {
    const root = join(mem(), "secrets");
    const s = SecretStore.at(root);
    expect(s.available).toBe(true);
    expect(s.write("pods/u/env/app.json", "v1")).toBe(true);
    expect(s.write("pods/u/env/app.json", "v2")).toBe(true);
    expect(s.read("pods/u/env/app.json")?.toString()).toBe("v2");
    expect(filesUnder(root)).toEqual([join(root, "pods/u/env/app.json")]);
    expect(Bun.file(join(root, "pods/u/env/app.json")).size).toBe(2);
    expect((statSync(join(root, "pods/u/env/app.json")).mode & 0o777).toString(8)).toBe("600");
    expect(() => s.write("../escape", "x")).toThrow("outside the store");
    expect(() => s.read("../../etc/passwd")).toThrow("outside the store");
    s.remove("pods/u");
    expect(filesUnder(root)).toEqual([]);
  });
});

describe("SecretStore mounted", () => {
  test.skipIf(process.getuid?.() !== 0)("mounts its own tmpfs (0700); a write that does not fit returns false and leaves nothing", () => {
    const root = join(disk(), "secrets");
    const s = SecretStore.at(root, { mount: true, sizeBytes: 64 * 1024 });
    try {
      expect(isMountPoint(root) && s.available).toBe(true);
      expect((statSync(root).mode & 0o777).toString(8)).toBe("700");
      expect(s.write("small", "x")).toBe(true);
      expect(s.write("big", Buffer.alloc(256 * 1024, 1))).toBe(false);
      expect(readdirSync(root).sort()).toEqual(["small"]);
      // a second open finds it mounted and does not stack another tmpfs
      SecretStore.at(root, { mount: true });
      expect(mountsUnder(root)).toEqual([root]);
    } finally {
      unmount(root);
    }
    // unmounted, the directory is on disk again: nothing is written there
    expect(s.write("after", "x")).toBe(false);
    expect(readdirSync(root)).toEqual([]);
  });
});

describe("PodCache env", () => {
  test.skipIf(!shm)("a Secret user's env goes to tmpfs only, survives a new cache (agent restart), not an emptied store (reboot)", () => {
    const dataDir = disk();
    const storeRoot = join(mem(), "secrets");
    const cache = PodCache.forDataDir(dataDir, SecretStore.at(storeRoot));
    cache.save(pod("u1"));
    cache.saveEnv("u1", secretC, ENV);
    cache.saveEnv("u1", fromC, ENV);
    cache.saveEnv("u1", plainC, [{ key: "A", value: "1" }]);
    // on the data dir: pod.json and the plain container's env only, no secret value
    const onDisk = filesUnder(dataDir);
    expect(onDisk.map((f) => f.slice(dataDir.length)).sort()).toEqual(["/agent/pods/u1/env/plain.json", "/agent/pods/u1/pod.json"]);
    for (const f of onDisk) expect(readFileSync(f, "utf8")).not.toContain("s3cr3t");
    expect(cache.loadEnv("u1", secretC)).toEqual(ENV);

    // agent restart: a new cache over the same tmpfs
    const again = PodCache.forDataDir(dataDir, SecretStore.at(storeRoot));
    expect(again.loadAll().map((c) => c.pod.metadata.uid)).toEqual(["u1"]);
    expect(again.loadEnv("u1", secretC)).toEqual(ENV);
    expect(again.loadEnv("u1", fromC)).toEqual(ENV);
    expect(again.loadEnv("u1", plainC)).toEqual([{ key: "A", value: "1" }]);

    // reboot: the tmpfs is empty; the plain container's env is still there
    rmSync(storeRoot, { recursive: true, force: true });
    mkdirSync(storeRoot);
    const rebooted = PodCache.forDataDir(dataDir, SecretStore.at(storeRoot));
    rebooted.loadAll();
    expect(rebooted.loadEnv("u1", secretC)).toBeNull();
    expect(rebooted.loadEnv("u1", plainC)).toEqual([{ key: "A", value: "1" }]);

    again.remove("u1");
    expect(filesUnder(storeRoot)).toEqual([]);
  });

  test.skipIf(!shm)("an env file an older agent wrote to disk for a Secret user moves to tmpfs and leaves the disk", () => {
    const dataDir = disk();
    const storeRoot = join(mem(), "secrets");
    mkdirSync(join(dataDir, "agent/pods/u2/env"), { recursive: true });
    writeFileSync(join(dataDir, "agent/pods/u2/pod.json"), JSON.stringify({ pod: pod("u2") }));
    writeFileSync(join(dataDir, "agent/pods/u2/env/app.json"), JSON.stringify(ENV));
    const cache = PodCache.forDataDir(dataDir, SecretStore.at(storeRoot));
    cache.loadAll();
    expect(existsSync(join(dataDir, "agent/pods/u2/env/app.json"))).toBe(false);
    expect(cache.loadEnv("u2", secretC)).toEqual(ENV);
    expect(PodCache.forDataDir(dataDir, SecretStore.at(storeRoot)).loadEnv("u2", secretC)).toEqual(ENV);
  });

  test("without a tmpfs the env of a Secret user is kept in this process only", () => {
    const dataDir = disk();
    const cache = PodCache.forDataDir(dataDir, SecretStore.at(join(disk(), "secrets")));
    cache.saveEnv("u3", secretC, ENV);
    expect(cache.loadEnv("u3", secretC)).toEqual(ENV);
    for (const f of filesUnder(dataDir)) expect(readFileSync(f, "utf8")).not.toContain("s3cr3t");
    expect(PodCache.forDataDir(dataDir).loadEnv("u3", secretC)).toBeNull();
  });
});
