// Snapshots of this server's store (`skiff snapshot save|ls|delete`, and scheduled ones with
// --snapshot-cron), K3s' etcd-snapshot semantics: files named <name>-<node>-<unix time> in
// <data-dir>/server/db/snapshots (or --snapshot-dir), the newest --snapshot-retention of each
// name kept. Each is a consistent copy read on a worker thread and compressed as a stream
// (copy-worker.ts), with the server's secrets sealed by the server token (bundle.ts).
import { Database } from "bun:sqlite";
import { Cron } from "croner";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import type { AppliedState } from "../applied-state";
import { runCopyJob, type CopyResult } from "./copy-worker";
import { FORMAT, readHeader, VERSION, type SnapshotHeader } from "./archive";
import { sealBundle } from "./bundle";
import { LAYOUT, layoutOf } from "../state-schema";

export const SUFFIX = ".skiff-snapshot";
/** K3s' schedule default: twice a day. */
export const DEFAULT_CRON = "0 */12 * * *";
export const DEFAULT_RETENTION = 5;
const NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

export interface SnapshotInfo {
  name: string;
  file: string;
  size: number;
  created: string;
  node: string;
  rev: number;
  appliedIndex: number;
}

export interface SnapshotterOptions {
  state: AppliedState;
  /** <data-dir>/server: the secrets to seal, and the token that seals them. */
  serverDir: string;
  dir: string;
  node: string;
  retention?: number;
  log?: (m: string) => void;
  /** The clock names are taken from (tests step it instead of sleeping past a second). */
  now?: () => Date;
}

export class BadNameError extends Error {}

export function defaultSnapshotDir(serverDir: string): string {
  return join(serverDir, "db", "snapshots");
}

/** Snapshot files in `dir`, newest first (reads each header). */
export async function listSnapshots(dir: string): Promise<SnapshotInfo[]> {
  if (!existsSync(dir)) return [];
  const out: SnapshotInfo[] = [];
  for (const f of readdirSync(dir)) {
    if (!f.endsWith(SUFFIX)) continue;
    const file = join(dir, f);
    try {
      const h = await readHeader(file);
      out.push({ name: f, file, size: statSync(file).size, created: h.created, node: h.node, rev: h.rev, appliedIndex: h.appliedIndex });
    } catch {
      /* a damaged or foreign file: not listed */
    }
  }
  return out.sort((a, b) => (a.created < b.created ? 1 : a.created > b.created ? -1 : a.name < b.name ? 1 : -1));
}

/** Delete snapshots of `dir` by file name; returns the names deleted. */
export function deleteSnapshots(dir: string, names: string[]): string[] {
  const done: string[] = [];
  for (const n of names) {
    if (n.includes("/") || !n.endsWith(SUFFIX)) throw new BadNameError(`"${n}" is not a snapshot name (as \`skiff snapshot ls\` prints them)`);
    const f = join(dir, n);
    if (!existsSync(f)) continue;
    rmSync(f);
    done.push(n);
  }
  return done;
}

/**
 * Keep the newest `keep` snapshot files of this node whose name (the part before -<node>-<unix
 * time>) passes `match`; remove the older ones, never the file `spare`. keep 0 keeps every one.
 * Returns the removed files.
 */
export function pruneSnapshots(o: { dir: string; node: string; keep: number; log?: (m: string) => void }, match: (name: string) => boolean, spare?: string): string[] {
  if (o.keep <= 0 || !existsSync(o.dir)) return [];
  const infix = `-${o.node}-`;
  const mine: { f: string; t: number }[] = [];
  let keep = o.keep;
  for (const f of readdirSync(o.dir)) {
    if (!f.endsWith(SUFFIX)) continue;
    const stem = f.slice(0, -SUFFIX.length);
    const at = stem.lastIndexOf(infix);
    const t = stem.slice(at + infix.length);
    if (at <= 0 || !/^\d+$/.test(t) || !match(stem.slice(0, at))) continue;
    if (f === spare) keep--; // kept, and counted
    else mine.push({ f, t: Number(t) });
  }
  const removed: string[] = [];
  for (const { f } of mine.sort((a, b) => b.t - a.t || (a.f < b.f ? 1 : -1)).slice(Math.max(0, keep))) {
    rmSync(join(o.dir, f), { force: true });
    removed.push(f);
    o.log?.(`snapshot ${f} removed (retention ${o.keep})`);
  }
  return removed;
}

/**
 * Write snapshot file <name>-<node>-<unix time> in o.dir from a consistent copy of a state.db
 * (`copy` gives the job the database's path while it may be read), its secrets sealed.
 */
