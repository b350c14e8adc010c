// Issue 10, acceptance 9: Secrets are encrypted at rest by default, on a cluster of three real
// `skiff server` processes (a snapshot every 40 entries, so snapshot files exist too, and a
// long log tail, so only the purge after a re-encryption takes old entries out of the log).
//   - after writing secrets (stringData, data, kubectl apply with its last-applied annotation),
//     neither a value nor its base64 appears in any file under any server's data dir;
//   - the keys are in <data-dir>/server/cred/ (0600), the same on every server;
//   - `skiff secrets-encrypt rotate-keys` re-encrypts every secret with a new key while clients
//     keep reading, writing and watching (no error), then the old key is gone everywhere;
//   - disable + reencrypt stores secrets in clear; enable + reencrypt seals them again.
// A machine running an agent (secret env, volumes, containerd): security-secrets-at-rest-agent.test.ts.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { BUN, Cluster, REPO, type ServerProc } from "./raft-harness";
import { until } from "../harness/wait.ts";

setDefaultTimeout(120_000);

const cluster = new Cluster(3, { label: "secrets", env: { SKIFF_RAFT_SNAPSHOT_ENTRIES: "40", SKIFF_RAFT_KEEP_ENTRIES: "1000", SKIFF_SECRETS_ENCRYPT_WAIT_MS: "4000" } });
const RUN = Math.random().toString(36).slice(2, 8);
const N = 25;
/** Every secret value written, to look for on disk. */
const values = new Map<string, string>();
const valueOf = (i: number) => `sk-${RUN}-value-${i}-${"x".repeat(i % 7)}`;
const b64 = (s: string) => Buffer.from(s).toString("base64");

let s1: ServerProc;
let s2: ServerProc;
let s3: ServerProc;

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** Files under the servers' data dirs that contain any written value or its base64. */
function leaks(): string[] {
  const needles = [...values.values()].flatMap((v) => [v, b64(v)]).map((n) => Buffer.from(n));
  const found: string[] = [];
  for (const s of cluster.servers)
    for (const f of filesUnder(s.dataDir)) {
      const buf = readFileSync(f);
      for (const n of needles) if (buf.includes(n)) found.push(`${f}: ${n.toString()}`);
    }
  return found;
}

