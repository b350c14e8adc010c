// Issue 15: `skiff check-config` on this CI machine (cgroup v1 in a hybrid layout, iptables-nft,
// no systemd as PID 1, where the agent works) passes with warnings, each with its fix; a clock
// behind what the node has seen fails it.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO } from "../harness/server";

const DIST = join(REPO, "dist/skiff");
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function checkConfig(dataDir: string) {
  const cmd = existsSync(DIST) ? [DIST] : [join(REPO, "node_modules/.bin/bun"), join(REPO, "cli/main.ts")];
  const r = Bun.spawnSync([...cmd, "check-config", "--data-dir", dataDir], { stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, out: r.stdout.toString(), text: `exit ${r.exitCode}\n${r.stdout}\n${r.stderr}` };
}

describe("skiff check-config", () => {
  test("passes on this host; every check prints, every warning has a fix", () => {
    const d = mkdtempSync(join(tmpdir(), "skiff-cc-"));
    dirs.push(d);
    const r = checkConfig(join(d, "data"));
    expect(r.code, r.text).toBe(0);
    const lines = r.out.split("\n");
    for (const name of ["kernel", "cgroups", "iptables", "disk fsync", "disk space", "memory", "clock", "init"])
      expect(lines.some((l) => new RegExp(`^${name}\\s+(OK|WARN)\\s`).test(l)), `${name} line\n${r.text}`).toBe(true);
    lines.forEach((l, i) => {
      if (/^\S.*\s(WARN|FAIL)\s/.test(l)) expect(lines[i + 1], `fix after: ${l}`).toMatch(/^\s+fix: \S/);
    });
    expect(r.out).toMatch(/disk fsync\s+(OK|WARN)\s+.*p99 [\d.]+ ms/);
    expect(r.out).toMatch(/0 failure\(s\)/);
    // This machine: iptables-nft; cgroup v1 hybrid and no systemd are warnings, not failures.
    if (!existsSync("/sys/fs/cgroup/cgroup.controllers")) expect(r.out).toMatch(/cgroups\s+WARN\s+v1/);
    if (!existsSync("/run/systemd/system")) expect(r.out).toMatch(/init\s+WARN/);
  });

  test("a clock behind the node's last known time fails, with the fix", () => {
    const d = mkdtempSync(join(tmpdir(), "skiff-cc-"));
    dirs.push(d);
    const f = join(d, "last-known-time");
    writeFileSync(f, "");
    const future = Date.now() / 1000 + 7 * 86400;
    utimesSync(f, future, future);
    const r = checkConfig(d);
    expect(r.code, r.text).toBe(1);
    expect(r.out).toMatch(/clock\s+FAIL\s+.*earlier than/);
    expect(r.out).toMatch(/fix: set the time/);
    expect(r.out).toMatch(/1 failure\(s\)/);
  });
});
