// Workload controllers against an in-process store, scheduler and fake kubelet.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { startTestCluster, type TestCluster } from "../harness/cluster";

let c: TestCluster;
beforeEach(async () => {
  c = await startTestCluster();
  await c.addNode("n1");
  await c.addNode("n2");
});
afterEach(async () => {
  await c.close();
});

const tmpl = (labels: Record<string, string>, image = "busybox:1", extra: any = {}) => ({
  metadata: { labels },
  spec: { containers: [{ name: "c", image, resources: { requests: { cpu: "100m" } } }], ...extra },
});

const podsOf = (prefix: string) => c.list("Pod", "default").filter((p) => p.metadata.name.startsWith(prefix));
const running = (prefix: string) => podsOf(prefix).filter((p) => p.status?.phase === "Running" && !p.metadata.deletionTimestamp);

test("replicaset creates, replaces and scales down pods", async () => {
  await c.create("ReplicaSet", { metadata: { name: "rs", namespace: "default" }, spec: { replicas: 3, selector: { matchLabels: { app: "rs" } }, template: tmpl({ app: "rs" }) } });
  await c.until("3 running pods", () => running("rs-").length === 3);
  const victim = podsOf("rs-")[0]!;
  await c.api.delete("Pod", "default", victim.metadata.name, { gracePeriodSeconds: 0 });
  await c.until("replacement", () => running("rs-").length === 3 && !c.get("Pod", "default", victim.metadata.name));
  await c.api.update("ReplicaSet", "default", "rs", (o) => ({ ...o, spec: { ...o.spec, replicas: 1 } }));
  await c.until("scale down to 1", () => podsOf("rs-").length === 1);
  await c.until("status", () => c.get("ReplicaSet", "default", "rs")?.status?.availableReplicas === 1 && c.get("ReplicaSet", "default", "rs")?.status?.replicas === 1);
});

test("replicaset adopts matching orphans", async () => {
  await c.create("Pod", { metadata: { name: "orphan", namespace: "default", labels: { app: "adopt" } }, spec: tmpl({}).spec });
  await c.create("ReplicaSet", { metadata: { name: "ad", namespace: "default" }, spec: { replicas: 2, selector: { matchLabels: { app: "adopt" } }, template: tmpl({ app: "adopt" }) } });
  await c.until("2 pods", () => c.list("Pod", "default").filter((p) => p.metadata.labels?.app === "adopt").length === 2);
  expect(c.get("Pod", "default", "orphan").metadata.ownerReferences?.[0]?.name).toBe("ad");
});

test("deployment rolls out, records revisions and rolls back", async () => {
  await c.create("Deployment", { metadata: { name: "web", namespace: "default" }, spec: { replicas: 4, selector: { matchLabels: { app: "web" } }, template: tmpl({ app: "web" }) } });
  const done = (gen?: number) => {
    const d = c.get("Deployment", "default", "web");
    const s = d?.status ?? {};
    return (gen === undefined || d.metadata.generation >= gen) && s.observedGeneration === d.metadata.generation && s.updatedReplicas === 4 && s.replicas === 4 && s.availableReplicas === 4;
  };
  await c.until("first rollout", () => done(), 8000);
  const d1 = c.get("Deployment", "default", "web");
  expect(d1.metadata.annotations["deployment.kubernetes.io/revision"]).toBe("1");
  expect(d1.status.conditions.find((x: any) => x.type === "Progressing").reason).toBe("NewReplicaSetAvailable");
  let minReady = Infinity;
  const unsub = c.store.onApplied(() => {
    const ready = c.list("Pod", "default").filter((p) => p.metadata.labels?.app === "web" && !p.metadata.deletionTimestamp && p.status?.conditions?.some((x: any) => x.type === "Ready" && x.status === "True")).length;
    minReady = Math.min(minReady, ready);
  });
  await c.api.update("Deployment", "default", "web", (o) => {
    o.spec.template.spec.containers[0].image = "busybox:2";
    return o;
  });
  await c.until("second rollout", () => done(2) && c.list("ReplicaSet", "default").filter((r) => r.metadata.name.startsWith("web-")).length === 2, 10000);
  unsub();
  expect(minReady).toBeGreaterThanOrEqual(3); // replicas - maxUnavailable (25% of 4 = 1)
  const rss = c.list("ReplicaSet", "default").filter((r) => r.metadata.name.startsWith("web-"));
  const byRev = Object.fromEntries(rss.map((r) => [r.metadata.annotations["deployment.kubernetes.io/revision"], r]));
  expect(byRev["2"].spec.template.spec.containers[0].image).toBe("busybox:2");
  expect(byRev["1"].spec.replicas).toBe(0);
  // What `kubectl rollout undo` does: copy the old template back.
  await c.api.update("Deployment", "default", "web", (o) => {
    const t = structuredClone(byRev["1"].spec.template);
    delete t.metadata.labels["pod-template-hash"];
    o.spec.template = t;
    return o;
  });
  await c.until("undo", () => done(3) && c.get("Deployment", "default", "web").metadata.annotations["deployment.kubernetes.io/revision"] === "3", 10000);
  const old = c.get("ReplicaSet", "default", byRev["1"].metadata.name);
  expect(old.metadata.annotations["deployment.kubernetes.io/revision"]).toBe("3");
  expect(old.spec.replicas).toBe(4);
});

