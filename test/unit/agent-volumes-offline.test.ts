// The offline rules of pod volumes (agent/volumes/manager.ts), for a node that rebooted while the
// server is away: projected and secret volumes are on tmpfs, so after a reboot they are empty.
//   - a projected configMap source comes from the node's disk copy (0600, written while online);
//   - a serviceAccountToken source with no token is left out, and retried until the server answers;
//   - downwardAPI sources are written as usual;
//   - a secret (plain volume or projected source) waits for the server, saying why;
//   - a configMap volume keeps what it has on disk.
// The server here is a small in-memory stand-in that can be switched unreachable (ConnectionError,
// as the real client throws on a refused connection); the files are real, in a temp dir.
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Pod } from "../../agent/pods/types.ts";
import { PodVolumes, VolumeError, type VolumeContext } from "../../agent/volumes/manager.ts";
import { ConnectionError } from "../../lib/client.ts";

const CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

function apiAccessVolume(extra: object[] = []) {
  return {
    name: "kube-api-access-abcde",
    projected: {
      defaultMode: 0o644,
      sources: [
        { serviceAccountToken: { expirationSeconds: 3607, path: "token" } },
        { configMap: { name: "kube-root-ca.crt", items: [{ key: "ca.crt", path: "ca.crt" }] } },
        { downwardAPI: { items: [{ path: "namespace", fieldRef: { apiVersion: "v1", fieldPath: "metadata.namespace" } }] } },
        ...extra,
      ],
    },
  };
}

function podWith(volumes: object[]): Pod {
  return { metadata: { name: "app", namespace: "team", uid: "u-1" }, spec: { containers: [{ name: "app", image: "busybox" }], volumes } } as unknown as Pod;
}

/** A server stand-in: objects by "kind/name", tokens on request; `down` makes every call unreachable. */
class FakeServer {
  down = false;
  tokens = 0;
  objects = new Map<string, any>([["configmaps/kube-root-ca.crt", { data: { "ca.crt": CA } }], ["configmaps/settings", { data: { mode: "on" } }], ["secrets/db", { data: { pw: Buffer.from("s3cret").toString("base64") } }]]);
  private unreachable() {
    return new ConnectionError("127.0.0.1:6443", "refused", "");
  }
  ctx(): VolumeContext {
    return {
      api: {
        create: async () => {
          if (this.down) throw this.unreachable();
          return { status: { token: `tok-${++this.tokens}`, expirationTimestamp: new Date(Date.now() + 3600_000).toISOString() } };
        },
      },
      objects: {
        get: async (kind: string, _ns: string, name: string) => {
          if (this.down) throw this.unreachable();
          return this.objects.get(`${kind}/${name}`) ?? null;
        },
      },
      node: { cpuMilli: 1000, memory: 1 << 30, ephemeralStorage: 1 << 30 },
      ips: { podIPs: [], hostIPs: [] },
      tmpfs: false,
    } as unknown as VolumeContext;
  }
}

const dirs: string[] = [];
function podDir(): string {
  const d = mkdtempSync(join(tmpdir(), "skiff-vol-offline-"));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** What a reboot does to the tmpfs-backed volumes: their contents are gone. */
function reboot(dir: string, plugin: string) {
  rmSync(join(dir, "volumes", plugin), { recursive: true, force: true });
}

/** Files under dir (relative paths) holding one of the needles. */
function filesHolding(dir: string, needles: string[]): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const p = join(e.parentPath, e.name);
    const text = readFileSync(p, "utf8");
    if (needles.some((n) => text.includes(n))) out.push(p.slice(dir.length + 1));
  }
  return out;
}

const PROJ = "kubernetes.io~projected";
const read = (dir: string, vol: string, file: string) => readFileSync(join(dir, "volumes", PROJ, vol, file), "utf8");
const has = (dir: string, vol: string, file: string) => existsSync(join(dir, "volumes", PROJ, vol, file));

