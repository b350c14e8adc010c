// state.db's table layout and its migrations. Layout 2 (this one) keeps one revision-ordered
// table, the log of every version of every key: the row of revision N holds the object as
// written at N (values inline), the revision it replaced (`prev`), and whether it deleted the
// key. The newest version of each live key is the current state; the rows after the
// compaction point are the watch history; nothing is stored twice. A write appends one row at
// the end of the table (the B-tree's rightmost leaf, shared by the writes of one commit).
// Layout 1 (before) had an `objects` table keyed by name and an `events` table with a second
// copy of each value: two B-trees and a random leaf per write.
import type { Database } from "bun:sqlite";

export const LAYOUT = 2;

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS kv (
  rev INTEGER PRIMARY KEY,
  res TEXT NOT NULL, ns TEXT NOT NULL, name TEXT NOT NULL,
  prev INTEGER NOT NULL,
  del INTEGER NOT NULL,
  value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL) WITHOUT ROWID;
`;

/** The layout of an open state.db: 0 = empty (new), 1 = objects + events, 2 = kv. */
export function layoutOf(db: Database): number {
  const v = db.query<{ user_version: number }, []>("PRAGMA user_version").get()!.user_version;
  if (v) return v;
  const t = db.query<{ name: string }, []>("SELECT name FROM sqlite_master WHERE type = 'table'").all().map((r) => r.name);
  if (t.includes("objects")) return 1;
  if (t.includes("kv")) return 2;
  return 0;
}

export class LayoutError extends Error {}

/**
 * Bring `db` to LAYOUT; returns the layout it had. Layout 1's live objects become the log's
 * rows at their own revisions; its event history is dropped (the compaction point moves to
 * the current revision: a watch from before the upgrade is answered 410 Gone and relists).
 */
export function migrate(db: Database, path: string): number {
  const from = layoutOf(db);
  if (from > LAYOUT) {
    throw new LayoutError(
      `${path} has store layout ${from}, written by a newer Skiff than this one (layout ${LAYOUT}): run that version, or restore a snapshot taken with this one (skiff server --cluster-reset --cluster-reset-restore-path FILE)`,
    );
  }
  if (from === LAYOUT) return from;
  if (from === 1) {
    db.transaction(() => {
      db.exec(SCHEMA);
      db.exec("INSERT INTO kv (rev, res, ns, name, prev, del, value) SELECT rev, res, ns, name, 0, 0, value FROM objects");
      db.exec("DROP TABLE objects");
      db.exec("DROP TABLE events");
      db.exec("INSERT OR REPLACE INTO meta (k, v) SELECT 'compacted', v FROM meta WHERE k = 'rev'");
      db.exec(`PRAGMA user_version = ${LAYOUT}`);
    })();
  } else {
    db.exec(SCHEMA);
    db.exec(`PRAGMA user_version = ${LAYOUT}`);
  }
  // Incremental vacuum needs auto_vacuum chosen before the first table exists, or a VACUUM
  // to switch (databases made before it was set): once, at open, before anything is served.
  if (db.query<{ auto_vacuum: number }, []>("PRAGMA auto_vacuum").get()!.auto_vacuum !== 2) {
    db.exec("PRAGMA auto_vacuum = INCREMENTAL");
    db.exec("VACUUM");
  } else if (from === 1) {
    db.exec("PRAGMA incremental_vacuum");
  }
  return from;
}
