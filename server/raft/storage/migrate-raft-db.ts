// One-time migration of a Raft log kept in raft.db (SQLite, Skiff before the segment log)
// to a segment file: the same entries, hard state, compaction point and snapshot metadata,
// and node.json for the node's own metadata. raft.db is removed only once the segment is
// durable; a crash before that leaves raft.db to migrate again at the next start.
import { Database } from "bun:sqlite";
import { closeSync, existsSync, fdatasyncSync, openSync, readdirSync, renameSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { Entry, HardState, SnapshotMetadata } from "../core/types";
import { fsyncDir, writeFileDurable } from "./files";
import { encodeRecord, READY, STATE } from "./wal-format";

/** Migrate <dir>/raft.db if there is one and no segment yet; returns whether it did. */
export function migrateRaftDb(dir: string): boolean {
  const dbPath = join(dir, "raft.db");
  if (!existsSync(dbPath)) return false;
  if (readdirSync(dir).some((f) => /^wal-[0-9a-f]{16}\.log$/.test(f))) {
    // A migration that stopped after its segment became durable: finish it.
    for (const f of ["raft.db", "raft.db-wal", "raft.db-shm"]) rmSync(join(dir, f), { force: true });
    fsyncDir(dir);
    return false;
  }
  const db = new Database(dbPath, { readonly: false });
  let meta: Map<string, string>;
  let rows: { idx: number; term: number; conf: number; data: Uint8Array }[];
  try {
    meta = new Map(db.query<{ k: string; v: string }, []>("SELECT k, v FROM meta").all().map((r) => [r.k, r.v]));
    rows = db.query<{ idx: number; term: number; conf: number; data: Uint8Array }, []>("SELECT idx, term, conf, data FROM entries ORDER BY idx").all();
  } finally {
    db.close();
  }
  const hs: HardState = meta.has("hardstate") ? JSON.parse(meta.get("hardstate")!) : { term: 0, vote: 0, commit: 0 };
  const snap: SnapshotMetadata = meta.has("snapshot") ? JSON.parse(meta.get("snapshot")!) : { index: 0, term: 0, confState: { voters: [], learners: [] } };
  const offset: { index: number; term: number } = meta.has("offset") ? JSON.parse(meta.get("offset")!) : { index: snap.index, term: snap.term };
  const node: Record<string, string> = {};
  for (const [k, v] of meta) if (k.startsWith("x:")) node[k.slice(2)] = v;

  const entries: Entry[] = rows
    .filter((r) => r.idx > offset.index)
    .map((r) => ({ index: r.idx, term: r.term, type: r.conf ? "conf" : "normal", data: new Uint8Array(r.data) }));
  const tmp = join(dir, "wal-0000000000000001.log.tmp");
  const fd = openSync(tmp, "w", 0o600);
  try {
    let crc = 0;
    let pos = 0;
    const put = (rec: Parameters<typeof encodeRecord>[0]) => {
      const r = encodeRecord(rec, crc);
      writeSync(fd, r.bytes, 0, r.bytes.length, pos);
      pos += r.bytes.length;
      crc = r.crc;
    };
    put({ type: STATE, reset: false, hs, snap, offset });
    // Records of at most ~4 MB each.
    for (let i = 0; i < entries.length; ) {
      let bytes = 0;
      let j = i;
      while (j < entries.length && (j === i || bytes + entries[j]!.data.length < 4 << 20)) bytes += entries[j++]!.data.length;
      put({ type: READY, entries: entries.slice(i, j) });
      i = j;
    }
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
  writeFileDurable(join(dir, "node.json"), JSON.stringify(node));
  renameSync(tmp, join(dir, "wal-0000000000000001.log"));
  fsyncDir(dir);
  for (const f of ["raft.db", "raft.db-wal", "raft.db-shm"]) rmSync(join(dir, f), { force: true });
  fsyncDir(dir);
  console.log(`raft: moved the log from raft.db to segment files (${entries.length} entries after index ${offset.index})`);
  return true;
}
