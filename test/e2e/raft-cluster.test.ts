// Issue 3, proof 2 and 3: three real skiff server processes on loopback. Clients write and
// read ConfigMaps (a key-value register each) through all three servers while the leader is
// kill -9'd, a server is paused with SIGSTOP/SIGCONT and the leader is partitioned with the
// transport's fault switch. Then everything is killed and restarted from disk, and:
//   - every acknowledged write is still there (its key is at or past its revision),
//   - the recorded history is linearizable (test/sim/linearizability.ts),
//   - all three servers hold the same objects.
// The failover time (kill -9 of the leader → first successful write) is printed.
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { checkLinearizable, formatHistory, type HistoryOp } from "../sim/linearizability";
import { Cluster, type ServerProc } from "./raft-harness";

setDefaultTimeout(300_000);

const NS = "raft-lin";
const KEYS = 6;
const CLIENTS_PER_SERVER = 3;
const PHASE_MS = Number(process.env.RAFT_E2E_PHASE_MS) || 5_000;

let cluster: Cluster | undefined;
afterAll(async () => {
  await cluster?.stop();
  cluster?.cleanup();
});

const cmPath = (k: number) => `/api/v1/namespaces/${NS}/configmaps/k${k}`;
const cmBody = (k: number, v: string) => JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: `k${k}`, namespace: NS }, data: { v } });

