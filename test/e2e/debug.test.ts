// Issue 14, `kubectl debug` end to end: a real `skiff server`, a real agent (runAgent) on a real
// containerd, the real kubectl and the busybox test image.
//   - `kubectl debug -it --target=c` attaches to an ephemeral container that sees the target's
//     processes (CRI's TARGET PID namespace) and shares the pod's network;
//   - without a target it has a PID namespace of its own; non-interactive + `kubectl logs -c`;
//   - status.ephemeralContainerStatuses through `kubectl get -o jsonpath`; an exited ephemeral
//     container is never restarted; exec into a running one; the agent's pod cache keeps them;
//   - `kubectl debug --copy-to` (a plain pod copy) and `kubectl debug node/NAME`.
//
// Skipped (with the reason printed) when not root or containerd/runc/CNI cannot be installed.
import { containerdSkipReason } from "../harness/containerd.ts";
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Agent } from "../../agent/main.ts";
import { BUSYBOX_IMAGE } from "../images/builder.ts";
import { startServer, type SkiffServer } from "../harness/server.ts";
import { cleanupLocalNode, startInProcessAgent, stopInProcessAgent, type LocalNode } from "../harness/local-node.ts";
import { describeResult, kubectl, kubectlPath, type KubectlOptions, type KubectlResult } from "../harness/kubectl.ts";

setDefaultTimeout(120_000);

const NODE = "debug-node";
const BRIDGE = "skiffdb0";
const POD_CIDR = "10.88.0.0/24";
const NS = "default";
const IMG = ["--image", BUSYBOX_IMAGE, "--image-pull-policy=IfNotPresent"];

const reason = containerdSkipReason(import.meta.path);

