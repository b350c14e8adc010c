// Controllers and scheduler end to end: a real server process, hollow nodes registered over
// the API, and the real kubectl. Pods never run (no containers here): hollow nodes mark them
// Running/Ready, or Succeeded/Failed for run-to-completion pods (`exit 1` in the command fails).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { HollowNodes } from "../../agent/hollow/hollow";
import { KubeClient } from "../../lib/client";
import { loadKubeconfig } from "../../lib/kubeconfig";
import { describeResult, kubectl } from "../harness/kubectl";
import { BUN, REPO, startServer, type SkiffServer } from "../harness/server";
import { until } from "../harness/wait";

let srv: SkiffServer;
let client: KubeClient;
let hollow: HollowNodes;
let spare: HollowNodes;

const k = async (args: string[], stdin?: string, timeoutMs = 60_000) => {
  const r = await kubectl(srv, args, { stdin, timeoutMs });
  if (r.code !== 0) throw new Error(describeResult(r));
  return r.stdout;
};
const getJson = async (path: string) => client.get(path);
const pods = async (ns: string, sel: string) => (await client.list(`/api/v1/namespaces/${ns}/pods`, { labelSelector: sel })).items as any[];

beforeAll(async () => {
  srv = await startServer({
    name: "controllers",
    env: { SKIFF_NODE_MONITOR_GRACE_SECONDS: "4", SKIFF_JOB_BACKOFF_MS: "200" },
  });
  client = new KubeClient(loadKubeconfig({ path: srv.kubeconfig, env: {} }));
  hollow = new HollowNodes(client, { count: 2, prefix: "worker-", leaseIntervalMs: 1000 });
  await hollow.start();
  // Started first so that it has a minute boundary or two to work with by the end.
  await k(["apply", "-f", "-"], `
apiVersion: batch/v1
kind: CronJob
metadata: {name: tick, namespace: default}
spec:
  schedule: "*/1 * * * *"
  successfulJobsHistoryLimit: 1
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: c, image: busybox, command: ["sh", "-c", "sleep 1"]}]
`);
}, 60_000);

afterAll(async () => {
  await hollow?.stop();
  await spare?.stop();
  await srv?.stop();
});

test("deployment: scale, rolling update, rollout status/history/undo", async () => {
  await k(["create", "deployment", "web", "--image=busybox:1.36", "--replicas=3"]);
  await k(["rollout", "status", "deployment/web", "--timeout=60s"]);
  expect((await pods("default", "app=web")).filter((p) => p.status.phase === "Running").length).toBe(3);
  await k(["scale", "deployment/web", "--replicas=5"]);
  await k(["rollout", "status", "deployment/web", "--timeout=60s"]);
  await until("5 pods", async () => (await pods("default", "app=web")).filter((p) => p.status.phase === "Running" && !p.metadata.deletionTimestamp).length === 5);
  await k(["set", "image", "deployment/web", "busybox=busybox:1.37"]);
  await k(["rollout", "status", "deployment/web", "--timeout=60s"]);
  const live = (await pods("default", "app=web")).filter((p) => !p.metadata.deletionTimestamp);
  expect(live.every((p) => p.spec.containers[0].image === "busybox:1.37")).toBe(true);
  const hist = await k(["rollout", "history", "deployment/web"]);
  expect(hist).toMatch(/1\s/);
  expect(hist).toMatch(/2\s/);
  await k(["rollout", "undo", "deployment/web"]);
  await k(["rollout", "status", "deployment/web", "--timeout=60s"]);
  await until("undo back to 1.36", async () => (await pods("default", "app=web")).filter((p) => !p.metadata.deletionTimestamp).every((p) => p.spec.containers[0].image === "busybox:1.36"));
  await k(["rollout", "restart", "deployment/web"]);
  await k(["rollout", "status", "deployment/web", "--timeout=60s"]);
  await k(["scale", "deployment/web", "--replicas=2"]);
  await until("scaled to 2", async () => (await pods("default", "app=web")).filter((p) => !p.metadata.deletionTimestamp).length === 2);
  const out = await k(["get", "deployment", "web"]);
  expect(out).toMatch(/web\s+2\/2\s+2\s+2/);
}, 120_000);

