// `bun run bench raft [--seconds N] [--slices K] [--levels 1,16,64,256] [--kinds kv,cm] [--etcd-plain] [--no-device] [--loop-size MB]`: 3 Skiff servers and a 3-member
// etcd cluster (Debian's etcd-server, installed if missing) on loopback, driven by the same
// client code (fetch from this process, requests spread round-robin over the 3 members,
// 256-byte values, same duration per level). Prints throughput and p50/p99 for each and the
// Skiff/etcd ratio:
//   kv: Skiff's raw key-value put through Raft to the applied state (POST /v1-skiff/raft/kv,
//       SKIFF_RAFT_BENCH=1) vs etcd's v3 Put (JSON gateway, POST /v3/kv/put)
//   cm: ConfigMap creates through the Skiff API vs the same etcd Put
// `--failover N` instead measures leader failover (see failover() below).
// Like for like: both serve clients over TLS and use mutual TLS between peers (etcd gets
// certificates from a throwaway CA); `--etcd-plain` runs etcd without TLS instead.
// Disk writes, two ways: /proc/<pid>/io write_bytes (pages the process dirtied: no file-system
// journal or metadata, zeros written ahead counted, fallocate'd space not), and, run as root,
// the block device's own count: each Skiff server's and each etcd member's data dir is its own
// fresh ext4 on a loop device (loopfs.ts), so /sys/block/loopN/stat counts that member's data,
// journal and metadata alone. `--no-device` keeps the data dirs in /tmp; `--loop-size MB` (1024).
import { ensurePki, issue } from "../../server/tls/pki";
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Cluster, freePort } from "../e2e/raft-harness";
import { journalCommits, mountLoopFs, onAbort, type LoopFs } from "./loopfs";

interface Result {
  ops: number;
  errors: number;
  p50: number;
  p99: number;
  opsPerSec: number;
  /** CPU (user + system, all threads) of the 3 server processes per successful op. */
  cpuMsPerOp: number;
  /** Bytes the 3 server processes wrote to storage per successful op (/proc/<pid>/io). */
  diskKbPerOp: number;
  /** Bytes written to the 3 members' block devices per successful op (NaN without loop devices). */
  devKbPerOp: number;
  /** ext4 journal commits on the 3 members' devices per successful op. */
  commitsPerOp: number;
}

/** utime + stime of a process in ms (Linux /proc), 0 if unknown. */
function cpuMs(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
  } catch {
    return 0;
  }
}

