// The HorizontalPodAutoscaler: the replica arithmetic (tolerance, missing and unready pods,
// stabilization, policies), the controller against an in-process cluster with a usage source the
// test controls, and autoscaling/v1 served from the stored autoscaling/v2 objects over HTTP.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { normalizeWithBehavior, recordScale, resourceReplicas, type History, type PodUsagePoint } from "../../server/controllers/hpa-replicas";
import { startTestCluster, type TestCluster } from "../harness/cluster";
import { startTestApp, type TestApp } from "../harness/api-app";
import type { ContainerUsage } from "../../server/controllers/runtime/controller";
import { hpaFromV1, hpaToV1 } from "../../schemas/types/autoscaling-v1";

const NOW = Date.parse("2026-01-01T00:10:00Z");
const started = new Date(NOW - 10 * 60 * 1000).toISOString();

function pod(name: string, o: { cpu?: string; phase?: string; ready?: boolean; startedAgoMs?: number; readyAgoMs?: number; deleting?: boolean } = {}): any {
  const start = new Date(NOW - (o.startedAgoMs ?? 10 * 60 * 1000)).toISOString();
  return {
    metadata: { name, namespace: "default", ...(o.deleting ? { deletionTimestamp: started } : {}) },
    spec: { containers: [{ name: "c", resources: o.cpu === undefined ? { requests: { cpu: "100m" } } : o.cpu ? { requests: { cpu: o.cpu } } : {} }] },
    status: {
      phase: o.phase ?? "Running",
      startTime: start,
      conditions: [{ type: "Ready", status: o.ready === false ? "False" : "True", lastTransitionTime: new Date(NOW - (o.readyAgoMs ?? 9 * 60 * 1000)).toISOString() }],
    },
  };
}
const use = (entries: [string, number][]) => new Map<string, PodUsagePoint>(entries.map(([n, v]) => [n, { value: v, timestampMs: NOW, windowMs: 15_000 }]));
const util = (n: number) => ({ type: "Utilization" as const, averageUtilization: n });

