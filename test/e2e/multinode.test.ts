// Several real nodes on one machine: a `skiff server --disable-agent` on the host and two
// `skiff agent` processes, each in its own network namespace (test/harness/netns.ts) with its
// own data dir, containerd, pod bridge and cgroup root, joined with the K10 token. The real
// kubectl drives workloads that run on real containers (busybox imported air-gap style):
//
//   issue 4 #6  both agents join with the token and go Ready; a wrong token is refused clearly
//   issue 5 #1  Deployment: replace a deleted pod, restart a killed container, scale, rolling
//               update checked at every watch event against maxUnavailable, rollout undo
//   issue 5 #2  StatefulSet with volumeClaimTemplates (local-path): ordered start, one Bound
//               PVC per pod, web-1's file survives deleting web-1
//   issue 5 #3  DaemonSet: one pod per node; a NoSchedule-tainted node gets no new daemon pod
//               (one already running there stays, as in Kubernetes)
//   Services    pod-to-pod across nodes (host-gw routes), a ClusterIP over both nodes' pods, DNS
//   issue 5 #5  SIGKILL an agent: its node goes NotReady, its Deployment pods move
//
// Network: bridge sktmn 10.250.0.1/24 on the host (the server binds there), namespaces
// skiff-mn-a (10.250.0.2) and skiff-mn-b (10.250.0.3). Everything is removed in afterAll,
// also after a failure (SKIFF_E2E_KEEP=1 keeps the temp dirs, nothing else).
import { containerdSkipReason } from "../harness/containerd.ts";
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { agentPaths } from "../../agent/containerd/config.ts";
import { killShims } from "../../agent/containerd/supervisor.ts";
import { CriClient } from "../../agent/cri/client.ts";
import { unmountAll } from "../../agent/volumes/mount.ts";
import { describeResult, kubectl } from "../harness/kubectl.ts";
import { canConnect, createTestNetwork, type TestNetwork, type TestNode } from "../harness/netns.ts";
import { BUN, REPO, startServer, type SkiffServer } from "../harness/server.ts";
import { openWatch } from "../harness/watch.ts";
import { until as waitUntil } from "../harness/wait.ts";
import { busyboxImage } from "../images/builder.ts";

setDefaultTimeout(120_000);

const TAG = "mn";
const IMAGE = "busybox:latest";

const reason = containerdSkipReason(import.meta.path, { bins: ["ip", "nsenter", "ctr"], needs: "network namespaces and containerd" });

interface AgentProc {
  node: TestNode;
  /** Kubernetes node name. */
  name: string;
  dataDir: string;
  socket: string;
  cgroupRoot: string;
  logPath: string;
  proc?: Subprocess;
}

/** Processes (other than this one) whose command line contains `s`. */
function pidsMatching(s: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    const pid = Number(d);
    if (!pid || pid === process.pid) continue;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(s)) out.push(pid);
    } catch {}
  }
  return out;
}

/** `skiff` as the server harness runs it: $SKIFF_E2E_BIN (e.g. dist/skiff) or bun cli/main.ts. */
const SKIFF = process.env.SKIFF_E2E_BIN ? [resolve(REPO, process.env.SKIFF_E2E_BIN)] : [BUN, join(REPO, "cli/main.ts")];

