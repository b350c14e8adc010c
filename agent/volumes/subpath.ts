// volumeMounts[].subPath without following symlinks out of the volume (kubelet's fix for
// CVE-2017-1002101). A container that can write into a volume can plant a symlink there
// (`ln -s / vol/x`); bind-mounting vol/x for the next container would hand it the host's root.
// So, like kubelet's doBindSubPath:
//   1. the path, symlinks resolved, must stay inside the volume ("not within volume path");
//   2. it is opened one component at a time with O_NOFOLLOW (openat through /proc/self/fd), so a
//      symlink swapped in after step 1 is refused instead of followed;
//   3. the open fd (/proc/<agent pid>/fd/N, never the path again) is bind-mounted on a
//      per-container target under the pod's directory, and that target is what the container
//      mounts. A missing subPath is created as a directory the same careful way.
// subPathExpr is expanded from the container's environment as kubelet does ($(VAR), $$).
import { closeSync, constants, existsSync, fstatSync, mkdirSync, openSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { isAbsolute, join, relative, sep } from "node:path";
import { runSync } from "../cmd.ts";
import { expand } from "../pods/env.ts";
import { isMountPoint, unmount } from "./mount.ts";

export class SubPathError extends Error {
  override name = "SubPathError";
}

/** Not exported by node:fs; the same value on every Linux architecture Bun runs on. */
const O_PATH = 0o10000000;
const DIR_FLAGS = O_PATH | constants.O_NOFOLLOW | constants.O_DIRECTORY;
const LEAF_FLAGS = O_PATH | constants.O_NOFOLLOW;

/** kubelet's ExpandContainerVolumeMounts: every variable must be set and non-empty. */
export function expandSubPathExpr(expr: string, env: { key: string; value: string }[]): string {
  const m = new Map(env.map((e) => [e.key, e.value]));
  const missing = new Set<string>();
  const out = expand(expr, (k) => {
    const v = m.get(k);
    if (!v) missing.add(k);
    return v ?? "";
  });
  if (missing.size) throw new SubPathError(`missing value for ${[...missing].sort().join(", ")}`);
  return out;
}

/** The checks kubelet makes on the (expanded) subPath itself. */
export function checkSubPath(subPath: string): void {
  if (isAbsolute(subPath)) throw new SubPathError(`SubPath "${subPath}" must not be an absolute path`);
  if (subPath.split("/").includes("..")) throw new SubPathError(`SubPath "${subPath}" must not contain '..'`);
}

const fdPath = (fd: number) => `/proc/self/fd/${fd}`;

/** Opens base/rel one component at a time, refusing any symlink; returns an O_PATH fd. */
export function openWithin(base: string, rel: string, create = false): number {
  let fd = openSync(base, DIR_FLAGS);
  const parts = rel.split("/").filter((p) => p && p !== ".");
  try {
    for (let i = 0; i < parts.length; i++) {
      const last = i === parts.length - 1;
      const at = `${fdPath(fd)}/${parts[i]}`;
      const flags = last ? LEAF_FLAGS : DIR_FLAGS;
      const refuse = () => new SubPathError(`${join(base, ...parts.slice(0, i + 1))} is a symlink or not a directory: subPath does not follow symlinks`);
      let next: number;
      try {
        next = openSync(at, flags);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "ELOOP" || code === "ENOTDIR") throw refuse();
        if (code !== "ENOENT" || !create) throw e;
        try {
          // mkdir does not follow a symlink in its last component (EEXIST): the open refuses it.
          mkdirSync(at, { mode: 0o755 });
        } catch (e2) {
          if ((e2 as NodeJS.ErrnoException).code !== "EEXIST") throw e2;
        }
        try {
          next = openSync(at, flags);
        } catch (e3) {
          const c3 = (e3 as NodeJS.ErrnoException).code;
          throw c3 === "ELOOP" || c3 === "ENOTDIR" ? refuse() : e3;
        }
      }
      closeSync(fd);
      fd = next;
    }
    // O_PATH|O_NOFOLLOW opens a final symlink itself rather than failing.
    if (parts.length && (fstatSync(fd).mode & constants.S_IFMT) === constants.S_IFLNK) throw new SubPathError(`${join(base, ...parts)} is a symlink, which subPath does not follow`);
    return fd;
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

export interface SubPathMount {
  /** The volume's host directory. */
  volumePath: string;
  volumeName: string;
  /** The subPath, already expanded. */
  subPath: string;
  /** <pod dir>; the bind target goes under volume-subpaths/ there. */
  podDir: string;
  container: string;
  /** Index of the mount in the container's volumeMounts (upstream's layout). */
  index: number;
}

/** The host path to give the container for this mount: a bind mount of exactly the subPath. */
export function prepareSubPath(m: SubPathMount): string {
  checkSubPath(m.subPath);
  const base = realpathSync(m.volumePath);
  // Created when missing (kubelet's SafeMakeDir), never through a symlink.
  if (!existsSync(join(base, m.subPath))) {
    try {
      closeSync(openWithin(base, m.subPath, true));
    } catch (e) {
      // A dangling symlink exists without existing: resolving it below says what is wrong.
      if (!(e instanceof SubPathError)) throw e;
    }
  }
  let resolved: string;
  try {
    resolved = realpathSync(join(base, m.subPath));
  } catch (e) {
    throw new SubPathError(`cannot resolve subPath "${m.subPath}": ${(e as Error).message}`);
  }
  const rel = relative(base, resolved);
  if (rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel)) throw new SubPathError(`subpath "${resolved}" not within volume path "${base}"`);
  const fd = openWithin(base, rel);
  try {
    const isDir = (fstatSync(fd).mode & constants.S_IFMT) === constants.S_IFDIR;
    const target = join(m.podDir, "volume-subpaths", m.volumeName, m.container, String(m.index));
    if (isMountPoint(target)) unmount(target);
    mkdirSync(join(target, ".."), { recursive: true, mode: 0o750 });
    rmSync(target, { recursive: true, force: true });
    if (isDir) mkdirSync(target, { mode: 0o750 });
    else writeFileSync(target, "", { mode: 0o640 });
    // --no-canonicalize: mount(2) must resolve /proc/PID/fd/N itself (to the open file), not a path.
    const r = runSync(["mount", "--no-canonicalize", "--bind", `/proc/${process.pid}/fd/${fd}`, target]);
    if (!r.ok) throw new SubPathError(`bind-mount of subPath "${m.subPath}" failed: ${r.err}`);
    return target;
  } finally {
    closeSync(fd);
  }
}
