// `bun run bench idle`: disk writes of an idle node (issue 15: `skiff server` with its agent and
// 10 running pods <= 1 kB/s averaged over 5 minutes). Starts dist/skiff server (embedded agent, its
// own containerd), runs a Deployment of 10 busybox pods, lets it settle, then measures for the
// window: write_bytes of /proc/<pid>/io (bytes this process caused to reach the block device) for
// the skiff process, containerd and the shims, and which API objects were written (a watch on
// each resource, and the store revision before and after).
//
//   bun run bench idle [--bin dist/skiff] [--pods 10] [--settle 60] [--minutes 5] [--trace] [--base DIR]
//
// --base DIR: where the data dir goes (default /var/tmp). On a file system of its own (a
// loop-mounted ext4 image), the device's count of bytes written is this node's alone, and it
// includes what /proc/<pid>/io never sees: the file system journal's commits (jbd2 writes them).
//
// --trace: also strace the skiff process during the window and print, per file, the write
// calls, bytes and fsyncs (where the bytes come from).
//
// Needs root and containerd (scripts/setup-node.sh); run it under the e2e lock:
//   flock /tmp/skiff-e2e.lock bun run bench idle
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { credFetch, freePort, loadCredentials, REPO, type Credentials } from "../harness/server.ts";
import { BUSYBOX_IMAGE, busyboxImage } from "../images/builder.ts";

const TARGET_BPS = 1000;
const NODE = "idle-bench";
const BRIDGE = "skiffib0";
const CGROUP_ROOT = "/skiff-idle-bench";

/** /sys/dev/block/M:m/stat of the block device holding `dir`, if it has one. */
function deviceStat(dir: string): string | undefined {
  const d = statSync(dir).dev;
  const f = `/sys/dev/block/${(d >> 8) & 0xfff}:${(d & 0xff) | ((d >> 12) & 0xfff00)}/stat`;
  return existsSync(f) ? f : undefined;
}
/** Bytes written to the device so far (sectors written x 512). */
const deviceWritten = (stat: string) => Number(readFileSync(stat, "utf8").trim().split(/\s+/)[6]) * 512;

function arg(args: string[], name: string, def: string): string {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1]! : def;
}

