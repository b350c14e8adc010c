// skiff top nodes|pods: CPU and memory from the metrics.k8s.io API, printed like `kubectl top`
// (millicores, Mi, and for nodes the share of allocatable).
import { ApiError, resourcePath } from "../../lib/client";
import { registry } from "../../schemas/registry";
import { err, makeCtx, out, parseFlags, reportError, UsageError, type Ctx, type FlagSpec } from "./common";
import { tabwrite } from "./printers";

const spec: FlagSpec = {
  "all-namespaces": { type: "bool", short: "A" },
  selector: { type: "string", short: "l" },
  "field-selector": { type: "string" },
  containers: { type: "bool" },
  "no-headers": { type: "bool" },
  "sort-by": { type: "string" },
  sum: { type: "bool" },
};

const METRICS = "/apis/metrics.k8s.io/v1beta1";

const USAGE = `Display resource (CPU/memory) usage of nodes or pods.

Usage:
  skiff top node [NAME | -l label]
  skiff top pod [NAME | -l label] [-n NS | -A] [--containers] [--sort-by=cpu|memory] [--sum]
`;

/** resource.Quantity → a number in the quantity's base unit (cores, bytes). */
export function parseQuantity(q: string | undefined): number {
  if (!q) return 0;
  const m = /^([+-]?[0-9.]+(?:[eE][+-]?\d+)?)([a-zA-Z]*)$/.exec(q.trim());
  if (!m) return 0;
  const n = Number(m[1]);
  const mult: Record<string, number> = {
    "": 1, n: 1e-9, u: 1e-6, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
    Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4, Pi: 1024 ** 5, Ei: 1024 ** 6,
  };
  return n * (mult[m[2]!] ?? 1);
}

/** Quantity.MilliValue() rounds up, as kubectl's printer sees it. */
const milli = (q: string | undefined) => Math.ceil(Math.round(parseQuantity(q) * 1e9) / 1e6);
const mebi = (q: string | undefined) => Math.floor(parseQuantity(q) / (1024 * 1024));

/** kubectl top's tabwriter: minwidth 6, padding 3, every cell tab-terminated. */
function table(rows: string[][]): string {
  return tabwrite(rows.map((r) => r.map((c) => c + "\t").join("")).join("\n"), 6, 3) + "\n";
}

export async function run(args: string[]): Promise<number> {
  try {
    const p = parseFlags(args, spec, "skiff top");
    const [what, ...names] = p.positional;
    if (!what) {
      out(USAGE);
      return 0;
    }
    if (names.length > 1) throw new UsageError(`top ${what} takes at most one NAME`);
    const sortBy: string | undefined = p.flags["sort-by"];
    if (sortBy && sortBy !== "cpu" && sortBy !== "memory") throw new UsageError("--sort-by accepts only cpu or memory");
    if (names[0] && (p.flags.selector || p.flags["field-selector"])) throw new UsageError("only one of NAME or selector can be provided");
    const ctx = makeCtx(p);
    if (["node", "nodes", "no"].includes(what)) return await topNodes(ctx, names[0], p.flags, sortBy);
    if (["pod", "pods", "po"].includes(what)) return await topPods(ctx, names[0], p.flags, sortBy);
    throw new UsageError(`unknown resource "${what}" for top: use "node" or "pod"`);
  } catch (e) {
    return reportError(e);
  }
}

async function requireMetricsApi(ctx: Ctx): Promise<void> {
  try {
    await ctx.client.get(METRICS);
  } catch (e) {
    if (e instanceof ApiError && e.code === 404) throw new Error("Metrics API not available");
    throw e;
  }
}

async function topNodes(ctx: Ctx, name: string | undefined, flags: Record<string, any>, sortBy: string | undefined): Promise<number> {
  await requireMetricsApi(ctx);
  const items: any[] = name ? [await ctx.client.get(`${METRICS}/nodes/${encodeURIComponent(name)}`)] : ((await ctx.client.list(`${METRICS}/nodes`, { labelSelector: flags.selector })).items ?? []);
  if (!items.length) throw new Error("metrics not available yet");
  const nodesRes = registry.find((r) => r.group === "" && r.plural === "nodes")!;
  const nodes: any[] = name ? [await ctx.client.get(resourcePath(nodesRes, undefined, name))] : ((await ctx.client.list(resourcePath(nodesRes), { labelSelector: flags.selector })).items ?? []);
  const alloc = new Map<string, any>(nodes.map((n) => [n.metadata.name, n.status?.allocatable ?? {}]));
  sortMetrics(items, sortBy, (m) => m.usage);
  const rows: string[][] = flags["no-headers"] ? [] : [["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"]];
  const pct = (used: number, avail: number | undefined) => (avail === undefined ? [] : [`${avail ? Math.trunc((used / avail) * 100) : 0}%`]);
  for (const m of items) {
    const a = alloc.get(m.metadata.name);
    const cpu = milli(m.usage?.cpu);
    const memBytes = parseQuantity(m.usage?.memory);
    rows.push([
      m.metadata.name,
      `${cpu}m`,
      ...pct(cpu, a?.cpu !== undefined ? milli(a.cpu) : undefined),
      `${mebi(m.usage?.memory)}Mi`,
      ...pct(memBytes, a?.memory !== undefined ? parseQuantity(a.memory) : undefined),
    ]);
    alloc.delete(m.metadata.name);
  }
  // Nodes the metrics API could not reach (no tunnel): kubectl shows them as <unknown>.
  for (const n of alloc.keys()) rows.push([n, "<unknown>", "<unknown>", "<unknown>", "<unknown>"]);
  out(table(rows));
  return 0;
}

