// The audit log's batch backend and file sink: events are queued without waiting for the disk,
// written in batches, dropped and counted when the queue is full; the file is 0600, rotated by
// size into <name>-<UTC time>.<ext> and pruned by count and by age.
import { expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BatchBackend, type AuditSink } from "../../server/audit/backend";
import { FileSink } from "../../server/audit/sinks";
import { metricsRegistry } from "../../server/metrics/apiserver";

/** A sink whose writes finish only when the test says so (a stalled disk). */
function stalledSink() {
  const writes: string[] = [];
  let release!: () => void;
  let gate = new Promise<void>((r) => (release = r));
  const sink: AuditSink = {
    async write(chunk) {
      writes.push(chunk);
      await gate;
    },
    close: async () => {},
  };
  return { sink, writes, open: () => release(), stall: () => (gate = new Promise<void>((r) => (release = r))) };
}

const droppedMetric = async () => {
  const m = (await metricsRegistry.getSingleMetric("apiserver_audit_error_total")!.get()).values.find((v) => v.labels.plugin === "log");
  return m?.value ?? 0;
};

test("a stalled sink never blocks: the queue fills to its bound, then events are dropped and counted", async () => {
  const s = stalledSink();
  const b = new BatchBackend(s.sink, { bufferSize: 10, batchMaxSize: 4, batchMaxWaitMs: 5 });
  const before = await droppedMetric();
  // The first batch of 4 is taken by the (stalled) writer; 10 more fit in the queue.
  for (let i = 0; i < 4; i++) expect(b.process({ i })).toBe(true);
  await Bun.sleep(1);
  expect(s.writes.length).toBe(1);
  const t0 = performance.now();
  let accepted = 0;
  for (let i = 4; i < 20; i++) if (b.process({ i })) accepted++;
  expect(performance.now() - t0).toBeLessThan(1000); // process() is synchronous: this only catches a wait
  expect(accepted).toBe(10);
  expect(b.stats.dropped).toBe(6);
  expect((await droppedMetric()) - before).toBe(6);
  s.open();
  await b.shutdown();
  const lines = s.writes.join("").trim().split("\n").map((l) => JSON.parse(l).i);
  expect(lines).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
  expect(s.writes.map((w) => w.trim().split("\n").length)).toEqual([4, 4, 4, 2]);
  // After shutdown nothing is queued.
  expect(b.process({ late: true })).toBe(false);
});

test("events wait at most batchMaxWaitMs for company; a failing sink counts its events as errors", async () => {
  const writes: string[] = [];
  const b = new BatchBackend({ write: async (c) => void writes.push(c), close: async () => {} }, { batchMaxWaitMs: 20 });
  b.process({ a: 1 });
  b.process({ a: 2 });
  expect(writes).toEqual([]);
  await Bun.sleep(60);
  expect(writes).toEqual(['{"a":1}\n{"a":2}\n']);
  const bad = new BatchBackend({ write: async () => { throw new Error("ENOSPC: no space left on device"); }, close: async () => {} }, { batchMaxWaitMs: 1 });
  const errors = console.error;
  const said: string[] = [];
  console.error = (m: string) => void said.push(m);
  try {
    bad.process({ x: 1 });
    bad.process({ x: 2 });
    await bad.shutdown();
  } finally {
    console.error = errors;
  }
  expect(bad.stats.failed).toBe(2);
  expect(said).toEqual(["audit: cannot write the audit log: ENOSPC: no space left on device (events are dropped and counted in apiserver_audit_error_total)"]);
});

test("the file sink writes 0600, rotates at maxsize, keeps maxbackup files and drops those older than maxage", async () => {
  const dir = mkdtempSync(join(tmpdir(), "skiff-audit-"));
  try {
    const path = join(dir, "logs", "audit.log");
    let t = Date.parse("2026-12-07T10:00:00.000Z");
    const f = new FileSink(path, { maxSizeMB: 1, maxBackups: 2, maxAgeDays: 3, now: () => new Date((t += 1000)) });
    const chunk = "x".repeat(400 * 1024) + "\n";
    await f.write(chunk);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    await f.write(chunk);
    expect(readdirSync(join(dir, "logs"))).toEqual(["audit.log"]);
    // A backup of last week: older than maxage, pruned at the next rotation.
    writeFileSync(join(dir, "logs", "audit-2026-11-30T10-00-00.000.log"), "old\n");
    await f.write(chunk); // 1.2 MB > 1 MB: rotated first
    expect(readdirSync(join(dir, "logs")).sort()).toEqual(["audit-2026-12-07T10-00-01.000.log", "audit.log"]);
    for (let i = 0; i < 9; i++) await f.write(chunk);
    await f.close();
    const names = readdirSync(join(dir, "logs")).sort();
    expect(names.length).toBe(3);
    expect(names[2]).toBe("audit.log");
    expect(f.backups().map((b) => b.path.slice(dir.length + 6))).toEqual(names.slice(0, 2).reverse());
    expect(readFileSync(path, "utf8").length).toBeLessThanOrEqual(1024 * 1024);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
