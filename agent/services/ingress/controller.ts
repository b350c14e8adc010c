// The node's ingress (K3s's Traefik, built in): watches Ingresses and IngressClasses (small,
// usually empty), and only once an Ingress of Skiff's class exists loads the proxy (server.ts)
// and opens the node's ports 80 and 443; it closes them again when the last one goes. Backends
// come from the service proxy's watch cache, TLS certificates from per-Secret watches, so the
// proxy keeps serving while the server is away. What it serves is also saved (state.ts: routes
// on disk, TLS keys on the tmpfs secret store), so an agent restarted while the server is away
// serves again from that until its watches list. The Node says, in an annotation, that it
// serves ingress and on which ports (for the Ingress status and the LoadBalancer port check).

import type { AgentApi } from "../../api-client.ts";
import type { ObjectStore } from "../../volumes/objects.ts";
import { INGRESS_PORTS_ANNOTATION, isOurIngress, ourClasses } from "../../../lib/networking.ts";
import { Mirror } from "../mirror.ts";
import type { ServiceProxy } from "../proxy.ts";
import { buildRoutes, endpointsOf, type Backend, type RouteTable } from "./routes.ts";
import type { Cert, IngressServer } from "./server.ts";
import type { IngressState, SavedRoutes } from "./state.ts";

/** The ObjectStore user the TLS Secrets are tracked for. */
export const INGRESS_USER = "skiff-ingress";

export interface IngressOptions {
  api: AgentApi;
  nodeName: string;
  proxy: ServiceProxy;
  objects: ObjectStore;
  httpPort: number;
  httpsPort: number;
  log: (msg: string) => void;
  retryMs?: number;
  /** Saves what is served, for a restart while the server is away. */
  state?: IngressState;
  /** How often the saved routes are brought up to date (endpoints change without an Ingress event). */
  saveMs?: number;
}

/** Puts the ingress ports (null: none) on this node's Node: one write, only when they differ. */
export async function announceIngress(api: AgentApi, nodeName: string, ports: string | null, signal: AbortSignal, retryMs = 2000): Promise<void> {
  const path = `/api/v1/nodes/${encodeURIComponent(nodeName)}`;
  for (let i = 0; i < 30 && !signal.aborted; i++) {
    try {
      const node = await api.get(path);
      if ((node.metadata?.annotations?.[INGRESS_PORTS_ANNOTATION] ?? null) === ports) return;
      await api.mergePatch(path, { metadata: { annotations: { [INGRESS_PORTS_ANNOTATION]: ports } } });
      return;
    } catch {
      await Bun.sleep(retryMs);
    }
  }
}

