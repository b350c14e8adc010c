// Copies and checkpoints of state.db made on a worker thread, so the event loop (API, Raft
// heartbeats, the applies) keeps running while SQLite reads the whole database: a `VACUUM INTO` from the
// worker's own read-only connection is one consistent read (WAL mode: the main connection
// keeps committing meanwhile; the copy holds what was committed when the read began), and an
// archive is compressed from that copy as a stream (node:zlib), never held in memory whole.
//
// The worker's source is inlined (a Blob URL) so that it runs the same from the sources and
// from the compiled binary, without a second build entry point.

/** A `VACUUM INTO` copy; `meta` is the copy's own meta table (its revision and applied index). */
export interface CopyJob {
  kind: "copy";
  src: string;
  dst: string;
}

/** A copy streamed through gzip into `out` after a one-line JSON header (see archive.ts). */
export interface ArchiveJob {
  kind: "archive";
  src: string;
  /** Scratch file for the copy (removed afterwards). */
  tmp: string;
  out: string;
  header: Record<string, unknown>;
}

/**
 * A WAL checkpoint of `src` from the worker's own connection (synchronous=OFF), in SQLite's
 * order with the fsyncs made here: the WAL durable, its pages copied into the database
 * (PASSIVE), the database durable, the WAL emptied (TRUNCATE: the next write starts a fresh
 * WAL, so no stale frames survive that a crash could replay over newer pages) and that durable.
 * Copying the pages (megabytes) is what would otherwise hold the event loop.
 */
export interface CheckpointJob {
  kind: "checkpoint";
  src: string;
}

export interface CopyResult {
  meta: Record<string, number>;
  /** Bytes of the database copy. */
  dbBytes: number;
  /** Bytes of the archive (archive jobs). */
  outBytes?: number;
  /** The header written (archive jobs), with the copy's revision and applied index. */
  header?: Record<string, unknown>;
}

const SOURCE = `
import { Database } from "bun:sqlite";
import { closeSync, createReadStream, createWriteStream, fsyncSync, openSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";

function fsyncPath(p) {
  const fd = openSync(p, "r");
  try { fsyncSync(fd); } finally { closeSync(fd); }
}

function copy(src, dst) {
  rmSync(dst, { force: true });
  const db = new Database(src, { readonly: true });
  try {
    db.exec("PRAGMA busy_timeout = 10000");
    db.run("VACUUM INTO ?", [dst]);
  } finally {
    db.close();
  }
  const c = new Database(dst, { readonly: true });
  let meta = {};
  try {
    meta = Object.fromEntries(c.query("SELECT k, v FROM meta").all().map((r) => [r.k, r.v]));
  } finally {
    c.close();
  }
  fsyncPath(dst);
  return { meta, dbBytes: statSync(dst).size };
}

function checkpoint(src) {
  const db = new Database(src);
  try {
    db.exec("PRAGMA busy_timeout = 10000");
    db.exec("PRAGMA synchronous = OFF");
    fsyncPath(src + "-wal");
    db.exec("PRAGMA wal_checkpoint(PASSIVE)");
    fsyncPath(src);
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    fsyncPath(src + "-wal");
  } finally {
    db.close();
  }
  return { meta: {}, dbBytes: statSync(src).size };
}

async function archive(job) {
  const r = copy(job.src, job.tmp);
  try {
    const header = { ...job.header, rev: r.meta.rev ?? 0, appliedIndex: r.meta.applied ?? 0, compacted: r.meta.compacted ?? 0, dbBytes: r.dbBytes };
    async function* body() {
      yield Buffer.from(JSON.stringify(header) + "\\n");
      for await (const chunk of createReadStream(job.tmp, { highWaterMark: 1 << 20 })) yield chunk;
    }
    const part = job.out + ".part";
    await pipeline(Readable.from(body()), createGzip({ level: 6 }), createWriteStream(part, { mode: 0o600 }));
    fsyncPath(part);
    renameSync(part, job.out);
    fsyncPath(dirname(job.out));
    return { ...r, header, outBytes: statSync(job.out).size };
  } finally {
    rmSync(job.tmp, { force: true });
  }
}

self.onmessage = async (e) => {
  try {
    const job = e.data;
    const result = job.kind === "archive" ? await archive(job) : job.kind === "checkpoint" ? checkpoint(job.src) : copy(job.src, job.dst);
    postMessage({ ok: true, result });
  } catch (err) {
    postMessage({ ok: false, error: String(err && err.message || err) });
  }
};
`;

let url: string | undefined;

/** Run one job on a fresh worker thread (ended when it answers). */
export function runCopyJob(job: CopyJob | ArchiveJob | CheckpointJob): Promise<CopyResult> {
  url ??= URL.createObjectURL(new Blob([SOURCE], { type: "application/javascript" }));
  const w = new Worker(url);
  return new Promise<CopyResult>((resolve, reject) => {
    w.onmessage = (e: MessageEvent) => {
      w.terminate();
      if (e.data?.ok) resolve(e.data.result as CopyResult);
      else reject(new Error(`state.db copy: ${e.data?.error ?? "failed"}`));
    };
    w.onerror = (e: ErrorEvent) => {
      w.terminate();
      reject(new Error(`state.db copy: ${e.message}`));
    };
    w.postMessage(job);
  });
}
