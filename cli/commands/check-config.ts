// `skiff check-config [--data-dir DIR]`: is this host ready for Skiff? Prints one line per check
// (kernel, cgroups, iptables, the data dir's fsync latency and free space, memory, clock, init,
// the agent's binaries) with the fix under each problem. Exit 1 only when something would stop
// Skiff from working; warnings (cgroup v1, a slow disk, no systemd) leave the exit code 0.
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { readLastKnownTime } from "../../lib/clock";
import { runChecks, type Check } from "../host/checks";
import { parseDataDir } from "./killall";

const USAGE = `Usage: skiff check-config [--data-dir DIR]

Checks the kernel (namespaces, veth, bridge, netfilter, overlayfs), cgroups (v2 controllers, or
v1/hybrid), the iptables backend, fsync latency and free space of the data dir, free memory, the
clock, the init system and the agent's binaries. Prints the fix for each problem; exits 1 only
for what would stop Skiff from working.`;

function caNotBefore(dataDir: string): number | undefined {
  try {
    return new X509Certificate(readFileSync(join(dataDir, "server", "tls", "ca.crt"))).validFromDate.getTime();
  } catch {
    return undefined;
  }
}

export function formatChecks(checks: Check[]): string {
  const w = Math.max(...checks.map((c) => c.name.length));
  const lines: string[] = [];
  for (const c of checks) {
    lines.push(`${c.name.padEnd(w)}  ${c.status.toUpperCase().padEnd(4)}  ${c.detail}`);
    if (c.fix && c.status !== "ok") lines.push(`${" ".repeat(w)}        fix: ${c.fix}`);
  }
  return lines.join("\n");
}

export async function run(args: string[]): Promise<number> {
  const p = parseDataDir(args, USAGE);
  if (typeof p === "number") return p;
  const checks = runChecks({ dataDir: p.dataDir, lastKnownTime: readLastKnownTime(p.dataDir), caNotBefore: caNotBefore(p.dataDir) });
  console.log(`skiff check-config (data dir ${p.dataDir})\n`);
  console.log(formatChecks(checks));
  const fails = checks.filter((c) => c.status === "fail").length;
  const warns = checks.filter((c) => c.status === "warn").length;
  console.log(`\n${fails} failure(s), ${warns} warning(s)${fails ? ": Skiff will not work until the failures are fixed" : warns ? ": Skiff works; the warnings say what would make it better" : ""}`);
  return fails ? 1 : 0;
}
