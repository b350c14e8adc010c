// containerd's `state` directory on tmpfs, as containerd's own default (/run/containerd) is.
// It holds each task's OCI bundle, whose config.json carries the container's environment (Secret
// values included), and runc's state: none of it must outlive a reboot on the device's disk.
//
// The directory is mounted once per boot, before containerd starts. Only an empty directory, or
// one left by a previous boot (no shim alive, nothing mounted below it), is taken over: a state
// dir an older agent kept on disk while its containers still run stays in use until the next
// reboot, because mounting over it would cut containerd off from the running shims.

import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { isMemoryBacked } from "../cache/secret-store.ts";
import { isMountPoint, mountsUnder, mountTmpfs } from "../volumes/mount.ts";

export type StateMount = "mounted" | "already" | "live-on-disk" | "failed";

const TASKS = "io.containerd.runtime.v2.task";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Task bundles (<state>/io.containerd.runtime.v2.task/<ns>/<id>) whose shim still runs. */
export function liveBundles(state: string): string[] {
  const root = join(state, TASKS);
  if (!existsSync(root)) return [];
  const out: string[] = [];
  for (const ns of readdirSync(root)) {
    let ids: string[];
    try {
      ids = readdirSync(join(root, ns));
    } catch {
      continue;
    }
    for (const id of ids) {
      try {
        const pid = Number(readFileSync(join(root, ns, id, "shim.pid"), "utf8").trim());
        if (pid > 0 && alive(pid)) out.push(join(root, ns, id));
      } catch {
        /* no shim.pid: the shim never started or is gone */
      }
    }
  }
  return out;
}

export function stateOnTmpfs(state: string, log: (msg: string) => void): StateMount {
  if (isMountPoint(state) && isMemoryBacked(state)) return "already";
  if (isMemoryBacked(state)) return "already"; // the whole data dir is in memory
  const live = liveBundles(state);
  if (live.length || mountsUnder(state).length) {
    log(`containerd state ${state} stays on disk until the next reboot: ${live.length} running container(s) use it`);
    return "live-on-disk";
  }
  // What a previous boot left (dead bundles with their config.json) goes: it is not needed, as
  // containerd finds nothing under /run/containerd after a reboot either.
  for (const e of readdirSync(state)) rmSync(join(state, e), { recursive: true, force: true });
  try {
    mountTmpfs(state, undefined, "0700");
    return "mounted";
  } catch (e) {
    log(`containerd state stays on disk: ${(e as Error).message}`);
    return "failed";
  }
}
