// The node's service proxy: watches Services and EndpointSlices and keeps the iptables rules of
// rules.ts in the kernel, every change applied at once with one `iptables-restore --noflush`
// (our chains only; other rules on the host are left alone). An unchanged rendering is not
// applied again, so an idle node runs nothing. The rules stay when the agent stops or loses
// the server, as kube-proxy's do: traffic to Services keeps flowing.

import type { AgentApi } from "../api-client.ts";
import { run, runSync } from "../cmd.ts";
import { Mirror } from "./mirror.ts";
import { removeNodeRoutes } from "./routes.ts";
import { CHAIN_PREFIX, chainsIn, renderRules, staleChains } from "./rules.ts";

export interface ServiceProxyOptions {
  api: AgentApi;
  podCidr: () => string;
  log: (msg: string) => void;
  /** Coalesce changes for this long before applying (default 250 ms). */
  syncDelayMs?: number;
  /** How often the rules are checked for being flushed by someone else (default 60 s). */
  checkMs?: number;
  retryMs?: number;
  /** The node's API relay, when it listens (the `kubernetes` Service goes there). */
  apiRelay?: () => { ip: string; port: number } | undefined;
}

/** The rules that send traffic into our chains, each inserted once. */
const JUMPS: { table: string; chain: string; rule: string[] }[] = [
  { table: "nat", chain: "PREROUTING", rule: ["-m", "comment", "--comment", "skiff service portals", "-j", `${CHAIN_PREFIX}SERVICES`] },
  { table: "nat", chain: "OUTPUT", rule: ["-m", "comment", "--comment", "skiff service portals", "-j", `${CHAIN_PREFIX}SERVICES`] },
  { table: "nat", chain: "POSTROUTING", rule: ["-m", "comment", "--comment", "skiff service masquerade", "-j", `${CHAIN_PREFIX}POSTROUTING`] },
  ...["INPUT", "FORWARD", "OUTPUT"].map((chain) => ({
    table: "filter",
    chain,
    rule: ["-m", "conntrack", "--ctstate", "NEW", "-m", "comment", "--comment", "skiff services without endpoints", "-j", `${CHAIN_PREFIX}SERVICES`],
  })),
];

export class ServiceProxy {
  private readonly abort = new AbortController();
  private readonly services: Mirror;
  private readonly slices: Mirror;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private lastApplied = "";
  /** Our nat chains in the kernel (read from iptables-save at the first sync). */
  private chains: Set<string> | null = null;
  private jumpsReady = false;
  syncs = 0;
  lastError = "";

  constructor(private readonly o: ServiceProxyOptions) {
    const mirror = (path: string) =>
      new Mirror({ api: o.api, path, onChange: () => this.schedule(), log: (m) => o.log(`service proxy: ${m}`), retryMs: o.retryMs, signal: this.abort.signal });
    this.services = mirror("/api/v1/services");
    this.slices = mirror("/apis/discovery.k8s.io/v1/endpointslices");
  }

  private check: ReturnType<typeof setInterval> | null = null;

  start(): void {
    void this.services.run();
    void this.slices.run();
    // Someone may flush the tables (a firewall reload, `iptables -F`): every minute the jump
    // rules and our main chain are looked for, and everything is put back when one is gone.
    this.check = setInterval(() => void this.verify(), this.o.checkMs ?? 60_000);
    this.check.unref();
  }

  stop(): void {
    this.abort.abort();
    if (this.timer) clearTimeout(this.timer);
    if (this.check) clearInterval(this.check);
  }

  private async verify(): Promise<void> {
    if (!this.jumpsReady || this.running) return;
    const chain = await run(["iptables", "-w", "5", "-t", "nat", "-S", `${CHAIN_PREFIX}SERVICES`, "1"]);
    let ok = chain.ok;
    for (const j of JUMPS) if (ok) ok = (await run(["iptables", "-w", "5", "-t", j.table, "-C", j.chain, ...j.rule])).ok;
    if (ok) return;
    this.o.log("service proxy: rules went missing from iptables; putting them back");
    this.jumpsReady = false;
    this.lastApplied = "";
    this.chains = null;
    this.schedule();
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

  /** Something the rules depend on changed outside the watches (the API relay came up). */
  resync(): void {
    this.schedule();
  }

  private schedule(): void {
    if (this.timer || this.abort.signal.aborted) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.synced()) return;
      // One sync at a time; a change during a sync gets a sync of its own after it.
      if (this.running) this.again = true;
      else void this.syncOnce();
    }, this.o.syncDelayMs ?? 250);
  }

  private running = false;
  private again = false;

  private async syncOnce(): Promise<void> {
    this.running = true;
    try {
      await this.sync();
    } finally {
      this.running = false;
      if (this.again) {
        this.again = false;
        this.schedule();
      }
    }
  }

  /** Renders and applies the rules (no-op when they did not change). */
  async sync(): Promise<void> {
    const r = renderRules({ services: [...this.services.objs.values()], slices: [...this.slices.objs.values()], podCidr: this.o.podCidr(), apiRelay: this.o.apiRelay?.() });
    if (!this.chains) {
      const save = await run(["iptables-save", "-t", "nat"]);
      this.chains = new Set(save.ok ? chainsIn(save.out) : []);
    }
    const stale = staleChains(this.chains, r.natChains);
    const text = stale.length ? r.nat.replace(/\nCOMMIT\n$/, `\n${stale.map((c) => `:${c} - [0:0]`).join("\n")}\n${stale.map((c) => `-X ${c}`).join("\n")}\nCOMMIT\n`) : r.nat;
    const input = text + r.filter;
    if (input === this.lastApplied && this.jumpsReady) return;
    const res = await run(["iptables-restore", "-w", "5", "--noflush"], input);
    if (!res.ok) {
      this.lastError = res.err;
      this.o.log(`service proxy: iptables-restore failed: ${res.err}`);
      this.chains = null; // re-read what is there next time
      return;
    }
    this.chains = new Set(r.natChains);
    this.lastApplied = input;
    this.lastError = "";
    this.syncs++;
    if (!this.jumpsReady) this.jumpsReady = await ensureJumps(this.o.log);
  }
}

/** Inserts the jump rules that are missing; true when all are in place. */
async function ensureJumps(log: (m: string) => void): Promise<boolean> {
  let ok = true;
  for (const j of JUMPS) {
    if ((await run(["iptables", "-w", "5", "-t", j.table, "-C", j.chain, ...j.rule])).ok) continue;
    const r = await run(["iptables", "-w", "5", "-t", j.table, "-I", j.chain, "1", ...j.rule]);
    if (!r.ok) {
      ok = false;
      log(`service proxy: cannot add the ${j.table} ${j.chain} jump: ${r.err}`);
    }
  }
  return ok;
}

/** Removes every rule, chain and node route the agent's service networking made (tests). */
export function removeServiceRules(): void {
  removeNodeRoutes();
  for (const j of JUMPS) while (runSync(["iptables", "-w", "5", "-t", j.table, "-D", j.chain, ...j.rule]).ok);
  for (const table of ["nat", "filter"]) {
    const save = runSync(["iptables-save", "-t", table]);
    const mine = save.ok ? chainsIn(save.out) : [];
    if (!mine.length) continue;
    runSync(["iptables-restore", "-w", "5", "--noflush"], [`*${table}`, ...mine.map((c) => `:${c} - [0:0]`), ...mine.map((c) => `-X ${c}`), "COMMIT", ""].join("\n"));
  }
}