/** Bytes a process has caused to be written to storage (Linux /proc/<pid>/io), 0 if unknown. */
function writtenBytes(pid: number): number {
  try {
    return Number(/write_bytes: (\d+)/.exec(readFileSync(`/proc/${pid}/io`, "utf8"))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** A run of `drive`: raw latencies so several slices can be merged. */
interface Slice {
  lat: number[];
  errors: number;
  seconds: number;
  cpuMs: number;
  diskBytes: number;
  devBytes: number;
  commits: number;
}

/** Numbers every op of the run (keys stay unique across slices). */
let opSeq = 0;

async function driveSlice(conc: number, seconds: number, pids: number[], op: (worker: number, i: number) => Promise<boolean>, fss: LoopFs[] = []): Promise<Slice> {
  const lat: number[] = [];
  let errors = 0;
  // Write back what the members left dirty before this slice (the other side's slice, the
  // previous cell) so it is not counted here; the sync after the slice counts this slice's
  // dirty pages, which the kernel would write back later anyway.
  for (const f of fss) f.sync();
  const dev0 = fss.reduce((a, f) => a + f.bytesWritten(), 0);
  const jc0 = fss.reduce((a, f) => a + journalCommits(f.name), 0);
  const end = performance.now() + seconds * 1000;
  const cpu0 = pids.reduce((a, p) => a + cpuMs(p), 0);
  const disk0 = pids.reduce((a, p) => a + writtenBytes(p), 0);
  const start = performance.now();
  await Promise.all(
    Array.from({ length: conc }, async (_, w) => {
      while (performance.now() < end) {
        const t = performance.now();
        const ok = await op(w, opSeq++).catch(() => false);
        if (ok) lat.push(performance.now() - t);
        else errors++;
      }
    }),
  );
  const secs = (performance.now() - start) / 1000;
  const cpu = pids.reduce((a, p) => a + cpuMs(p), 0) - cpu0;
  const disk = pids.reduce((a, p) => a + writtenBytes(p), 0) - disk0;
  for (const f of fss) f.sync();
  const devBytes = fss.length ? fss.reduce((a, f) => a + f.bytesWritten(), 0) - dev0 : NaN;
  const commits = fss.length ? fss.reduce((a, f) => a + journalCommits(f.name), 0) - jc0 : NaN;
  return { lat, errors, seconds: secs, cpuMs: cpu, diskBytes: disk, devBytes, commits };
}

function merge(slices: Slice[]): Result {
  const lat = slices.flatMap((s) => s.lat).sort((a, b) => a - b);
  const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] ?? NaN;
  const secs = slices.reduce((a, s) => a + s.seconds, 0);
  const cpu = slices.reduce((a, s) => a + s.cpuMs, 0);
  const disk = slices.reduce((a, s) => a + s.diskBytes, 0);
  const dev = slices.reduce((a, s) => a + s.devBytes, 0);
  const commits = slices.reduce((a, s) => a + s.commits, 0);
  const perOp = (x: number) => (lat.length ? x / lat.length : NaN);
  return {
    ops: lat.length,
    errors: slices.reduce((a, s) => a + s.errors, 0),
    p50: q(0.5),
    p99: q(0.99),
    opsPerSec: lat.length / secs,
    cpuMsPerOp: perOp(cpu),
    diskKbPerOp: perOp(disk / 1024),
    devKbPerOp: perOp(dev / 1024),
    commitsPerOp: perOp(commits),
  };
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

/** dataDirs: the members' data dirs (e.g. loop mounts, which the caller owns); default: under a temp dir. */
export async function startEtcd(bin: string, secure: boolean, dataDirs?: string[]): Promise<{ urls: string[]; ca?: string; pids: number[]; stop: () => Promise<void>; removeDir: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), "skiff-bench-etcd-"));
  const ms = [];
  for (let i = 0; i < 3; i++) ms.push({ name: `e${i}`, client: await freePort(), peer: await freePort() });
  const scheme = secure ? "https" : "http";
  const tls = secure ? await etcdTls(dir) : undefined;
  const tlsArgs = tls
    ? ["--cert-file", tls.files[1]!, "--key-file", tls.files[2]!, "--peer-cert-file", tls.files[3]!, "--peer-key-file", tls.files[4]!, "--peer-trusted-ca-file", tls.files[0]!, "--peer-client-cert-auth"]
    : [];
  const initial = ms.map((m) => `${m.name}=${scheme}://127.0.0.1:${m.peer}`).join(",");
  const procs = ms.map((m, i) =>
    spawn(
      bin,
      [
        "--name", m.name,
        "--data-dir", dataDirs?.[i] ?? join(dir, m.name),
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
    if (Date.now() > deadline || procs.some((p) => p.exitCode !== null)) {
      for (const p of procs) p.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
      throw new Error("etcd did not start");
    }
    await Bun.sleep(200);
  }
  return {
    urls,
    ca: tls?.ca,
    pids: procs.map((p) => p.pid!),
    stop: async () => {
      // Waits for the exits, so the caller can unmount the data dirs next.
      await Promise.all(procs.map((p) => (p.exitCode !== null || p.signalCode !== null ? undefined : new Promise((r) => (p.once("exit", r), p.kill("SIGKILL"))))));
      rmSync(dir, { recursive: true, force: true });
    },
    removeDir: () => rmSync(dir, { recursive: true, force: true }),
  };
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(s.length * p) - 1)] ?? NaN;
};

function table(head: string[], rows: string[][]): void {
  const all = [head, ...rows];
  const w = head.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  for (const r of all) console.log(r.map((c, i) => c.padStart(w[i]!)).join("  "));
}