test("deployment Recreate and progress deadline", async () => {
  await c.create("Deployment", {
    metadata: { name: "rec", namespace: "default" },
    spec: { replicas: 2, strategy: { type: "Recreate" }, selector: { matchLabels: { app: "rec" } }, template: tmpl({ app: "rec" }) },
  });
  await c.until("available", () => c.get("Deployment", "default", "rec")?.status?.availableReplicas === 2);
  // A template that cannot be scheduled never progresses.
  c.kubelet.enabled = true;
  await c.api.update("Deployment", "default", "rec", (o) => {
    o.spec.progressDeadlineSeconds = 1;
    o.spec.template.spec.nodeSelector = { nowhere: "true" };
    return o;
  });
  await c.until("deadline", () => c.get("Deployment", "default", "rec")?.status?.conditions?.find((x: any) => x.type === "Progressing" && x.status === "False")?.reason === "ProgressDeadlineExceeded", 5000);
  expect(podsOf("rec-").filter((p) => p.spec.nodeSelector === undefined && !p.metadata.deletionTimestamp).length).toBe(0);
});

test("statefulset creates pods in order with their claims, scales down from the top", async () => {
  await c.create("StatefulSet", {
    metadata: { name: "db", namespace: "default" },
    spec: {
      replicas: 3, serviceName: "db", selector: { matchLabels: { app: "db" } }, template: tmpl({ app: "db" }),
      volumeClaimTemplates: [{ metadata: { name: "data" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } }],
    },
  });
  const order: string[] = [];
  const unsub = c.store.onApplied((evs) => {
    for (const e of evs) if (e.res === "pods" && e.type === "ADDED" && e.name.startsWith("db-")) order.push(e.name);
  });
  await c.until("3 ready", () => c.get("StatefulSet", "default", "db")?.status?.readyReplicas === 3, 8000);
  unsub();
  expect(order).toEqual(["db-0", "db-1", "db-2"]);
  for (const i of [0, 1, 2]) {
    const pvc = c.get("PersistentVolumeClaim", "default", `data-db-${i}`);
    expect(pvc).toBeTruthy();
    await c.until(`pvc ${i} bound`, () => c.get("PersistentVolumeClaim", "default", `data-db-${i}`)?.status?.phase === "Bound");
    const pod = c.get("Pod", "default", `db-${i}`);
    expect(pod.spec.hostname).toBe(`db-${i}`);
    expect(pod.spec.volumes.find((v: any) => v.name === "data").persistentVolumeClaim.claimName).toBe(`data-db-${i}`);
    const pv = c.get("PersistentVolume", "", c.get("PersistentVolumeClaim", "default", `data-db-${i}`).spec.volumeName);
    expect(pv.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values).toEqual([pod.spec.nodeName]);
  }
  // Deleting a pod recreates it with the same claim.
  await c.api.delete("Pod", "default", "db-1", { gracePeriodSeconds: 0 });
  await c.until("db-1 back", () => c.get("Pod", "default", "db-1")?.status?.phase === "Running");
  // Rolling update with partition 1: db-2 and db-1 updated, db-0 kept.
  await c.api.update("StatefulSet", "default", "db", (o) => {
    o.spec.updateStrategy = { type: "RollingUpdate", rollingUpdate: { partition: 1 } };
    o.spec.template.spec.containers[0].image = "busybox:2";
    return o;
  });
  await c.until("update", () => ["db-1", "db-2"].every((n) => c.get("Pod", "default", n)?.spec.containers[0].image === "busybox:2" && c.get("Pod", "default", n)?.status?.phase === "Running"), 8000);
  expect(c.get("Pod", "default", "db-0").spec.containers[0].image).toBe("busybox:1");
  expect(c.list("ControllerRevision", "default").filter((r) => r.metadata.name.startsWith("db-")).length).toBe(2);
  await c.api.update("StatefulSet", "default", "db", (o) => ({ ...o, spec: { ...o.spec, replicas: 1 } }));
  await c.until("scale down", () => !c.get("Pod", "default", "db-2") && !c.get("Pod", "default", "db-1"));
  expect(c.get("PersistentVolumeClaim", "default", "data-db-2")).toBeTruthy();
});

