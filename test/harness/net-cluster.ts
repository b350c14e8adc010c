// A small real cluster for networking end-to-end tests: `skiff server --disable-agent` on a
// test bridge of the host and one `skiff agent` per network namespace (test/harness/netns.ts),
// each with its own data dir, containerd, pod bridge and cgroup root, busybox imported air-gap
// style. Same set-up and clean-up as test/e2e/multinode.test.ts, shared by the tests of issue 13.
//
//   const c = await startCluster({ tag: "np", nodes: ["a", "b"] });
//   await c.k(["apply", "-f", "-"], yaml);
//   await c.exec("client", "wget -q -O - http://db:5432/");
//   await c.stop();
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { agentPaths } from "../../agent/containerd/config.ts";
import { killShims } from "../../agent/containerd/supervisor.ts";
import { CriClient } from "../../agent/cri/client.ts";
import { unmountAll } from "../../agent/volumes/mount.ts";
import { busyboxImage } from "../images/builder.ts";
import { describeResult, kubectl } from "./kubectl.ts";
import { createTestNetwork, type TestNetwork, type TestNode } from "./netns.ts";
import { BUN, REPO, startServer, type SkiffServer } from "./server.ts";
import { until as waitUntil } from "./wait.ts";

export interface ClusterAgent {
  node: TestNode;
  /** Kubernetes node name: `<tag>-<node>`. */
  name: string;
  dataDir: string;
  logPath: string;
  cgroupRoot: string;
  proc?: Subprocess;
}

export interface Cluster {
  srv: SkiffServer;
  net: TestNetwork;
  agents: ClusterAgent[];
  agent(short: string): ClusterAgent;
  /** kubectl; throws with logs on a non-zero exit. */
  k(args: string[], stdin?: string, timeoutMs?: number): Promise<string>;
  json(args: string[]): Promise<any>;
  /** `sh -c script` in a pod: stdout, or "exit N: …" on failure. */
  exec(pod: string, script: string, ns?: string, timeoutMs?: number): Promise<string>;
  until<T>(what: string, f: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs?: number, stepMs?: number): Promise<T>;
  /** Last log lines of the server and the agents. */
  diag(): string;
  /** Stops an agent (SIGTERM; its pods keep running) and starts it again with the same flags. */
  restartAgent(short: string): Promise<void>;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  /** ≤ 4 characters [a-z0-9]: bridge, namespaces, node names. */
  tag: string;
  nodes: string[];
  /** First three octets of the test network (default 10.250.0). */
  subnet?: string;
  serverArgs?: string[];
  serverEnv?: Record<string, string>;
  /** Extra `skiff agent` flags for a node (by short name). */
  agentArgs?: (node: string) => string[];
}

const SKIFF = process.env.SKIFF_E2E_BIN ? [resolve(REPO, process.env.SKIFF_E2E_BIN)] : [BUN, join(REPO, "cli/main.ts")];

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

const tail = (path: string, n = 25) => {
  try {
    return readFileSync(path, "utf8").split("\n").slice(-n).join("\n");
  } catch {
    return "(no log)";
  }
};