async function cli(s: ServerProc, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const p = Bun.spawn([BUN, join(REPO, "cli/main.ts"), ...args, "--kubeconfig", join(s.dataDir, "kubeconfig.yaml")], { cwd: REPO, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

async function status(s: ServerProc): Promise<any> {
  const r = await cli(s, ["secrets-encrypt", "status", "-o", "json"]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

async function readSecret(s: ServerProc, name: string): Promise<string> {
  const r = await s.fetch(`/api/v1/namespaces/default/secrets/${name}`);
  const j: any = await r.json();
  if (r.status !== 200) throw new Error(`GET ${name} on ${s.name}: ${r.status} ${JSON.stringify(j)}`);
  return Buffer.from(j.data.k, "base64").toString();
}

/** Every secret reads back with its latest value on every server. */
async function allReadBack(): Promise<void> {
  for (const s of cluster.servers) for (const [name, v] of values) expect(await readSecret(s, name)).toBe(v);
}

beforeAll(async () => {
  await cluster.start();
  [s1, s2, s3] = cluster.servers as [ServerProc, ServerProc, ServerProc];
  for (let i = 0; i < N; i++) {
    const name = `s-${i}`;
    values.set(name, valueOf(i));
    // Half as stringData, half as data (base64): both must be sealed.
    const body = i % 2 ? { metadata: { name }, stringData: { k: valueOf(i) } } : { metadata: { name }, data: { k: b64(valueOf(i)) } };
    const r = await s1.fetch("/api/v1/namespaces/default/secrets", { method: "POST", body: JSON.stringify(body) });
    expect(r.status, await r.clone().text()).toBe(201);
  }
  // kubectl apply keeps the whole object, values included, in an annotation: sealed too.
  const applied = `sk-${RUN}-applied`;
  values.set("s-applied", applied);
  const manifest = JSON.stringify({ apiVersion: "v1", kind: "Secret", metadata: { name: "s-applied", namespace: "default" }, stringData: { k: applied } });
  const k = Bun.spawnSync(["kubectl", "--kubeconfig", join(s1.dataDir, "kubeconfig.yaml"), "apply", "-f", "-"], { stdin: Buffer.from(manifest) });
  expect(k.exitCode, k.stderr.toString()).toBe(0);
});

afterAll(async () => {
  await cluster.stop();
  cluster.cleanup();
});

describe("secrets encryption at rest (three servers)", () => {
  test("secrets read back on every server, and no value nor its base64 is in any file under any data dir", async () => {
    await allReadBack();
    const ann: any = await (await s2.fetch("/api/v1/namespaces/default/secrets/s-applied")).json();
    expect(ann.metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"]).toContain(`sk-${RUN}-applied`);
    expect(ann.encrypted).toBeUndefined();
    expect(leaks()).toEqual([]);
    // Not in the servers' logs either.
    for (const s of cluster.servers) expect(readFileSync(s.logFile, "utf8")).not.toContain(`sk-${RUN}`);
  });

  test("the keys are in cred/ (0600), the same root key on every server; status shows one secretbox key on every server", async () => {
    const root = readFileSync(join(s1.dataDir, "server/cred/encryption-root-key"));
    for (const s of cluster.servers) {
      for (const f of ["encryption-root-key", "encryption-config.json"]) expect(statSync(join(s.dataDir, "server/cred", f)).mode & 0o777).toBe(0o600);
      expect(readFileSync(join(s.dataDir, "server/cred/encryption-root-key")).equals(root)).toBe(true);
      const cfg = JSON.parse(readFileSync(join(s.dataDir, "server/cred/encryption-config.json"), "utf8"));
      expect(cfg.kind).toBe("EncryptionConfiguration");
      expect(Object.keys(cfg.resources[0].providers[0])).toEqual(["secretbox"]);
    }
    const st = await status(s2);
    expect(st.enabled).toBe(true);
    expect(st.keys).toHaveLength(1);
    expect(st.keys[0].active).toBe(true);
    expect(st.plaintextSecrets).toBe(0);
    expect(st.keys[0].secrets).toBeGreaterThanOrEqual(N + 1);
    expect(st.servers.map((x: any) => x.name).sort()).toEqual(["s1", "s2", "s3"]);
    expect(st.hashesMatch).toBe(true);
    const text = await cli(s1, ["secrets-encrypt", "status"]);
    expect(text.stdout).toContain("Encryption Status: Enabled");
    expect(text.stdout).toContain("Server Encryption Hashes: All hashes match");
  });

  test("rotate-keys re-encrypts every secret with a new key while clients read, write and watch; the old key is gone", async () => {
    const before = await status(s1);
    const oldKey = before.active as string;
    // A watch on s2 from now on: it must see plain objects throughout.
    const ctl = new AbortController();
    const rv = ((await (await s2.fetch("/api/v1/namespaces/default/secrets")).json()) as any).metadata.resourceVersion;
    const events: any[] = [];
    const watching = (async () => {
      const r = await fetch(`${s2.url}/api/v1/namespaces/default/secrets?watch=1&resourceVersion=${rv}`, { headers: s2.headers(), tls: { rejectUnauthorized: false }, signal: ctl.signal } as RequestInit);
      const reader = r.body!.getReader();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buf += new TextDecoder().decode(value);
        let i;
        while ((i = buf.indexOf("\n")) >= 0) {
          if (buf.slice(0, i).trim()) events.push(JSON.parse(buf.slice(0, i)));
          buf = buf.slice(i + 1);
        }
      }
    })().catch(() => {});
    // Clients keep working during the rotation: writes on s3, reads on s2.
    let stop = false;
    const failures: string[] = [];
    let writes = 0;
    const load = (async () => {
      for (let n = 0; !stop; n++) {
        const v = `sk-${RUN}-during-${n}`;
        const w = await s3.fetch("/api/v1/namespaces/default/secrets/s-0", { method: "PATCH", headers: { "content-type": "application/merge-patch+json" }, body: JSON.stringify({ stringData: { k: v } }) });
        if (w.status !== 200) failures.push(`PATCH ${w.status} ${await w.text()}`);
        else {
          values.set("s-0", v);
          writes++;
        }
        const r = await s2.fetch(`/api/v1/namespaces/default/secrets/s-${1 + (n % (N - 1))}`);
        if (r.status !== 200) failures.push(`GET ${r.status} ${await r.text()}`);
        const l = await s1.fetch("/api/v1/namespaces/default/secrets?limit=10");
        if (l.status !== 200) failures.push(`LIST ${l.status} ${await l.text()}`);
      }
    })();
    await Bun.sleep(300);
    const rot = await cli(s1, ["secrets-encrypt", "rotate-keys"]);
    stop = true;
    await load;
    expect(rot.code, rot.stderr + rot.stdout).toBe(0);
    expect(failures).toEqual([]);
    expect(writes).toBeGreaterThan(0);

    const after = await status(s3);
    expect(after.active).not.toBe(oldKey);
    expect(after.stage).toBe("reencrypt_finished");
    expect(after.keys.map((k: any) => k.name)).toEqual([after.active]);
    expect(after.keys[0].secrets).toBeGreaterThanOrEqual(N + 1);
    expect(after.plaintextSecrets).toBe(0);
    expect(after.hashesMatch).toBe(true);
    for (const s of cluster.servers) {
      const cfg = readFileSync(join(s.dataDir, "server/cred/encryption-config.json"), "utf8");
      expect(cfg).toContain(after.active);
      expect(cfg).not.toContain(oldKey);
    }
    await allReadBack();
    // The watch saw the rewrites as plain objects, never an envelope.
    await until(`${N} MODIFIED events on the watch`, () => events.filter((e) => e.type === "MODIFIED").length >= N, 15_000, 50);
    ctl.abort();
    await watching;
    const mods = events.filter((e) => e.type === "MODIFIED");
    expect(mods.length).toBeGreaterThanOrEqual(N);
    for (const e of mods) {
      expect(e.object.encrypted).toBeUndefined();
      expect(typeof e.object.data?.k).toBe("string");
    }
    expect(leaks()).toEqual([]);
  });

  test("disable + reencrypt stores secrets in clear (the scan finds them); enable + reencrypt seals them and erases every clear copy", async () => {
    expect((await cli(s2, ["secrets-encrypt", "disable"])).code).toBe(0);
    const re = await cli(s2, ["secrets-encrypt", "reencrypt"]);
    expect(re.code, re.stderr).toBe(0);
    let st = await status(s1);
    expect(st.enabled).toBe(false);
    expect(st.plaintextSecrets).toBeGreaterThanOrEqual(N + 1);
    await allReadBack();
    // The scan does see values stored in clear (so its empty answers above mean something).
    await Bun.sleep(500);
    expect(leaks().length).toBeGreaterThan(0);
    expect((await cli(s2, ["secrets-encrypt", "enable"])).code).toBe(0);
    expect((await cli(s2, ["secrets-encrypt", "reencrypt"])).code).toBe(0);
    st = await status(s1);
    expect(st.enabled).toBe(true);
    expect(st.plaintextSecrets).toBe(0);
    expect(st.keys).toHaveLength(1);
    await allReadBack();
    // Every server purges its history, WAL, old snapshots and Raft log tail of the clear copies.
    const deadline = Date.now() + 20_000;
    let left = leaks();
    while (left.length && Date.now() < deadline) {
      await Bun.sleep(250);
      left = leaks();
    }
    expect(left).toEqual([]);
    await allReadBack();
    // The cluster keeps working after the purge: a write and a watch from now.
    const w = await s3.fetch("/api/v1/namespaces/default/secrets", { method: "POST", body: JSON.stringify({ metadata: { name: "after-purge" }, stringData: { k: `sk-${RUN}-after` } }) });
    expect(w.status).toBe(201);
    values.set("after-purge", `sk-${RUN}-after`);
    await allReadBack();
  });

  test("a restarted server reads every secret (its keyring is in its own state.db) and still reports the cluster's keyring", async () => {
    await s3.kill("SIGKILL");
    await s3.start();
    await allReadBack();
    const st = await status(s3);
    expect(st.hashesMatch).toBe(true);
    expect(st.plaintextSecrets).toBe(0);
  });

  test("rotate-keys with a server down stops before dropping any key (it names the server); reencrypt finishes once it is back", async () => {
    const oldKey = (await status(s1)).active as string;
    s3.signal("SIGSTOP");
    try {
      const r = await cli(s1, ["secrets-encrypt", "rotate-keys"]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain("s3 have not loaded the new keyring");
      // Both keys still there: s3 can still read what was sealed with the old one.
      const st = await status(s1);
      expect(st.keys.map((k: any) => k.name)).toContain(oldKey);
      expect(st.keys).toHaveLength(2);
      expect(st.hashesMatch).toBe(false);
    } finally {
      s3.signal("SIGCONT");
    }
    // "Once it is back": a stopped server first has to catch up on the log (the new keyring
    // included) and report it; on a loaded machine that took more than reencrypt's 4 s wait.
    const back = Date.now() + 30_000;
    while (!(await status(s1).catch(() => ({}) as any)).hashesMatch) {
      if (Date.now() > back) throw new Error("s3 did not report the new keyring within 30 s of SIGCONT");
      await Bun.sleep(200);
    }
    const re = await cli(s1, ["secrets-encrypt", "reencrypt"]);
    expect(re.code, re.stderr).toBe(0);
    const st = await status(s2);
    expect(st.keys).toHaveLength(1);
    expect(st.active).not.toBe(oldKey);
    expect(st.hashesMatch).toBe(true);
    await allReadBack();
  });

  test("bad input: an unknown subcommand is a usage error, rotate without prepare a 400", async () => {
    const u = await cli(s1, ["secrets-encrypt", "explode"]);
    expect(u.code).not.toBe(0);
    expect(u.stderr).toContain('unknown subcommand "explode"');
    const r = await s1.fetch("/v1-skiff/secrets-encrypt/rotate", { method: "POST", body: "{}" });
    expect(r.status).toBe(400);
    expect(((await r.json()) as any).message).toContain("rotate follows prepare");
    for (const op of ["explode", "constructor", "__proto__", "toString"]) {
      const x = await s1.fetch(`/v1-skiff/secrets-encrypt/${op}`, { method: "POST", body: "{}" });
      expect(x.status, op).toBe(400);
    }
    // Not for anyone but cluster admins.
    const anon = await fetch(`${s1.url}/v1-skiff/secrets-encrypt/status`, { tls: { rejectUnauthorized: false } } as RequestInit);
    expect(anon.status).toBe(401);
  });
});
