// Disruption budgets and autoscaling with real containers: a real `skiff server` process, an
// agent in this process on a real containerd (node pol-node), and a hollow node (pol-spare-0)
// that takes the replacement pods a drain causes. The real kubectl drives cordon, uncordon,
// drain (which evicts through pods/eviction), autoscale and get.
import { containerdSkipReason } from "../harness/containerd.ts";
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Agent } from "../../agent/main.ts";
import { HollowNodes } from "../../agent/hollow/hollow.ts";
import { KubeClient } from "../../lib/client.ts";
import { loadKubeconfig } from "../../lib/kubeconfig.ts";
import { BUSYBOX_IMAGE } from "../images/builder.ts";
import { startServer, type SkiffServer } from "../harness/server.ts";
import { describeResult, kubectl, type KubectlOptions } from "../harness/kubectl.ts";
import { until } from "../harness/wait.ts";
import { cleanupLocalNode, startInProcessAgent, stopInProcessAgent, type LocalNode } from "../harness/local-node.ts";
import { quantityValue } from "../../schemas/derive/quantity.ts";

setDefaultTimeout(180_000);

const NODE = "pol-node";
const SPARE = "pol-spare-0";
const BRIDGE = "skiffpl0";
const POD_CIDR = "10.84.0.0/24";

const reason = containerdSkipReason(import.meta.path);

