// Node-local files that hold secret material and must never reach the disk: a tmpfs mounted at
// <data-dir>/agent/secrets (mode 0700), like the tmpfs of secret volumes. It outlives an agent
// restart (the mount stays) but not a reboot, which is the point: a stolen, powered-off device
// has nothing to read. Used for the resolved environment of containers that take values from
// Secrets (pod-cache.ts); reusable for other secret material (e.g. ingress TLS keys).
//
// Without a memory-backed root (not root, or mount(8) failed) nothing is written: `write` says
// so with `false` and callers keep the data in process memory only.

import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import { dirname, join, normalize, sep } from "node:path";
import { isMountPoint, mountTmpfs } from "../volumes/mount.ts";

/** statfs f_type of tmpfs and ramfs (linux/magic.h). */
const MEMORY_FS = new Set([0x01021994, 0x858458f6]);
/** Bounds what a runaway writer can take from the node's memory. */
const DEFAULT_SIZE = 64 * 1024 * 1024;

export interface SecretStoreOptions {
  /** Mount the tmpfs when the root is not memory-backed yet (needs CAP_SYS_ADMIN). */
  mount?: boolean;
  sizeBytes?: number;
  log?: (msg: string) => void;
}

export function isMemoryBacked(path: string): boolean {
  try {
    return MEMORY_FS.has(Number(statfsSync(path).type));
  } catch {
    return false;
  }
}

export class SecretStore {
  private constructor(
    readonly root: string,
    private memoryBacked: boolean,
  ) {}

  /** <data-dir>/agent/secrets, mounted as tmpfs when `mount` is set and it is not already. */
  static forDataDir(dataDir: string, opts: SecretStoreOptions = {}): SecretStore {
    return SecretStore.at(join(dataDir, "agent", "secrets"), opts);
  }

  static at(root: string, opts: SecretStoreOptions = {}): SecretStore {
    mkdirSync(root, { recursive: true, mode: 0o700 });
    if (opts.mount && !isMountPoint(root)) {
      try {
        mountTmpfs(root, opts.sizeBytes ?? DEFAULT_SIZE, "0700");
      } catch (e) {
        opts.log?.(`secret store: ${(e as Error).message}; secret-derived data is kept in memory only (lost on agent restart)`);
      }
    }
    return new SecretStore(root, isMemoryBacked(root));
  }

  /** Whether files written here survive an agent restart (they are on tmpfs). */
  get available(): boolean {
    return this.memoryBacked;
  }

  private path(rel: string): string {
    const p = normalize(join(this.root, rel));
    if (!p.startsWith(this.root + sep)) throw new Error(`secret store: ${JSON.stringify(rel)} is outside the store`);
    return p;
  }

  /**
   * Writes atomically (0600). Returns false, writing nothing, when the root is not on tmpfs
   * (checked on every write: an unmounted root is a plain directory on the data dir's disk) or
   * the write fails (the tmpfs is full).
   */
  write(rel: string, data: string | Uint8Array): boolean {
    if (!this.memoryBacked || !isMemoryBacked(this.root)) {
      this.memoryBacked = false;
      return false;
    }
    const p = this.path(rel);
    const tmp = `${p}.tmp`;
    try {
      mkdirSync(dirname(p), { recursive: true, mode: 0o700 });
      writeFileSync(tmp, data, { mode: 0o600 });
      chmodSync(tmp, 0o600);
      renameSync(tmp, p);
      return true;
    } catch {
      // full (ENOSPC): the caller keeps the data in memory; a container must not fail for it
      rmSync(tmp, { force: true });
      return false;
    }
  }

  read(rel: string): Buffer | null {
    const p = this.path(rel);
    try {
      return readFileSync(p);
    } catch {
      return null;
    }
  }

  /** Removes a file or a whole directory. */
  remove(rel: string): void {
    rmSync(this.path(rel), { recursive: true, force: true });
  }
}