function io(pid: number): number {
  try {
    return Number(/^write_bytes: (\d+)/m.exec(readFileSync(`/proc/${pid}/io`, "utf8"))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  } catch {
    return [];
  }
}

/** containerd and the shims of this data dir (their command lines name its paths). */
function runtimePids(dataDir: string): { containerd: number[]; shims: number[] } {
  const out = { containerd: [] as number[], shims: [] as number[] };
  for (const d of readdirSync("/proc")) {
    const pid = Number(d);
    if (!pid) continue;
    const a = cmdline(pid);
    if (!a.some((x) => x.startsWith(dataDir))) continue;
    if (a[0]?.includes("containerd-shim")) out.shims.push(pid);
    else if (a[0]?.endsWith("containerd")) out.containerd.push(pid);
  }
  return out;
}

async function api(creds: Credentials, path: string, init: RequestInit = {}): Promise<any> {
  const r = await credFetch(creds, path, { ...init, headers: { "content-type": "application/json", accept: "application/json", ...(init.headers ?? {}) } });
  const t = await r.text();
  if (r.status >= 300) throw new Error(`${init.method ?? "GET"} ${path}: ${r.status} ${t.slice(0, 300)}`);
  return t ? JSON.parse(t) : undefined;
}

const RESOURCES = [
  "/api/v1/nodes",
  "/api/v1/pods",
  "/api/v1/events",
  "/api/v1/endpoints",
  "/api/v1/services",
  "/api/v1/configmaps",
  "/api/v1/serviceaccounts",
  "/apis/coordination.k8s.io/v1/leases",
  "/apis/discovery.k8s.io/v1/endpointslices",
  "/apis/apps/v1/deployments",
  "/apis/apps/v1/replicasets",
];

/** Counts every change to the resources above from now on: "kind ns/name" -> count. */
function watchWrites(creds: Credentials, rv: string): { counts: Map<string, number>; stop(): void } {
  const counts = new Map<string, number>();
  const ac = new AbortController();
  for (const path of RESOURCES) {
    void (async () => {
      try {
        const r = await credFetch(creds, `${path}?watch=1&resourceVersion=${rv}&allowWatchBookmarks=false`, { signal: ac.signal });
        let buf = "";
        for await (const chunk of r.body as ReadableStream<Uint8Array>) {
          buf += new TextDecoder().decode(chunk);
          let i;
          while ((i = buf.indexOf("\n")) >= 0) {
            const line = buf.slice(0, i);
            buf = buf.slice(i + 1);
            if (!line.trim()) continue;
            const ev = JSON.parse(line);
            if (ev.type === "BOOKMARK" || ev.type === "ERROR") continue;
            const o = ev.object;
            const key = `${o.kind} ${o.metadata?.namespace ? o.metadata.namespace + "/" : ""}${o.kind === "Event" ? "(events)" : o.metadata?.name}`;
            counts.set(key, (counts.get(key) ?? 0) + 1);
          }
        }
      } catch {
        /* stopped */
      }
    })();
  }
  return { counts, stop: () => ac.abort() };
}

function table(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join("  ");
  return [line(head), line(w.map((n) => "-".repeat(n))), ...rows.map(line)].join("\n");
}

export async function main(args: string[]): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("bench idle needs root (the agent runs containers)");
  const bin = resolve(REPO, arg(args, "--bin", "dist/skiff"));
  if (!existsSync(bin)) throw new Error(`${bin} missing: bun run build`);
  const pods = Number(arg(args, "--pods", "10"));
  const settleS = Number(arg(args, "--settle", "60"));
  const windowS = Number(arg(args, "--minutes", "5")) * 60;
  // On the real disk (not tmpfs), where write_bytes means something.
  const base = arg(args, "--base", existsSync("/var/tmp") ? "/var/tmp" : REPO);
  const dataDir = mkdtempSync(join(base, "skiff-idle-"));
  mkdirSync(join(dataDir, "agent", "images"), { recursive: true });
  copyFileSync(busyboxImage(), join(dataDir, "agent", "images", "busybox.tar"));
  const port = await freePort();
  const log = join(dataDir, "..", `${dataDir.split("/").pop()}.log`);
  const proc = Bun.spawn([bin, "server", "--data-dir", dataDir, "--https-listen-port", String(port), "--raft-listen-port", String(await freePort()), "--node-name", NODE], {
    env: { ...process.env, SKIFF_AGENT_TUNING: JSON.stringify({ bridge: BRIDGE, cgroupRoot: CGROUP_ROOT }) },
    stdout: Bun.file(log),
    stderr: Bun.file(log + ".err"),
  });
  const cleanup = async () => {
    // skiff killall: the server, containerd, shims, pods, mounts, bridge, rules (data dir given).
    Bun.spawnSync([bin, "killall", "--data-dir", dataDir], { stdout: "ignore", stderr: "inherit", env: { ...process.env, SKIFF_AGENT_TUNING: JSON.stringify({ bridge: BRIDGE, cgroupRoot: CGROUP_ROOT }) } });
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(log, { force: true });
    rmSync(log + ".err", { force: true });
  };
  try {
    const kc = join(dataDir, "kubeconfig.yaml");
    let creds: Credentials | undefined;
    for (let i = 0; i < 600 && !creds; i++) {
      await Bun.sleep(100);
      if (proc.exitCode !== null) throw new Error(`skiff server exited: ${readFileSync(log + ".err", "utf8").slice(-2000)}`);
      if (!existsSync(kc) || !statSync(kc).size) continue;
      const c = loadCredentials(kc);
      if ((await credFetch(c, "/readyz").catch(() => null))?.status === 200) creds = c;
    }
    if (!creds) throw new Error("server not ready in 60 s");
    console.error(`server ready; creating a Deployment of ${pods} pods…`);
    await api(creds, "/apis/apps/v1/namespaces/default/deployments", {
      method: "POST",
      body: JSON.stringify({
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "idle" },
        spec: {
          replicas: pods,
          selector: { matchLabels: { app: "idle" } },
          template: {
            metadata: { labels: { app: "idle" } },
            spec: { terminationGracePeriodSeconds: 1, containers: [{ name: "c", image: BUSYBOX_IMAGE, imagePullPolicy: "IfNotPresent", command: ["sh", "-c", "exec sleep 86400"] }] },
          },
        },
      }),
    });
    await api(creds, "/api/v1/namespaces/default/services", {
      method: "POST",
      body: JSON.stringify({ apiVersion: "v1", kind: "Service", metadata: { name: "idle" }, spec: { selector: { app: "idle" }, ports: [{ port: 80 }] } }),
    });
    for (let i = 0; ; i++) {
      const list = await api(creds, "/api/v1/namespaces/default/pods?labelSelector=app%3Didle");
      const running = list.items.filter((p: any) => p.status?.phase === "Running" && p.status?.containerStatuses?.every((c: any) => c.ready)).length;
      if (running === pods) break;
      if (i > 600) throw new Error(`only ${running}/${pods} pods Running after 2 min`);
      await Bun.sleep(200);
    }
    console.error(`${pods} pods Running; settling ${settleS} s, then measuring ${windowS} s…`);
    await Bun.sleep(settleS * 1000);

    const rv0 = (await api(creds, "/api/v1/namespaces?limit=1")).metadata.resourceVersion;
    const writes = watchWrites(creds, rv0);
    const rt = runtimePids(dataDir);
    const groups: Record<string, number[]> = { "skiff server (+ embedded agent)": [proc.pid], containerd: rt.containerd, [`shims (${rt.shims.length})`]: rt.shims };
    const start = Object.fromEntries(Object.entries(groups).map(([k, pids]) => [k, pids.map(io)]));
    const traceFile = join(dataDir, "..", `${dataDir.split("/").pop()}.strace`);
    const tracer = args.includes("--trace")
      ? Bun.spawn(["strace", "-f", "-qq", "-y", "-e", "trace=pwrite64,write,pwritev,writev,fsync,fdatasync", "-e", "signal=none", "-p", String(proc.pid), "-o", traceFile], { stdout: "ignore", stderr: "ignore" })
      : undefined;
    const dev = deviceStat(dataDir);
    const dev0 = dev ? deviceWritten(dev) : 0;
    const t0 = performance.now();
    const samples: string[][] = [];
    const step = Math.max(30, Math.floor(windowS / 10));
    for (let t = step; t <= windowS; t += step) {
      await Bun.sleep(Math.max(0, t0 + t * 1000 - performance.now()));
      const total = Object.entries(groups).reduce((s, [k, pids]) => s + pids.reduce((a, p, i) => a + io(p) - start[k]![i]!, 0), 0);
      samples.push([`${t} s`, (total / 1024).toFixed(1), (total / t).toFixed(0)]);
    }
    const secs = (performance.now() - t0) / 1000;
    const devBytes = dev ? deviceWritten(dev) - dev0 : 0;
    if (tracer) {
      tracer.kill("SIGINT");
      await tracer.exited;
    }
    const rv1 = (await api(creds, "/api/v1/namespaces?limit=1")).metadata.resourceVersion;
    writes.stop();

    const rows: string[][] = [];
    let total = 0;
    for (const [k, pids] of Object.entries(groups)) {
      const b = pids.reduce((a, p, i) => a + io(p) - start[k]![i]!, 0);
      total += b;
      rows.push([k, (b / 1024).toFixed(1), (b / secs).toFixed(0)]);
    }
    rows.push(["total", (total / 1024).toFixed(1), (total / secs).toFixed(0)]);
    console.log(`\nIdle disk writes: skiff server + agent, ${pods} running pods, ${secs.toFixed(0)} s after ${settleS} s settling (write_bytes of /proc/<pid>/io)\n`);
    console.log(table(["process", "kB written", "B/s"], rows));
    console.log(`\ntarget <= ${TARGET_BPS} B/s: ${total / secs <= TARGET_BPS ? "met" : "NOT met"} (${(total / secs).toFixed(0)} B/s)`);
    if (dev) console.log(`block device of the data dir (${dev.split("/")[4]}): ${(devBytes / 1024).toFixed(1)} kB, ${(devBytes / secs).toFixed(0)} B/s, journal included (this node's alone only if nothing else uses that device: --base on a file system of its own)`);
    console.log("");
    console.log(table(["elapsed", "kB (cumulative)", "B/s"], samples));
    const apiWrites = Number(rv1) - Number(rv0);
    const byObject = [...writes.counts.entries()].sort((a, b) => b[1] - a[1]);
    console.log(`\nAPI writes in the window: ${apiWrites} (store revision ${rv0} -> ${rv1}), ${(apiWrites / (secs / 60)).toFixed(1)}/min, ${apiWrites ? (total / apiWrites / 1024).toFixed(1) : "-"} kB on disk per write\n`);
    console.log(table(["object", "writes", "per min"], byObject.map(([k, n]) => [k, String(n), (n / (secs / 60)).toFixed(1)])));
    if (tracer) {
      const files = new Map<string, { calls: number; bytes: number; syncs: number }>();
      for (const line of readFileSync(traceFile, "utf8").split("\n")) {
        const m = /(pwrite64|write|pwritev|writev|fsync|fdatasync)\(\d+<([^>]*)>.*= (\d+)$/.exec(line);
        if (!m) continue;
        const f = m[2]!.replace(dataDir, "<data-dir>").replace(/^(socket|pipe|anon_inode):.*/, "($1)");
        const e = files.get(f) ?? { calls: 0, bytes: 0, syncs: 0 };
        if (m[1] === "fsync" || m[1] === "fdatasync") e.syncs++;
        else {
          e.calls++;
          e.bytes += Number(m[3]);
        }
        files.set(f, e);
      }
      rmSync(traceFile, { force: true });
      const rows = [...files].filter(([f]) => !f.startsWith("(")).sort((a, b) => b[1].bytes - a[1].bytes);
      console.log(`\nWrites by file (strace of the skiff process, ${secs.toFixed(0)} s; bytes as written, before page rounding)\n`);
      console.log(table(["file", "writes", "bytes", "fsyncs"], rows.map(([f, e]) => [f, String(e.calls), String(e.bytes), String(e.syncs)])));
    }
  } finally {
    await cleanup();
  }
}
