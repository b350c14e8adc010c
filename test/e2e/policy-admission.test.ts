// Issue 12, acceptance 1-4, with the real kubectl against `skiff server` and its embedded agent
// on a real containerd: LimitRange defaults land on a running pod and an oversized pod is 403;
// a 2-pod quota refuses the third and `kubectl describe quota` shows used/hard; a restricted
// namespace refuses a privileged pod listing each violation while warn mode admits with the
// warnings kubectl prints; a high-priority pod preempts a lower one on the full node and runs.
//
// Skipped (with the reason printed) when not root or containerd/runc/CNI cannot be installed.
// Run under the machine-wide lock: flock /tmp/skiff-e2e.lock bun test test/e2e/policy-admission.test.ts
import { containerdSkipReason } from "../harness/containerd.ts";
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { BUSYBOX_IMAGE } from "../images/builder.ts";
import { describeResult, kubectl, type KubectlResult } from "../harness/kubectl.ts";
import { type SkiffServer } from "../harness/server.ts";
import { until } from "../harness/wait.ts";
import { cleanupLocalNode, startEmbeddedNode, type LocalNode } from "../harness/local-node.ts";

setDefaultTimeout(180_000);

const NODE = "policy-e2e";
const BRIDGE = "skiffpo0";
const reason = containerdSkipReason(import.meta.path);

