// Issue 15, acceptance 1: `bun run build` also makes dist/skiff-arm64, and it runs under
// qemu-aarch64 user emulation (no binfmt_misc here, so qemu is named on the command line with the
// arm64 libc's root): `version`, `server --disable-agent` answering /readyz, and the real kubectl.
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, REPO, startServer, type SkiffServer } from "../harness/server";
import { describeResult, expectOk, kubectl } from "../harness/kubectl";

setDefaultTimeout(180_000);

const ARM = join(REPO, "dist/skiff-arm64");
const QEMU = "/usr/bin/qemu-aarch64-static";
const SYSROOT = "/usr/aarch64-linux-gnu";
const emulate = [QEMU, "-L", SYSROOT];
// scripts/setup.sh installs qemu-user-static and libc6-arm64-cross when it runs as root.
const haveQemu = existsSync(QEMU) && existsSync(join(SYSROOT, "lib/ld-linux-aarch64.so.1"));
const root = process.getuid?.() === 0;

let srv: SkiffServer | undefined;
afterAll(async () => {
  await srv?.stop();
});

function elfMachine(path: string): number {
  // e_machine: 16-bit little-endian at offset 18 (0xb7 = AArch64, 0x3e = x86-64).
  const h = readFileSync(path).subarray(0, 20);
  return h.readUInt16LE(18);
}

describe.skipIf(!haveQemu && !root)("dist/skiff-arm64 under qemu-aarch64", () => {
  test("the setup script installed qemu-aarch64-static and the arm64 libc", () => {
    expect(haveQemu, `${QEMU} or ${SYSROOT} is missing: run scripts/setup.sh as root (apt-get install qemu-user-static libc6-arm64-cross)`).toBe(true);
  });

  test("bun run build makes an arm64 ELF next to dist/skiff; version runs under emulation", async () => {
    // Always build (about a second for both): a stale arm64 binary must not pass for a fresh one.
    const b = Bun.spawnSync([BUN, "run", "build"], { cwd: REPO, stdout: "pipe", stderr: "pipe" });
    expect(b.exitCode, `bun run build failed:\n${b.stderr.toString().slice(-2000)}`).toBe(0);
    expect(existsSync(join(REPO, "dist/skiff")), "bun run build did not make dist/skiff").toBe(true);
    expect(existsSync(ARM), "bun run build did not make dist/skiff-arm64").toBe(true);
    expect(elfMachine(ARM), "dist/skiff-arm64 is not an AArch64 ELF").toBe(0xb7);
    const v = Bun.spawnSync([...emulate, ARM, "version"], { stdout: "pipe", stderr: "pipe", timeout: 60_000 });
    const out = v.stdout.toString();
    expect(v.exitCode, `skiff-arm64 version failed:\n${out}\n${v.stderr.toString()}`).toBe(0);
    expect(out).toMatch(/^skiff version v\d+\.\d+\.\d+ /);
  });

  test("skiff-arm64 server --disable-agent answers /readyz and kubectl get ns", async () => {
    const t0 = Date.now();
    // 5-7 s under emulation on this machine; the margin is for a loaded CI host.
    srv = await startServer({ name: "arm64", command: [...emulate, ARM], readyTimeoutMs: 120_000 });
    console.log(`skiff-arm64 server ready under qemu in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const r = expectOk(await kubectl(srv, ["get", "ns", "-o", "name"]), "kubectl get ns against skiff-arm64");
    for (const ns of ["namespace/default", "namespace/kube-system"]) expect(r.stdout, describeResult(r)).toContain(ns);
    const w = expectOk(await kubectl(srv, ["create", "namespace", "arm"]), "kubectl create namespace against skiff-arm64");
    expect(w.stdout).toContain("namespace/arm created");
  });
});