async function writeSnapshot(
  o: { serverDir: string; dir: string; node: string; log?: (m: string) => void; now?: () => Date },
  name: string,
  layout: number,
  copy: (job: (src: string) => Promise<CopyResult>) => Promise<CopyResult>,
): Promise<SnapshotInfo> {
  mkdirSync(o.dir, { recursive: true, mode: 0o700 });
  const now = o.now?.() ?? new Date();
  const file = join(o.dir, `${name}-${o.node}-${Math.floor(now.getTime() / 1000)}${SUFFIX}`);
  const tokenFile = join(o.serverDir, "token");
  const secrets = existsSync(tokenFile) ? await sealBundle(o.serverDir, readFileSync(tokenFile, "utf8").trim()) : undefined;
  const header: Omit<SnapshotHeader, "rev" | "appliedIndex" | "compacted" | "dbBytes"> = { format: FORMAT, version: VERSION, name, node: o.node, created: now.toISOString(), layout, secrets };
  const t0 = performance.now();
  const r = await copy((src) => runCopyJob({ kind: "archive", src, tmp: `${file}.db-part`, out: file, header }));
  const h = r.header as unknown as SnapshotHeader;
  o.log?.(`snapshot ${file} saved: revision ${h.rev}, ${(r.dbBytes / 1024).toFixed(0)} kB of state in ${((r.outBytes ?? 0) / 1024).toFixed(0)} kB, ${(performance.now() - t0).toFixed(0)} ms`);
  return { name: file.slice(o.dir.length + 1), file, size: r.outBytes ?? 0, created: h.created, node: h.node, rev: h.rev, appliedIndex: h.appliedIndex };
}

/**
 * A snapshot of a state.db that no server has open, as it is (any layout up to this one's):
 * the one an upgrade takes before the store is opened and migrated (upgrade.ts).
 */
export async function snapshotClosedStore(o: { dbPath: string; serverDir: string; dir: string; node: string; name: string; log?: (m: string) => void }): Promise<SnapshotInfo> {
  if (!NAME.test(o.name) || o.name.length > 100) throw new BadNameError(`snapshot name "${o.name}": use lower-case letters, digits, "-" and "." (at most 100)`);
  // Held open while the worker copies: a WAL database's -wal and -shm then exist for the
  // worker's read-only connection; what a crash left in the WAL is part of the copy.
  const db = new Database(o.dbPath);
  try {
    db.exec("PRAGMA busy_timeout = 10000");
    return await writeSnapshot(o, o.name, layoutOf(db), (job) => job(o.dbPath));
  } finally {
    db.close();
  }
}

export class Snapshotter {
  readonly dir: string;
  private running: Promise<unknown> = Promise.resolve();
  private cron: Cron | undefined;

  constructor(private readonly o: SnapshotterOptions) {
    this.dir = o.dir;
  }

  /** Take a snapshot now (one at a time: a second call waits for the first). */
  save(name = "on-demand"): Promise<SnapshotInfo> {
    if (!NAME.test(name) || name.length > 100) throw new BadNameError(`snapshot name "${name}": use lower-case letters, digits, "-" and "." (at most 100)`);
    const p = this.running.then(() => this.take(name));
    this.running = p.catch(() => {});
    return p;
  }

  private async take(name: string): Promise<SnapshotInfo> {
    const info = await writeSnapshot(this.o, name, LAYOUT, (job) => this.o.state.readCopy(job));
    await this.prune(name);
    return info;
  }

  /** Keep the newest `retention` snapshots of this name taken on this node. */
  private async prune(name: string): Promise<void> {
    pruneSnapshots({ dir: this.dir, node: this.o.node, keep: this.o.retention ?? DEFAULT_RETENTION, log: this.o.log }, (n) => n === name);
  }

  list(): Promise<SnapshotInfo[]> {
    return listSnapshots(this.dir);
  }

  delete(names: string[]): string[] {
    return deleteSnapshots(this.dir, names);
  }

  /** Scheduled snapshots (name "scheduled"); throws for an invalid expression. */
  schedule(expr: string): void {
    this.cron?.stop();
    this.cron = new Cron(expr, { protect: true, unref: true }, async () => {
      try {
        await this.save("scheduled");
      } catch (e) {
        this.o.log?.(`scheduled snapshot failed: ${(e as Error).message}`);
      }
    });
  }

  nextRun(): Date | null {
    return this.cron?.nextRun() ?? null;
  }

  stop(): void {
    this.cron?.stop();
    this.cron = undefined;
  }
}

/** A cron expression's error, or undefined if croner accepts it. */
export function cronError(expr: string): string | undefined {
  try {
    new Cron(expr, { paused: true }).stop();
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}
