// Checks what the agent needs from the host before it starts containerd: binaries (and the
// Debian packages that provide them), kernel features and capabilities. Missing binaries are
// errors with the exact `apt-get install` line; missing kernel features are warnings.

import { accessSync, constants, existsSync, readFileSync, statfsSync } from "node:fs";
import { join } from "node:path";

export const CNI_BIN_DIR = "/usr/lib/cni";
export const CNI_PLUGINS = ["bridge", "host-local", "portmap", "loopback"] as const;

/** Binary → the Debian (bookworm) package that ships it. */
export const REQUIRED_BINARIES: { name: string; pkg: string; dirs?: string[] }[] = [
  { name: "containerd", pkg: "containerd" },
  { name: "containerd-shim-runc-v2", pkg: "containerd" },
  { name: "ctr", pkg: "containerd" },
  { name: "runc", pkg: "runc" },
  ...CNI_PLUGINS.map((p) => ({ name: p, pkg: "containernetworking-plugins", dirs: [CNI_BIN_DIR] })),
  { name: "iptables", pkg: "iptables" },
];

const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export function findBinary(name: string, dirs?: string[]): string | null {
  const search = dirs ?? [...new Set([...(process.env.PATH ?? "").split(":"), ...DEFAULT_PATH.split(":")])];
  for (const d of search) {
    if (!d) continue;
    const p = join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {}
  }
  return null;
}

export interface CgroupInfo {
  /** 2 = unified, 1 = legacy or hybrid. */
  version: 1 | 2;
  /** Controllers available to us (v2: cgroup.controllers of our cgroup's root; v1: mounted hierarchies). */
  controllers: string[];
}

export function detectCgroups(root = "/sys/fs/cgroup"): CgroupInfo {
  const unified = join(root, "cgroup.controllers");
  if (existsSync(unified)) {
    return { version: 2, controllers: readFileSync(unified, "utf8").trim().split(/\s+/).filter(Boolean) };
  }
  const controllers: string[] = [];
  try {
    for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
      const sep = line.indexOf(" - ");
      if (sep < 0) continue;
      const [fstype, , superOpts] = line.slice(sep + 3).split(" ");
      if (fstype !== "cgroup" || !superOpts) continue;
      for (const o of superOpts.split(",")) {
        if (["cpu", "cpuacct", "cpuset", "memory", "pids", "blkio", "devices", "freezer", "hugetlb"].includes(o)) {
          controllers.push(o);
        }
      }
    }
  } catch {}
  return { version: 1, controllers: [...new Set(controllers)].sort() };
}

/** Effective capabilities of this process as a bitmask (from /proc/self/status CapEff). */
export function effectiveCapabilities(status?: string): bigint {
  const text = status ?? readFileSync("/proc/self/status", "utf8");
  const m = /^CapEff:\s*([0-9a-fA-F]+)/m.exec(text);
  return m ? BigInt("0x" + m[1]) : 0n;
}

export const CAP_NET_ADMIN = 12;
export const CAP_SYS_ADMIN = 21;
export const CAP_SYS_RESOURCE = 24;

export function hasCapability(cap: number, capEff: bigint = effectiveCapabilities()): boolean {
  return (capEff & (1n << BigInt(cap))) !== 0n;
}

export function overlaySupported(): boolean {
  try {
    if (/\boverlay$/m.test(readFileSync("/proc/filesystems", "utf8"))) return true;
  } catch {}
  // Not yet loaded: the module may still be loadable on first mount.
  try {
    const rel = readFileSync("/proc/sys/kernel/osrelease", "utf8").trim();
    return existsSync(`/lib/modules/${rel}/kernel/fs/overlayfs`);
  } catch {
    return false;
  }
}

const OVERLAYFS_MAGIC = 0x794c7630;

/** True when `dir` itself lives on overlayfs (overlay upper dirs cannot). */
export function onOverlayfs(dir: string): boolean {
  try {
    return statfsSync(dir).type === OVERLAYFS_MAGIC;
  } catch {
    return false;
  }
}

