// Boards without a real-time clock boot at 1970 (or at the image's build date) until NTP sets
// the time; certificates then look "not yet valid" and any certificate issued meanwhile is dated
// wrong. Skiff remembers the last time it saw (the mtime of <data-dir>/last-known-time, touched
// at start and hourly: one inode update, no data written) and, at start, waits for the clock to
// pass it. If time sync does not come, it moves the clock forward to the last known time, as
// fake-hwclock does on Raspberry Pi OS, and says so; certificates are never issued while the
// clock is behind (clockTrusted()).
import { closeSync, existsSync, mkdirSync, openSync, statSync, utimesSync } from "node:fs";
import { join } from "node:path";

/** No Skiff release runs before this date: a clock reading earlier is wrong. */
export const CLOCK_FLOOR = Date.parse("2025-01-01T00:00:00Z");
/** Slack for a last-known-time written just before a reboot. */
const SLACK_MS = 60_000;
const RECORD_EVERY_MS = 3600_000;

export const lastKnownTimePath = (dataDir: string) => join(dataDir, "last-known-time");

export function readLastKnownTime(dataDir: string): number | undefined {
  try {
    return statSync(lastKnownTimePath(dataDir)).mtimeMs;
  } catch {
    return undefined;
  }
}

/** Records now as the last known time (never moves it backwards). */
export function recordTime(dataDir: string, now = Date.now()): void {
  const p = lastKnownTimePath(dataDir);
  const last = readLastKnownTime(dataDir);
  if (last !== undefined && last >= now) return;
  try {
    if (!existsSync(p)) {
      mkdirSync(dataDir, { recursive: true });
      closeSync(openSync(p, "a"));
    }
    utimesSync(p, now / 1000, now / 1000);
  } catch {
    /* read-only data dir: nothing to remember */
  }
}

/** The earliest the clock can honestly read: the floor, or the last time this node saw. */
export function earliestValidTime(dataDir: string): number {
  return Math.max(CLOCK_FLOOR, (readLastKnownTime(dataDir) ?? 0) - SLACK_MS);
}

let trustedAfter = 0;
/** False while the clock reads earlier than it can be (then no certificate may be issued). */
export function clockTrusted(now = Date.now()): boolean {
  return now >= trustedAfter;
}

export interface ClockGuardOptions {
  dataDir: string;
  log: (msg: string) => void;
  /** How long to wait for time sync (default SKIFF_CLOCK_WAIT_SECONDS or 60 s). */
  waitMs?: number;
  /** Sets the system clock (default: `date -s`, as root); false = never touch the clock. */
  setClock?: ((ms: number) => boolean) | false;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface ClockGuardResult {
  /** "ok": the clock was fine; "synced": it caught up while we waited; "set": we moved it; "behind": still behind. */
  outcome: "ok" | "synced" | "set" | "behind";
  earliest: number;
}

function defaultSetClock(ms: number): boolean {
  if (process.getuid?.() !== 0 || process.env.SKIFF_CLOCK_SET === "0") return false;
  return Bun.spawnSync(["date", "-u", "-s", `@${Math.ceil(ms / 1000)}`], { stdout: "ignore", stderr: "ignore" }).exitCode === 0;
}

/**
 * Waits until the clock reads at least the last known time; after waitMs, sets it forward (or
 * reports that it could not). Then keeps recording the time hourly. Returns what happened.
 */
export async function guardClock(o: ClockGuardOptions): Promise<ClockGuardResult> {
  const now = o.now ?? Date.now;
  const sleep = o.sleep ?? Bun.sleep;
  const earliest = earliestValidTime(o.dataDir);
  const fmt = (ms: number) => new Date(ms).toISOString();
  let outcome: ClockGuardResult["outcome"] = "ok";
  if (now() < earliest) {
    const waitMs = o.waitMs ?? (Number(process.env.SKIFF_CLOCK_WAIT_SECONDS) >= 0 && process.env.SKIFF_CLOCK_WAIT_SECONDS ? Number(process.env.SKIFF_CLOCK_WAIT_SECONDS) * 1000 : 60_000);
    o.log(`clock: the system clock reads ${fmt(now())}, earlier than the last time this node saw (${fmt(earliest)}): no real-time clock? waiting up to ${Math.round(waitMs / 1000)} s for time sync`);
    const end = Date.now() + waitMs;
    while (now() < earliest && Date.now() < end) await sleep(1000);
    if (now() >= earliest) {
      outcome = "synced";
      o.log(`clock: synchronised (${fmt(now())})`);
    } else {
      const set = o.setClock === false ? () => false : (o.setClock ?? defaultSetClock);
      if (set(earliest) && now() >= earliest - 1000) {
        outcome = "set";
        o.log(`clock: no time sync yet; set the clock forward to the last known time ${fmt(earliest)} (as fake-hwclock does); time sync will correct it`);
      } else {
        outcome = "behind";
        trustedAfter = earliest;
        o.log(`clock: still ${fmt(now())}, behind the last known time ${fmt(earliest)}, and it cannot be set here: certificates are not renewed and peers may reject them until the time is set (date -s, or NTP)`);
      }
    }
  }
  if (outcome !== "behind") recordTime(o.dataDir, now());
  return { outcome, earliest };
}

/** Touches the last known time every hour (unref'd: never keeps the process alive). */
export function keepRecordingTime(dataDir: string): () => void {
  const t = setInterval(() => {
    if (clockTrusted()) recordTime(dataDir);
  }, RECORD_EVERY_MS);
  t.unref();
  return () => clearInterval(t);
}