describe.skipIf(reason !== null)("kubectl debug with ephemeral containers on a real agent", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "skiff-debug-agent-"));
  const cgroupRoot = `/skiff-debug-${process.pid}`;
  const node: LocalNode = { dataDir, bridge: BRIDGE, cgroupRoot, bridgeBefore: existsSync(`/sys/class/net/${BRIDGE}`) };
  let srv: SkiffServer;
  let agent: Agent | undefined;

  const k = (args: string[], opts?: KubectlOptions) => kubectl(srv, args, opts);
  const getPod = async (name: string): Promise<any> => (await srv.fetch(`/api/v1/namespaces/${NS}/pods/${name}`)).json();

  async function waitFor<T>(what: string, f: () => Promise<T | undefined>, timeoutMs = 60_000, detail?: () => Promise<string>): Promise<T> {
    const end = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < end) {
      try {
        const v = await f();
        if (v !== undefined) return v;
      } catch (e) {
        last = e;
      }
      await Bun.sleep(250);
    }
    throw new Error(`timed out waiting for ${what} ${last ? String(last) : ""} ${detail ? await detail() : ""}`);
  }
  /**
   * kubectl with a stdin that stays open (as a user's terminal does) until kubectl exits: the
   * session then ends with the debug container, not with an early EOF on stdin.
   */
  async function interactive(args: string[], minor: number): Promise<KubectlResult> {
    const argv = [kubectlPath(minor), "--kubeconfig", srv.kubeconfig, "--cache-dir", join(srv.runDir, "kube-cache"), ...args];
    const p = Bun.spawn(argv, { env: { ...process.env, HOME: join(srv.runDir, "home"), KUBECONFIG: srv.kubeconfig }, stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      p.kill(9);
    }, 90_000);
    const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    clearTimeout(timer);
    return { code, stdout, stderr, cmd: argv.join(" "), timedOut };
  }
  const ephStatus = (pod: any, name: string) => (pod.status?.ephemeralContainerStatuses ?? []).find((s: any) => s.name === name);

  beforeAll(async () => {
    srv = await startServer({ name: "debug" });
    agent = await startInProcessAgent(srv, node, { nodeName: NODE, podCidr: POD_CIDR });
    const app = `apiVersion: v1
kind: Pod
metadata:
  name: app
spec:
  nodeName: ${NODE}
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: ${BUSYBOX_IMAGE}
    command: ["sh", "-c", "mkdir -p /www && echo served-by-c > /www/i.html && httpd -p 8080 -h /www && exec sleep 31337"]
`;
    const ap = await k(["apply", "-f", "-"], { stdin: app });
    expect(ap.code, describeResult(ap)).toBe(0);
    await waitFor("app running", async () => {
      const p = await getPod("app");
      return p.status?.containerStatuses?.[0]?.state?.running ? p : undefined;
    });
    // The tunnel is up once logs answer.
    await waitFor("the agent tunnel", async () => ((await srv.fetch(`/api/v1/namespaces/${NS}/pods/app/log?container=c`)).status === 200 ? true : undefined), 30_000);
  });

  afterAll(async () => {
    try {
      await k(["delete", "pod", "--all", "--grace-period=1", "--timeout=30s"], { timeoutMs: 40_000 }).catch(() => {});
      await stopInProcessAgent(agent);
      await srv?.stop();
    } finally {
      await cleanupLocalNode(node);
    }
  });

  for (const minor of [32, 27, 33] as const) {
    test(`kubectl 1.${minor} debug -it --target=c: sees the target's processes and the pod's network`, async () => {
      const name = `it${minor}`;
      const r = await interactive(["debug", "-it", "app", ...IMG, "--target=c", "-c", name, "--", "sh", "-c", "sleep 1; ps -o pid,args; wget -qO- http://127.0.0.1:8080/i.html; echo end-of-debug"], minor);
      expect(r.code, describeResult(r)).toBe(0);
      expect(r.stdout, describeResult(r)).toContain("sleep 31337");
      expect(r.stdout, describeResult(r)).toContain("served-by-c");
      expect(r.stdout, describeResult(r)).toContain("end-of-debug");
      const pod = await waitFor(`${name} terminated`, async () => {
        const p = await getPod("app");
        return ephStatus(p, name)?.state?.terminated ? p : undefined;
      });
      expect(ephStatus(pod, name)).toMatchObject({ ready: false, restartCount: 0, state: { terminated: { exitCode: 0, reason: "Completed" } } });
    });
  }

  test("non-interactive kubectl debug, kubectl logs -c, the status through jsonpath; without a target: its own PID namespace", async () => {
    const r = await k(["debug", "app", ...IMG, "-c", "solo", "--", "sh", "-c", "ps -o args; echo solo-done; exit 7"]);
    expect(r.code, describeResult(r)).toBe(0);
    await waitFor("solo terminated", async () => (ephStatus(await getPod("app"), "solo")?.state?.terminated ? true : undefined));
    const logs = await k(["logs", "app", "-c", "solo"]);
    expect(logs.code, describeResult(logs)).toBe(0);
    expect(logs.stdout).toContain("solo-done");
    expect(logs.stdout).not.toContain("sleep 31337");
    const jp = await k(["get", "pod", "app", "-o", `jsonpath={.status.ephemeralContainerStatuses[?(@.name=="solo")].state.terminated.exitCode}`]);
    expect(jp.stdout, describeResult(jp)).toBe("7");
    // Never restarted (it failed, and the pod's restartPolicy is Always), the pod stays Running.
    await Bun.sleep(2000);
    const pod = await getPod("app");
    expect(ephStatus(pod, "solo")).toMatchObject({ restartCount: 0, state: { terminated: { exitCode: 7 } } });
    expect(pod.status.phase).toBe("Running");
    expect(pod.status.containerStatuses[0].restartCount).toBe(0);
    expect(pod.status.conditions.find((c: any) => c.type === "Ready").status).toBe("True");
    const ev = await k(["get", "events", "--field-selector", "involvedObject.name=app", "-o", "jsonpath={.items[*].involvedObject.fieldPath}"]);
    expect(ev.stdout).toContain("spec.ephemeralContainers{solo}");
  });

  test("exec into a running ephemeral container; the agent's pod cache keeps the list", async () => {
    const r = await k(["debug", "app", ...IMG, "-c", "stay", "--", "sleep", "3600"]);
    expect(r.code, describeResult(r)).toBe(0);
    await waitFor("stay running", async () => (ephStatus(await getPod("app"), "stay")?.state?.running ? true : undefined));
    const ex = await k(["exec", "app", "-c", "stay", "--", "sh", "-c", "echo from-stay"]);
    expect(ex.code, describeResult(ex)).toBe(0);
    expect(ex.stdout).toBe("from-stay\n");
    const pod = await getPod("app");
    const cached = JSON.parse(readFileSync(join(dataDir, "agent", "pods", pod.metadata.uid, "pod.json"), "utf8"));
    const spec = cached.pod?.spec ?? cached.spec;
    expect(spec.ephemeralContainers.map((c: any) => c.name)).toEqual(["it32", "it27", "it33", "solo", "stay"]); // (envd is added after this test)
  });

  test("an ephemeral container's env from a ConfigMap is resolved like any container's", async () => {
    const cm = await k(["create", "configmap", "dbg-cm", "--from-literal=k=v-from-cm"]);
    expect(cm.code, describeResult(cm)).toBe(0);
    const r = await srv.fetch(`/api/v1/namespaces/${NS}/pods/app/ephemeralcontainers`, {
      method: "PATCH",
      headers: { "content-type": "application/strategic-merge-patch+json" },
      body: JSON.stringify({
        spec: {
          ephemeralContainers: [
            { name: "envd", image: BUSYBOX_IMAGE, imagePullPolicy: "IfNotPresent", command: ["sh", "-c", "echo K=$K"], env: [{ name: "K", valueFrom: { configMapKeyRef: { name: "dbg-cm", key: "k" } } }] },
          ],
        },
      }),
    });
    expect(r.status, await r.clone().text()).toBe(200);
    await waitFor("envd terminated", async () => (ephStatus(await getPod("app"), "envd")?.state?.terminated ? true : undefined));
    const logs = await k(["logs", "app", "-c", "envd"]);
    expect(logs.stdout, describeResult(logs)).toBe("K=v-from-cm\n");
  });

  test("an agent restart re-adopts the pod: finished ephemeral containers are not run again, the running one keeps running", async () => {
    const before = await getPod("app");
    const sel = { labelSelector: { "io.kubernetes.pod.uid": before.metadata.uid } };
    const ids = async () => (await agent!.runtime.cri.listContainers(sel)).map((c) => c.id).sort();
    const ctrBefore = await ids();
    expect(ctrBefore.length).toBe(1 + before.spec.ephemeralContainers.length);
    await agent!.stop();
    agent = await startInProcessAgent(srv, node, { nodeName: NODE, podCidr: POD_CIDR });
    await waitFor("the agent online", async () => (agent!.online() ? true : undefined));
    await Bun.sleep(2000); // a few sync passes
    expect(await ids()).toEqual(ctrBefore);
    const after = await getPod("app");
    for (const s of before.status.ephemeralContainerStatuses) {
      const now = ephStatus(after, s.name);
      expect(now.containerID).toBe(s.containerID);
      expect(now.restartCount).toBe(0);
      expect(Object.keys(now.state)).toEqual(Object.keys(s.state));
    }
    expect(ephStatus(after, "stay").state.running).toBeDefined();
  });

  test("kubectl debug --copy-to: a plain copy of the pod, with the command changed", async () => {
    const r = await k(["debug", "app", "--copy-to=app-copy", "--same-node", "--container=c", "--", "sh", "-c", "echo i-am-the-copy; sleep 3600"]);
    expect(r.code, describeResult(r)).toBe(0);
    await waitFor("app-copy running", async () => ((await getPod("app-copy")).status?.containerStatuses?.[0]?.state?.running ? true : undefined));
    const logs = await waitFor("copy logs", async () => {
      const l = await k(["logs", "app-copy", "-c", "c"]);
      return l.stdout.includes("i-am-the-copy") ? l : undefined;
    });
    expect(logs.code).toBe(0);
    const copy = await getPod("app-copy");
    expect(copy.spec.ephemeralContainers ?? []).toEqual([]);
    expect(copy.spec.containers[0].command).toEqual(["sh", "-c", "echo i-am-the-copy; sleep 3600"]);
  });

  test("kubectl debug node/NAME runs a host-namespaced pod on that node", async () => {
    const r = await k(["debug", `node/${NODE}`, ...IMG, "--", "sh", "-c", "echo on-the-node; ls /host/proc >/dev/null && echo host-root-mounted"]);
    expect(r.code, describeResult(r)).toBe(0);
    const name = /debugging pod (node-debugger-\S+)/.exec(r.stdout + r.stderr)?.[1] ?? "";
    expect(name, describeResult(r)).toMatch(/^node-debugger-/);
    const pod = await getPod(name);
    expect(pod.spec).toMatchObject({ nodeName: NODE, hostPID: true, hostNetwork: true, hostIPC: true });
    await waitFor(`${name} done`, async () => ((await getPod(name)).status?.phase === "Succeeded" ? true : undefined), 60_000, async () => JSON.stringify((await getPod(name)).status));
    const logs = await k(["logs", name]);
    expect(logs.stdout, describeResult(logs)).toContain("on-the-node");
    expect(logs.stdout).toContain("host-root-mounted");
  });
});
