// The host checks of `skiff check-config`: kernel, cgroups, iptables, the data dir's disk, memory,
// clock, init system and the agent's binaries. Each check says what it found and, when it is not
// fine, the fix. A check fails only for what stops Skiff from working; anything that degrades it
// (cgroup v1, a slow disk, no time sync) is a warning.
import { closeSync, existsSync, fdatasyncSync, mkdirSync, openSync, readFileSync, rmSync, statfsSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import { runSync } from "../../agent/cmd.ts";
import { detectCgroups, preflight } from "../../agent/containerd/preflight.ts";
import { CLOCK_FLOOR } from "../../lib/clock.ts";
import { systemdRunning } from "./systemd.ts";

export type Status = "ok" | "warn" | "fail";

export interface Check {
  name: string;
  status: Status;
  detail: string;
  fix?: string;
}

const MB = 1024 * 1024;

// ---- kernel ----------------------------------------------------------------------------------

/** The kernel's build config (/proc/config.gz or /boot/config-<release>), or null. */
export function kernelConfig(release: string): Map<string, string> | null {
  let text: string | null = null;
  try {
    text = new TextDecoder().decode(Bun.gunzipSync(readFileSync("/proc/config.gz")));
  } catch {
    try {
      text = readFileSync(`/boot/config-${release}`, "utf8");
    } catch {}
  }
  if (text === null) return null;
  const m = new Map<string, string>();
  for (const line of text.split("\n")) {
    const i = line.indexOf("=");
    if (line.startsWith("CONFIG_") && i > 0) m.set(line.slice(0, i), line.slice(i + 1));
  }
  return m;
}

/** Kernel features: [config options (any of them), module name, what it is for]. */
const REQUIRED: [string[], string, string][] = [
  [["CONFIG_NAMESPACES"], "", "namespaces"],
  [["CONFIG_NET_NS"], "", "network namespaces"],
  [["CONFIG_PID_NS"], "", "PID namespaces"],
  [["CONFIG_IPC_NS"], "", "IPC namespaces"],
  [["CONFIG_UTS_NS"], "", "UTS namespaces"],
  [["CONFIG_CGROUPS"], "", "cgroups"],
  [["CONFIG_VETH"], "veth", "veth pairs (pod network)"],
  [["CONFIG_BRIDGE"], "bridge", "Linux bridge (pod network)"],
  [["CONFIG_NF_NAT"], "nf_nat", "netfilter NAT (Services, masquerade)"],
  [["CONFIG_NETFILTER_XT_TARGET_MASQUERADE", "CONFIG_IP_NF_TARGET_MASQUERADE"], "xt_MASQUERADE", "MASQUERADE target"],
];
const RECOMMENDED: [string[], string, string][] = [
  [["CONFIG_OVERLAY_FS"], "overlay", "overlayfs (fast image snapshots; else the slow native snapshotter)"],
  [["CONFIG_BRIDGE_NETFILTER"], "br_netfilter", "br_netfilter (a pod reaching a Service backed by a pod on the same node)"],
  [["CONFIG_NETFILTER_XT_MATCH_COMMENT"], "xt_comment", "xt_comment"],
  [["CONFIG_NETFILTER_XT_MATCH_STATISTIC"], "xt_statistic", "xt_statistic (Service load balancing)"],
  [["CONFIG_NETFILTER_XT_MATCH_CONNTRACK"], "xt_conntrack", "xt_conntrack"],
  [["CONFIG_NETFILTER_XT_MATCH_ADDRTYPE"], "xt_addrtype", "xt_addrtype (NodePorts)"],
  [["CONFIG_IP_SET"], "ip_set", "ipset (NetworkPolicy)"],
  [["CONFIG_MEMCG"], "", "memory cgroup"],
  [["CONFIG_CGROUP_PIDS"], "", "pids cgroup"],
  [["CONFIG_SECCOMP"], "", "seccomp"],
];

function loadedModule(name: string): boolean {
  return !!name && existsSync(`/sys/module/${name}`);
}

export function checkKernel(): Check {
  const release = readFileSync("/proc/sys/kernel/osrelease", "utf8").trim();
  const [maj, min] = release.split(".").map((x) => parseInt(x, 10));
  const version = (maj ?? 0) * 1000 + (min ?? 0);
  const cfg = kernelConfig(release);
  const has = ([opts, mod]: [string[], string, string]) => (cfg ? opts.some((o) => cfg.get(o) === "y" || cfg.get(o) === "m") : true) || loadedModule(mod);
  const missingReq = REQUIRED.filter((f) => !has(f));
  // Without a config, the namespaces we can see are the ones the kernel has.
  for (const ns of ["net", "pid", "ipc", "uts", "mnt"]) if (!existsSync(`/proc/self/ns/${ns}`)) missingReq.push([[], "", `${ns} namespaces`]);
  const missingRec = cfg ? RECOMMENDED.filter((f) => !has(f)) : [];
  const src = cfg ? "kernel config" : "no kernel config readable (/proc/config.gz, /boot/config-*): checked what is loaded";
  if (version < 3010 || missingReq.length)
    return {
      name: "kernel",
      status: "fail",
      detail: `${release}${version < 3010 ? ": older than 3.10, which runc needs" : ""}${missingReq.length ? `; missing ${missingReq.map((f) => f[2]).join(", ")}` : ""} (${src})`,
      fix: "use a kernel with these options built in or as modules (CONFIG_" + missingReq.flatMap((f) => f[0]).map((o) => o.replace(/^CONFIG_/, "")).join(", CONFIG_") + ")",
    };
  const old = version < 5004;
  if (old || missingRec.length)
    return {
      name: "kernel",
      status: "warn",
      detail: `${release}${old ? " (older than 5.4: no cgroup v2 with all controllers)" : ""}${missingRec.length ? `; missing ${missingRec.map((f) => f[2]).join(", ")}` : ""} (${src})`,
      fix: missingRec.length ? `enable ${missingRec.flatMap((f) => f[0]).join(", ")} in the kernel (or load the modules: modprobe ${missingRec.map((f) => f[1]).filter(Boolean).join(" ")})` : "a 5.4 or newer kernel is recommended",
    };
  return { name: "kernel", status: "ok", detail: `${release}: namespaces, veth, bridge, netfilter NAT, overlayfs (${src})` };
}

// ---- cgroups ---------------------------------------------------------------------------------

export function checkCgroups(): Check {
  const cg = detectCgroups();
  const enabled = new Map<string, boolean>();
  try {
    for (const line of readFileSync("/proc/cgroups", "utf8").split("\n").slice(1)) {
      const [name, , , en] = line.split(/\s+/);
      if (name) enabled.set(name, en === "1");
    }
  } catch {}
  if (!cg.controllers.length)
    return { name: "cgroups", status: "fail", detail: "no cgroup controllers are mounted", fix: "mount cgroup2 on /sys/fs/cgroup (mount -t cgroup2 none /sys/fs/cgroup), or boot with systemd" };
  const want = cg.version === 2 ? ["cpu", "memory", "pids", "cpuset", "io"] : ["cpu", "cpuacct", "memory", "pids", "devices", "cpuset", "blkio", "freezer"];
  const lacking = want.filter((c) => !cg.controllers.includes(c));
  const memOff = lacking.includes("memory") || enabled.get("memory") === false;
  const hybrid = cg.version === 1 && existsSync("/sys/fs/cgroup/unified");
  const layout = cg.version === 2 ? "v2 (unified)" : hybrid ? "v1 (hybrid layout)" : "v1 (legacy layout)";
  const detail = `${layout}; controllers ${cg.controllers.join(", ")}${lacking.length ? `; missing ${lacking.join(", ")}` : ""}`;
  if (memOff)
    return {
      name: "cgroups",
      status: "warn",
      detail: `${detail}: pods' memory limits are not enforced`,
      fix: "add cgroup_memory=1 cgroup_enable=memory to the kernel command line (Raspberry Pi: /boot/firmware/cmdline.txt) and reboot",
    };
  if (lacking.length) return { name: "cgroups", status: "warn", detail: `${detail}: limits using them are not enforced`, fix: `enable the ${lacking.join(", ")} controller(s) in the kernel` };
  if (cg.version === 1)
    return { name: "cgroups", status: "warn", detail: `${detail}: works; cgroup v2 is recommended`, fix: "boot with systemd.unified_cgroup_hierarchy=1 on the kernel command line for cgroup v2" };
  return { name: "cgroups", status: "ok", detail };
}

// ---- iptables --------------------------------------------------------------------------------

export function checkIptables(): Check {
  const v = runSync(["iptables", "--version"]);
  if (!v.ok) return { name: "iptables", status: "fail", detail: "iptables not found: Services and pod masquerade need it", fix: "apt-get install -y iptables" };
  const backend = /\((nf_tables|legacy)\)/.exec(v.out)?.[1] ?? "legacy";
  // Rules in both backends confuse everyone: packets pass through both.
  const other = backend === "nf_tables" ? "iptables-legacy-save" : "iptables-nft-save";
  const o = runSync([other]);
  const foreign = o.ok ? o.out.split("\n").filter((l) => l.startsWith("-A ")).length : 0;
  if (foreign)
    return {
      name: "iptables",
      status: "warn",
      detail: `${v.out.trim()}, but ${foreign} rule(s) are in the ${backend === "nf_tables" ? "legacy" : "nf_tables"} backend too`,
      fix: `keep one backend: move those rules, or update-alternatives --set iptables /usr/sbin/iptables-${backend === "nf_tables" ? "legacy" : "nft"}`,
    };
  return { name: "iptables", status: "ok", detail: v.out.trim() };
}

// ---- data dir: fsync latency and free space ----------------------------------------------------

/** The data dir, or its nearest existing parent (check-config may run before the first start). */
function existingDir(dir: string): string {
  let d = dir;
  while (!existsSync(d) && dirname(d) !== d) d = dirname(d);
  return d;
}

/** Latency of a small write + fdatasync in dir (what each Raft commit waits for), in ms. */
export function fsyncLatency(dir: string, n = 40): { p50: number; p99: number; max: number } {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `.skiff-fsync-check-${process.pid}`);
  const buf = new Uint8Array(2300).fill(97); // etcd's fio check writes 2300-byte blocks
  const fd = openSync(path, "w");
  const times: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      writeSync(fd, buf);
      fdatasyncSync(fd);
      times.push(performance.now() - t0);
    }
  } finally {
    closeSync(fd);
    rmSync(path, { force: true });
  }
  times.sort((a, b) => a - b);
  const at = (p: number) => times[Math.min(times.length - 1, Math.ceil((p / 100) * times.length) - 1)]!;
  return { p50: at(50), p99: at(99), max: times[times.length - 1]! };
}

