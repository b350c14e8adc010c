// `bun run bench raft [--seconds N] [--levels 1,16,64,256]`: 3 Skiff servers and a 3-member
// etcd cluster (Debian's etcd-server, installed if missing) on loopback, driven by the same
// client code (fetch from this process, requests spread round-robin over the 3 members,
// 256-byte values, same duration per level). Prints throughput and p50/p99 for each and the
// Skiff/etcd ratio:
//   kv: Skiff's raw key-value put through Raft to the applied state (POST /v1-skiff/raft/kv,
//       SKIFF_RAFT_BENCH=1) vs etcd's v3 Put (JSON gateway, POST /v3/kv/put)
//   cm: ConfigMap creates through the Skiff API vs the same etcd Put
// Like for like: both serve clients over TLS and use mutual TLS between peers (etcd gets
// certificates from a throwaway CA); `--etcd-plain` runs etcd without TLS instead.
import { ensurePki, issue } from "../../server/tls/pki";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Cluster, freePort } from "../e2e/raft-harness";

interface Result {
  ops: number;
  errors: number;
  p50: number;
  p99: number;
  opsPerSec: number;
}

async function drive(conc: number, seconds: number, op: (worker: number, i: number) => Promise<boolean>): Promise<Result> {
  const lat: number[] = [];
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  let n = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: conc }, async (_, w) => {
      while (performance.now() < end) {
        const t = performance.now();
        const ok = await op(w, n++).catch(() => false);
        if (ok) lat.push(performance.now() - t);
        else errors++;
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  lat.sort((a, b) => a - b);
  const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] ?? NaN;
  return { ops: lat.length, errors, p50: q(0.5), p99: q(0.99), opsPerSec: lat.length / elapsed };
}

