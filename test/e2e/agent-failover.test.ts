// An agent outlives the server it was pointed at: three `skiff server` processes (Raft), one
// agent (runAgent on a real containerd) started with `--server` = s1. The agent learns every
// server from the `default/kubernetes` Endpoints; after kill -9 of s1 its Lease keeps being
// renewed, a new pod created through s3 runs on it, and exec/logs through the survivors reach
// it over the tunnel it re-dialled.
//
// Skipped (with the reason printed) when not root or containerd/runc/CNI cannot be installed.
import { containerdSkipReason } from "../harness/containerd.ts";
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runAgent, type Agent } from "../../agent/main.ts";
import { serversFile } from "../../agent/servers.ts";
import { BUSYBOX_IMAGE, busyboxImage } from "../images/builder.ts";
import { describeResult, kubectl } from "../harness/kubectl.ts";
import { until } from "../harness/wait.ts";
import { Cluster, type ServerProc } from "./raft-harness.ts";
import { cleanupLocalNode, stopInProcessAgent, type LocalNode } from "../harness/local-node.ts";

setDefaultTimeout(120_000);

const NODE = "failover-node";
const BRIDGE = "skifffo0";
const POD_CIDR = "10.88.0.0/24";
const NS = "default";
// The servers listen on addresses of their own (a test bridge): the agent learns them from the
// `default/kubernetes` Endpoints, which leave out loopback addresses as Kubernetes requires.
const LINK = "sktfo";
const HOSTS = ["10.251.0.1", "10.251.0.2", "10.251.0.3"];

const reason = containerdSkipReason(import.meta.path);

function podYaml(name: string, script: string): string {
  return `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${NS}}
spec:
  nodeName: ${NODE}
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: ${BUSYBOX_IMAGE}
    command: ["sh", "-c", ${JSON.stringify(script)}]
`;
}

describe.skipIf(reason !== null)("an agent moves to another server when its own goes away", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "skiff-failover-agent-"));
  const cgroupRoot = `/skiff-failover-${process.pid}`;
  const bridgeBefore = existsSync(`/sys/class/net/${BRIDGE}`);
  const node: LocalNode = { dataDir, bridge: BRIDGE, cgroupRoot, bridgeBefore };
  let cluster: Cluster;
  let agent: Agent | undefined;

  const target = (s: ServerProc) => ({ kubeconfig: join(s.dataDir, "kubeconfig.yaml"), runDir: join(cluster.dir, `${s.name}-kubectl`) });
  const k = async (s: ServerProc, args: string[], stdin?: string) => {
    const r = await kubectl(target(s), args, { stdin });
    if (r.code !== 0) throw new Error(describeResult(r));
    return r.stdout;
  };
  const running = (s: ServerProc, name: string) =>
    until(`pod ${name} Running (via ${s.name})`, async () => {
      const r = await s.fetch(`/api/v1/namespaces/${NS}/pods/${name}`);
      const p: any = r.ok ? await r.json() : undefined;
      return p?.status?.phase === "Running" && p.status.containerStatuses?.[0]?.state?.running && p;
    });
  const renewTime = async (s: ServerProc) => {
    const r = await s.fetch(`/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${NODE}`);
    return r.ok ? Date.parse(((await r.json()) as any).spec.renewTime) : 0;
  };

  beforeAll(async () => {
    spawnSync("ip", ["link", "del", LINK]);
    const mk = spawnSync("ip", ["link", "add", LINK, "type", "bridge"]);
    if (mk.status !== 0) throw new Error(`ip link add ${LINK}: ${mk.stderr}`);
    for (const h of HOSTS) spawnSync("ip", ["addr", "add", `${h}/32`, "dev", LINK]);
    spawnSync("ip", ["link", "set", LINK, "up"]);
    cluster = new Cluster(3, { label: "agent-failover", hosts: HOSTS });
    await cluster.start();
    const s1 = cluster.servers[0]!;
    mkdirSync(join(dataDir, "agent", "images"), { recursive: true });
    spawnSync("cp", [busyboxImage(), join(dataDir, "agent", "images", "busybox.tar")]);
    agent = await runAgent({
      server: s1.url,
      caData: readFileSync(join(s1.dataDir, "server", "tls", "ca.crt"), "utf8"),
      token: s1.token,
      dataDir,
      nodeName: NODE,
      podCidr: POD_CIDR,
      nodeIp: "127.0.0.1",
      log: () => {},
      tuning: { bridge: BRIDGE, forcePodCidr: true, cgroupRoot, leaseRenewMs: 1000, serversRefreshMs: 500, relistMs: 200, retryMs: 500 },
    } as any);
  });

  afterAll(async () => {
    try {
      // Deleted through a live server and waited for, so the agent removes the sandboxes itself.
      const live = cluster?.servers.find((s) => s.alive());
      if (live) await kubectl(target(live), ["delete", "pod", "--all", "--grace-period=1", "--timeout=30s"], { timeoutMs: 40_000 }).catch(() => {});
      await stopInProcessAgent(agent);
      await cluster?.stop();
    } finally {
      cluster?.cleanup();
      spawnSync("ip", ["link", "del", LINK]);
      await cleanupLocalNode(node);
    }
  });

  test("kill -9 of the agent's server: Lease, new pods, exec and logs go on through the others", async () => {
    const [s1, s2, s3] = cluster.servers as [ServerProc, ServerProc, ServerProc];
    // The agent learns all three servers and keeps them on disk for an offline restart.
    await until("the agent knows the three servers", async () => {
      const saved = existsSync(serversFile(dataDir)) ? JSON.parse(readFileSync(serversFile(dataDir), "utf8")) : undefined;
      return saved?.servers?.length === 2 && agent!.api.client.knownServers.length === 3;
    });
    const eps: any = await (await s2.fetch(`/api/v1/namespaces/default/endpoints/kubernetes`)).json();
    expect(eps.subsets.flatMap((s: any) => s.ports.map((p: any) => p.port)).sort()).toEqual(cluster.servers.map((s) => s.port).sort());

    await k(s2, ["apply", "-f", "-"], podYaml("before", "echo started-before; exec sleep 3600"));
    await running(s2, "before");

    await s1.kill("SIGKILL");
    const killedAt = Date.now();
    // Renewed through another server after the kill.
    await until("the Lease renewed after s1 died", async () => (await renewTime(s2)) > killedAt + 500, 40_000);

    await k(s3, ["apply", "-f", "-"], podYaml("after", "echo started-after; exec sleep 3600"));
    await running(s3, "after");

    // The tunnel was re-dialled to a survivor: exec through each survivor reaches the pod.
    for (const s of [s2, s3]) {
      const out = await until(`exec through ${s.name}`, async () => {
        const r = await kubectl(target(s), ["exec", "after", "--", "sh", "-c", "echo via-$0", s.name]);
        return r.code === 0 && r.stdout;
      });
      expect(out).toBe(`via-${s.name}\n`);
    }
    expect(await k(s3, ["logs", "before"])).toBe("started-before\n");
    expect(agent!.api.client.server).not.toBe(s1.url);
  });
});
