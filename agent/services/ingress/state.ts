// What the node's ingress needs to serve again after an agent restart while the server is away
// (its watches cannot list then):
//
//   <data-dir>/agent/ingress/state.json   the Ingresses Skiff serves, their backends' Services
//                                         and EndpointSlices: nothing secret, on disk
//   <secret store>/ingress/certs.json     the TLS certificates with their private keys, on the
//                                         agent's tmpfs secret store (agent/cache/secret-store.ts):
//                                         never on the data dir's disk (issue 10: a stolen,
//                                         powered-off device has no key to read), gone on reboot
//
// Each is rewritten only when its content changes. Without a memory-backed secret store the
// keys are kept in process memory only: an agent restarted offline then serves plain HTTP.

import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { SecretStore } from "../../cache/secret-store.ts";
import type { Cert } from "./server.ts";

export interface SavedRoutes {
  ingresses: any[];
  services: any[];
  slices: any[];
}

const CERTS = "ingress/certs.json";

/** The fields routes.ts reads, so the file stays small and free of managedFields and status. */
const trim = {
  ingress: (i: any) => ({ metadata: { namespace: i.metadata?.namespace, name: i.metadata?.name, uid: i.metadata?.uid, creationTimestamp: i.metadata?.creationTimestamp }, spec: i.spec }),
  service: (s: any) => ({ metadata: { namespace: s.metadata?.namespace, name: s.metadata?.name }, spec: { ports: s.spec?.ports } }),
  slice: (s: any) => ({
    metadata: { namespace: s.metadata?.namespace, name: s.metadata?.name, labels: { "kubernetes.io/service-name": s.metadata?.labels?.["kubernetes.io/service-name"] } },
    addressType: s.addressType,
    endpoints: s.endpoints,
    ports: s.ports,
  }),
};

export class IngressState {
  private readonly file: string;
  private lastRoutes = "";
  private lastCerts = "";
  private toldNoStore = false;

  constructor(
    dataDir: string,
    private readonly secrets: SecretStore | undefined,
    private readonly log: (msg: string) => void,
  ) {
    this.file = join(dataDir, "agent", "ingress", "state.json");
  }

  /** The last saved routes and certificates (null / [] when none or unreadable). */
  load(): { routes: SavedRoutes | null; certs: Cert[] } {
    let routes: SavedRoutes | null = null;
    try {
      const raw = readFileSync(this.file, "utf8");
      const r = JSON.parse(raw);
      if (Array.isArray(r?.ingresses) && Array.isArray(r?.services) && Array.isArray(r?.slices)) {
        routes = r;
        this.lastRoutes = raw;
      }
    } catch {
      /* none yet, or a torn file: the watches will bring everything */
    }
    let certs: Cert[] = [];
    const raw = this.secrets?.read(CERTS)?.toString();
    if (raw) {
      try {
        const c = JSON.parse(raw);
        if (Array.isArray(c)) {
          certs = c.filter((x) => typeof x?.serverName === "string" && typeof x?.cert === "string" && typeof x?.key === "string");
          this.lastCerts = raw;
        }
      } catch {
        /* ignored as above */
      }
    }
    return { routes, certs };
  }

  saveRoutes(ingresses: any[], services: any[], slices: any[]): void {
    if (!ingresses.length && !this.lastRoutes && !existsSync(this.file)) return; // nodes without Ingresses write nothing
    const data = JSON.stringify({ ingresses: ingresses.map(trim.ingress), services: services.map(trim.service), slices: slices.map(trim.slice) });
    if (data === this.lastRoutes) return;
    try {
      mkdirSync(join(this.file, ".."), { recursive: true, mode: 0o700 });
      writeFileSync(`${this.file}.tmp`, data, { mode: 0o600 });
      renameSync(`${this.file}.tmp`, this.file);
      this.lastRoutes = data;
    } catch (e) {
      this.log(`ingress: cannot save the routes for an offline restart: ${(e as Error).message}`);
    }
  }

  saveCerts(certs: Cert[]): void {
    const data = JSON.stringify(certs);
    if (data === this.lastCerts) return;
    if (this.secrets?.write(CERTS, data)) {
      this.lastCerts = data;
      return;
    }
    if (!this.toldNoStore && certs.length) {
      this.toldNoStore = true;
      this.log("ingress: TLS keys cannot go on the tmpfs secret store (none, or full): kept in memory only (an agent restarted while the server is away serves no HTTPS)");
    }
  }
}
