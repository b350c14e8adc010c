// Finding and stopping the processes of one Skiff data dir, for `skiff killall|uninstall`.
// Precise, because one machine may run several Skiff nodes (tests, a server next to an agent
// with another --data-dir): a process is ours when it is a `skiff server|agent` whose data dir
// is this one, or when its command line names a path inside the data dir (our containerd, its
// shims), or when it descends from one of those (containers are children of their shim).
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { basename, join } from "node:path";

export interface ProcInfo {
  pid: number;
  ppid: number;
  args: string[];
}

export function listProcs(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const d of readdirSync("/proc")) {
    const pid = Number(d);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
      // The command name in stat may hold spaces and parentheses: ppid follows the last ')'.
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      out.push({ pid, ppid, args });
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

/** `skiff server|agent` (compiled, or `bun cli/main.ts`): its mode, or undefined. */
export function skiffMode(args: string[]): { mode: "server" | "agent"; rest: string[] } | undefined {
  let i = -1;
  if (/^skiff/.test(basename(args[0] ?? ""))) i = 1;
  else if (/(^|\/)cli\/main\.ts$/.test(args[1] ?? "")) i = 2;
  const m = args[i];
  return m === "server" || m === "agent" ? { mode: m, rest: args.slice(i + 1) } : undefined;
}

export function flagValue(args: string[], ...names: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    for (const n of names) {
      if (args[i] === n) return args[i + 1];
      if (args[i]!.startsWith(n + "=")) return args[i]!.slice(n.length + 1);
    }
  }
  return undefined;
}

/** The data dir a skiff process uses: --data-dir, else the default for its user (lib/paths.ts). */
function processDataDir(pid: number, rest: string[]): string {
  const flag = flagValue(rest, "--data-dir");
  if (flag) return absolute(pid, flag);
  try {
    const uid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]);
    if (uid === 0) return "/var/lib/skiff";
    const home = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").find((e) => e.startsWith("HOME="))?.slice(5);
    return home ? join(home, ".skiff") : "";
  } catch {
    return "";
  }
}

function absolute(pid: number, p: string): string {
  if (p.startsWith("/")) return p.replace(/\/+$/, "");
  try {
    return join(readlinkSync(`/proc/${pid}/cwd`), p);
  } catch {
    return p;
  }
}

const inside = (p: string, dir: string) => p === dir || p.startsWith(dir + "/");

export interface OurProcesses {
  /** skiff server / agent processes of this data dir. */
  skiff: ProcInfo[];
  /** Everything else of ours: containerd, shims, containers (descendants included). */
  others: ProcInfo[];
}

/** The processes of dataDir (never this process or its ancestors). */
export function findOurProcesses(dataDir: string, procs = listProcs()): OurProcesses {
  const dir = dataDir.replace(/\/+$/, "");
  const byPid = new Map(procs.map((p) => [p.pid, p]));
  const protect = new Set<number>();
  for (let p: ProcInfo | undefined = byPid.get(process.pid); p && !protect.has(p.pid); p = byPid.get(p.ppid)) protect.add(p.pid);
  const skiff = new Set<number>();
  const roots = new Set<number>();
  for (const p of procs) {
    if (protect.has(p.pid)) continue;
    const sk = skiffMode(p.args);
    if (sk) {
      if (processDataDir(p.pid, sk.rest) === dir) skiff.add(p.pid);
      continue;
    }
    // containerd --config <dir>/agent/containerd/config.toml, shims -address <dir>/…/containerd.sock
    if (p.args.some((a) => inside(a.replace(/^--?[a-z-]+=/, ""), dir))) roots.add(p.pid);
  }
  const children = new Map<number, number[]>();
  for (const p of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid]);
  const all = new Set<number>();
  const walk = (pid: number) => {
    if (all.has(pid) || protect.has(pid)) return;
    all.add(pid);
    for (const c of children.get(pid) ?? []) walk(c);
  };
  for (const pid of [...skiff, ...roots]) walk(pid);
  return {
    skiff: [...skiff].map((pid) => byPid.get(pid)!),
    others: [...all].filter((pid) => !skiff.has(pid)).map((pid) => byPid.get(pid)!),
  };
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // A zombie is gone for our purposes (its parent has not reaped it yet).
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return false;
  }
}

/** Signals every pid, then waits up to ms for all of them to exit; returns those still alive. */
export async function signalAndWait(pids: number[], signal: NodeJS.Signals, ms: number): Promise<number[]> {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
  const end = Date.now() + ms;
  let left = pids.filter(alive);
  while (left.length && Date.now() < end) {
    await Bun.sleep(50);
    left = left.filter(alive);
  }
  return left;
}

/** SIGTERM, then SIGKILL what is left after graceMs. */
export async function stopProcesses(pids: number[], graceMs: number): Promise<void> {
  const left = await signalAndWait(pids, "SIGTERM", graceMs);
  if (left.length) await signalAndWait(left, "SIGKILL", 5_000);
}

/** The network namespace inode of a process (to find its /run/netns bind mount). */
export function netnsInode(pid: number): string | undefined {
  try {
    return /net:\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/ns/net`))?.[1];
  } catch {
    return undefined;
  }
}
