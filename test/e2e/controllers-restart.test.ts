// A server restart, and a leader change in a 3-server cluster, must not make any controller
// create or delete a pod: controllers and the scheduler wait until every informer they read has
// synced (issue 11). Hollow nodes play kubelet; a watch from the revision before the restart
// sees every pod event since, and only the marker Deployment created afterwards may add pods.
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { HollowNodes } from "../../agent/hollow/hollow";
import { KubeClient } from "../../lib/client";
import { loadKubeconfig } from "../../lib/kubeconfig";
import { startServer, type SkiffServer } from "../harness/server";
import { until } from "../harness/wait";
import { Cluster } from "./raft-harness";

const NS = "/apis/apps/v1/namespaces/default";
const tmpl = (app: string, extra: any = {}) => ({
  metadata: { labels: { app } },
  spec: { containers: [{ name: "c", image: "busybox", command: ["sh", "-c", "sleep 3600"] }], ...extra },
});
const sel = (app: string) => ({ matchLabels: { app } });

/** One of each workload controller that owns pods, all running on the hollow nodes. */
async function createWorkloads(client: KubeClient): Promise<void> {
  await client.create(`${NS}/deployments`, { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web" }, spec: { replicas: 3, selector: sel("web"), template: tmpl("web") } });
  await client.create(`${NS}/statefulsets`, { apiVersion: "apps/v1", kind: "StatefulSet", metadata: { name: "db" }, spec: { replicas: 2, serviceName: "db", selector: sel("db"), template: tmpl("db") } });
  await client.create(`${NS}/daemonsets`, { apiVersion: "apps/v1", kind: "DaemonSet", metadata: { name: "agent" }, spec: { selector: sel("agent"), template: tmpl("agent") } });
  await client.create("/apis/batch/v1/namespaces/default/jobs", {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: "batch" },
    spec: { parallelism: 2, completions: 2, template: tmpl("batch", { restartPolicy: "Never" }) },
  });
}

const running = (pods: any[], app: string) => pods.filter((p) => p.metadata.labels?.app === app && p.status?.phase === "Running" && !p.metadata.deletionTimestamp).length;

/** Wait until every workload runs its full set of pods; returns the pod list's revision. */
async function settled(client: KubeClient, nodes: number): Promise<string> {
  return until(
    "workloads running",
    async () => {
      const list = await client.list("/api/v1/namespaces/default/pods");
      const p = list.items as any[];
      const ok = running(p, "web") === 3 && running(p, "db") === 2 && running(p, "agent") === nodes && running(p, "batch") === 2 && p.every((x) => x.status?.phase === "Running");
      return ok && (list.metadata.resourceVersion as string);
    },
    60_000,
  );
}

/** Every pod ADDED or DELETED since `rev`, as seen by a watch that runs until `done` resolves. */
async function podChurn(client: KubeClient, rev: string, done: () => Promise<void>): Promise<string[]> {
  const churn: string[] = [];
  const abort = new AbortController();
  const watching = client
    .watch("/api/v1/namespaces/default/pods", { resourceVersion: rev }, (ev: any) => {
      if (ev.type === "ERROR") churn.push(`ERROR ${JSON.stringify(ev.object)}`);
      else if (ev.type !== "MODIFIED" && ev.object?.metadata?.labels?.app !== "marker") churn.push(`${ev.type} ${ev.object.metadata.name}`);
    }, abort.signal)
    .catch((e) => {
      if (!abort.signal.aborted) churn.push(`watch failed: ${(e as Error).message}`);
    });
  try {
    await done();
  } finally {
    abort.abort();
    await watching;
  }
  return churn;
}

/**
 * Controllers have run since the restart once a Deployment created afterwards has its pods
 * running (its keys queue behind the restart's initial ones); the extra seconds cover the
 * ~6 s in which the old bug's duplicate pods came and went.
 */
async function controllersCaughtUp(client: KubeClient): Promise<void> {
  await client.create(`${NS}/deployments`, { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "marker" }, spec: { replicas: 1, selector: sel("marker"), template: tmpl("marker") } });
  await until("marker pod running", async () => running((await client.list("/api/v1/namespaces/default/pods", { labelSelector: "app=marker" })).items, "marker") === 1, 30_000);
  await Bun.sleep(4000);
}

let srv: SkiffServer | undefined;
let cluster: Cluster | undefined;
let hollow: HollowNodes | undefined;
afterAll(async () => {
  await hollow?.stop();
  await srv?.stop();
  await cluster?.stop();
  cluster?.cleanup();
});

test("a server restart creates and deletes no pod", async () => {
  srv = await startServer({ name: "ctl-restart" });
  const client = new KubeClient(loadKubeconfig({ path: srv.kubeconfig, env: {} }));
  hollow = new HollowNodes(client, { count: 2, prefix: "rs-", leaseIntervalMs: 1000 });
  await hollow.start();
  await createWorkloads(client);
  const rev = await settled(client, 2);
  await srv.restart();
  const churn = await podChurn(client, rev, () => controllersCaughtUp(client));
  expect(churn).toEqual([]);
  await settled(client, 2);
  await hollow.stop();
  hollow = undefined;
}, 180_000);

test("a leader change in a 3-server cluster creates and deletes no pod", async () => {
  cluster = new Cluster(3, { label: "ctl-leader" });
  await cluster.start();
  const leader = await cluster.leader();
  // Hollow nodes and the watch talk to a follower, which stays up.
  const follower = cluster.servers.find((s) => s !== leader)!;
  const client = new KubeClient(loadKubeconfig({ path: join(follower.dataDir, "kubeconfig.yaml"), env: {} }));
  hollow = new HollowNodes(client, { count: 2, prefix: "lc-", leaseIntervalMs: 1000 });
  await hollow.start();
  await createWorkloads(client);
  const rev = await settled(client, 2);
  await leader.kill("SIGKILL");
  const churn = await podChurn(client, rev, async () => {
    await until("a new leader", async () => (await cluster!.leader()) !== leader, 30_000);
    await controllersCaughtUp(client);
  });
  expect(churn).toEqual([]);
}, 240_000);
