// "Agents keep working when the network does not": a pod with the default ServiceAccount (so with
// the projected kube-api-access-* volume that admission adds: token + kube-root-ca.crt +
// namespace) and a plain configMap volume restarts after a real reboot of the node while the
// server is away. The reboot is simulated as it happens: the server is down, the agent stops,
// every sandbox and container is gone (removed through CRI, containerd stopped), every tmpfs
// mount under the agent's data dir is gone; then the agent starts again, still offline.
//   - the container runs again offline, with ca.crt (from the node's disk copy of the ConfigMap)
//     and namespace in the projected volume, and the configMap volume as before; no token yet;
//   - a second pod whose projected volume has a Secret waits (secrets are never on the node's
//     disk, issue 10), saying why in the agent log;
//   - once the server is back the token file appears in the volume and the pod status catches up;
//     the second pod starts.
//
// Skipped (with the reason printed) when not root or containerd/runc/CNI cannot be installed.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runAgent, type Agent, type AgentOptions } from "../../agent/main.ts";
import { isMemoryBacked } from "../../agent/cache/secret-store.ts";
import { isMountPoint, mountsUnder, unmountAll } from "../../agent/volumes/mount.ts";
import { containerdSkipReason } from "../harness/containerd.ts";
import { cleanupLocalNode, seedBusybox, stopInProcessAgent, type LocalNode } from "../harness/local-node.ts";
import { startServer, type SkiffServer } from "../harness/server.ts";
import { until as waitUntil } from "../harness/wait.ts";

setDefaultTimeout(240_000);

const NODE = "offline-node";
const POD_CIDR = "10.78.0.0/24";
const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
const SLEEP = 3_100_000 + Math.floor(Math.random() * 100_000);

const reason = containerdSkipReason(import.meta.path);