describe("projected volume after an offline reboot", () => {
  test("online: token, ca.crt and namespace; the ConfigMap copy is on disk, owner-only", async () => {
    const srv = new FakeServer();
    const dir = podDir();
    const pod = podWith([apiAccessVolume()]);
    const vols = await new PodVolumes(() => pod, dir).setup(srv.ctx());
    expect(vols.get("kube-api-access-abcde")).toEqual({ path: join(dir, "volumes", PROJ, "kube-api-access-abcde"), readOnly: true });
    expect(read(dir, "kube-api-access-abcde", "token")).toBe("tok-1");
    expect(read(dir, "kube-api-access-abcde", "ca.crt")).toBe(CA);
    expect(read(dir, "kube-api-access-abcde", "namespace")).toBe("team");
    const copy = join(dir, "configmaps", "kube-root-ca.crt.json");
    expect(statSync(copy).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "configmaps")).mode & 0o777).toBe(0o700);
    expect(JSON.parse(readFileSync(copy, "utf8")).data["ca.crt"]).toBe(CA);
  });

  test("offline after a reboot: ca.crt from the copy, namespace written, no token; the token comes when the server answers", async () => {
    const srv = new FakeServer();
    const dir = podDir();
    const pod = podWith([apiAccessVolume()]);
    await new PodVolumes(() => pod, dir).setup(srv.ctx());
    srv.down = true;
    reboot(dir, PROJ);
    const vols = new PodVolumes(() => pod, dir); // a new agent process
    await vols.setup(srv.ctx());
    expect(read(dir, "kube-api-access-abcde", "ca.crt")).toBe(CA);
    expect(read(dir, "kube-api-access-abcde", "namespace")).toBe("team");
    expect(has(dir, "kube-api-access-abcde", "token")).toBe(false);
    // the worker syncs again soon for the token
    const at = vols.tokenRefreshAt;
    expect(at).toBeGreaterThan(Date.now());
    expect(at).toBeLessThan(Date.now() + 10_000);
    // still offline: nothing changes, nothing fails
    await vols.setup(srv.ctx());
    expect(read(dir, "kube-api-access-abcde", "ca.crt")).toBe(CA);
    // the server is back: the token is written in place, next to the rest
    srv.down = false;
    srv.objects.set("configmaps/kube-root-ca.crt", { data: { "ca.crt": CA + "#rotated\n" } });
    await vols.setup(srv.ctx());
    expect(read(dir, "kube-api-access-abcde", "token")).toBe("tok-2");
    expect(read(dir, "kube-api-access-abcde", "ca.crt")).toBe(CA + "#rotated\n");
    // and the copy follows the ConfigMap
    expect(JSON.parse(readFileSync(join(dir, "configmaps", "kube-root-ca.crt.json"), "utf8")).data["ca.crt"]).toBe(CA + "#rotated\n");
  });

  test("a secret source waits for the server, and says why; a plain secret volume too", async () => {
    const srv = new FakeServer();
    for (const volumes of [[apiAccessVolume([{ secret: { name: "db" } }])], [{ name: "creds", secret: { secretName: "db" } }]]) {
      const dir = podDir();
      const pod = podWith(volumes);
      await new PodVolumes(() => pod, dir).setup(srv.ctx());
      srv.down = true;
      reboot(dir, PROJ);
      reboot(dir, "kubernetes.io~secret");
      const err = await new PodVolumes(() => pod, dir).setup(srv.ctx()).catch((e) => e);
      expect(err).toBeInstanceOf(VolumeError);
      expect(err.message).toContain(`secret "db" is kept in memory only on this node (gone after a reboot): waiting for the API server to read it`);
      // no copy of the secret on disk (volumes/ is tmpfs on a real node)
      expect(filesHolding(dir, ["s3cret", Buffer.from("s3cret").toString("base64")]).filter((f) => !f.startsWith("volumes/"))).toEqual([]);
      srv.down = false;
      await new PodVolumes(() => pod, dir).setup(srv.ctx());
      srv.down = false;
    }
  });

  test("a ConfigMap never read on this node: an optional one is left out offline, a required one waits", async () => {
    const srv = new FakeServer();
    srv.down = true;
    const dir = podDir();
    const optional = podWith([apiAccessVolume([{ configMap: { name: "extra", optional: true } }])]);
    // the pod was first set up online, before "extra" was added to the server (optional missing)
    srv.down = false;
    await new PodVolumes(() => optional, dir).setup(srv.ctx());
    expect(existsSync(join(dir, "configmaps", "extra.json"))).toBe(false);
    srv.down = true;
    reboot(dir, PROJ);
    await new PodVolumes(() => optional, dir).setup(srv.ctx());
    expect(read(dir, "kube-api-access-abcde", "ca.crt")).toBe(CA);

    const dir2 = podDir();
    const required = podWith([{ name: "cfg", projected: { sources: [{ configMap: { name: "settings" } }] } }]);
    const err = await new PodVolumes(() => required, dir2).setup(srv.ctx()).catch((e) => e);
    expect(err).toBeInstanceOf(VolumeError);
    expect(err.message).toContain(`configmap "settings" was never read on this node and the API server is unreachable: waiting for it`);
  });

  test("a ConfigMap deleted on the server: its copy goes too", async () => {
    const srv = new FakeServer();
    const dir = podDir();
    const pod = podWith([apiAccessVolume([{ configMap: { name: "settings", optional: true } }])]);
    const vols = new PodVolumes(() => pod, dir);
    await vols.setup(srv.ctx());
    expect(existsSync(join(dir, "configmaps", "settings.json"))).toBe(true);
    srv.objects.delete("configmaps/settings");
    await vols.setup(srv.ctx());
    expect(existsSync(join(dir, "configmaps", "settings.json"))).toBe(false);
    expect(has(dir, "kube-api-access-abcde", "mode")).toBe(false);
  });
});

describe("configMap volume after an offline restart", () => {
  test("keeps its files on disk", async () => {
    const srv = new FakeServer();
    const dir = podDir();
    const pod = podWith([{ name: "settings", configMap: { name: "settings" } }]);
    await new PodVolumes(() => pod, dir).setup(srv.ctx());
    srv.down = true;
    const vols = await new PodVolumes(() => pod, dir).setup(srv.ctx());
    expect(readFileSync(join(vols.get("settings")!.path, "mode"), "utf8")).toBe("on");
  });
});