function ensureEtcd(): string {
  const have = spawnSync("sh", ["-c", "command -v etcd"], { encoding: "utf8" }).stdout.trim();
  if (have) return have;
  console.log("installing etcd-server (apt-get)…");
  spawnSync("sh", ["-c", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server"], { stdio: "inherit" });
  const p = spawnSync("sh", ["-c", "command -v etcd"], { encoding: "utf8" }).stdout.trim();
  if (!p) throw new Error("etcd is not installed and apt-get failed");
  return p;
}

/**
 * etcd gets what Skiff has: TLS for clients, mutual TLS between peers (certificates from a
 * throwaway CA made with Skiff's own PKI code), so both sides pay for the same crypto.
 */
async function etcdTls(dir: string): Promise<{ ca: string; files: string[] }> {
  const pki = await ensurePki(join(dir, "pki"), { dnsNames: ["localhost"], ips: ["127.0.0.1"] });
  const peer = await issue(pki.ca, { cn: "etcd-peer", ips: ["127.0.0.1"], dnsNames: ["localhost"], server: true, client: true });
  const f = (name: string, text: string) => {
    const p = join(dir, "pki", name);
    writeFileSync(p, text, { mode: 0o600 });
    return p;
  };
  return { ca: pki.ca.cert, files: [f("ca.pem", pki.ca.cert), f("serving.pem", pki.serving.cert), f("serving-key.pem", pki.serving.key), f("peer.pem", peer.cert), f("peer-key.pem", peer.key)] };
}

async function startEtcd(bin: string, secure: boolean): Promise<{ urls: string[]; ca?: string; stop: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), "skiff-bench-etcd-"));
  const ms = [];
  for (let i = 0; i < 3; i++) ms.push({ name: `e${i}`, client: await freePort(), peer: await freePort() });
  const scheme = secure ? "https" : "http";
  const tls = secure ? await etcdTls(dir) : undefined;
  const tlsArgs = tls
    ? ["--cert-file", tls.files[1]!, "--key-file", tls.files[2]!, "--peer-cert-file", tls.files[3]!, "--peer-key-file", tls.files[4]!, "--peer-trusted-ca-file", tls.files[0]!, "--peer-client-cert-auth"]
    : [];
  const initial = ms.map((m) => `${m.name}=${scheme}://127.0.0.1:${m.peer}`).join(",");
  const procs = ms.map((m) =>
    spawn(
      bin,
      [
        "--name", m.name,
        "--data-dir", join(dir, m.name),
        "--listen-client-urls", `${scheme}://127.0.0.1:${m.client}`,
        "--advertise-client-urls", `${scheme}://127.0.0.1:${m.client}`,
        "--listen-peer-urls", `${scheme}://127.0.0.1:${m.peer}`,
        "--initial-advertise-peer-urls", `${scheme}://127.0.0.1:${m.peer}`,
        ...tlsArgs,
        "--initial-cluster", initial,
        "--initial-cluster-state", "new",
        "--initial-cluster-token", "skiff-bench",
        "--log-level", "error",
      ],
      { stdio: "ignore", env: { ...process.env, ETCD_UNSUPPORTED_ARCH: process.arch === "x64" ? "" : process.arch } },
    ),
  );
  const urls = ms.map((m) => `${scheme}://127.0.0.1:${m.client}`);
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const r = await fetch(`${urls[0]}/v3/kv/put`, { method: "POST", body: JSON.stringify({ key: btoa("ping"), value: btoa("x") }), ...(tls ? { tls: { ca: tls.ca } } : {}) } as RequestInit);
      if (r.ok) break;
    } catch {}
    if (Date.now() > deadline) throw new Error("etcd did not start");
    await Bun.sleep(200);
  }
  return {
    urls,
    ca: tls?.ca,
    stop: () => {
      for (const p of procs) p.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function main(args: string[]): Promise<void> {
  const arg = (n: string, d: string) => {
    const i = args.indexOf(`--${n}`);
    return i >= 0 ? args[i + 1]! : d;
  };
  const seconds = Number(arg("seconds", "5"));
  const levels = arg("levels", "1,16,64,256").split(",").map(Number);
  const value = "v".repeat(256);
  const etcdBin = ensureEtcd();

  console.log("starting 3 skiff servers…");
  const cluster = new Cluster(3, { label: "bench", env: { SKIFF_RAFT_BENCH: "1" } });
  await cluster.start();
  console.log("starting 3 etcd members…");
  // --etcd-plain compares against etcd without TLS (etcd's own benchmark setup).
  const etcdSecure = !args.includes("--etcd-plain");
  const etcd = await startEtcd(etcdBin, etcdSecure);
  const servers = cluster.servers;
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  const etcdPut = (w: number, i: number) =>
    fetch(`${etcd.urls[w % 3]}/v3/kv/put`, { method: "POST", body: JSON.stringify({ key: b64(`k-${w}-${i}`), value: b64(value) }), ...(etcd.ca ? { tls: { ca: etcd.ca } } : {}) } as RequestInit).then(async (r) => (await r.arrayBuffer(), r.ok));
  const rows: string[][] = [];
  try {
    let run = 0;
    for (const level of ["kv", "cm"] as const) {
      for (const conc of levels) {
        run++;
        const skiffOp =
          level === "kv"
            ? (w: number, i: number) =>
                servers[w % 3]!.fetch("/v1-skiff/raft/kv", { method: "POST", body: JSON.stringify({ key: `r${run}-${w}-${i}`, value }) }).then(async (r) => (await r.arrayBuffer(), r.ok))
            : (w: number, i: number) =>
                servers[w % 3]!
                  .fetch("/api/v1/namespaces/default/configmaps", {
                    method: "POST",
                    body: JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: `b${run}-${w}-${i}` }, data: { v: value } }),
                  })
                  .then(async (r) => (await r.arrayBuffer(), r.status === 201));
        const s = await drive(conc, seconds, skiffOp);
        const e = await drive(conc, seconds, etcdPut);
        const row = [level, String(conc), s.opsPerSec.toFixed(0), s.p50.toFixed(1), s.p99.toFixed(1), String(s.errors), e.opsPerSec.toFixed(0), e.p50.toFixed(1), e.p99.toFixed(1), (s.opsPerSec / e.opsPerSec).toFixed(2)];
        rows.push(row);
        console.log(row.join("\t"));
      }
    }
  } finally {
    await cluster.stop();
    cluster.cleanup();
    etcd.stop();
  }
  const head = ["level", "clients", "skiff ops/s", "p50 ms", "p99 ms", "errors", "etcd ops/s", "p50 ms", "p99 ms", "skiff/etcd"];
  const all = [head, ...rows];
  const w = head.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  console.log(`\nRaft benchmark: 3 members each, ${seconds} s per cell, 256-byte values, requests round-robin over the members`);
  console.log("kv = Skiff raw KV put through Raft (POST /v1-skiff/raft/kv) vs etcd v3 Put; cm = Skiff ConfigMap create through the API vs etcd v3 Put");
  console.log(
    etcdSecure
      ? "both: TLS for clients (Skiff HTTPS API, etcd JSON gateway over HTTPS), mutual TLS between peers\n"
      : "Skiff: HTTPS API, mTLS between peers; etcd: plain HTTP (JSON gateway), plain peers (--etcd-plain)\n",
  );
  for (const r of all) console.log(r.map((c, i) => c.padStart(w[i]!)).join("  "));
}