/** `raft-trace <epoch ms> <event>` lines the servers print with SKIFF_RAFT_TRACE=1. */
function traces(logFile: string, after: number): { at: number; ev: string }[] {
  const out: { at: number; ev: string }[] = [];
  for (const line of readFileSync(logFile, "utf8").split("\n")) {
    const m = /^raft-trace (\d+) (.*)$/.exec(line);
    if (m && Number(m[1]) >= after) out.push({ at: Number(m[1]), ev: m[2]! });
  }
  return out;
}

/**
 * `bun run bench raft --failover N`: kill -9 the leader of 3 real servers N times (restarting
 * it in between) while a client POSTs a ConfigMap through a survivor every 10 ms (3 s request
 * timeout, like the e2e test). Per run: a survivor sees the leader's connection drop, the
 * first pre-vote, the new leader, and the first successful write, all from the kill.
 */
async function failover(runs: number): Promise<void> {
  console.log(`starting 3 skiff servers… (${runs} failovers)`);
  const cluster = new Cluster(3, { label: "failover", env: { SKIFF_RAFT_TRACE: "1" } });
  await cluster.start();
  const rows: string[][] = [];
  const total: number[] = [];
  const toLeader: number[] = [];
  try {
    await cluster.servers[0]!.fetch("/api/v1/namespaces", { method: "POST", body: JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: "failover" } }) });
    for (let run = 1; run <= runs; run++) {
      // A settled cluster: every server a reachable voter that has caught up.
      const settle = Date.now() + 60_000;
      for (;;) {
        const m = await cluster.members();
        if (m && m.length === 3 && m.every((x) => x.role === "voter" && x.reachable && (x.lag ?? 99) < 5) && m.some((x) => x.leader)) break;
        if (Date.now() > settle) throw new Error(`cluster did not settle: ${JSON.stringify(m)}`);
        await Bun.sleep(200);
      }
      await Bun.sleep(1500);
      const leader = await cluster.leader();
      const others = cluster.servers.filter((s) => s !== leader);
      const survivor = others[run % 2]!;
      const killEpoch = Date.now();
      const killAt = performance.now();
      await leader.kill("SIGKILL");
      let ms = -1;
      let attempts = 0;
      let longest = 0;
      const statuses = new Map<string, number>();
      for (let i = 0; ; i++) {
        const t = performance.now();
        let st = "err";
        try {
          const r = await survivor.fetch(`/api/v1/namespaces/failover/configmaps`, {
            method: "POST",
            body: JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: `p${run}-${i}` } }),
            timeoutMs: 3000,
          });
          await r.text();
          st = String(r.status);
        } catch {}
        attempts++;
        longest = Math.max(longest, performance.now() - t);
        statuses.set(st, (statuses.get(st) ?? 0) + 1);
        if (st === "201") {
          ms = performance.now() - killAt;
          break;
        }
        if (performance.now() - killAt > 30_000) break;
        await Bun.sleep(10);
      }
      const ev = others.flatMap((s) => traces(s.logFile, killEpoch).map((t) => ({ ...t, who: s.name })));
      const first = (re: RegExp) => {
        const t = ev.filter((e) => re.test(e.ev)).sort((a, b) => a.at - b.at)[0];
        return t ? t.at - killEpoch : NaN;
      };
      const down = first(/^peer-down .*\(leader\)/);
      const pre = first(/^role preCandidate/);
      const lead = first(/^role leader/);
      total.push(ms < 0 ? Infinity : ms);
      toLeader.push(lead);
      const codes = [...statuses].map(([k, v]) => `${k}×${v}`).join(" ");
      const row = [String(run), leader.name, survivor.name, down.toFixed(0), pre.toFixed(0), lead.toFixed(0), ms.toFixed(0), String(attempts), longest.toFixed(0), codes];
      rows.push(row);
      console.log(row.join("\t"));
      await leader.start();
    }
  } finally {
    await cluster.stop();
    cluster.cleanup();
  }
  console.log(`\nFailover: kill -9 of the leader of 3 servers, ${runs} runs; ms from the kill (traced by the survivors)`);
  console.log("conn lost = a survivor's stream to the leader broke; pre-vote = first survivor pre-candidate; leader = new leader elected; write = first 201 through the survivor");
  table(["run", "killed", "via", "conn lost", "pre-vote", "leader", "write", "tries", "longest try", "answers"], rows);
  const fin = total.filter(Number.isFinite);
  console.log(`\nfailover (first write) ms: p50 ${pct(fin, 0.5).toFixed(0)}  p90 ${pct(fin, 0.9).toFixed(0)}  max ${Math.max(...total).toFixed(0)}`);
  console.log(`new leader ms:             p50 ${pct(toLeader, 0.5).toFixed(0)}  p90 ${pct(toLeader, 0.9).toFixed(0)}  max ${Math.max(...toLeader).toFixed(0)}`);
}

