// `bun run bench store [--objects 100000] [--ops 300000] [--clients 64] [--value 400] [--dir DIR]`:
// the embedded store under sustained churn, as `skiff server` runs it (a Raft node of one over
// the segment log, state.db with its compaction, Raft snapshots every 10,000 entries, and a
// `skiff snapshot` archive taken in the middle), on the real disk. Creates --objects objects,
// then churns them (--ops updates, deletes and re-creates, --clients in flight) and prints, over
// time: live data (the JSON of the live objects), state.db and its WAL, their ratio (target
// <= 2x), and the longest event-loop stall in each interval (target <= 50 ms), with what ran
// then (compaction steps, vacuum, Raft snapshots, the archive).
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { storeApplication } from "../../server/raft/cluster/store-app";
import { bootstrapEntries } from "../../server/raft/core/config";
import { RaftNode } from "../../server/raft/node/node";
import { SegmentLogStorage } from "../../server/raft/storage/segment-log";
import { AppliedState } from "../../server/store/applied-state";
import { Snapshotter } from "../../server/store/backup/snapshots";
import { Store } from "../../server/store/store";

function arg(args: string[], name: string, def: string): string {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1]! : def;
}

function table(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join("  ");
  return [line(head), line(w.map((n) => "-".repeat(n))), ...rows.map(line)].join("\n");
}

const size = (f: string) => {
  try {
    return statSync(f).size;
  } catch {
    return 0;
  }
};
const mb = (b: number) => (b / 1048576).toFixed(1);

