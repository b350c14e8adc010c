// Issue 12, acceptance 2, across Raft: three real skiff servers; a namespace with a quota of
// pods. 50 creates race through all three servers at once and exactly the quota's worth are
// stored (no double spend), the rest refused 403 "exceeded quota"; the controller's status.used
// matches, and the real kubectl's `describe quota` shows used/hard.
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { Cluster } from "./raft-harness";

setDefaultTimeout(240_000);

const NS = "team-a";
const HARD = 7;

let cluster: Cluster | undefined;
afterAll(async () => {
  await cluster?.stop();
  cluster?.cleanup();
});

const json = (o: unknown) => JSON.stringify(o);
const pod = (name: string) => ({ apiVersion: "v1", kind: "Pod", metadata: { name }, spec: { containers: [{ name: "c", image: "busybox" }] } });

test("50 concurrent creates against 3 servers never exceed the quota", async () => {
  cluster = new Cluster(3, { label: "quota" });
  await cluster.start();
  const [s1, s2, s3] = cluster.servers as [any, any, any];
  expect((await s1.fetch("/api/v1/namespaces", { method: "POST", body: json({ apiVersion: "v1", kind: "Namespace", metadata: { name: NS } }) })).status).toBe(201);
  const q = { apiVersion: "v1", kind: "ResourceQuota", metadata: { name: "pods" }, spec: { hard: { pods: String(HARD), "count/configmaps": "100" } } };
  expect((await s2.fetch(`/api/v1/namespaces/${NS}/resourcequotas`, { method: "POST", body: json(q) })).status).toBe(201);
  const used = async () => ((await (await s3.fetch(`/api/v1/namespaces/${NS}/resourcequotas/pods`)).json()) as any).status?.used;
  const deadline = Date.now() + 15_000;
  while (!(await used())?.pods) {
    if (Date.now() > deadline) throw new Error("quota status never filled");
    await Bun.sleep(100);
  }

  const servers = [s1, s2, s3];
  // Like kube-apiserver's informer cache, each server enforces a quota once it has applied it
  // (and its status); wait until all three have, as a client cannot tell them apart.
  for (const s of servers)
    while (!((await (await s.fetch(`/api/v1/namespaces/${NS}/resourcequotas/pods?resourceVersion=0`)).json()) as any).status?.used?.pods) await Bun.sleep(50);
  const created: string[] = [];
  const codes = await Promise.all(
    Array.from({ length: 50 }, async (_, i) => {
      const r = await servers[i % 3].fetch(`/api/v1/namespaces/${NS}/pods`, { method: "POST", body: json(pod(`p${i}`)), timeoutMs: 60_000 });
      const body = (await r.json()) as any;
      if (r.status === 403) expect(body.message).toContain(`exceeded quota: pods, requested: pods=1, used: pods=${HARD}, limited: pods=${HARD}`);
      if (r.status === 201) created.push(`p${i}`);
      return r.status;
    }),
  );
  const tally: Record<number, number> = {};
  for (const c of codes) tally[c] = (tally[c] ?? 0) + 1;
  console.log("50 racing creates through 3 servers:", tally);
  expect(tally).toEqual({ 201: HARD, 403: 50 - HARD });
  for (const s of servers) {
    const list = (await (await s.fetch(`/api/v1/namespaces/${NS}/pods`)).json()) as any;
    expect(list.items.length).toBe(HARD);
  }
  expect((await used()).pods).toBe(String(HARD));

  expect((await s3.fetch(`/api/v1/namespaces/${NS}/configmaps`, { method: "POST", body: json({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "cm" } }) })).status).toBe(201);
  // The real kubectl shows what the controller and admission keep.
  const kubeconfig = join(cluster.dir, "s1", "kubeconfig.yaml");
  const out = Bun.spawnSync(["kubectl", "--kubeconfig", kubeconfig, "-n", NS, "describe", "quota", "pods"]);
  const text = out.stdout.toString();
  expect(out.exitCode).toBe(0);
  expect(text).toMatch(/Resource\s+Used\s+Hard/);
  expect(text).toMatch(new RegExp(`pods\\s+${HARD}\\s+${HARD}`));
  // "cm" and the root CA ConfigMap every namespace gets (upstream counts it too).
  expect(text).toMatch(/count\/configmaps\s+2\s+100/);

  // A delete frees a slot (the controller recomputes), and the slot can be taken again once.
  expect((await s2.fetch(`/api/v1/namespaces/${NS}/pods/${created[0]}?gracePeriodSeconds=0`, { method: "DELETE" })).status).toBe(200);
  const freed = Date.now() + 15_000;
  while ((await used()).pods !== String(HARD - 1)) {
    if (Date.now() > freed) throw new Error(`used stayed ${(await used()).pods}`);
    await Bun.sleep(100);
  }
  const again = await Promise.all(servers.map((s, i) => s.fetch(`/api/v1/namespaces/${NS}/pods`, { method: "POST", body: json(pod(`again${i}`)) }).then((r: Response) => r.status)));
  expect(again.sort()).toEqual([201, 403, 403]);
});
