// The agent's own pause (sandbox) image, built at runtime so a fresh offline machine works
// without a registry or a compiler.
//
// On x86_64 and arm64 the image holds a ~250-byte static ELF generated below from this
// program (assembled once with GNU as / llvm-mc; the bytes are embedded):
//
//   _start:   push 0x14002              ; sigset {SIGINT, SIGTERM, SIGCHLD} on the stack
//             rt_sigprocmask(SIG_BLOCK, sp, NULL, 8)
//   wait_sig: eax = rt_sigtimedwait(sp, NULL, NULL, 8)
//             if eax == SIGCHLD: reap: while wait4(-1, NULL, WNOHANG, NULL) > 0; goto wait_sig
//             if eax == SIGINT or SIGTERM: exit_group(0)
//             goto wait_sig               ; EINTR etc.
//
// Blocking the signals and taking them with sigtimedwait needs no handler, so it also works as
// PID 1 of a PID namespace (blocked signals are queued even for a namespace's init), reaps
// zombies when the pod shares one PID namespace, and exits 0 on SIGTERM/SIGINT like
// Kubernetes' pause.
//
// On other architectures (no embedded program) the image is built from the host's
// busybox-static instead, with `sh -c 'trap "exit 0" TERM INT; while :; do sleep 3600 & wait;
// done'` as its entrypoint. Trade-off: ~1 MB instead of 220 bytes, one extra `sleep` process per
// pod, and the shell only reaps its own children (orphans in a shared PID namespace are reaped
// when the shell's `wait` returns, which busybox's ash does via waitpid(-1)).

import { existsSync, readFileSync } from "node:fs";
import { buildOciArchive, concat, type OciArchive } from "./oci.ts";

/** The CRI-normalised reference the pause image is imported under (`sandbox_image`). */
export const PAUSE_IMAGE = "docker.io/skiff/pause:1.0";

const PAUSE_X86_64 =
  "6802400100b80e00000031ff4889e631d241ba080000000f05b8800000004889e731f631d241ba080000000f05" +
  "83f811751fb83d00000048c7c7ffffffff31f6ba010000004531d20f054885c07fe3ebc883f802740583f80f75be" +
  "b8e700000031ff0f05";

// The same program for aarch64 (rt_sigprocmask 135, rt_sigtimedwait 137, wait4 260,
// exit_group 94). Assembled with llvm-mc; not executed on this project's x86_64 CI.
const PAUSE_AARCH64 =
  "400088d22000a0f2e00f1ff8000080d2e1030091020080d2030180d2e81080d2010000d4e0030091010080d2" +
  "020080d2030180d2281180d2010000d41f4400f14101005400008092010080d2220080d2030080d2882080d2" +
  "010000d41f0000f12cffff54f0ffff171f0800f1600000541f3c00f181fdff54000080d2c80b80d2010000d4";

function hex(s: string): Uint8Array {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Wraps position-independent machine code in a minimal static ELF64 executable. */
export function elf64Executable(code: Uint8Array, machine: number): Uint8Array {
  const base = 0x400000;
  const ehsize = 64;
  const phsize = 56;
  const codeOff = ehsize + phsize;
  const total = codeOff + code.length;
  const h = new Uint8Array(codeOff);
  const v = new DataView(h.buffer);
  h.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]); // \x7fELF, 64-bit, little endian, SysV
  v.setUint16(16, 2, true); // ET_EXEC
  v.setUint16(18, machine, true);
  v.setUint32(20, 1, true); // EV_CURRENT
  v.setBigUint64(24, BigInt(base + codeOff), true); // e_entry
  v.setBigUint64(32, BigInt(ehsize), true); // e_phoff
  v.setBigUint64(40, 0n, true); // e_shoff
  v.setUint32(48, 0, true); // e_flags
  v.setUint16(52, ehsize, true);
  v.setUint16(54, phsize, true);
  v.setUint16(56, 1, true); // e_phnum
  v.setUint16(58, 64, true); // e_shentsize
  v.setUint16(60, 0, true); // e_shnum
  v.setUint16(62, 0, true); // e_shstrndx
  const p = ehsize;
  v.setUint32(p + 0, 1, true); // PT_LOAD
  v.setUint32(p + 4, 5, true); // PF_R | PF_X
  v.setBigUint64(p + 8, 0n, true); // p_offset
  v.setBigUint64(p + 16, BigInt(base), true); // p_vaddr
  v.setBigUint64(p + 24, BigInt(base), true); // p_paddr
  v.setBigUint64(p + 32, BigInt(total), true); // p_filesz
  v.setBigUint64(p + 40, BigInt(total), true); // p_memsz
  v.setBigUint64(p + 48, 0x1000n, true); // p_align
  return concat([h, code]);
}