describe.skipIf(reason !== null)("policy admission with real pods", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "skiff-policy-"));
  const cgroupRoot = `/skiff-policy-${process.pid}`;
  const bridgeBefore = existsSync(`/sys/class/net/${BRIDGE}`);
  const node: LocalNode = { dataDir, bridge: BRIDGE, cgroupRoot, bridgeBefore };
  let srv: SkiffServer;

  const run = (args: string[], stdin?: string) => kubectl(srv, args, stdin !== undefined ? { stdin } : {});
  const k = async (args: string[], stdin?: string) => {
    const r = await run(args, stdin);
    if (r.code !== 0) throw new Error(`${describeResult(r)}\n${srv.logTail(30)}`);
    return r;
  };
  const refused = async (args: string[], stdin?: string): Promise<KubectlResult> => {
    const r = await run(args, stdin);
    if (r.code === 0) throw new Error(`expected a refusal:\n${describeResult(r)}`);
    return r;
  };
  const waitFor = <T>(what: string, f: () => Promise<T | undefined | false>, ms = 60_000) => until(what, f, ms, 250, () => srv.logTail(30));
  const json = async (args: string[]) => JSON.parse((await k([...args, "-o", "json"])).stdout);
  const apply = (objs: any[]) => k(["apply", "-f", "-"], objs.map((o) => stringify(o)).join("---\n"));
  const sleeper = (name: string, extra: any = {}, container: any = {}) => ({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name },
    spec: { terminationGracePeriodSeconds: 1, ...extra, containers: [{ name: "app", image: BUSYBOX_IMAGE, imagePullPolicy: "IfNotPresent", command: ["sleep", "3600"], ...container }] },
  });
  const running = (ns: string, name: string) => waitFor(`${ns}/${name} Running`, async () => (await k(["-n", ns, "get", "pod", name, "-o", "jsonpath={.status.phase}"])).stdout === "Running");

  beforeAll(async () => {
    srv = await startEmbeddedNode(node, { name: "policy", nodeName: NODE });
    await waitFor("node Ready", async () => (await json(["get", "node", NODE])).status?.conditions?.find((c: any) => c.type === "Ready")?.status === "True");
  });

  afterAll(async () => {
    try {
      for (const ns of ["lr", "quota", "psa-warn", "prio"]) await run(["delete", "pod", "--all", "-n", ns, "--grace-period=1", "--timeout=30s"]).catch(() => {});
      await srv?.stop();
    } finally {
      await cleanupLocalNode(node);
    }
  });

  test("LimitRange: defaults on a pod created without resources (it runs); over max is 403", async () => {
    await apply([
      { apiVersion: "v1", kind: "Namespace", metadata: { name: "lr" } },
      { apiVersion: "v1", kind: "LimitRange", metadata: { name: "limits", namespace: "lr" }, spec: { limits: [{ type: "Container", default: { cpu: "200m", memory: "64Mi" }, defaultRequest: { cpu: "100m", memory: "32Mi" }, max: { cpu: "500m" } }] } },
    ]);
    await k(["-n", "lr", "run", "plain", `--image=${BUSYBOX_IMAGE}`, "--image-pull-policy=IfNotPresent", "--restart=Never", "--", "sleep", "3600"]);
    const p = await json(["-n", "lr", "get", "pod", "plain"]);
    expect(p.spec.containers[0].resources).toEqual({ limits: { cpu: "200m", memory: "64Mi" }, requests: { cpu: "100m", memory: "32Mi" } });
    expect(p.metadata.annotations["kubernetes.io/limit-ranger"]).toBe("LimitRanger plugin set: cpu, memory request; cpu, memory limit for container plain");
    await running("lr", "plain");
    const r = await refused(["-n", "lr", "apply", "-f", "-"], stringify(sleeper("big", {}, { resources: { limits: { cpu: "1" } } })));
    expect(r.stderr).toContain('Error from server (Forbidden): error when creating "STDIN": pods "big" is forbidden: maximum cpu usage per Container is 500m, but limit is 1');
  });

  test("ResourceQuota: the third pod is 403 exceeded quota; describe quota shows used/hard", async () => {
    await apply([
      { apiVersion: "v1", kind: "Namespace", metadata: { name: "quota" } },
      { apiVersion: "v1", kind: "ResourceQuota", metadata: { name: "two-pods", namespace: "quota" }, spec: { hard: { pods: "2" } } },
    ]);
    await waitFor("quota status", async () => (await json(["-n", "quota", "get", "quota", "two-pods"])).status?.used?.pods === "0");
    for (const n of ["one", "two"]) await k(["-n", "quota", "apply", "-f", "-"], stringify(sleeper(n)));
    const r = await refused(["-n", "quota", "apply", "-f", "-"], stringify(sleeper("three")));
    expect(r.stderr).toContain('pods "three" is forbidden: exceeded quota: two-pods, requested: pods=1, used: pods=2, limited: pods=2');
    const d = (await k(["-n", "quota", "describe", "quota", "two-pods"])).stdout;
    expect(d).toMatch(/Resource\s+Used\s+Hard/);
    expect(d).toMatch(/pods\s+2\s+2/);
    await running("quota", "one");
    // Deleting a pod gives the slot back (the quota controller recomputes).
    await k(["-n", "quota", "delete", "pod", "one", "--grace-period=1"]);
    await waitFor("used back to 1", async () => (await json(["-n", "quota", "get", "quota", "two-pods"])).status?.used?.pods === "1");
    await k(["-n", "quota", "apply", "-f", "-"], stringify(sleeper("three")));
  });

  test("PodSecurity: restricted refuses a privileged pod listing each violation; warn admits with warnings", async () => {
    await apply([
      { apiVersion: "v1", kind: "Namespace", metadata: { name: "psa", labels: { "pod-security.kubernetes.io/enforce": "restricted" } } },
      { apiVersion: "v1", kind: "Namespace", metadata: { name: "psa-warn", labels: { "pod-security.kubernetes.io/warn": "restricted" } } },
    ]);
    const priv = sleeper("priv", { hostPID: true }, { securityContext: { privileged: true } });
    const r = await refused(["-n", "psa", "apply", "-f", "-"], stringify(priv));
    expect(r.stderr).toContain(
      'pods "priv" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "app" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "app" must set securityContext.capabilities.drop=["ALL"]), host namespaces (hostPID=true), privileged (container "app" must not set securityContext.privileged=true), runAsNonRoot != true (pod or container "app" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "app" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")',
    );
    const w = await k(["-n", "psa-warn", "apply", "-f", "-"], stringify(sleeper("loose")));
    expect(w.stderr).toContain('Warning: would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "app" must set securityContext.allowPrivilegeEscalation=false)');
    expect(w.stdout).toContain("pod/loose created");
    await running("psa-warn", "loose");
  });

  test("Priority: a high-priority pod that cannot fit preempts a lower-priority pod on the full node", async () => {
    await apply([
      { apiVersion: "v1", kind: "Namespace", metadata: { name: "prio" } },
      { apiVersion: "scheduling.k8s.io/v1", kind: "PriorityClass", metadata: { name: "e2e-low" }, value: 10 },
      { apiVersion: "scheduling.k8s.io/v1", kind: "PriorityClass", metadata: { name: "e2e-high" }, value: 1000 },
    ]);
    expect((await k(["get", "priorityclass"])).stdout).toMatch(/system-node-critical\s+2000001000\s+false/);
    // Fill the node: the low pod takes 70% of the CPU no pod has requested yet; the high one wants 50%.
    const node = await json(["get", "node", NODE]);
    const alloc = Math.round(parseCpu(node.status.allocatable.cpu));
    const pods = (await json(["get", "pods", "-A"])).items.filter((p: any) => p.spec.nodeName === NODE && !["Succeeded", "Failed"].includes(p.status.phase));
    const used = pods.reduce((s: number, p: any) => s + p.spec.containers.reduce((t: number, c: any) => t + parseCpu(c.resources?.requests?.cpu ?? "0"), 0), 0);
    const free = alloc - used;
    const cpu = (f: number) => `${Math.floor(free * f)}m`;
    await k(["-n", "prio", "apply", "-f", "-"], stringify(sleeper("low", { priorityClassName: "e2e-low" }, { resources: { requests: { cpu: cpu(0.7) } } })));
    await running("prio", "low");
    const lowUid = (await json(["-n", "prio", "get", "pod", "low"])).metadata.uid;
    await k(["-n", "prio", "apply", "-f", "-"], stringify(sleeper("high", { priorityClassName: "e2e-high" }, { resources: { requests: { cpu: cpu(0.5) } } })));
    const high = await json(["-n", "prio", "get", "pod", "high"]);
    expect(high.spec.priority).toBe(1000);
    await waitFor("high nominated", async () => (await json(["-n", "prio", "get", "pod", "high"])).status?.nominatedNodeName === NODE);
    await running("prio", "high");
    const after = await run(["-n", "prio", "get", "pod", "low", "-o", "json"]);
    if (after.code === 0) expect(JSON.parse(after.stdout).metadata.uid).not.toBe(lowUid);
    else expect(after.stderr).toContain('pods "low" not found');
    const ev = (await json(["-n", "prio", "get", "events"])).items.find((e: any) => e.reason === "Preempted" && e.involvedObject.name === "low");
    expect(ev?.message).toBe(`Preempted by pod ${high.metadata.uid} on node ${NODE}`);
  });
});

function parseCpu(q: string): number {
  if (q.endsWith("m")) return Number(q.slice(0, -1));
  return Number(q) * 1000;
}
