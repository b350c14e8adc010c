// Pod traffic between nodes, host-gw style (flannel's host-gw backend): a route to every other
// node's pod CIDR via that node's InternalIP, for nodes that share a network. Routes carry
// their own protocol number, so the ones a node no longer has are found and removed, also
// after an agent restart; nothing is touched while the set is unchanged.

import type { AgentApi } from "../api-client.ts";
import { run, runSync } from "../cmd.ts";
import { Mirror } from "./mirror.ts";

/** `proto` of our routes in the kernel's table (an unassigned number in rt_protos). */
export const ROUTE_PROTO = "214";

export interface NodeRoutesOptions {
  api: AgentApi;
  nodeName: string;
  log: (msg: string) => void;
  retryMs?: number;
}

/** Other nodes' pod CIDR → InternalIP. */
export function desiredRoutes(nodes: Iterable<any>, self: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const n of nodes) {
    if (n?.metadata?.name === self) continue;
    const cidr = n?.spec?.podCIDR;
    const ip = (n?.status?.addresses ?? []).find((a: any) => a.type === "InternalIP" && !String(a.address).includes(":"))?.address;
    if (cidr && ip && !cidr.includes(":")) out.set(cidr, ip);
  }
  return out;
}

const ip = (args: string[]) => run(["ip", ...args]);

/** Our routes in the kernel: destination → gateway. */
export async function installedRoutes(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const r = await ip(["-j", "route", "show", "proto", ROUTE_PROTO]);
  if (!r.ok) return out;
  try {
    for (const x of JSON.parse(r.out || "[]") as { dst: string; gateway?: string }[]) out.set(x.dst, x.gateway ?? "");
  } catch {}
  return out;
}

export class NodeRoutes {
  private readonly abort = new AbortController();
  private readonly nodes: Mirror;
  private readonly failed = new Map<string, string>();
  private last = "";
  private running = false;
  private again = false;
  private retry: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly o: NodeRoutesOptions) {
    this.nodes = new Mirror({ api: o.api, path: "/api/v1/nodes", onChange: () => this.kick(), log: (m) => o.log(`node routes: ${m}`), retryMs: o.retryMs, signal: this.abort.signal });
  }

  start(): void {
    void this.nodes.run();
  }

  stop(): void {
    this.abort.abort();
    if (this.retry) clearTimeout(this.retry);
  }

  /** One sync at a time, off the event loop's critical path. */
  private kick(): void {
    if (this.abort.signal.aborted) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void this.sync().finally(() => {
      this.running = false;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  async sync(): Promise<void> {
    const want = desiredRoutes(this.nodes.objs.values(), this.o.nodeName);
    // Node heartbeats change the objects every few seconds; the routes rarely change.
    const key = JSON.stringify([...want].sort());
    if (key === this.last) return;
    this.last = key;
    const have = await installedRoutes();
    let failures = false;
    for (const [dst, gw] of want) {
      if (have.get(dst) === gw) continue;
      const r = await ip(["route", "replace", dst, "via", gw, "proto", ROUTE_PROTO]);
      // A node on another network cannot be a next hop; say so once per change.
      if (!r.ok && this.failed.get(dst) !== gw) this.o.log(`node routes: ${dst} via ${gw}: ${r.err}`);
      if (r.ok) this.failed.delete(dst);
      else {
        this.failed.set(dst, gw);
        failures = true;
      }
    }
    for (const dst of have.keys()) if (!want.has(dst)) await ip(["route", "del", dst, "proto", ROUTE_PROTO]);
    // Failed routes are tried again in a minute (an interface may come up), not at every heartbeat.
    if (failures && !this.retry) {
      this.retry = setTimeout(() => {
        this.retry = null;
        this.last = "";
        this.kick();
      }, 60_000);
      this.retry.unref();
    }
  }
}

/** Removes every route this module added (tests). */
export function removeNodeRoutes(): void {
  let routes: { dst: string }[] = [];
  try {
    routes = JSON.parse(runSync(["ip", "-j", "route", "show", "proto", ROUTE_PROTO]).out || "[]");
  } catch {}
  for (const x of routes) runSync(["ip", "route", "del", x.dst, "proto", ROUTE_PROTO]);
}
