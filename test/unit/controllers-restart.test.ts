// Controllers wait for their caches and never run inside the store's apply (issue 11): a
// restart of every controller under running workloads creates and deletes no pod.
import { afterEach, expect, test } from "bun:test";
import { WorkQueue } from "../../server/controllers/runtime/queue";
import { startTestCluster, type TestCluster } from "../harness/cluster";

let c: TestCluster | undefined;
afterEach(async () => {
  await c?.close();
  c = undefined;
});

test("the work queue runs nothing before run() and never inside add()", async () => {
  const seen: string[] = [];
  const q = new WorkQueue(async (k) => void seen.push(k));
  q.add("a");
  await Bun.sleep(5);
  expect(seen).toEqual([]);
  q.run();
  q.add("b");
  expect(seen).toEqual([]); // deferred: the caller (an informer inside applyEntry) returns first
  await q.idle();
  expect(seen.sort()).toEqual(["a", "b"]);
  q.stop();
});

test("restarting the controllers under running workloads creates and deletes no pod", async () => {
  const cl = (c = await startTestCluster());
  // Any reconcile that starts while the store applies an entry is a bug.
  let applying = 0;
  let insideApply = 0;
  const state = cl.store.state;
  const apply = state.applyEntry.bind(state);
  state.applyEntry = (i, cmds) => {
    applying++;
    try {
      return apply(i, cmds);
    } finally {
      applying--;
    }
  };
  const watchReconciles = () => {
    for (const ctl of cl.running.controllers) {
      const r = ctl.reconcile.bind(ctl);
      ctl.reconcile = (k) => {
        if (applying) insideApply++;
        return r(k);
      };
    }
  };
  watchReconciles();
  await cl.addNode("n1");
  await cl.addNode("n2");
  const tmpl = (app: string, extra: any = {}) => ({ metadata: { labels: { app } }, spec: { containers: [{ name: "c", image: "busybox", command: ["sleep", "3600"] }], ...extra } });
  const sel = (app: string) => ({ matchLabels: { app } });
  await cl.create("Deployment", { metadata: { name: "web", namespace: "default" }, spec: { replicas: 3, selector: sel("web"), template: tmpl("web") } });
  await cl.create("StatefulSet", { metadata: { name: "db", namespace: "default" }, spec: { replicas: 2, serviceName: "db", selector: sel("db"), template: tmpl("db") } });
  await cl.create("DaemonSet", { metadata: { name: "ds", namespace: "default" }, spec: { selector: sel("ds"), template: tmpl("ds") } });
  await cl.create("Job", { metadata: { name: "batch", namespace: "default" }, spec: { parallelism: 2, completions: 2, template: tmpl("batch", { restartPolicy: "Never" }) } });
  const runningOf = (app: string) => cl.list("Pod", "default").filter((p) => p.metadata.labels?.app === app && p.status?.phase === "Running").length;
  await cl.until("workloads running", () => runningOf("web") === 3 && runningOf("db") === 2 && runningOf("ds") === 2 && runningOf("batch") === 2, 10_000);
  await Bun.sleep(200);
  const rev = cl.store.rev;
  const churn: string[] = [];
  const cancel = cl.store.watch({ res: "pods", match: () => true, send: (t, o) => void (t !== "MODIFIED" && churn.push(`${t} ${o.metadata.name}`)) }, rev);
  try {
    await cl.restartControllers();
    watchReconciles();
    // A ReplicaSet created after the restart gets its pod: the controllers have run since.
    await cl.create("ReplicaSet", { metadata: { name: "marker", namespace: "default" }, spec: { replicas: 1, selector: sel("marker"), template: tmpl("marker") } });
    await cl.until("marker pod", () => runningOf("marker") === 1);
    await Bun.sleep(500);
  } finally {
    cancel();
  }
  expect(churn.filter((e) => !e.includes("marker"))).toEqual([]);
  expect(insideApply).toBe(0);
});
