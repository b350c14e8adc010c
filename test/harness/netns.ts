// Network namespaces as "machines" for multi-node end-to-end tests: one Linux bridge on the host
// with a private test address, and per node a namespace joined to it by a veth pair.
//
//   const net = createTestNetwork({ tag: "mn", nodes: ["a", "b"] });
//   net.hostIp                      // 10.250.0.1, on the host bridge: bind the server here
//   net.nodes[0].ip                 // 10.250.0.2, eth0 inside namespace skiff-mn-a
//   Bun.spawn([...net.nodes[0].exec, "bun", "cli/main.ts", "agent", ...])
//   net.destroy();                  // namespaces, veths and the bridge are gone
//
// Traffic stays local: the namespaces get no default route, only the /24 of the test bridge
// (and whatever the agents inside add for their own pods).
//
// Processes run in a namespace through `nsenter --net=/run/netns/NAME`, not `ip netns exec`:
// `ip netns exec` also unshares the mount namespace and remounts /sys, which hides the cgroup
// hierarchies under /sys/fs/cgroup from containerd/runc and keeps the containers' mounts out
// of the host's sight (so cleanup from the test could not see or unmount them).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

export interface TestNode {
  /** Short name given in options.nodes. */
  name: string;
  /** Network namespace name (under /run/netns). */
  ns: string;
  /** Address of eth0 inside the namespace. */
  ip: string;
  /** Host end of the veth pair (attached to the bridge). */
  hostVeth: string;
  /** argv prefix that runs a command in this namespace (network only; same mounts, cgroups, pids). */
  exec: string[];
}

export interface TestNetwork {
  bridge: string;
  /** The host's address on the bridge; reachable from every namespace. */
  hostIp: string;
  prefixLength: number;
  nodes: TestNode[];
  node(name: string): TestNode;
  /** Removes namespaces, veths and the bridge; safe to call twice and after a partial create. */
  destroy(): void;
}

export interface TestNetworkOptions {
  /** Short tag (≤ 4 characters, [a-z0-9]) naming the bridge (skt<tag>), namespaces (skiff-<tag>-<node>) and veths. */
  tag: string;
  /** Node names (≤ 4 characters each, [a-z0-9]). */
  nodes: string[];
  /** First three octets of the /24 (default 10.250.0). The host gets .1, nodes .2, .3, … */
  subnet?: string;
}

function run(argv: string[], allowFail = false): { ok: boolean; out: string } {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8" });
  const ok = r.status === 0;
  if (!ok && !allowFail) throw new Error(`${argv.join(" ")} failed (exit ${r.status}): ${(r.stderr || r.stdout || String(r.error ?? "")).trim()}`);
  return { ok, out: r.stdout ?? "" };
}

const linkExists = (name: string) => existsSync(`/sys/class/net/${name}`);

export function createTestNetwork(o: TestNetworkOptions): TestNetwork {
  if (!/^[a-z0-9]{1,4}$/.test(o.tag)) throw new Error(`test network tag ${JSON.stringify(o.tag)}: use 1-4 characters [a-z0-9]`);
  for (const n of o.nodes) if (!/^[a-z0-9]{1,4}$/.test(n)) throw new Error(`test node name ${JSON.stringify(n)}: use 1-4 characters [a-z0-9]`);
  if (process.getuid?.() !== 0) throw new Error("network namespaces need root");
  const subnet = o.subnet ?? "10.250.0";
  const bridge = `skt${o.tag}`;
  const hostIp = `${subnet}.1`;
  const nodes: TestNode[] = o.nodes.map((name, i) => {
    const ns = `skiff-${o.tag}-${name}`;
    return { name, ns, ip: `${subnet}.${i + 2}`, hostVeth: `skt${o.tag}${name}`, exec: ["nsenter", `--net=/run/netns/${ns}`, "--"] };
  });

  const destroy = () => {
    for (const n of nodes) {
      // Deleting the namespace deletes its veth end, and with it the host end.
      if (existsSync(`/run/netns/${n.ns}`)) run(["ip", "netns", "del", n.ns], true);
      if (linkExists(n.hostVeth)) run(["ip", "link", "del", n.hostVeth], true);
    }
    if (linkExists(bridge)) run(["ip", "link", "del", bridge], true);
  };

  // Leftovers of an earlier run that died before its cleanup.
  destroy();
  try {
    run(["ip", "link", "add", bridge, "type", "bridge"]);
    run(["ip", "addr", "add", `${hostIp}/24`, "dev", bridge]);
    run(["ip", "link", "set", bridge, "up"]);
    for (const n of nodes) {
      run(["ip", "netns", "add", n.ns]);
      run(["ip", "link", "add", n.hostVeth, "type", "veth", "peer", "name", "eth0", "netns", n.ns]);
      run(["ip", "link", "set", n.hostVeth, "master", bridge]);
      run(["ip", "link", "set", n.hostVeth, "up"]);
      run(["ip", "-n", n.ns, "link", "set", "lo", "up"]);
      run(["ip", "-n", n.ns, "addr", "add", `${n.ip}/24`, "dev", "eth0"]);
      run(["ip", "-n", n.ns, "link", "set", "eth0", "up"]);
    }
  } catch (e) {
    destroy();
    throw e;
  }
  return {
    bridge,
    hostIp,
    prefixLength: 24,
    nodes,
    node(name: string) {
      const n = nodes.find((x) => x.name === name);
      if (!n) throw new Error(`no test node ${name}`);
      return n;
    },
    destroy,
  };
}

/** Does a process in `node`'s namespace reach host:port over TCP within timeoutMs? */
export async function canConnect(node: TestNode, host: string, port: number, timeoutMs = 2000): Promise<boolean> {
  const p = Bun.spawn([...node.exec, "bash", "-c", `exec 3<>/dev/tcp/${host}/${port}`], { stdout: "ignore", stderr: "ignore" });
  const t = setTimeout(() => p.kill(9), timeoutMs);
  const code = await p.exited;
  clearTimeout(t);
  return code === 0;
}