export async function main(args: string[]): Promise<void> {
  const objects = Number(arg(args, "--objects", "100000"));
  const ops = Number(arg(args, "--ops", "300000"));
  const clients = Number(arg(args, "--clients", "64"));
  const valueBytes = Number(arg(args, "--value", "400"));
  const base = arg(args, "--dir", "/var/tmp");
  const dir = mkdtempSync(join(base, "skiff-store-bench-"));
  const storage = new SegmentLogStorage(join(dir, "raft"));
  storage.bootstrap(bootstrapEntries([1]));
  const state = new AppliedState({ dataDir: join(dir, "db"), synchronous: "NORMAL" });
  const node = new RaftNode({
    id: 1,
    storage,
    app: storeApplication(state, join(dir, "raft")),
    transport: { send: () => {}, forward: () => Promise.reject(new Error("no peers")) },
    // Entries carry many writes each here: snapshot more often than skiff server's 10,000 so a
    // few are taken during the run.
    snapshotEntries: 1000,
    log: (m) => {
      if (/^snapshot at index/.test(m)) raftSnaps++;
    },
  });
  node.start();
  const store = new Store({ state, proposer: { propose: (c) => node.propose(c) }, readBarrier: () => node.readBarrier() });
  while (!node.isLeader()) await Bun.sleep(10);

  // What ran, and how long it held the event loop.
  const activity = new Map<string, { n: number; maxMs: number }>();
  const note = (what: string, ms: number) => {
    const a = activity.get(what) ?? { n: 0, maxMs: 0 };
    a.n++;
    a.maxMs = Math.max(a.maxMs, ms);
    activity.set(what, a);
  };
  const compact = state.compact.bind(state);
  state.compact = (budget?: number) => {
    const t = performance.now();
    const p = state.sm.pages();
    compact(budget);
    const p2 = state.sm.pages();
    note(p2.total < p.total ? "compaction + incremental vacuum" : "compaction step", performance.now() - t);
  };
  let raftSnaps = 0;

  // Event-loop stalls: a 5 ms timer's lateness ("wall"), and how much of that lateness the main
  // thread spent running ("cpu", from /proc/self/task/<tid>/schedstat: time on a CPU in ns).
  // On a shared, loaded machine the wall figure includes waiting for a CPU; the cpu figure is
  // what this process held the event loop for.
  const schedstat = `/proc/self/task/${process.pid}/schedstat`;
  const cpuNow = () => {
    try {
      return Number(readFileSync(schedstat, "utf8").split(" ")[0]) / 1e6;
    } catch {
      return 0;
    }
  };
  let intervalMax = 0;
  let intervalCpu = 0;
  let overallMax = 0;
  let overallCpu = 0;
  let last = performance.now();
  let lastCpu = cpuNow();
  const lag = setInterval(() => {
    const now = performance.now();
    const cpu = cpuNow();
    const late = now - last - 5;
    const busy = Math.min(late, cpu - lastCpu - 0.5);
    last = now;
    lastCpu = cpu;
    intervalMax = Math.max(intervalMax, late);
    overallMax = Math.max(overallMax, late);
    intervalCpu = Math.max(intervalCpu, busy);
    overallCpu = Math.max(overallCpu, busy);
  }, 5);

  const live = new Map<string, number>();
  let liveBytes = 0;
  const value = (i: number, gen: number) => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: `o${i}`, namespace: "bench", uid: `u-${i}-${gen}` }, data: { gen: String(gen), v: "x".repeat(valueBytes) } });
  const put = (i: number, obj: any) => {
    const k = `o${i}`;
    liveBytes -= live.get(k) ?? 0;
    const n = JSON.stringify(obj).length;
    live.set(k, n);
    liveBytes += n;
  };
  const rows: string[][] = [];
  const t0 = performance.now();
  let done = 0;
  let archive: { ms: number; bytes: number; maxStall: number; maxCpu: number } | undefined;
  const sample = (phase: string) => {
    const db = size(join(dir, "db", "state.db"));
    const wal = size(join(dir, "db", "state.db-wal"));
    rows.push([phase, String(done), `${((performance.now() - t0) / 1000).toFixed(0)} s`, String(live.size), mb(liveBytes), mb(db), mb(wal), (db / liveBytes).toFixed(2), intervalMax.toFixed(1), intervalCpu.toFixed(1)]);
    intervalMax = 0;
    intervalCpu = 0;
  };

  // Phase 1: create.
  let next = 0;
  const every = Math.max(1000, Math.floor((objects + ops) / 20));
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < objects) {
        const i = next++;
        const obj = value(i, 0);
        const r = await store.propose({ op: "create", res: "configmaps", ns: "bench", name: `o${i}`, obj });
        if (r.ok) put(i, r.obj);
        if (++done % every === 0) sample("create");
      }
    }),
  );
  sample("create");
  // Phase 2: churn: 70% updates, 15% deletes, 15% re-creates of deleted ones; an archive half way.
  const dead: number[] = [];
  let churned = 0;
  let seed = 20261207;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const snapshotter = new Snapshotter({ state, serverDir: dir, dir: join(dir, "snapshots"), node: "bench" });
  await Promise.all(
    Array.from({ length: clients }, async (_, w) => {
      while (churned < ops) {
        const c = churned++;
        if (w === 0 && c >= ops / 2 && !archive) {
          archive = { ms: 0, bytes: 0, maxStall: 0, maxCpu: 0 };
          const before = [overallMax, overallCpu];
          overallMax = overallCpu = 0;
          const ts = performance.now();
          const info = await snapshotter.save("bench");
          archive = { ms: performance.now() - ts, bytes: info.size, maxStall: overallMax, maxCpu: overallCpu };
          overallMax = Math.max(before[0]!, overallMax);
          overallCpu = Math.max(before[1]!, overallCpu);
          continue;
        }
        const x = rnd();
        if (x < 0.15 && dead.length) {
          const i = dead.splice(Math.floor(rnd() * dead.length), 1)[0]!;
          const r = await store.propose({ op: "create", res: "configmaps", ns: "bench", name: `o${i}`, obj: value(i, c) });
          if (r.ok) put(i, r.obj);
        } else {
          const i = Math.floor(rnd() * objects);
          const k = `o${i}`;
          if (!live.has(k)) continue;
          if (x < 0.3) {
            const n = live.get(k)!;
            live.delete(k);
            liveBytes -= n;
            const r = await store.propose({ op: "delete", res: "configmaps", ns: "bench", name: k });
            if (r.ok) dead.push(i);
          } else {
            const r = await store.propose({ op: "update", res: "configmaps", ns: "bench", name: k, obj: value(i, c) });
            if (r.ok) put(i, r.obj);
          }
        }
        if (++done % every === 0) sample("churn");
      }
    }),
  );
  sample("churn");
  // Idle: compaction and vacuum catch up.
  for (let s = 0; s < 10; s++) {
    await Bun.sleep(1000);
    if (s % 5 === 4) sample("idle");
  }
  clearInterval(lag);
  // Live bytes as stored (the JSON with resourceVersion), from the store itself.
  let exact = 0;
  let count = 0;
  for (let after: { ns: string; name: string } | undefined, page; (page = state.sm.scan("configmaps", "bench", after, 1000)).length; after = page[page.length - 1]) {
    for (const r of page) {
      exact += r.value.length;
      count++;
    }
  }
  const db = size(join(dir, "db", "state.db"));
  const elapsed = (performance.now() - t0) / 1000;

  console.log(`\nStore churn: ${objects} objects (${valueBytes}-byte values) created, then ${ops} updates/deletes/re-creates, ${clients} in flight; Raft node of one on ${base} (state.db synchronous=NORMAL, manual checkpoints, as skiff server)\n`);
  console.log(table(["phase", "writes", "time", "live objs", "live MB", "state.db MB", "WAL MB", "db/live", "stall ms (wall)", "stall ms (cpu)"], rows));
  console.log(`\nafter ${elapsed.toFixed(0)} s: ${count} live objects, ${mb(exact)} MB of live data, state.db ${mb(db)} MB = ${(db / exact).toFixed(2)}x live (target <= 2x: ${db / exact <= 2 ? "met" : "NOT met"}); ${done} writes, ${(done / elapsed).toFixed(0)}/s`);
  console.log(`Raft snapshots taken (copied on a worker): ${raftSnaps}`);
  if (archive) console.log(`skiff snapshot archive in the middle of the churn: ${mb(archive.bytes)} MB compressed in ${archive.ms.toFixed(0)} ms; longest stall meanwhile ${archive.maxStall.toFixed(1)} ms wall, ${archive.maxCpu.toFixed(1)} ms cpu`);
  const load = readFileSync("/proc/loadavg", "utf8").split(" ")[0];
  console.log(`\nlongest event-loop stall overall: ${overallMax.toFixed(1)} ms wall, ${overallCpu.toFixed(1)} ms of it running (target <= 50 ms: ${overallCpu <= 50 ? "met" : "NOT met"} by the running time; load average ${load} on ${navigator.hardwareConcurrency} CPUs)\n`);
  console.log(table(["held the event loop", "runs", "longest ms"], [...activity].map(([k, a]) => [k, String(a.n), a.maxMs.toFixed(1)])));
  await node.stop();
  storage.close();
  store.close();
  if (!args.includes("--keep")) rmSync(dir, { recursive: true, force: true });
}
