// Removing the network state Skiff made on a host, for `skiff killall|uninstall`: iptables and
// ip6tables chains (found by the agent's SKIFF- prefix, not a fixed list: NetworkPolicy and
// ingress add chains of their own) and every rule that jumps to them, the chains CNI's bridge
// and portmap plugins made for our network, ipsets and nftables tables named skiff*, the pod
// bridge with its veths, and the agent's node routes.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { runSync } from "../../agent/cmd.ts";
import { CHAIN_PREFIX } from "../../agent/services/rules.ts";
import { ROUTE_PROTO } from "../../agent/services/routes.ts";

/** CNI network name (agent/containerd/cni.ts writes "skiff"); its plugins tag rules with it. */
const CNI_TAG = 'name: \\"skiff\\"';
const HOSTPORT_CHAINS = ["CNI-HOSTPORT-DNAT", "CNI-HOSTPORT-SETMARK", "CNI-HOSTPORT-MASQ"];
const SET_PREFIX = /^skiff/i;

const has = (bin: string) => runSync(["sh", "-c", `command -v ${bin}`]).ok;

interface Table {
  name: string;
  chains: string[];
  /** `-A CHAIN …` lines, as iptables-save prints them. */
  rules: { chain: string; spec: string; target?: string }[];
}

export function parseSave(text: string): Table[] {
  const tables: Table[] = [];
  let t: Table | undefined;
  for (const line of text.split("\n")) {
    if (line.startsWith("*")) tables.push((t = { name: line.slice(1).trim(), chains: [], rules: [] }));
    else if (t && line.startsWith(":")) t.chains.push(line.slice(1).split(" ")[0]!);
    else if (t && line.startsWith("-A ")) {
      const chain = line.slice(3).split(" ")[0]!;
      const target = / -[jg] (\S+)/.exec(line)?.[1];
      t.rules.push({ chain, spec: line.slice(3 + chain.length + 1), target });
    }
  }
  return tables;
}

/**
 * The iptables-restore --noflush script that removes our chains from one table, or "" when the
 * table holds nothing of ours. Ours: SKIFF-* chains, CNI chains whose rules carry our network's
 * tag, rules elsewhere that jump to those or match our ipsets, and CNI's shared hostport chains
 * once nothing but ours is left in them.
 */
export function cleanupScript(t: Table): string {
  const ours = new Set(t.chains.filter((c) => c.startsWith(CHAIN_PREFIX)));
  for (const r of t.rules) if (r.chain.startsWith("CNI-") && r.spec.includes(CNI_TAG) && !HOSTPORT_CHAINS.includes(r.chain)) ours.add(r.chain);
  const theirs = (r: Table["rules"][number]) => !ours.has(r.chain) && !(r.target && ours.has(r.target)) && !/--match-set skiff/i.test(r.spec);
  // portmap's shared chains (made for our hostPorts, kept by CNI when the last one goes):
  // removed when no other network has a port mapped through them; portmap makes them again.
  if (t.chains.includes("CNI-HOSTPORT-DNAT") && !t.rules.some((r) => r.chain === "CNI-HOSTPORT-DNAT" && theirs(r)))
    for (const c of HOSTPORT_CHAINS) if (t.chains.includes(c)) ours.add(c);
  const dels = t.rules.filter((r) => !ours.has(r.chain) && !theirs(r));
  if (!ours.size && !dels.length) return "";
  const chains = t.chains.filter((c) => ours.has(c));
  return [`*${t.name}`, ...chains.map((c) => `:${c} - [0:0]`), ...dels.map((r) => `-D ${r.chain} ${r.spec}`), ...chains.map((c) => `-X ${c}`), "COMMIT", ""].join("\n");
}