/** The embedded pause program for this host, or null when there is none for its arch. */
export function pauseBinary(arch: string = process.arch): Uint8Array | null {
  if (arch === "x64") return elf64Executable(hex(PAUSE_X86_64), 62 /* EM_X86_64 */);
  if (arch === "arm64") return elf64Executable(hex(PAUSE_AARCH64), 183 /* EM_AARCH64 */);
  return null;
}

/** Returns true when the file is a statically linked ELF (no PT_INTERP program header). */
export function isStaticElf(data: Uint8Array): boolean {
  if (data.length < 64 || data[0] !== 0x7f || data[1] !== 0x45 || data[2] !== 0x4c || data[3] !== 0x46) return false;
  if (data[4] !== 2) return false; // only ELF64 checked
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const phoff = Number(v.getBigUint64(32, true));
  const phentsize = v.getUint16(54, true);
  const phnum = v.getUint16(56, true);
  for (let i = 0; i < phnum; i++) {
    const off = phoff + i * phentsize;
    if (off + 4 > data.length) return false;
    if (v.getUint32(off, true) === 3 /* PT_INTERP */) return false;
  }
  return true;
}

/** Candidate paths of Debian's busybox-static binary. */
export const BUSYBOX_PATHS = ["/bin/busybox", "/usr/bin/busybox"];

export function findStaticBusybox(): string | null {
  for (const p of BUSYBOX_PATHS) {
    if (existsSync(p) && isStaticElf(readFileSync(p))) return p;
  }
  return null;
}

/** Builds the pause image archive (OCI layout tar) for this host. */
export function buildPauseImage(name: string = PAUSE_IMAGE): OciArchive {
  const bin = pauseBinary();
  const base = [
    { type: "dir" as const, path: "dev" },
    { type: "dir" as const, path: "proc" },
    { type: "dir" as const, path: "sys" },
    { type: "dir" as const, path: "etc" },
    { type: "file" as const, path: "etc/passwd", data: "root:x:0:0:root:/:/pause\nnobody:x:65534:65534:nobody:/:/pause\n" },
    { type: "file" as const, path: "etc/group", data: "root:x:0:\nnobody:x:65534:\n" },
  ];
  if (bin) {
    return buildOciArchive({
      name,
      files: [...base, { type: "file", path: "pause", data: bin, mode: 0o755 }],
      entrypoint: ["/pause"],
      env: [],
    });
  }
  const busybox = findStaticBusybox();
  if (!busybox) {
    throw new Error(
      `no built-in pause program for ${process.arch} and no static busybox found: install the Debian package busybox-static`,
    );
  }
  return buildOciArchive({
    name,
    files: [
      ...base,
      { type: "dir", path: "bin" },
      { type: "file", path: "bin/busybox", data: readFileSync(busybox), mode: 0o755 },
      { type: "symlink", path: "bin/sh", target: "busybox" },
      { type: "symlink", path: "bin/sleep", target: "busybox" },
    ],
    entrypoint: ["/bin/sh", "-c", 'trap "exit 0" TERM INT; while :; do sleep 3600 & wait; done'],
    env: ["PATH=/bin"],
  });
}
