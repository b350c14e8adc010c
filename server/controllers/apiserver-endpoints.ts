// The `default/kubernetes` Endpoints list the API servers of the cluster, as the
// kube-apiserver's endpoint reconciler keeps them. Agents read it to learn every server, so
// they can move to another one when theirs goes away (K3s agents do the same).
//
// The live set comes from the Raft leader (servers it heard from recently). A server is
// dropped only after it was missing from three checks in a row, so a heartbeat gap does not
// flap the object; an unchanged set writes nothing.
import { isNotFound } from "./runtime/api";
import { Controller, type ControllerContext } from "./runtime/controller";

const KEY = "default/kubernetes";

interface ApiServerAddress {
  ip: string;
  port: number;
}

/** `https://10.0.0.1:6443` → {ip, port}; hostnames are skipped (Endpoints hold IPs only). */
export function addressOf(url: string): ApiServerAddress | undefined {
  try {
    const u = new URL(url);
    const ip = u.hostname.replace(/^\[|\]$/g, "");
    if (!/^[0-9.]+$/.test(ip) && !ip.includes(":")) return undefined;
    return { ip, port: Number(u.port) || 443 };
  } catch {
    return undefined;
  }
}

/**
 * Can the address be an endpoint? Not a loopback one (Kubernetes' validation refuses it, and it
 * reaches nobody but the server's own host): a server that listens on loopback only is left out,
 * and pods reach it through their node's API relay instead (agent/services/api-relay.ts).
 */
export function usableAddress(a: ApiServerAddress): boolean {
  return !/^127\./.test(a.ip) && a.ip !== "::1" && a.ip !== "0.0.0.0" && a.ip !== "::";
}

/** Endpoints subsets: one per port, addresses sorted, as the apiserver writes them. */
export function subsetsOf(addrs: ApiServerAddress[]): any[] {
  const byPort = new Map<number, Set<string>>();
  for (const a of addrs) byPort.set(a.port, (byPort.get(a.port) ?? new Set()).add(a.ip));
  return [...byPort.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([port, ips]) => ({
      addresses: [...ips].sort().map((ip) => ({ ip })),
      ports: [{ name: "https", port, protocol: "TCP" }],
    }));
}

export class ApiServerEndpoints extends Controller {
  private readonly missed = new Map<string, number>();
  private running = false;

  constructor(
    rt: ControllerContext,
    private readonly liveServers: () => string[],
    private readonly everyMs = 5000,
  ) {
    super(rt, "apiserverendpoints", 1);
    // Someone else's write to the object is undone at once.
    this.informer("endpoints").addHandler({ update: (_, e) => objKeyIs(e) && this.queue.add(KEY), delete: (e) => objKeyIs(e) && this.queue.add(KEY) });
  }

  protected override onSynced(): void {
    this.queue.add(KEY);
  }

  /** The live set changes without an event to watch: look again every everyMs. */
  async reconcile(): Promise<void> {
    try {
      await this.sync();
    } finally {
      this.queue.addAfter(KEY, this.everyMs);
    }
  }

  /** One reconcile; returns the subsets written, or undefined when nothing changed. */
  async sync(): Promise<any[] | undefined> {
    if (this.running) return undefined;
    this.running = true;
    try {
      const live = new Set(this.liveServers());
      for (const u of live) this.missed.set(u, 0);
      for (const [u, n] of this.missed) {
        if (live.has(u)) continue;
        if (n + 1 >= 3) this.missed.delete(u);
        else this.missed.set(u, n + 1);
      }
      const addrs = [...this.missed.keys()].map(addressOf).filter((a): a is ApiServerAddress => !!a && usableAddress(a));
      const subsets = subsetsOf(addrs);
      const cur = this.api.store.get("endpoints", "default", "kubernetes")?.obj;
      if (cur && JSON.stringify(cur.subsets ?? []) === JSON.stringify(subsets)) return undefined;
      if (!cur) {
        await this.api.create("Endpoints", "default", { metadata: { name: "kubernetes", namespace: "default", labels: { "endpointslice.kubernetes.io/skip-mirror": "true" } }, subsets });
      } else {
        await this.api.update("Endpoints", "default", "kubernetes", (o) => ({ ...o, subsets }));
      }
      return subsets;
    } catch (e) {
      if (!isNotFound(e)) throw e;
      return undefined;
    } finally {
      this.running = false;
    }
  }
}

const objKeyIs = (e: any) => e.metadata?.namespace === "default" && e.metadata?.name === "kubernetes";