/** Removes our chains and rules from iptables and ip6tables; returns what it removed or failed. */
export function removeFirewallRules(): { removed: string[]; errors: string[] } {
  const removed: string[] = [];
  const errors: string[] = [];
  for (const fam of ["iptables", "ip6tables"]) {
    if (!has(`${fam}-save`)) continue;
    const save = runSync([`${fam}-save`]);
    if (!save.ok) {
      errors.push(`${fam}-save: ${save.err}`);
      continue;
    }
    for (const t of parseSave(save.out)) {
      const script = cleanupScript(t);
      if (!script) continue;
      const r = runSync([`${fam}-restore`, "-w", "5", "--noflush"], script);
      if (r.ok) removed.push(...script.split("\n").filter((l) => l.startsWith("-X ")).map((l) => `${fam} ${t.name} ${l.slice(3)}`));
      else errors.push(`${fam}-restore (${t.name}): ${r.err}`);
    }
  }
  if (has("ipset")) {
    for (const name of runSync(["ipset", "list", "-n"]).out.split("\n").filter((n) => SET_PREFIX.test(n))) {
      const r = runSync(["ipset", "destroy", name]);
      if (r.ok) removed.push(`ipset ${name}`);
      else errors.push(`ipset destroy ${name}: ${r.err}`);
    }
  }
  if (has("nft")) {
    for (const line of runSync(["nft", "list", "tables"]).out.split("\n")) {
      const m = /^table (\S+) (\S+)$/.exec(line.trim());
      if (!m || !SET_PREFIX.test(m[2]!)) continue;
      const r = runSync(["nft", "delete", "table", m[1]!, m[2]!]);
      if (r.ok) removed.push(`nft table ${m[1]} ${m[2]}`);
      else errors.push(`nft delete table ${m[1]} ${m[2]}: ${r.err}`);
    }
  }
  return { removed, errors };
}

/** The pod bridge this data dir's agent used (its CNI config), else SKIFF_AGENT_TUNING's or skiff0. */
export function bridgeOf(dataDir: string): string {
  try {
    const conf = JSON.parse(readFileSync(join(dataDir, "agent", "cni", "net.d", "10-skiff.conflist"), "utf8"));
    const b = conf.plugins?.find((p: { type?: string }) => p.type === "bridge")?.bridge;
    if (typeof b === "string" && b) return b;
  } catch {
    /* no agent ran here, or its config is gone */
  }
  try {
    const t = JSON.parse(process.env.SKIFF_AGENT_TUNING ?? "{}");
    if (typeof t.bridge === "string" && t.bridge) return t.bridge;
  } catch {}
  return "skiff0";
}

/** Deletes the bridge, the veths still enslaved to it, and the node routes; returns what went. */
export function removeLinks(bridge: string): { removed: string[]; errors: string[] } {
  const removed: string[] = [];
  const errors: string[] = [];
  let ports: { ifname: string }[] = [];
  try {
    ports = JSON.parse(runSync(["ip", "-j", "link", "show", "master", bridge]).out || "[]");
  } catch {}
  for (const p of ports) {
    const r = runSync(["ip", "link", "del", p.ifname]);
    if (r.ok) removed.push(`link ${p.ifname}`);
    else errors.push(`ip link del ${p.ifname}: ${r.err}`);
  }
  if (runSync(["ip", "link", "show", bridge]).ok) {
    const r = runSync(["ip", "link", "del", bridge]);
    if (r.ok) removed.push(`link ${bridge}`);
    else errors.push(`ip link del ${bridge}: ${r.err}`);
  }
  let routes: { dst: string }[] = [];
  try {
    routes = JSON.parse(runSync(["ip", "-j", "route", "show", "proto", ROUTE_PROTO]).out || "[]");
  } catch {}
  for (const x of routes) {
    const r = runSync(["ip", "route", "del", x.dst, "proto", ROUTE_PROTO]);
    if (r.ok) removed.push(`route ${x.dst}`);
    else errors.push(`ip route del ${x.dst}: ${r.err}`);
  }
  return { removed, errors };
}
