// Container log files in kubelet's layout, written by containerd in the CRI log format
// ("<RFC3339Nano> <stdout|stderr> <F|P> <text>"):
//
//   <data-dir>/agent/pods-logs/<namespace>_<pod>_<uid>/<container>/<restartCount>.log
//
// Rotation by size, like kubelet's container log manager: when the live file passes maxSize it
// is renamed to "<restartCount>.log.<YYYYMMDD-hhmmss>", containerd reopens the original path
// (CRI ReopenContainerLog), and only the newest maxFiles files (live one included) are kept.

import { existsSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { CriClient } from "../cri/client.ts";

export function podLogsRoot(dataDir: string): string {
  return join(dataDir, "agent", "pods-logs");
}

/** Sandbox log directory of a pod. */
export function podLogDir(dataDir: string, namespace: string, name: string, uid: string): string {
  return join(podLogsRoot(dataDir), `${namespace}_${name}_${uid}`);
}

/** Container log path relative to the pod log directory (what CRI's ContainerConfig.logPath takes). */
export function containerLogRelPath(container: string, restartCount: number): string {
  return join(container, `${restartCount}.log`);
}

export function containerLogPath(dataDir: string, ns: string, name: string, uid: string, container: string, restartCount: number): string {
  return join(podLogDir(dataDir, ns, name, uid), containerLogRelPath(container, restartCount));
}

export interface RotationOptions {
  /** Bytes, default 10 MiB (kubelet's containerLogMaxSize). */
  maxSize?: number;
  /** Files kept per container including the live one, default 5 (containerLogMaxFiles). */
  maxFiles?: number;
}

function stamp(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}-${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}

/** Rotated siblings of a live log file, oldest first. */
export function rotatedFiles(logPath: string): string[] {
  const dir = dirname(logPath);
  const base = basename(logPath);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.startsWith(base + ".") && !f.endsWith(".tmp"))
    .sort()
    .map((f) => join(dir, f));
}

/**
 * Rotates one running container's log if it is too big. Returns true when it rotated.
 * The rename happens first so nothing is lost: containerd keeps writing to the renamed file
 * until ReopenContainerLog makes it open the original path again.
 */
export async function rotateIfNeeded(cri: CriClient, containerId: string, logPath: string, o: RotationOptions = {}): Promise<boolean> {
  const maxSize = o.maxSize ?? 10 * 1024 * 1024;
  const maxFiles = Math.max(2, o.maxFiles ?? 5);
  let size: number;
  try {
    size = statSync(logPath).size;
  } catch {
    return false;
  }
  // Old rotated files beyond the limit go first (also after a change of maxFiles).
  const old = rotatedFiles(logPath);
  for (const f of old.slice(0, Math.max(0, old.length - (maxFiles - 1)))) rmSync(f, { force: true });
  if (size < maxSize) return false;
  let target = `${logPath}.${stamp()}`;
  for (let i = 1; existsSync(target); i++) target = `${logPath}.${stamp()}.${i}`;
  renameSync(logPath, target);
  try {
    await cri.reopenContainerLog(containerId);
  } catch (e) {
    // Put it back: a container that is not running cannot reopen, and its log must stay whole.
    if (!existsSync(logPath)) renameSync(target, logPath);
    throw e;
  }
  const after = rotatedFiles(logPath);
  for (const f of after.slice(0, Math.max(0, after.length - (maxFiles - 1)))) rmSync(f, { force: true });
  return true;
}
