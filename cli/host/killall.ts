// `skiff killall`: stop everything one data dir's Skiff runs on this host and the network state it
// made, leaving the data (K3s' k3s-killall.sh). Order matters:
//   1. the installed systemd units of this data dir are stopped (when systemd runs);
//   2. skiff server/agent processes get SIGTERM (the agent stops its containerd; pods survive that);
//   3. pods are removed through CRI, with the data dir's containerd started again if needed, so
//      that CNI releases each pod's IP, veth, netns and per-pod rules the ordinary way;
//   4. whatever is still running (a containerd that would not start, shims, containers) is
//      killed, shims' children first;
//   5. mounts under the data dir and our pods' network namespaces are unmounted;
//   6. rules, chains, ipsets, the bridge, veths and node routes are removed; pod cgroups too.
import { existsSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { runSync } from "../../agent/cmd.ts";
import { agentPaths } from "../../agent/containerd/config.ts";
import { bridgeOf, removeFirewallRules, removeLinks } from "./network.ts";
import { findOurProcesses, netnsInode, signalAndWait, stopProcesses } from "./processes.ts";
import { installedUnits, systemdRunning } from "./systemd.ts";

export interface KillallOptions {
  dataDir: string;
  /** Root of the file system holding the units (tests: an install made with --root). */
  root?: string;
  log: (msg: string) => void;
}

export interface KillallResult {
  processes: number;
  sandboxes: number;
  unmounted: string[];
  removed: string[];
  errors: string[];
}

export async function killall(o: KillallOptions): Promise<KillallResult> {
  const res: KillallResult = { processes: 0, sandboxes: 0, unmounted: [], removed: [], errors: [] };
  const dataDir = o.dataDir.replace(/\/+$/, "");

  if (systemdRunning() && (o.root ?? "/") === "/") {
    for (const u of installedUnits("/").filter((u) => u.dataDir === dataDir)) {
      const r = runSync(["systemctl", "stop", u.name]);
      if (r.ok) o.log(`stopped ${u.name}`);
      else res.errors.push(`systemctl stop ${u.name}: ${r.err}`);
    }
  }

  const first = findOurProcesses(dataDir);
  if (first.skiff.length) {
    o.log(`stopping ${first.skiff.map((p) => `skiff ${p.args.includes("agent") ? "agent" : "server"} (pid ${p.pid})`).join(", ")}`);
    await stopProcesses(
      first.skiff.map((p) => p.pid),
      20_000,
    );
    res.processes += first.skiff.length;
  }
  // Network namespaces of our containers, known before they die (their /run/netns mounts stay).
  const netns = new Set(findOurProcesses(dataDir).others.map((p) => netnsInode(p.pid)).filter((x): x is string => !!x));

  res.sandboxes = await removeSandboxes(dataDir, o.log, res.errors);

  // Shims first (their containers are their children), then whatever is left.
  const rest = findOurProcesses(dataDir).others;
  if (rest.length) {
    o.log(`killing ${rest.length} remaining process(es): ${[...new Set(rest.map((p) => p.args[0]?.split("/").pop()))].join(", ")}`);
    const left = await signalAndWait(
      rest.map((p) => p.pid),
      "SIGKILL",
      10_000,
    );
    for (const pid of left) res.errors.push(`process ${pid} did not exit after SIGKILL`);
    res.processes += rest.length;
  }

  res.unmounted.push(...unmountUnder(dataDir), ...removeNetns(netns));
  const fw = removeFirewallRules();
  const links = removeLinks(bridgeOf(dataDir));
  res.removed.push(...fw.removed, ...links.removed);
  res.errors.push(...fw.errors, ...links.errors);
  res.removed.push(...removeCgroups(cgroupRootOf()));
  return res;
}

/** Stops and removes every pod sandbox of the data dir's containerd (started for this if needed). */
async function removeSandboxes(dataDir: string, log: (m: string) => void, errors: string[]): Promise<number> {
  const paths = agentPaths(dataDir);
  if (!existsSync(paths.config)) return 0; // no agent ever ran with this data dir
  const { ContainerdSupervisor } = await import("../../agent/containerd/supervisor.ts");
  const { CriClient } = await import("../../agent/cri/client.ts");
  const sup = new ContainerdSupervisor({ dataDir, restart: false, readyTimeoutMs: 30_000, logLevel: "warn" });
  let n = 0;
  try {
    // start() stops a containerd the agent left behind and starts one of ours on the same state.
    await sup.start();
    const cri = new CriClient(paths.socket, { timeoutMs: 30_000 });
    try {
      for (const s of await cri.listPodSandbox()) {
        try {
          await cri.stopPodSandbox(s.id);
          await cri.removePodSandbox(s.id);
          n++;
        } catch (e) {
          errors.push(`remove pod sandbox ${s.metadata?.namespace}/${s.metadata?.name}: ${(e as Error).message}`);
        }
      }
    } finally {
      cri.close();
    }
    if (n) log(`removed ${n} pod sandbox(es) through CRI`);
  } catch (e) {
    log(`containerd could not be started to remove pods the ordinary way (${(e as Error).message}); killing them instead`);
  } finally {
    await sup.stop().catch(() => {});
  }
  return n;
}

/** Mount points at or below dir, deepest first (octal escapes of mountinfo decoded). */
export function mountsUnder(dir: string): string[] {
  const out: string[] = [];
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const mp = line.split(" ")[4];
    if (!mp) continue;
    const path = mp.replace(/\\(\d{3})/g, (_, oct) => String.fromCharCode(parseInt(oct, 8)));
    if (path === dir || path.startsWith(dir + "/")) out.push(path);
  }
  return [...new Set(out)].sort((a, b) => b.length - a.length);
}

