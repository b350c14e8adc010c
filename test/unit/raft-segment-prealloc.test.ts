// Preallocated Raft log segments (segment-log.ts): zeros ahead of the records, so a record's
// fdatasync does not also commit the filesystem journal. Recovery must read the zeros as the
// end of the log, and a torn record inside the preallocated part must end it too (and be
// zeroed, so that no remnant follows the records written after it).
import { afterEach, expect, test } from "bun:test";
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Entry } from "../../server/raft/core/types";
import { PREALLOC_CHUNK, SegmentLogStorage } from "../../server/raft/storage/segment-log";
import { decodeRecords } from "../../server/raft/storage/wal-format";

const dirs: string[] = [];
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), "skiff-prealloc-"));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const te = new TextEncoder();
const ent = (index: number, term: number, data = `e${index}t${term}`): Entry => ({ index, term, type: "normal", data: te.encode(data) });
const range = (lo: number, hi: number, term: number) => Array.from({ length: hi - lo + 1 }, (_, i) => ent(lo + i, term));
const segFiles = (dir: string) => readdirSync(dir).filter((f) => f.endsWith(".log")).sort().map((f) => join(dir, f));
/** Where the valid records of a segment end. */
const dataEnd = (file: string) => decodeRecords(new Uint8Array(readFileSync(file))).end;
const poke = (file: string, at: number, bytes: number[]) => {
  const fd = openSync(file, "r+");
  writeSync(fd, new Uint8Array(bytes), 0, bytes.length, at);
  closeSync(fd);
};

test("a segment is preallocated with zeros, and keeps its size while records are appended", () => {
  const dir = fresh();
  const s = new SegmentLogStorage(dir);
  s.save({ entries: range(1, 3, 1), hardState: { term: 1, vote: 1, commit: 1 }, mustSync: true });
  const [seg] = segFiles(dir);
  const size = statSync(seg!).size;
  expect(size).toBeGreaterThanOrEqual(PREALLOC_CHUNK);
  const end = dataEnd(seg!);
  expect(end).toBeLessThan(1000);
  expect(new Uint8Array(readFileSync(seg!)).subarray(end).every((b) => b === 0)).toBe(true);
  for (let i = 4; i <= 50; i++) s.save({ entries: [ent(i, 1)], mustSync: true });
  // The records went into the zeros: no growth of the file (no size change to journal).
  expect(statSync(seg!).size).toBe(size);
  expect(dataEnd(seg!)).toBeGreaterThan(end);
  s.close();
});

test("zeros after the last record read as the end of the log; appending after a reopen continues the CRC chain", () => {
  const dir = fresh();
  let s = new SegmentLogStorage(dir);
  s.save({ entries: range(1, 10, 1), hardState: { term: 1, vote: 1, commit: 8 }, mustSync: true });
  s.close();
  s = new SegmentLogStorage(dir);
  expect(s.lastIndex()).toBe(10);
  expect(s.hardState()).toEqual({ term: 1, vote: 1, commit: 8 });
  s.save({ entries: range(11, 12, 2), mustSync: true });
  s.close();
  const [seg] = segFiles(dir);
  expect(statSync(seg!).size).toBeGreaterThanOrEqual(PREALLOC_CHUNK);
  s = new SegmentLogStorage(dir);
  expect(s.lastIndex()).toBe(12);
  expect(s.term(12)).toBe(2);
  s.close();
});

test("the zeros are extended ahead as the records approach them", () => {
  const dir = fresh();
  const s = new SegmentLogStorage(dir);
  const big = "z".repeat(64 << 10);
  for (let i = 1; i <= 24; i++) s.save({ entries: [ent(i, 1, big)], mustSync: true }); // 1.5 MiB
  const [seg] = segFiles(dir);
  const end = dataEnd(seg!);
  expect(end).toBeGreaterThan(PREALLOC_CHUNK);
  // At least half a chunk of zeros ahead, at most a chunk.
  expect(statSync(seg!).size - end).toBeGreaterThanOrEqual(PREALLOC_CHUNK >> 1);
  expect(statSync(seg!).size - end).toBeLessThanOrEqual(PREALLOC_CHUNK);
  s.close();
  const r = new SegmentLogStorage(dir);
  expect(r.lastIndex()).toBe(24);
  expect(r.entries(24, 25, Infinity)[0]!.data.length).toBe(64 << 10);
  r.close();
});

