// The node's service proxy: watches Services and EndpointSlices and keeps the iptables rules of
// rules.ts in the kernel, every change applied at once with one `iptables-restore --noflush`
// through the shared RuleWriter (iptables.ts): only the chains that changed are written, so an
// idle node runs nothing. The rules stay when the agent stops or loses
// the server, as kube-proxy's do: traffic to Services keeps flowing.

import { writeFileSync } from "node:fs";
import type { AgentApi } from "../api-client.ts";
import { chainsOf, RuleWriter, type Jump, type Rendered, type RuleSource } from "./iptables.ts";
import { Mirror } from "./mirror.ts";
import { removeNodeRoutes } from "./routes.ts";
import { CHAIN_PREFIX, isProxyChain, renderRules } from "./rules.ts";

export interface ServiceProxyOptions {
  api: AgentApi;
  podCidr: () => string;
  log: (msg: string) => void;
  /** Writes the rules (shared with NetworkPolicy and the LoadBalancer ports). */
  writer: RuleWriter;
  retryMs?: number;
  /** The node's API relay, when it listens (the `kubernetes` Service goes there). */
  apiRelay?: () => { ip: string; port: number } | undefined;
  /** The node's DNS address (`kube-system/kube-dns` goes there). */
  nodeDns?: () => string | undefined;
  /** The cluster's pod CIDR (pods' traffic leaving it is masqueraded). */
  clusterCidr?: () => string;
}

/** The rules that send traffic into our chains, each inserted once. */
export const PROXY_JUMPS: Jump[] = [
  { table: "nat", chain: "PREROUTING", rule: ["-m", "comment", "--comment", "skiff service portals", "-j", `${CHAIN_PREFIX}SERVICES`] },
  { table: "nat", chain: "OUTPUT", rule: ["-m", "comment", "--comment", "skiff service portals", "-j", `${CHAIN_PREFIX}SERVICES`] },
  { table: "nat", chain: "POSTROUTING", rule: ["-m", "comment", "--comment", "skiff service masquerade", "-j", `${CHAIN_PREFIX}POSTROUTING`] },
  { table: "filter", chain: "INPUT", rule: ["-m", "comment", "--comment", "skiff localnet guard", "-j", `${CHAIN_PREFIX}FIREWALL`] },
  ...(["INPUT", "FORWARD", "OUTPUT"] as const).map((chain) => ({
    table: "filter" as const,
    chain,
    rule: ["-m", "conntrack", "--ctstate", "NEW", "-m", "comment", "--comment", "skiff services without endpoints", "-j", `${CHAIN_PREFIX}SERVICES`],
  })),
];

export class ServiceProxy implements RuleSource {
  private readonly abort = new AbortController();
  private readonly services: Mirror;
  private readonly slices: Mirror;

  constructor(private readonly o: ServiceProxyOptions) {
    const mirror = (path: string) =>
      new Mirror({ api: o.api, path, onChange: () => this.resync(), log: (m) => o.log(`service proxy: ${m}`), retryMs: o.retryMs, signal: this.abort.signal });
    this.services = mirror("/api/v1/services");
    this.slices = mirror("/apis/discovery.k8s.io/v1/endpointslices");
    o.writer.add("services", this, PROXY_JUMPS);
  }

  start(): void {
    // nodePorts answer on 127.0.0.1 too (kube-proxy's default): DNAT from loopback needs this;
    // SKIFF-FIREWALL drops 127.0.0.0/8 arriving from outside the node.
    try {
      writeFileSync("/proc/sys/net/ipv4/conf/all/route_localnet", "1");
    } catch (e) {
      this.o.log(`service proxy: nodePorts will not answer on 127.0.0.1 (route_localnet: ${(e as Error).message})`);
    }
    void this.services.run();
    void this.slices.run();
  }

  stop(): void {
    this.abort.abort();
  }

  /** The last write's error ("" when it worked). */
  get lastError(): string {
    return this.o.writer.lastError;
  }

  /** Both Services and EndpointSlices were listed at least once. */
  synced(): boolean {
    return this.services.synced && this.slices.synced;
  }

  allServices(): Iterable<any> {
    return this.services.objs.values();
  }

  /** The watched Service (for the cluster DNS). */
  service(ns: string, name: string): any | undefined {
    return this.services.objs.get(`${ns}/${name}`);
  }

  /** The watched EndpointSlices of a Service. */
  slicesOf(ns: string, name: string): any[] {
    const out: any[] = [];
    for (const s of this.slices.objs.values()) if (s.metadata?.namespace === ns && s.metadata?.labels?.["kubernetes.io/service-name"] === name) out.push(s);
    return out;
  }

  /** Something the rules depend on changed (a watch event, the API relay coming up). */
  resync(): void {
    this.o.writer.schedule();
  }

  owns(name: string): boolean {
    return isProxyChain(name);
  }

  render(): Rendered | null {
    if (!this.synced()) return null;
    const r = renderRules({ services: [...this.services.objs.values()], slices: [...this.slices.objs.values()], podCidr: this.o.podCidr(), clusterCidr: this.o.clusterCidr?.(), apiRelay: this.o.apiRelay?.(), nodeDns: this.o.nodeDns?.() });
    return { tables: { nat: chainsOf(r.nat), filter: chainsOf(r.filter) } };
  }
}

/** Removes every rule, chain, set and node route the agent's service networking made (tests). */
export function removeServiceRules(): void {
  removeNodeRoutes();
  RuleWriter.removeAll(PROXY_JUMPS);
}