function unmountUnder(dir: string): string[] {
  const done: string[] = [];
  // Stacked mounts show once per layer: repeat until nothing is left (bounded).
  for (let round = 0; round < 5; round++) {
    const mps = mountsUnder(dir);
    if (!mps.length) break;
    for (const mp of mps) if (runSync(["umount", mp]).ok || runSync(["umount", "-l", mp]).ok) done.push(mp);
  }
  return [...new Set(done)];
}

/** /run/netns entries that hold one of our containers' network namespaces. */
function removeNetns(inodes: Set<string>): string[] {
  const dir = "/run/netns";
  if (!inodes.size || !existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    try {
      if (!inodes.has(String(statSync(p).ino))) continue;
    } catch {
      continue;
    }
    runSync(["umount", p]).ok || runSync(["umount", "-l", p]);
    rmSync(p, { force: true });
    out.push(p);
  }
  return out;
}

/** The agent's cgroupfs parent for pods (agent/main.ts: /skiff, or SKIFF_AGENT_TUNING's). */
function cgroupRootOf(): string {
  try {
    const t = JSON.parse(process.env.SKIFF_AGENT_TUNING ?? "{}");
    if (typeof t.cgroupRoot === "string" && t.cgroupRoot.startsWith("/") && t.cgroupRoot.length > 1) return t.cgroupRoot;
  } catch {}
  return "/skiff";
}

/** cgroup mount points (v1 hierarchies and the v2 unified one). */
function cgroupMounts(): string[] {
  const out: string[] = [];
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const [pre, post] = line.split(" - ");
    if (post && /^cgroup2? /.test(post)) out.push(pre!.split(" ")[4]!);
  }
  return out;
}

/** Removes the (now empty) pod cgroups under root in every hierarchy, deepest first. */
function removeCgroups(root: string): string[] {
  const removed: string[] = [];
  const rm = (dir: string): boolean => {
    let ok = true;
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) ok = rm(join(dir, e.name)) && ok;
    try {
      rmdirSync(dir);
      return ok;
    } catch {
      return false;
    }
  };
  for (const mp of cgroupMounts()) {
    const dir = join(mp, root);
    if (existsSync(dir) && rm(dir)) removed.push(`cgroup ${dir}`);
  }
  return removed;
}
