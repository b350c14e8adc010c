// The node's service proxy: watches Services and EndpointSlices and keeps the iptables rules of
// rules.ts in the kernel, every change applied at once with one `iptables-restore --noflush`
// (our chains only; other rules on the host are left alone). An unchanged rendering is not
// applied again, so an idle node runs nothing. The rules stay when the agent stops or loses
// the server, as kube-proxy's do: traffic to Services keeps flowing.

import { isUnreachable, type AgentApi } from "../api.ts";
import { CHAIN_PREFIX, chainsIn, renderRules, staleChains } from "./rules.ts";

export interface ServiceProxyOptions {
  api: AgentApi;
  podCidr: () => string;
  log: (msg: string) => void;
  /** Coalesce changes for this long before applying (default 250 ms). */
  syncDelayMs?: number;
  retryMs?: number;
}

const RESOURCES = {
  services: "/api/v1/services",
  slices: "/apis/discovery.k8s.io/v1/endpointslices",
} as const;

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

function run(argv: string[], stdin?: string): { ok: boolean; out: string; err: string } {
  try {
    const r = Bun.spawnSync(argv, { stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin), stdout: "pipe", stderr: "pipe" });
    return { ok: r.exitCode === 0, out: r.stdout.toString(), err: r.stderr.toString().trim() };
  } catch (e) {
    return { ok: false, out: "", err: (e as Error).message };
  }
}

export class ServiceProxy {
  private readonly objs = { services: new Map<string, any>(), slices: new Map<string, any>() };
  private readonly synced = { services: false, slices: false };
  private readonly abort = new AbortController();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private lastApplied = "";
  /** Our nat chains in the kernel (read from iptables-save at the first sync). */
  private chains: Set<string> | null = null;
  private jumpsReady = false;
  syncs = 0;
  lastError = "";

  constructor(private readonly o: ServiceProxyOptions) {}

  start(): void {
    for (const kind of ["services", "slices"] as const) void this.loop(kind);
  }

  stop(): void {
    this.abort.abort();
    if (this.timer) clearTimeout(this.timer);
  }

  private key(o: any): string {
    return `${o.metadata?.namespace}/${o.metadata?.name}`;
  }

  /** The watched Service (for the cluster DNS). */
  service(ns: string, name: string): any | undefined {
    return this.objs.services.get(`${ns}/${name}`);
  }

  /** The watched EndpointSlices of a Service. */
  slicesOf(ns: string, name: string): any[] {
    const out: any[] = [];
    for (const s of this.objs.slices.values()) if (s.metadata?.namespace === ns && s.metadata?.labels?.["kubernetes.io/service-name"] === name) out.push(s);
    return out;
  }

  private async loop(kind: "services" | "slices"): Promise<void> {
    const map = this.objs[kind];
    const signal = this.abort.signal;
    while (!signal.aborted) {
      try {
        const list = await this.o.api.get(RESOURCES[kind]);
        map.clear();
        for (const o of list.items ?? []) map.set(this.key(o), o);
        this.synced[kind] = true;
        this.schedule();
        await this.o.api.client.watch(
          RESOURCES[kind],
          { resourceVersion: list.metadata?.resourceVersion ?? "", allowWatchBookmarks: true, timeoutSeconds: 300 + Math.floor(Math.random() * 300) },
          (ev) => {
            if (ev.type === "ERROR") return false; // 410 Expired: relist
            if (ev.type === "BOOKMARK") return;
            const o = ev.object as any;
            if (ev.type === "DELETED") map.delete(this.key(o));
            else map.set(this.key(o), o);
            this.schedule();
          },
          signal,
        );
      } catch (e) {
        if (signal.aborted) return;
        if (!isUnreachable(e)) this.o.log(`service proxy: ${kind}: ${(e as Error).message}`);
        await Bun.sleep(this.o.retryMs ?? 2000);
      }
    }
  }

  private schedule(): void {
    if (this.timer || this.abort.signal.aborted) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.synced.services && this.synced.slices) this.sync();
    }, this.o.syncDelayMs ?? 250);
  }

  /** Renders and applies the rules (no-op when they did not change). */
  sync(): void {
    const r = renderRules({ services: [...this.objs.services.values()], slices: [...this.objs.slices.values()], podCidr: this.o.podCidr() });
    if (!this.chains) {
      const save = run(["iptables-save", "-t", "nat"]);
      this.chains = new Set(save.ok ? chainsIn(save.out) : []);
    }
    const stale = staleChains(this.chains, r.natChains);
    const text = stale.length ? r.nat.replace(/\nCOMMIT\n$/, `\n${stale.map((c) => `:${c} - [0:0]`).join("\n")}\n${stale.map((c) => `-X ${c}`).join("\n")}\nCOMMIT\n`) : r.nat;
    const input = text + r.filter;
    if (input === this.lastApplied && this.jumpsReady) return;
    const res = run(["iptables-restore", "-w", "5", "--noflush"], input);
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
    if (!this.jumpsReady) this.jumpsReady = ensureJumps(this.o.log);
  }
}

/** Inserts the jump rules that are missing; true when all are in place. */
function ensureJumps(log: (m: string) => void): boolean {
  let ok = true;
  for (const j of JUMPS) {
    if (run(["iptables", "-w", "5", "-t", j.table, "-C", j.chain, ...j.rule]).ok) continue;
    const r = run(["iptables", "-w", "5", "-t", j.table, "-I", j.chain, "1", ...j.rule]);
    if (!r.ok) {
      ok = false;
      log(`service proxy: cannot add the ${j.table} ${j.chain} jump: ${r.err}`);
    }
  }
  return ok;
}

/** Removes every rule and chain the proxy made (tests, uninstall). */
export function removeServiceRules(): void {
  for (const j of JUMPS) while (run(["iptables", "-w", "5", "-t", j.table, "-D", j.chain, ...j.rule]).ok);
  for (const table of ["nat", "filter"]) {
    const save = run(["iptables-save", "-t", table]);
    const mine = save.ok ? chainsIn(save.out) : [];
    if (!mine.length) continue;
    run(["iptables-restore", "-w", "5", "--noflush"], [`*${table}`, ...mine.map((c) => `:${c} - [0:0]`), ...mine.map((c) => `-X ${c}`), "COMMIT", ""].join("\n"));
  }
}
