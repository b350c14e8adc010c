// The node agent against a real `skiff server` process and a real containerd: node registration
// and Lease, pods with CNI networking, init containers, restarts with back-off, probes (startup,
// liveness, readiness; exec, httpGet, tcpSocket; every timing field), postStart hooks, OOM,
// cgroup limits, configMap/secret/downwardAPI/projected/hostPath volumes, env (valueFrom,
// envFrom), securityContext, hostNetwork, image errors, events, deletion with preStop, the
// server going away (pods keep running and restarting from the node-local cache) and an agent
// restart that re-adopts its pods without duplicates. Features share pods where they can: every
// pod costs about a second.
//
// The agent runs in this test process (runAgent) with its own containerd, bridge (skiffap0),
// pod CIDR (10.89.0.0/24), cgroup root and short restart back-off (1 s doubling to 8 s; the
// defaults are Kubernetes' 10 s to 5 min). Everything is removed afterwards.
import { containerdSkipReason } from "../harness/containerd.ts";
import { cleanupLocalNode, stopInProcessAgent } from "../harness/local-node.ts";
import { until as waitUntil } from "../harness/wait.ts";
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { podLogDir } from "../../agent/logs/logs.ts";
import { runAgent, type Agent, type AgentOptions } from "../../agent/main.ts";
import { mountsUnder, unmountAll } from "../../agent/volumes/mount.ts";
import { startServer, type SkiffServer } from "../harness/server.ts";
import { busyboxImage, busyboxRootfs } from "../images/builder.ts";
import { startRegistry, writeHostsToml } from "../harness/registry.ts";
import { agentPaths } from "../../agent/containerd/config.ts";
import { buildOciArchive } from "../../agent/images/oci.ts";

setDefaultTimeout(90_000);

const NODE = "agent-e2e";
const BRIDGE = "skiffap0";
const POD_CIDR = "10.89.0.0/24";
const CGROUP_ROOT = `/skiff-e2e-agent-${process.pid}`;
const IMAGE = "busybox:latest";

const reason = containerdSkipReason(import.meta.path);

