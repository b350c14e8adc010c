// Joining, snapshots, quorum loss and removal with real skiff server processes:
//   - servers that join after the log was compacted catch up from a snapshot (state.db copy);
//   - with 2 of 3 servers down, writes fail fast with 503/504 and resourceVersion=0 reads work,
//     linearizable reads answer 503;
//   - `skiff cluster members` / `skiff cluster remove NAME`.
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { run as clusterCmd } from "../../cli/commands/cluster";
import { Cluster, freePort, ServerProc } from "./raft-harness";

setDefaultTimeout(240_000);

let cluster: Cluster | undefined;
afterAll(async () => {
  await cluster?.stop();
  cluster?.cleanup();
});

const NS = "default";
const cm = (name: string) => JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: NS }, data: { v: "x".repeat(200) } });

test("join from a snapshot, quorum loss fails fast, members and remove", async () => {
  cluster = new Cluster(1, { label: "join", env: { SKIFF_RAFT_SNAPSHOT_ENTRIES: "5", SKIFF_RAFT_KEEP_ENTRIES: "2" } });
  await cluster.start();
  const s1 = cluster.servers[0]!;
  for (let i = 0; i < 200; i += 20) {
    const rs = await Promise.all(Array.from({ length: 20 }, (_, j) => s1.fetch(`/api/v1/namespaces/${NS}/configmaps`, { method: "POST", body: cm(`c${i + j}`) })));
    for (const r of rs) expect(r.status).toBe(201);
  }
  expect(readFileSync(s1.logFile, "utf8")).toContain("snapshot at index");

  // Two more servers join; the log they need is compacted away, so they get a snapshot.
  for (const name of ["s2", "s3"]) {
    const [port, raftPort] = [await freePort(), await freePort()];
    const s = new ServerProc(name, join(cluster.dir, name), port, raftPort, join(cluster.dir, `${name}.log`), () => ({ server: s1.url, token: s1.joinToken }), { SKIFF_RAFT_SNAPSHOT_ENTRIES: "5", SKIFF_RAFT_KEEP_ENTRIES: "2" });
    cluster.servers.push(s);
    await s.start();
  }
  await cluster.waitVoters(3, 60_000);
  for (const s of cluster.servers.slice(1)) {
    expect(readFileSync(s.logFile, "utf8")).toContain("installed snapshot");
    const list = (await (await s.fetch(`/api/v1/namespaces/${NS}/configmaps?resourceVersion=0`)).json()) as any;
    // The 200 written here, besides the root CA ConfigMap every namespace gets.
    expect(list.items.filter((i: any) => i.metadata.name !== "kube-root-ca.crt").length).toBe(200);
  }

  // `skiff cluster members` through a follower.
  const follower = cluster.servers.find((s) => s !== s1)!;
  const flags = ["--server", follower.url, "--token", follower.token, "--insecure-skip-tls-verify"];
  expect(await clusterCmd(["members", ...flags])).toBe(0);
  const members = (await cluster.members())!;
  expect(members.length).toBe(3);
  expect(members.filter((m) => m.leader).length).toBe(1);
  for (const m of members) expect(m.role).toBe("voter");

  // Quorum loss: kill two servers; the survivor fails writes fast and still serves rv=0 reads.
  const leader = await cluster.leader();
  const survivor = cluster.servers.find((s) => s !== leader)!;
  for (const s of cluster.servers) if (s !== survivor) await s.kill("SIGKILL");
  await Bun.sleep(300);
  const t = performance.now();
  const w = await survivor.fetch(`/api/v1/namespaces/${NS}/configmaps`, { method: "POST", body: cm("no-quorum"), timeoutMs: 20_000 });
  const wMs = performance.now() - t;
  const wBody = (await w.json()) as any;
  console.log(`QUORUM LOST: write answered ${w.status} in ${wMs.toFixed(0)} ms: ${wBody.message}`);
  expect([503, 504]).toContain(w.status);
  expect(wMs).toBeLessThan(5000);
  const r0 = await survivor.fetch(`/api/v1/namespaces/${NS}/configmaps/c1?resourceVersion=0`);
  expect(r0.status).toBe(200);
  const rl = await survivor.fetch(`/api/v1/namespaces/${NS}/configmaps/c1`, { timeoutMs: 20_000 });
  expect(rl.status).toBe(503);

  // Bring them back, then remove one server.
  for (const s of cluster.servers) if (s !== survivor) await s.start();
  await cluster.waitVoters(3, 60_000);
  const victim = cluster.servers[2]!;
  expect(await clusterCmd(["remove", victim.name, ...flags.map((f) => (f === follower.url ? s1.url : f === follower.token ? s1.token : f))])).toBe(0);
  const after = (await cluster.members(s1))!;
  expect(after.map((m) => m.name).sort()).toEqual(["s1", "s2"]);
  // Writes keep working with the two remaining voters.
  expect((await s1.fetch(`/api/v1/namespaces/${NS}/configmaps`, { method: "POST", body: cm("after-remove") })).status).toBe(201);
  // The removed server stops (like a removed etcd member) and will not start on its old state.
  const code = await Promise.race([victim.proc!.exited, Bun.sleep(15_000).then(() => "still running")]);
  expect(code).toBe(1);
  expect(readFileSync(victim.logFile, "utf8")).toContain(`this server (${victim.name}) was removed from the cluster: stopping`);
  const err = await victim.start().then(() => "started", (e: Error) => e.message);
  expect(err).toContain("this server was removed from the cluster");
  expect(err).toContain("to join again, empty its data dir");

  // A server removed while it is down learns it when it comes back (the leader no longer lists
  // it) and stops too, instead of answering 503 for ever.
  const s4 = new ServerProc("s4", join(cluster.dir, "s4"), await freePort(), await freePort(), join(cluster.dir, "s4.log"), () => ({ server: s1.url, token: s1.joinToken }), {});
  cluster.servers.push(s4);
  await s4.start();
  await cluster.waitVoters(3, 60_000);
  await s4.kill("SIGKILL");
  expect(await clusterCmd(["remove", "s4", ...flags.map((f) => (f === follower.url ? s1.url : f === follower.token ? s1.token : f))])).toBe(0);
  await s4.start();
  const code4 = await Promise.race([s4.proc!.exited, Bun.sleep(30_000).then(() => "still running")]);
  expect(code4).toBe(1);
  expect(readFileSync(s4.logFile, "utf8")).toContain("no longer lists it");
});
