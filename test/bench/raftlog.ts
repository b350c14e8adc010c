// `bun run bench raftlog [--ops N] [--bytes B] [--dir DIR]`: what one Raft log append with its
// fdatasync costs the disk, with segment preallocation (segment-log.ts) and without it. The
// filesystem journal's writes are not the process's (jbd2 writes them), so /proc/<pid>/io does
// not see them: the figure is the block device's own count of sectors written
// (/sys/dev/block/M:m/stat). Run as root, it makes a private ext4 filesystem on a loop device
// (nobody else writes there, so the count is this benchmark's alone); --dir uses a directory
// as it is (then the device is shared and the figure includes everyone else's writes).
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SegmentLogStorage } from "../../server/raft/storage/segment-log";

function arg(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

/** Sectors written and the block device's name, for the device holding `dir`. */
function deviceOf(dir: string): { sysStat: string; name: string } {
  const d = statSync(dir).dev;
  // Linux dev_t: major in bits 8..19, minor in 0..7 and 20..31.
  const major = (d >> 8) & 0xfff;
  const minor = (d & 0xff) | ((d >> 12) & 0xfff00);
  const sys = `/sys/dev/block/${major}:${minor}`;
  const name = readFileSync(`${sys}/uevent`, "utf8").match(/DEVNAME=(\S+)/)?.[1] ?? `${major}:${minor}`;
  return { sysStat: `${sys}/stat`, name };
}
const procWritten = () => Number(/^write_bytes: (\d+)/m.exec(readFileSync("/proc/self/io", "utf8"))?.[1] ?? 0);
const sectorsWritten = (sysStat: string) => Number(readFileSync(sysStat, "utf8").trim().split(/\s+/)[6]);
/** ext4 journal commits so far on device `name` (jbd2's transaction count), or NaN. */
function journalCommits(name: string): number {
  const f = `/proc/fs/jbd2/${name}-8/info`;
  if (!existsSync(f)) return NaN;
  return Number(/^(\d+) transactions/m.exec(readFileSync(f, "utf8"))?.[1] ?? NaN);
}

interface Row {
  mode: string;
  ops: number;
  devBytesPerOp: number;
  /** What /proc/<pid>/io counts (bench raft's figure): the pages this process dirtied. */
  procBytesPerOp: number;
  journalPerOp: number;
  p50: number;
  p99: number;
}

function run(dir: string, mode: string, prealloc: number, ops: number, bytes: number, perRecord: number): Row {
  const logDir = join(dir, mode);
  rmSync(logDir, { recursive: true, force: true });
  const s = new SegmentLogStorage(logDir);
  s.preallocBytes = prealloc;
  const data = new Uint8Array(bytes).fill(120);
  // The segment's creation (and its first chunk of zeros) is not what is measured.
  s.save({ entries: [{ index: 1, term: 1, type: "normal", data }], hardState: { term: 1, vote: 1, commit: 1 }, mustSync: true });
  const dev = deviceOf(logDir);
  execFileSync("sync");
  const s0 = sectorsWritten(dev.sysStat);
  const p0 = procWritten();
  const j0 = journalCommits(dev.name);
  const lat: number[] = [];
  for (let i = 2; i <= ops + 1; i += perRecord) {
    const t = performance.now();
    const entries = Array.from({ length: perRecord }, (_, k) => ({ index: i + k, term: 1, type: "normal" as const, data }));
    s.save({ entries, hardState: { term: 1, vote: 1, commit: i - 1 }, mustSync: true });
    lat.push(performance.now() - t);
  }
  const s1 = sectorsWritten(dev.sysStat);
  const p1 = procWritten();
  const j1 = journalCommits(dev.name);
  s.close();
  lat.sort((a, b) => a - b);
  return { mode, ops, devBytesPerOp: ((s1 - s0) * 512) / ops, procBytesPerOp: (p1 - p0) / ops, journalPerOp: (j1 - j0) / ops, p50: lat[Math.floor(lat.length / 2)]!, p99: lat[Math.floor(lat.length * 0.99)]! };
}

export async function main(args: string[]): Promise<void> {
  const ops = Number(arg(args, "--ops") ?? 2000);
  /** Entries per record (one Ready; a leader under load batches many). */
  const perRecord = Math.max(1, Number(arg(args, "--batch") ?? 1));
  const bytes = Number(arg(args, "--bytes") ?? 400);
  let dir = arg(args, "--dir");
  let cleanup = () => {};
  if (!dir) {
    if (process.getuid?.() !== 0) throw new Error("run as root (a private loop-mounted ext4), or give --dir DIR");
    const work = mkdtempSync(join(tmpdir(), "skiff-bench-raftlog-"));
    const img = join(work, "fs.img");
    const mnt = join(work, "mnt");
    mkdirSync(mnt);
    execFileSync("truncate", ["-s", "256M", img]);
    // 4 kB blocks as on a real disk (mke2fs would choose 1 kB for a file system this small); inode
    // tables and journal initialised now, not by ext4lazyinit writing during the measurement.
    execFileSync("mkfs.ext4", ["-q", "-F", "-b", "4096", "-E", "lazy_itable_init=0,lazy_journal_init=0", img]);
    const loop = execFileSync("losetup", ["-f", "--show", img], { encoding: "utf8" }).trim();
    execFileSync("mount", [loop, mnt]);
    dir = mnt;
    cleanup = () => {
      try {
        execFileSync("umount", [mnt]);
      } finally {
        execFileSync("losetup", ["-d", loop]);
        rmSync(work, { recursive: true, force: true });
      }
    };
  }
  try {
    const rows = [run(dir, "no-prealloc", 0, ops, bytes, perRecord), run(dir, "prealloc", 1 << 20, ops, bytes, perRecord)];
    console.log(`\nRaft log appends: ${ops} entries of ${bytes} bytes, ${perRecord} per record, each record fdatasynced (block device ${deviceOf(dir).name})\n`);
    console.log("| segments | device bytes/entry | /proc/pid/io bytes/entry | journal commits/entry | save p50 | save p99 |");
    console.log("|---|---|---|---|---|---|");
    for (const r of rows) console.log(`| ${r.mode} | ${r.devBytesPerOp.toFixed(0)} | ${r.procBytesPerOp.toFixed(0)} | ${r.journalPerOp.toFixed(2)} | ${r.p50.toFixed(2)} ms | ${r.p99.toFixed(2)} ms |`);
  } finally {
    cleanup();
  }
}
