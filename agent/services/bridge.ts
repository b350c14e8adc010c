// The pods' bridge, made before the first pod so the cluster DNS can listen on its gateway
// address at start (the CNI bridge plugin adopts an existing bridge and address), and bridged
// traffic through iptables (br_netfilter), without which a pod reaching a Service backed by a
// pod on the same bridge gets replies that skip the DNAT's reversal.

import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { runSync } from "../cmd.ts";

/** The first address of a CIDR: "10.42.0.0/24" → "10.42.0.1" (the CNI bridge gateway). */
export function gatewayOf(cidr: string): string {
  const [ip = "", bits = "32"] = cidr.split("/");
  const n = ip.split(".").reduce((a, o) => a * 256 + Number(o), 0);
  const mask = 2 ** 32 - 2 ** (32 - Number(bits));
  const gw = ((n & mask) >>> 0) + 1;
  return [24, 16, 8, 0].map((s) => Math.floor(gw / 2 ** s) % 256).join(".");
}

const ip = (args: string[]) => runSync(["ip", ...args]);

export function ensureBridge(name: string, gateway: string, prefix: number): void {
  const exists = ip(["link", "show", name]).ok;
  if (!exists) {
    const r = ip(["link", "add", name, "type", "bridge"]);
    if (!r.ok && !/exists/i.test(r.err)) throw new Error(`ip link add ${name}: ${r.err}`);
  }
  const a = ip(["addr", "add", `${gateway}/${prefix}`, "dev", name]);
  if (!a.ok && !/exists/i.test(a.err)) throw new Error(`ip addr add ${gateway}/${prefix} dev ${name}: ${a.err}`);
  const u = ip(["link", "set", name, "up"]);
  if (!u.ok) throw new Error(`ip link set ${name} up: ${u.err}`);
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
