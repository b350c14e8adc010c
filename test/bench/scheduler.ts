// `bun run bench scheduler [nodes] [pods]`: scheduler throughput with hollow nodes.
//  1. in-process: a Store, the controllers and the scheduler in this process; nodes and pods
//     are created first, then the scheduler starts: pods/s scheduled (filter+score+bind) alone.
//  2. end-to-end: a real server process, N hollow nodes over HTTP, pods created over HTTP at
//     64 in flight; pods/s bound, and the time until every pod is Running (hollow).
// Pods mix: plain requests, required/preferred node affinity, hostname anti-affinity groups
// and zone topology spread.
import { Cluster } from "../e2e/raft-harness";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkObject } from "../../schemas/derive/check";
import { findByKind } from "../../schemas/registry";
import { writeCtx, APISERVER_USER } from "../../server/registry/ctx";
import { newRegistry } from "../../server/registry/index";
import { bootstrap } from "../../server/bootstrap";
import { startControllers } from "../../server/controllers/index";
import { Store } from "../../server/store/store";
import { HollowNodes } from "../../agent/hollow/hollow";
import { KubeClient } from "../../lib/client";
import { loadKubeconfig } from "../../lib/kubeconfig";
import { startServer, BUN, REPO } from "../harness/server";
import { readFileSync } from "node:fs";

const ZONES = 10;

function nodeLabels(i: number) {
  return { "topology.kubernetes.io/zone": `zone-${i % ZONES}`, "bench/tier": i % 4 === 0 ? "fast" : "standard" };
}

export function benchPod(i: number): any {
  const kind = i % 5;
  const cpu = `${100 + (i % 5) * 100}m`;
  const mem = `${128 * (1 + (i % 4))}Mi`;
  const labels: Record<string, string> = { bench: "yes", kind: String(kind) };
  const spec: any = { containers: [{ name: "c", image: "pause", resources: { requests: { cpu, memory: mem } } }] };
  if (kind === 1) {
    spec.affinity = {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: "topology.kubernetes.io/zone", operator: "In", values: ["zone-1", "zone-2", "zone-3", "zone-4", "zone-5", "zone-6"] }] }] },
        preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 10, preference: { matchExpressions: [{ key: "bench/tier", operator: "In", values: ["fast"] }] } }],
      },
    };
  } else if (kind === 2) {
    labels.group = `g${i % 20}`;
    spec.affinity = { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { group: labels.group } }, topologyKey: "kubernetes.io/hostname" }] } };
  } else if (kind === 3) {
    labels.spread = `s${i % 10}`;
    spec.topologySpreadConstraints = [{ maxSkew: 1, topologyKey: "topology.kubernetes.io/zone", whenUnsatisfiable: "DoNotSchedule", labelSelector: { matchLabels: { spread: labels.spread } } }];
  }
  return { apiVersion: "v1", kind: "Pod", metadata: { name: `bench-${i}`, namespace: "default", labels }, spec };
}

