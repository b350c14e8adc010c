// tmpfs mounts for memory-backed volumes (emptyDir medium Memory, secret, projected), through
// mount(8)/umount(8) from util-linux.

import { readFileSync } from "node:fs";
import { runSync } from "../cmd.ts";

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

export function mountTmpfs(path: string, sizeBytes?: number, mode = "0777"): void {
  if (isMountPoint(path)) return;
  const opts = [`mode=${mode}`];
  if (sizeBytes && sizeBytes > 0) opts.push(`size=${sizeBytes}`);
  const r = runSync(["mount", "-t", "tmpfs", "-o", opts.join(","), "tmpfs", path]);
  if (!r.ok) throw new Error(`mount tmpfs on ${path}: ${r.err}`);
}

export function unmount(path: string): void {
  const r = runSync(["umount", path]);
  if (!r.ok && !runSync(["umount", "-l", path]).ok) throw new Error(`umount ${path}: ${r.err}`);
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