describe("replica arithmetic", () => {
  test("ratio within the 0.1 tolerance keeps the current count; beyond it scales by ceil(ratio * ready)", () => {
    const pods = [pod("a"), pod("b")];
    // 54% of request against a 50% target: ratio 1.08, within tolerance.
    expect(resourceReplicas(2, pods, use([["a", 0.054], ["b", 0.054]]), "cpu", util(50), 0.1, NOW)).toEqual({ replicas: 2, utilization: 54, average: 0.054 });
    // 200%: ratio 4 → 8 replicas.
    expect(resourceReplicas(2, pods, use([["a", 0.2], ["b", 0.2]]), "cpu", util(50), 0.1, NOW)).toMatchObject({ replicas: 8, utilization: 200 });
    // 10%: ratio 0.2 → ceil(0.4) = 1.
    expect(resourceReplicas(2, pods, use([["a", 0.01], ["b", 0.01]]), "cpu", util(50), 0.1, NOW)).toMatchObject({ replicas: 1, utilization: 10 });
    // Per-direction tolerance (behavior.scaleUp.tolerance): 8% over target scales up with up 0.05.
    expect(resourceReplicas(2, pods, use([["a", 0.054], ["b", 0.054]]), "cpu", util(50), { up: 0.05, down: 0.1 }, NOW)).toMatchObject({ replicas: 3 });
  });

  test("missing pods count as 100% of request when scaling down and 0 when scaling up", () => {
    const pods = [pod("a"), pod("b"), pod("c")];
    // Two pods at 10%, one missing: scale-down assumes the missing at 100% → (10+10+100)/3 = 40% → ratio 0.8 → 3*0.8 = 2.4 → 3: no change.
    expect(resourceReplicas(3, pods, use([["a", 0.01], ["b", 0.01]]), "cpu", util(50), 0.1, NOW)).toMatchObject({ replicas: 3 });
    // Two pods at 100%, one missing (0): (100+100+0)/3 = 66% → ratio 1.33 → ceil(4) = 4.
    expect(resourceReplicas(3, pods, use([["a", 0.1], ["b", 0.1]]), "cpu", util(50), 0.1, NOW)).toMatchObject({ replicas: 4, utilization: 100 });
  });

  test("unready and pending pods are treated as idle on scale-up; deleting and failed pods are ignored", () => {
    const pods = [pod("a"), pod("b", { ready: false, startedAgoMs: 60_000, readyAgoMs: 50_000 }), pod("p", { phase: "Pending" }), pod("d", { deleting: true }), pod("f", { phase: "Failed" })];
    // Only a is ready at 200%: ratio 4; with b and p at 0: (200+0+0)/3 = 66% → ratio 1.33 → ceil(1.33*3) = 4.
    expect(resourceReplicas(3, pods, use([["a", 0.2], ["b", 0.3], ["d", 0.5]]), "cpu", util(50), 0.1, NOW)).toMatchObject({ replicas: 4, utilization: 200 });
    // A pod started a minute ago whose sample does not yet cover its ready time is unready too.
    const fresh = [pod("a"), pod("n", { startedAgoMs: 20_000, readyAgoMs: 5_000 })];
    expect(resourceReplicas(2, fresh, use([["a", 0.1], ["n", 0.5]]), "cpu", util(50), 0.1, NOW)).toMatchObject({ utilization: 100 });
  });

  test("errors name what is missing", () => {
    expect(resourceReplicas(1, [], use([]), "cpu", util(50), 0.1, NOW)).toBe("no pods returned by selector while calculating replica count");
    expect(resourceReplicas(1, [pod("a", { cpu: "" })], use([["a", 0.1]]), "cpu", util(50), 0.1, NOW)).toBe("missing request for cpu in container c of Pod a");
    expect(resourceReplicas(1, [pod("a", { phase: "Pending" })], use([]), "cpu", util(50), 0.1, NOW)).toBe("did not receive metrics for targeted pods (pods might be unready)");
  });

  test("AverageValue targets compare the average usage per pod", () => {
    const mem = new Map([["a", { value: 300e6, timestampMs: NOW, windowMs: 1 }], ["b", { value: 100e6, timestampMs: NOW, windowMs: 1 }]]);
    expect(resourceReplicas(2, [pod("a"), pod("b")], mem, "memory", { type: "AverageValue", averageValue: 100e6 }, 0.1, NOW)).toMatchObject({ replicas: 4, average: 200e6 });
  });

  test("scale-down waits out the stabilization window; scale-up is limited by the policies", () => {
    const h: History = { recommendations: [], events: [] };
    const b = { scaleDown: { stabilizationWindowSeconds: 60 } };
    expect(normalizeWithBehavior(h, b, 4, 4, 1, 10, NOW).replicas).toBe(4);
    const n = normalizeWithBehavior(h, b, 4, 1, 1, 10, NOW + 30_000);
    expect(n.replicas).toBe(4);
    expect(n.stabilized?.reason).toBe("ScaleDownStabilized");
    expect(normalizeWithBehavior(h, b, 4, 1, 1, 10, NOW + 61_000).replicas).toBe(1);
    // Defaults: up by max(4 pods, 100%) per 15 s.
    const u: History = { recommendations: [], events: [] };
    const up = normalizeWithBehavior(u, undefined, 2, 20, 1, 30, NOW);
    expect(up.replicas).toBe(6);
    expect(up.limited).toEqual({ limited: true, reason: "ScaleUpLimit", message: "the desired replica count is increasing faster than the maximum scale rate" });
    recordScale(u, undefined, 2, 6, NOW);
    // Within the same 15 s the period started at 2: still capped at 6.
    expect(normalizeWithBehavior(u, undefined, 6, 20, 1, 30, NOW + 5_000).replicas).toBe(6);
    expect(normalizeWithBehavior(u, undefined, 6, 20, 1, 30, NOW + 16_000).replicas).toBe(12);
    // Max caps, with its reason; Disabled scale-down never goes down.
    expect(normalizeWithBehavior({ recommendations: [], events: [] }, undefined, 2, 9, 1, 3, NOW).limited.reason).toBe("TooManyReplicas");
    expect(normalizeWithBehavior({ recommendations: [], events: [] }, { scaleDown: { selectPolicy: "Disabled", stabilizationWindowSeconds: 0 } }, 5, 1, 1, 10, NOW).replicas).toBe(5);
    // A Pods policy of 1 per minute removes one at a time.
    const one = { scaleDown: { stabilizationWindowSeconds: 0, policies: [{ type: "Pods" as const, value: 1, periodSeconds: 60 }] } };
    expect(normalizeWithBehavior({ recommendations: [], events: [] }, one, 5, 1, 1, 10, NOW)).toMatchObject({ replicas: 4, limited: { reason: "ScaleDownLimit" } });
  });
});

