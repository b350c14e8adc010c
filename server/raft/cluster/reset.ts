// `skiff server --cluster-reset [--cluster-reset-restore-path FILE]` (K3s semantics): after a
// lost quorum, this server becomes a cluster of one with all its data (etcd's
// --force-new-cluster), or with a snapshot's data; other servers then join it the usual way.
// Runs before the server starts (nothing else has the data dir open):
//   1. the state: this server's state.db brought up to everything in its log (a snapshot
//      behind it restored first): what Raft would commit if this server won an election; or the snapshot file's database and sealed secrets
//      (the cluster CA, token keys, <data-dir>/server/cred/) when restoring;
//   2. the other servers' address-book entries are deleted (as one more applied entry, so the
//      new history starts with it);
//   3. the old Raft log is kept aside (raft-old-<unix time>) and a new one starts from a
//      snapshot of that state, with this server its only voter, under a new cluster id.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import { AppliedState } from "../../store/applied-state";
import { extractDb, readHeader, type SnapshotHeader } from "../../store/backup/archive";
import { openBundle, writeBundle } from "../../store/backup/bundle";
import type { Command } from "../../store/commands";
import { LAYOUT } from "../../store/state-schema";
import { SegmentLogStorage } from "../storage/segment-log";
import { MEMBERS_RES } from "./members";
import { decodeCommands } from "./store-app";

export interface ResetOptions {
  /** <data-dir>/server */
  serverDir: string;
  /** A snapshot file to restore (`skiff snapshot save`). */
  restorePath?: string;
  /** The server token (to open the snapshot's secrets); default <serverDir>/token. */
  token?: string;
  log?: (m: string) => void;
}

export interface ResetResult {
  id: number;
  index: number;
  rev: number;
  /** Objects kept (live keys). */
  objects: number;
  restored?: SnapshotHeader;
  oldRaftDir?: string;
}

const randomId = (): number => {
  const b = crypto.getRandomValues(new Uint32Array(2));
  return (b[0]! & 0xffff) * 2 ** 32 + b[1]! || 1;
};

export class ResetError extends Error {}

export async function clusterReset(o: ResetOptions): Promise<ResetResult> {
  const log = o.log ?? ((m: string) => console.log(m));
  const dbDir = join(o.serverDir, "db");
  const raftDir = join(o.serverDir, "raft");
  const stamp = String(Math.floor(Date.now() / 1000));
  let restored: SnapshotHeader | undefined;

  if (o.restorePath) {
    // Check everything before changing anything: the file, its layout, the token.
    if (!existsSync(o.restorePath)) throw new ResetError(`--cluster-reset-restore-path ${o.restorePath}: no such file`);
    const h = await readHeader(o.restorePath);
    if (h.layout > LAYOUT) throw new ResetError(`${o.restorePath} was taken by a newer Skiff (store layout ${h.layout}, this one reads up to ${LAYOUT})`);
    let files: Awaited<ReturnType<typeof openBundle>> | undefined;
    if (h.secrets) {
      const tokenFile = join(o.serverDir, "token");
      const token = o.token ?? (existsSync(tokenFile) ? readFileSync(tokenFile, "utf8").trim() : undefined);
      if (!token) throw new ResetError(`restoring ${o.restorePath} needs the server token of the cluster it was taken from (--token): it seals the cluster's CA and keys`);
      files = await openBundle(h.secrets, token);
    }
    const db = join(dbDir, "state.db");
    if (existsSync(db)) {
      // Kept, with its WAL (committed data may still be only there), until the user removes it.
      for (const sfx of ["", "-wal", "-shm"]) if (existsSync(db + sfx)) renameSync(db + sfx, join(dbDir, `state-before-restore-${stamp}.db${sfx}`));
      log(`cluster reset: the current state.db is kept as ${join(dbDir, `state-before-restore-${stamp}.db`)}`);
    }
    mkdirSync(dbDir, { recursive: true, mode: 0o700 });
    restored = await extractDb(o.restorePath, db);
    if (files) writeBundle(o.serverDir, files, stamp);
    log(`cluster reset: restored ${o.restorePath} (taken ${restored.created} on ${restored.node}, revision ${restored.rev})${files ? `, with ${files.size} secret files` : ""}`);
  }

  let id = 0;
  let term = 1;
  let oldRaftDir: string | undefined;
  const state = new AppliedState({ dataDir: dbDir });
  try {
    if (existsSync(raftDir)) {
      const old = new SegmentLogStorage(raftDir);
      try {
        id = Number(old.getMeta("id") ?? 0);
        term = Math.max(term, old.hardState().term);
        if (!restored) catchUp(state, old, log);
      } finally {
        old.close();
      }
    }
    id ||= randomId();
    // The others' address-book entries go: they are not members any more.
    const gone: Command[] = state
      .objects(MEMBERS_RES)
      .filter((m) => m?.spec?.id !== id)
      .map((m) => ({ op: "delete", res: MEMBERS_RES, ns: "", name: String(m.metadata.name) }));
    const index = state.appliedIndex + 1;
    state.applyEntry(index, gone);
    state.commit();
    if (existsSync(raftDir)) {
      oldRaftDir = `${raftDir}-old-${stamp}`;
      renameSync(raftDir, oldRaftDir);
    }
    const storage = new SegmentLogStorage(raftDir);
    try {
      const copy = join(raftDir, `vacuum-${index}.db`);
      state.sm.copyTo(copy);
      const fd = openSync(copy, "r");
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      storage.resetToSnapshot({ index, term, confState: { voters: [id], learners: [] } }, copy, term);
      storage.setMeta("id", String(id));
      storage.setMeta("cluster", crypto.randomUUID());
    } finally {
      storage.close();
    }
    const r: ResetResult = { id, index, rev: state.rev, objects: state.sm.liveKeys, restored, oldRaftDir };
    log(
      `cluster reset: this server (id ${id.toString(16)}) is now the only member, at index ${index}, revision ${r.rev}, ${r.objects} objects${gone.length ? `; ${gone.length} other servers removed from the address book` : ""}${oldRaftDir ? `; the old Raft log is kept in ${oldRaftDir}` : ""}. Other servers join again with --server and --token (from an empty --data-dir).`,
    );
    return r;
  } finally {
    state.close();
  }
}

/**
 * Apply the old log's entries beyond state.db (restoring its snapshot first if state.db is
 * behind it). All of them, not only up to the persisted commit index: it may lag what was
 * committed (and acknowledged), and a leader elected with this log would commit every entry
 * in it too.
 */
function catchUp(state: AppliedState, log: SegmentLogStorage, say: (m: string) => void): void {
  const snap = log.snapshot();
  const body = log.snapshotBody();
  if (snap.metadata.index > state.appliedIndex && body) {
    say(`cluster reset: state.db (at ${state.appliedIndex}) is behind the Raft snapshot at ${snap.metadata.index}: restoring it first`);
    state.restoreFrom(body);
  }
  const commit = log.lastIndex();
  const from = state.appliedIndex + 1;
  if (from > commit) return;
  if (from <= snap.metadata.index) throw new ResetError(`state.db is at ${state.appliedIndex} but the Raft log starts after ${snap.metadata.index}: cannot catch up`);
  let n = 0;
  for (let i = from; i <= commit; i += 1000) {
    for (const e of log.entries(i, Math.min(commit, i + 999) + 1, Infinity)) {
      state.applyEntry(e.index, e.type === "conf" ? [] : decodeCommands(e.data));
      n++;
    }
    state.commit();
  }
  say(`cluster reset: applied ${n} entries from the Raft log (up to ${commit})`);
}