export class IngressController {
  private readonly abort = new AbortController();
  private readonly ingresses: Mirror;
  private readonly classes: Mirror;
  private table: RouteTable = buildRoutes([]);
  server: IngressServer | null = null;
  private loading: Promise<void> | null = null;
  private secretRefs = "";
  /** Saved at the last run: served until the watches have listed. */
  private saved: SavedRoutes | null = null;
  private savedCerts: Cert[] = [];
  private saveTimer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly o: IngressOptions) {
    const mirror = (path: string) =>
      new Mirror({ api: o.api, path, signal: this.abort.signal, retryMs: o.retryMs, log: (m) => o.log(`ingress: ${m}`), onChange: () => void this.changed() });
    this.ingresses = mirror("/apis/networking.k8s.io/v1/ingresses");
    this.classes = mirror("/apis/networking.k8s.io/v1/ingressclasses");
  }

  start(): void {
    const loaded = this.o.state?.load();
    if (loaded?.routes?.ingresses.length) {
      this.saved = loaded.routes;
      this.savedCerts = loaded.certs;
      this.table = buildRoutes(this.saved.ingresses);
      void this.ensureServer().then(() => {
        // Only if the watches have not listed meanwhile (they bring the live certificates).
        if (this.saved) this.setCerts(this.savedCerts);
      });
    }
    void this.ingresses.run();
    void this.classes.run();
    void announceIngress(this.o.api, this.o.nodeName, `${this.o.httpPort},${this.o.httpsPort}`, this.abort.signal, this.o.retryMs);
    if (this.o.state) {
      this.saveTimer = setInterval(() => this.saveRoutes(), this.o.saveMs ?? 5000);
      this.saveTimer.unref?.();
    }
  }

  stop(): void {
    if (this.saveTimer) clearInterval(this.saveTimer);
    this.saveRoutes(); // the freshest endpoints for a restart

    this.abort.abort();
    this.server?.stop();
    this.o.objects.untrack(INGRESS_USER);
  }

  private ours(): any[] {
    const cls = ourClasses(this.classes.objs.values());
    return [...this.ingresses.objs.values()].filter((i) => !i.metadata.deletionTimestamp && isOurIngress(i, cls));
  }

  /** A backend's endpoints: live once the service proxy has listed, else as saved. */
  private endpoints(b: Backend): string[] {
    const { proxy } = this.o;
    if (proxy.synced() || !this.saved) return endpointsOf(b, proxy.service(b.ns, b.service), proxy.slicesOf(b.ns, b.service));
    const mine = (o: any) => o.metadata?.namespace === b.ns;
    const svc = this.saved.services.find((s) => mine(s) && s.metadata.name === b.service);
    return endpointsOf(b, svc, this.saved.slices.filter((s) => mine(s) && s.metadata.labels?.["kubernetes.io/service-name"] === b.service));
  }

  /** Brings the saved routes up to date (only from listed watches: never saves a partial view). */
  private saveRoutes(): void {
    const { proxy, state } = this.o;
    if (!state || !this.ingresses.synced || !this.classes.synced || !proxy.synced()) return;
    const ours = this.ours();
    const backends = new Set<string>();
    for (const i of ours) {
      const ns = i.metadata.namespace;
      const add = (b: any) => b?.service?.name && backends.add(`${ns}/${b.service.name}`);
      add(i.spec?.defaultBackend);
      for (const r of i.spec?.rules ?? []) for (const p of r.http?.paths ?? []) add(p.backend);
    }
    const services: any[] = [];
    const slices: any[] = [];
    for (const k of [...backends].sort()) {
      const [ns, name] = k.split("/") as [string, string];
      const svc = proxy.service(ns, name);
      if (svc) services.push(svc);
      slices.push(...proxy.slicesOf(ns, name));
    }
    state.saveRoutes(ours, services, slices);
  }

  private setCerts(certs: Cert[]): void {
    try {
      this.server?.setCerts(certs);
    } catch (e) {
      this.o.log(`ingress: cannot serve HTTPS on port ${this.o.httpsPort}: ${(e as Error).message}`);
    }
  }

  private async ensureServer(): Promise<void> {
    if (this.server) return;
    if (this.loading) return this.loading;
    this.loading = (async () => {
      try {
        const { IngressServer } = await import("./server.ts");
        const s = new IngressServer({
          httpPort: this.o.httpPort,
          httpsPort: this.o.httpsPort,
          table: () => this.table,
          endpoints: (b) => this.endpoints(b),
          log: this.o.log,
        });
        s.start();
        this.server = s;
        this.o.log(`ingress: serving on ports ${this.o.httpPort} and ${this.o.httpsPort}${this.saved ? " (as saved, until the server answers)" : ""}`);
      } catch (e) {
        this.o.log(`ingress: cannot listen on port ${this.o.httpPort}: ${(e as Error).message}`);
      } finally {
        this.loading = null;
      }
    })();
    return this.loading;
  }

  private async changed(): Promise<void> {
    if (!this.ingresses.synced || !this.classes.synced) return;
    this.saved = null; // the watches have listed: live state from now on
    const ours = this.ours();
    this.table = buildRoutes(ours);
    const refs = [...new Set(this.table.tls.values())].sort();
    if (refs.join() !== this.secretRefs) {
      this.secretRefs = refs.join();
      this.o.objects.track(INGRESS_USER, refs.map((r) => ({ kind: "secrets" as const, ns: r.split("/")[0]!, name: r.split("/")[1]! })));
    }
    if (!ours.length && this.loading) await this.loading; // started from the saved routes
    if (ours.length) await this.ensureServer();
    else if (this.server) {
      this.server.stop();
      this.server = null;
      this.o.state?.saveCerts([]); // no key kept for Ingresses that are gone
      this.o.log("ingress: no Ingress left; ports closed");
    }
    await this.secretsChanged();
  }

  /** A TLS Secret changed (or the set of them): new certificates for the HTTPS listener. */
  async secretsChanged(): Promise<void> {
    if (!this.server) return;
    const certs: Cert[] = [];
    for (const [host, ref] of [...this.table.tls].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      const [ns, name] = ref.split("/") as [string, string];
      // A Secret that cannot be read now (server away) keeps the certificates as they are.
      const s = (await this.o.objects.get("secrets", ns, name).catch(() => undefined)) as any;
      if (s === undefined) return;
      const crt = s?.data?.["tls.crt"];
      const key = s?.data?.["tls.key"];
      if (!crt || !key) continue;
      certs.push({ serverName: host, cert: Buffer.from(crt, "base64").toString(), key: Buffer.from(key, "base64").toString() });
    }
    this.setCerts(certs);
    this.o.state?.saveCerts(certs);
  }
}