async function inProcess(nodes: number, pods: number): Promise<{ podsPerSec: number; ms: number; unscheduled: number }> {
  const dir = mkdtempSync(join(tmpdir(), "skiff-bench-sched-"));
  const store = new Store({ dataDir: dir, windowSize: 200_000, synchronous: "NORMAL" });
  try {
    const registry = newRegistry(store);
    await bootstrap(registry);
    const ctx = writeCtx(APISERVER_USER, "bench");
    const nodeR = findByKind("v1", "Node")!;
    const podR = findByKind("v1", "Pod")!;
    const cap = { cpu: "4", memory: "16Gi", pods: "110" };
    const batch = async (n: number, f: (i: number) => Promise<unknown>) => {
      for (let i = 0; i < n; i += 500) await Promise.all(Array.from({ length: Math.min(500, n - i) }, (_, j) => f(i + j)));
    };
    await batch(nodes, (i) =>
      registry.create(ctx, nodeR, undefined, {
        apiVersion: "v1", kind: "Node",
        metadata: { name: `n${i}`, labels: { "kubernetes.io/hostname": `n${i}`, ...nodeLabels(i) } },
        status: { capacity: cap, allocatable: cap, conditions: [{ type: "Ready", status: "True" }] },
      }),
    );
    await batch(pods, (i) => registry.create(ctx, podR, "default", checkObject(podR.type, benchPod(i), { strict: false }).value));
    const t0 = performance.now();
    const c = startControllers(registry, { only: ["scheduler"], scheduler: { scheduledEvents: false } });
    const s = c.scheduler!;
    while (s.stats.scheduled + s.stats.unschedulable < pods && performance.now() - t0 < 120_000) await Bun.sleep(20);
    const ms = performance.now() - t0;
    await c.stop();
    return { podsPerSec: (s.stats.scheduled / ms) * 1000, ms, unscheduled: s.stats.unschedulable };
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A control plane for the end-to-end run: one server, or a 3-server Raft cluster. */
async function controlPlane(servers: 1 | 3): Promise<{ kubeconfig: string; stop: () => Promise<void> }> {
  const env = { SKIFF_WATCH_WINDOW: "200000" };
  if (servers === 1) {
    const srv = await startServer({ name: "bench-sched", env });
    return { kubeconfig: srv.kubeconfig, stop: () => srv.stop() };
  }
  const cluster = new Cluster(3, { env, label: "bench-sched" });
  await cluster.start();
  // Clients talk to the leader; followers would forward writes to it anyway.
  const leader = await cluster.leader();
  return {
    kubeconfig: join(leader.dataDir, "kubeconfig.yaml"),
    stop: async () => {
      await cluster.stop();
      cluster.cleanup();
    },
  };
}

async function endToEnd(nodes: number, pods: number, servers: 1 | 3): Promise<Record<string, string | number>> {
  const srv = await controlPlane(servers);
  const client = new KubeClient(loadKubeconfig({ path: srv.kubeconfig, env: {} }));
  const hollow = new HollowNodes(client, { count: nodes, labels: nodeLabels, concurrency: 32, leaseIntervalMs: 10_000 });
  try {
    const tReg = performance.now();
    await hollow.start();
    const regMs = performance.now() - tReg;
    let bound = 0, running = 0, firstBind = 0, lastBind = 0, allRunning = 0;
    const seenBound = new Set<string>(), seenRunning = new Set<string>();
    const abort = new AbortController();
    const onPod = (p: any) => {
      const n = p?.metadata?.name;
      if (!n?.startsWith("bench-")) return;
      if (p.spec?.nodeName && !seenBound.has(n)) {
        seenBound.add(n);
        bound++;
        const t = performance.now();
        if (!firstBind) firstBind = t;
        lastBind = t;
      }
      if (p.status?.phase === "Running" && !seenRunning.has(n)) {
        seenRunning.add(n);
        running++;
        if (running === pods) allRunning = performance.now();
      }
    };
    // A slow reader may be cut off by the server: relist and continue.
    const watching = (async () => {
      while (!abort.signal.aborted) {
        try {
          const list = await client.list("/api/v1/namespaces/default/pods");
          for (const p of list.items) onPod(p);
          await client.watch("/api/v1/namespaces/default/pods", { resourceVersion: list.metadata.resourceVersion }, (ev) => onPod(ev.object), abort.signal);
        } catch {
          await Bun.sleep(100);
        }
      }
    })();
    const t0 = performance.now();
    let next = 0;
    await Promise.all(Array.from({ length: 64 }, async () => {
      while (next < pods) {
        const i = next++;
        await client.create("/api/v1/namespaces/default/pods", benchPod(i));
      }
    }));
    const created = performance.now();
    while (running < pods && performance.now() - t0 < 300_000) await Bun.sleep(50);
    abort.abort();
    await watching;
    return {
      "node registration s": (regMs / 1000).toFixed(1),
      "pods created/s": Math.round((pods / (created - t0)) * 1000),
      "pods bound/s (first→last bind)": Math.round((bound / Math.max(1, lastBind - firstBind)) * 1000),
      "bound": bound,
      "all Running after s": allRunning ? ((allRunning - t0) / 1000).toFixed(1) : `not all (${running})`,
    };
  } finally {
    await hollow.stop();
    await srv.stop();
  }
}

export async function main(args: string[]): Promise<void> {
  const nodes = Number(args[0] ?? 1000);
  const pods = Number(args[1] ?? 10_000);
  console.log(`scheduler benchmark: ${nodes} nodes, ${pods} pods (mix: requests, node affinity, anti-affinity, zone spread)`);
  const a = await inProcess(nodes, pods);
  console.log("\n| mode | pods/s scheduled | time | unschedulable attempts |");
  console.log("|---|---|---|---|");
  console.log(`| in-process (scheduler + binds) | ${Math.round(a.podsPerSec)} | ${(a.ms / 1000).toFixed(2)} s | ${a.unscheduled} |`);
  if (args.includes("--in-process-only")) return;
  const results: [string, Record<string, string | number>][] = [];
  for (const servers of [1, 3] as const) {
    if (servers === 3 && args.includes("--one-server")) continue;
    results.push([`${servers} server${servers > 1 ? "s (Raft)" : ""}`, await endToEnd(nodes, pods, servers)]);
  }
  console.log(`\n| end-to-end (hollow nodes over HTTPS) | ${results.map(([n]) => n).join(" | ")} |`);
  console.log(`|---|${results.map(() => "---").join("|")}|`);
  for (const k of Object.keys(results[0]![1])) console.log(`| ${k} | ${results.map(([, r]) => r[k]).join(" | ")} |`);
}
