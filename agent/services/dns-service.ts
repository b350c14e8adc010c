// Keeps the node's cluster DNS serving: makes the pod bridge and its gateway address (idempotent:
// both survive an agent restart), starts ClusterDns there, and when that fails retries until it
// works. ClusterFirst pods always get the gateway as nameserver, so DNS coming up later reaches
// pods that started meanwhile. What the node cannot do is said where users look: the Node's
// ClusterDNSUnavailable condition (True while DNS is not served, with why) and a Warning event
// on the Node, not only a log line.

import type { Condition } from "../node/info.ts";
import { ensureBridge } from "./bridge.ts";
import { ClusterDns } from "./dns.ts";
import type { ServiceLookup } from "./dns-records.ts";
import type { NodeEvents } from "./node-events.ts";

export const DNS_CONDITION = "ClusterDNSUnavailable";

export interface DnsServiceOptions {
  bridge: string;
  gateway: string;
  prefix: number;
  domain: string;
  lookup: ServiceLookup;
  events: NodeEvents;
  log: (msg: string) => void;
  /** The condition changed (write the Node status now). */
  onChange: () => void;
  /** Between attempts while DNS cannot be served (default 10 s). */
  retryMs?: number;
}

export class DnsService {
  dns: ClusterDns | undefined;
  /** Why DNS is not served ("" while it is). */
  error = "";
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;

  constructor(private readonly o: DnsServiceOptions) {}

  /** First attempt; on failure keeps retrying in the background (never throws). */
  async start(): Promise<void> {
    await this.attempt();
    if (!this.error) this.o.onChange(); // the condition is new: report it now, not at the next check
  }

  private async attempt(): Promise<void> {
    if (this.stopped) return;
    const where = `${this.o.gateway}:53`;
    let dns: ClusterDns | undefined;
    try {
      ensureBridge(this.o.bridge, this.o.gateway, this.o.prefix);
      dns = new ClusterDns({ address: this.o.gateway, domain: this.o.domain, lookup: this.o.lookup, log: this.o.log });
      await dns.start();
    } catch (e) {
      dns?.stop();
      const msg = `cannot serve cluster DNS on ${where}: ${(e as Error).message}`;
      if (msg !== this.error) {
        this.o.log(`cluster DNS: ${msg}; retrying every ${(this.o.retryMs ?? 10_000) / 1000} s`);
        this.o.events.record("Warning", "ClusterDNSUnavailable", msg);
        this.error = msg;
        this.o.onChange();
      }
      this.timer = setTimeout(() => void this.attempt(), this.o.retryMs ?? 10_000);
      this.timer.unref?.();
      return;
    }
    if (this.stopped) return dns.stop();
    this.dns = dns;
    if (this.error) {
      this.o.log(`cluster DNS: serving on ${where}`);
      this.o.events.record("Normal", "ClusterDNSAvailable", `cluster DNS serving on ${where}`);
      this.error = "";
      this.o.onChange();
    }
  }

  condition(): Condition {
    return this.error
      ? { type: DNS_CONDITION, status: "True", reason: "ClusterDNSNotServing", message: `${this.error}; pods on this node cannot resolve names` }
      : { type: DNS_CONDITION, status: "False", reason: "ClusterDNSServing", message: `cluster DNS serving on ${this.o.gateway}:53` };
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.dns?.stop();
    this.dns = undefined;
  }
}