export async function main(args: string[]): Promise<void> {
  const arg = (n: string, d: string) => {
    const i = args.indexOf(`--${n}`);
    return i >= 0 ? args[i + 1]! : d;
  };
  if (args.includes("--failover")) return failover(Math.max(1, Number(arg("failover", "10")) || 10));
  const seconds = Number(arg("seconds", "5"));
  const slices = Math.max(1, Number(arg("slices", "5")) || 5);
  const levels = arg("levels", "1,16,64,256").split(",").map(Number);
  const value = "v".repeat(256);
  const etcdBin = ensureEtcd();

  // Device counts need root (loop devices); --no-device keeps the data dirs on /tmp's disk.
  const device = !args.includes("--no-device") && process.getuid?.() === 0;
  const loopMb = Number(arg("loop-size", "1024")) || 1024;
  // --etcd-plain compares against etcd without TLS (etcd's own benchmark setup).
  const etcdSecure = !args.includes("--etcd-plain");
  const cluster = new Cluster(3, { label: "bench", env: { SKIFF_RAFT_BENCH: "1" } });
  const etcdMnt = mkdtempSync(join(tmpdir(), "skiff-bench-etcd-data-"));
  const skiffFs: LoopFs[] = [];
  const etcdFs: LoopFs[] = [];
  let etcd: Awaited<ReturnType<typeof startEtcd>> | undefined;
  // Ctrl-C: kill the members first, or their open files keep the mounts busy.
  const offAbort = onAbort(
    () => {
      for (const s of cluster.servers) s.proc?.kill("SIGKILL");
      for (const pid of etcd?.pids ?? []) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {}
      }
    },
    () => {
      cluster.cleanup();
      etcd?.removeDir();
      rmSync(etcdMnt, { recursive: true, force: true });
    },
  );
  const rows: string[][] = [];
  try {
    if (device) {
      console.log(`making 6 loop-mounted ext4 file systems (${loopMb} MB each) for the members' data dirs…`);
      // Cluster puts server i's data dir at <cluster.dir>/s<i>: mount there before it starts.
      for (let i = 1; i <= 3; i++) skiffFs.push(mountLoopFs(join(cluster.dir, `s${i}`), loopMb));
      for (let i = 0; i < 3; i++) {
        const f = mountLoopFs(join(etcdMnt, `e${i}`), loopMb);
        chmodSync(f.dir, 0o700); // etcd wants its data dir private
        etcdFs.push(f);
      }
    }
    console.log("starting 3 skiff servers…");
    await cluster.start();
    console.log("starting 3 etcd members…");
    etcd = await startEtcd(etcdBin, etcdSecure, device ? etcdFs.map((f) => f.dir) : undefined);
    const etcdUrls = etcd.urls;
    const etcdCa = etcd.ca;
    const servers = cluster.servers;
    const skiffPids = servers.map((x) => x.proc!.pid);
    const b64 = (s: string) => Buffer.from(s).toString("base64");
    const etcdPut = (w: number, i: number) =>
      fetch(`${etcdUrls[w % 3]}/v3/kv/put`, { method: "POST", body: JSON.stringify({ key: b64(`k-${w}-${i}`), value: b64(value) }), ...(etcdCa ? { tls: { ca: etcdCa } } : {}) } as RequestInit).then(async (r) => (await r.arrayBuffer(), r.ok));
    let run = 0;
    const kinds = arg("kinds", "kv,cm").split(",") as ("kv" | "cm")[];
    for (const level of kinds) {
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
        // Alternate short slices of Skiff and etcd, so both see the same background load (the
        // machine is shared and 2-core: sequential 5 s runs measured the neighbours as much).
        const ss: Slice[] = [];
        const es: Slice[] = [];
        for (let k = 0; k < slices; k++) {
          ss.push(await driveSlice(conc, seconds / slices, skiffPids, skiffOp, skiffFs));
          es.push(await driveSlice(conc, seconds / slices, etcd.pids, etcdPut, etcdFs));
        }
        const s = merge(ss);
        const e = merge(es);
        const ratio = (a: number, b: number) => (b > 0 ? (a / b).toFixed(2) : "-");
        const row = [level, String(conc), s.opsPerSec.toFixed(0), s.p50.toFixed(1), s.p99.toFixed(1), String(s.errors), s.cpuMsPerOp.toFixed(2), s.diskKbPerOp.toFixed(1), e.opsPerSec.toFixed(0), e.p50.toFixed(1), e.p99.toFixed(1), e.cpuMsPerOp.toFixed(2), e.diskKbPerOp.toFixed(1), (s.opsPerSec / e.opsPerSec).toFixed(2), ratio(s.diskKbPerOp, e.diskKbPerOp)];
        if (device) row.push(s.devKbPerOp.toFixed(1), s.commitsPerOp.toFixed(3), e.devKbPerOp.toFixed(1), e.commitsPerOp.toFixed(3), ratio(s.devKbPerOp, e.devKbPerOp));
        rows.push(row);
        console.log(row.join("\t"));
      }
    }
  } finally {
    // Processes first (their open files keep a mount busy), then the mounts, then the dirs.
    await cluster.stop();
    await etcd?.stop();
    for (const f of [...skiffFs, ...etcdFs]) f.close();
    offAbort();
    cluster.cleanup();
    rmSync(etcdMnt, { recursive: true, force: true });
  }
  const head = ["level", "clients", "skiff ops/s", "p50 ms", "p99 ms", "errors", "cpu ms/op", "disk KB/op", "etcd ops/s", "p50 ms", "p99 ms", "cpu ms/op", "disk KB/op", "skiff/etcd", "disk skiff/etcd"];
  if (device) head.push("skiff dev KB/op", "commits/op", "etcd dev KB/op", "commits/op", "dev skiff/etcd");
  const all = [head, ...rows];
  const w = head.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  console.log(`\nRaft benchmark: 3 members each, ${seconds} s per cell (${slices} alternating slices of Skiff and etcd), 256-byte values, requests round-robin over the members`);
  console.log("cpu ms/op, disk KB/op = CPU time (user + system) and bytes written to storage by the 3 server processes (/proc/<pid>/io write_bytes), per successful write (target: Skiff <= 2x etcd at 64 clients)");
  if (device)
    console.log(
      `dev KB/op = bytes written to the 3 members' own block devices (fresh ext4 on loop devices, ${loopMb} MB each; /sys/block/loopN/stat, data + journal + metadata, each slice bracketed by syncfs) per successful write; commits/op = ext4 journal commits (jbd2) per write`,
    );
  else console.log("(no device figures: run as root for them, without --no-device)");
  console.log("kv = Skiff raw KV put through Raft (POST /v1-skiff/raft/kv) vs etcd v3 Put; cm = Skiff ConfigMap create through the API vs etcd v3 Put");
  console.log(
    etcdSecure
      ? "both: TLS for clients (Skiff HTTPS API, etcd JSON gateway over HTTPS), mutual TLS between peers\n"
      : "Skiff: HTTPS API, mTLS between peers; etcd: plain HTTP (JSON gateway), plain peers (--etcd-plain)\n",
  );
  for (const r of all) console.log(r.map((c, i) => c.padStart(w[i]!)).join("  "));
}
