// The record format of the Raft log's segment files (segment-log.ts). A record is
//   u32 length of the body | u32 CRC-32 of the body, seeded with the previous record's CRC
//   body: u8 type, payload
//   zero padding to a multiple of 8 bytes
// The chained CRC makes a record valid only after the very records that preceded it when it
// was written, so reading stops at the first torn, missing or stale record: after a power
// loss only a tail that was never fsynced (never acknowledged) can be lost. One Ready is one
// record, so a Ready's entries and hard state are all there or none are.
import type { Entry, HardState, SnapshotMetadata } from "../core/types";

export const READY = 1;
export const STATE = 2;

/** Entries and hard state of one Ready. */
export interface ReadyRecord {
  type: typeof READY;
  hs?: HardState;
  entries: Entry[];
}

/**
 * The log's compaction state: written first in every segment (so older segments can be
 * deleted), when a local snapshot moves the compaction point, and (reset) when a snapshot
 * from the leader replaces the whole log.
 */
export interface StateRecord {
  type: typeof STATE;
  reset: boolean;
  hs: HardState;
  snap: SnapshotMetadata;
  /** The compaction point: the log's entries start after it. */
  offset: { index: number; term: number };
}

export type WalRecord = ReadyRecord | StateRecord;

const HEADER = 8;
const enc = new TextEncoder();
const dec = new TextDecoder();

const pad8 = (n: number) => (n + 7) & ~7;

/** Bytes of one framed record (header, body, padding) chained after `prevCrc`; returns its CRC too. */
export function encodeRecord(r: WalRecord, prevCrc: number): { bytes: Uint8Array; crc: number } {
  let body: Uint8Array;
  if (r.type === READY) {
    let n = 1 + 1 + (r.hs ? 24 : 0) + 4;
    for (const e of r.entries) {
      if (!(e.data instanceof Uint8Array)) throw new Error(`raft log: entry ${e.index} has no data`);
      n += 8 + 8 + 1 + 4 + e.data.length;
    }
    body = new Uint8Array(n);
    const v = new DataView(body.buffer);
    let p = 0;
    body[p++] = READY;
    body[p++] = r.hs ? 1 : 0;
    if (r.hs) {
      v.setFloat64(p, r.hs.term, true);
      v.setFloat64(p + 8, r.hs.vote, true);
      v.setFloat64(p + 16, r.hs.commit, true);
      p += 24;
    }
    v.setUint32(p, r.entries.length, true);
    p += 4;
    for (const e of r.entries) {
      v.setFloat64(p, e.index, true);
      v.setFloat64(p + 8, e.term, true);
      body[p + 16] = e.type === "conf" ? 1 : 0;
      v.setUint32(p + 17, e.data.length, true);
      p += 21;
      body.set(e.data, p);
      p += e.data.length;
    }
  } else {
    const json = enc.encode(JSON.stringify({ reset: r.reset, hs: r.hs, snap: r.snap, offset: r.offset }));
    body = new Uint8Array(1 + json.length);
    body[0] = STATE;
    body.set(json, 1);
  }
  const crc = Bun.hash.crc32(body, prevCrc) >>> 0;
  const bytes = new Uint8Array(pad8(HEADER + body.length));
  const v = new DataView(bytes.buffer);
  v.setUint32(0, body.length, true);
  v.setUint32(4, crc, true);
  bytes.set(body, HEADER);
  return { bytes, crc };
}

/**
 * The valid records of a segment's bytes, in order, where the valid part ends (a torn or
 * never-written tail starts there) and the last valid record's CRC (the next one's seed).
 */
export function decodeRecords(buf: Uint8Array): { records: WalRecord[]; end: number; crc: number } {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const records: WalRecord[] = [];
  let pos = 0;
  let crc = 0;
  while (pos + HEADER <= buf.length) {
    const len = v.getUint32(pos, true);
    if (len === 0 || pos + HEADER + len > buf.length) break;
    const body = buf.subarray(pos + HEADER, pos + HEADER + len);
    const want = v.getUint32(pos + 4, true);
    const got = Bun.hash.crc32(body, crc) >>> 0;
    if (got !== want) break;
    let rec: WalRecord;
    try {
      rec = decodeBody(body);
    } catch {
      break;
    }
    records.push(rec);
    crc = got;
    pos += pad8(HEADER + len);
  }
  return { records, end: pos, crc };
}

function decodeBody(body: Uint8Array): WalRecord {
  if (body[0] === STATE) {
    const j = JSON.parse(dec.decode(body.subarray(1)));
    return { type: STATE, reset: !!j.reset, hs: j.hs, snap: j.snap, offset: j.offset };
  }
  if (body[0] !== READY) throw new Error(`unknown record type ${body[0]}`);
  const v = new DataView(body.buffer, body.byteOffset, body.byteLength);
  let p = 1;
  const flags = body[p++]!;
  let hs: HardState | undefined;
  if (flags & 1) {
    hs = { term: v.getFloat64(p, true), vote: v.getFloat64(p + 8, true), commit: v.getFloat64(p + 16, true) };
    p += 24;
  }
  const n = v.getUint32(p, true);
  p += 4;
  const entries: Entry[] = [];
  for (let i = 0; i < n; i++) {
    const index = v.getFloat64(p, true);
    const term = v.getFloat64(p + 8, true);
    const type = body[p + 16] === 1 ? "conf" : "normal";
    const len = v.getUint32(p + 17, true);
    p += 21;
    if (p + len > body.length) throw new Error("entry beyond its record");
    // A copy: the segment's buffer is dropped after reading.
    entries.push({ index, term, type, data: body.slice(p, p + len) });
    p += len;
  }
  return { type: READY, hs, entries };
}
