// Issue 14, acceptance 3: Helm 3 and Helm 4 (built from source by scripts/setup-clients.sh)
// against a single-node Skiff with a real containerd: install --wait of a chart shaped like
// popular ones (Deployment, Service, Ingress, ConfigMap, ServiceAccount, a subchart,
// pre-install/pre-upgrade and post-upgrade hook Jobs with delete policies, a test pod),
// upgrade (--atomic / --rollback-on-failure) with changed values, status, get manifest, test,
// rollback, history and uninstall leaving nothing behind; and a chart with a CRD in crds/ and
// custom resources of it. Helm 4 applies server-side by default, so it checks SSA end to end.
//
// The same single-node cluster then serves the kubectl verbs issue 14 lists that need a node
// (cp, attach, run -i, events, wait --for=jsonpath, diff, proxy, auth reconcile), and
// acceptance 5's node part: the node's kubelet-style
// /metrics and /metrics/cadvisor through /api/v1/nodes/NAME/proxy/ pass `promtool check metrics`.
//
// Skipped (with the reason printed) when not root, containerd cannot run, or setup did not
// build Helm. Run under the e2e lock: it starts an agent.
import { containerdSkipReason } from "../harness/containerd.ts";
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeResult, kubectl, KUBECTL, spawnKubectl } from "../harness/kubectl.ts";
import { REPO, type SkiffServer } from "../harness/server.ts";
import { until } from "../harness/wait.ts";
import { clientTool, describeRun, run } from "../harness/clients.ts";
import { BUSYBOX_IMAGE } from "../images/builder.ts";
import { cleanupLocalNode, startEmbeddedNode, type LocalNode } from "../harness/local-node.ts";

setDefaultTimeout(240_000);

const NODE = "helm-e2e";
const BRIDGE = "skiffhm0";
const WEBAPP = join(REPO, "test/charts/webapp");
const WIDGETS = join(REPO, "test/charts/widgets");
const reason = containerdSkipReason(import.meta.path);
const promtool = clientTool("promtool", import.meta.path);
const helms = { helm3: clientTool("helm3", import.meta.path), helm4: clientTool("helm4", import.meta.path) };

