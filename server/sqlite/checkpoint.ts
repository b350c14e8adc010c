// WAL checkpoints of the server's SQLite databases (raft.db and state.db) with the fsyncs off
// the event loop. Shared by the Raft log storage and the store's state machine.
import type { Database } from "bun:sqlite";
import { closeSync, fdatasync, openSync } from "node:fs";

function fdatasyncPath(path: string): Promise<void> {
  const fd = openSync(path, "r");
  return new Promise<void>((resolve, reject) => fdatasync(fd, (e) => (e ? reject(e) : resolve()))).finally(() => closeSync(fd));
}

/**
 * Checkpoint a WAL-mode database without fsyncing on the event loop, in SQLite's own order:
 *   1. the WAL is durable (fdatasync on the thread pool, unless the caller knows it is),
 *   2. its pages are copied into the database (PASSIVE checkpoint with synchronous=OFF: no fsync),
 *   3. the database is durable (fdatasync on the thread pool),
 *   4. the WAL is emptied (TRUNCATE checkpoint: nothing is left to copy) and that is made
 *      durable (fdatasync), so the next write starts a fresh WAL: no stale frames survive that
 *      a crash could replay over newer database pages (SQLite would fsync the header of a
 *      reused WAL for this; here the connections run with synchronous=OFF).
 * The caller must not write to `db` until the promise settles.
 */
export async function checkpointWal(db: Database, dbPath: string, walDurable: boolean, synchronous: "OFF" | "NORMAL" | "FULL"): Promise<void> {
  const wal = `${dbPath}-wal`;
  if (!walDurable) await fdatasyncPath(wal);
  db.exec("PRAGMA synchronous = OFF");
  try {
    db.exec("PRAGMA wal_checkpoint(PASSIVE)");
    await fdatasyncPath(dbPath);
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    await fdatasyncPath(wal);
  } finally {
    db.exec(`PRAGMA synchronous = ${synchronous}`);
  }
}
