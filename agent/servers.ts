// Every API server of the cluster, so the agent keeps working when the server it was pointed at
// goes away (K3s agents do the same): the servers are read from the `default/kubernetes`
// Endpoints, handed to the client (which moves to the next one when a server cannot be reached),
// and saved under the data dir so that an agent restarted while its first server is down still
// finds the others.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { KubeClient } from "../lib/client.ts";

export function serversFile(dataDir: string): string {
  return join(dataDir, "agent", "servers.json");
}

/** `https://ip:port` for each address × port of the Endpoints (the API's scheme). */
export function serverUrls(endpoints: any, scheme = "https"): string[] {
  const out: string[] = [];
  for (const ss of endpoints?.subsets ?? [])
    for (const a of ss.addresses ?? [])
      for (const p of ss.ports ?? []) {
        if (typeof a.ip !== "string" || !Number.isInteger(p.port)) continue;
        out.push(`${scheme}://${a.ip.includes(":") ? `[${a.ip}]` : a.ip}:${p.port}`);
      }
  return out;
}

function load(file: string, configured: string): string[] {
  try {
    const j = JSON.parse(readFileSync(file, "utf8"));
    // A list saved for another cluster (the agent was re-pointed) is not used.
    return j.configured === configured && Array.isArray(j.servers) ? j.servers.filter((s: unknown) => typeof s === "string") : [];
  } catch {
    return [];
  }
}

function save(file: string, configured: string, servers: string[]): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file + ".tmp", JSON.stringify({ configured, servers }) + "\n");
  renameSync(file + ".tmp", file);
}

export interface ServerDiscovery {
  /** One refresh from the Endpoints (also run every `everyMs`). */
  refresh(): Promise<string[] | undefined>;
  stop(): void;
}

export function startServerDiscovery(client: KubeClient, dataDir: string, o: { everyMs?: number; log?: (m: string) => void } = {}): ServerDiscovery {
  const file = serversFile(dataDir);
  const configured = client.knownServers[0]!;
  const scheme = new URL(configured).protocol.replace(":", "");
  if (existsSync(file)) client.setServers(load(file, configured));
  let last = JSON.stringify(client.knownServers);
  let inflight: Promise<string[] | undefined> | undefined;
  // One refresh at a time: a caller during one gets its result.
  const refresh = () => (inflight ??= refreshOnce().finally(() => (inflight = undefined)));
  const refreshOnce = async (): Promise<string[] | undefined> => {
    try {
      const eps = await client.json("GET", "/api/v1/namespaces/default/endpoints/kubernetes", { signal: AbortSignal.timeout(10_000) });
      const urls = serverUrls(eps, scheme);
      if (!urls.length) return undefined;
      client.setServers(urls);
      const now = JSON.stringify(client.knownServers);
      if (now !== last) {
        save(file, configured, client.knownServers.slice(1));
        last = now;
        o.log?.(`API servers: ${client.knownServers.join(", ")}`);
      }
      return client.knownServers;
    } catch {
      return undefined; // unreachable, no Endpoints yet, or the disk refused: keep what is known
    }
  };
  const timer = setInterval(() => void refresh(), o.everyMs ?? 30_000);
  timer.unref?.();
  void refresh();
  return { refresh, stop: () => clearInterval(timer) };
}
