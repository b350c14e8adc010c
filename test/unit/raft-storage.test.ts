// SegmentLogStorage (the raft/ segment files): the durable half of the Ready contract.
import { afterEach, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { appendFileSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CompactedError } from "../../server/raft/core/storage";
import type { Entry } from "../../server/raft/core/types";
import { SegmentLogStorage } from "../../server/raft/storage/segment-log";

const dirs: string[] = [];
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), "skiff-raftdb-"));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const te = new TextEncoder();
const ent = (index: number, term: number, data = `e${index}t${term}`, type: Entry["type"] = "normal"): Entry => ({ index, term, type, data: te.encode(data) });
const range = (lo: number, hi: number, term: number) => Array.from({ length: hi - lo + 1 }, (_, i) => ent(lo + i, term));
const view = (s: SegmentLogStorage) => s.entries(s.firstIndex(), s.lastIndex() + 1, Infinity).map((e) => `${e.index}/${e.term}/${e.type}/${new TextDecoder().decode(e.data)}`);

describe("raft log storage", () => {
  test("append, overwrite a conflicting suffix, reopen", () => {
    const dir = fresh();
    let s = new SegmentLogStorage(dir);
    expect(s.isEmpty()).toBe(true);
    s.save({ entries: [...range(1, 5, 1), ent(6, 1, "conf", "conf")], mustSync: true });
    expect(s.lastIndex()).toBe(6);
    // A new leader's entries from index 4 replace 4..6 (and drop everything after them).
    s.save({ entries: range(4, 5, 2), mustSync: true });
    const want = ["1/1/normal/e1t1", "2/1/normal/e2t1", "3/1/normal/e3t1", "4/2/normal/e4t2", "5/2/normal/e5t2"];
    expect(view(s)).toEqual(want);
    expect(s.term(5)).toBe(2);
    expect(s.term(0)).toBe(0);
    expect(() => s.save({ entries: [ent(9, 2)], mustSync: true })).toThrow(/missing log entry/);
    s.close();
    s = new SegmentLogStorage(dir);
    expect(view(s)).toEqual(want);
    s.save({ entries: [ent(6, 2, "conf", "conf")], mustSync: true });
    s.close();
    s = new SegmentLogStorage(dir);
    expect(s.entries(6, 7, Infinity)[0]!.type).toBe("conf");
    s.close();
  });

  test("hard state and node metadata survive a reopen; commit-only writes need no sync", () => {
    const dir = fresh();
    let s = new SegmentLogStorage(dir);
    expect(s.write({ entries: [], hardState: { term: 3, vote: 7, commit: 0 }, mustSync: true })).toBe(true);
    s.sync();
    expect(s.write({ entries: [], hardState: { term: 3, vote: 7, commit: 0 }, mustSync: false })).toBe(false);
    expect(s.write({ entries: [], mustSync: true })).toBe(false); // nothing to write
    s.setMeta("id", "42");
    s.close();
    s = new SegmentLogStorage(dir);
    expect(s.initialState().hardState).toEqual({ term: 3, vote: 7, commit: 0 });
    expect(s.getMeta("id")).toBe("42");
    expect(s.isEmpty()).toBe(false);
    s.close();
  });

  test("local snapshot compacts the log behind it (keeping a tail); reopen sees the same", () => {
    const dir = fresh();
    let s = new SegmentLogStorage(dir);
    s.save({ entries: range(1, 20, 1).concat(range(21, 30, 2)), hardState: { term: 2, vote: 1, commit: 30 }, mustSync: true });
    const body = join(dir, "vacuum-25.db");
    writeFileSync(body, "state at 25");
    s.saveLocalSnapshot({ index: 25, term: 2, confState: { voters: [1, 2, 3], learners: [] } }, body, 22);
    expect(s.firstIndex()).toBe(23);
    expect(s.term(22)).toBe(2); // the compaction point keeps its term
    expect(() => s.term(21)).toThrow(CompactedError);
    expect(() => s.entries(22, 24, Infinity)).toThrow(CompactedError);
    expect(s.snapshot().metadata).toEqual({ index: 25, term: 2, confState: { voters: [1, 2, 3], learners: [] } });
    expect(new TextDecoder().decode(s.snapshot().data)).toBe("state at 25");
    expect(existsSync(body)).toBe(false);
    s.close();
    s = new SegmentLogStorage(dir);
    expect(s.firstIndex()).toBe(23);
    expect(s.lastIndex()).toBe(30);
    expect(s.term(22)).toBe(2);
    expect(s.snapshot().metadata.index).toBe(25);
    expect(s.snapshotBody()).toBe(s.snapPath(25));
    // Saving entries that are all behind the compaction point is a no-op, not an error.
    s.save({ entries: range(5, 10, 1), mustSync: true });
    expect(s.firstIndex()).toBe(23);
    s.close();
  });

  test("a snapshot from the leader replaces the whole log", () => {
    const dir = fresh();
    let s = new SegmentLogStorage(dir);
    s.save({ entries: range(1, 10, 1), mustSync: true });
    const file = s.applySnapshot({ metadata: { index: 100, term: 5, confState: { voters: [1], learners: [2] } }, data: te.encode("leader state") });
    expect(file).toBe(s.snapPath(100));
    expect(s.firstIndex()).toBe(101);
    expect(s.lastIndex()).toBe(100);
    expect(s.term(100)).toBe(5);
    s.save({ entries: [ent(101, 5)], mustSync: true });
    s.close();
    s = new SegmentLogStorage(dir);
    expect(view(s)).toEqual(["101/5/normal/e101t5"]);
    expect(new TextDecoder().decode(s.snapshot().data)).toBe("leader state");
    expect(() => s.applySnapshot({ metadata: { index: 50, term: 5, confState: { voters: [1], learners: [] } }, data: te.encode("old") })).toThrow(/out of date/);
    s.close();
  });

  test("one Ready = one record: a failing write leaves log and hard state untouched", () => {
    const dir = fresh();
    let s = new SegmentLogStorage(dir);
    s.save({ entries: range(1, 5, 1), hardState: { term: 1, vote: 0, commit: 2 }, mustSync: true });
    // Truncation of 3..5 + hard state + a bad entry (no data): all or nothing.
    const bad = { index: 4, term: 2, type: "normal", data: null } as unknown as Entry;
    expect(() => s.save({ entries: [ent(3, 2), bad], hardState: { term: 2, vote: 9, commit: 2 }, mustSync: true })).toThrow();
    const want = range(1, 5, 1).map((e) => `${e.index}/1/normal/e${e.index}t1`);
    expect(view(s)).toEqual(want);
    expect(s.hardState()).toEqual({ term: 1, vote: 0, commit: 2 });
    s.close();
    s = new SegmentLogStorage(dir);
    expect(view(s)).toEqual(want);
    expect(s.hardState()).toEqual({ term: 1, vote: 0, commit: 2 });
    s.close();
  });

  test("synced writes survive kill -9 (no close, no checkpoint)", async () => {
    const dir = fresh();
    const script = join(dir, "writer.ts");
    writeFileSync(
      script,
      `import { SegmentLogStorage } from ${JSON.stringify(join(import.meta.dir, "../../server/raft/storage/segment-log"))};
const s = new SegmentLogStorage(${JSON.stringify(join(dir, "raft"))});
const te = new TextEncoder();
for (let i = 1; i <= 200; i++) {
  s.write({ entries: [{ index: i, term: 1 + (i >> 6), type: "normal", data: te.encode("x".repeat(i)) }], hardState: { term: 1 + (i >> 6), vote: 1, commit: i - 1 }, mustSync: true });
  if (i % 2) s.sync(); else await s.syncAsync();
}
process.kill(process.pid, "SIGKILL");`,
    );
    const p = Bun.spawn([process.execPath, script], { stdout: "ignore", stderr: "pipe" });
    expect(await p.exited).not.toBe(0);
    const s = new SegmentLogStorage(join(dir, "raft"));
    expect(s.lastIndex()).toBe(200);
    expect(s.hardState()).toEqual({ term: 4, vote: 1, commit: 199 });
    expect(s.entries(200, 201, Infinity)[0]!.data.length).toBe(200);
    s.close();
  });

  test("segments rotate; compacted ones are deleted; a reopen replays the rest", async () => {
    const dir = fresh();
    let s = new SegmentLogStorage(dir);
    s.segmentBytes = 64 << 10;
    const big = "y".repeat(4000);
    const segs = () => readdirSync(dir).filter((f) => f.endsWith(".log")).length;
    for (let i = 1; i <= 100; i++) {
      if (s.write({ entries: [ent(i, 1, big)], hardState: i === 50 ? { term: 1, vote: 3, commit: 40 } : undefined, mustSync: true })) await s.syncAsync();
      if (s.checkpointDue()) await s.checkpointAsync();
    }
    expect(segs()).toBeGreaterThan(5);
    // Compaction (a local snapshot) lets the older segments go at the next rotation.
    writeFileSync(join(dir, "vacuum-90.db"), "state at 90");
    s.saveLocalSnapshot({ index: 90, term: 1, confState: { voters: [1], learners: [] } }, join(dir, "vacuum-90.db"), 80);
    expect(s.checkpointDue()).toBe(true);
    await s.checkpointAsync();
    // 16 entries per segment: 81..100 span two, plus the new one.
    expect(segs()).toBeLessThanOrEqual(3);
    s.save({ entries: [ent(101, 1)], mustSync: true });
    s.close();
    s = new SegmentLogStorage(dir);
    expect(s.firstIndex()).toBe(81);
    expect(s.term(80)).toBe(1);
    expect(s.lastIndex()).toBe(101);
    expect(s.entries(85, 86, Infinity)[0]!.data.length).toBe(4000);
    expect(s.hardState()).toEqual({ term: 1, vote: 3, commit: 40 });
    expect(s.snapshot().metadata.index).toBe(90);
    s.close();
  });

  test("a torn tail (power loss during a write) is cut off; the records before it stay", () => {
    const dir = fresh();
    let s = new SegmentLogStorage(dir);
    s.preallocBytes = 0; // a segment as written before preallocation: the torn record ends the file
    s.save({ entries: range(1, 10, 1), hardState: { term: 1, vote: 1, commit: 5 }, mustSync: true });
    s.save({ entries: range(11, 12, 1), mustSync: true });
    s.close();
    const seg = join(dir, readdirSync(dir).find((f) => f.endsWith(".log"))!);
    const full = statSync(seg).size;
    // Half of the last record made it to disk, then garbage that looks like a header.
    truncateSync(seg, full - 20);
    appendFileSync(seg, new Uint8Array([200, 0, 0, 0, 1, 2, 3, 4, 9, 9, 9]));
    s = new SegmentLogStorage(dir);
    expect(s.lastIndex()).toBe(10);
    expect(s.hardState()).toEqual({ term: 1, vote: 1, commit: 5 });
    s.save({ entries: [ent(11, 2)], mustSync: true });
    s.close();
    s = new SegmentLogStorage(dir);
    expect(view(s).slice(-2)).toEqual(["10/1/normal/e10t1", "11/2/normal/e11t2"]);
    s.close();
  });

  test("a raft.db from before the segment log is migrated: entries, hard state, compaction point, node metadata", () => {
    const dir = fresh();
    const db = new Database(join(dir, "raft.db"), { create: true });
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("CREATE TABLE entries (idx INTEGER PRIMARY KEY, term INTEGER NOT NULL, conf INTEGER NOT NULL, data BLOB NOT NULL); CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID;");
    const ins = db.query("INSERT INTO entries VALUES (?, ?, ?, ?)");
    for (let i = 3; i <= 12; i++) ins.run(i, i < 8 ? 1 : 2, i === 9 ? 1 : 0, te.encode(`e${i}`));
    const meta = db.query("INSERT INTO meta VALUES (?, ?)");
    meta.run("hardstate", JSON.stringify({ term: 2, vote: 7, commit: 11 }));
    meta.run("snapshot", JSON.stringify({ index: 6, term: 1, confState: { voters: [7], learners: [] } }));
    meta.run("offset", JSON.stringify({ index: 4, term: 1 }));
    meta.run("x:id", "7");
    meta.run("x:cluster", "c-1");
    db.close();
    const s = new SegmentLogStorage(dir);
    expect(existsSync(join(dir, "raft.db"))).toBe(false);
    expect(s.firstIndex()).toBe(5);
    expect(s.term(4)).toBe(1);
    expect(s.lastIndex()).toBe(12);
    expect(s.entries(9, 10, Infinity)[0]!.type).toBe("conf");
    expect(s.hardState()).toEqual({ term: 2, vote: 7, commit: 11 });
    expect(s.snapshot().metadata).toEqual({ index: 6, term: 1, confState: { voters: [7], learners: [] } });
    expect(s.getMeta("id")).toBe("7");
    expect(s.getMeta("cluster")).toBe("c-1");
    s.close();
  });
});
