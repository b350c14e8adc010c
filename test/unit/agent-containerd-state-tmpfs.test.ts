// containerd's state dir goes on tmpfs once per boot, unless an older agent's containers still
// run from it on disk (mounting over it would cut containerd off from their shims).
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isMemoryBacked } from "../../agent/cache/secret-store.ts";
import { liveBundles, stateOnTmpfs } from "../../agent/containerd/state-tmpfs.ts";
import { isMountPoint, unmount } from "../../agent/volumes/mount.ts";

const root = process.getuid?.() === 0;
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) {
    if (isMountPoint(join(d, "state"))) unmount(join(d, "state"));
    rmSync(d, { recursive: true, force: true });
  }
});
function stateDir(): string {
  const d = mkdtempSync(join(tmpdir(), "skiff-state-tmpfs-"));
  dirs.push(d);
  mkdirSync(join(d, "state"));
  return join(d, "state");
}
function bundle(state: string, id: string, shimPid?: number): string {
  const b = join(state, "io.containerd.runtime.v2.task", "k8s.io", id);
  mkdirSync(b, { recursive: true });
  writeFileSync(join(b, "config.json"), '{"process":{"env":["PW=secret"]}}');
  if (shimPid !== undefined) writeFileSync(join(b, "shim.pid"), String(shimPid));
  return b;
}
/** A pid that is not running: a child that has exited. */
function deadPid(): number {
  const p = Bun.spawnSync(["true"]);
  return p.pid;
}

describe("containerd state on tmpfs", () => {
  test("liveBundles: a bundle whose shim runs is live; a dead shim or none is not", () => {
    const s = stateDir();
    const live = bundle(s, "a", process.pid);
    bundle(s, "b", deadPid());
    bundle(s, "c");
    expect(liveBundles(s)).toEqual([live]);
    expect(liveBundles(join(s, "nope"))).toEqual([]);
  });

  test.skipIf(!root)("a state dir from a previous boot is emptied and mounted as tmpfs; a second call finds it mounted", () => {
    const s = stateDir();
    bundle(s, "old", deadPid());
    const logs: string[] = [];
    expect(stateOnTmpfs(s, (m) => logs.push(m))).toBe("mounted");
    expect(isMountPoint(s) && isMemoryBacked(s)).toBe(true);
    expect(readdirSync(s)).toEqual([]);
    expect(stateOnTmpfs(s, (m) => logs.push(m))).toBe("already");
    expect(logs).toEqual([]);
    unmount(s);
    // the disk copy (with the env in config.json) is gone, not just hidden
    expect(readdirSync(s)).toEqual([]);
  });

  test.skipIf(!root)("a state dir with a running shim stays on disk, untouched, with a warning", () => {
    const s = stateDir();
    const b = bundle(s, "running", process.pid);
    const logs: string[] = [];
    expect(stateOnTmpfs(s, (m) => logs.push(m))).toBe("live-on-disk");
    expect(isMountPoint(s)).toBe(false);
    expect(existsSync(join(b, "config.json"))).toBe(true);
    expect(logs).toEqual([`containerd state ${s} stays on disk until the next reboot: 1 running container(s) use it`]);
  });
});