test("a torn record in the preallocated part ends the log, is zeroed, and leaves no remnant after later records", () => {
  const dir = fresh();
  let s = new SegmentLogStorage(dir);
  s.save({ entries: range(1, 10, 1), hardState: { term: 1, vote: 1, commit: 5 }, mustSync: true });
  const [seg] = segFiles(dir);
  const end10 = dataEnd(seg!);
  s.save({ entries: [ent(11, 1, "x".repeat(3000))], mustSync: true });
  s.close();
  const size = statSync(seg!).size;
  // Power loss: record 11's header and a part of its body reached the disk, the rest did not
  // (still zeros); then a stray block of garbage further on in the preallocated part.
  const fd = openSync(seg!, "r+");
  writeSync(fd, new Uint8Array(2000), 0, 2000, end10 + 1000);
  closeSync(fd);
  poke(seg!, end10 + 8000, [7, 7, 7, 7, 7, 7, 7, 7]);
  s = new SegmentLogStorage(dir);
  expect(s.lastIndex()).toBe(10);
  expect(s.hardState()).toEqual({ term: 1, vote: 1, commit: 5 });
  // Zeroed in place: the preallocation stays, nothing but zeros after the valid records.
  expect(statSync(seg!).size).toBe(size);
  expect(new Uint8Array(readFileSync(seg!)).subarray(end10).every((b) => b === 0)).toBe(true);
  // A shorter record replaces the torn one; a reopen must not read anything after it.
  s.save({ entries: [ent(11, 2, "short")], mustSync: true });
  s.close();
  s = new SegmentLogStorage(dir);
  expect(s.lastIndex()).toBe(11);
  expect(s.term(11)).toBe(2);
  expect(new TextDecoder().decode(s.entries(11, 12, Infinity)[0]!.data)).toBe("short");
  s.close();
});

test("a stale record with a wrong CRC seed after the end is not taken for the log's continuation", () => {
  const dir = fresh();
  // Log A: records 1..5 then 6..8; log B: 1..5 only. B's segment with A's tail bytes copied
  // after its end: the record for 6 is well formed, but its CRC is chained to A's history.
  const a = fresh();
  let s = new SegmentLogStorage(a);
  s.save({ entries: range(1, 5, 1), mustSync: true });
  s.save({ entries: range(6, 8, 3), mustSync: true });
  s.close();
  s = new SegmentLogStorage(dir);
  s.save({ entries: range(1, 5, 2), mustSync: true });
  s.close();
  const segA = segFiles(a)[0]!;
  const segB = segFiles(dir)[0]!;
  const bufA = new Uint8Array(readFileSync(segA));
  const endB = dataEnd(segB);
  const tailA = bufA.subarray(endB, dataEnd(segA)); // same offsets: same-size records
  const fd = openSync(segB, "r+");
  writeSync(fd, tailA, 0, tailA.length, endB);
  closeSync(fd);
  s = new SegmentLogStorage(dir);
  expect(s.lastIndex()).toBe(5);
  expect(s.term(5)).toBe(2);
  s.close();
});

test("an older segment's preallocated tail is not damage; the log replays across segments", async () => {
  const dir = fresh();
  let s = new SegmentLogStorage(dir);
  s.segmentBytes = 64 << 10;
  const big = "y".repeat(4000);
  for (let i = 1; i <= 60; i++) {
    if (s.write({ entries: [ent(i, 1, big)], mustSync: true })) await s.syncAsync();
    if (s.checkpointDue()) await s.checkpointAsync();
  }
  const segs = segFiles(dir);
  expect(segs.length).toBeGreaterThan(2);
  // Every closed segment ends in zeros (its preallocation was not used up).
  for (const f of segs.slice(0, -1)) expect(statSync(f).size).toBeGreaterThan(dataEnd(f));
  s.close();
  s = new SegmentLogStorage(dir);
  expect(s.firstIndex()).toBe(1);
  expect(s.lastIndex()).toBe(60);
  s.close();
  // Garbage after the end of a segment that newer ones follow is damage, and said so.
  poke(segs[0]!, dataEnd(segs[0]!) + 16, [1, 2, 3, 4]);
  expect(() => new SegmentLogStorage(dir)).toThrow(/is damaged at byte/);
});
