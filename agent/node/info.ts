// What the node reports about itself: capacity/allocatable from /proc and statfs, addresses,
// nodeInfo, and the pressure conditions (evaluated against kubelet's default hard eviction
// thresholds: memory.available < 100Mi, nodefs.available < 10%, pid headroom < 10%).

import { readFileSync, statfsSync } from "node:fs";
import { cpus, hostname, networkInterfaces, release } from "node:os";

export const KUBELET_VERSION = "v1.32.4+skiff";
export const MAX_PODS = 110;

function read(p: string): string {
  try {
    return readFileSync(p, "utf8").trim();
  } catch {
    return "";
  }
}

export function meminfo(): { total: number; available: number } {
  const txt = read("/proc/meminfo");
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(txt)?.[1] ?? 0) * 1024;
  return { total: kb("MemTotal"), available: kb("MemAvailable") };
}

export function fsInfo(path: string): { total: number; available: number } {
  try {
    const s = statfsSync(path);
    return { total: s.blocks * s.bsize, available: s.bavail * s.bsize };
  } catch {
    return { total: 0, available: 0 };
  }
}

function pidInfo(): { max: number; used: number } {
  const max = Number(read("/proc/sys/kernel/pid_max")) || 32768;
  const threads = Number(/(\d+)\/(\d+)/.exec(read("/proc/loadavg"))?.[2] ?? 0);
  return { max, used: threads };
}

export function cpuCount(): number {
  return Math.max(1, cpus().length);
}

/** The address of the interface holding the default route (IPv4), or the first non-loopback one. */
export function defaultNodeIp(): string {
  const route = read("/proc/net/route").split("\n").slice(1);
  const dev = route.map((l) => l.split(/\s+/)).find((f) => f[1] === "00000000")?.[0];
  const ifs = networkInterfaces();
  const pick = (name?: string) => (name ? ifs[name]?.find((a) => a.family === "IPv4" && !a.internal)?.address : undefined);
  return pick(dev) ?? Object.keys(ifs).map(pick).find(Boolean) ?? "127.0.0.1";
}

function osImage(): string {
  const m = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(read("/etc/os-release"));
  return m?.[1] ?? "Linux";
}

export interface NodeFacts {
  capacity: Record<string, string>;
  allocatable: Record<string, string>;
  addresses: { type: string; address: string }[];
  nodeInfo: Record<string, string>;
  /** For env/downward API resource defaults. */
  resources: { cpuMilli: number; memory: number; ephemeralStorage: number };
}

export function nodeFacts(o: { dataDir: string; nodeIp: string; runtimeVersion: string; arch?: string }): NodeFacts {
  const mem = meminfo();
  const fs = fsInfo(o.dataDir);
  const cpu = cpuCount();
  const capacity = {
    cpu: String(cpu),
    memory: `${Math.floor(mem.total / 1024)}Ki`,
    pods: String(MAX_PODS),
    "ephemeral-storage": `${Math.floor(fs.total / 1024)}Ki`,
  };
  const arch = o.arch ?? (process.arch === "x64" ? "amd64" : process.arch);
  return {
    capacity,
    // No system/kube reservations are configured: allocatable equals capacity.
    allocatable: { ...capacity },
    addresses: [
      { type: "InternalIP", address: o.nodeIp },
      { type: "Hostname", address: hostname() },
    ],
    nodeInfo: {
      machineID: read("/etc/machine-id"),
      systemUUID: read("/sys/class/dmi/id/product_uuid").toLowerCase(),
      bootID: read("/proc/sys/kernel/random/boot_id"),
      kernelVersion: release(),
      osImage: osImage(),
      containerRuntimeVersion: o.runtimeVersion,
      kubeletVersion: KUBELET_VERSION,
      kubeProxyVersion: "",
      operatingSystem: "linux",
      architecture: arch,
    },
    resources: { cpuMilli: cpu * 1000, memory: mem.total, ephemeralStorage: fs.total },
  };
}

export interface Pressure {
  memory: boolean;
  disk: boolean;
  pid: boolean;
}

export function pressure(dataDir: string): Pressure {
  const mem = meminfo();
  const fs = fsInfo(dataDir);
  const pid = pidInfo();
  return {
    memory: mem.available > 0 && mem.available < 100 * 1024 * 1024,
    disk: fs.total > 0 && fs.available / fs.total < 0.1,
    pid: pid.max > 0 && pid.max - pid.used < pid.max * 0.1,
  };
}

export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
  lastHeartbeatTime?: string;
  lastTransitionTime?: string;
}

export function nodeConditions(p: Pressure, runtimeReady: { ok: boolean; message: string }): Condition[] {
  return [
    p.memory
      ? { type: "MemoryPressure", status: "True", reason: "KubeletHasInsufficientMemory", message: "kubelet has insufficient memory available" }
      : { type: "MemoryPressure", status: "False", reason: "KubeletHasSufficientMemory", message: "kubelet has sufficient memory available" },
    p.disk
      ? { type: "DiskPressure", status: "True", reason: "KubeletHasDiskPressure", message: "kubelet has disk pressure" }
      : { type: "DiskPressure", status: "False", reason: "KubeletHasNoDiskPressure", message: "kubelet has no disk pressure" },
    p.pid
      ? { type: "PIDPressure", status: "True", reason: "KubeletHasInsufficientPID", message: "kubelet has insufficient PID available" }
      : { type: "PIDPressure", status: "False", reason: "KubeletHasSufficientPID", message: "kubelet has sufficient PID available" },
    runtimeReady.ok
      ? { type: "Ready", status: "True", reason: "KubeletReady", message: "kubelet is posting ready status" }
      : { type: "Ready", status: "False", reason: "KubeletNotReady", message: runtimeReady.message },
  ];
}