describe.skipIf(reason !== null)("a pod restarts after an offline reboot of its node", () => {
  const node: LocalNode = { dataDir: mkdtempSync(join(tmpdir(), "skiff-offline-e2e-")), bridge: "skiffof0", cgroupRoot: `/skiff-e2e-offline-${process.pid}`, bridgeBefore: existsSync("/sys/class/net/skiffof0") };
  let srv: SkiffServer;
  let agent: Agent | undefined;
  let agentOpts: AgentOptions;
  const logs: string[] = [];

  const api = async (path: string, init: RequestInit = {}) => {
    const r = await srv.fetch(path, { ...init, headers: { "content-type": "application/json", ...(init.headers ?? {}) } });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : undefined };
  };
  const until = <T>(what: string, fn: () => Promise<T | undefined | false | null>, timeoutMs = 30_000) =>
    waitUntil(what, fn, timeoutMs, 250, () => `agent log:\n${logs.slice(-30).join("\n")}`);
  const getPod = async (name = "app") => (await api(`/api/v1/namespaces/default/pods/${name}`)).body;
  const containers = async (pod = "app") =>
    (await agent!.runtime.cri.listContainers({ labelSelector: { "io.kubernetes.pod.name": pod, "io.kubernetes.container.name": "app" } })).sort((a, b) => b.createdAt - a.createdAt);
  const running = async (pod = "app") => (await containers(pod)).find((c) => c.state === "CONTAINER_RUNNING");
  const sh = async (id: string, cmd: string) => {
    const r = await agent!.runtime.cri.execSync(id, ["sh", "-c", cmd], 5);
    return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
  };

  beforeAll(async () => {
    srv = await startServer({ name: "offline" });
    seedBusybox(node.dataDir);
    agentOpts = {
      server: srv.creds.server,
      caData: srv.creds.tls?.ca,
      token: srv.creds.headers.authorization?.replace(/^Bearer /, ""),
      dataDir: node.dataDir,
      nodeName: NODE,
      podCidr: POD_CIDR,
      nodeIp: "127.0.0.1",
      log: (m: string) => logs.push(m),
      tuning: { bridge: node.bridge, forcePodCidr: true, cgroupRoot: node.cgroupRoot, backoffInitialMs: 200, backoffMaxMs: 1000, relistMs: 200, retryMs: 500 },
    } as AgentOptions;
    agent = await runAgent(agentOpts);
    const cm = await api("/api/v1/namespaces/default/configmaps", { method: "POST", body: JSON.stringify({ metadata: { name: "settings" }, data: { mode: "offline-ok" } }) });
    expect(cm.status, JSON.stringify(cm.body)).toBe(201);
    const pod = {
      metadata: { name: "app", namespace: "default" },
      spec: {
        nodeName: NODE,
        terminationGracePeriodSeconds: 1,
        containers: [
          {
            name: "app",
            image: "busybox:latest",
            imagePullPolicy: "IfNotPresent",
            command: ["sleep", String(SLEEP)],
            volumeMounts: [
              { name: "settings", mountPath: "/settings" },
              { name: "podinfo", mountPath: "/podinfo" },
            ],
          },
        ],
        volumes: [
          { name: "settings", configMap: { name: "settings" } },
          { name: "podinfo", downwardAPI: { items: [{ path: "name", fieldRef: { fieldPath: "metadata.name" } }] } },
        ],
      },
    };
    const r = await api("/api/v1/namespaces/default/pods", { method: "POST", body: JSON.stringify(pod) });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    // the ServiceAccount admission gave it the API access volume this test is about
    expect(r.body.spec.volumes.some((v: any) => v.name.startsWith("kube-api-access-") && v.projected)).toBe(true);
    const sec = await api("/api/v1/namespaces/default/secrets", { method: "POST", body: JSON.stringify({ metadata: { name: "db" }, stringData: { pw: "pw-offline" } }) });
    expect(sec.status, JSON.stringify(sec.body)).toBe(201);
    const vault = {
      metadata: { name: "vault", namespace: "default" },
      spec: {
        nodeName: NODE,
        terminationGracePeriodSeconds: 1,
        automountServiceAccountToken: false,
        containers: [{ name: "app", image: "busybox:latest", imagePullPolicy: "IfNotPresent", command: ["sleep", String(SLEEP + 1)], volumeMounts: [{ name: "creds", mountPath: "/creds" }] }],
        volumes: [{ name: "creds", projected: { sources: [{ secret: { name: "db" } }, { configMap: { name: "settings" } }] } }],
      },
    };
    const v = await api("/api/v1/namespaces/default/pods", { method: "POST", body: JSON.stringify(vault) });
    expect(v.status, JSON.stringify(v.body)).toBe(201);
  });

  afterAll(async () => {
    try {
      await stopInProcessAgent(agent);
      unmountAll(node.dataDir);
      await srv?.stop();
    } finally {
      await cleanupLocalNode(node);
    }
  });

  test("online: the container has token, ca.crt, namespace and its configMap", async () => {
    const c = await until("app running", async () => (await getPod())?.status?.containerStatuses?.[0]?.state?.running && (await running()), 60_000);
    const r = await sh(c.id, `test -s ${SA_DIR}/token && test -s ${SA_DIR}/ca.crt && cat ${SA_DIR}/namespace /settings/mode`);
    expect(r, JSON.stringify(r)).toMatchObject({ code: 0, out: "defaultoffline-ok" });
    const vault = await until("vault running", async () => (await getPod("vault"))?.status?.containerStatuses?.[0]?.state?.running && (await running("vault")), 60_000);
    expect((await sh(vault.id, "cat /creds/pw /creds/mode")).out).toBe("pw-offlineoffline-ok");
  });

  test("server away, node rebooted: the pod runs again offline, and catches up when the server is back", async () => {
    const before = (await running())!.id;
    const vaultBefore = (await running("vault"))!.id;
    const uid = (await getPod()).metadata.uid as string;
    await srv.kill("SIGKILL");
    // the reboot: no sandbox, no container, no containerd, no tmpfs left
    await stopInProcessAgent(agent);
    agent = undefined;
    unmountAll(node.dataDir);
    expect(mountsUnder(node.dataDir)).toEqual([]);
    const mark = logs.length;
    agent = await runAgent(agentOpts);
    expect(agent.online()).toBe(false);
    const again = await until("app running again offline", async () => {
      const c = await running();
      return c && c.id !== before && c;
    }, 90_000);
    const offline = await sh(again.id, `cat ${SA_DIR}/namespace /settings/mode /podinfo/name; head -1 ${SA_DIR}/ca.crt; test -e ${SA_DIR}/token && echo has-token`);
    expect(offline.out, JSON.stringify(offline)).toBe("defaultoffline-okapp-----BEGIN CERTIFICATE-----\n");
    // the memory-backed volumes are on tmpfs again, as before the reboot
    const vols = join(node.dataDir, "agent", "pods", uid, "volumes");
    const apiVol = readdirSync(join(vols, "kubernetes.io~projected")).find((n) => n.startsWith("kube-api-access-"))!;
    for (const d of [join(vols, "kubernetes.io~projected", apiVol), join(vols, "kubernetes.io~downward-api", "podinfo")]) expect(isMountPoint(d) && isMemoryBacked(d), d).toBe(true);
    // the ConfigMap copy kept for offline starts: on disk, owner-only
    const copies = join(node.dataDir, "agent", "pods", uid, "configmaps");
    expect(existsSync(copies), `agent log:\n${logs.slice(mark).join("\n")}`).toBe(true);
    // the pod whose projected volume holds a Secret waits for the server, and the log says why
    await until("the wait is logged", async () => logs.slice(mark).find((l) => l.includes('pod default/vault: MountVolume.SetUp failed for volume "creds" : secret "db" is kept in memory only on this node (gone after a reboot): waiting for the API server')));
    expect((await containers("vault")).filter((c) => c.id !== vaultBefore && c.state === "CONTAINER_RUNNING")).toEqual([]);

    await srv.restart();
    await until("token written once the server is back", async () => (await sh(again.id, `test -s ${SA_DIR}/token`)).code === 0, 60_000);
    // the volume is updated in place: the container made offline keeps running
    expect((await running())!.id).toBe(again.id);
    await until("status caught up", async () => {
      const s = (await getPod())?.status?.containerStatuses?.[0];
      return s?.state?.running && s.containerID === `containerd://${again.id}`;
    }, 60_000);
    const vault = await until("vault started once the server is back", async () => {
      const c = await running("vault");
      return c && c.id !== vaultBefore && c;
    }, 60_000);
    expect((await sh(vault.id, "cat /creds/pw")).out).toBe("pw-offline");
  });
});
