// Resource usage for `kubectl top` (the metrics.k8s.io API), read when the server asks over the
// tunnel. Nothing is sampled in the background and nothing is written to disk (SD cards wear):
// the only state is the previous cumulative CPU sample per container and for the node, in memory.
//
// CPU counters are cumulative (ns of CPU time), so a rate needs two samples: a request computes
// it against the sample the previous request left behind; when there is none (the first request,
// a new container) or it is too recent to give a steady rate, the collector waits and samples
// again, at most `minWindowMs`. Containers come from CRI ListContainerStats (containerd 1.6 has
// no ListPodSandboxStats in the CRI subset we speak, and metrics-server sums containers anyway);
// the node from /proc.
//
//   const c = new StatsCollector(criStatsSource(cri));
//   const reply = await c.collect({ kind: "stats", node: true, pods: true });
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { CriClient } from "./cri/client.ts";
import type { StatsReply, StatsRequest, UsagePoint } from "../lib/wsstream/tunnel.ts";

/** A cumulative CPU reading: `cpuNs` ns of CPU time used up to `tMs` (ms since the epoch). */
export interface CpuSample {
  tMs: number;
  cpuNs: number;
}

export interface Rate {
  nanoCores: number;
  windowMs: number;
  /** End of the window (the newer sample). */
  tMs: number;
}

/** Rates from successive cumulative samples, per key. Pure: time comes in with the samples. */
export class RateTracker {
  private readonly base = new Map<string, CpuSample>();
  private readonly last = new Map<string, Rate>();

  constructor(readonly minWindowMs: number) {}

  /**
   * The rate over the window from the stored sample to `s`, or null when there is no usable
   * stored sample yet. A window shorter than minWindowMs is not used: the last rate is answered
   * again (a fresh one, it is younger than minWindowMs) and the stored sample kept.
   */
  observe(key: string, s: CpuSample): Rate | null {
    const b = this.base.get(key);
    // No sample yet, or the counter went backwards (a new cgroup under the same key).
    if (!b || s.cpuNs < b.cpuNs || s.tMs < b.tMs) {
      this.base.set(key, s);
      this.last.delete(key);
      return null;
    }
    const dt = s.tMs - b.tMs;
    if (dt < this.minWindowMs) return this.last.get(key) ?? null;
    const r: Rate = { nanoCores: Math.round(((s.cpuNs - b.cpuNs) / dt) * 1000), windowMs: dt, tMs: s.tMs };
    this.base.set(key, s);
    this.last.set(key, r);
    return r;
  }

  /** How long after `nowMs` a sample would give `key` a rate. */
  waitMs(key: string, nowMs: number): number {
    const b = this.base.get(key);
    if (!b) return this.minWindowMs;
    return Math.max(0, this.minWindowMs - (nowMs - b.tMs));
  }

  /** Forgets keys not in `keep` (containers that are gone), so memory stays bounded. */
  retain(keep: (key: string) => boolean): void {
    for (const k of [...this.base.keys()]) if (!keep(k)) this.base.delete(k);
    for (const k of [...this.last.keys()]) if (!keep(k)) this.last.delete(k);
  }

  get size(): number {
    return this.base.size;
  }
}

export interface NodeSample extends CpuSample {
  memoryBytes: number;
}

export interface ContainerSample extends CpuSample {
  id: string;
  namespace: string;
  pod: string;
  uid: string;
  container: string;
  memoryBytes: number;
}

export interface StatsSource {
  node(): NodeSample | Promise<NodeSample>;
  containers(): Promise<ContainerSample[]>;
}

/** Linux USER_HZ: /proc/stat counts in 1/100 s on every architecture Linux supports today. */
const USER_HZ = 100;

/** Busy CPU time of the whole machine, in ns, from /proc/stat's aggregate "cpu" line. */
export function parseProcStat(text: string): number {
  const line = text.split("\n").find((l) => l.startsWith("cpu "));
  if (!line) throw new Error("/proc/stat has no aggregate cpu line");
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already in user/nice)
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = f;
  return (user + nice + system + irq + softirq + steal) * (1e9 / USER_HZ);
}

/**
 * The node's memory working set from /proc/meminfo, the way kubelet counts the root cgroup:
 * memory in use (total − free) minus the inactive file cache the kernel can drop at once.
 */
export function parseMeminfo(text: string): number {
  const kb = (name: string) => {
    const m = new RegExp(`^${name.replace(/[()]/g, "\\$&")}:\\s+(\\d+)`, "m").exec(text);
    return m ? Number(m[1]) * 1024 : undefined;
  };
  const total = kb("MemTotal");
  const free = kb("MemFree");
  if (total === undefined || free === undefined) throw new Error("/proc/meminfo has no MemTotal or MemFree");
  return Math.max(0, total - free - (kb("Inactive(file)") ?? 0));
}

export function procNodeSample(procRoot = "/proc", now = Date.now): NodeSample {
  const cpuNs = parseProcStat(readFileSync(join(procRoot, "stat"), "utf8"));
  const tMs = now();
  return { tMs, cpuNs, memoryBytes: parseMeminfo(readFileSync(join(procRoot, "meminfo"), "utf8")) };
}

const L = {
  podName: "io.kubernetes.pod.name",
  podNamespace: "io.kubernetes.pod.namespace",
  podUid: "io.kubernetes.pod.uid",
  containerName: "io.kubernetes.container.name",
};

