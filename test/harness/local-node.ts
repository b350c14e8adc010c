// One real node on this machine for an e2e file: a server with its embedded agent, or an agent
// run in the test's process, each on its own bridge and cgroup root, and the teardown that leaves
// nothing behind (sandboxes, bridge, cgroups, service rules, mounts, data dir). Written once here:
// a teardown that forgot one step left state that broke the next file.
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { killShims } from "../../agent/containerd/supervisor.ts";
import { runAgent, type Agent } from "../../agent/main.ts";
import { removeServiceRules } from "../../agent/services/proxy.ts";
import { busyboxImage } from "../images/builder.ts";
import { startServer, type SkiffServer, type StartOptions } from "./server.ts";
import { removeCgroup, removeDataDir } from "./wait.ts";

/** What a test's node owns on this machine. */
export interface LocalNode {
  dataDir: string;
  bridge: string;
  /** The pods' cgroup parent, e.g. `/skiff-e2e-<pid>`. */
  cgroupRoot: string;
  /** The bridge existed before the test (another run's): left alone at cleanup. */
  bridgeBefore?: boolean;
  /** CNI network namespaces (/run/netns/cni-*) that existed when the node started (set by the start functions). */
  netnsBefore?: Set<string>;
}

const NETNS_DIR = "/run/netns";
const cniNetns = () => (existsSync(NETNS_DIR) ? readdirSync(NETNS_DIR).filter((n) => n.startsWith("cni-")) : []);
const noteNetns = (node: LocalNode) => void (node.netnsBefore ??= new Set(cniNetns()));

/** Puts the busybox test image where the agent imports images from at start. */
export function seedBusybox(dataDir: string): void {
  const dir = join(dataDir, "agent", "images");
  mkdirSync(dir, { recursive: true });
  copyFileSync(busyboxImage(), join(dir, "busybox.tar"));
}

/** `skiff server` with its embedded agent as node `nodeName`, busybox seeded, fast agent timings. */
export function startEmbeddedNode(
  node: LocalNode,
  opts: { name: string; nodeName: string; extraArgs?: string[]; env?: Record<string, string> } & Omit<StartOptions, "dataDir" | "embeddedAgent" | "extraArgs" | "env" | "name">,
): Promise<SkiffServer> {
  const { name, nodeName, extraArgs = [], env = {}, ...rest } = opts;
  seedBusybox(node.dataDir);
  noteNetns(node);
  return startServer({
    ...rest,
    name,
    dataDir: node.dataDir,
    embeddedAgent: true,
    extraArgs: ["--node-name", nodeName, ...extraArgs],
    env: { SKIFF_AGENT_TUNING: JSON.stringify({ bridge: node.bridge, cgroupRoot: node.cgroupRoot, relistMs: 200, retryMs: 500 }), ...env },
  });
}

/** An agent in this process joined to `srv` with its admin credentials, busybox seeded. */
export function startInProcessAgent(srv: SkiffServer, node: LocalNode, opts: { nodeName: string; podCidr: string; tuning?: Record<string, unknown> }): Promise<Agent> {
  seedBusybox(node.dataDir);
  noteNetns(node);
  return runAgent({
    server: srv.creds.server,
    caData: srv.creds.tls?.ca,
    token: srv.creds.headers.authorization?.replace(/^Bearer /, ""),
    dataDir: node.dataDir,
    nodeName: opts.nodeName,
    podCidr: opts.podCidr,
    nodeIp: "127.0.0.1",
    log: () => {},
    tuning: { bridge: node.bridge, forcePodCidr: true, cgroupRoot: node.cgroupRoot, backoffInitialMs: 200, backoffMaxMs: 1000, relistMs: 200, ...opts.tuning },
  } as any);
}

/**
 * Stops an in-process agent. Containers survive an agent stop by design, so the sandboxes (and
 * with them their netns, IPs and cgroups) are removed through CRI first, then the agent and its
 * containerd stop, then any shim left for that containerd.
 */
export async function stopInProcessAgent(agent: Agent | undefined | null): Promise<void> {
  if (!agent) return;
  const cri = agent.runtime.cri;
  for (const sb of await cri.listPodSandbox().catch(() => [])) {
    await cri.stopPodSandbox(sb.id).catch(() => {});
    await cri.removePodSandbox(sb.id).catch(() => {});
  }
  const socket = agent.runtime.socket;
  await agent.stop().catch(() => {});
  await agent.runtime.supervisor?.cleanup().catch(() => {});
  // A shim whose container the sweep missed (one starting meanwhile) outlives containerd.
  await killShims(socket).catch(() => []);
}

/** Removes what the node left on the machine; run it in a `finally` after the server stopped. */
export async function cleanupLocalNode(node: LocalNode): Promise<void> {
  if (!node.bridgeBefore && existsSync(`/sys/class/net/${node.bridge}`)) spawnSync("ip", ["link", "del", node.bridge]);
  // The last container processes may still be exiting: retry for a few seconds.
  for (let i = 0; i < 50 && removeCgroup(node.cgroupRoot); i++) await Bun.sleep(100);
  removeServiceRules(); // the agent ran in this network namespace
  // A pod's network namespace outlives a sandbox that was never stopped through CRI (containerd
  // killed, a simulated reboot, a pod started during the sweep): with its host veth it stayed on
  // the machine (133 after a day of runs). Those this node made and nothing uses any more go.
  for (const ns of cniNetns()) {
    if (node.netnsBefore?.has(ns) !== false) continue;
    if (spawnSync("ip", ["netns", "pids", ns], { encoding: "utf8" }).stdout?.trim()) continue;
    spawnSync("ip", ["netns", "del", ns]);
  }
  removeDataDir(node.dataDir);
}