describe("controller", () => {
  let c: TestCluster;
  const usage = new Map<string, number>(); // pod name prefix → cores per pod
  afterEach(async () => {
    await c?.close();
    usage.clear();
  });
  const source = async (pods: any[]) => {
    const out = new Map<string, ContainerUsage[]>();
    for (const p of pods) {
      const cores = [...usage].find(([prefix]) => p.metadata.name.startsWith(prefix))?.[1];
      if (cores !== undefined) out.set(p.metadata.uid, [{ name: "c", timestamp: new Date().toISOString(), windowMs: 1, cpuNanoCores: cores * 1e9, memoryBytes: 1e6 }]);
    }
    return out;
  };
  const deploy = (name: string, replicas: number) =>
    c.create("Deployment", {
      metadata: { name, namespace: "default" },
      spec: { replicas, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: "c", image: "busybox:1", resources: { requests: { cpu: "100m" } } }] } } },
    });
  const hpa = (name: string, extra: any = {}) =>
    c.create("HorizontalPodAutoscaler", {
      metadata: { name, namespace: "default" },
      spec: { scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name }, minReplicas: 1, maxReplicas: 5, metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 50 } } }], ...extra },
    });
  const replicas = (name: string) => c.get("Deployment", "default", name)?.spec?.replicas;
  const cond = (name: string, type: string) => c.get("HorizontalPodAutoscaler", "default", name)?.status?.conditions?.find((x: any) => x.type === type);

  test("scales a Deployment up on CPU, reports metrics and conditions, and back down after the window", async () => {
    c = await startTestCluster({ podMetrics: source, hpaSyncPeriodMs: 100 });
    await c.addNode("n1");
    await deploy("web", 1);
    usage.set("web-", 0.2); // 200% of a 100m request
    await hpa("web", { behavior: { scaleDown: { stabilizationWindowSeconds: 1 } } });
    await c.until("scaled to the max", () => replicas("web") === 5, 5000);
    const st = c.get("HorizontalPodAutoscaler", "default", "web").status;
    expect(st.currentMetrics?.[0]).toEqual({ type: "Resource", resource: { name: "cpu", current: { averageUtilization: 200, averageValue: "200m" } } });
    expect(st.lastScaleTime).toBeDefined();
    expect(cond("web", "ScalingActive")).toMatchObject({ status: "True", reason: "ValidMetricFound", message: "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)" });
    await c.until("limited at max", () => cond("web", "ScalingLimited")?.reason === "TooManyReplicas");
    const ev = await c.until("rescale event", () => c.list("Event", "default").find((e: any) => e.reason === "SuccessfulRescale"));
    expect(ev.message).toMatch(/^New size: \d; reason: cpu resource utilization \(percentage of request\) above target$/);
    usage.set("web-", 0.001);
    await c.until("scaled back to 1", () => replicas("web") === 1, 8000);
    // Events are written by the recorder after the scale write: wait for it.
    await c.until("scale-down event", () => c.list("Event", "default").some((e: any) => e.reason === "SuccessfulRescale" && e.message === "New size: 1; reason: All metrics below target"));
  });

  test("no metrics: ScalingActive False with upstream's reason; a missing target: AbleToScale False", async () => {
    c = await startTestCluster({ podMetrics: source, hpaSyncPeriodMs: 100 });
    await c.addNode("n1");
    await deploy("quiet", 2);
    await hpa("quiet");
    await c.until("ScalingActive False", () => cond("quiet", "ScalingActive")?.status === "False");
    expect(cond("quiet", "ScalingActive")).toMatchObject({
      reason: "FailedGetResourceMetric",
      message: "the HPA was unable to compute the replica count: failed to get cpu utilization: unable to get metrics for resource cpu: no metrics returned from resource metrics API",
    });
    expect(replicas("quiet")).toBe(2);
    await hpa("ghost");
    await c.until("AbleToScale False", () => cond("ghost", "AbleToScale")?.status === "False");
    expect(cond("ghost", "AbleToScale")).toMatchObject({ reason: "FailedGetScale", message: 'the HPA controller was unable to get the target\'s current scale: deployments.apps "ghost" not found' });
    // Pods metrics need a custom metrics API Skiff does not serve: refused as invalid, not ignored.
    await deploy("custom", 1);
    await hpa("custom", { metrics: [{ type: "Pods", pods: { metric: { name: "qps" }, target: { type: "AverageValue", averageValue: "10" } } }] });
    await c.until("custom invalid", () => cond("custom", "ScalingActive")?.reason === "FailedGetPodsMetric");
    expect(cond("custom", "ScalingActive").message).toContain("no custom.metrics.k8s.io API is served by this cluster");
  });

  test("below minReplicas is raised to it without metrics", async () => {
    c = await startTestCluster({ podMetrics: source, hpaSyncPeriodMs: 100 });
    await c.addNode("n1");
    await deploy("small", 1);
    await hpa("small", { minReplicas: 3 });
    await c.until("raised to 3", () => replicas("small") === 3);
    await c.until("rescale event", () => c.list("Event", "default").some((e: any) => e.message === "New size: 3; reason: Current number of replicas below Spec.MinReplicas"));
  });
});

