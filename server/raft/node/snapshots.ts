// Snapshots as the driver takes them and recovers from them. (Installing one from the
// leader is part of the Ready loop: node.ts installSnapshot.)
import { RaftError } from "../core/types";
import type { RaftNode } from "./node";
import type { Application, LogStorage } from "./types";

/**
 * At start: the index applied so far. An application behind the snapshot (it lost un-fsynced
 * applies, or crashed while installing one) is restored from the snapshot first; the log
 * replays the rest.
 */
export function recoverApplied<B>(storage: LogStorage<B>, app: Application<any, any, B>, log: (m: string) => void): number {
  const snap = storage.snapshot();
  const body = storage.snapshotBody();
  if (snap.metadata.index > app.appliedIndex && body !== undefined) {
    log(`the applied state (at ${app.appliedIndex}) is behind the snapshot at ${snap.metadata.index}: restoring it`);
    app.restore(body);
  }
  // Applied entries are committed: a commit index persisted without fsync may lag them.
  const hs = storage.hardState();
  const applied = app.appliedIndex;
  if (applied > storage.lastIndex()) throw new Error(`the applied index ${applied} is beyond the Raft log (${storage.lastIndex()}): wrong raft.db?`);
  if (applied > hs.commit && hs.term > 0) storage.save({ entries: [], hardState: { ...hs, commit: applied }, mustSync: true });
  return Math.max(applied, snap.metadata.index);
}

/** Snapshot the applied state at the applied index and compact the log behind it (keeping a tail of `keep` entries). */
export function takeSnapshot(node: RaftNode<any, any, any>, keep = node.keepEntries): boolean {
  const { app, storage, clock } = node;
  app.flush();
  const idx = node.applied;
  if (idx <= storage.snapshot().metadata.index) return false;
  const t0 = clock.now();
  const body = app.snapshot(idx);
  const snap = node.raft.createSnapshot(idx, new Uint8Array());
  if (snap instanceof RaftError) {
    node.log(`snapshot at ${idx} skipped: ${snap.message}`);
    return false;
  }
  storage.saveLocalSnapshot(snap.metadata, body, idx - keep);
  node.log(`snapshot at index ${idx} in ${clock.now() - t0} ms; log now ${storage.firstIndex()}..${storage.lastIndex()}`);
  return true;
}

/**
 * Record a snapshot made off the event loop (Application.snapshotAsync) at `idx`, unless the
 * log moved past it meanwhile (a newer snapshot, taken here or installed from the leader).
 */
export function saveTakenSnapshot<B>(node: RaftNode<any, any, B>, idx: number, body: B, startedAt: number): boolean {
  const { storage, clock } = node;
  if (idx <= storage.snapshot().metadata.index || idx > node.applied) return false;
  const snap = node.raft.createSnapshot(idx, new Uint8Array());
  if (snap instanceof RaftError) {
    node.log(`snapshot at ${idx} skipped: ${snap.message}`);
    return false;
  }
  storage.saveLocalSnapshot(snap.metadata, body, idx - node.keepEntries);
  node.log(`snapshot at index ${idx} in ${clock.now() - startedAt} ms (copied off the event loop); log now ${storage.firstIndex()}..${storage.lastIndex()}`);
  return true;
}
