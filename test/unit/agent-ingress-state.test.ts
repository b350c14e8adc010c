// The ingress's saved state (agent/services/ingress/state.ts): routes on disk, TLS keys only on
// a memory-backed secret store (/dev/shm stands in for the agent's tmpfs), never in the data dir.
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SecretStore } from "../../agent/cache/secret-store.ts";
import { IngressState } from "../../agent/services/ingress/state.ts";

const dirs: string[] = [];
const tmp = (root = tmpdir()) => {
  const d = mkdtempSync(join(root, "ingress-state-"));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const ING = { metadata: { namespace: "default", name: "shop", uid: "u1", creationTimestamp: "2026-01-01T00:00:00Z", managedFields: [{ manager: "kubectl" }] }, spec: { rules: [{ host: "shop.example" }], tls: [{ hosts: ["shop.example"], secretName: "tls" }] }, status: { loadBalancer: {} } };
const SVC = { metadata: { namespace: "default", name: "front", annotations: { a: "b" } }, spec: { ports: [{ port: 80, targetPort: 8080 }], clusterIP: "10.43.0.9" } };
const SLICE = { metadata: { namespace: "default", name: "front-x", labels: { "kubernetes.io/service-name": "front", other: "x" } }, addressType: "IPv4", endpoints: [{ addresses: ["10.42.0.5"], conditions: { ready: true } }], ports: [{ port: 8080 }] };
const CERT = { serverName: "shop.example", cert: "-----BEGIN CERTIFICATE-----\nabc\n-----END CERTIFICATE-----\n", key: "-----BEGIN PRIVATE KEY-----\nSECRETKEYMATERIAL\n-----END PRIVATE KEY-----\n" };

/** Every file under dir, contents joined. */
const allFiles = (dir: string): string =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => readFileSync(join(e.parentPath, e.name), "utf8"))
    .join("\n");

test("routes and certificates come back after a restart; the key only on the memory-backed store", () => {
  const dataDir = tmp();
  const store = SecretStore.at(tmp("/dev/shm"));
  expect(store.available).toBe(true);
  const a = new IngressState(dataDir, store, () => {});
  a.saveRoutes([ING], [SVC], [SLICE]);
  a.saveCerts([CERT]);

  const b = new IngressState(dataDir, store, () => {}).load();
  expect(b.certs).toEqual([CERT]);
  // Only what routes.ts reads is kept.
  expect(b.routes).toEqual({
    ingresses: [{ metadata: { namespace: "default", name: "shop", uid: "u1", creationTimestamp: "2026-01-01T00:00:00Z" }, spec: ING.spec }],
    services: [{ metadata: { namespace: "default", name: "front" }, spec: { ports: SVC.spec.ports } }],
    slices: [{ metadata: { namespace: "default", name: "front-x", labels: { "kubernetes.io/service-name": "front" } }, addressType: "IPv4", endpoints: SLICE.endpoints, ports: SLICE.ports }],
  });
  const file = join(dataDir, "agent", "ingress", "state.json");
  expect(statSync(file).mode & 0o777).toBe(0o600);
  expect(allFiles(dataDir)).not.toContain("SECRETKEYMATERIAL");
  expect(allFiles(store.root)).toContain("SECRETKEYMATERIAL");
});

test("without a memory-backed store the key is not written anywhere, and that is said once", () => {
  const dataDir = tmp();
  const diskRoot = tmp();
  const store = SecretStore.at(diskRoot); // a plain directory on disk: not a tmpfs
  expect(store.available).toBe(false);
  const logs: string[] = [];
  const s = new IngressState(dataDir, store, (m) => logs.push(m));
  s.saveCerts([CERT]);
  s.saveCerts([CERT, { ...CERT, serverName: "blog.example" }]);
  expect(logs).toHaveLength(1);
  expect(logs[0]).toContain("kept in memory only");
  expect(allFiles(diskRoot) + allFiles(dataDir)).not.toContain("SECRETKEYMATERIAL");
  expect(new IngressState(dataDir, store, () => {}).load()).toEqual({ routes: null, certs: [] });
});

test("unchanged content is not rewritten; a torn file is ignored", () => {
  const dataDir = tmp();
  const s = new IngressState(dataDir, undefined, () => {});
  s.saveRoutes([ING], [SVC], [SLICE]);
  const file = join(dataDir, "agent", "ingress", "state.json");
  const m1 = statSync(file).mtimeMs;
  Bun.sleepSync(20);
  s.saveRoutes([ING], [SVC], [SLICE]);
  expect(statSync(file).mtimeMs).toBe(m1);
  writeFileSync(file, '{"ingresses": [');
  expect(existsSync(file)).toBe(true);
  expect(new IngressState(dataDir, undefined, () => {}).load()).toEqual({ routes: null, certs: [] });
});

test("a node without Ingresses writes nothing; one whose last Ingress went saves the empty list", () => {
  const dataDir = tmp();
  const file = join(dataDir, "agent", "ingress", "state.json");
  const s = new IngressState(dataDir, undefined, () => {});
  s.saveRoutes([], [], []);
  expect(existsSync(file)).toBe(false);
  s.saveRoutes([ING], [SVC], [SLICE]);
  s.saveRoutes([], [], []);
  expect(new IngressState(dataDir, undefined, () => {}).load().routes).toEqual({ ingresses: [], services: [], slices: [] });
});
