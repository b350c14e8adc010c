// Acceptance 5 (issue 2): the one-file build. `bun run build` gives dist/skiff, which answers
// --help and version, starts a server, and serves the real kubectl. A second check builds
// from a clean clone of the committed tree (node_modules linked in), so a file that was never
// committed cannot hide behind the working copy.
import { afterAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUN, REPO, startServer, type SkiffServer } from "../harness/server";
import { describeResult, expectOk, kubectl } from "../harness/kubectl";

// bunfig's [test] timeout is not applied to every test; these start real processes.
setDefaultTimeout(120_000);

const DIST = join(REPO, "dist/skiff");
const SOURCE_DIRS = ["cli", "server", "agent", "lib", "schemas"];

function newestSourceMtime(): number {
  let newest = 0;
  const walk = (d: string) => {
    if (!existsSync(d)) return;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(ts|js|json|proto)$/.test(e.name)) newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  for (const d of SOURCE_DIRS) walk(join(REPO, d));
  for (const f of ["package.json", "bunfig.toml", "tsconfig.json"]) if (existsSync(join(REPO, f))) newest = Math.max(newest, statSync(join(REPO, f)).mtimeMs);
  return newest;
}

async function run(cmd: string[], cwd: string, timeoutMs: number) {
  const p = Bun.spawn(cmd, { cwd, stdout: "pipe", stderr: "pipe", env: { ...process.env } });
  const timer = setTimeout(() => p.kill(9), timeoutMs);
  const [stdout, stderr] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  const code = await p.exited;
  clearTimeout(timer);
  return { code, stdout, stderr, text: `$ ${cmd.join(" ")} (in ${cwd})\nexit ${code}\n--- stdout ---\n${stdout.slice(-3000)}\n--- stderr ---\n${stderr.slice(-3000)}` };
}

async function buildIn(dir: string) {
  const r = await run([BUN, "run", "build"], dir, 180_000);
  if (r.code !== 0) throw new Error(`bun run build failed\n${r.text}`);
  const out = join(dir, "dist/skiff");
  if (!existsSync(out)) throw new Error(`bun run build succeeded but ${out} does not exist\n${r.text}`);
  return out;
}

async function checkCli(bin: string) {
  const help = await run([bin, "--help"], tmpdir(), 20_000);
  if (help.code !== 0) throw new Error(`skiff --help failed\n${help.text}`);
  const helpText = help.stdout + help.stderr;
  for (const w of ["server", "agent", "apply", "get"]) if (!helpText.includes(w)) throw new Error(`skiff --help does not mention "${w}"\n${help.text}`);
  const ver = await run([bin, "version"], tmpdir(), 20_000);
  if (ver.code !== 0) throw new Error(`skiff version failed\n${ver.text}`);
  if (!/\d+\.\d+\.\d+/.test(ver.stdout)) throw new Error(`skiff version prints no version number\n${ver.text}`);
}

let srv: SkiffServer | undefined;
const cleanups: (() => void)[] = [];
afterAll(async () => {
  await srv?.stop();
  for (const c of cleanups) c();
});

describe("dist/skiff", () => {
  test("bun run build produces dist/skiff; --help and version work", async () => {
    const fresh = existsSync(DIST) && statSync(DIST).mtimeMs > newestSourceMtime();
    if (!fresh) await buildIn(REPO);
    const st = statSync(DIST);
    expect(st.mode & 0o111, "dist/skiff is executable").not.toBe(0);
    await checkCli(DIST);
  }, 200_000);

  test("dist/skiff server starts and kubectl get ns lists the four system namespaces", async () => {
    srv = await startServer({ name: "binary", command: [DIST] });
    const r = expectOk(await kubectl(srv, ["get", "ns", "-o", "name"]), "kubectl get ns against dist/skiff");
    const names = r.stdout.trim().split("\n").sort();
    for (const ns of ["namespace/default", "namespace/kube-node-lease", "namespace/kube-public", "namespace/kube-system"])
      expect(names, `kubectl get ns should list ${ns}\n${describeResult(r)}`).toContain(ns);
    const t = expectOk(await kubectl(srv, ["get", "ns"]), "kubectl get ns (table)");
    expect(t.stdout.split("\n")[0]!.trim().split(/\s+/), "get ns header").toEqual(["NAME", "STATUS", "AGE"]);
  }, 120_000);

  test("a clean clone of the committed tree builds a working dist/skiff", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-clone-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const clone = await run(["git", "clone", "--quiet", "--no-hardlinks", REPO, join(dir, "skiff")], dir, 60_000);
    if (clone.code !== 0) throw new Error(`git clone failed\n${clone.text}`);
    const root = join(dir, "skiff");
    // No network here: reuse the installed dependencies instead of `npm ci`.
    symlinkSync(join(REPO, "node_modules"), join(root, "node_modules"));
    const bin = await buildIn(root);
    await checkCli(bin);
    const s = await startServer({ name: "clone", command: [bin] });
    try {
      const r = expectOk(await kubectl(s, ["get", "ns", "-o", "name"]), "kubectl get ns against the clean-clone build");
      expect(r.stdout, "clean-clone build lists namespace/default").toContain("namespace/default");
    } finally {
      await s.stop();
    }
  }, 240_000);
});