test("3 servers: kill -9, SIGSTOP, partition; restart; no acknowledged write lost; linearizable", async () => {
  cluster = new Cluster(3, { label: "chaos" });
  await cluster.start();
  const [s1] = cluster.servers;
  const t0 = performance.now();
  const now = () => performance.now() - t0;

  // Namespace and the keys, recorded as the first puts of the history.
  expect((await s1!.fetch("/api/v1/namespaces", { method: "POST", body: JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: NS } }) })).status).toBe(201);
  const history: HistoryOp[] = [];
  const ackedRev = new Map<string, number>(); // key -> highest acknowledged resourceVersion
  for (let k = 0; k < KEYS; k++) {
    const call = now();
    const r = await s1!.fetch(`/api/v1/namespaces/${NS}/configmaps`, { method: "POST", body: cmBody(k, "init") });
    expect(r.status).toBe(201);
    const rv = Number(((await r.json()) as any).metadata.resourceVersion);
    ackedRev.set(`k${k}`, rv);
    history.push({ client: 1000, input: { kind: "put", key: `k${k}`, value: "init" }, output: {}, call, ret: now() });
  }

  let running = true;
  let seq = 0;
  const stats = { ok: 0, failed: 0, reads: 0 };
  const client = async (cid: number, server: ServerProc) => {
    while (running) {
      if (!server.alive()) {
        await Bun.sleep(50);
        continue;
      }
      const k = Math.floor(Math.random() * KEYS);
      const key = `k${k}`;
      const isPut = Math.random() < 0.5;
      const call = now();
      if (isPut) {
        const value = `c${cid}-${++seq}`;
        let output: {} | undefined;
        try {
          const r = await server.fetch(cmPath(k), { method: "PUT", body: cmBody(k, value), timeoutMs: 8000 });
          if (r.status === 200) {
            output = {};
            const rv = Number(((await r.json()) as any).metadata.resourceVersion);
            if (rv > (ackedRev.get(key) ?? 0)) ackedRev.set(key, rv);
            stats.ok++;
          } else {
            await r.text();
            stats.failed++;
          }
        } catch {
          stats.failed++;
        }
        // Failures (503/504/connection errors) have an unknown outcome: they may have applied.
        history.push({ client: cid, input: { kind: "put", key, value }, output, call, ret: output ? now() : Infinity });
      } else {
        try {
          const r = await server.fetch(cmPath(k), { timeoutMs: 8000 });
          if (r.status === 200) {
            const v = ((await r.json()) as any).data?.v ?? null;
            history.push({ client: cid, input: { kind: "get", key }, output: { value: v }, call, ret: now() });
            stats.reads++;
          } else await r.text();
        } catch {}
      }
      if (!isPut) await Bun.sleep(2);
    }
  };
  const clients: Promise<void>[] = [];
  let cid = 0;
  for (const s of cluster.servers) for (let i = 0; i < CLIENTS_PER_SERVER; i++) clients.push(client(++cid, s));

  await Bun.sleep(PHASE_MS);

  // 1. kill -9 the leader; measure until a write through a survivor succeeds.
  const leader1 = await cluster.leader();
  const survivor = cluster.servers.find((s) => s !== leader1)!;
  const killAt = performance.now();
  await leader1.kill("SIGKILL");
  let failoverMs = -1;
  for (let i = 0; ; i++) {
    try {
      const r = await survivor.fetch(`/api/v1/namespaces/${NS}/configmaps`, {
        method: "POST",
        body: JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: `probe-${i}`, namespace: NS } }),
        timeoutMs: 3000,
      });
      if (r.status === 201) {
        failoverMs = performance.now() - killAt;
        break;
      }
      await r.text();
    } catch {}
    if (performance.now() - killAt > 30_000) break;
    await Bun.sleep(10);
  }
  console.log(`FAILOVER: kill -9 of leader ${leader1.name} → first successful write through ${survivor.name}: ${failoverMs.toFixed(0)} ms`);
  expect(failoverMs).toBeGreaterThan(0);
  await Bun.sleep(PHASE_MS / 2);
  await leader1.start();
  await Bun.sleep(PHASE_MS / 2);

  // 2. pause a follower (SIGSTOP), then resume it.
  const leader2 = await cluster.leader();
  const paused = cluster.servers.find((s) => s !== leader2)!;
  paused.signal("SIGSTOP");
  await Bun.sleep(PHASE_MS);
  paused.signal("SIGCONT");
  await Bun.sleep(PHASE_MS / 2);

  // 3. partition the leader from both others (both directions) with the fault switch.
  const leader3 = await cluster.leader();
  const others = cluster.servers.filter((s) => s !== leader3);
  const block = async (s: ServerProc, names: string[]) => {
    const r = await s.fetch("/v1-skiff/raft/fault", { method: "POST", body: JSON.stringify({ block: names }) });
    expect(r.status).toBe(200);
  };
  await block(leader3, others.map((o) => o.name));
  for (const o of others) await block(o, [leader3.name]);
  // Writes through the isolated old leader must fail promptly (503/504), not hang.
  const isoStart = performance.now();
  const iso = await leader3.fetch(cmPath(0), { method: "PUT", body: cmBody(0, "isolated"), timeoutMs: 15_000 }).catch(() => undefined);
  const isoMs = performance.now() - isoStart;
  history.push({ client: 999, input: { kind: "put", key: "k0", value: "isolated" }, output: iso?.status === 200 ? {} : undefined, call: isoStart - t0, ret: iso?.status === 200 ? performance.now() - t0 : Infinity });
  console.log(`PARTITION: write through the isolated leader ${leader3.name} answered ${iso?.status} in ${isoMs.toFixed(0)} ms`);
  expect(iso?.status === 503 || iso?.status === 504).toBe(true);
  expect(isoMs).toBeLessThan(8000);
  await Bun.sleep(PHASE_MS);
  for (const s of cluster.servers) await block(s, []);
  await Bun.sleep(PHASE_MS);

  running = false;
  await Promise.all(clients);
  console.log(`workload: ${stats.ok} acknowledged writes, ${stats.failed} failed/unknown, ${stats.reads} reads`);
  expect(stats.ok).toBeGreaterThan(50);

  // 4. kill everything and restart from disk.
  for (const s of cluster.servers) await s.kill("SIGKILL");
  for (const s of cluster.servers) await s.start();
  await cluster.waitVoters(3, 60_000);

  // No acknowledged write is missing, and the final reads close the history.
  const finals = new Map<string, Map<string, string>>();
  for (const s of cluster.servers) {
    const m = new Map<string, string>();
    for (let k = 0; k < KEYS; k++) {
      const call = now();
      const r = await s.fetch(cmPath(k));
      expect(r.status).toBe(200);
      const obj = (await r.json()) as any;
      const rv = Number(obj.metadata.resourceVersion);
      expect(rv).toBeGreaterThanOrEqual(ackedRev.get(`k${k}`)!);
      m.set(`k${k}`, `${obj.data?.v}@${rv}`);
      history.push({ client: 2000, input: { kind: "get", key: `k${k}` }, output: { value: obj.data?.v ?? null }, call, ret: now() });
    }
    finals.set(s.name, m);
  }
  // Same objects everywhere (resourceVersion=0 reads: local state after catching up).
  const first = JSON.stringify([...finals.values()][0]!.entries().toArray());
  for (const [, m] of finals) expect(JSON.stringify(m.entries().toArray())).toBe(first);
  const lists = await Promise.all(cluster.servers.map(async (s) => ((await (await s.fetch(`/api/v1/namespaces/${NS}/configmaps`)).json()) as any).items.map((i: any) => `${i.metadata.name}@${i.metadata.resourceVersion}`).join(",")));
  expect(new Set(lists).size).toBe(1);

  const res = checkLinearizable(history);
  if (!res.ok) console.log(`NOT LINEARIZABLE (${res.result}) on ${res.key}:\n${formatHistory(res.ops ?? [])}`);
  console.log(`history: ${history.length} operations, linearizability: ${res.result} (explored ${res.explored})`);
  expect(res.result).toBe("linearizable");
});
