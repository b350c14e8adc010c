// Small helpers the containerd e2e tests share: polling until a condition holds, and removing
// a test's cgroup tree after its containers are gone.
import { existsSync, readdirSync, readFileSync, rmdirSync, rmSync } from "node:fs";
import { join } from "node:path";

/**
 * Polls `f` until it returns something truthy. The timeout error names `what`, the last error or
 * falsy answer, and `context()` (e.g. the tail of a log).
 */
export async function until<T>(
  what: string,
  f: () => Promise<T | undefined | false | null> | T | undefined | false | null,
  ms = 30_000,
  stepMs = 200,
  context?: () => string,
): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await f();
      if (v) return v as T;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end)
      throw new Error(`timed out after ${ms} ms waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}${context ? `\n${context()}` : ""}`);
    await Bun.sleep(stepMs);
  }
}

/**
 * Removes cgroup `name` (e.g. "skiff-e2e-123", the test's own pod root) in every hierarchy, depth
 * first, after SIGKILLing whatever still runs in it (a sandbox the agent had no time to remove);
 * true while some remain.
 */
export function removeCgroup(name: string): boolean {
  const rel0 = name.replace(/^\/+/, "");
  for (const h of existsSync("/sys/fs/cgroup") ? readdirSync("/sys/fs/cgroup") : []) killIn(join("/sys/fs/cgroup", h, rel0));
  killIn(join("/sys/fs/cgroup", rel0));
  const rm = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) rm(join(dir, e.name));
    try {
      rmdirSync(dir);
    } catch {}
  };
  const rel = name.replace(/^\/+/, "");
  const dirs = [...readdirSync("/sys/fs/cgroup").map((h) => join("/sys/fs/cgroup", h, rel)), join("/sys/fs/cgroup", rel)];
  for (const d of dirs) rm(d);
  return dirs.some((d) => existsSync(d));
}

function killIn(dir: string): void {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) killIn(join(dir, e.name));
    else if (e.name === "cgroup.procs")
      for (const pid of readFileSync(join(dir, e.name), "utf8").split("\n").filter(Boolean))
        try {
          process.kill(Number(pid), "SIGKILL");
        } catch {}
  }
}

/**
 * Removes a test's data dir after unmounting what is still mounted under it (tmpfs volumes of
 * pods whose teardown an agent stop cut short; an rm of a mount point fails with EBUSY).
 */
export function removeDataDir(dir: string): void {
  const mounts = readFileSync("/proc/self/mounts", "utf8")
    .split("\n")
    .map((l) => (l.split(" ")[1] ?? "").replace(/\\040/g, " "))
    .filter((m) => m.startsWith(dir + "/"))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) Bun.spawnSync(["umount", "-l", m]);
  rmSync(dir, { recursive: true, force: true });
}
