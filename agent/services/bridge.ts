// The pods' bridge, made before the first pod so the cluster DNS can listen on its gateway
// address at start (the CNI bridge plugin adopts an existing bridge and address), and bridged
// traffic through iptables (br_netfilter), without which a pod reaching a Service backed by a
// pod on the same bridge gets replies that skip the DNAT's reversal.

import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { runSync } from "../cmd.ts";
import { ipv4Number, ipv4String } from "./ip.ts";

/** The first address of a CIDR: "10.42.0.0/24" → "10.42.0.1" (the CNI bridge gateway). */
export function gatewayOf(cidr: string): string {
  const [net = "", bits = "32"] = cidr.split("/");
  const size = 2 ** (32 - Number(bits));
  return ipv4String(Math.floor(ipv4Number(net) / size) * size + 1);
}

const ip = (args: string[]) => runSync(["ip", ...args]);

/**
 * Makes the bridge, gives it the gateway address and brings it up; idempotent, because the
 * bridge and its address outlive the agent (a restart, an upgrade) and must not turn DNS off.
 */
export function ensureBridge(name: string, gateway: string, prefix: number): void {
  if (!ip(["link", "show", name]).ok) {
    const r = ip(["link", "add", name, "type", "bridge"]);
    if (!r.ok && !/exists/i.test(r.err)) throw new Error(`ip link add ${name}: ${r.err}`);
  }
  if (!bridgeAddresses(name).includes(`${gateway}/${prefix}`)) {
    const a = ip(["addr", "add", `${gateway}/${prefix}`, "dev", name]);
    // "File exists" (older iproute2) or "Address already assigned": added meanwhile, fine.
    if (!a.ok && !/exists|already assigned/i.test(a.err)) throw new Error(`ip addr add ${gateway}/${prefix} dev ${name}: ${a.err}`);
  }
  const u = ip(["link", "set", name, "up"]);
  if (!u.ok) throw new Error(`ip link set ${name} up: ${u.err}`);
}

/** The IPv4 addresses ("10.42.0.1/24") on an interface. */
export function bridgeAddresses(name: string): string[] {
  const r = ip(["-o", "-4", "addr", "show", "dev", name]);
  return r.ok ? [...r.out.matchAll(/\binet (\S+)/g)].map((m) => m[1]!) : [];
}

const BRIDGE_NF = "/proc/sys/net/bridge/bridge-nf-call-iptables";

/** Loads br_netfilter and turns bridge-nf-call-iptables on (per network namespace). */
export function enableBridgeNetfilter(log: (m: string) => void): void {
  if (!existsSync(BRIDGE_NF)) runSync(["modprobe", "br_netfilter"]);
  try {
    if (readFileSync(BRIDGE_NF, "utf8").trim() !== "1") writeFileSync(BRIDGE_NF, "1");
  } catch (e) {
    log(`service proxy: bridged traffic bypasses iptables (${(e as Error).message}): a pod reaching a Service backed by a pod on the same node will fail; run \`modprobe br_netfilter && sysctl -w net.bridge.bridge-nf-call-iptables=1\``);
  }
}