export function checkFsync(dataDir: string): Check {
  const dir = existingDir(dataDir);
  let l;
  try {
    l = fsyncLatency(dir);
  } catch (e) {
    return { name: "disk fsync", status: "fail", detail: `cannot write in ${dir}: ${(e as Error).message}`, fix: `make ${dir} writable by the user running skiff` };
  }
  const detail = `${dir}: write+fdatasync p50 ${l.p50.toFixed(1)} ms, p99 ${l.p99.toFixed(1)} ms`;
  // etcd's guidance: p99 of WAL fsync under 10 ms.
  if (l.p99 > 10)
    return { name: "disk fsync", status: "warn", detail: `${detail} (over 10 ms: every API write waits for it)`, fix: "put the data dir on faster storage (an SSD or a good A2 card rather than a slow SD card)" };
  return { name: "disk fsync", status: "ok", detail };
}

export function checkDisk(dataDir: string): Check {
  const dir = existingDir(dataDir);
  const s = statfsSync(dir);
  const free = Number(s.bavail) * Number(s.bsize);
  const detail = `${(free / MB).toFixed(0)} MB free at ${dir}`;
  if (free < 256 * MB) return { name: "disk space", status: "fail", detail, fix: `free at least 256 MB at ${dir} (images, the database and logs live there), or use --data-dir elsewhere` };
  if (free < 2048 * MB) return { name: "disk space", status: "warn", detail: `${detail} (under 2 GB: images fill it quickly)`, fix: `free space at ${dir} or use --data-dir on a larger disk` };
  return { name: "disk space", status: "ok", detail };
}

