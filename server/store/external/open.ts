// --datastore-endpoint, as K3s spells it: http(s)://host:2379[,host:2379...] (or etcd://) for
// etcd, postgres(ql)://user:pass@host:5432/db for PostgreSQL; --datastore-cafile/-certfile/
// -keyfile for TLS to either.
import { readFileSync } from "node:fs";
import type { Backend } from "./backend";

export interface DatastoreFlags {
  endpoint: string;
  cafile?: string;
  certfile?: string;
  keyfile?: string;
}

/** Which engine an endpoint names; throws a message that says what to write instead. */
export function datastoreKind(endpoint: string): "etcd" | "postgres" {
  const scheme = /^([a-z0-9+]+):\/\//i.exec(endpoint.trim())?.[1]?.toLowerCase();
  if (scheme === "postgres" || scheme === "postgresql") return "postgres";
  if (scheme === "http" || scheme === "https" || scheme === "etcd" || scheme === "etcds") return "etcd";
  throw new Error(`--datastore-endpoint ${JSON.stringify(endpoint)}: use http(s)://host:2379[,host:2379] for etcd or postgres://user:password@host:5432/database for PostgreSQL`);
}

/** etcd endpoints as gRPC targets: `etcd://a:2379,b:2379` -> ["http://a:2379", "http://b:2379"]. */
export function etcdHosts(endpoint: string): string[] {
  const m = /^([a-z]+):\/\/(.*)$/i.exec(endpoint.trim())!;
  const tls = m[1]!.toLowerCase() === "https" || m[1]!.toLowerCase() === "etcds";
  return m[2]!
    .split(",")
    .map((h) => h.trim().replace(/^[a-z]+:\/\//i, "").replace(/\/.*$/, ""))
    .filter(Boolean)
    .map((h) => `${tls ? "https" : "http"}://${h.includes(":") ? h : `${h}:2379`}`);
}

/** The backend for an endpoint; its client library is loaded only when one is used. */
export async function openBackend(f: DatastoreFlags): Promise<Backend> {
  const read = (p?: string) => (p ? readFileSync(p) : undefined);
  const tls = { ca: read(f.cafile), cert: read(f.certfile), key: read(f.keyfile) };
  if (datastoreKind(f.endpoint) === "postgres") {
    const { PostgresBackend } = await import("./postgres");
    return new PostgresBackend({ url: f.endpoint, tls });
  }
  const hosts = etcdHosts(f.endpoint);
  if (!hosts.length) throw new Error(`--datastore-endpoint ${f.endpoint}: no etcd host in it`);
  const { EtcdBackend } = await import("./etcd");
  return new EtcdBackend({ hosts, tls });
}

/** The endpoint with any password blanked, for logs. */
export function redactEndpoint(endpoint: string): string {
  return endpoint.replace(/(\/\/[^:/@]+:)[^@]*@/, "$1***@");
}
