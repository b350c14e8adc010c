// Small durable-file helpers for the Raft log directory.
import { closeSync, fsync, fsyncSync, openSync, renameSync, writeFileSync } from "node:fs";

/** fsync a directory so a rename/create/unlink in it is durable. */
export function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    /* not supported on this platform */
  }
}

/** fsyncDir on the thread pool. */
export function fsyncDirAsync(dir: string): Promise<void> {
  let fd: number;
  try {
    fd = openSync(dir, "r");
  } catch {
    return Promise.resolve();
  }
  return new Promise<void>((resolve) => fsync(fd, () => resolve())).finally(() => closeSync(fd));
}

/** Replace `path` atomically by `data`, durable on return (temp file, fsync, rename, fsync dir). */
export function writeFileDurable(path: string, data: Uint8Array | string): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, data);
  const fd = openSync(tmp, "r+");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  fsyncDir(path.slice(0, Math.max(1, path.lastIndexOf("/"))));
}
