// Private ext4 file systems on loop devices, for benchmarks that count what reaches the disk.
// /proc/<pid>/io counts the pages a process dirties, not what the block layer writes: it misses
// the file system's journal and metadata (jbd2 writes them) and counts zeros written ahead,
// but not fallocate'd space. A loop device that only one program writes to gives the
// device's own count (/sys/block/loopN/stat), journal and metadata included.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The block device holding `dir`: its stat file and name (e.g. loop3). */
export function deviceOf(dir: string): { sysStat: string; name: string } {
  const d = statSync(dir).dev;
  // Linux dev_t: major in bits 8..19, minor in 0..7 and 20..31.
  const major = (d >> 8) & 0xfff;
  const minor = (d & 0xff) | ((d >> 12) & 0xfff00);
  const sys = `/sys/dev/block/${major}:${minor}`;
  const name = readFileSync(`${sys}/uevent`, "utf8").match(/DEVNAME=(\S+)/)?.[1] ?? `${major}:${minor}`;
  return { sysStat: `${sys}/stat`, name };
}

/** Sectors (512 bytes, whatever the device's block size) written to a device so far. */
export const sectorsWritten = (sysStat: string) => Number(readFileSync(sysStat, "utf8").trim().split(/\s+/)[6]);

/** ext4 journal commits so far on device `name` (jbd2's transaction count), or NaN. */
export function journalCommits(name: string): number {
  const f = `/proc/fs/jbd2/${name}-8/info`;
  if (!existsSync(f)) return NaN;
  return Number(/^(\d+) transactions/m.exec(readFileSync(f, "utf8"))?.[1] ?? NaN);
}

export interface LoopFs {
  /** The mount point. */
  dir: string;
  /** e.g. /dev/loop3 */
  loop: string;
  sysStat: string;
  /** Device name (loop3), for journalCommits. */
  name: string;
  /** Bytes written to the device so far (journal and metadata included). */
  bytesWritten(): number;
  /** Writes back this file system's dirty data and metadata (syncfs), so a count taken next includes it. */
  sync(): void;
  /** Unmounts, detaches and deletes the image; safe to call twice. */
  close(): void;
}

const open = new Set<LoopFs>();
let handlers = false;
/** Work to do on Ctrl-C before unmounting (kill the processes that hold the mounts) and after (remove dirs). */
const beforeExit = new Set<() => void>();
const afterExit = new Set<() => void>();

/** Registers `before` and `after` to run on SIGINT/SIGTERM around unmounting; returns their removal. */
export function onAbort(before: () => void, after: () => void = () => {}): () => void {
  beforeExit.add(before);
  afterExit.add(after);
  return () => {
    beforeExit.delete(before);
    afterExit.delete(after);
  };
}

/** Unmounts every file system still open (the SIGINT/SIGTERM path and a last resort at exit). */
export function closeAll(): void {
  for (const f of [...open].reverse()) f.close();
}

function installHandlers(): void {
  if (handlers) return;
  handlers = true;
  const abort = (sig: string) => {
    console.error(`\n${sig}: unmounting the benchmark's loop file systems…`);
    const all = (fns: Set<() => void>) => {
      for (const fn of fns) {
        try {
          fn();
        } catch {}
      }
    };
    all(beforeExit);
    closeAll();
    all(afterExit);
    process.exit(130);
  };
  process.on("SIGINT", () => abort("SIGINT"));
  process.on("SIGTERM", () => abort("SIGTERM"));
  process.on("exit", closeAll);
}

function umount(dir: string): void {
  // The processes that used the mount may have just been SIGKILLed and not exited yet (EBUSY).
  for (let i = 0; i < 50; i++) {
    try {
      execFileSync("umount", [dir], { stdio: "ignore" });
      return;
    } catch {
      Bun.sleepSync(100);
    }
  }
  // Still busy after 5 s: detach it from the tree; the kernel finishes when the last user goes.
  execFileSync("umount", ["-l", dir], { stdio: "ignore" });
}

/**
 * Makes a fresh ext4 file system (sparse image of `sizeMb`) on a loop device and mounts it on
 * `mnt` (created if missing). Needs root. Inode tables and journal are initialised at mkfs, so
 * ext4lazyinit does not write during the measurement; 4 kB blocks as on a real disk (mke2fs
 * would pick 1 kB for a small file system). lost+found is removed so the mount point is an
 * empty directory, as a fresh data dir would be.
 */
export function mountLoopFs(mnt: string, sizeMb = 1024): LoopFs {
  if (process.getuid?.() !== 0) throw new Error("loop-mounted file systems need root");
  installHandlers();
  const work = mkdtempSync(join(tmpdir(), "skiff-bench-loopfs-"));
  const img = join(work, "fs.img");
  let loop = "";
  let mounted = false;
  const cleanup = () => {
    try {
      if (mounted) umount(mnt);
      mounted = false;
    } finally {
      try {
        if (loop) execFileSync("losetup", ["-d", loop], { stdio: "ignore" });
      } catch {
        // Already auto-cleared at umount (see below).
      }
      loop = "";
      rmSync(work, { recursive: true, force: true });
    }
  };
  try {
    execFileSync("truncate", ["-s", `${sizeMb}M`, img]);
    execFileSync("mkfs.ext4", ["-q", "-F", "-b", "4096", "-E", "lazy_itable_init=0,lazy_journal_init=0", img]);
    loop = execFileSync("losetup", ["-f", "--show", img], { encoding: "utf8" }).trim();
    mkdirSync(mnt, { recursive: true });
    execFileSync("mount", [loop, mnt]);
    mounted = true;
    rmSync(join(mnt, "lost+found"), { recursive: true, force: true });
  } catch (e) {
    cleanup();
    throw e;
  }
  const dev = deviceOf(mnt);
  const fs: LoopFs = {
    dir: mnt,
    loop,
    sysStat: dev.sysStat,
    name: dev.name,
    bytesWritten: () => sectorsWritten(dev.sysStat) * 512,
    sync: () => execFileSync("sync", ["-f", mnt]),
    close: () => {
      if (!open.delete(fs)) return;
      cleanup();
    },
  };
  open.add(fs);
  return fs;
}