async function topPods(ctx: Ctx, name: string | undefined, flags: Record<string, any>, sortBy: string | undefined): Promise<number> {
  await requireMetricsApi(ctx);
  const allNs = !!flags["all-namespaces"];
  const base = allNs ? METRICS : `${METRICS}/namespaces/${encodeURIComponent(ctx.namespace)}`;
  const items: any[] = name
    ? [await ctx.client.get(`${base}/pods/${encodeURIComponent(name)}`)]
    : ((await ctx.client.list(`${base}/pods`, { labelSelector: flags.selector, fieldSelector: flags["field-selector"] })).items ?? []);
  if (!items.length) {
    await explainEmpty(ctx, allNs, flags);
    err(allNs ? "No resources found\n" : `No resources found in ${ctx.namespace} namespace.\n`);
    return 0;
  }
  const sum = (m: any) => {
    let cpu = 0;
    let mem = 0;
    for (const c of m.containers ?? []) {
      cpu += parseQuantity(c.usage?.cpu);
      mem += parseQuantity(c.usage?.memory);
    }
    return { cpu: String(cpu), memory: String(mem) };
  };
  sortMetrics(items, sortBy, sum);
  const head = [...(allNs ? ["NAMESPACE"] : []), ...(flags.containers ? ["POD"] : []), "NAME", "CPU(cores)", "MEMORY(bytes)"];
  const rows: string[][] = flags["no-headers"] ? [] : [head];
  let totalCpu = 0;
  let totalMem = 0;
  for (const m of items) {
    const prefix = allNs ? [m.metadata.namespace] : [];
    const u = sum(m);
    totalCpu += parseQuantity(u.cpu);
    totalMem += parseQuantity(u.memory);
    if (flags.containers) {
      const cs = [...(m.containers ?? [])];
      if (sortBy) sortMetrics(cs, sortBy, (c) => c.usage);
      else cs.sort((a, b) => a.name.localeCompare(b.name));
      for (const c of cs) rows.push([...prefix, m.metadata.name, c.name, `${milli(c.usage?.cpu)}m`, `${mebi(c.usage?.memory)}Mi`]);
    } else rows.push([...prefix, m.metadata.name, `${milli(u.cpu)}m`, `${mebi(u.memory)}Mi`]);
  }
  if (flags.sum) {
    const pad = head.length - 2;
    rows.push([...Array(pad).fill(""), "________", "________"]);
    rows.push([...Array(pad).fill(""), `${milli(String(totalCpu))}m`, `${mebi(String(totalMem))}Mi`]);
  }
  out(table(rows));
  return 0;
}

/** Stable sort by usage, largest first (kubectl's --sort-by). */
function sortMetrics(items: any[], sortBy: string | undefined, usage: (m: any) => { cpu?: string; memory?: string } | undefined): void {
  if (!sortBy) {
    if (items[0]?.metadata) items.sort((a, b) => (a.metadata.namespace ?? "").localeCompare(b.metadata.namespace ?? "") || a.metadata.name.localeCompare(b.metadata.name));
    return;
  }
  const key = sortBy as "cpu" | "memory";
  items.sort((a, b) => parseQuantity(usage(b)?.[key]) - parseQuantity(usage(a)?.[key]));
}

/** kubectl's reasons for an empty answer: pods that exist but have no metrics yet. */
async function explainEmpty(ctx: Ctx, allNs: boolean, flags: Record<string, any>): Promise<void> {
  const podsRes = registry.find((r) => r.group === "" && r.plural === "pods")!;
  const list = await ctx.client.list(resourcePath(podsRes, allNs ? undefined : ctx.namespace), { labelSelector: flags.selector, fieldSelector: flags["field-selector"] });
  const pods: any[] = list.items ?? [];
  if (!pods.length) return;
  for (const pod of pods) {
    const ageMs = Date.now() - Date.parse(pod.metadata?.creationTimestamp ?? "");
    // kubectl waits 2 minutes (metricsCreationDelay) before blaming a pod.
    if (ageMs > 120_000) throw new Error(`Metrics not available for pod ${pod.metadata.namespace}/${pod.metadata.name}, age: ${goAge(ageMs)}`);
  }
  throw new Error("metrics not available yet");
}

/** Go's Duration.String, to the millisecond (kubectl prints the pod's age that way). */
function goAge(ms: number): string {
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = ((ms % 60_000) / 1000).toFixed(3).replace(/\.?0+$/, "");
  return h ? `${h}h${m}m${s}s` : m ? `${m}m${s}s` : `${s}s`;
}
