// Resource usage for kubectl top: rate computation, /proc parsing, the collector's sampling and
// the metrics.k8s.io value formats.
import { describe, expect, test } from "bun:test";
import { RateTracker, StatsCollector, parseMeminfo, parseProcStat, type ContainerSample, type NodeSample } from "../../agent/stats";
import { cpuQuantity, goDuration, memoryQuantity, metaTime, podMetrics } from "../../server/api/metrics";
import { parseQuantity } from "../../cli/commands/top";

describe("RateTracker", () => {
  test("needs two samples; the rate is CPU-ns per second over the window", () => {
    const r = new RateTracker(1000);
    expect(r.observe("a", { tMs: 10_000, cpuNs: 5e9 })).toBeNull();
    // half a core for 2 s
    expect(r.observe("a", { tMs: 12_000, cpuNs: 6e9 })).toEqual({ nanoCores: 5e8, windowMs: 2000, tMs: 12_000 });
    // then two cores for 1 s, from the newer sample
    expect(r.observe("a", { tMs: 13_000, cpuNs: 8e9 })?.nanoCores).toBe(2e9);
  });

  test("a window shorter than the minimum answers the last rate and keeps the stored sample", () => {
    const r = new RateTracker(1000);
    r.observe("a", { tMs: 0, cpuNs: 0 });
    expect(r.observe("a", { tMs: 300, cpuNs: 1e8 })).toBeNull();
    expect(r.observe("a", { tMs: 1000, cpuNs: 1e9 })).toEqual({ nanoCores: 1e9, windowMs: 1000, tMs: 1000 });
    expect(r.observe("a", { tMs: 1200, cpuNs: 1e9 })).toEqual({ nanoCores: 1e9, windowMs: 1000, tMs: 1000 });
    // measured from t=1000, not from 1200
    expect(r.observe("a", { tMs: 2000, cpuNs: 1.25e9 })?.nanoCores).toBe(2.5e8);
  });

  test("a counter that goes backwards starts over; waitMs says how long to the next rate", () => {
    const r = new RateTracker(500);
    expect(r.waitMs("a", 0)).toBe(500);
    r.observe("a", { tMs: 0, cpuNs: 9e9 });
    expect(r.waitMs("a", 200)).toBe(300);
    expect(r.observe("a", { tMs: 1000, cpuNs: 1e9 })).toBeNull();
    expect(r.observe("a", { tMs: 2000, cpuNs: 2e9 })?.nanoCores).toBe(1e9);
    r.retain((k) => k !== "a");
    expect(r.size).toBe(0);
  });
});

test("/proc/stat: busy time of all CPUs in ns; /proc/meminfo: working set", () => {
  const stat = "cpu  100 20 30 1000 50 5 5 10 7 0\ncpu0 50 10 15 500 25 2 2 5 3 0\nintr 1 2\n";
  // user+nice+system+irq+softirq+steal = 170 ticks of 10 ms
  expect(parseProcStat(stat)).toBe(170 * 1e7);
  expect(() => parseProcStat("intr 1")).toThrow();
  const mem = "MemTotal:        2000 kB\nMemFree:          500 kB\nMemAvailable:    1200 kB\nInactive(file):   300 kB\n";
  expect(parseMeminfo(mem)).toBe((2000 - 500 - 300) * 1024);
});