export function deploymentYaml(name: string, replicas: number, o: { ns?: string; command?: string; cpu?: string; cpuLimit?: string } = {}): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  namespace: ${o.ns ?? "default"}
spec:
  replicas: ${replicas}
  selector:
    matchLabels: {app: ${name}}
  template:
    metadata:
      labels: {app: ${name}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: ${BUSYBOX_IMAGE}
        imagePullPolicy: IfNotPresent
        command: ["sh", "-c", ${JSON.stringify(o.command ?? "exec sleep 3600")}]
${o.cpu ? `        resources:\n          requests: {cpu: ${o.cpu}}\n${o.cpuLimit ? `          limits: {cpu: ${o.cpuLimit}}\n` : ""}` : ""}`;
}

export function pdbYaml(name: string, minAvailable: number, ns = "default"): string {
  return `apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: ${name}
  namespace: ${ns}
spec:
  minAvailable: ${minAvailable}
  selector:
    matchLabels: {app: ${name}}
`;
}

describe.skipIf(reason !== null)("disruption budgets and autoscaling on real containers", () => {
  const node: LocalNode = { dataDir: mkdtempSync(join(tmpdir(), "skiff-policy-agent-")), bridge: BRIDGE, cgroupRoot: `/skiff-policy-${process.pid}`, bridgeBefore: existsSync(`/sys/class/net/${BRIDGE}`) };
  let srv: SkiffServer;
  let agent: Agent | undefined;
  let client: KubeClient;
  let hollow: HollowNodes | undefined;

  const k = (args: string[], opts?: KubectlOptions) => kubectl(srv, args, opts);
  const ok = async (args: string[], opts?: KubectlOptions) => {
    const r = await k(args, opts);
    expect(r.code, describeResult(r)).toBe(0);
    return r;
  };
  const pods = async (app: string, ns = "default") => ((await client.list(`/api/v1/namespaces/${ns}/pods`, { labelSelector: `app=${app}` })).items as any[]);
  const ready = (p: any) => !p.metadata.deletionTimestamp && (p.status?.conditions ?? []).some((c: any) => c.type === "Ready" && c.status === "True");
  const pdb = (name: string, ns = "default") => client.get(`/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets/${name}`);

  beforeAll(async () => {
    srv = await startServer({ name: "policy" });
    client = new KubeClient(loadKubeconfig({ path: srv.kubeconfig, env: {} }));
    agent = await startInProcessAgent(srv, node, { nodeName: NODE, podCidr: POD_CIDR });
    await until("node Ready", async () => ((await client.get(`/api/v1/nodes/${NODE}`).catch(() => undefined)) as any)?.status?.conditions?.some((c: any) => c.type === "Ready" && c.status === "True"), 60_000);
    hollow = new HollowNodes(client, { count: 1, prefix: "pol-spare-", leaseIntervalMs: 1000 });
    await hollow.start();
    // The spare takes no pods until a drain needs it.
    await ok(["cordon", SPARE]);
  });

  afterAll(async () => {
    try {
      await k(["delete", "deployment", "--all", "-A", "--timeout=30s"], { timeoutMs: 40_000 }).catch(() => {});
      await k(["delete", "pod", "--all", "-A", "--grace-period=1", "--timeout=30s"], { timeoutMs: 40_000 }).catch(() => {});
      await hollow?.stop();
      await stopInProcessAgent(agent);
      await srv?.stop();
    } finally {
      await cleanupLocalNode(node);
    }
  });

  test("kubectl drain evicts one pod at a time under a budget (minAvailable 1, 2 replicas); with 1 replica it blocks and reports the budget", async () => {
    await ok(["apply", "-f", "-"], { stdin: deploymentYaml("web", 2) + "---\n" + pdbYaml("web", 1) });
    await until("2 web pods Running on the real node", async () => (await pods("web")).filter((p) => ready(p) && p.spec.nodeName === NODE).length === 2, 90_000);
    await until("budget allows 1", async () => {
      const s = (await pdb("web")).status;
      return s?.disruptionsAllowed === 1 && s.currentHealthy === 2 && s.desiredHealthy === 1 && s.expectedPods === 2;
    });
    const originals = (await pods("web")).map((p) => p.metadata.name).sort();
    const table = await ok(["get", "pdb", "web"]);
    expect(table.stdout).toMatch(/^NAME\s+MIN AVAILABLE\s+MAX UNAVAILABLE\s+ALLOWED DISRUPTIONS\s+AGE\nweb\s+1\s+N\/A\s+1\s+/);
    await ok(["uncordon", SPARE]);

    // While the drain runs, at least one web pod is ready at every moment.
    let minReady = Infinity;
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const n = (await pods("web")).filter(ready).length;
        minReady = Math.min(minReady, n);
        await Bun.sleep(100);
      }
    })();
    const drain = await k(["drain", NODE, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=90s"], { timeoutMs: 100_000 });
    watching = false;
    await watcher;
    expect(drain.code, describeResult(drain)).toBe(0);
    const out = drain.stdout + drain.stderr;
    expect(out).toContain(`node/${NODE} cordoned`);
    for (const n of originals) expect(out).toContain(`pod/${n} evicted`);
    // The second eviction was refused while the first pod's replacement was not ready yet.
    expect(out).toMatch(/error when evicting pods\/"web-[a-z0-9-]+" -n "default" \(will retry after 5s\): Cannot evict pod as it would violate the pod's disruption budget\./);
    expect(out).toContain(`node/${NODE} drained`);
    expect(minReady).toBeGreaterThanOrEqual(1);
    const after = await pods("web");
    expect(after.filter(ready).every((p) => p.spec.nodeName === SPARE)).toBe(true);
    const node = await client.get(`/api/v1/nodes/${NODE}`);
    expect(node.spec.unschedulable).toBe(true);

    // One replica under minAvailable 1: the drain blocks, retries, and reports the budget.
    await ok(["uncordon", NODE]);
    await ok(["cordon", SPARE]);
    await ok(["apply", "-f", "-"], { stdin: deploymentYaml("solo", 1) + "---\n" + pdbYaml("solo", 1) });
    await until("solo Running on the real node", async () => (await pods("solo")).filter((p) => ready(p) && p.spec.nodeName === NODE).length === 1, 90_000);
    await until("solo budget computed", async () => (await pdb("solo")).status?.currentHealthy === 1);
    const solo = (await pods("solo"))[0]!.metadata.name;
    const blocked = await k(["drain", NODE, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=12s"], { timeoutMs: 40_000 });
    expect(blocked.code, describeResult(blocked)).not.toBe(0);
    const bout = blocked.stdout + blocked.stderr;
    expect(bout).toContain(`error when evicting pods/"${solo}" -n "default" (will retry after 5s): Cannot evict pod as it would violate the pod's disruption budget.`);
    expect(bout).toContain("global timeout reached: 12s");
    // The oldest and newest kubectl report the budget the same way.
    for (const minor of [27, 33]) {
      const old = await k(["drain", NODE, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=7s"], { minor, timeoutMs: 30_000 });
      expect(old.code, describeResult(old)).not.toBe(0);
      expect(old.stdout + old.stderr).toContain(`error when evicting pods/"${solo}" -n "default" (will retry after 5s): Cannot evict pod as it would violate the pod's disruption budget.`);
    }
    const still = await client.get(`/api/v1/namespaces/default/pods/${solo}`);
    expect(still.metadata.deletionTimestamp).toBeUndefined();
    const d = await ok(["describe", "pdb", "solo"]);
    expect(d.stdout).toMatch(/Allowed disruptions:\s+0/);
    // The raw API answer: 429 with the budget named in the cause.
    const raw = await srv.fetch(`/api/v1/namespaces/default/pods/${solo}/eviction`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ apiVersion: "policy/v1", kind: "Eviction", metadata: { name: solo, namespace: "default" } }),
    });
    expect(raw.status).toBe(429);
    const st: any = await raw.json();
    expect(st).toMatchObject({ kind: "Status", reason: "TooManyRequests", message: "Cannot evict pod as it would violate the pod's disruption budget." });
    expect(st.details.causes).toEqual([{ reason: "DisruptionBudget", message: "The disruption budget solo needs 1 healthy pods and has 1 currently" }]);
    await ok(["uncordon", NODE]);
    await ok(["delete", "deployment", "web", "solo"]);
    await ok(["delete", "pdb", "web", "solo"]);
  });

  test("an HPA (target 50%) scales a CPU-burning Deployment up within 60 s and back down after the load stops", async () => {
    await ok(["cordon", SPARE]); // metrics come from the real node's agent
    // Each pod burns CPU (capped at 100m by its limit, twice its 50m request) until /tmp/stop exists.
    const burner = "while [ ! -f /tmp/stop ]; do :; done; exec sleep 3600";
    await ok(["apply", "-f", "-"], { stdin: deploymentYaml("burn", 1, { command: burner, cpu: "50m", cpuLimit: "100m" }) });
    await until("burner Running", async () => (await pods("burn")).filter(ready).length === 1, 90_000);
    // kubectl autoscale creates an autoscaling/v1 object (sent as protobuf); behavior is v2-only.
    const t0 = Date.now();
    await ok(["autoscale", "deployment", "burn", "--cpu-percent=50", "--min=1", "--max=3"]);
    await ok(["patch", "hpa", "burn", "--type=merge", "-p", JSON.stringify({ spec: { behavior: { scaleDown: { stabilizationWindowSeconds: 10 } } } })]);
    const v1 = await client.get("/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers/burn");
    expect(v1.spec).toMatchObject({ targetCPUUtilizationPercentage: 50, minReplicas: 1, maxReplicas: 3 });
    await until("scaled up to 3", async () => (await client.get("/apis/apps/v1/namespaces/default/deployments/burn")).spec.replicas === 3, 60_000, 500);
    const upMs = Date.now() - t0;
    console.log(`hpa: scaled 1 -> 3 in ${(upMs / 1000).toFixed(1)} s after kubectl autoscale`);
    expect(upMs).toBeLessThan(60_000);
    const hpa = await client.get("/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/burn");
    expect(hpa.status.currentMetrics[0].resource.current.averageUtilization).toBeGreaterThan(55);
    expect(hpa.status.conditions.find((c: any) => c.type === "ScalingActive")).toMatchObject({ status: "True", reason: "ValidMetricFound" });
    const get = await ok(["get", "hpa", "burn"]);
    expect(get.stdout).toMatch(/^NAME\s+REFERENCE\s+TARGETS\s+MINPODS\s+MAXPODS\s+REPLICAS\s+AGE\nburn\s+Deployment\/burn\s+cpu: \d+%\/50%\s+1\s+3\s+\d\s+/);
    await until("describe shows the rescale event", async () => /SuccessfulRescale\s+.*New size: 3; reason: cpu resource utilization \(percentage of request\) above target/.test((await ok(["describe", "hpa", "burn"])).stdout));

    // Stop the load in every pod (at the max, no new pod appears meanwhile).
    await until("3 burners Running", async () => (await pods("burn")).filter(ready).length === 3, 90_000);
    for (const p of (await pods("burn")).filter(ready)) await ok(["exec", p.metadata.name, "--", "touch", "/tmp/stop"]);
    const t1 = Date.now();
    await until("scaled back down to 1", async () => (await client.get("/apis/apps/v1/namespaces/default/deployments/burn")).spec.replicas === 1, 90_000, 500);
    console.log(`hpa: scaled 3 -> 1 in ${((Date.now() - t1) / 1000).toFixed(1)} s after the load stopped (stabilization window 10 s)`);
    const down = await client.get("/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/burn");
    expect(down.status.desiredReplicas).toBe(1);
    await ok(["delete", "hpa", "burn"]);
    await ok(["delete", "deployment", "burn"]);
  });

  // The held-out style check: one apply of a namespace with a quota, limits, a Deployment, an HPA
  // and a PDB; then every object's status is filled in and agrees with what runs.
  test("kubectl apply of a namespace with ResourceQuota, LimitRange, Deployment, HPA and PDB: every status is filled in and true", async () => {
    await ok(["cordon", SPARE]); // the pods run on the real node, which reports their usage
    const manifest = `apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: team, namespace: shop}
spec:
  hard: {pods: "10", requests.cpu: "2", requests.memory: 1Gi, limits.cpu: "4", limits.memory: 2Gi}
---
apiVersion: v1
kind: LimitRange
metadata: {name: defaults, namespace: shop}
spec:
  limits:
  - type: Container
    default: {cpu: 200m, memory: 64Mi}
    defaultRequest: {cpu: 50m, memory: 32Mi}
    max: {cpu: "1", memory: 512Mi}
---
${deploymentYaml("shop", 2, { ns: "shop" })}---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: shop, namespace: shop}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: shop}
  minReplicas: 2
  maxReplicas: 4
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
---
${pdbYaml("shop", 1, "shop")}`;
    const applied = await ok(["apply", "-f", "-"], { stdin: manifest });
    for (const line of ["namespace/shop", "resourcequota/team", "limitrange/defaults", "deployment.apps/shop", "horizontalpodautoscaler.autoscaling/shop", "poddisruptionbudget.policy/shop"])
      expect(applied.stdout).toContain(`${line} created`);

    // Namespace
    expect((await client.get("/api/v1/namespaces/shop")).status.phase).toBe("Active");
    // Deployment: both replicas ready and available, observed.
    const dep = await until(
      "Deployment status",
      async () => {
        const d = await client.get("/apis/apps/v1/namespaces/shop/deployments/shop");
        const s = d.status ?? {};
        return s.observedGeneration === d.metadata.generation && s.readyReplicas === 2 && s.availableReplicas === 2 && s.updatedReplicas === 2 && s.replicas === 2 && d;
      },
      90_000,
    );
    expect(dep.status.conditions.find((c: any) => c.type === "Available")).toMatchObject({ status: "True" });
    // LimitRange: its defaults are on the pods (it has no status of its own).
    const shopPods = (await pods("shop", "shop")).filter(ready);
    expect(shopPods.length).toBe(2);
    for (const p of shopPods) {
      expect(p.spec.containers[0].resources).toEqual({ limits: { cpu: "200m", memory: "64Mi" }, requests: { cpu: "50m", memory: "32Mi" } });
      expect(p.metadata.annotations["kubernetes.io/limit-ranger"]).toContain("LimitRanger plugin set");
    }
    // ResourceQuota: hard mirrors spec, used counts the two pods.
    const quota = await until(
      "ResourceQuota status",
      async () => {
        const q = await client.get("/api/v1/namespaces/shop/resourcequotas/team");
        return q.status?.used?.pods === "2" && q;
      },
      30_000,
    );
    const hardWant = { pods: "10", "requests.cpu": "2", "requests.memory": "1Gi", "limits.cpu": "4", "limits.memory": "2Gi" };
    expect(quota.status.hard).toEqual(hardWant);
    const usedWant: Record<string, number> = { pods: 2, "requests.cpu": 0.1, "requests.memory": 64 * 2 ** 20, "limits.cpu": 0.4, "limits.memory": 128 * 2 ** 20 };
    for (const [k, v] of Object.entries(usedWant)) expect(quantityValue(quota.status.used[k]), k).toBeCloseTo(v, 6);
    const dq = await ok(["describe", "quota", "team", "-n", "shop"]);
    expect(dq.stdout).toMatch(/pods\s+2\s+10/);
    // PodDisruptionBudget: two healthy of two expected, one may go.
    const budget = await until("PDB status", async () => {
      const b = await pdb("shop", "shop");
      return b.status?.currentHealthy === 2 && b;
    });
    expect(budget.status).toMatchObject({ observedGeneration: 1, currentHealthy: 2, desiredHealthy: 1, expectedPods: 2, disruptionsAllowed: 1 });
    expect(budget.status.conditions.find((c: any) => c.type === "DisruptionAllowed")).toMatchObject({ status: "True", reason: "SufficientPods" });
    // HPA: metrics read from the node, replicas held at minReplicas for idle pods.
    const hpa = await until(
      "HPA status",
      async () => {
        const h = await client.get("/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers/shop");
        return h.status?.currentMetrics?.length && h.status.conditions?.find((c: any) => c.type === "ScalingActive")?.status === "True" && h;
      },
      60_000,
      500,
    );
    expect(hpa.status).toMatchObject({ observedGeneration: 1, currentReplicas: 2, desiredReplicas: 2 });
    expect(hpa.status.currentMetrics[0].resource.name).toBe("cpu");
    expect(hpa.status.currentMetrics[0].resource.current.averageUtilization).toBeLessThan(50);
    expect(hpa.status.conditions.find((c: any) => c.type === "AbleToScale")).toMatchObject({ status: "True" });
    expect(hpa.status.conditions.find((c: any) => c.type === "ScalingActive")).toMatchObject({ status: "True", reason: "ValidMetricFound" });
    const v1 = await client.get("/apis/autoscaling/v1/namespaces/shop/horizontalpodautoscalers/shop");
    expect(v1.status).toMatchObject({ currentReplicas: 2, desiredReplicas: 2 });
    expect(typeof v1.status.currentCPUUtilizationPercentage).toBe("number");
    await ok(["delete", "namespace", "shop", "--timeout=60s"], { timeoutMs: 70_000 });
  });

  test("RuntimeClass: its handler runs the sandbox; a handler containerd lacks fails the sandbox; an unknown class is refused", async () => {
    await ok(["cordon", SPARE]);
    const rc = (name: string, handler: string) => `apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata: {name: ${name}}
handler: ${handler}
overhead:
  podFixed: {cpu: 10m, memory: 8Mi}
`;
    const podYaml = (name: string, cls: string) => `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: default}
spec:
  runtimeClassName: ${cls}
  terminationGracePeriodSeconds: 1
  containers:
  - {name: main, image: ${BUSYBOX_IMAGE}, imagePullPolicy: IfNotPresent, command: ["sleep", "3600"]}
`;
    await ok(["apply", "-f", "-"], { stdin: rc("plain", "runc") + "---\n" + rc("vm", "kata") });
    const names = (await ok(["get", "runtimeclasses", "-o", "name"])).stdout.trim().split("\n").sort();
    expect(names).toEqual(["runtimeclass.node.k8s.io/plain", "runtimeclass.node.k8s.io/vm"]);
    await ok(["apply", "-f", "-"], { stdin: podYaml("rc-runc", "plain") + "---\n" + podYaml("rc-kata", "vm") });
    const running = await until("rc-runc Running", async () => {
      const p = await client.get("/api/v1/namespaces/default/pods/rc-runc");
      return ready(p) && p;
    }, 60_000);
    expect(running.spec.overhead).toEqual({ cpu: "10m", memory: "8Mi" });
    // containerd has no "kata" runtime: the sandbox fails, visibly, instead of running on runc.
    const ev = await until("FailedCreatePodSandBox for rc-kata", async () => {
      const list = await client.list("/api/v1/namespaces/default/events", { fieldSelector: "involvedObject.name=rc-kata,reason=FailedCreatePodSandBox" });
      return list.items[0];
    }, 60_000);
    expect(ev.message).toContain('"kata"');
    const kata = await client.get("/api/v1/namespaces/default/pods/rc-kata");
    expect(kata.status.phase).toBe("Pending");
    const refused = await k(["apply", "-f", "-"], { stdin: podYaml("rc-none", "missing") });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('pod rejected: RuntimeClass "missing" not found');
    await ok(["delete", "pod", "rc-runc", "rc-kata", "--grace-period=1"], { timeoutMs: 60_000 });
    await ok(["delete", "runtimeclass", "plain", "vm"]);
  });
});