export function checkMemory(): Check {
  const info = readFileSync("/proc/meminfo", "utf8");
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(info)?.[1] ?? 0);
  const avail = kb("MemAvailable") * 1024;
  const total = kb("MemTotal") * 1024;
  const detail = `${(avail / MB).toFixed(0)} MB available of ${(total / MB).toFixed(0)} MB`;
  // An idle server with its agent takes about 100 MB; containerd about 40 MB more.
  if (avail < 160 * MB) return { name: "memory", status: "fail", detail: `${detail}: skiff server with its agent and containerd need about 150 MB`, fix: "stop other services or add memory (or swap)" };
  if (avail < 512 * MB) return { name: "memory", status: "warn", detail: `${detail} (little room for pods)`, fix: "leave at least 512 MB available for Skiff and its pods" };
  return { name: "memory", status: "ok", detail };
}

// ---- clock -----------------------------------------------------------------------------------

/** The kernel's view of clock synchronisation (adjtimex: TIME_ERROR means unsynchronised). */
export function clockSynchronized(): boolean | undefined {
  try {
    const { dlopen, FFIType, ptr } = require("bun:ffi") as typeof import("bun:ffi");
    const lib = dlopen("libc.so.6", { adjtimex: { args: [FFIType.ptr], returns: FFIType.i32 } });
    const timex = new Uint8Array(256); // struct timex is 208 bytes on 64-bit; modes = 0 reads only
    const state = lib.symbols.adjtimex(ptr(timex));
    lib.close();
    if (state < 0) return undefined;
    return state !== 5; // TIME_ERROR
  } catch {
    return undefined;
  }
}