describe.skipIf(reason !== null)("two agents in network namespaces, one server", () => {
  let net: TestNetwork;
  let srv: SkiffServer;
  let token = "";
  let runDir = "";
  let localPathRoot = "";
  const agents: AgentProc[] = [];
  const byNode = (name: string) => agents.find((a) => a.name === name)!;

  const tail = (path: string, n = 25) => {
    try {
      return readFileSync(path, "utf8").split("\n").slice(-n).join("\n");
    } catch {
      return "(no log)";
    }
  };
  const diag = () => [srv?.logTail(20) ?? "", ...agents.map((a) => `--- agent ${a.name} (${a.logPath}) ---\n${tail(a.logPath)}`)].join("\n");

  const k = async (args: string[], stdin?: string, timeoutMs = 60_000) => {
    const r = await kubectl(srv, args, { stdin, timeoutMs });
    if (r.code !== 0) throw new Error(`${describeResult(r)}\n${diag()}`);
    return r.stdout;
  };
  const getJson = async (args: string[]) => JSON.parse(await k([...args, "-o", "json"]));
  const api = async (path: string): Promise<any> => {
    const r = await srv.fetch(path);
    return r.status === 200 ? await r.json() : undefined;
  };
  const pods = async (sel: string, ns = "default"): Promise<any[]> =>
    ((await api(`/api/v1/namespaces/${ns}/pods?labelSelector=${encodeURIComponent(sel)}`)) as any)?.items ?? [];
  const live = (ps: any[]) => ps.filter((p) => !p.metadata.deletionTimestamp);
  const isReady = (p: any) => p.status?.conditions?.some((c: any) => c.type === "Ready" && c.status === "True");
  const nodeReady = (n: any) => n?.status?.conditions?.find((c: any) => c.type === "Ready")?.status;

  const until = <T>(what: string, fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 45_000, stepMs = 250) =>
    waitUntil(what, fn, timeoutMs, stepMs, diag);

  /** `skiff agent …` inside the node's namespace (nsenter execs, so the pid is the agent's). */
  const spawnAgent = (node: TestNode, name: string, dataDir: string, tok: string, logPath: string, cgroupRoot: string) =>
    Bun.spawn(
      [...node.exec, ...SKIFF, "agent", "--server", srv.url, "--token", tok, "--data-dir", dataDir, "--node-name", name, "--node-ip", node.ip],
      {
        cwd: REPO,
        env: {
          ...process.env,
          SKIFF_AGENT_TUNING: JSON.stringify({
            bridge: `skiff${node.name}0`,
            cgroupRoot,
            leaseRenewMs: 1000,
            backoffInitialMs: 1000,
            backoffMaxMs: 8000,
            relistMs: 500,
            retryMs: 500,
          }),
        },
        stdout: Bun.file(logPath),
        stderr: Bun.file(logPath + ".err"),
        stdin: "ignore",
      },
    );

  beforeAll(async () => {
    runDir = mkdtempSync(join(tmpdir(), "skiff-e2e-multinode-"));
    localPathRoot = join(runDir, "storage");
    net = createTestNetwork({ tag: TAG, nodes: ["a", "b"] });
    srv = await startServer({
      name: "multinode",
      // Bound on the bridge so the namespaces reach it; the kubeconfig names the same address,
      // which the host reaches too.
      extraArgs: ["--bind-address", net.hostIp],
      env: { SKIFF_NODE_MONITOR_GRACE_SECONDS: "8", SKIFF_LOCAL_PATH_ROOT: localPathRoot },
    });
    token = readFileSync(join(srv.dataDir, "server", "token"), "utf8").trim();
    for (const node of net.nodes)
      if (!(await canConnect(node, net.hostIp, srv.port))) throw new Error(`namespace ${node.ns} (${node.ip}) cannot reach the server at ${net.hostIp}:${srv.port}`);
    const image = busyboxImage();
    for (const node of net.nodes) {
      const dataDir = join(runDir, `agent-${node.name}`);
      mkdirSync(join(dataDir, "agent", "images"), { recursive: true });
      copyFileSync(image, join(dataDir, "agent", "images", "busybox.tar"));
      const a: AgentProc = {
        node,
        name: `${TAG}-node-${node.name}`,
        dataDir,
        socket: agentPaths(dataDir).socket,
        cgroupRoot: `/skiff-e2e-${TAG}-${process.pid}-${node.name}`,
        logPath: join(runDir, `agent-${node.name}.log`),
      };
      a.proc = spawnAgent(node, a.name, dataDir, token, a.logPath, a.cgroupRoot);
      agents.push(a);
    }
  }, 90_000);

  afterAll(async () => {
    const errors: string[] = [];
    const step = async (what: string, f: () => unknown) => {
      try {
        await f();
      } catch (e) {
        errors.push(`${what}: ${(e as Error).message}`);
      }
    };
    for (const a of agents) {
      // The agent goes first: while it runs it would recreate the sandboxes removed below.
      await step(`stop agent ${a.name}`, async () => {
        if (a.proc && a.proc.exitCode === null && a.proc.signalCode === null) {
          a.proc.kill("SIGTERM");
          const t = setTimeout(() => a.proc?.kill(9), 8000);
          await a.proc.exited;
          clearTimeout(t);
        }
      });
      // Then every pod sandbox is removed through CRI (containers, pod netns, CNI state), by the
      // node's containerd: the one still running, or one started here in the node's namespace
      // from the config the agent generated.
      await step(`CRI cleanup ${a.name}`, async () => {
        const config = agentPaths(a.dataDir).config;
        if (!existsSync(config)) return;
        let started: Subprocess | undefined;
        if (!pidsMatching(config).length) {
          rmSync(a.socket, { force: true });
          started = Bun.spawn([...a.node.exec, "containerd", "--config", config], { stdout: "ignore", stderr: "ignore", stdin: "ignore" });
          const end = Date.now() + 15_000;
          while (!existsSync(a.socket) && Date.now() < end && started.exitCode === null) await Bun.sleep(50);
        }
        const cri = new CriClient(a.socket, { timeoutMs: 30_000 });
        try {
          for (const s of await cri.listPodSandbox()) {
            await cri.stopPodSandbox(s.id).catch(() => {});
            await cri.removePodSandbox(s.id).catch(() => {});
          }
        } finally {
          cri.close();
          for (const pid of pidsMatching(config)) try { process.kill(pid, "SIGTERM"); } catch {}
          if (started) {
            const t = setTimeout(() => started?.kill(9), 8000);
            await started.exited;
            clearTimeout(t);
          }
        }
      });
      await step(`kill leftovers ${a.name}`, async () => {
        await killShims(a.socket);
        // containerd (and anything else) started with this data dir on its command line.
        for (const pid of pidsMatching(a.dataDir)) try { process.kill(pid, "SIGKILL"); } catch {}
        // Container processes still in this agent's pod cgroups.
        for (const h of existsSync("/sys/fs/cgroup") ? readdirSync("/sys/fs/cgroup") : []) {
          const root = join("/sys/fs/cgroup", h, a.cgroupRoot);
          if (!existsSync(root)) continue;
          const procs = spawnSync("find", [root, "-name", "cgroup.procs"], { encoding: "utf8" }).stdout.split("\n").filter(Boolean);
          for (const f of procs)
            for (const pid of readFileSync(f, "utf8").split("\n").filter(Boolean)) try { process.kill(Number(pid), "SIGKILL"); } catch {}
        }
        await Bun.sleep(300);
      });
      await step(`unmount ${a.name}`, () => {
        const stuck = unmountAll(a.dataDir);
        if (stuck.length) throw new Error(`still mounted: ${stuck.join(", ")}`);
      });
      await step(`cgroups ${a.name}`, () => {
        for (const h of existsSync("/sys/fs/cgroup") ? readdirSync("/sys/fs/cgroup") : []) {
          const root = join("/sys/fs/cgroup", h, a.cgroupRoot);
          if (!existsSync(root)) continue;
          const dirs = spawnSync("find", [root, "-depth", "-type", "d"], { encoding: "utf8" }).stdout.split("\n").filter(Boolean);
          for (const d of dirs) try { rmdirSync(d); } catch {}
        }
      });
    }
    await step("network", () => net?.destroy());
    await step("server", () => srv?.stop());
    if (runDir && process.env.SKIFF_E2E_KEEP !== "1") await step("temp dirs", () => rmSync(runDir, { recursive: true, force: true }));
    if (errors.length) console.warn(`multinode cleanup problems:\n${errors.join("\n")}`);
  }, 90_000);

  test("issue 4 #6: both agents join with the token and go Ready; a wrong token is refused", async () => {
    const nodes = await until("both nodes Ready", async () => {
      for (const a of agents)
        if (a.proc && a.proc.exitCode !== null) throw new Error(`agent ${a.name} exited with ${a.proc.exitCode}`);
      const list = (await getJson(["get", "nodes"])).items as any[];
      const ours = agents.map((a) => list.find((n) => n.metadata.name === a.name));
      return ours.every((n) => nodeReady(n) === "True") && ours;
    }, 60_000);
    for (const [i, n] of nodes.entries()) {
      expect(n.status.addresses.find((x: any) => x.type === "InternalIP")?.address).toBe(agents[i]!.node.ip);
      expect(n.spec.podCIDR).toMatch(/^10\.42\.\d+\.0\/24$/);
    }
    expect(nodes[0].spec.podCIDR).not.toBe(nodes[1].spec.podCIDR);
    expect(await k(["get", "nodes"])).toMatch(new RegExp(`${agents[1]!.name}\\s+Ready`));

    // Wrong secret (right CA hash), and a token that pins another CA.
    const m = /^(K10[0-9a-f]{64}::[^:]+:)(.+)$/.exec(token);
    expect(m).not.toBeNull();
    const wrong = [
      { tok: `${m![1]}not-the-secret`, msg: /rejected the join token/ },
      { tok: `K10${"0".repeat(64)}::${token.split("::")[1]}`, msg: /CA does not match the token/ },
    ];
    for (const [i, w] of wrong.entries()) {
      const dataDir = join(runDir, `intruder-${i}`);
      const logPath = join(runDir, `intruder-${i}.log`);
      const p = spawnAgent(net.nodes[0]!, `intruder-${i}`, dataDir, w.tok, logPath, `/skiff-e2e-${TAG}-${process.pid}-x`);
      const t = setTimeout(() => p.kill(9), 30_000);
      const code = await p.exited;
      clearTimeout(t);
      const err = readFileSync(logPath + ".err", "utf8");
      expect({ code, err }).toMatchObject({ code: 1, err: expect.stringMatching(w.msg) });
      expect(err).toMatch(/cannot join the cluster/);
    }
    expect((await getJson(["get", "nodes"])).items.map((n: any) => n.metadata.name).sort()).toEqual(agents.map((a) => a.name).sort());
  }, 90_000);

  test("issue 5 #1: a Deployment on real containers heals, scales, rolls and rolls back", async () => {
    await k(["apply", "-f", "-"], `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 3
  strategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 1, maxSurge: 1}}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: httpd
        image: ${IMAGE}
        imagePullPolicy: IfNotPresent
        command: [sh, -c, "mkdir -p /www && echo web-$HOSTNAME > /www/index.html && exec httpd -f -p 8080 -h /www"]
        ports: [{containerPort: 8080}]
        readinessProbe: {httpGet: {path: /, port: 8080}, periodSeconds: 1}
`);
    const readyLive = async (n: number) =>
      until(`${n} ready web pods`, async () => {
        const ps = live(await pods("app=web"));
        return ps.length === n && ps.every((p) => p.status.phase === "Running" && isReady(p)) && ps;
      }, 60_000);
    let ps = await readyLive(3);
    // Real containers: each pod has a containerd container ID and an IP from its node's pod CIDR.
    const cidrs = new Map<string, string>((await getJson(["get", "nodes"])).items.map((n: any) => [n.metadata.name, n.spec.podCIDR]));
    for (const p of ps) {
      expect(p.status.containerStatuses[0].containerID).toMatch(/^containerd:\/\/[0-9a-f]{64}$/);
      const prefix = cidrs.get(p.spec.nodeName)!.replace(/\.0\/24$/, ".");
      expect(p.status.podIP.startsWith(prefix)).toBe(true);
      expect(p.status.hostIP).toBe(byNode(p.spec.nodeName).node.ip);
      // The node reaches its pod over the CNI bridge in its own namespace.
      const got = spawnSync(byNode(p.spec.nodeName).node.exec[0]!, [...byNode(p.spec.nodeName).node.exec.slice(1), "curl", "-sS", "--max-time", "5", `http://${p.status.podIP}:8080/`], { encoding: "utf8" });
      expect(got.stdout.trim(), got.stderr).toBe(`web-${p.metadata.name}`);
    }

    // Delete a pod → a new one replaces it.
    const victim = ps[0]!.metadata.name;
    await k(["delete", "pod", victim, "--wait=false"]);
    ps = await until("a replacement pod", async () => {
      const l = live(await pods("app=web"));
      return l.length === 3 && l.every((p) => p.metadata.name !== victim && isReady(p)) && l;
    }, 60_000);

    // Kill a container behind the agent's back → the agent restarts it.
    const target = ps[0]!;
    const cid = target.status.containerStatuses[0].containerID.replace("containerd://", "");
    const sock = byNode(target.spec.nodeName).socket;
    const kill = spawnSync("ctr", ["-a", sock, "-n", "k8s.io", "tasks", "kill", "-s", "SIGKILL", cid], { encoding: "utf8" });
    expect(kill.status, kill.stderr).toBe(0);
    const restarted = await until(`container of ${target.metadata.name} restarted`, async () => {
      const p = await api(`/api/v1/namespaces/default/pods/${target.metadata.name}`);
      const c = p?.status?.containerStatuses?.[0];
      return c?.restartCount >= 1 && c.ready && c.state?.running && p;
    }, 45_000);
    expect(restarted.metadata.uid).toBe(target.metadata.uid);
    expect(restarted.status.containerStatuses[0].lastState.terminated.exitCode).toBe(137);
    expect(restarted.status.containerStatuses[0].containerID).not.toBe(target.status.containerStatuses[0].containerID);

    // Scale up and down.
    await k(["scale", "deployment/web", "--replicas=5"]);
    await readyLive(5);
    await k(["scale", "deployment/web", "--replicas=2"]);
    await readyLive(2);
    await until("deployment web 2/2", async () => /web\s+2\/2\s+2\s+2/.test(await k(["get", "deployment", "web"])));

    // Rolling update with replicas 3, maxUnavailable 1: never fewer than 2 ready pods.
    await k(["scale", "deployment/web", "--replicas=3"]);
    await readyLive(3);
    // Every state the pods pass through is checked, not a sample: a watch from the list's
    // revision replays each change, and after each one the live pods are counted.
    const start = await api("/api/v1/namespaces/default/pods?labelSelector=app%3Dweb");
    const state = new Map<string, any>(start.items.map((p: any) => [p.metadata.name, p]));
    const w = openWatch(srv, `/api/v1/namespaces/default/pods?labelSelector=app%3Dweb&watch=true&resourceVersion=${start.metadata.resourceVersion}`);
    const readyCounts: number[] = [];
    const totals: number[] = [];
    let replayed = 0;
    const replay = () => {
      for (; replayed < w.events.length; replayed++) {
        const e = w.events[replayed]!;
        if (e.type === "DELETED") state.delete(e.object.metadata.name);
        else if (e.type === "ADDED" || e.type === "MODIFIED") state.set(e.object.metadata.name, e.object);
        else throw new Error(`unexpected watch event ${e.type}: ${JSON.stringify(e.object).slice(0, 500)}`);
        const l = live([...state.values()]);
        readyCounts.push(l.filter(isReady).length);
        totals.push(l.length);
      }
    };
    try {
      expect(await w.status).toBe(200);
      await k(["set", "env", "deployment/web", "VERSION=2"]);
      await k(["rollout", "status", "deployment/web", "--timeout=90s"], undefined, 100_000);
      await until("only VERSION=2 pods", async () => {
        replay();
        const l = live([...state.values()]);
        return l.length === 3 && l.every((p) => isReady(p) && p.spec.containers[0].env?.some((e: any) => e.name === "VERSION" && e.value === "2"));
      });
    } finally {
      w.close();
    }
    // Three new pods were created and went through their states while the check ran.
    expect(w.events.filter((e) => e.type === "ADDED").length).toBeGreaterThanOrEqual(3);
    expect(Math.min(...readyCounts)).toBeGreaterThanOrEqual(2); // replicas - maxUnavailable
    expect(Math.max(...totals)).toBeLessThanOrEqual(4); // replicas + maxSurge

    // Undo returns to the first template.
    await k(["rollout", "undo", "deployment/web"]);
    await k(["rollout", "status", "deployment/web", "--timeout=90s"], undefined, 100_000);
    await until("pods without VERSION after undo", async () => {
      const l = live(await pods("app=web"));
      return l.length === 3 && l.every((p) => isReady(p) && !p.spec.containers[0].env?.length);
    });
    const d = await getJson(["get", "deployment", "web"]);
    expect(d.spec.template.spec.containers[0].env ?? []).toEqual([]);
    await k(["delete", "deployment", "web", "--wait=false"]);
  }, 240_000);

  test("issue 5 #2: a StatefulSet starts in order with its own bound claims; web-1's file survives", async () => {
    await k(["apply", "-f", "-"], `
apiVersion: v1
kind: Service
metadata: {name: web-sts, namespace: default}
spec: {clusterIP: None, selector: {app: sts}, ports: [{port: 8080}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web, namespace: default}
spec:
  replicas: 3
  serviceName: web-sts
  selector: {matchLabels: {app: sts}}
  template:
    metadata: {labels: {app: sts}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: c
        image: ${IMAGE}
        imagePullPolicy: IfNotPresent
        command: [sh, -c, "sleep 1; echo $HOSTNAME > /data/owner; exec sleep 3600"]
        readinessProbe: {exec: {command: [test, -f, /data/owner]}, periodSeconds: 1}
        volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
`);
    // Sample which pods exist and which are Ready: web-N may appear only once web-(N-1) is Ready.
    const seen: { names: Set<string>; ready: Set<string> }[] = [];
    await until("web-0..2 Ready", async () => {
      const ps = live(await pods("app=sts"));
      seen.push({ names: new Set(ps.map((p) => p.metadata.name)), ready: new Set(ps.filter(isReady).map((p) => p.metadata.name)) });
      return ps.length === 3 && ps.every(isReady);
    }, 90_000, 100);
    for (const i of [1, 2]) {
      const first = seen.findIndex((s) => s.names.has(`web-${i}`));
      expect(first).toBeGreaterThan(0);
      expect(seen.slice(0, first + 1).some((s) => s.ready.has(`web-${i - 1}`))).toBe(true);
    }
    const ps = live(await pods("app=sts"));
    expect(ps.map((p) => p.metadata.name).sort()).toEqual(["web-0", "web-1", "web-2"]);
    const byName = new Map(ps.map((p) => [p.metadata.name, p]));
    for (const i of [0, 1, 2]) {
      expect(new Date(byName.get(`web-${i}`).metadata.creationTimestamp).getTime()).toBeGreaterThanOrEqual(
        new Date(byName.get(`web-${Math.max(0, i - 1)}`).metadata.creationTimestamp).getTime(),
      );
    }
    const volumes = new Set<string>();
    for (const i of [0, 1, 2]) {
      const pvc = await until(`data-web-${i} Bound`, async () => {
        const c = await api(`/api/v1/namespaces/default/persistentvolumeclaims/data-web-${i}`);
        return c?.status?.phase === "Bound" && c;
      });
      const pv = await api(`/api/v1/persistentvolumes/${pvc.spec.volumeName}`);
      // Provisioned by the default class. (Kubernetes' DefaultStorageClass admission would also
      // write pvc.spec.storageClassName; Skiff leaves it unset so far.)
      expect(pv.spec.storageClassName).toBe("local-path");
      expect(pv.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values).toEqual([byName.get(`web-${i}`).spec.nodeName]);
      expect(pv.spec.hostPath.path.startsWith(localPathRoot)).toBe(true);
      // The agent created the directory and the pod wrote into it.
      expect(readFileSync(join(pv.spec.hostPath.path, "owner"), "utf8").trim()).toBe(`web-${i}`);
      volumes.add(pvc.spec.volumeName);
    }
    expect(volumes.size).toBe(3);

    const secret = `kept-${Date.now()}`;
    await k(["exec", "web-1", "--", "sh", "-c", `echo ${secret} > /data/keep`]);
    expect((await k(["exec", "web-0", "--", "ls", "/data"])).split(/\s+/)).not.toContain("keep");
    const oldUid = byName.get("web-1").metadata.uid;
    await k(["delete", "pod", "web-1", "--wait=false"]);
    const again = await until("web-1 recreated and Ready", async () => {
      const p = await api("/api/v1/namespaces/default/pods/web-1");
      return p && p.metadata.uid !== oldUid && !p.metadata.deletionTimestamp && isReady(p) && p;
    }, 60_000);
    expect(again.spec.volumes.find((v: any) => v.name === "data").persistentVolumeClaim.claimName).toBe("data-web-1");
    expect((await k(["exec", "web-1", "--", "cat", "/data/keep"])).trim()).toBe(secret);
    await k(["delete", "statefulset", "web", "--wait=false"]);
  }, 180_000);

  test("issue 5 #3: a DaemonSet runs one pod per node; a NoSchedule-tainted node gets no new one", async () => {
    const [a, b] = agents.map((x) => x.name) as [string, string];
    const ds = (name: string) => `
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: ${name}, namespace: default}
spec:
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers: [{name: c, image: ${IMAGE}, imagePullPolicy: IfNotPresent, command: [sleep, "3600"]}]
`;
    const running = (ps: any[]) => live(ps).filter((p) => p.status.phase === "Running");
    await k(["apply", "-f", "-"], ds("everywhere"));
    const ps = await until("a daemon pod Running on each node", async () => {
      const l = running(await pods("app=everywhere"));
      return l.length === 2 && l;
    }, 60_000);
    expect(ps.map((p) => p.spec.nodeName).sort()).toEqual([a, b].sort());

    try {
      await k(["taint", "node", b, "dedicated=test:NoSchedule"]);
      await k(["apply", "-f", "-"], ds("picky"));
      const picky = await until("picky daemon pod on the untainted node", async () => {
        const l = running(await pods("app=picky"));
        return l.length === 1 && l;
      }, 60_000);
      expect(picky[0].spec.nodeName).toBe(a);
      await Bun.sleep(2000);
      expect((await pods("app=picky")).map((p) => p.spec.nodeName)).toEqual([a]);
      const st = (await getJson(["get", "daemonset", "picky"])).status;
      expect(st.desiredNumberScheduled).toBe(1);
      // As in Kubernetes, NoSchedule does not evict a daemon pod that already runs there.
      expect(live(await pods("app=everywhere")).map((p) => p.spec.nodeName).sort()).toEqual([a, b].sort());
    } finally {
      await k(["taint", "node", b, "dedicated-"]).catch(() => {});
    }
    // Untainted again: picky gets its pod on b too.
    await until("picky on both nodes after the taint is removed", async () => running(await pods("app=picky")).length === 2, 60_000);
    await k(["delete", "daemonset", "everywhere", "picky", "--wait=false"]);
  }, 150_000);

  test("issue 5 #4: Jobs on real containers complete or stop at backoffLimit; a CronJob runs each minute", async () => {
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
      terminationGracePeriodSeconds: 1
      containers: [{name: c, image: ${IMAGE}, imagePullPolicy: IfNotPresent, command: [sh, -c, "echo working; sleep 1"]}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: failing, namespace: default}
spec:
  backoffLimit: 1
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      containers: [{name: c, image: ${IMAGE}, imagePullPolicy: IfNotPresent, command: [sh, -c, "exit 3"]}]
---
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
          terminationGracePeriodSeconds: 1
          containers: [{name: c, image: ${IMAGE}, imagePullPolicy: IfNotPresent, command: [sh, -c, "date"]}]
`);
    await k(["wait", "--for=condition=complete", "job/three", "--timeout=90s"], undefined, 100_000);
    const three = (await getJson(["get", "job", "three"])).status;
    expect(three.succeeded).toBe(3);
    // Never more than `parallelism` pods at once, all of them real containers that exited 0.
    const tp = await pods("job-name=three");
    expect(tp.filter((p) => p.status.phase === "Succeeded").length).toBe(3);
    expect(tp.every((p) => p.status.containerStatuses?.[0]?.state?.terminated?.exitCode === 0)).toBe(true);
    await k(["wait", "--for=condition=failed", "job/failing", "--timeout=90s"], undefined, 100_000);
    const failing = (await getJson(["get", "job", "failing"])).status;
    expect(failing.failed).toBe(2); // the first try plus backoffLimit 1 retry, then it stops
    const fp = await pods("job-name=failing");
    expect(fp.every((p) => p.status.containerStatuses?.[0]?.state?.terminated?.exitCode === 3)).toBe(true);
    // The CronJob's first Job runs to completion on a real container within about a minute.
    await until("a Job created by the CronJob completes", async () => {
      const jobs = ((await api("/apis/batch/v1/namespaces/default/jobs")) as any)?.items ?? [];
      return jobs.some((j: any) => j.metadata.ownerReferences?.some((o: any) => o.kind === "CronJob" && o.name === "tick") && j.status?.succeeded === 1);
    }, 75_000, 1000);
    await k(["delete", "cronjob", "tick", "--wait=false"]);
    await k(["delete", "job", "three", "failing", "--wait=false"]);
  }, 200_000);

  test("Services across nodes: pod-to-pod by route, a ClusterIP reaching both nodes' pods, DNS", async () => {
    const [a, b] = agents as [AgentProc, AgentProc];
    const echo = (name: string, node: string) => `
apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: default, labels: {app: echo}}
spec:
  nodeName: ${node}
  terminationGracePeriodSeconds: 1
  containers:
  - name: httpd
    image: ${IMAGE}
    imagePullPolicy: IfNotPresent
    command: [sh, -c, "mkdir -p /www && echo ${name} > /www/index.html && exec httpd -f -p 8080 -h /www"]
    ports: [{name: http, containerPort: 8080}]
---`;
    await k(["apply", "-f", "-"], `${echo("echo-a", a.name)}${echo("echo-b", b.name)}
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: default}
spec:
  nodeName: ${a.name}
  terminationGracePeriodSeconds: 1
  containers:
  - {name: c, image: ${IMAGE}, imagePullPolicy: IfNotPresent, command: [sh, -c, "trap 'exit 0' TERM; sleep 3600 & wait"]}
---
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: default}
spec:
  selector: {app: echo}
  ports: [{name: http, port: 80, targetPort: http}]
`);
    const ready = await until("echo pods and client ready", async () => {
      const ps = live(await pods("app=echo"));
      const c = (await api("/api/v1/namespaces/default/pods/client")) as any;
      return ps.length === 2 && ps.every(isReady) && isReady(c) && ps;
    }, 60_000);
    const podB = ready.find((p: any) => p.metadata.name === "echo-b");
    const wget = async (url: string) => {
      const r = await kubectl(srv, ["exec", "client", "--", "wget", "-q", "-O", "-", url], { timeoutMs: 15_000 });
      return r.code === 0 ? r.stdout.trim() : `exit ${r.code}: ${r.stderr.trim()}`;
    };
    // node a routes node b's pod CIDR via b's address (host-gw)
    await until("client on a reaches echo-b on b by pod IP", async () => (await wget(`http://${podB.status.podIP}:8080/`)) === "echo-b", 30_000);
    const svc = await getJson(["get", "service", "echo"]);
    const seen = new Set<string>();
    await until("the ClusterIP reaches the pods of both nodes", async () => {
      seen.add(await wget(`http://${svc.spec.clusterIP}/`));
      return seen.has("echo-a") && seen.has("echo-b");
    }, 45_000, 100);
    const ns = await kubectl(srv, ["exec", "client", "--", "nslookup", "echo.default.svc.cluster.local"], { timeoutMs: 15_000 });
    expect(ns.stdout).toContain(`Address: ${svc.spec.clusterIP}`);
    await k(["delete", "pod", "echo-a", "echo-b", "client", "--wait=false"]);
    await k(["delete", "service", "echo"]);
  });

  test("issue 5 #5: a SIGKILLed agent's node goes NotReady and its pods move to the other node", async () => {
    const [a, b] = agents as [AgentProc, AgentProc];
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
      terminationGracePeriodSeconds: 1
      tolerations:
      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 5}
      - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 5}
      topologySpreadConstraints:
      - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: mover}}}
      containers:
      - {name: c, image: ${IMAGE}, imagePullPolicy: IfNotPresent, command: [sleep, "3600"]}
`);
    const before = await until("mover Running on both nodes", async () => {
      const l = live(await pods("app=mover"));
      return l.length === 2 && l.every((p) => p.status.phase === "Running") && new Set(l.map((p) => p.spec.nodeName)).size === 2 && l;
    }, 60_000);
    const onB = before.find((p: any) => p.spec.nodeName === b.name);

    b.proc!.kill(9);
    await b.proc!.exited;
    await until(`${b.name} NotReady`, async () => new RegExp(`${b.name}\\s+NotReady`).test(await k(["get", "node", b.name])), 40_000);
    const node = await api(`/api/v1/nodes/${b.name}`);
    expect(nodeReady(node)).toBe("Unknown");
    expect(node.spec.taints.map((t: any) => t.key)).toContain("node.kubernetes.io/unreachable");

    const after = await until(`mover pods Running on ${a.name}`, async () => {
      const l = live(await pods("app=mover"));
      return l.length === 2 && l.every((p) => p.spec.nodeName === a.name && p.status.phase === "Running") && l;
    }, 60_000);
    expect(after.map((p: any) => p.metadata.name)).not.toContain(onB.metadata.name);
  }, 150_000);
});
