// tmpfs mounts for memory-backed volumes (emptyDir medium Memory, secret, projected), through
// mount(8)/umount(8) from util-linux.

import { readFileSync } from "node:fs";

function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
}

/** Mount points at or below `prefix` (deepest first). */
export function mountsUnder(prefix: string): string[] {
  let info = "";
  try {
    info = readFileSync("/proc/self/mountinfo", "utf8");
  } catch {
    return [];
  }
  const p = prefix.replace(/\/+$/, "");
  const out = new Set<string>();
  for (const line of info.split("\n")) {
    const f = line.split(" ");
    if (f.length < 5) continue;
    const mp = unescapeMountPath(f[4]!);
    if (mp === p || mp.startsWith(p + "/")) out.add(mp);
  }
  return [...out].sort((a, b) => b.length - a.length);
}

export function isMountPoint(path: string): boolean {
  return mountsUnder(path).includes(path.replace(/\/+$/, ""));
}

/** Bun.spawnSync, not node:child_process: the agent loads no child_process module (idle memory). */
function run(argv: string[]): { ok: boolean; stderr: string } {
  try {
    const r = Bun.spawnSync(argv, { stdout: "ignore", stderr: "pipe" });
    return { ok: r.exitCode === 0, stderr: r.stderr.toString().trim() };
  } catch (e) {
    return { ok: false, stderr: (e as Error).message };
  }
}

export function mountTmpfs(path: string, sizeBytes?: number, mode = "0777"): void {
  if (isMountPoint(path)) return;
  const opts = [`mode=${mode}`];
  if (sizeBytes && sizeBytes > 0) opts.push(`size=${sizeBytes}`);
  const r = run(["mount", "-t", "tmpfs", "-o", opts.join(","), "tmpfs", path]);
  if (!r.ok) throw new Error(`mount tmpfs on ${path}: ${r.stderr}`);
}

export function unmount(path: string): void {
  const r = run(["umount", path]);
  if (!r.ok && !run(["umount", "-l", path]).ok) throw new Error(`umount ${path}: ${r.stderr}`);
}

/** Unmounts everything at or below prefix; returns what it could not unmount. */
export function unmountAll(prefix: string): string[] {
  const failed: string[] = [];
  for (const m of mountsUnder(prefix)) {
    try {
      unmount(m);
    } catch {
      failed.push(m);
    }
  }
  return failed;
}