describe("autoscaling/v1 and autoscaling/v2 serve one stored object", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp("hpa-app");
  });
  afterAll(() => t.close());
  const call = (method: string, path: string, body?: unknown, contentType?: string) => t.call(method, path, body, { contentType });
  const V1 = "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers";
  const V2 = "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers";

  test("created as v1 (kubectl autoscale), read as v2 and v1; v2-only fields survive a v1 update", async () => {
    const created = await call("POST", V1, {
      apiVersion: "autoscaling/v1",
      kind: "HorizontalPodAutoscaler",
      metadata: { name: "web" },
      spec: { scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "web" }, maxReplicas: 4, targetCPUUtilizationPercentage: 60 },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ apiVersion: "autoscaling/v1", spec: { minReplicas: 1, maxReplicas: 4, targetCPUUtilizationPercentage: 60 } });
    const v2 = await call("GET", `${V2}/web`);
    expect(v2.body.apiVersion).toBe("autoscaling/v2");
    expect(v2.body.spec.metrics).toEqual([{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 60 } } }]);
    // v2 adds a memory metric and behavior; v1 readers see them as annotations and keep them.
    const withMem = await call("PATCH", `${V2}/web`, { spec: { metrics: [...v2.body.spec.metrics, { type: "Resource", resource: { name: "memory", target: { type: "AverageValue", averageValue: "100Mi" } } }], behavior: { scaleDown: { stabilizationWindowSeconds: 30 } } } }, "application/merge-patch+json");
    expect(withMem.status).toBe(200);
    const v1 = await call("GET", `${V1}/web`);
    expect(v1.body.spec).toEqual({ scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "web" }, minReplicas: 1, maxReplicas: 4, targetCPUUtilizationPercentage: 60 });
    expect(JSON.parse(v1.body.metadata.annotations["autoscaling.alpha.kubernetes.io/metrics"])[0].resource.name).toBe("memory");
    const put = await call("PUT", `${V1}/web`, { ...v1.body, spec: { ...v1.body.spec, maxReplicas: 6, targetCPUUtilizationPercentage: 70 } });
    expect(put.status).toBe(200);
    expect(put.body.spec.maxReplicas).toBe(6);
    const after = await call("GET", `${V2}/web`);
    expect(after.body.metadata.annotations).toBeUndefined();
    expect(after.body.spec.maxReplicas).toBe(6);
    expect(after.body.spec.metrics.map((m: any) => m.resource.name)).toEqual(["cpu", "memory"]);
    expect(after.body.spec.metrics[0].resource.target.averageUtilization).toBe(70);
    expect(after.body.spec.behavior.scaleDown.stabilizationWindowSeconds).toBe(30);
    // A v1 merge patch works on the v1 view.
    const patched = await call("PATCH", `${V1}/web`, { spec: { targetCPUUtilizationPercentage: 80 } }, "application/merge-patch+json");
    expect(patched.body.spec.targetCPUUtilizationPercentage).toBe(80);
    const list = await call("GET", V1);
    expect(list.body.kind).toBe("HorizontalPodAutoscalerList");
    expect(list.body.apiVersion).toBe("autoscaling/v1");
    expect(list.body.items[0].apiVersion).toBe("autoscaling/v1");
    // Unknown v1 fields are refused against the v1 schema.
    const bad = await call("POST", `${V1}?fieldValidation=Strict`, { apiVersion: "autoscaling/v1", kind: "HorizontalPodAutoscaler", metadata: { name: "x" }, spec: { scaleTargetRef: { kind: "Deployment", name: "x" }, maxReplicas: 1, metrics: [] } });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toContain('unknown field "spec.metrics"');
  });

  test("discovery prefers v2 and lists both", async () => {
    const g = await call("GET", "/apis/autoscaling");
    expect(g.body.preferredVersion.version).toBe("v2");
    expect(g.body.versions.map((v: any) => v.version)).toEqual(["v2", "v1"]);
    const v1 = await call("GET", "/apis/autoscaling/v1");
    expect(v1.body.resources.map((r: any) => r.name)).toContain("horizontalpodautoscalers");
  });

  test("status converts both ways", () => {
    const v2 = {
      apiVersion: "autoscaling/v2",
      kind: "HorizontalPodAutoscaler",
      metadata: { name: "a" },
      spec: { scaleTargetRef: { kind: "Deployment", name: "a" }, minReplicas: 1, maxReplicas: 3, metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 50 } } }] },
      status: { currentReplicas: 2, desiredReplicas: 3, currentMetrics: [{ type: "Resource", resource: { name: "cpu", current: { averageUtilization: 90, averageValue: "90m" } } }], conditions: [{ type: "AbleToScale", status: "True" }] },
    };
    const v1 = hpaToV1(v2);
    expect(v1.status).toEqual({ currentReplicas: 2, desiredReplicas: 3, currentCPUUtilizationPercentage: 90 });
    expect(JSON.parse(v1.metadata.annotations["autoscaling.alpha.kubernetes.io/conditions"])).toEqual(v2.status.conditions);
    const back = hpaFromV1(v1);
    expect(back.status.conditions).toEqual(v2.status.conditions);
    expect(back.status.currentMetrics[0].resource.current.averageUtilization).toBe(90);
    expect(back.metadata.annotations).toBeUndefined();
  });
});