test("daemonset runs one pod per eligible node and skips tainted ones", async () => {
  await c.addNode("n3", { taints: [{ key: "dedicated", value: "x", effect: "NoSchedule" }] });
  await c.create("DaemonSet", { metadata: { name: "agent", namespace: "default" }, spec: { selector: { matchLabels: { app: "agent" } }, template: tmpl({ app: "agent" }) } });
  await c.until("2 ready", () => c.get("DaemonSet", "default", "agent")?.status?.numberReady === 2);
  const nodes = podsOf("agent-").map((p) => p.spec.nodeName).sort();
  expect(nodes).toEqual(["n1", "n2"]);
  expect(c.get("DaemonSet", "default", "agent").status.desiredNumberScheduled).toBe(2);
  await c.addNode("n4");
  await c.until("pod on the new node", () => podsOf("agent-").some((p) => p.spec.nodeName === "n4"));
  await c.api.update("DaemonSet", "default", "agent", (o) => {
    o.spec.template.spec.containers[0].image = "busybox:2";
    return o;
  });
  await c.until("rolling update", () => {
    const s = c.get("DaemonSet", "default", "agent")?.status;
    return s?.updatedNumberScheduled === 3 && s?.numberAvailable === 3 && running("agent-").every((p) => p.spec.containers[0].image === "busybox:2");
  }, 8000);
});

test("daemonset keeps its pod on a node that gains a NoSchedule taint; NoExecute removes it", async () => {
  await c.create("DaemonSet", { metadata: { name: "keep", namespace: "default" }, spec: { selector: { matchLabels: { app: "keep" } }, template: tmpl({ app: "keep" }) } });
  await c.until("2 running", () => running("keep-").length === 2);
  const taint = (effect: string) =>
    c.api.update("Node", "", "n2", (o) => {
      o.spec.taints = [{ key: "dedicated", value: "x", effect }];
      return o;
    });
  await taint("NoSchedule");
  await c.until("desired 1", () => c.get("DaemonSet", "default", "keep")?.status?.desiredNumberScheduled === 1);
  await Bun.sleep(300);
  // Like Kubernetes (shouldContinueRunning): counted as misscheduled, not deleted.
  expect(running("keep-").map((p) => p.spec.nodeName).sort()).toEqual(["n1", "n2"]);
  expect(c.get("DaemonSet", "default", "keep").status.numberMisscheduled).toBe(1);
  await taint("NoExecute");
  await c.until("pod on n2 removed", () => podsOf("keep-").filter((p) => !p.metadata.deletionTimestamp).every((p) => p.spec.nodeName === "n1"));
});

test("job completes with parallelism, and a failing job stops at backoffLimit", async () => {
  await c.create("Job", { metadata: { name: "ok", namespace: "default" }, spec: { completions: 3, parallelism: 2, template: tmpl({}, "busybox:1", { restartPolicy: "Never" }) } });
  await c.until("complete", () => c.get("Job", "default", "ok")?.status?.conditions?.some((x: any) => x.type === "Complete" && x.status === "True"), 8000);
  expect(c.get("Job", "default", "ok").status.succeeded).toBe(3);
  c.kubelet.exitCodes.set("bad", 1);
  await c.create("Job", { metadata: { name: "bad", namespace: "default" }, spec: { backoffLimit: 2, template: tmpl({}, "busybox:1", { restartPolicy: "Never" }) } });
  await c.until("failed", () => c.get("Job", "default", "bad")?.status?.conditions?.some((x: any) => x.type === "Failed" && x.reason === "BackoffLimitExceeded"), 8000);
  expect(c.get("Job", "default", "bad").status.failed).toBe(3);
});

