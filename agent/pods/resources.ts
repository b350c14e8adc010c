// Requests/limits → CRI linux resources, QoS class and oom_score_adj, as kubelet computes them
// (pkg/kubelet/kuberuntime/kuberuntime_container_linux.go, pkg/kubelet/qos).

import { quantityValue } from "../../schemas/derive/quantity.ts";
import type { LinuxContainerResources } from "../cri/client.ts";
import type { Container, Pod } from "./types.ts";

export const CPU_PERIOD = 100_000; // µs, the CFS default
const MIN_SHARES = 2;
const MAX_SHARES = 262_144;
const SHARES_PER_CPU = 1024;

function q(v: string | number | undefined): number | undefined {
  if (v === undefined || v === null || v === "") return undefined;
  try {
    return quantityValue(v);
  } catch {
    return undefined;
  }
}

export function milliCpu(v: string | number | undefined): number | undefined {
  const n = q(v);
  return n === undefined ? undefined : Math.ceil(n * 1000 - 1e-9);
}

export function bytesOf(v: string | number | undefined): number | undefined {
  const n = q(v);
  return n === undefined ? undefined : Math.round(n);
}

export function containerRequests(c: Container): { cpuMilli?: number; memory?: number } {
  // Requests default to limits (the API server already did this; repeated for cached/old pods).
  const r = c.resources ?? {};
  return {
    cpuMilli: milliCpu(r.requests?.cpu ?? r.limits?.cpu),
    memory: bytesOf(r.requests?.memory ?? r.limits?.memory),
  };
}

export function containerLimits(c: Container): { cpuMilli?: number; memory?: number } {
  const r = c.resources ?? {};
  return { cpuMilli: milliCpu(r.limits?.cpu), memory: bytesOf(r.limits?.memory) };
}

export type QosClass = "Guaranteed" | "Burstable" | "BestEffort";

/** pkg/apis/core/v1/helper/qos.GetPodQOS (cpu and memory only). */
export function qosClass(pod: Pod): QosClass {
  const all = [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
  let anyRequest = false;
  let guaranteed = true;
  for (const c of all) {
    const r = c.resources ?? {};
    for (const res of ["cpu", "memory"]) {
      const req = q(r.requests?.[res] ?? r.limits?.[res]);
      const lim = q(r.limits?.[res]);
      if ((req ?? 0) > 0 || (lim ?? 0) > 0) anyRequest = true;
      if (lim === undefined || req === undefined || req !== lim) guaranteed = false;
    }
  }
  if (!anyRequest) return "BestEffort";
  return guaranteed ? "Guaranteed" : "Burstable";
}

/** pkg/kubelet/qos.GetContainerOOMScoreAdjust. */
export function oomScoreAdj(pod: Pod, c: Container, memoryCapacity: number): number {
  const qos = qosClass(pod);
  if (qos === "Guaranteed") return -997;
  if (qos === "BestEffort") return 1000;
  const req = containerRequests(c).memory ?? 0;
  let adj = 1000 - Math.floor((1000 * req) / Math.max(1, memoryCapacity));
  if (adj < 2) adj = 2;
  if (adj >= 1000) adj = 999;
  return adj;
}

export function cpuShares(milli: number | undefined): number {
  if (milli === undefined || milli === 0) return MIN_SHARES;
  const s = Math.floor((milli * SHARES_PER_CPU) / 1000);
  return Math.min(MAX_SHARES, Math.max(MIN_SHARES, s));
}

export function cpuQuota(milliLimit: number, period = CPU_PERIOD): number {
  const quota = Math.floor((milliLimit * period) / 1000);
  return Math.max(quota, 1000); // the kernel's minimum quota is 1 ms
}

export function linuxResources(pod: Pod, c: Container, memoryCapacity: number): LinuxContainerResources {
  const req = containerRequests(c);
  const lim = containerLimits(c);
  const out: LinuxContainerResources = {
    cpuShares: cpuShares(req.cpuMilli),
    oomScoreAdj: oomScoreAdj(pod, c, memoryCapacity),
  };
  if (lim.memory) out.memoryLimitInBytes = lim.memory;
  if (lim.cpuMilli) {
    out.cpuPeriod = CPU_PERIOD;
    out.cpuQuota = cpuQuota(lim.cpuMilli);
  }
  return out;
}

/**
 * The value of a resourceFieldRef (limits.cpu, requests.memory, ...) divided by the divisor and
 * rounded up, like kubelet's ExtractResourceValueByContainerName. Unset limits fall back to the
 * node's allocatable.
 */
export function resourceFieldValue(
  c: Container | undefined,
  resource: string,
  divisor: string | number | undefined,
  node: { cpuMilli: number; memory: number; ephemeralStorage: number },
): string {
  const r = c?.resources ?? {};
  const [kind, name] = resource.split(".", 2) as [string, string];
  const raw = kind === "limits" ? r.limits?.[name] : (r.requests?.[name] ?? r.limits?.[name]);
  let value: number;
  if (raw !== undefined) value = q(raw) ?? 0;
  else if (kind === "limits") value = name === "cpu" ? node.cpuMilli / 1000 : name === "memory" ? node.memory : node.ephemeralStorage;
  else value = 0;
  let div = q(divisor ?? "0") ?? 0;
  if (!div) div = name === "cpu" ? 1 : 1;
  return String(Math.ceil(value / div - 1e-9));
}
