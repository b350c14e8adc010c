// Upgrades of the binary, the way an edge operator does them (K3s habits: replace the binary,
// restart the unit). The server records in its data dir the version that last became ready
// with it (<data-dir>/server/version.json). A start with another version:
//   1. takes a snapshot of state.db as that version left it, before anything opens or
//      migrates it (pre-upgrade-<old>-<new>-<node>-<time>.skiff-snapshot in the snapshot dir,
//      through the snapshot code: compressed, the server's secrets sealed by its token);
//   2. notes the upgrade as pending (<data-dir>/server/upgrade.json), then starts (migrating);
//   3. once ready, records the new version and drops the note; if the start fails or is not
//      ready in time (cli/main.ts), restores state.db from the snapshot, notes the upgrade as
//      failed, and exits naming the version to run. A later start of that same new version is
//      refused (no snapshot-migrate-rollback loop under Restart=always) unless forced.
// The Raft log and the secrets are left as they are: the log is the durable record a voter
// has acknowledged to the others (forgetting it would break Raft's guarantees), and the
// restored state.db, behind it, is brought up to it by the old version's replay. A start of the
// old version while an upgrade is still pending (the new one was killed, or swapped back by
// `skiff upgrade`) rolls back first, the same way.
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { basename, join } from "node:path";
import { writeFileDurable } from "../../raft/storage/files";
import { LAYOUT } from "../state-schema";
import { extractDb } from "./archive";
import { DEFAULT_RETENTION, pruneSnapshots, snapshotClosedStore } from "./snapshots";

/** The version that last became ready with this data dir. */
export interface VersionRecord {
  version: string;
  layout: number;
  /** ISO time it became ready (each ready start rewrites it: `skiff upgrade` waits for that). */
  ready: string;
  pid?: number;
}

/** An upgrade begun (or failed) on this data dir. */
export interface UpgradeRecord {
  from: string;
  to: string;
  /** The pre-upgrade snapshot file. */
  snapshot: string;
  started: string;
  /** Starts of `to` so far; a crash loop is a failure too. */
  attempts: number;
  failed?: { at: string; reason: string };
}

/** Starts of a new version that may end without it becoming ready before it counts as failed. */
export const MAX_ATTEMPTS = 3;
export const DEFAULT_READY_TIMEOUT_S = 300;

export class UpgradeRefusedError extends Error {}

export const versionFile = (serverDir: string) => join(serverDir, "version.json");
export const upgradeFile = (serverDir: string) => join(serverDir, "upgrade.json");

function readJson<T>(file: string): T | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, "utf8")) as T;
  } catch {
    return undefined; // a torn write of ours: as if absent (both are written durably by rename)
  }
}
export const readVersion = (serverDir: string) => readJson<VersionRecord>(versionFile(serverDir));
export const readUpgrade = (serverDir: string) => readJson<UpgradeRecord>(upgradeFile(serverDir));

/** Record that `version` is ready with this data dir (and no upgrade is pending any more). */
export function recordReady(serverDir: string, version: string): void {
  const v: VersionRecord = { version, layout: LAYOUT, ready: new Date().toISOString(), pid: process.pid };
  writeFileDurable(versionFile(serverDir), JSON.stringify(v) + "\n");
}

/** A version as a snapshot-name part: lower-case letters, digits, "." and "-". */
export function nameOf(version: string): string {
  return version.toLowerCase().replace(/^v/, "").replace(/[^a-z0-9.]+/g, "-").replace(/^[-.]+|[-.]+$/g, "") || "unknown";
}

export interface UpgradeOptions {
  /** <data-dir>/server */
  serverDir: string;
  /** This binary's version. */
  version: string;
  node: string;
  snapshotDir: string;
  /** Try again an upgrade to this version that failed before. */
  force?: boolean;
  /** Pre-upgrade snapshots kept once an upgrade is done (--snapshot-retention; 0 keeps all). */
  retention?: number;
  log?: (m: string) => void;
}

export class Upgrade {
  constructor(
    private readonly o: Pick<UpgradeOptions, "serverDir" | "node" | "snapshotDir" | "retention">,
    readonly record: UpgradeRecord,
    private readonly log: (m: string) => void,
  ) {}

  get from(): string {
    return this.record.from;
  }
  get to(): string {
    return this.record.to;
  }
  get snapshot(): string {
    return this.record.snapshot;
  }

  /** The new version is ready: it is the one this data dir runs with now. */
  ready(): void {
    recordReady(this.o.serverDir, this.to);
    rmSync(upgradeFile(this.o.serverDir), { force: true });
    this.log(`upgrade from ${this.from} to ${this.to} done; the snapshot taken before it is kept: ${this.snapshot}`);
    // One snapshot per upgrade adds up on a small disk: the newest few are kept, as for the
    // scheduled ones, and never the one just taken.
    try {
      pruneSnapshots({ dir: this.o.snapshotDir, node: this.o.node, keep: this.o.retention ?? DEFAULT_RETENTION, log: this.log }, (n) => n.startsWith("pre-upgrade-"), basename(this.snapshot));
    } catch (e) {
      this.log(`older pre-upgrade snapshots in ${this.o.snapshotDir} could not be removed: ${(e as Error).message}`);
    }
  }