describe("StatsCollector", () => {
  function fake() {
    let t = 100_000;
    let nodeCpu = 0;
    const cpu = new Map<string, number>([
      ["c1", 0],
      ["c2", 0],
    ]);
    const sleeps: number[] = [];
    const src = {
      node: (): NodeSample => ({ tMs: t, cpuNs: nodeCpu, memoryBytes: 64 << 20 }),
      containers: async (): Promise<ContainerSample[]> =>
        [...cpu].map(([id, v]) => ({ id, namespace: "ns", pod: "p", uid: "u1", container: ({ c1: "busy", c2: "idle" } as Record<string, string>)[id] ?? id, tMs: t, cpuNs: v, memoryBytes: 1 << 20 })),
    };
    // Time passes only in sleep: busy burns one core, idle 1 %, the node 1.5 cores.
    const advance = (ms: number) => {
      t += ms;
      nodeCpu += ms * 1.5e6;
      for (const [id, v] of cpu) cpu.set(id, v + ms * (id === "c1" ? 1e6 : 1e4));
    };
    const c = new StatsCollector(src, {
      minWindowMs: 1000,
      now: () => t,
      sleep: async (ms) => {
        sleeps.push(ms);
        advance(ms);
      },
    });
    return { c, sleeps, advance, cpu };
  }

  test("the first request takes a short second sample; later ones use the previous request's", async () => {
    const f = fake();
    const a = await f.c.collect({ kind: "stats", node: true, pods: true });
    expect(f.sleeps).toEqual([1000]);
    expect(a.node?.cpuNanoCores).toBe(1.5e9);
    expect(a.node?.memoryBytes).toBe(64 << 20);
    expect(a.pods).toHaveLength(1);
    const [busy, idle] = a.pods![0]!.containers;
    expect(busy).toMatchObject({ name: "busy", cpuNanoCores: 1e9, windowMs: 1000, memoryBytes: 1 << 20 });
    expect(idle).toMatchObject({ name: "idle", cpuNanoCores: 1e7 });
    f.advance(5000);
    const b = await f.c.collect({ kind: "stats", pods: true });
    expect(f.sleeps).toEqual([1000]);
    expect(b.node).toBeUndefined();
    expect(b.pods![0]!.containers[0]).toMatchObject({ cpuNanoCores: 1e9, windowMs: 5000 });
  });

  test("a new container gets its short sample; a gone container is forgotten", async () => {
    const f = fake();
    await f.c.collect({ kind: "stats", pods: true });
    f.cpu.delete("c2");
    f.cpu.set("c3", 0);
    f.advance(2000);
    const r = await f.c.collect({ kind: "stats", pods: true });
    expect(f.sleeps).toEqual([1000, 1000]);
    expect(r.pods![0]!.containers.map((c) => c.name)).toEqual(["busy", "c3"]);
    expect(f.c.rates.size).toBe(2);
  });
});

test("metrics.k8s.io values as metrics-server writes them", () => {
  expect(cpuQuantity(0)).toBe("0");
  expect(cpuQuantity(1e9)).toBe("1");
  expect(cpuQuantity(250e6)).toBe("250m");
  expect(cpuQuantity(1500e3)).toBe("1500u");
  expect(cpuQuantity(12345)).toBe("12345n");
  expect(memoryQuantity(0)).toBe("0");
  expect(memoryQuantity(52088 * 1024)).toBe("52088Ki");
  expect(memoryQuantity(1 << 30)).toBe("1Gi");
  expect(memoryQuantity(1000)).toBe("1000");
  expect(goDuration(850)).toBe("850ms");
  expect(goDuration(1000)).toBe("1s");
  expect(goDuration(1500)).toBe("1.5s");
  expect(goDuration(10_062)).toBe("10.062s");
  expect(goDuration(61_250)).toBe("1m1.25s");
  expect(goDuration(3_600_000)).toBe("1h0m0s");
  expect(metaTime("2026-01-02T03:04:05.678Z")).toBe("2026-01-02T03:04:05Z");
  // kubectl reads what we write
  expect(parseQuantity("250m")).toBeCloseTo(0.25);
  expect(parseQuantity("12345n")).toBeCloseTo(12345e-9);
  expect(parseQuantity("52088Ki")).toBe(52088 * 1024);
});

test("PodMetrics: containers in spec order, the newest point's timestamp and window", () => {
  const pod = { metadata: { name: "p", namespace: "ns", labels: { app: "x" } }, spec: { containers: [{ name: "a" }, { name: "b" }] } };
  const m: any = podMetrics(pod, [
    { name: "b", timestamp: "2026-01-01T00:00:02.000Z", windowMs: 1500, cpuNanoCores: 1e6, memoryBytes: 2048 },
    { name: "a", timestamp: "2026-01-01T00:00:01.000Z", windowMs: 1000, cpuNanoCores: 0, memoryBytes: 4096 },
  ]);
  expect(m.containers.map((c: any) => c.name)).toEqual(["a", "b"]);
  expect(m.timestamp).toBe("2026-01-01T00:00:02Z");
  expect(m.window).toBe("1.5s");
  expect(m.metadata.labels).toEqual({ app: "x" });
  expect(m.containers[1].usage).toEqual({ cpu: "1m", memory: "2Ki" });
});