test("statefulset: ordered pods with their own bound claims", async () => {
  await k(["apply", "-f", "-"], `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: default}
spec:
  replicas: 3
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: c, image: busybox}]}
  volumeClaimTemplates:
  - metadata: {name: data}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
`);
  await k(["rollout", "status", "statefulset/db", "--timeout=60s"]);
  const ps = await pods("default", "app=db");
  const created = ps.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name)).map((p) => p.metadata.creationTimestamp);
  expect(ps.map((p) => p.metadata.name).sort()).toEqual(["db-0", "db-1", "db-2"]);
  expect([...created].sort()).toEqual(created);
  for (const i of [0, 1, 2]) {
    const pvc = await until(`data-db-${i} bound`, async () => {
      const c = await getJson(`/api/v1/namespaces/default/persistentvolumeclaims/data-db-${i}`);
      return c.status?.phase === "Bound" && c;
    });
    const pv = await getJson(`/api/v1/persistentvolumes/${pvc.spec.volumeName}`);
    const pod = ps.find((p) => p.metadata.name === `db-${i}`);
    expect(pv.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values).toEqual([pod.spec.nodeName]);
  }
  // --wait=false: the pod is recreated under the same name within milliseconds.
  const oldUid = ps.find((p) => p.metadata.name === "db-1").metadata.uid;
  await k(["delete", "pod", "db-1", "--wait=false"]);
  // The old pod may still read Running until its hollow node removes it: wait for a new uid.
  let recreated: any;
  await until("db-1 recreated with a new uid", async () => {
    const r = await srv.fetch("/api/v1/namespaces/default/pods/db-1");
    if (r.status !== 200) return false;
    recreated = await r.json();
    return recreated.metadata.uid !== oldUid && recreated.status.phase === "Running";
  });
  expect(recreated.spec.volumes.find((v: any) => v.name === "data").persistentVolumeClaim.claimName).toBe("data-db-1");
}, 90_000);

test("daemonset: one pod per node, none on a tainted node", async () => {
  spare = new HollowNodes(client, { count: 1, prefix: "tainted-", leaseIntervalMs: 1000, taints: () => [{ key: "dedicated", value: "db", effect: "NoSchedule" }] });
  await spare.start();
  await k(["apply", "-f", "-"], `
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: default}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: c, image: busybox}]}
`);
  await k(["rollout", "status", "daemonset/agent", "--timeout=60s"]);
  const ps = await pods("default", "app=agent");
  expect(ps.map((p) => p.spec.nodeName).sort()).toEqual(["worker-0", "worker-1"]);
}, 60_000);

test("jobs: completions with parallelism; backoffLimit stops a failing job", async () => {
  await k(["apply", "-f", "-"], `
apiVersion: batch/v1
kind: Job
metadata: {name: three, namespace: default}
spec:
  completions: 3
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox, command: ["sh", "-c", "sleep 1"]}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: broken, namespace: default}
spec:
  backoffLimit: 2
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox, command: ["sh", "-c", "exit 1"]}]
`);
  await k(["wait", "--for=condition=complete", "job/three", "--timeout=60s"]);
  expect((await getJson("/apis/batch/v1/namespaces/default/jobs/three")).status.succeeded).toBe(3);
  await k(["wait", "--for=condition=failed", "job/broken", "--timeout=60s"]);
  const j = await getJson("/apis/batch/v1/namespaces/default/jobs/broken");
  expect(j.status.failed).toBe(3);
  expect(j.status.conditions.find((c: any) => c.type === "Failed").reason).toBe("BackoffLimitExceeded");
}, 90_000);