  /**
   * Put state.db back as it was before the upgrade and note the upgrade as failed; returns the
   * message to exit with. The process must exit right after (its store, if open, is stale).
   */
  async rollback(reason: string): Promise<string> {
    await restoreState(this.o.serverDir, this.snapshot);
    const failed: UpgradeRecord = { ...this.record, failed: { at: new Date().toISOString(), reason } };
    writeFileDurable(upgradeFile(this.o.serverDir), JSON.stringify(failed) + "\n");
    return `upgrade from Skiff ${this.from} to ${this.to} failed: ${reason}. The data dir was restored from ${this.snapshot} (taken before the upgrade): run Skiff ${this.from} again (\`skiff upgrade\` puts the previous binary back by itself). Starting ${this.to} again is refused until it is started with --force-upgrade.`;
  }
}

async function restoreState(serverDir: string, snapshot: string): Promise<void> {
  await extractDb(snapshot, join(serverDir, "db", "state.db"));
}

/**
 * Before the store is opened: an upgrade begins (snapshot taken, noted as pending), continues
 * (a restart while pending), or none is due (returns undefined). Throws UpgradeRefusedError for
 * a start of a version whose upgrade failed before.
 */
export async function beginUpgrade(o: UpgradeOptions): Promise<Upgrade | undefined> {
  const log = o.log ?? ((m: string) => console.log(m));
  const dbPath = join(o.serverDir, "db", "state.db");
  mkdirSync(o.serverDir, { recursive: true, mode: 0o700 });
  let pending = readUpgrade(o.serverDir);
  const last = readVersion(o.serverDir);

  if (pending?.failed) {
    if (pending.to === o.version && !o.force) {
      throw new UpgradeRefusedError(
        `the upgrade from Skiff ${pending.from} to ${pending.to} failed at ${pending.failed.at} (${pending.failed.reason}) and was rolled back: run Skiff ${pending.from}, or start ${pending.to} with --force-upgrade to try it again`,
      );
    }
    // Another version (the previous one, running again), or this one forced. state.db is as
    // `from` left it. The note stays (what `skiff upgrade` and a later start of `to` read)
    // until a new upgrade replaces it.
    pending = undefined;
  }

  if (pending && pending.to !== o.version) {
    // Pending and not this version's: the new one never became ready and is not running
    // (killed, or swapped back). Its migration may have changed state.db: put it back first.
    if (!existsSync(pending.snapshot)) throw new UpgradeRefusedError(`an upgrade from Skiff ${pending.from} to ${pending.to} did not finish, and its snapshot ${pending.snapshot} is gone: restore a snapshot with --cluster-reset --cluster-reset-restore-path`);
    await restoreState(o.serverDir, pending.snapshot);
    log(`the upgrade from Skiff ${pending.from} to ${pending.to} did not finish: state.db restored from ${pending.snapshot}`);
    if (o.version === pending.from) {
      writeFileDurable(upgradeFile(o.serverDir), JSON.stringify({ ...pending, failed: { at: new Date().toISOString(), reason: `Skiff ${pending.from} was started again before ${pending.to} became ready` } }) + "\n");
      return undefined;
    }
    // A third version: an upgrade from `from` again, from the same snapshot.
    const rec: UpgradeRecord = { ...pending, to: o.version, started: new Date().toISOString(), attempts: 1 };
    writeFileDurable(upgradeFile(o.serverDir), JSON.stringify(rec) + "\n");
    log(`upgrading from Skiff ${rec.from} to ${rec.to} (snapshot ${rec.snapshot})`);
    return new Upgrade(o, rec, log);
  }

  if (pending) {
    // This version was started before and did not become ready (a crash, a power cut, a restart).
    const rec: UpgradeRecord = { ...pending, attempts: pending.attempts + 1 };
    const up = new Upgrade(o, rec, log);
    if (rec.attempts > MAX_ATTEMPTS) throw new UpgradeRefusedError(await up.rollback(`it was started ${pending.attempts} times without becoming ready`));
    writeFileDurable(upgradeFile(o.serverDir), JSON.stringify(rec) + "\n");
    log(`upgrade from Skiff ${rec.from} to ${rec.to}: start ${rec.attempts} of at most ${MAX_ATTEMPTS} (snapshot ${rec.snapshot})`);
    return up;
  }

  if (!existsSync(dbPath)) {
    // A new data dir: nothing to keep. Its version is noted now (never ready yet), so that a
    // second start after a failed first one is not taken for an upgrade.
    if (!last) writeFileDurable(versionFile(o.serverDir), JSON.stringify({ version: o.version, layout: LAYOUT, ready: "" }) + "\n");
    return undefined;
  }
  if (last?.version === o.version) return undefined;
  // No record: a data dir of a Skiff from before version records (or of a failed first start).
  const from = last?.version ?? "unknown";
  log(`Skiff ${o.version} starts on a data dir last run by Skiff ${from}: taking a snapshot before the store is migrated`);
  let snap: Awaited<ReturnType<typeof snapshotClosedStore>>;
  try {
    snap = await snapshotClosedStore({ dbPath, serverDir: o.serverDir, dir: o.snapshotDir, node: o.node, name: `pre-upgrade-${nameOf(from)}-${nameOf(o.version)}`, log });
  } catch (e) {
    throw new UpgradeRefusedError(`the snapshot before the upgrade from Skiff ${from} to ${o.version} could not be taken (${(e as Error).message}); nothing was changed: free space in ${o.snapshotDir}, or run Skiff ${from}`);
  }
  const rec: UpgradeRecord = { from, to: o.version, snapshot: snap.file, started: new Date().toISOString(), attempts: 1 };
  writeFileDurable(upgradeFile(o.serverDir), JSON.stringify(rec) + "\n");
  return new Upgrade(o, rec, log);
}
