// The snapshot file: one gzip stream holding a one-line JSON header (what, when, where it
// stands, the sealed server secrets: bundle.ts) and then a `VACUUM INTO` copy of state.db.
// Written and read as streams, so a large store is never held in memory whole.
import { closeSync, createReadStream, createWriteStream, fsyncSync, openSync, renameSync, rmSync, statSync } from "node:fs";
import { Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import type { SealedBundle } from "./bundle";

export const FORMAT = "skiff-snapshot";
export const VERSION = 1;
/** A header is a few kB (the sealed bundle); anything much bigger is not one of ours. */
const MAX_HEADER = 4 << 20;

export interface SnapshotHeader {
  format: typeof FORMAT;
  version: number;
  name: string;
  node: string;
  /** ISO time the snapshot was taken. */
  created: string;
  /** The store's revision, applied Raft index and compaction point in the copy. */
  rev: number;
  appliedIndex: number;
  compacted: number;
  /** Bytes of the database inside. */
  dbBytes: number;
  /** state.db layout (state-schema.ts). */
  layout: number;
  secrets?: SealedBundle;
}

export class BadSnapshotError extends Error {}

/** Splits the decompressed stream at the header's newline: the header to `onHeader`, the rest through. */
class HeaderSplitter extends Transform {
  private head: Buffer[] = [];
  private headLen = 0;
  private done = false;
  constructor(private readonly onHeader: (h: SnapshotHeader) => void) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.done) return cb(null, chunk);
    const nl = chunk.indexOf(10);
    if (nl < 0) {
      this.head.push(chunk);
      this.headLen += chunk.length;
      return cb(this.headLen > MAX_HEADER ? new BadSnapshotError("not a Skiff snapshot (no header)") : null);
    }
    this.head.push(chunk.subarray(0, nl));
    this.done = true;
    let h: SnapshotHeader;
    try {
      h = JSON.parse(Buffer.concat(this.head).toString("utf8"));
    } catch {
      return cb(new BadSnapshotError("not a Skiff snapshot (bad header)"));
    }
    if (h?.format !== FORMAT) return cb(new BadSnapshotError("not a Skiff snapshot"));
    if (h.version > VERSION) return cb(new BadSnapshotError(`snapshot format ${h.version} is newer than this Skiff reads (${VERSION}): restore it with a newer version`));
    this.onHeader(h);
    cb(null, chunk.subarray(nl + 1));
  }
}

/** Discards whatever comes after the header (readHeader). */
class Stop extends Error {}

function gunzipError(file: string, e: unknown): Error {
  if (e instanceof BadSnapshotError) return new BadSnapshotError(`${file}: ${e.message}`);
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === "ENOENT") return new BadSnapshotError(`${file}: no such file`);
  if (code === "Z_DATA_ERROR" || code === "Z_BUF_ERROR" || /incorrect header|unexpected end/i.test(String((e as Error)?.message)))
    return new BadSnapshotError(`${file}: not a Skiff snapshot, or truncated (${(e as Error).message})`);
  return e as Error;
}

/** The header of a snapshot file (reads only as far as it). */
export async function readHeader(file: string): Promise<SnapshotHeader> {
  let header: SnapshotHeader | undefined;
  const split = new HeaderSplitter((h) => {
    header = h;
    split.destroy(new Stop());
  });
  try {
    await pipeline(createReadStream(file), createGunzip(), split);
  } catch (e) {
    if (!(e instanceof Stop)) throw gunzipError(file, e);
  }
  if (!header) throw new BadSnapshotError(`${file}: not a Skiff snapshot (empty)`);
  return header;
}

/** Write the database inside `file` to `dbPath` (durable on return); returns the header. */
export async function extractDb(file: string, dbPath: string): Promise<SnapshotHeader> {
  let header: SnapshotHeader | undefined;
  const part = `${dbPath}.restore-part`;
  rmSync(part, { force: true });
  try {
    await pipeline(createReadStream(file), createGunzip(), new HeaderSplitter((h) => (header = h)), createWriteStream(part, { mode: 0o600 }));
    if (!header) throw new BadSnapshotError(`${file}: not a Skiff snapshot (empty)`);
    // gunzip does not notice a stream cut short: the header says how much must follow.
    const got = statSync(part).size;
    if (got !== header.dbBytes) throw new BadSnapshotError(`${file}: truncated (${got} of ${header.dbBytes} bytes of the database)`);
    const fd = openSync(part, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    for (const f of [dbPath, `${dbPath}-wal`, `${dbPath}-shm`]) rmSync(f, { force: true });
    renameSync(part, dbPath);
    return header;
  } catch (e) {
    rmSync(part, { force: true });
    throw gunzipError(file, e);
  }
}