test("indexed job completes every index", async () => {
  await c.create("Job", { metadata: { name: "idx", namespace: "default" }, spec: { completions: 3, parallelism: 3, completionMode: "Indexed", template: tmpl({}, "busybox:1", { restartPolicy: "Never" }) } });
  await c.until("indexes", () => c.get("Job", "default", "idx")?.status?.completedIndexes === "0-2", 8000);
  const idx = podsOf("idx-").map((p) => p.metadata.annotations["batch.kubernetes.io/job-completion-index"]).sort();
  expect(idx).toEqual(["0", "1", "2"]);
});

test("job activeDeadlineSeconds and ttlSecondsAfterFinished", async () => {
  await c.create("Job", { metadata: { name: "slow", namespace: "default" }, spec: { activeDeadlineSeconds: 1, template: tmpl({}, "busybox:1", { restartPolicy: "Never", nodeSelector: { none: "x" } }) } });
  await c.until("deadline", () => c.get("Job", "default", "slow")?.status?.conditions?.some((x: any) => x.type === "Failed" && x.reason === "DeadlineExceeded"), 5000);
  await c.create("Job", { metadata: { name: "ttl", namespace: "default" }, spec: { ttlSecondsAfterFinished: 0, template: tmpl({}, "busybox:1", { restartPolicy: "Never" }) } });
  await c.until("ttl job ran", () => c.get("Job", "default", "ttl")?.status?.succeeded === 1 || !c.get("Job", "default", "ttl"));
  await c.until("ttl deletion", () => !c.get("Job", "default", "ttl"), 5000);
});

test("cronjob creates jobs on schedule and keeps history limits", async () => {
  let now = Date.now() - 3_600_000;
  await c.close();
  c = await startTestCluster({ now: () => now, skip: ["nodelifecycle"] });
  await c.addNode("n1");
  await c.create("CronJob", {
    metadata: { name: "tick", namespace: "default", creationTimestamp: "2030-01-01T00:00:00Z" },
    spec: { schedule: "*/1 * * * *", successfulJobsHistoryLimit: 2, jobTemplate: { spec: { template: tmpl({}, "busybox:1", { restartPolicy: "Never" }) } } },
  });
  const cj = () => c.get("CronJob", "default", "tick");
  // creationTimestamp is set by the server (real time), so move the clock past it.
  now = Date.parse(cj().metadata.creationTimestamp) + 61_000;
  const tickCJ = () => c.running.controllers.find((x) => x.name === "cronjob")!.queue.add("default/tick");
  const seen = new Set<string>();
  for (let i = 0; i < 4; i++) {
    const before = cj()?.status?.lastScheduleTime;
    tickCJ();
    await c.until(`schedule ${i}`, () => cj()?.status?.lastScheduleTime !== before && cj()?.status?.lastScheduleTime, 3000);
    for (const j of c.list("Job", "default")) if (j.metadata.name.startsWith("tick-")) seen.add(j.metadata.name);
    await c.until("jobs done", () => c.list("Job", "default").filter((j) => j.metadata.name.startsWith("tick-")).every((j) => j.status?.succeeded === 1), 3000).catch((e) => { console.error(i, JSON.stringify(c.list("Job", "default").map((j) => [j.metadata.name, j.status])), JSON.stringify(c.list("Pod", "default").map((p) => [p.metadata.name, p.spec.nodeName, p.status?.phase]))); throw e; });
    now += 60_000;
  }
  expect(seen.size).toBeGreaterThanOrEqual(4);
  tickCJ();
  await c.until("history limit", () => c.list("Job", "default").filter((j) => j.metadata.name.startsWith("tick-") && !j.metadata.deletionTimestamp).length <= 2, 3000);
}, 20_000);