test("a pod that fits nowhere stays Pending with a FailedScheduling event", async () => {
  await k(["run", "huge", "--image=busybox", "--overrides", JSON.stringify({ spec: { containers: [{ name: "huge", image: "busybox", resources: { requests: { cpu: "64" } } }] } })]);
  const ev = await until("event", async () => (await client.list("/api/v1/namespaces/default/events", { fieldSelector: "involvedObject.name=huge,reason=FailedScheduling" })).items[0]);
  expect(ev.message).toBe("0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: db}, 2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.".replace(/1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod/, "2 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling"));
  const desc = await k(["describe", "pod", "huge"]);
  expect(desc).toContain("FailedScheduling");
  expect((await getJson("/api/v1/namespaces/default/pods/huge")).status.phase).toBe("Pending");
}, 30_000);

test("a node that stops heartbeating goes NotReady and its pods are recreated elsewhere", async () => {
  await k(["apply", "-f", "-"], `
apiVersion: apps/v1
kind: Deployment
metadata: {name: mover, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: mover}}
  template:
    metadata: {labels: {app: mover}}
    spec:
      tolerations:
      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
      - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
      topologySpreadConstraints:
      - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: mover}}, nodeAffinityPolicy: Honor, nodeTaintsPolicy: Honor}
      containers: [{name: c, image: busybox}]
`);
  await k(["rollout", "status", "deployment/mover", "--timeout=60s"]);
  hollow.kill("worker-1");
  await until("worker-1 NotReady", async () => (await k(["get", "node", "worker-1"])).includes("NotReady"), 30_000);
  await until("pods on worker-0", async () => {
    const live = (await pods("default", "app=mover")).filter((p) => !p.metadata.deletionTimestamp);
    return live.length === 2 && live.every((p) => p.spec.nodeName === "worker-0" && p.status.phase === "Running");
  }, 40_000);
}, 90_000);

test("--cascade=orphan keeps pods; deleting a namespace deletes everything in it", async () => {
  await k(["create", "namespace", "scratch"]);
  await k(["-n", "scratch", "create", "deployment", "keep", "--image=busybox", "--replicas=2"]);
  await until("2 pods", async () => (await pods("scratch", "app=keep")).length === 2);
  await k(["-n", "scratch", "delete", "deployment", "keep", "--cascade=orphan"]);
  await k(["-n", "scratch", "delete", "replicaset", "-l", "app=keep", "--cascade=orphan"]);
  await until("pods orphaned", async () => (await pods("scratch", "app=keep")).every((p) => !p.metadata.ownerReferences?.length), 10_000);
  const left = await pods("scratch", "app=keep");
  expect(left.length).toBe(2);
  expect(left.every((p) => !p.metadata.ownerReferences?.length)).toBe(true);
  await k(["delete", "namespace", "scratch", "--timeout=60s"]);
  await until("namespace gone", async () => (await kubectl(srv, ["get", "namespace", "scratch"])).code !== 0);
}, 90_000);

test("cronjob creates a job each minute and keeps its history limit", async () => {
  const jobs = async () => ((await client.list("/apis/batch/v1/namespaces/default/jobs")).items as any[]).filter((j) => j.metadata.name.startsWith("tick-"));
  const first = await until("first cron job", async () => (await jobs())[0], 70_000);
  expect(first.metadata.ownerReferences[0].name).toBe("tick");
  await until("lastScheduleTime", async () => (await getJson("/apis/batch/v1/namespaces/default/cronjobs/tick")).status?.lastScheduleTime);
  // successfulJobsHistoryLimit 1: once a second job finishes, only one completed job remains.
  await until("history limit", async () => {
    const js = await jobs();
    const done = js.filter((j) => j.status?.conditions?.some((c: any) => c.type === "Complete"));
    return js.length >= 1 && done.length <= 1;
  }, 10_000);
}, 90_000);