describe.skipIf(reason !== null)("the ecosystem on a single-node cluster: Helm 3 and 4, kubectl verbs, node metrics", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "skiff-helm-"));
  const helmHome = mkdtempSync(join(tmpdir(), "skiff-helm-home-"));
  const cgroupRoot = `/skiff-helm-${process.pid}`;
  const bridgeBefore = existsSync(`/sys/class/net/${BRIDGE}`);
  const node: LocalNode = { dataDir, bridge: BRIDGE, cgroupRoot, bridgeBefore };
  let srv: SkiffServer;

  const k = async (args: string[]) => {
    const r = await kubectl(srv, args, { timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`${describeResult(r)}\n${srv.logTail(30)}`);
    return r.stdout;
  };
  const kJson = async (args: string[]) => JSON.parse(await k([...args, "-o", "json"]));
  const waitFor = <T>(what: string, f: () => Promise<T | undefined | false>, ms = 90_000) => until(what, f, ms, 250, () => srv.logTail(30));

  beforeAll(async () => {
    srv = await startEmbeddedNode(node, { name: "helm", nodeName: NODE });
    await waitFor("node Ready", async () => {
      const n = await kJson(["get", "node", NODE]);
      return n.status?.conditions?.find((c: any) => c.type === "Ready")?.status === "True";
    });
  });

  afterAll(async () => {
    try {
      await kubectl(srv, ["delete", "pod", "--all", "-A", "--grace-period=1", "--timeout=30s"]).catch(() => {});
      await srv?.stop();
    } finally {
      await cleanupLocalNode(node);
      rmSync(helmHome, { recursive: true, force: true });
    }
  });

  test("kubectl cp, attach, run -i, events, wait --for=jsonpath, diff, proxy, auth reconcile", async () => {
    await k(["run", "tools", `--image=${BUSYBOX_IMAGE}`, "--image-pull-policy=IfNotPresent", "--restart=Never", "--", "sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done"]);
    await k(["wait", "--for=jsonpath={.status.phase}=Running", "pod/tools", "--timeout=60s"]);
    // cp both ways (kubectl runs tar in the container through exec).
    const scratch = mkdtempSync(join(tmpdir(), "skiff-cp-"));
    try {
      writeFileSync(join(scratch, "in.txt"), "copied through tar\n");
      await k(["cp", join(scratch, "in.txt"), "default/tools:/tmp/in.txt"]);
      expect((await kubectl(srv, ["exec", "tools", "--", "cat", "/tmp/in.txt"])).stdout).toBe("copied through tar\n");
      await k(["cp", "default/tools:/tmp/in.txt", join(scratch, "back.txt")]);
      expect(readFileSync(join(scratch, "back.txt"), "utf8")).toBe("copied through tar\n");
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
    // attach to the running container's output: two ticks arrive (attach shows only new output).
    // Followed until they come, not for a fixed 3 s that a slow start of kubectl could use up.
    const att = spawnKubectl(srv, ["attach", "tools"]);
    try {
      const first = await att.waitForLine((l) => /^tick \d+$/.test(l), 30_000);
      await att.waitForLine((l) => /^tick \d+$/.test(l), 30_000, first + 1);
    } finally {
      await att.kill();
    }
    // run -i: stdin reaches the container through attach; the output comes back.
    const ri = await kubectl(srv, ["run", "reader", `--image=${BUSYBOX_IMAGE}`, "--image-pull-policy=IfNotPresent", "--restart=Never", "-i", "--rm", "--", "sh", "-c", "read l; echo got $l"], { stdin: "hello\n", timeoutMs: 60_000 });
    if (ri.code !== 0) throw new Error(describeResult(ri));
    expect(ri.stdout).toContain("got hello");
    // events for the pod (events.k8s.io through kubectl events).
    expect(await k(["events", "--for", "pod/tools"])).toMatch(/Started|Scheduled|Created/);
    // diff: a changed manifest shows just its change and exits 1; an unchanged one exits 0.
    await k(["create", "configmap", "differ", "--from-literal=a=b"]);
    const manifest = (v: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: differ\n  namespace: default\ndata:\n  a: ${v}\n`;
    const d1 = await kubectl(srv, ["diff", "-f", "-"], { stdin: manifest("c") });
    expect(d1.code).toBe(1);
    expect(d1.stdout).toContain("-  a: b\n+  a: c");
    expect(d1.stdout).not.toContain("annotations: {}");
    const ap = await kubectl(srv, ["apply", "-f", "-"], { stdin: manifest("c") });
    expect(ap.code).toBe(0);
    expect((await kubectl(srv, ["diff", "-f", "-"], { stdin: manifest("c") })).code).toBe(0);
    // proxy: plain HTTP on loopback, gets and watches through it.
    const port = 20000 + Math.floor(Math.random() * 20000);
    const proxy = Bun.spawn([KUBECTL, "--kubeconfig", srv.kubeconfig, "proxy", `--port=${port}`], { stdout: "pipe", stderr: "pipe" });
    try {
      const body = await until("kubectl proxy up", async () => {
        const r = await fetch(`http://127.0.0.1:${port}/api/v1/namespaces/default/configmaps/differ`).catch(() => undefined);
        return r?.ok ? r.json() : undefined;
      }, 15_000);
      expect((body as any).data.a).toBe("c");
      const w = await fetch(`http://127.0.0.1:${port}/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1&fieldSelector=metadata.name=differ`);
      expect((await w.text()).trim().split("\n").map((l) => JSON.parse(l).type)).toEqual(["ADDED"]);
    } finally {
      proxy.kill();
      await proxy.exited;
    }
    // auth reconcile: creates, then leaves alone, then adds a missing rule.
    const rbac = (verbs: string) =>
      `apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: reconciled, namespace: default}\nrules:\n- apiGroups: [""]\n  resources: [pods]\n  verbs: [${verbs}]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: reconciled, namespace: default}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reconciled}\nsubjects:\n- {kind: User, name: alice, apiGroup: rbac.authorization.k8s.io}\n`;
    for (const verbs of ["get", "get", "get, list"]) {
      const r = await kubectl(srv, ["auth", "reconcile", "-f", "-"], { stdin: rbac(verbs) });
      if (r.code !== 0) throw new Error(describeResult(r));
      expect(r.stdout).toContain("role.rbac.authorization.k8s.io/reconciled reconciled");
    }
    // Reconcile appends what the role misses, as upstream (it never rewrites existing rules).
    expect((await kJson(["get", "role", "reconciled"])).rules.map((r: any) => r.verbs.join(","))).toEqual(["get", "list"]);
    expect(await k(["auth", "can-i", "list", "pods", "--as", "alice"])).toBe("yes\n");
    await k(["delete", "pod", "tools", "--grace-period=1"]);
  });

  test("node metrics through the API server's node proxy (kubectl get --raw); promtool check metrics", async () => {
    await k(["run", "metered", `--image=${BUSYBOX_IMAGE}`, "--image-pull-policy=IfNotPresent", "--restart=Never", "--", "sh", "-c", "exec sleep 3600"]);
    await waitFor("pod Running", async () => (await k(["get", "pod", "metered", "-o", "jsonpath={.status.phase}"])) === "Running");
    const kubeletText = await k(["get", "--raw", `/api/v1/nodes/${NODE}/proxy/metrics`]);
    expect(kubeletText).toContain(`kubelet_node_name{node="${NODE}"} 1`);
    expect(kubeletText).toMatch(/^kubelet_running_pods [1-9]/m);
    expect(kubeletText).toMatch(/^kubelet_runtime_operations_total\{operation_type="run_podsandbox"\} [1-9]/m);
    expect(kubeletText).toMatch(/^kubelet_runtime_operations_duration_seconds_count\{operation_type="create_container"\} [1-9]/m);
    const cadvisorText = await k(["get", "--raw", `/api/v1/nodes/${NODE}/proxy/metrics/cadvisor`]);
    expect(cadvisorText).toMatch(/^container_cpu_usage_seconds_total\{container="metered",namespace="default",pod="metered",id="[0-9a-f]+"\} \d/m);
    expect(cadvisorText).toMatch(/^container_memory_working_set_bytes\{container="metered",namespace="default",pod="metered",id="[0-9a-f]+"\} [1-9]/m);
    expect(cadvisorText).toMatch(/^machine_cpu_cores [1-9]/m);
    // A node that does not exist is a 404, not a hang.
    expect((await kubectl(srv, ["get", "--raw", "/api/v1/nodes/nope/proxy/metrics"])).stderr).toContain("NotFound");
    if (!promtool) return;
    for (const text of [kubeletText, cadvisorText]) {
      const p = Bun.spawn([promtool, "check", "metrics"], { stdin: new Blob([text]), stdout: "pipe", stderr: "pipe" });
      const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
      if (code !== 0) throw new Error(`promtool check metrics: exit ${code}\n${out}${err}\n--- input\n${text.slice(0, 3000)}`);
    }
    await k(["delete", "pod", "metered", "--grace-period=1"]);
  });

  for (const [which, bin] of Object.entries(helms)) {
    const ns = `${which}-apps`;
    const helm = async (args: string[], timeoutMs = 180_000) => {
      const r = await run([bin!, ...args], {
        timeoutMs,
        env: {
          KUBECONFIG: srv.kubeconfig,
          HELM_CACHE_HOME: join(helmHome, which, "cache"),
          HELM_CONFIG_HOME: join(helmHome, which, "config"),
          HELM_DATA_HOME: join(helmHome, which, "data"),
        },
      });
      if (r.code !== 0) throw new Error(`${describeRun(r)}\n--- server log\n${srv.logTail(30)}`);
      return r.stdout;
    };
    const releases = async () => JSON.parse(await helm(["list", "-n", ns, ...(which === "helm3" ? ["--all"] : []), "-o", "json"])) as { name: string; revision: string; status: string }[];
    const atomic = which === "helm3" ? "--atomic" : "--rollback-on-failure";

    test.skipIf(!bin)(`${which}: install, upgrade, test, rollback, uninstall of a web app chart with hooks`, async () => {
      // install --wait: hooks run as Jobs on the node; the Deployment's pods get Ready.
      const out = await helm(["install", "web", WEBAPP, "-n", ns, "--create-namespace", "--wait", "--timeout", "150s"]);
      expect(out).toContain("STATUS: deployed");
      expect(out).toContain('message "hello"');
      expect(await releases()).toEqual([expect.objectContaining({ name: "web", revision: "1", status: "deployed" })]);
      // hook-succeeded: the pre-install Job is gone once it succeeded.
      expect((await kubectl(srv, ["get", "job", "web-webapp-migrate", "-n", ns])).stderr).toContain("NotFound");
      const dep = await kJson(["get", "deploy", "web-webapp", "-n", ns, "--show-managed-fields"]);
      expect(dep.status.readyReplicas).toBe(1);
      // Helm 4 writes with server-side apply; Helm 3 with create and three-way merge patches
      // (Skiff records managedFields only once someone applied, so Helm 3's objects have none).
      const ops = (dep.metadata.managedFields ?? []).map((f: any) => `${f.manager}:${f.operation}`);
      if (which === "helm4") expect(ops).toContain("helm:Apply");
      else expect(ops.filter((o: string) => o.endsWith(":Apply"))).toEqual([]);
      expect((await kJson(["get", "cm", "web-cache", "-n", ns])).data).toEqual({ size: "small" }); // the subchart, with the parent's values
      expect((await kJson(["get", "ingress", "web-webapp", "-n", ns])).spec.rules[0].host).toBe("webapp.example.test");

      // upgrade with changed values: a new ReplicaSet rolls out; the post-upgrade hook runs and is kept.
      await helm(["upgrade", "web", WEBAPP, "-n", ns, atomic, "--wait", "--timeout", "150s", "--set", "message=changed,replicaCount=2"]);
      expect(await releases()).toEqual([expect.objectContaining({ name: "web", revision: "2", status: "deployed" })]);
      expect((await kJson(["get", "cm", "web-webapp", "-n", ns])).data).toEqual({ message: "changed", revision: "2" });
      // Helm waited for the post-upgrade Job to succeed, then deleted it (hook-succeeded).
      expect((await kubectl(srv, ["get", "job", "web-webapp-notify", "-n", ns])).stderr).toContain("NotFound");
      expect((await kJson(["get", "deploy", "web-webapp", "-n", ns])).status.readyReplicas).toBe(2);
      const status = JSON.parse(await helm(["status", "web", "-n", ns, "-o", "json"]));
      expect(status.info.status).toBe("deployed");
      expect(status.version).toBe(2);
      const manifest = await helm(["get", "manifest", "web", "-n", ns]);
      for (const kind of ["ConfigMap", "ServiceAccount", "Service", "Deployment", "Ingress"]) expect(manifest).toContain(`kind: ${kind}`);
      expect(await helm(["get", "values", "web", "-n", ns, "-o", "json"])).toBe(`{"message":"changed","replicaCount":2}\n`);

      // helm test: a pod with a real container checks the release's config; it must succeed.
      const t = await helm(["test", "web", "-n", ns, "--timeout", "90s"]);
      expect(t).toMatch(/TEST SUITE:\s+web-webapp-test[\s\S]*Phase:\s+Succeeded/);
      await waitFor("the succeeded test pod deleted (hook-succeeded)", async () => (await kubectl(srv, ["get", "pod", "web-webapp-test", "-n", ns])).code !== 0);

      // rollback to revision 1: the old values come back as revision 3.
      await helm(["rollback", "web", "1", "-n", ns, "--wait", "--timeout", "150s"]);
      expect(await releases()).toEqual([expect.objectContaining({ name: "web", revision: "3", status: "deployed" })]);
      expect((await kJson(["get", "cm", "web-webapp", "-n", ns])).data.message).toBe("hello");
      await waitFor("1 ready replica after rollback", async () => {
        const d = await kJson(["get", "deploy", "web-webapp", "-n", ns]);
        return d.status.replicas === 1 && d.status.readyReplicas === 1 && d.spec.replicas === 1;
      });
      const history = JSON.parse(await helm(["history", "web", "-n", ns, "-o", "json"])) as { revision: number; status: string }[];
      expect(history.map((h) => `${h.revision}:${h.status}`)).toEqual(["1:superseded", "2:superseded", "3:deployed"]);
      expect(await helm(["test", "web", "-n", ns, "--timeout", "90s"])).toMatch(/Phase:\s+Succeeded/);

      // uninstall: the release's objects, its pods and its release records are all gone.
      await helm(["uninstall", "web", "-n", ns, "--wait", "--timeout", "120s"]);
      expect(await releases()).toEqual([]);
      await waitFor("nothing left of the release", async () => {
        const left = await kJson(["get", "deploy,rs,pod,svc,ing,cm,sa,job,secret", "-n", ns, "-l", "app.kubernetes.io/instance=web"]);
        const cache = await kubectl(srv, ["get", "cm", "web-cache", "-n", ns]);
        return left.items.length === 0 && cache.code !== 0;
      });
      const secrets = await kJson(["get", "secret", "-n", ns, "--field-selector", "type=helm.sh/release.v1"]);
      expect(secrets.items).toEqual([]);
    });

    test.skipIf(!bin)(`${which}: a chart with a CRD in crds/, custom resources of it and a hook`, async () => {
      const wns = `${which}-widgets`;
      const out = await helm(["install", "wd", WIDGETS, "-n", wns, "--create-namespace", "--wait", "--timeout", "90s"]);
      expect(out).toContain("REVISION: 1");
      // Helm created the CRD before the templates; Skiff established it and serves the kind.
      const crd = await kJson(["get", "crd", "widgets.example.skiff.io"]);
      expect(crd.status.conditions.find((c: any) => c.type === "Established")?.status).toBe("True");
      const widgets = async () => (await kJson(["get", "widgets.example.skiff.io", "-n", wns])).items.map((w: any) => `${w.metadata.name}:${w.spec.size}:${w.spec.color}`).sort();
      expect(await widgets()).toEqual(["alpha:1:blue", "beta:3:blue"]);
      expect(await k(["get", "wdg", "-n", wns, "--no-headers"])).toMatch(/^alpha\s+1\s+blue\s/m); // short name, printer columns
      expect((await kJson(["get", "cm", "wd-installed", "-n", wns])).data.widgets.trim()).toBe("alpha beta"); // post-install hook
      // An upgrade that drops a custom resource and changes the other.
      await helm(["upgrade", "wd", WIDGETS, "-n", wns, "--wait", "--timeout", "90s", "--set", "color=red", "--set", "widgets[0].name=alpha", "--set", "widgets[0].size=2"]);
      expect(await widgets()).toEqual(["alpha:2:red"]);
      expect((await kJson(["get", "cm", "wd-installed", "-n", wns])).data.widgets.trim()).toBe("alpha"); // post-upgrade hook, re-created
      const rel = JSON.parse(await helm(["list", "-n", wns, "-o", "json"]));
      expect(rel).toEqual([expect.objectContaining({ name: "wd", revision: "2", status: "deployed", chart: "widgets-0.2.0" })]);
      await helm(["uninstall", "wd", "-n", wns, "--wait", "--timeout", "60s"]);
      // Helm keeps CRDs (and so their kind) but deletes the release's custom resources and
      // ConfigMap; the hook ConfigMap has no deletion policy for uninstall, so it stays, as upstream.
      expect(await widgets()).toEqual([]);
      expect((await kJson(["get", "cm", "-n", wns, "-l", "app.kubernetes.io/instance=wd"])).items).toEqual([]);
      const left = (await kJson(["get", "cm", "-n", wns])).items.map((c: any) => c.metadata.name).filter((n: string) => n !== "kube-root-ca.crt");
      expect(left).toEqual(["wd-installed"]);
      expect((await kJson(["get", "secret", "-n", wns, "--field-selector", "type=helm.sh/release.v1"])).items).toEqual([]);
      await k(["get", "crd", "widgets.example.skiff.io"]);
    });
  }
});