describe.skipIf(reason !== null)("agent runs pods on containerd", () => {
  let srv: SkiffServer;
  let agent: Agent;
  const dataDir = mkdtempSync(join(tmpdir(), "skiff-agent-e2e-"));
  const logs: string[] = [];
  let agentOpts: AgentOptions;

  const api = async (path: string, init: RequestInit = {}) => {
    const r = await srv.fetch(path, { ...init, headers: { "content-type": "application/json", ...(init.headers ?? {}) } });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : undefined };
  };
  const getPod = async (name: string) => (await api(`/api/v1/namespaces/default/pods/${name}`)).body;
  const createPod = async (spec: any, name: string, extra: any = {}) => {
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, namespace: "default", labels: { app: name } },
      spec: { nodeName: NODE, terminationGracePeriodSeconds: 1, ...spec, ...extra },
    };
    for (const c of [...(pod.spec.initContainers ?? []), ...pod.spec.containers]) {
      c.image ??= IMAGE;
      c.imagePullPolicy ??= "IfNotPresent";
    }
    const r = await api("/api/v1/namespaces/default/pods", { method: "POST", body: JSON.stringify(pod) });
    if (r.status !== 201) throw new Error(`create ${name}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };
  const deletePod = (name: string, grace?: number) =>
    api(`/api/v1/namespaces/default/pods/${name}${grace !== undefined ? `?gracePeriodSeconds=${grace}` : ""}`, { method: "DELETE" });
  const until = <T>(what: string, fn: () => Promise<T | undefined | false | null>, timeoutMs = 30_000, stepMs = 250) =>
    waitUntil(what, fn, timeoutMs, stepMs, () => `agent log:\n${logs.slice(-20).join("\n")}`);
  const cond = (p: any, type: string) => p?.status?.conditions?.find((c: any) => c.type === type)?.status;
  const cs = (p: any, name: string) => [...(p?.status?.containerStatuses ?? []), ...(p?.status?.initContainerStatuses ?? [])].find((c: any) => c.name === name);
  const logOf = (p: any, container: string, restart = 0) => {
    const f = join(podLogDir(dataDir, "default", p.metadata.name, p.metadata.uid), container, `${restart}.log`);
    return existsSync(f) ? readFileSync(f, "utf8").split("\n").filter(Boolean).map((l) => l.replace(/^\S+ (stdout|stderr) [FP] /, "")) : [];
  };
  // httpGet lifecycle hooks (run by the agent, in this process's network namespace) call this.
  const hookHits: { path: string; header: string | null }[] = [];
  const hookServer = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      hookHits.push({ path: new URL(req.url).pathname, header: req.headers.get("x-hook") });
      return new Response("hooked");
    },
  });
  const eventsOf = async (name: string) => ((await api("/api/v1/namespaces/default/events")).body?.items ?? []).filter((e: any) => e.involvedObject?.name === name);
  /** Waits for an event of the pod with this reason (and message part), returns it. */
  const eventFor = (name: string, reason: string, part = "") =>
    until(`event ${reason} for ${name}`, async () => (await eventsOf(name)).find((e: any) => e.reason === reason && e.message.includes(part)), 10_000);
  const exec = async (id: string, cmd: string[]) => (await agent.runtime.cri.execSync(id, cmd, 5)).stdout.toString().trim();
  const cid = (p: any, name: string) => cs(p, name).containerID.replace("containerd://", "");
  const waitGone = (name: string, timeoutMs = 30_000) => until(`pod ${name} deleted`, async () => (await api(`/api/v1/namespaces/default/pods/${name}`)).status === 404, timeoutMs);

  beforeAll(async () => {
    srv = await startServer({ name: "agent" });
    mkdirSync(join(dataDir, "agent", "images"), { recursive: true });
    copyFileSync(busyboxImage(), join(dataDir, "agent", "images", "busybox.tar"));
    agentOpts = {
      server: srv.url,
      caData: srv.creds.tls?.ca,
      token: srv.creds.headers.authorization?.replace(/^Bearer /, ""),
      dataDir,
      nodeName: NODE,
      podCidr: POD_CIDR,
      log: (m) => logs.push(m),
      tuning: {
        bridge: BRIDGE,
        forcePodCidr: true,
        cgroupRoot: CGROUP_ROOT,
        backoffInitialMs: 1000,
        backoffMaxMs: 8000,
        leaseRenewMs: 1000,
        retryMs: 500,
        relistMs: 500,
        logRotation: { maxSize: 8192, maxFiles: 3 },
        logRotateMs: 300,
        serviceCheckMs: 1000,
      },
    };
    agent = await runAgent(agentOpts);
  });

  afterAll(async () => {
    try {
      await stopInProcessAgent(agent);
    } finally {
      unmountAll(dataDir);
      await cleanupLocalNode({ dataDir, bridge: BRIDGE, cgroupRoot: CGROUP_ROOT });
      hookServer.stop(true);
      await srv?.stop();
    }
  });

  test("the node registers with capacity, conditions and a renewed Lease", async () => {
    // Ready comes with the first status; the cluster DNS condition with the report the agent
    // sends once DNS serves (it starts after registering): wait for both, not for whichever
    // report a first read happens to see (a clean-clone run read the second one).
    const node = await until("node Ready, cluster DNS serving", async () => {
      const n = (await api(`/api/v1/nodes/${NODE}`)).body;
      const status = (type: string) => n?.status?.conditions?.find((c: any) => c.type === type)?.status;
      return status("Ready") === "True" && status("ClusterDNSUnavailable") === "False" && n;
    });
    expect(Number(node.status.capacity.cpu)).toBeGreaterThan(0);
    expect(node.status.capacity.memory).toMatch(/^\d+Ki$/);
    expect(node.status.capacity.pods).toBe("110");
    expect(node.status.allocatable["ephemeral-storage"]).toMatch(/^\d+Ki$/);
    expect(node.status.conditions.map((c: any) => c.type).sort()).toEqual(["ClusterDNSUnavailable", "DiskPressure", "MemoryPressure", "PIDPressure", "Ready"]);
    expect(node.status.nodeInfo.containerRuntimeVersion).toMatch(/^containerd:\/\//);
    expect(node.status.addresses.find((a: any) => a.type === "InternalIP")).toBeTruthy();
    expect(node.metadata.labels["kubernetes.io/os"]).toBe("linux");
    // the Lease is written by its own loop: it may trail the Ready node by a moment
    const lease1 = await until("lease", async () => {
      const l = (await api(`/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${NODE}`)).body;
      return l?.spec?.renewTime && l;
    }, 5000);
    expect(lease1.spec.holderIdentity).toBe(NODE);
    const lease2 = await until("lease renewed", async () => {
      const l = (await api(`/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${NODE}`)).body;
      return l.spec.renewTime !== lease1.spec.renewTime && l;
    }, 5000);
    expect(lease2.metadata.ownerReferences?.[0]?.kind).toBe("Node");
    // idle: node status is not rewritten while nothing changes
    const w = agent.nodeStatus.writes;
    await Bun.sleep(1500);
    expect(agent.nodeStatus.writes).toBe(w);
  });

  test("two containers share the pod IP, localhost and a memory emptyDir", async () => {
    await createPod(
      {
        containers: [
          {
            name: "httpd",
            command: ["sh", "-c", "mkdir -p /www && echo hello-from-httpd > /www/index.html && exec httpd -f -p 8080 -h /www"],
            ports: [{ containerPort: 8080, name: "http" }],
            // tcpSocket on a named port; liveness and readiness wait for it
            startupProbe: { tcpSocket: { port: "http" }, periodSeconds: 1, failureThreshold: 30 },
            livenessProbe: { httpGet: { port: 8080, path: "/" }, periodSeconds: 2 },
            readinessProbe: { httpGet: { port: "http", path: "/" }, periodSeconds: 1 },
            // an httpGet hook with an explicit host (the test's server) and a header
            lifecycle: { postStart: { httpGet: { host: "127.0.0.1", port: hookServer.port, path: "/poststart/web", httpHeaders: [{ name: "X-Hook", value: "httpd" }] } } },
          },
          {
            name: "sidecar",
            command: ["sh", "-c", "while true; do wget -q -O /shared/got http://localhost:8080/ && cat /shared/got; sleep 1; done"],
            workingDir: "/shared/wd",
            volumeMounts: [{ name: "shared", mountPath: "/shared" }],
            lifecycle: { postStart: { exec: { command: ["sh", "-c", "echo hooked-$(pwd) > /shared/poststart"] } } },
          },
        ],
        volumes: [{ name: "shared", emptyDir: { medium: "Memory", sizeLimit: "16Mi" } }],
      },
      "web",
    );
    const p = await until("web Ready", async () => {
      const p = await getPod("web");
      return cond(p, "Ready") === "True" && p;
    });
    expect(p.status.phase).toBe("Running");
    expect(p.status.podIP).toMatch(/^10\.89\.0\.\d+$/);
    expect(p.status.podIPs).toEqual([{ ip: p.status.podIP }]);
    expect(p.status.hostIP).toBeTruthy();
    expect(p.status.qosClass).toBe("BestEffort");
    expect(p.status.startTime).toBeTruthy();
    for (const t of ["PodScheduled", "Initialized", "ContainersReady", "Ready"]) expect(cond(p, t)).toBe("True");
    for (const n of ["httpd", "sidecar"]) {
      const s = cs(p, n);
      expect(s.state.running.startedAt).toBeTruthy();
      expect(s.ready).toBe(true);
      expect(s.started).toBe(true);
      expect(s.restartCount).toBe(0);
      expect(s.containerID).toMatch(/^containerd:\/\/[0-9a-f]{64}$/);
      expect(s.imageID).toMatch(/sha256:[0-9a-f]{64}$/);
      expect(s.image).toBe("docker.io/library/busybox:latest");
    }
    for (const c of p.status.conditions) expect(Date.parse(c.lastTransitionTime)).toBeGreaterThan(0);
    expect(Date.parse(p.status.startTime)).toBeLessThanOrEqual(Date.parse(cs(p, "httpd").state.running.startedAt));
    // kubelet's normal trail for each container, as `kubectl describe pod` shows it
    for (const [reason, part] of [["Pulled", "already present on machine"], ["Created", "Created container httpd"], ["Started", "Started container httpd"]])
      expect((await eventFor("web", reason!, part)).involvedObject.fieldPath).toBe("spec.containers{httpd}");
    // postStart hooks: httpGet reached the given host with its header; exec ran in the
    // container, in its workingDir (which the runtime created)
    expect(hookHits).toContainEqual({ path: "/poststart/web", header: "httpd" });
    expect(await exec(cid(p, "sidecar"), ["cat", "/shared/poststart"])).toBe("hooked-/shared/wd");
    // medium Memory with sizeLimit: a tmpfs of that size
    expect(await exec(cid(p, "sidecar"), ["df", "-k", "/shared"])).toMatch(/\s16384\s/);
    // reachable from the host on the pod IP
    const body = await (await fetch(`http://${p.status.podIP}:8080/`)).text();
    expect(body.trim()).toBe("hello-from-httpd");
    // the sidecar got it over localhost, and wrote it into the shared tmpfs
    await until("sidecar log", async () => logOf(p, "sidecar").includes("hello-from-httpd"));
    const vol = join(dataDir, "agent", "pods", p.metadata.uid, "volumes", "kubernetes.io~empty-dir", "shared");
    expect(mountsUnder(vol)).toEqual([vol]);
    expect(readFileSync(join(vol, "got"), "utf8").trim()).toBe("hello-from-httpd");
  });

  test("init containers run in order before the app", async () => {
    await createPod(
      {
        restartPolicy: "Never",
        initContainers: [
          { name: "first", command: ["sh", "-c", "echo first $(date +%s) >> /work/order; sleep 1"], volumeMounts: [{ name: "w", mountPath: "/work" }] },
          { name: "second", command: ["sh", "-c", "echo second $(date +%s) >> /work/order; sleep 1"], volumeMounts: [{ name: "w", mountPath: "/work" }] },
        ],
        containers: [{ name: "app", command: ["sh", "-c", "echo app $(date +%s) >> /work/order; cat /work/order"], volumeMounts: [{ name: "w", mountPath: "/work" }] }],
        volumes: [{ name: "w", emptyDir: {} }],
      },
      "inits",
    );
    // while the first init container runs: Pending, not Initialized, the app waits
    const mid = await until("first init running", async () => {
      const p = await getPod("inits");
      return cs(p, "first")?.state?.running && p;
    }, 30_000, 100);
    expect(mid.status.phase).toBe("Pending");
    expect(cond(mid, "Initialized")).toBe("False");
    expect(mid.status.conditions.find((c: any) => c.type === "Initialized").reason).toBe("ContainersNotInitialized");
    expect(cs(mid, "second").state.waiting.reason).toBe("PodInitializing");
    expect(cs(mid, "app").state.waiting.reason).toBe("PodInitializing");
    expect(cond(mid, "PodScheduled")).toBe("True");
    const p = await until("inits Succeeded", async () => {
      const p = await getPod("inits");
      return p?.status?.phase === "Succeeded" && p;
    });
    const lines = logOf(p, "app");
    expect(lines.map((l) => l.split(" ")[0])).toEqual(["first", "second", "app"]);
    const ts = lines.map((l) => Number(l.split(" ")[1]));
    expect(ts[1]! - ts[0]!).toBeGreaterThanOrEqual(1);
    expect(ts[2]! - ts[1]!).toBeGreaterThanOrEqual(1);
    expect(cs(p, "first").state.terminated.reason).toBe("Completed");
    expect(cs(p, "app").state.terminated.exitCode).toBe(0);
    expect(cond(p, "Initialized")).toBe("True");
    expect(cond(p, "Ready")).toBe("False");
    await deletePod("inits");
    await waitGone("inits");
  });

  test("exit 1 under Always goes into CrashLoopBackOff with growing delays", async () => {
    await createPod({ containers: [{ name: "crash", command: ["sh", "-c", "echo crashing; exit 1"] }] }, "crash");
    const restarts: number[] = [];
    let sawBackOff = false;
    let last = -1;
    await until(
      "4 restarts",
      async () => {
        const p = await getPod("crash");
        const s = cs(p, "crash");
        if (!s) return false;
        if (s.state.waiting?.reason === "CrashLoopBackOff") {
          sawBackOff = true;
          expect(s.state.waiting.message).toContain("back-off");
          expect(s.lastState.terminated.exitCode).toBe(1);
          expect(s.lastState.terminated.reason).toBe("Error");
        }
        if (s.restartCount !== last) {
          last = s.restartCount;
          restarts.push(Date.now());
        }
        return s.restartCount >= 4;
      },
      40_000,
      100,
    );
    expect(sawBackOff).toBe(true);
    const gaps = restarts.slice(1).map((t, i) => t - restarts[i]!);
    // 1 s, 2 s, 4 s: each wait is longer than the one before (with some slack for polling)
    expect(gaps[gaps.length - 1]!).toBeGreaterThan(gaps[0]! + 1000);
    const p = await getPod("crash");
    expect(p.status.phase).toBe("Running");
  });

  test("probes: liveness restarts, readiness only unreadies, startup holds both back; postStart failures kill", async () => {
    await createPod(
      {
        containers: [
          {
            name: "live",
            command: ["sh", "-c", "trap 'exit 0' TERM; touch /tmp/healthy; sleep 2; rm /tmp/healthy; sleep 3600 & wait"],
            livenessProbe: { exec: { command: ["test", "-f", "/tmp/healthy"] }, periodSeconds: 1, failureThreshold: 2 },
          },
          {
            // tcpSocket on a closed port: fails at once, but only after initialDelaySeconds
            name: "tcp",
            command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"],
            livenessProbe: { tcpSocket: { port: 9999 }, initialDelaySeconds: 2, periodSeconds: 1, failureThreshold: 1 },
          },
          {
            // every startup probe runs into timeoutSeconds; the (failing) liveness probe never runs
            name: "slow",
            command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"],
            startupProbe: { exec: { command: ["sleep", "5"] }, timeoutSeconds: 1, periodSeconds: 1, failureThreshold: 2 },
            livenessProbe: { exec: { command: ["false"] }, periodSeconds: 1, failureThreshold: 1 },
          },
          {
            name: "hookfail",
            command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"],
            lifecycle: { postStart: { exec: { command: ["sh", "-c", "echo no-good; exit 7"] } } },
          },
        ],
      },
      "liveness",
    );
    await createPod(
      {
        containers: [
          {
            name: "unready",
            command: ["sh", "-c", "touch /tmp/ready; sleep 1; touch /tmp/started; sleep 5; rm /tmp/ready; sleep 3600"],
            startupProbe: { exec: { command: ["test", "-f", "/tmp/started"] }, periodSeconds: 1, failureThreshold: 10 },
            readinessProbe: { exec: { command: ["test", "-f", "/tmp/ready"] }, periodSeconds: 1, successThreshold: 2, failureThreshold: 1 },
          },
        ],
      },
      "readiness",
    );
    // readiness waits for startup, then for successThreshold successes in a row
    let sawUnstarted = false;
    let startedAt = 0;
    await until(
      "readiness pod Ready",
      async () => {
        const p = await getPod("readiness");
        const s = cs(p, "unready");
        if (!s?.state?.running) return false;
        if (s.started) startedAt ||= Date.now();
        else {
          sawUnstarted = true;
          expect(s.ready).toBe(false);
        }
        return cond(p, "Ready") === "True" && s.started && s.ready;
      },
      20_000,
      100,
    );
    expect(sawUnstarted).toBe(true);
    expect(startedAt).toBeGreaterThan(0);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(700);
    const live = await until("liveness restarts", async () => {
      const p = await getPod("liveness");
      return ["live", "tcp", "slow", "hookfail"].every((n) => cs(p, n)?.restartCount >= 1) && p;
    });
    expect(cs(live, "live").lastState.terminated).toBeTruthy();
    const tcp = cs(live, "tcp").lastState.terminated;
    expect(Date.parse(tcp.finishedAt) - Date.parse(tcp.startedAt)).toBeGreaterThanOrEqual(2000);
    const said = (what: string) => logs.some((l) => l.includes("pod default/liveness: container " + what));
    expect(said("tcp Liveness probe failed")).toBe(true);
    expect(logs.find((l) => l.includes("container tcp Liveness probe failed"))).toContain("9999");
    expect(said("slow Startup probe failed: probe timed out after 1s")).toBe(true);
    expect(said("slow Liveness probe failed")).toBe(false);
    expect(said("hookfail: FailedPostStartHook")).toBe(true);
    expect(logs.find((l) => l.includes("hookfail: FailedPostStartHook"))).toContain("exited with 7: no-good");
    // the same as events, as kubectl describe shows them
    const hookEv = await eventFor("liveness", "FailedPostStartHook");
    expect(hookEv.type).toBe("Warning");
    expect(hookEv.involvedObject.fieldPath).toBe("spec.containers{hookfail}");
    expect(hookEv.source.component).toBe("kubelet");
    expect(hookEv.message).toStartWith(`Exec lifecycle hook ([sh -c echo no-good; exit 7]) for Container "hookfail" in Pod "liveness_default(`);
    expect((await eventFor("liveness", "Unhealthy", "Startup probe failed")).involvedObject.fieldPath).toBe("spec.containers{slow}");
    await eventFor("liveness", "Unhealthy", "Liveness probe failed: dial tcp");
    await eventFor("liveness", "Killing", "Container live failed liveness probe, will be restarted");
    await eventFor("crash", "BackOff", "Back-off restarting failed container crash in pod crash_default");
    const unready = await until("readiness pod unready", async () => {
      const p = await getPod("readiness");
      return cond(p, "Ready") === "False" && p;
    });
    expect(cs(unready, "unready").ready).toBe(false);
    expect(cs(unready, "unready").started).toBe(true);
    expect(cs(unready, "unready").restartCount).toBe(0);
    expect(cs(unready, "unready").state.running).toBeTruthy();
    expect(cond(unready, "ContainersReady")).toBe("False");
    await Promise.all(["liveness", "readiness", "crash"].map((n) => deletePod(n)));
  });

  test("a memory hog is OOMKilled", async () => {
    await createPod(
      {
        restartPolicy: "Never",
        containers: [{ name: "hog", command: ["sh", "-c", "tail /dev/zero"], resources: { limits: { memory: "32Mi", cpu: "500m" } } }],
      },
      "hog",
    );
    const p = await until("hog terminated", async () => {
      const p = await getPod("hog");
      return cs(p, "hog")?.state?.terminated && p;
    });
    expect(cs(p, "hog").state.terminated.reason).toBe("OOMKilled");
    expect(cs(p, "hog").state.terminated.exitCode).toBe(137);
    expect(p.status.phase).toBe("Failed");
    expect(p.status.qosClass).toBe("Guaranteed");
    await deletePod("hog");
  });

  test("configMap and secret volumes and env; a changed ConfigMap shows up in the file", async () => {
    await api("/api/v1/namespaces/default/configmaps", {
      method: "POST",
      body: JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "cfg" }, data: { "app.conf": "v1\n", mode: "fast" } }),
    });
    await api("/api/v1/namespaces/default/secrets", {
      method: "POST",
      body: JSON.stringify({ apiVersion: "v1", kind: "Secret", metadata: { name: "sec" }, data: { password: Buffer.from("s3cret").toString("base64") } }),
    });
    await createPod(
      {
        containers: [
          {
            name: "app",
            command: ["sh", "-c", "echo MODE=$MODE PASS=$PASS POD=$POD_NAME IP=$POD_IP CPU=$CPU_LIMIT X=$EXPANDED; ls /etc/cfg; sleep 3600"],
            env: [
              { name: "MODE", valueFrom: { configMapKeyRef: { name: "cfg", key: "mode" } } },
              { name: "PASS", valueFrom: { secretKeyRef: { name: "sec", key: "password" } } },
              { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
              { name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
              { name: "CPU_LIMIT", valueFrom: { resourceFieldRef: { resource: "limits.cpu", divisor: "1m" } } },
              { name: "EXPANDED", value: "$(MODE)-x" },
            ],
            envFrom: [{ configMapRef: { name: "cfg" }, prefix: "CFG_" }, { secretRef: { name: "sec" }, prefix: "S_" }],
            resources: { limits: { cpu: "250m", memory: "64Mi" }, requests: { cpu: "100m", memory: "32Mi" } },
            workingDir: "/etc/sec",
            volumeMounts: [
              { name: "cfg", mountPath: "/etc/cfg" },
              { name: "sec", mountPath: "/etc/sec" },
              { name: "info", mountPath: "/etc/info" },
              { name: "proj", mountPath: "/etc/proj" },
            ],
            securityContext: { readOnlyRootFilesystem: true, capabilities: { add: ["NET_ADMIN"], drop: ["CHOWN"] } },
          },
          {
            name: "user",
            command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"],
            env: [
              { name: "NS", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
              { name: "UID", valueFrom: { fieldRef: { fieldPath: "metadata.uid" } } },
              { name: "NODE", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } },
              { name: "HOST_IP", valueFrom: { fieldRef: { fieldPath: "status.hostIP" } } },
              { name: "POD_IPS", valueFrom: { fieldRef: { fieldPath: "status.podIPs" } } },
              { name: "LABEL", valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
              { name: "MEM_REQ", valueFrom: { resourceFieldRef: { resource: "requests.memory", divisor: "1Mi" } } },
              { name: "APP_MEM", valueFrom: { resourceFieldRef: { containerName: "app", resource: "limits.memory" } } },
              { name: "APP_CPU_REQ", valueFrom: { resourceFieldRef: { containerName: "app", resource: "requests.cpu", divisor: "1m" } } },
            ],
            resources: { requests: { memory: "16Mi" } },
            securityContext: { runAsUser: 1000, runAsGroup: 3000, capabilities: { drop: ["ALL"] } },
          },
        ],
        volumes: [
          { name: "cfg", configMap: { name: "cfg", items: [{ key: "app.conf", path: "conf/app.conf" }] } },
          { name: "sec", secret: { secretName: "sec", defaultMode: 0o400 } },
          {
            name: "info",
            downwardAPI: {
              items: [
                { path: "labels", fieldRef: { fieldPath: "metadata.labels" } },
                { path: "cpu", resourceFieldRef: { containerName: "app", resource: "limits.cpu", divisor: "1m" }, mode: 0o400 },
              ],
            },
          },
          {
            name: "proj",
            projected: {
              defaultMode: 0o440,
              sources: [
                { configMap: { name: "cfg", items: [{ key: "mode", path: "cm/mode" }] } },
                { secret: { name: "sec" } },
                { downwardAPI: { items: [{ path: "name", fieldRef: { fieldPath: "metadata.name" } }, { path: "mem", resourceFieldRef: { containerName: "app", resource: "limits.memory", divisor: "1Mi" } }] } },
              ],
            },
          },
        ],
      },
      "config",
    );
    const p = await until("config running", async () => {
      const p = await getPod("config");
      return cs(p, "app")?.state?.running && cs(p, "user")?.state?.running && p;
    });
    expect(p.status.qosClass).toBe("Burstable");
    const line = await until("env line", async () => logOf(p, "app").find((l) => l.startsWith("MODE=")));
    expect(line).toBe(`MODE=fast PASS=s3cret POD=config IP=${p.status.podIP} CPU=250 X=fast-x`);
    const cri = agent.runtime.cri;
    const id = cs(p, "app").containerID.replace("containerd://", "");
    const cat = async (f: string) => (await cri.execSync(id, ["cat", f], 5)).stdout.toString();
    expect(await cat("/etc/cfg/conf/app.conf")).toBe("v1\n");
    expect(await cat("/etc/sec/password")).toBe("s3cret");
    expect(await cat("/etc/info/labels")).toBe('app="config"');
    expect((await cri.execSync(id, ["stat", "-L", "-c", "%a", "/etc/sec/password"], 5)).stdout.toString().trim()).toBe("400");
    expect((await cri.execSync(id, ["sh", "-c", "echo $CFG_mode $S_password"], 5)).stdout.toString().trim()).toBe("fast s3cret");
    expect(await exec(id, ["pwd"])).toBe("/etc/sec");
    // downwardAPI (tmpfs, like kubelet's) and projected volumes
    expect(await cat("/etc/info/cpu")).toBe("250");
    expect(await exec(id, ["stat", "-L", "-c", "%a", "/etc/info/cpu"])).toBe("400");
    const infoDir = join(dataDir, "agent", "pods", p.metadata.uid, "volumes", "kubernetes.io~downward-api", "info");
    expect(mountsUnder(infoDir)).toEqual([infoDir]);
    expect(await cat("/etc/proj/cm/mode")).toBe("fast");
    expect(await cat("/etc/proj/password")).toBe("s3cret");
    expect(await cat("/etc/proj/name")).toBe("config");
    expect(await cat("/etc/proj/mem")).toBe("64");
    expect(await exec(id, ["stat", "-L", "-c", "%a", "/etc/proj/password"])).toBe("440");
    // capabilities: the runtime's default set + NET_ADMIN - CHOWN
    expect(await exec(id, ["grep", "CapEff", "/proc/self/status"])).toBe("CapEff:\t00000000a80435fa");
    // requests/limits → the container's cgroup (cgroup v1 or v2, read from inside)
    const cg = await exec(id, [
      "sh",
      "-c",
      "if [ -f /sys/fs/cgroup/cpu.max ]; then cat /sys/fs/cgroup/cpu.max /sys/fs/cgroup/cpu.weight /sys/fs/cgroup/memory.max; else echo $(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us); cat /sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/memory/memory.limit_in_bytes; fi",
    ]);
    // 250m → 25 ms per 100 ms; request 100m → 102 shares (cgroup v2 weight 4); 64Mi
    expect(cg.split("\n")).toEqual(["25000 100000", existsSync("/sys/fs/cgroup/cgroup.controllers") ? "4" : "102", String(64 * 1024 * 1024)]);
    // the second container: its own user/group, no capabilities, fieldRef/resourceFieldRef env
    const user = cid(p, "user");
    expect(await exec(user, ["id", "-u"])).toBe("1000");
    expect(await exec(user, ["id", "-g"])).toBe("3000");
    expect(await exec(user, ["grep", "CapBnd", "/proc/self/status"])).toBe("CapBnd:\t0000000000000000");
    const env = Object.fromEntries((await exec(user, ["env"])).split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
    expect(env).toMatchObject({
      NS: "default",
      UID: p.metadata.uid,
      NODE: NODE,
      HOST_IP: p.status.hostIP,
      POD_IPS: p.status.podIP,
      LABEL: "config",
      MEM_REQ: "16",
      APP_MEM: String(64 * 1024 * 1024),
      APP_CPU_REQ: "100",
    });
    // read-only root filesystem, read-only configMap volume
    expect((await cri.execSync(id, ["touch", "/x"], 5)).exitCode).not.toBe(0);
    expect((await cri.execSync(id, ["touch", "/etc/cfg/y"], 5)).exitCode).not.toBe(0);
    // update in place
    await api("/api/v1/namespaces/default/configmaps/cfg", {
      method: "PATCH",
      headers: { "content-type": "application/merge-patch+json" },
      body: JSON.stringify({ data: { "app.conf": "v2\n" } }),
    });
    await until("configmap update visible", async () => (await cat("/etc/cfg/conf/app.conf")) === "v2\n", 15_000);
    // labels change → downwardAPI file follows
    await api("/api/v1/namespaces/default/pods/config", {
      method: "PATCH",
      headers: { "content-type": "application/merge-patch+json" },
      body: JSON.stringify({ metadata: { labels: { app: "config", tier: "x" } } }),
    });
    await until("labels update visible", async () => (await cat("/etc/info/labels")) === 'app="config"\ntier="x"', 15_000);
    expect(cs(await getPod("config"), "app").restartCount).toBe(0);
  });

  test("a missing image reports ErrImagePull / ImagePullBackOff, Never reports ErrImageNeverPull", async () => {
    await createPod({ containers: [{ name: "c", image: "registry.invalid/nope:1", imagePullPolicy: "IfNotPresent" }] }, "noimage");
    await createPod(
      {
        containers: [
          { name: "c", image: "nope:2", imagePullPolicy: "Never" },
          // the image names no user, so it would run as root: refused like kubelet does
          { name: "root", command: ["sleep", "3600"], securityContext: { runAsNonRoot: true } },
          { name: "nonroot", command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"], securityContext: { runAsNonRoot: true, runAsUser: 1234 } },
        ],
      },
      "neverpull",
    );
    const seen = new Set<string>();
    await until(
      "pull errors",
      async () => {
        const s = cs(await getPod("noimage"), "c");
        if (s?.state?.waiting) {
          seen.add(s.state.waiting.reason);
          if (s.state.waiting.reason === "ErrImagePull") expect(s.state.waiting.message).toContain("registry.invalid/nope:1");
        }
        return seen.has("ErrImagePull") && seen.has("ImagePullBackOff");
      },
      60_000,
      100,
    );
    const np = await until("neverpull statuses", async () => {
      const p = await getPod("neverpull");
      return cs(p, "root")?.state?.waiting?.reason === "CreateContainerConfigError" && cs(p, "nonroot")?.state?.running && p;
    });
    const never = cs(np, "c");
    expect(never.state.waiting.reason).toBe("ErrImageNeverPull");
    expect(never.state.waiting.message).toContain("is not present with pull policy of Never");
    expect(cs(np, "root").state.waiting.message).toStartWith("container has runAsNonRoot and image will run as root");
    await Promise.all(["noimage", "neverpull"].map((n) => deletePod(n)));
  });

  test("pulls from a registry: anonymous, with imagePullSecrets, refused without them; Always pulls again", async () => {
    const reg = startRegistry();
    try {
      writeHostsToml(agentPaths(dataDir).registryConfigDir, reg.host);
      const image = (tag: string) =>
        buildOciArchive({ name: `${reg.host}/x:${tag}`, files: busyboxRootfs({ "etc/pulled-tag": `${tag}\n` }), cmd: ["sh", "-c", "cat /etc/pulled-tag; trap 'exit 0' TERM; sleep 3600 & wait"] });
      reg.push("public/hello:v1", image("v1"));
      reg.push("private/hello:v2", image("v2"));
      reg.requireAuth("private/", "robot", "s3cret");
      // Keys as `kubectl create secret docker-registry --docker-server=…` writes them. Both match
      // the private image; the more specific one (tried first) is wrong, so the pull goes on to
      // the next, as kubelet does.
      const dockerconfig = {
        auths: {
          [`${reg.host}/private`]: { username: "robot", password: "wrong" },
          [reg.host]: { auth: Buffer.from("robot:s3cret").toString("base64") },
          "https://index.docker.io/v1/": { username: "x", password: "y" },
        },
      };
      const sec = await api("/api/v1/namespaces/default/secrets", {
        method: "POST",
        body: JSON.stringify({
          apiVersion: "v1",
          kind: "Secret",
          metadata: { name: "regcred" },
          type: "kubernetes.io/dockerconfigjson",
          data: { ".dockerconfigjson": Buffer.from(JSON.stringify(dockerconfig)).toString("base64") },
        }),
      });
      expect(sec.status).toBe(201);
      await createPod({ containers: [{ name: "c", image: `${reg.host}/public/hello:v1`, imagePullPolicy: "Always" }] }, "pull-public");
      await createPod({ imagePullSecrets: [{ name: "regcred" }], containers: [{ name: "c", image: `${reg.host}/private/hello:v2` }] }, "pull-private");
      await createPod({ containers: [{ name: "c", image: `${reg.host}/private/hello:v2`, imagePullPolicy: "Always" }] }, "pull-refused");
      for (const name of ["pull-public", "pull-private"]) {
        const p = await until(`${name} running`, async () => {
          const x = await getPod(name);
          return cs(x, "c")?.state?.running && x;
        }, 60_000);
        expect(cs(p, "c").imageID).toContain("sha256:");
      }
      await until("each pod runs its own registry image", async () => logOf(await getPod("pull-public"), "c").includes("v1") && logOf(await getPod("pull-private"), "c").includes("v2"), 10_000);
      const refused = await until("pull-refused ErrImagePull", async () => {
        const w = cs(await getPod("pull-refused"), "c")?.state?.waiting;
        return w?.reason === "ErrImagePull" && w;
      }, 60_000, 100);
      expect(refused.message).toContain(`${reg.host}/private/hello:v2`);
      expect(refused.message).toContain("no imagePullSecret of the pod has any for it");
      // the manifests and blobs really came from the registry, authenticated where required
      const got = (path: string, status: number) => reg.requests.some((r) => r.path === path && r.status === status);
      expect(got("/v2/public/hello/manifests/v1", 200)).toBe(true);
      expect(got("/v2/private/hello/manifests/v2", 200)).toBe(true);
      expect(got("/v2/private/hello/manifests/v2", 401)).toBe(true);
      expect(reg.requests.some((r) => r.path.startsWith("/v2/private/hello/blobs/sha256:") && r.status === 200)).toBe(true);
      // Always: a second pod of the same image (now present) asks the registry again
      const before = reg.requests.filter((r) => r.path === "/v2/public/hello/manifests/v1").length;
      await createPod({ containers: [{ name: "c", image: `${reg.host}/public/hello:v1`, imagePullPolicy: "Always" }] }, "pull-again");
      await until("pull-again running", async () => cs(await getPod("pull-again"), "c")?.state?.running, 60_000);
      expect(reg.requests.filter((r) => r.path === "/v2/public/hello/manifests/v1").length).toBeGreaterThan(before);
      const events = (await api(`/api/v1/namespaces/default/events?fieldSelector=${encodeURIComponent("involvedObject.name=pull-private")}`)).body.items;
      expect(events.some((e: any) => e.reason === "Pulled" && e.message.startsWith(`Successfully pulled image "${reg.host}/private/hello:v2"`))).toBe(true);
    } finally {
      await Promise.all(["pull-public", "pull-private", "pull-refused", "pull-again"].map((n) => deletePod(n)));
      await api("/api/v1/namespaces/default/secrets/regcred", { method: "DELETE" });
      reg.stop();
    }
  });

  test("Services: a ClusterIP spreads over the ready pods, a NodePort answers on the node, no endpoints is refused; cluster DNS names them", async () => {
    // Safety net: service traffic the rules miss goes to the pods' bridge (and nowhere), not out
    // of the machine by the default route. It still passes FORWARD, where the REJECT rules are.
    spawnSync("ip", ["route", "add", "10.43.0.0/16", "dev", BRIDGE]);
    const names = ["svc-a", "svc-b", "svc-client"];
    try {
      for (const name of names.slice(0, 2)) {
        const r = await api("/api/v1/namespaces/default/pods", {
          method: "POST",
          body: JSON.stringify({
            apiVersion: "v1",
            kind: "Pod",
            metadata: { name, namespace: "default", labels: { tier: "svc-web" } },
            spec: {
              nodeName: NODE,
              terminationGracePeriodSeconds: 1,
              containers: [{ name: "web", image: IMAGE, imagePullPolicy: "IfNotPresent", command: ["sh", "-c", `mkdir -p /w && echo ${name} > /w/index.html && exec httpd -f -p 8080 -h /w`], ports: [{ name: "http", containerPort: 8080 }] }],
            },
          }),
        });
        expect(r.status).toBe(201);
      }
      const svcOf = async (name: string, spec: any) => {
        const r = await api("/api/v1/namespaces/default/services", { method: "POST", body: JSON.stringify({ apiVersion: "v1", kind: "Service", metadata: { name }, spec }) });
        expect(r.status).toBe(201);
        return r.body;
      };
      const web = await svcOf("svc-web", { type: "NodePort", selector: { tier: "svc-web" }, ports: [{ name: "http", port: 80, targetPort: "http" }] });
      const none = await svcOf("svc-none", { selector: { tier: "nobody" }, ports: [{ port: 81 }] });
      // the client starts after the Services, so its environment names them (kubelet's rule)
      await createPod({ containers: [{ name: "c", command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"] }] }, "svc-client");
      const clusterIP = web.spec.clusterIP;
      const nodePort = web.spec.ports[0].nodePort;
      const client = await until("client and backends running", async () => {
        const ps = await Promise.all(names.map(getPod));
        return ps.every((p) => cs(p, p.metadata.name === "svc-client" ? "c" : "web")?.state?.running && cond(p, "Ready") === "True") && ps[2];
      }, 60_000);
      const id = cid(client, "c");
      const wget = async (url: string) => {
        // (no -T: Debian's busybox-static wget crashes on it; ExecSync's timeout bounds the wait)
        const r = await agent.runtime.cri.execSync(id, ["wget", "-q", "-O", "-", url], 5);
        return { code: r.exitCode, out: r.stdout.toString().trim(), err: r.stderr.toString().trim() };
      };
      // the proxy applies the rules once the slices list both backends
      await until("ClusterIP answers", async () => (await wget(`http://${clusterIP}/`)).code === 0, 20_000);
      const seen = new Set<string>();
      for (let i = 0; i < 30 && seen.size < 2; i++) seen.add((await wget(`http://${clusterIP}/`)).out);
      expect([...seen].sort()).toEqual(["svc-a", "svc-b"]);
      const gateway = POD_CIDR.replace(/0\/24$/, "1");
      expect(["svc-a", "svc-b"]).toContain((await wget(`http://${gateway}:${nodePort}/`)).out);
      // (the rules follow the Services a sync later: until, not at once)
      const refused = await until("a Service without endpoints refuses", async () => {
        const r = await wget(`http://${none.spec.clusterIP}:81/`).catch((e) => ({ code: -1, out: "", err: String(e) }));
        return r.err.includes("refused") && r;
      }, 20_000);
      expect(refused.code).not.toBe(0);
      // service variables: the API server's and those of the pod's namespace
      const envOut = (await agent.runtime.cri.execSync(id, ["env"], 5)).stdout.toString();
      expect(envOut).toMatch(/^KUBERNETES_SERVICE_HOST=10\.43\.0\.1$/m);
      expect(envOut).toMatch(/^KUBERNETES_PORT_443_TCP_PROTO=tcp$/m);
      expect(envOut).toContain(`SVC_WEB_SERVICE_HOST=${clusterIP}\n`);
      expect(envOut).toContain(`SVC_WEB_PORT_80_TCP=tcp://${clusterIP}:80\n`);
      // cluster DNS on the node: the pod's resolv.conf points at the bridge gateway
      const resolv = (await agent.runtime.cri.execSync(id, ["cat", "/etc/resolv.conf"], 5)).stdout.toString();
      expect(resolv).toContain(`nameserver ${gateway}`);
      expect(resolv).toContain("search default.svc.cluster.local svc.cluster.local cluster.local");
      const look = async (name: string) => (await agent.runtime.cri.execSync(id, ["nslookup", name], 5)).stdout.toString();
      expect(await look("svc-web.default.svc.cluster.local")).toContain(`Address: ${clusterIP}`);
      expect(await look("svc-web")).toContain(`Address: ${clusterIP}`); // through the search list
      expect(await look("nope.default.svc.cluster.local")).not.toContain("Address: 10.43.");
      // someone flushes the jump into our chains: the proxy notices and puts it back
      spawnSync("iptables", ["-w", "5", "-t", "nat", "-D", "PREROUTING", "-m", "comment", "--comment", "skiff service portals", "-j", "SKIFF-SERVICES"]);
      await until("the proxy puts the flushed rule back", async () => logs.some((l) => l.includes("rules went missing from iptables")), 10_000);
      await until("the ClusterIP answers again after the rules were flushed", async () => (await wget(`http://${clusterIP}/`).catch(() => ({ code: -1 }))).code === 0, 20_000);
      // a backend that goes away is dropped from the rules
      await deletePod("svc-b");
      await waitGone("svc-b");
      await until("only svc-a answers", async () => {
        const outs = new Set<string>();
        for (let i = 0; i < 8; i++) outs.add((await wget(`http://${clusterIP}/`)).out);
        return outs.size === 1 && outs.has("svc-a");
      }, 20_000);
      expect(agent.proxy?.lastError).toBe("");
    } finally {
      await Promise.all(names.map((n) => deletePod(n)));
      for (const n of ["svc-web", "svc-none"]) await api(`/api/v1/namespaces/default/services/${n}`, { method: "DELETE" });
      spawnSync("ip", ["route", "del", "10.43.0.0/16", "dev", BRIDGE]);
    }
  });

  test("hostNetwork and hostPort", async () => {
    await createPod(
      {
        hostNetwork: true,
        containers: [{ name: "h", command: ["sh", "-c", "exec httpd -f -p 127.0.0.1:18089 -h /etc"], securityContext: { privileged: true } }],
      },
      "hostnet",
    );
    await createPod(
      {
        containers: [{ name: "h", command: ["sh", "-c", "echo via-hostport > /tmp/index.html; exec httpd -f -p 8080 -h /tmp"], ports: [{ containerPort: 8080, hostPort: 18090 }] }],
      },
      "hostport",
    );
    const hn = await until("hostnet running", async () => {
      const p = await getPod("hostnet");
      return cs(p, "h")?.state?.running && p;
    });
    expect(hn.status.podIP).toBe(hn.status.hostIP);
    // privileged: every capability the runtime itself has, and /proc/sys writable
    const ownCaps = readFileSync("/proc/self/status", "utf8").match(/^CapEff:.*$/m)![0];
    expect(await exec(cid(hn, "h"), ["grep", "CapEff", "/proc/self/status"])).toBe(ownCaps);
    expect(await exec(cid(hn, "h"), ["sh", "-c", "grep -q ' /proc/sys ro,' /proc/self/mountinfo && echo ro || echo rw"])).toBe("rw");
    const r = await until("host port 18089", async () => (await fetch("http://127.0.0.1:18089/passwd").catch(() => null))?.status === 200);
    expect(r).toBe(true);
    const hp = await until("hostport running", async () => {
      const p = await getPod("hostport");
      return cs(p, "h")?.state?.running && p;
    });
    expect(hp.status.podIP).toMatch(/^10\.89\./);
    await deletePod("hostnet");
    await deletePod("hostport");
  });

  test("deletion runs preStop, stops with the grace period and removes the pod", async () => {
    const marker = join(dataDir, "prestop-marker");
    // hostPath type checks: one volume of each kind that exists on every machine
    const hp = join(dataDir, "hostpaths");
    mkdirSync(hp);
    writeFileSync(join(hp, "existing"), "x");
    const sock = Bun.listen({ unix: join(hp, "sock"), socket: { data() {} } });
    await createPod(
      {
        terminationGracePeriodSeconds: 5,
        containers: [
          {
            name: "c",
            command: ["sh", "-c", "trap 'echo TERM >> /host/marker; exit 0' TERM; while true; do sleep 0.2; done"],
            lifecycle: { preStop: { exec: { command: ["sh", "-c", "echo preStop >> /host/marker"] } } },
            volumeMounts: [
              { name: "host", mountPath: "/host" },
              { name: "dir", mountPath: "/hp/dir" },
              { name: "new-file", mountPath: "/hp/created" },
              { name: "file", mountPath: "/hp/existing" },
              { name: "sock", mountPath: "/hp/sock" },
              { name: "chr", mountPath: "/hp/chr" },
            ],
          },
        ],
        volumes: [
          { name: "host", hostPath: { path: marker.replace(/\/[^/]+$/, "/prestop"), type: "DirectoryOrCreate" } },
          { name: "dir", hostPath: { path: hp, type: "Directory" } },
          { name: "new-file", hostPath: { path: join(hp, "created"), type: "FileOrCreate" } },
          { name: "file", hostPath: { path: join(hp, "existing"), type: "File" } },
          { name: "sock", hostPath: { path: join(hp, "sock"), type: "Socket" } },
          { name: "chr", hostPath: { path: "/dev/null", type: "CharDevice" } },
        ],
      },
      "graceful",
    );
    // a failing type check: the pod waits in ContainerCreating and says why
    await createPod(
      {
        containers: [{ name: "c", command: ["true"], volumeMounts: [{ name: "d", mountPath: "/d" }] }],
        volumes: [{ name: "d", hostPath: { path: join(hp, "missing"), type: "Directory" } }],
      },
      "badhost",
    );
    const p = await until("graceful running", async () => {
      const p = await getPod("graceful");
      return cs(p, "c")?.state?.running && p;
    });
    expect(await exec(cid(p, "c"), ["sh", "-c", "test -d /hp/dir && test -f /hp/created && test -f /hp/existing && test -S /hp/sock && test -c /hp/chr && echo ok"])).toBe("ok");
    expect(existsSync(join(hp, "created"))).toBe(true);
    const bad = await until("badhost reports the hostPath check", async () => {
      const b = await getPod("badhost");
      return cs(b, "c")?.state?.waiting?.message && b;
    });
    expect(bad.status.phase).toBe("Pending");
    expect(cs(bad, "c").state.waiting.reason).toBe("ContainerCreating");
    expect(cs(bad, "c").state.waiting.message).toBe(`MountVolume.SetUp failed for volume "d" : hostPath type check failed: ${join(hp, "missing")} is not a directory`);
    expect((await eventFor("badhost", "FailedMount")).message).toBe(cs(bad, "c").state.waiting.message);
    await deletePod("badhost");
    sock.stop(true);
    const t0 = Date.now();
    expect([200, 202]).toContain((await deletePod("graceful")).status);
    await waitGone("graceful");
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(readFileSync(join(dataDir, "prestop", "marker"), "utf8")).toBe("preStop\nTERM\n");
    const left = await agent.runtime.cri.listPodSandbox({ labelSelector: { "io.kubernetes.pod.uid": p.metadata.uid } });
    expect(left).toEqual([]);
    // the API object goes first; the agent removes the pod's directory right after
    await until("pod directory removed", async () => !existsSync(join(dataDir, "agent", "pods", p.metadata.uid)), 10_000);
  });

  test("server down: pods keep running, a crashing one restarts locally, status catches up", async () => {
    await createPod({ containers: [{ name: "flaky", command: ["sh", "-c", "sleep 2; exit 3"] }] }, "flaky");
    const before = await until("flaky restarted once", async () => {
      const p = await getPod("flaky");
      return cs(p, "flaky")?.restartCount >= 1 && p;
    });
    const web = await getPod("web");
    const countBefore = cs(before, "flaky").restartCount;
    await srv.kill("SIGKILL");
    const cri = agent.runtime.cri;
    const attempts = async () =>
      Math.max(...(await cri.listContainers({ labelSelector: { "io.kubernetes.pod.uid": before.metadata.uid } })).map((c) => c.metadata?.attempt ?? 0));
    const base = await attempts();
    await until("local restarts while offline", async () => (await attempts()) >= base + 2, 30_000);
    // the running pod still answers on its IP
    const got = await fetch(`http://${web.status.podIP}:8080/`).then((r) => r.text(), async (e) => {
      const sbs = await cri.listPodSandbox();
      const detail = await Promise.all(sbs.map(async (s) => [s.metadata?.name, s.state, (await cri.podSandboxStatus(s.id)).status?.network?.ip]));
      return `fetch failed: ${e}; sandboxes ${JSON.stringify(detail)}; ${spawnSync("ip", ["-br", "addr"], { encoding: "utf8" }).stdout}; ${spawnSync("ip", ["neigh"], { encoding: "utf8" }).stdout}`;
    });
    expect(got.trim()).toBe("hello-from-httpd");
    expect(agent.online()).toBe(false);
    await srv.restart();
    const after = await until("status caught up", async () => {
      const p = await getPod("flaky");
      return cs(p, "flaky")?.restartCount >= countBefore + 2 && p;
    });
    expect(after.status.phase).toBe("Running");
    await until("agent online", async () => agent.online());
    // no duplicates: one sandbox per pod
    const sbs = await cri.listPodSandbox({ labelSelector: { "io.kubernetes.pod.uid": web.metadata.uid } });
    expect(sbs.length).toBe(1);
    await deletePod("flaky", 0);
  });

  test("an agent restart re-adopts running pods without duplicates", async () => {
    const web = await getPod("web");
    const cri = agent.runtime.cri;
    const sel = { labelSelector: { "io.kubernetes.pod.uid": web.metadata.uid } };
    const sbBefore = (await cri.listPodSandbox(sel)).map((s) => s.id);
    const ctrBefore = (await cri.listContainers(sel)).map((c) => c.id).sort();
    await agent.stop();
    // stopped agent: the pod still serves
    expect((await (await fetch(`http://${web.status.podIP}:8080/`)).text()).trim()).toBe("hello-from-httpd");
    agent = await runAgent(agentOpts);
    await until("web Ready again", async () => cond(await getPod("web"), "Ready") === "True");
    await Bun.sleep(1500);
    const c2 = agent.runtime.cri;
    expect((await c2.listPodSandbox(sel)).map((s) => s.id)).toEqual(sbBefore);
    expect((await c2.listContainers(sel)).map((c) => c.id).sort()).toEqual(ctrBefore);
    const p = await getPod("web");
    expect(cs(p, "httpd").restartCount).toBe(0);
    expect(p.status.podIP).toBe(web.status.podIP);
  });

  test("container logs are rotated by size (kubelet layout, CRI ReopenContainerLog)", async () => {
    await createPod(
      { containers: [{ name: "chatty", command: ["sh", "-c", "i=0; while true; do i=$((i+1)); echo line-$i-0123456789012345678901234567890123456789012345678901234567890123456789; [ $((i % 50)) = 0 ] && sleep 0.05; done"] }] },
      "chatty",
    );
    const p = await until("chatty running", async () => {
      const p = await getPod("chatty");
      return cs(p, "chatty")?.state?.running && p;
    });
    const dir = join(podLogDir(dataDir, "default", "chatty", p.metadata.uid), "chatty");
    await until("rotated files", async () => readdirSync(dir).some((f) => /^0\.log\.\d{8}-\d{6}/.test(f)), 15_000);
    await Bun.sleep(1500);
    const files = readdirSync(dir);
    expect(files).toContain("0.log");
    expect(files.length).toBeLessThanOrEqual(3);
    // The live file keeps getting new lines after a rotation (the runtime reopened it): the
    // newest line number in 0.log grows. Were the container still writing to the renamed file,
    // 0.log would stay empty.
    const newest = () => {
      const nums = [...readFileSync(join(dir, "0.log"), "utf8").matchAll(/^\S+Z stdout F line-(\d+)-/gm)].map((m) => Number(m[1]));
      return nums.length ? nums[nums.length - 1]! : 0;
    };
    const before = newest();
    await until("new lines in the live 0.log", async () => newest() > before, 5000);
    expect(readdirSync(dir).length).toBeLessThanOrEqual(3);
    await deletePod("chatty", 0);
  });

  test("deleting the remaining pods leaves no sandboxes, mounts or pod dirs", async () => {
    const list = (await api("/api/v1/namespaces/default/pods")).body.items.map((p: any) => p.metadata.name);
    await Promise.all(list.map((n: string) => deletePod(n, 0)));
    await until("all pods gone", async () => (await api("/api/v1/namespaces/default/pods")).body.items.length === 0);
    await until("no sandboxes", async () => (await agent.runtime.cri.listPodSandbox()).length === 0, 15_000);
    await until("no pod dirs", async () => readdirSync(join(dataDir, "agent", "pods")).length === 0, 15_000);
    expect(mountsUnder(join(dataDir, "agent", "pods"))).toEqual([]);
  });
});