export async function startCluster(o: ClusterOptions): Promise<Cluster> {
  const runDir = mkdtempSync(join(tmpdir(), `skiff-e2e-${o.tag}-`));
  const net = createTestNetwork({ tag: o.tag, nodes: o.nodes, subnet: o.subnet });
  const agents: ClusterAgent[] = [];
  let srv: SkiffServer | undefined;
  const diag = () => [srv?.logTail(20) ?? "", ...agents.map((a) => `--- agent ${a.name} ---\n${tail(a.logPath)}\n${tail(a.logPath + ".err", 10)}`)].join("\n");
  const until = <T>(what: string, f: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 45_000, stepMs = 250) =>
    waitUntil(what, f, timeoutMs, stepMs, diag);

  const stop = async () => {
    const errors: string[] = [];
    const step = async (what: string, f: () => unknown) => {
      try {
        await f();
      } catch (e) {
        errors.push(`${what}: ${(e as Error).message}`);
      }
    };
    for (const a of agents) {
      await step(`stop agent ${a.name}`, async () => {
        if (a.proc && a.proc.exitCode === null && a.proc.signalCode === null) {
          a.proc.kill("SIGTERM");
          const t = setTimeout(() => a.proc?.kill(9), 8000);
          await a.proc.exited;
          clearTimeout(t);
        }
      });
      // Every sandbox removed through CRI (containers, netns, CNI state), by the node's containerd.
      await step(`CRI cleanup ${a.name}`, async () => {
        const { config, socket } = agentPaths(a.dataDir);
        if (!existsSync(config)) return;
        let started: Subprocess | undefined;
        if (!pidsMatching(config).length) {
          rmSync(socket, { force: true });
          started = Bun.spawn([...a.node.exec, "containerd", "--config", config], { stdout: "ignore", stderr: "ignore", stdin: "ignore" });
          const end = Date.now() + 15_000;
          while (!existsSync(socket) && Date.now() < end && started.exitCode === null) await Bun.sleep(50);
        }
        const cri = new CriClient(socket, { timeoutMs: 30_000 });
        try {
          // A containerd started just now answers "not initialized yet" for a moment.
          let sandboxes: Awaited<ReturnType<CriClient["listPodSandbox"]>> = [];
          for (let i = 0; ; i++) {
            try {
              sandboxes = await cri.listPodSandbox();
              break;
            } catch (e) {
              if (i >= 40 || !/not initialized/.test((e as Error).message)) throw e;
              await Bun.sleep(250);
            }
          }
          for (const s of sandboxes) {
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
        await killShims(agentPaths(a.dataDir).socket);
        for (const pid of pidsMatching(a.dataDir)) try { process.kill(pid, "SIGKILL"); } catch {}
        for (const h of existsSync("/sys/fs/cgroup") ? readdirSync("/sys/fs/cgroup") : []) {
          const root = join("/sys/fs/cgroup", h, a.cgroupRoot);
          if (!existsSync(root)) continue;
          const procs = spawnSync("find", [root, "-name", "cgroup.procs"], { encoding: "utf8" }).stdout.split("\n").filter(Boolean);
          for (const f of procs) for (const pid of readFileSync(f, "utf8").split("\n").filter(Boolean)) try { process.kill(Number(pid), "SIGKILL"); } catch {}
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
    // The namespaces take their iptables rules, ipsets and bridges with them.
    await step("network", () => net.destroy());
    await step("server", () => srv?.stop());
    if (process.env.SKIFF_E2E_KEEP !== "1") await step("temp dirs", () => rmSync(runDir, { recursive: true, force: true }));
    if (errors.length) console.warn(`cluster ${o.tag} cleanup problems:\n${errors.join("\n")}`);
  };

  let spawnAgent: (a: ClusterAgent) => void = () => {};
  try {
    srv = await startServer({ name: o.tag, extraArgs: ["--bind-address", net.hostIp, ...(o.serverArgs ?? [])], env: { SKIFF_NODE_MONITOR_GRACE_SECONDS: "8", ...o.serverEnv } });
    const token = readFileSync(join(srv.dataDir, "server", "token"), "utf8").trim();
    const image = busyboxImage();
    for (const node of net.nodes) {
      const dataDir = join(runDir, `agent-${node.name}`);
      mkdirSync(join(dataDir, "agent", "images"), { recursive: true });
      copyFileSync(image, join(dataDir, "agent", "images", "busybox.tar"));
      const a: ClusterAgent = { node, name: `${o.tag}-${node.name}`, dataDir, logPath: join(runDir, `agent-${node.name}.log`), cgroupRoot: `/skiff-e2e-${o.tag}-${process.pid}-${node.name}` };
      agents.push(a);
    }
    const url = srv.url;
    spawnAgent = (a) => {
      const node = a.node;
      a.proc = Bun.spawn(
        [...node.exec, ...SKIFF, "agent", "--server", url, "--token", token, "--data-dir", a.dataDir, "--node-name", a.name, "--node-ip", node.ip, ...(o.agentArgs?.(node.name) ?? [])],
        {
          cwd: REPO,
          env: {
            ...process.env,
            SKIFF_AGENT_TUNING: JSON.stringify({ bridge: `skiff${node.name}0`, cgroupRoot: a.cgroupRoot, leaseRenewMs: 1000, backoffInitialMs: 1000, backoffMaxMs: 8000, relistMs: 500, retryMs: 500, serviceCheckMs: 2000 }),
          },
          stdout: Bun.file(a.logPath),
          stderr: Bun.file(a.logPath + ".err"),
          stdin: "ignore",
        },
      );
    };
    for (const a of agents) spawnAgent(a);
  } catch (e) {
    await stop();
    throw e;
  }
  const server = srv;
  const k = async (args: string[], stdin?: string, timeoutMs = 60_000) => {
    const r = await kubectl(server, args, { stdin, timeoutMs });
    if (r.code !== 0) throw new Error(`${describeResult(r)}\n${diag()}`);
    return r.stdout;
  };
  const c: Cluster = {
    srv: server,
    net,
    agents,
    agent: (short) => agents.find((a) => a.node.name === short)!,
    k,
    json: async (args) => JSON.parse(await k([...args, "-o", "json"])),
    exec: async (pod, script, ns = "default", timeoutMs = 20_000) => {
      const r = await kubectl(server, ["exec", "-n", ns, pod, "--", "sh", "-c", script], { timeoutMs });
      return r.code === 0 ? r.stdout.trim() : `exit ${r.code}: ${r.stdout.trim()} ${r.stderr.trim()}`;
    },
    until,
    diag,
    stop,
    restartAgent: async (short) => {
      const a = c.agent(short);
      if (a.proc && a.proc.exitCode === null && a.proc.signalCode === null) {
        a.proc.kill("SIGTERM");
        const t = setTimeout(() => a.proc?.kill(9), 8000);
        await a.proc.exited;
        clearTimeout(t);
      }
      // The earlier run's log is kept beside the new one.
      for (const f of [a.logPath, a.logPath + ".err"]) if (existsSync(f)) copyFileSync(f, `${f}.${Date.now()}`);
      spawnAgent(a);
    },
  };
  await until("every node Ready", async () => {
    for (const a of agents) if (a.proc && a.proc.exitCode !== null) throw new Error(`agent ${a.name} exited with ${a.proc.exitCode}`);
    const list = (await c.json(["get", "nodes"])).items as any[];
    return agents.every((a) => list.find((n) => n.metadata.name === a.name)?.status?.conditions?.some((x: any) => x.type === "Ready" && x.status === "True"));
  }, 90_000).catch(async (e) => {
    await stop();
    throw e;
  });
  return c;
}