/** int64/uint64 fields may decode as number, string or a Long-like object. */
function num(v: unknown): number | undefined {
  if (v === null || v === undefined) return undefined;
  const n = Number(typeof v === "object" ? String(v) : v);
  return Number.isFinite(n) ? n : undefined;
}

/** Running containers of pods this agent started, from CRI, plus the node from /proc. */
export function criStatsSource(cri: CriClient, procRoot = "/proc"): StatsSource {
  return {
    node: () => procNodeSample(procRoot),
    async containers() {
      const [running, stats] = await Promise.all([cri.listContainers({ state: { state: "CONTAINER_RUNNING" } }), cri.listContainerStats()]);
      const ids = new Set(running.map((c) => c.id));
      const out: ContainerSample[] = [];
      for (const s of stats) {
        const a = s.attributes;
        if (!a || !ids.has(a.id)) continue;
        const labels = a.labels ?? {};
        const pod = labels[L.podName];
        const namespace = labels[L.podNamespace];
        const uid = labels[L.podUid];
        const container = labels[L.containerName] ?? a.metadata?.name;
        const cpuNs = num(s.cpu?.usageCoreNanoSeconds?.value);
        if (!pod || !namespace || !uid || !container || cpuNs === undefined) continue;
        // CRI timestamps are ns since the epoch; the rate's window must match the counter's.
        const ts = num(s.cpu?.timestamp);
        out.push({
          id: a.id,
          namespace,
          pod,
          uid,
          container,
          tMs: ts ? ts / 1e6 : Date.now(),
          cpuNs,
          memoryBytes: num(s.memory?.workingSetBytes?.value) ?? 0,
        });
      }
      return out;
    },
  };
}

export interface CollectorOptions {
  /** Shortest window a CPU rate is computed over (default 1000 ms). */
  minWindowMs?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

const NODE_KEY = "node";
const cKey = (id: string) => `c:${id}`;

export class StatsCollector {
  readonly rates: RateTracker;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly src: StatsSource,
    o: CollectorOptions = {},
  ) {
    this.rates = new RateTracker(o.minWindowMs ?? 1000);
    this.sleep = o.sleep ?? ((ms) => Bun.sleep(ms));
    this.now = o.now ?? Date.now;
  }

  /** One request at a time: concurrent ones would move each other's stored samples. */
  collect(req: StatsRequest): Promise<StatsReply> {
    const p = this.chain.then(() => this.collectNow(req));
    this.chain = p.catch(() => {});
    return p;
  }

  private async sample(req: StatsRequest): Promise<{ node?: NodeSample; containers: ContainerSample[] }> {
    const [node, containers] = await Promise.all([req.node ? this.src.node() : undefined, req.pods ? this.src.containers() : Promise.resolve([])]);
    return { node, containers };
  }

  private async collectNow(req: StatsRequest): Promise<StatsReply> {
    let s = await this.sample(req);
    let nodeRate = s.node ? this.rates.observe(NODE_KEY, s.node) : null;
    const rates = new Map<string, Rate | null>();
    for (const c of s.containers) rates.set(c.id, this.rates.observe(cKey(c.id), c));
    if (req.pods) {
      const live = new Set(s.containers.map((c) => cKey(c.id)));
      this.rates.retain((k) => k === NODE_KEY || live.has(k));
    }
    // Whatever has no rate yet gets a second, short sample (one wait for all of them).
    const missing = [...rates].filter(([, r]) => !r).map(([id]) => id);
    if ((s.node && !nodeRate) || missing.length) {
      const now = this.now();
      const wait = Math.max(s.node && !nodeRate ? this.rates.waitMs(NODE_KEY, now) : 0, ...missing.map((id) => this.rates.waitMs(cKey(id), now)));
      await this.sleep(wait);
      const again = await this.sample({ kind: "stats", node: !!(s.node && !nodeRate), pods: missing.length > 0 });
      if (again.node) {
        nodeRate = this.rates.observe(NODE_KEY, again.node);
        s = { ...s, node: again.node };
      }
      const byId = new Map(again.containers.map((c) => [c.id, c]));
      for (const id of missing) {
        const c = byId.get(id);
        if (c) rates.set(id, this.rates.observe(cKey(id), c));
      }
      // Memory from the newest sample too.
      s = { ...s, containers: s.containers.map((c) => byId.get(c.id) ?? c) };
    }
    const reply: StatsReply = {};
    if (s.node && nodeRate) reply.node = point(nodeRate, s.node.memoryBytes);
    if (req.pods) {
      const pods = new Map<string, NonNullable<StatsReply["pods"]>[number] & { incomplete?: boolean }>();
      for (const c of s.containers) {
        let p = pods.get(c.uid);
        if (!p) pods.set(c.uid, (p = { namespace: c.namespace, name: c.pod, uid: c.uid, containers: [] }));
        const r = rates.get(c.id);
        if (r) p.containers.push({ name: c.container, ...point(r, c.memoryBytes) });
        else p.incomplete = true;
      }
      // Like metrics-server: a pod with a container lacking a CPU rate is left out, not under-counted.
      reply.pods = [...pods.values()].filter((p) => !p.incomplete && p.containers.length).map(({ incomplete: _, ...p }) => p);
    }
    return reply;
  }
}

function point(r: Rate, memoryBytes: number): UsagePoint {
  return { timestamp: new Date(r.tMs).toISOString(), windowMs: Math.round(r.windowMs), cpuNanoCores: Math.max(0, r.nanoCores), memoryBytes };
}
