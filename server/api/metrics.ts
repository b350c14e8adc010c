// The metrics.k8s.io/v1beta1 API as metrics-server serves it (NodeMetrics, PodMetrics; get and
// list only), for `kubectl top`. Usage is fetched from the agents on demand (streams/metrics.ts)
// and never stored, so these kinds are not in the registry; discovery lists them from here.
import type { UsagePoint } from "../../lib/wsstream/tunnel";

export const METRICS_GROUP = "metrics.k8s.io";
export const METRICS_VERSION = "v1beta1";
const METRICS_GV = `${METRICS_GROUP}/${METRICS_VERSION}`;

/** What discovery says about the group (the shape apiResources() builds for registry kinds). */
export const METRICS_RESOURCES = [
  { name: "nodes", singularName: "", namespaced: false, kind: "NodeMetrics", verbs: ["get", "list"] },
  { name: "pods", singularName: "", namespaced: true, kind: "PodMetrics", verbs: ["get", "list"] },
] as const;

/** CPU as resource.Quantity prints nanocores: the largest exact unit ("1", "250m", "1500u", "12345n"). */
export function cpuQuantity(nanoCores: number): string {
  const n = Math.max(0, Math.round(nanoCores));
  if (n === 0) return "0";
  if (n % 1e9 === 0) return String(n / 1e9);
  if (n % 1e6 === 0) return `${n / 1e6}m`;
  if (n % 1e3 === 0) return `${n / 1e3}u`;
  return `${n}n`;
}

const BINARY = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];

/** Bytes as a BinarySI resource.Quantity prints them: "52088Ki", "1Gi", or plain bytes. */
export function memoryQuantity(bytes: number): string {
  let n = Math.max(0, Math.round(bytes));
  if (n === 0) return "0";
  let i = 0;
  while (i < BINARY.length - 1 && n % 1024 === 0) {
    n /= 1024;
    i++;
  }
  return `${n}${BINARY[i]}`;
}

/** Go's time.Duration.String() for a whole number of milliseconds ("850ms", "1.5s", "1m0.25s"). */
export function goDuration(ms: number): string {
  ms = Math.max(0, Math.round(ms));
  if (ms === 0) return "0s";
  if (ms < 1000) return `${ms}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const sMs = ms % 60_000;
  const secs = `${Math.floor(sMs / 1000)}${sMs % 1000 ? "." + String(sMs % 1000).padStart(3, "0").replace(/0+$/, "") : ""}s`;
  if (h) return `${h}h${m}m${secs}`;
  if (m) return `${m}m${secs}`;
  return secs;
}

/** metav1.Time: RFC 3339 with whole seconds. */
export function metaTime(iso: string | number | Date): string {
  return new Date(iso).toISOString().replace(/\.\d+Z$/, "Z");
}

export function nodeMetrics(node: any, usage: UsagePoint, now = new Date()): Record<string, unknown> {
  return {
    kind: "NodeMetrics",
    apiVersion: METRICS_GV,
    metadata: { name: node.metadata.name, creationTimestamp: metaTime(now), ...(node.metadata.labels ? { labels: node.metadata.labels } : {}) },
    timestamp: metaTime(usage.timestamp),
    window: goDuration(usage.windowMs),
    usage: { cpu: cpuQuantity(usage.cpuNanoCores), memory: memoryQuantity(usage.memoryBytes) },
  };
}

export function podMetrics(pod: any, containers: ({ name: string } & UsagePoint)[], now = new Date()): Record<string, unknown> {
  // The pod's point is its newest container sample; the window is that container's.
  const newest = containers.reduce((a, b) => (Date.parse(b.timestamp) > Date.parse(a.timestamp) ? b : a));
  // Containers in the pod spec's order, like kubelet's summary.
  const order: string[] = (pod.spec?.containers ?? []).map((c: any) => c.name);
  const sorted = [...containers].sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
  return {
    kind: "PodMetrics",
    apiVersion: METRICS_GV,
    metadata: {
      name: pod.metadata.name,
      namespace: pod.metadata.namespace,
      creationTimestamp: metaTime(now),
      ...(pod.metadata.labels ? { labels: pod.metadata.labels } : {}),
    },
    timestamp: metaTime(newest.timestamp),
    window: goDuration(newest.windowMs),
    containers: sorted.map((c) => ({ name: c.name, usage: { cpu: cpuQuantity(c.cpuNanoCores), memory: memoryQuantity(c.memoryBytes) } })),
  };
}

export function metricsList(kind: "NodeMetricsList" | "PodMetricsList", items: unknown[]): Record<string, unknown> {
  return { kind, apiVersion: METRICS_GV, metadata: {}, items };
}
