// After a re-encryption, the old forms of the Secrets (in clear, or sealed with a retired key)
// must not stay on this server's disk: not as history rows of state.db, nor in its free pages or
// WAL, nor in older snapshots or the Raft log. Each server purges its own files when it applies
// the keyring that ends a re-encryption. Watches from before the purge get 410 Gone and relist.
import type { Database } from "bun:sqlite";
import type { Store } from "../store/store";

export interface PurgeTargets {
  store: Store;
  /** Snapshot the applied state now and compact the Raft log behind it, keeping `keep` entries. */
  snapshot?: (keep: number) => boolean;
  /** The Raft log's SQLite file, when the log is one (its freed pages are rewritten too). */
  logDb?: Database;
  /** A log in segment files: start a new segment and delete those holding only compacted entries. */
  rollLog?: () => Promise<void>;
}

/** Rewrite a SQLite file without its free pages and empty its WAL. */
async function rewrite(db: Database, before?: () => void): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      // state.db's owner keeps an apply transaction open between commits (AppliedState.applyCommitted).
      before?.();
      db.exec("VACUUM");
      db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
      return;
    } catch (e) {
      // Busy with a checkpoint or a transaction of its owner: try again shortly.
      if (i === 50) throw e;
      await Bun.sleep(100);
    }
  }
}

export async function purgeHistory(t: PurgeTargets): Promise<void> {
  const t0 = performance.now();
  const sm = t.store.sm;
  const upTo = sm.rev;
  for (let i = 0; sm.compacted < upTo && i < 10_000; i++) if (sm.compact(upTo, 5000) === 0) await Bun.sleep(50);
  await rewrite(sm.db, () => t.store.state.commit());
  // Entries written meanwhile go to a new segment, the snapshot compacts everything before it,
  // and the second roll deletes the old segments.
  if (t.rollLog) await t.rollLog();
  if (t.snapshot) t.snapshot(0);
  if (t.rollLog) await t.rollLog();
  if (t.logDb) await rewrite(t.logDb);
  console.log(`secrets encryption: old secret versions erased from state.db, snapshots and the Raft log up to revision ${upTo} (${Math.round(performance.now() - t0)} ms)`);
}