export function checkClock(o: { lastKnownTime?: number; caNotBefore?: number } = {}): Check {
  const now = Date.now();
  const iso = new Date(now).toISOString();
  const behind = [CLOCK_FLOOR, o.lastKnownTime ?? 0, o.caNotBefore ?? 0].reduce((a, b) => Math.max(a, b));
  if (now < behind)
    return {
      name: "clock",
      status: "fail",
      detail: `${iso} is earlier than ${new Date(behind).toISOString()} (${behind === o.caNotBefore ? "the cluster CA's start" : behind === o.lastKnownTime ? "the last time Skiff saw" : "this release"}): certificates would be rejected`,
      fix: "set the time (date -s, or enable NTP: timedatectl set-ntp true); boards without a real-time clock get it from NTP after boot, and skiff waits for that",
    };
  const sync = clockSynchronized();
  const rtc = existsSync("/sys/class/rtc/rtc0");
  const where = `${iso}${rtc ? "" : ", no real-time clock"}`;
  if (sync === false)
    return { name: "clock", status: "warn", detail: `${where}; not synchronised (kernel adjtimex)`, fix: "enable time sync (systemd-timesyncd, chrony or ntpd): certificates and leases depend on the clock" };
  return { name: "clock", status: "ok", detail: `${where}; ${sync ? "synchronised" : "synchronisation unknown"}` };
}

// ---- init system, the agent's binaries and privileges -----------------------------------------

export function checkInit(): Check {
  if (systemdRunning()) return { name: "init", status: "ok", detail: "systemd (skiff install can run Skiff as a service)" };
  let pid1 = "unknown";
  try {
    pid1 = readFileSync("/proc/1/comm", "utf8").trim();
  } catch {}
  return {
    name: "init",
    status: "warn",
    detail: `PID 1 is ${pid1}, not systemd: skiff install only prepares units for a systemd boot`,
    fix: "start skiff server / skiff agent from your init system or a supervisor",
  };
}

export function checkAgentHost(dataDir: string): Check[] {
  if (process.getuid?.() !== 0)
    return [{ name: "agent", status: "warn", detail: "not root: the agent's checks (binaries, capabilities) need root, as the agent does", fix: "run skiff check-config as root" }];
  const pf = preflight({ dataDir: existingDir(dataDir) });
  const out: Check[] = [];
  if (pf.errors.length) out.push({ name: "agent", status: "fail", detail: pf.errors.join("; "), fix: pf.missingPackages.length ? `apt-get install -y ${pf.missingPackages.join(" ")}` : "run the agent as root" });
  else out.push({ name: "agent", status: "ok", detail: `containerd, runc, CNI plugins (${Object.keys(pf.binaries).length} binaries), snapshotter ${pf.snapshotter}` });
  for (const w of pf.warnings.filter((w) => !w.startsWith("cgroup") && !w.includes("overlayfs")))
    out.push({ name: "agent", status: "warn", detail: w, fix: w.includes("CAP_") ? "run skiff as root with all capabilities" : undefined });
  return out;
}

/** Every check, in the order printed. */
export function runChecks(o: { dataDir: string; lastKnownTime?: number; caNotBefore?: number }): Check[] {
  return [checkKernel(), checkCgroups(), checkIptables(), checkFsync(o.dataDir), checkDisk(o.dataDir), checkMemory(), checkClock(o), checkInit(), ...checkAgentHost(o.dataDir)];
}
