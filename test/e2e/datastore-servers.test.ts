// Issue 16, acceptance 2: three Skiff servers sharing one etcd (then one PostgreSQL) are one
// cluster: writes through each are seen by watches on the others, and when the server running
// the controllers is killed with -9, another takes over within 5 s and no acknowledged write
// is lost. No agents: needs no lock (the datastores run on loopback, on free ports).
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { startDatastore, type Datastore } from "../harness/datastore";
import { startServer, type SkiffServer } from "../harness/server";
import { openWatch, type RawWatch } from "../harness/watch";
import { readFileSync } from "node:fs";
import { join } from "node:path";

setDefaultTimeout(180_000);

const json = { "content-type": "application/json", accept: "application/json" };
const running: { stop(): Promise<void> }[] = [];

afterAll(async () => {
  for (const r of running.reverse()) await r.stop().catch(() => {});
});

async function threeServers(ds: Datastore, label: string): Promise<SkiffServer[]> {
  const endpoint = await ds.endpoint();
  const first = await startServer({ name: `${label}-1`, datastore: { endpoint }, extraArgs: ["--node-name", `${label}-1`] });
  running.push(first);
  const token = readFileSync(join(first.dataDir, "server", "token"), "utf8").trim();
  const rest = await Promise.all(
    [2, 3].map((i) => startServer({ name: `${label}-${i}`, datastore: { endpoint }, extraArgs: ["--node-name", `${label}-${i}`, "--token", token] })),
  );
  running.push(...rest);
  return [first, ...rest];
}

async function holder(s: SkiffServer): Promise<string> {
  const r = await s.fetch("/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/skiff-controllers", { headers: json });
  if (r.status !== 200) return "";
  return ((await r.json()) as any).spec?.holderIdentity ?? "";
}

for (const kind of ["etcd", "postgres"] as const) {
  test(`${kind}: three servers share one datastore; controllers fail over within 5 s; no acknowledged write lost`, async () => {
    const ds = await startDatastore(kind);
    running.push(ds);
    const servers = await threeServers(ds, kind);
    const ns = `shared-${kind}`;
    expect((await servers[0]!.fetch("/api/v1/namespaces", { method: "POST", headers: json, body: JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } }) })).status).toBe(201);
    // One cluster: the admin credentials of the first server work on the others (shared bootstrap data).
    for (const s of servers) expect((await s.fetch(`/api/v1/namespaces/${ns}`, { headers: json })).status).toBe(200);

    const rv0 = ((await (await servers[0]!.fetch(`/api/v1/namespaces/${ns}/configmaps`, { headers: json })).json()) as any).metadata.resourceVersion;
    const watches: RawWatch[] = servers.map((s) => openWatch(s, `/api/v1/namespaces/${ns}/configmaps?watch=true&resourceVersion=${rv0}`));
    // Writes through each server...
    const names: string[] = [];
    for (let i = 0; i < 5; i++) {
      for (const [j, s] of servers.entries()) {
        const name = `from-${j}-${i}`;
        const r = await s.fetch(`/api/v1/namespaces/${ns}/configmaps`, { method: "POST", headers: json, body: JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name }, data: { i: String(i) } }) });
        expect(r.status, await r.clone().text()).toBe(201);
        names.push(name);
      }
    }
    // ...are seen, in the same revision order, by the watch on every server.
    for (const w of watches) await w.waitFor((e) => e.object?.metadata?.name === names[names.length - 1], 10_000);
    const seq = (w: RawWatch) => w.events.filter((e) => e.type === "ADDED").map((e) => `${e.object.metadata.name}@${e.object.metadata.resourceVersion}`);
    for (const w of watches) expect(seq(w)).toEqual(seq(watches[0]!));
    expect(seq(watches[0]!).map((s) => s.split("@")[0]).sort()).toEqual([...names].sort());
    for (const w of watches) w.close();

    // The controllers run on exactly one server: the Lease holder.
    let leaderId = "";
    const t0 = Date.now();
    while (!leaderId && Date.now() - t0 < 10_000) leaderId = await holder(servers[1]!);
    expect(leaderId).not.toBe("");
    const leaderIdx = servers.findIndex((_, i) => leaderId.startsWith(`${kind}-${i + 1}_`));
    expect(leaderIdx).toBeGreaterThanOrEqual(0);
    const leader = servers[leaderIdx]!;
    const others = servers.filter((_, i) => i !== leaderIdx);

    // Writers through every server while the leader dies: every 201 must survive.
    const acked: string[] = [];
    const statuses = new Map<number, number>();
    let stop = false;
    const writers = servers.map(async (s, j) => {
      for (let i = 0; !stop; i++) {
        const name = `load-${j}-${i}`;
        try {
          const r = await s.fetch(`/api/v1/namespaces/${ns}/configmaps`, { method: "POST", headers: json, body: JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name } }), signal: AbortSignal.timeout(5000) });
          statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
          if (r.status === 201) acked.push(name);
          await r.arrayBuffer();
        } catch {
          if (s === leader) return; // its process is gone
          await Bun.sleep(50);
        }
      }
    });
    await Bun.sleep(1000);
    await leader.kill("SIGKILL");
    const killedAt = Date.now();
    let newLeader = "";
    while (Date.now() - killedAt < 10_000) {
      const h = await holder(others[0]!);
      if (h && h !== leaderId) {
        newLeader = h;
        break;
      }
      await Bun.sleep(50);
    }
    const takeoverMs = Date.now() - killedAt;
    console.log(`${kind}: controllers moved from ${leaderId} to ${newLeader} in ${takeoverMs} ms`);
    expect(newLeader).not.toBe("");
    expect(takeoverMs).toBeLessThan(5000);
    // The new leader's controllers work: a Deployment gets its ReplicaSet.
    const dep = { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web" }, spec: { replicas: 1, selector: { matchLabels: { app: "web" } }, template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "c", image: "x" }] } } } };
    expect((await others[1]!.fetch(`/apis/apps/v1/namespaces/${ns}/deployments`, { method: "POST", headers: json, body: JSON.stringify(dep) })).status).toBe(201);
    const t1 = Date.now();
    let rs = 0;
    while (!rs && Date.now() - t1 < 10_000) {
      rs = ((await (await others[0]!.fetch(`/apis/apps/v1/namespaces/${ns}/replicasets`, { headers: json })).json()) as any).items.length;
      if (!rs) await Bun.sleep(100);
    }
    expect(rs).toBe(1);
    await Bun.sleep(500);
    stop = true;
    await Promise.all(writers);
    expect([...statuses.keys()].filter((c) => c >= 500 && c !== 503)).toEqual([]);
    // No acknowledged write is lost: every 201 is in the list of both survivors.
    for (const s of others) {
      const items = ((await (await s.fetch(`/api/v1/namespaces/${ns}/configmaps`, { headers: json })).json()) as any).items as any[];
      const have = new Set(items.map((i) => i.metadata.name));
      expect(acked.filter((n) => !have.has(n))).toEqual([]);
    }
    console.log(`${kind}: ${acked.length} acknowledged writes across the kill, all present; statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
  });
}
