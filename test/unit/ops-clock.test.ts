// Boards without a real-time clock (lib/clock.ts): the last known time survives restarts in a
// file's mtime, start waits for time sync, then sets the clock forward or says it could not;
// check-config fails when the clock is behind what this node has seen.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, utimesSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkClock } from "../../cli/host/checks.ts";
import { CLOCK_FLOOR, clockTrusted, guardClock, lastKnownTimePath, readLastKnownTime, recordTime } from "../../lib/clock.ts";

const DAY = 86_400_000;

function withDir(f: (dir: string) => Promise<void> | void) {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-clock-"));
    try {
      await f(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

describe("last known time", () => {
  test("recorded as a file's mtime, never moved backwards", withDir((dir) => {
    const t = Date.now() - DAY;
    recordTime(dir, t);
    expect(Math.abs(readLastKnownTime(dir)! - t)).toBeLessThan(1000);
    recordTime(dir, t - 10 * DAY);
    expect(Math.abs(readLastKnownTime(dir)! - t)).toBeLessThan(1000);
  }));

  test("a sane clock passes at once and records the time", withDir(async (dir) => {
    const logs: string[] = [];
    const r = await guardClock({ dataDir: dir, log: (m) => logs.push(m), setClock: false });
    expect(r.outcome).toBe("ok");
    expect(logs).toEqual([]);
    expect(readLastKnownTime(dir)).toBeGreaterThan(Date.now() - 5000);
  }));

  test("a clock at 1970 waits for sync; when sync comes, it goes on", withDir(async (dir) => {
    const real = Date.now();
    recordTime(dir, real);
    let fake = 0; // boot without RTC
    const logs: string[] = [];
    const r = await guardClock({
      dataDir: dir,
      log: (m) => logs.push(m),
      waitMs: 60_000,
      now: () => fake,
      sleep: async () => {
        fake = real + 5000; // NTP arrives during the first wait
      },
      setClock: () => {
        throw new Error("must not set the clock when sync came");
      },
    });
    expect(r.outcome).toBe("synced");
    expect(logs[0]).toContain("1970-01-01T00:00:00.000Z, earlier than the last time this node saw");
    expect(logs[1]).toContain("synchronised");
  }));

  test("no sync: the clock is set forward to the last known time, and the log says so", withDir(async (dir) => {
    const real = Date.now();
    recordTime(dir, real);
    let fake = 0;
    let setTo = 0;
    const logs: string[] = [];
    const r = await guardClock({ dataDir: dir, log: (m) => logs.push(m), waitMs: 0, now: () => fake, setClock: (ms) => ((setTo = fake = ms), true) });
    expect(r.outcome).toBe("set");
    expect(setTo).toBeGreaterThan(real - 2 * 60_000);
    expect(logs.at(-1)).toContain("set the clock forward to the last known time");
  }));

  test("no sync and no way to set it: certificates are not trusted to be issued until the clock passes", withDir(async (dir) => {
    recordTime(dir, Date.now());
    const logs: string[] = [];
    const r = await guardClock({ dataDir: dir, log: (m) => logs.push(m), waitMs: 0, now: () => 0, setClock: false });
    expect(r.outcome).toBe("behind");
    expect(clockTrusted(0)).toBe(false);
    expect(clockTrusted(Date.now())).toBe(true);
    expect(logs.at(-1)).toContain("certificates are not renewed");
  }));
});

describe("check-config clock check", () => {
  test("fails (with the fix) when the clock is behind the last known time or the CA", withDir((dir) => {
    recordTime(dir);
    const future = Date.now() + DAY;
    utimesSync(lastKnownTimePath(dir), future / 1000, future / 1000);
    const c = checkClock({ lastKnownTime: readLastKnownTime(dir) });
    expect(c.status).toBe("fail");
    expect(c.detail).toContain("the last time Skiff saw");
    expect(c.fix).toContain("NTP");
    expect(checkClock({ caNotBefore: future }).detail).toContain("the cluster CA's start");
    expect(checkClock({}).status).not.toBe("fail");
    expect(CLOCK_FLOOR).toBeLessThan(Date.now());
  }));
});
