// kubelet's AtomicWriter (pkg/volume/util/atomic_writer.go): a volume directory whose visible
// files are symlinks into "..data", itself a symlink to a timestamped directory holding one
// complete version. An update writes a new timestamped directory, swaps "..data" with one
// rename(2) and only then removes the old version, so a reader never sees a mix of versions.
//
//   dir/
//     key            -> ..data/key
//     ..data         -> ..2024_01_02_03_04_05.123456789
//     ..2024_01_02_03_04_05.123456789/key
//
// Nothing here follows a symlink someone planted in the volume: the volume directory must be a
// real directory, new directories are made one component at a time and checked with lstat, and
// files are created with O_CREAT|O_EXCL|O_NOFOLLOW, so a write cannot be redirected elsewhere.

import { closeSync, constants, fchmodSync, fchownSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeSync } from "node:fs";
import { join, normalize, sep } from "node:path";

export interface FileProjection {
  data: Uint8Array | string;
  /** File mode (e.g. 0o644). */
  mode: number;
  /** fsGroup: chown the file to this group. */
  gid?: number;
}

const DATA = "..data";
const DATA_TMP = "..data_tmp";

/** Rejects absolute paths, ".." elements and names starting with "..", like kubelet. */
export function validatePath(p: string): void {
  if (!p) throw new Error("invalid path: must not be empty");
  if (p.length > 4096) throw new Error(`invalid path ${p}: too long`);
  if (p.startsWith("/")) throw new Error(`invalid path ${p}: must be relative`);
  const parts = p.split("/");
  if (parts.includes("..")) throw new Error(`invalid path ${p}: must not contain '..'`);
  if (parts[0]!.startsWith("..")) throw new Error(`invalid path ${p}: must not start with '..'`);
}

function sameContent(dataDir: string, files: Map<string, FileProjection>): boolean {
  // Every wanted file present with the same bytes and mode, and no extra files.
  const existing = new Set<string>();
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(join(d, e.name), r);
      else existing.add(r);
    }
  };
  try {
    walk(dataDir, "");
  } catch {
    return false;
  }
  if (existing.size !== files.size) return false;
  for (const [p, f] of files) {
    if (!existing.has(p)) return false;
    const full = join(dataDir, p);
    const want = typeof f.data === "string" ? Buffer.from(f.data) : Buffer.from(f.data);
    try {
      const st = lstatSync(full);
      if (!st.isFile() || (st.mode & 0o7777) !== f.mode) return false;
      if (!readFileSync(full).equals(want)) return false;
    } catch {
      return false;
    }
  }
  return true;
}

function tsDirName(): string {
  const d = new Date();
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  const rand = Math.floor(Math.random() * 1e9);
  return `..${d.getUTCFullYear()}_${p(d.getUTCMonth() + 1)}_${p(d.getUTCDate())}_${p(d.getUTCHours())}_${p(d.getUTCMinutes())}_${p(d.getUTCSeconds())}.${p(rand, 9)}`;
}

/**
 * Makes `dir` hold exactly `files` (relative paths). Returns true when something changed.
 * The payload is compared first, so an unchanged volume costs reads, not writes.
 */
export function writeAtomic(dir: string, files: Map<string, FileProjection>): boolean {
  for (const p of files.keys()) validatePath(p);
  mkdirSync(dir, { recursive: true });
  if (!lstatSync(dir).isDirectory()) throw new Error(`volume directory ${dir} is a symlink or not a directory: refusing to write through it`);
  const dataLink = join(dir, DATA);
  let oldTs: string | null = null;
  try {
    oldTs = lstatSync(dataLink).isSymbolicLink() ? readlinkSync(dataLink) : null;
  } catch {
    oldTs = null;
  }
  // Only a version directory of our own naming is compared (and later removed), never ../elsewhere.
  if (oldTs && !/^\.\.\d{4}_[\d_.]+$/.test(oldTs)) oldTs = null;
  if (oldTs && sameContent(join(dir, oldTs), files)) return false;

  // 1. the new version in a fresh timestamped directory
  const ts = tsDirName();
  const tsDir = join(dir, ts);
  mkdirSync(tsDir, { mode: 0o755 });
  for (const [p, f] of files) {
    const parts = p.split("/").filter(Boolean);
    let parent = tsDir;
    for (const d of parts.slice(0, -1)) {
      parent = join(parent, d);
      realDir(parent);
    }
    writeNew(join(parent, parts[parts.length - 1]!), f);
  }
  chmodDir(tsDir);
  // 2. swap ..data atomically
  const tmpLink = join(dir, DATA_TMP);
  rmSync(tmpLink, { force: true });
  symlinkSync(ts, tmpLink);
  renameSync(tmpLink, dataLink);

  // 3. user-visible top-level symlinks for every first path element
  const top = new Set([...files.keys()].map((p) => p.split("/")[0]!));
  for (const name of top) {
    const link = join(dir, name);
    let ok = false;
    try {
      ok = lstatSync(link).isSymbolicLink() && readlinkSync(link) === join(DATA, name);
    } catch {
      ok = false;
    }
    if (!ok) {
      rmSync(link, { recursive: true, force: true });
      symlinkSync(join(DATA, name), link);
    }
  }
  // 4. stale top-level links and the old version
  for (const e of readdirSync(dir)) {
    if (e === DATA || e === ts) continue;
    if (e.startsWith("..")) {
      if (e !== DATA_TMP) rmSync(join(dir, e), { recursive: true, force: true });
      continue;
    }
    if (!top.has(e)) rmSync(join(dir, e), { recursive: true, force: true });
  }
  return true;
}

/** Makes `path` a directory, or checks it already is one (not a symlink to one). */
function realDir(path: string): void {
  try {
    mkdirSync(path, { mode: 0o755 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  }
  if (!lstatSync(path).isDirectory()) throw new Error(`${path} is a symlink or not a directory: refusing to write through it`);
}

function chmodDir(path: string): void {
  const fd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  try {
    fchmodSync(fd, 0o755);
  } finally {
    closeSync(fd);
  }
}

/** Creates a file that must not exist yet and is never a symlink's target. */
function writeNew(full: string, f: FileProjection): void {
  const fd = openSync(full, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    const data = typeof f.data === "string" ? Buffer.from(f.data) : f.data;
    for (let off = 0; off < data.length; ) off += writeSync(fd, data, off);
    fchmodSync(fd, f.mode);
    if (f.gid !== undefined) {
      try {
        fchownSync(fd, -1 as unknown as number, f.gid);
      } catch {
        /* best effort */
      }
    }
  } finally {
    closeSync(fd);
  }
}

/** Normalises a projected path for comparisons ("a//b/" → "a/b"). */
export function cleanPath(p: string): string {
  return normalize(p).split(sep).filter(Boolean).join("/");
}

