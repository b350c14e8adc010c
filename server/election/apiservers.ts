// Which servers are up, when they share an external datastore (with Raft, the member table
// says): each server keeps a Lease of its own (kube-apiserver's identity leases) holding its
// API URL, renewed every 10 s. A server is live while its Lease keeps changing, as judged by
// this server's clock; the `default/kubernetes` Endpoints and stream relays use the list.
import { createHash } from "node:crypto";
import { findByKind } from "../../schemas/registry";
import { APISERVER_USER, writeCtx } from "../registry/ctx";
import type { Registry } from "../registry/registry";
import type { Store } from "../store/store";

const LABEL = "skiff.io/apiserver";
const URL_ANNOTATION = "skiff.io/api-url";
const NAME_ANNOTATION = "skiff.io/server-name";
const RENEW_MS = 10_000;
const LIVE_MS = 30_000;

export interface ApiServerLeases {
  /** The live servers (this one included), by API URL and server name. */
  live(): { url: string; name: string }[];
  stop(): Promise<void>;
}

export function startApiServerLease(o: { registry: Registry; store: Store; identity: string; name: string; apiUrl: string }): ApiServerLeases {
  const r = findByKind("coordination.k8s.io/v1", "Lease")!;
  const res = `${r.group}/${r.plural}`;
  const ns = "kube-system";
  const name = `skiff-apiserver-${createHash("sha256").update(o.apiUrl).digest("hex").slice(0, 12)}`;
  const ctx = () => writeCtx(APISERVER_USER, "skiff-apiserver");
  const seen = new Map<string, { rev: number; at: number }>();
  const renew = async () => {
    const renewTime = new Date().toISOString().replace(/Z$/, "000Z");
    const spec = { holderIdentity: o.identity, leaseDurationSeconds: LIVE_MS / 1000, renewTime };
    if (!o.store.get(res, ns, name)) {
      await o.registry.create(ctx(), r, ns, { apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name, namespace: ns, labels: { [LABEL]: "true" }, annotations: { [URL_ANNOTATION]: o.apiUrl, [NAME_ANNOTATION]: o.name } }, spec });
    } else {
      await o.registry.update(ctx(), r, ns, name, (c) => ({ ...c, metadata: { ...c.metadata, labels: { ...c.metadata.labels, [LABEL]: "true" }, annotations: { ...c.metadata.annotations, [URL_ANNOTATION]: o.apiUrl, [NAME_ANNOTATION]: o.name } }, spec }));
    }
  };
  let stopped = false;
  const tick = () => void renew().catch(() => {}); // the datastore is down: the next tick retries
  tick();
  const timer = setInterval(tick, RENEW_MS);
  timer.unref?.();
  return {
    live() {
      const now = Date.now();
      const out = new Map<string, string>([[o.apiUrl, o.name]]);
      for (const l of o.store.list(res, ns, { match: (x) => x?.metadata?.labels?.[LABEL] === "true" }).items) {
        const rev = Number(l.metadata.resourceVersion);
        const s = seen.get(l.metadata.name);
        if (!s || s.rev !== rev) seen.set(l.metadata.name, { rev, at: now });
        const url = l.metadata.annotations?.[URL_ANNOTATION];
        if (url && now - seen.get(l.metadata.name)!.at < LIVE_MS) out.set(url, l.metadata.annotations?.[NAME_ANNOTATION] ?? url);
      }
      return [...out].map(([url, name]) => ({ url, name })).sort((a, b) => (a.url < b.url ? -1 : 1));
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      await o.registry.delete(ctx(), r, ns, name, {}).catch(() => {});
    },
  };
}