export interface PreflightResult {
  ok: boolean;
  /** Fatal problems (missing binaries). */
  errors: string[];
  /** Degraded but usable (kernel features, capabilities). */
  warnings: string[];
  /** Debian packages to install, empty when nothing is missing. */
  missingPackages: string[];
  binaries: Record<string, string | null>;
  cgroups: CgroupInfo;
  overlay: boolean;
  /** Set restrict_oom_score_adj in the CRI config (no CAP_SYS_RESOURCE). */
  restrictOomScoreAdj: boolean;
  /** Snapshotter to use: overlayfs, or native when overlay is not usable. */
  snapshotter: "overlayfs" | "native";
}

export interface PreflightOptions {
  /** Skip the containerd binaries (using an existing runtime endpoint). */
  externalRuntime?: boolean;
  /** Directory containerd's root will be in (for the overlay-on-overlay check). */
  dataDir?: string;
  /** Where to look for binaries instead of $PATH (tests). */
  path?: string[];
  /** CNI plugin directory (default /usr/lib/cni). */
  cniBinDir?: string;
  /** /proc/self/status text to read capabilities from (tests). */
  procStatus?: string;
}

export function preflight(opts: PreflightOptions = {}): PreflightResult {
  const errors: string[] = [];
  const warnings: string[] = [];
  const binaries: Record<string, string | null> = {};
  const missing = new Map<string, string[]>();
  for (const b of REQUIRED_BINARIES) {
    if (opts.externalRuntime && b.pkg === "containerd") continue;
    const dirs = b.dirs ? [opts.cniBinDir ?? b.dirs[0]!] : opts.path;
    const p = findBinary(b.name, dirs);
    binaries[b.name] = p;
    if (!p) missing.set(b.pkg, [...(missing.get(b.pkg) ?? []), b.dirs ? join(dirs![0]!, b.name) : b.name]);
  }
  const missingPackages = [...missing.keys()];
  if (missingPackages.length) {
    const what = [...missing.entries()].map(([pkg, bins]) => `${bins.join(", ")} (Debian package ${pkg})`).join("; ");
    errors.push(`missing ${what}; install with: apt-get install -y ${missingPackages.join(" ")}`);
  }

  const cgroups = detectCgroups();
  const want = cgroups.version === 2 ? ["cpu", "memory", "pids"] : ["cpu", "cpuacct", "memory", "pids", "devices"];
  const lacking = want.filter((c) => !cgroups.controllers.includes(c));
  if (lacking.length) {
    warnings.push(
      `cgroup v${cgroups.version}: controllers ${lacking.join(", ")} not available; resource limits using them will not be enforced`,
    );
  }

  let overlay = overlaySupported();
  if (!overlay) warnings.push("kernel has no overlayfs: using the slower 'native' snapshotter");
  if (overlay && opts.dataDir && onOverlayfs(opts.dataDir)) {
    warnings.push(`${opts.dataDir} is on overlayfs, which cannot hold overlay upper dirs: using the 'native' snapshotter`);
    overlay = false;
  }

  const capEff = effectiveCapabilities(opts.procStatus);
  const restrictOomScoreAdj = !hasCapability(CAP_SYS_RESOURCE, capEff);
  if (restrictOomScoreAdj) {
    warnings.push("no CAP_SYS_RESOURCE: containers get oom_score_adj no lower than the agent's (restrict_oom_score_adj)");
  }
  if (!hasCapability(CAP_SYS_ADMIN, capEff)) errors.push("no CAP_SYS_ADMIN: the agent must run as root to run containers");
  if (!hasCapability(CAP_NET_ADMIN, capEff)) warnings.push("no CAP_NET_ADMIN: pod networking (CNI) will fail");

  return {
    ok: errors.length === 0,
    errors,
    warnings,
    missingPackages,
    binaries,
    cgroups,
    overlay,
    restrictOomScoreAdj,
    snapshotter: overlay ? "overlayfs" : "native",
  };
}
