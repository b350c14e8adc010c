// ConfigMaps and Secrets the node's pods reference, kept fresh by one watch per object
// (fieldSelector metadata.name=X), like kubelet's watch-based configmap/secret managers. A
// change calls onChange so the pods that mount the object rewrite their volume in place.
// Objects nobody references any more are dropped together with their watch.

import { isUnreachable } from "../api-client.ts";
import type { AgentApi } from "../api-client.ts";
import type { ConfigMapLike } from "../pods/types.ts";

export type ObjectKind = "configmaps" | "secrets";

interface Entry {
  kind: ObjectKind;
  ns: string;
  name: string;
  /** undefined = not known yet, null = does not exist. */
  obj: ConfigMapLike | null | undefined;
  /** true once a list succeeded and the watch follows it. */
  synced: boolean;
  users: Set<string>;
  abort: AbortController;
  loading: Promise<void> | null;
}

const key = (kind: ObjectKind, ns: string, name: string) => `${kind}/${ns}/${name}`;

export class ObjectStore {
  private readonly entries = new Map<string, Entry>();
  private closed = false;

  constructor(
    private readonly api: AgentApi,
    private readonly onChange: (kind: ObjectKind, ns: string, name: string, users: string[]) => void,
    private readonly retryMs = 2000,
  ) {}

  /** Declares which objects a pod (by uid) uses; starts and stops watches accordingly. */
  track(user: string, refs: { kind: ObjectKind; ns: string; name: string }[]): void {
    const want = new Set(refs.map((r) => key(r.kind, r.ns, r.name)));
    for (const [k, e] of this.entries) {
      if (e.users.has(user) && !want.has(k)) {
        e.users.delete(user);
        if (e.users.size === 0) this.drop(k, e);
      }
    }
    for (const r of refs) {
      const k = key(r.kind, r.ns, r.name);
      let e = this.entries.get(k);
      if (!e) {
        e = { ...r, obj: undefined, synced: false, users: new Set(), abort: new AbortController(), loading: null };
        this.entries.set(k, e);
        this.run(e);
      }
      e.users.add(user);
    }
  }

  untrack(user: string): void {
    this.track(user, []);
  }

  private drop(k: string, e: Entry): void {
    e.abort.abort();
    this.entries.delete(k);
  }

  close(): void {
    this.closed = true;
    for (const [k, e] of this.entries) this.drop(k, e);
  }

  /**
   * The object (null when it does not exist). Throws when the server cannot be reached and the
   * object was never seen.
   */
  async get(kind: ObjectKind, ns: string, name: string): Promise<ConfigMapLike | null> {
    const e = this.entries.get(key(kind, ns, name));
    if (e && e.obj !== undefined) return e.obj;
    if (e?.loading) await e.loading.catch(() => {});
    if (e && e.obj !== undefined) return e.obj;
    // Not tracked (or not loaded yet): a direct read.
    const list = await this.api.get(`/api/v1/namespaces/${encodeURIComponent(ns)}/${kind}`, { fieldSelector: `metadata.name=${name}` });
    const obj = (list.items?.[0] as ConfigMapLike | undefined) ?? null;
    if (e && e.obj === undefined) e.obj = obj;
    return obj;
  }

  private async run(e: Entry): Promise<void> {
    const path = `/api/v1/namespaces/${encodeURIComponent(e.ns)}/${e.kind}`;
    const fieldSelector = `metadata.name=${e.name}`;
    while (!this.closed && !e.abort.signal.aborted) {
      try {
        let rv = "";
        const load = (async () => {
          const list = await this.api.get(path, { fieldSelector });
          const obj = (list.items?.[0] as ConfigMapLike | undefined) ?? null;
          const changed = e.synced && JSON.stringify(obj) !== JSON.stringify(e.obj);
          e.obj = obj;
          e.synced = true;
          rv = list.metadata?.resourceVersion ?? "";
          if (changed) this.onChange(e.kind, e.ns, e.name, [...e.users]);
        })();
        e.loading = load;
        await load;
        e.loading = null;
        await this.api.client.watch(
          path,
          { fieldSelector, resourceVersion: rv, allowWatchBookmarks: true, timeoutSeconds: 300 + Math.floor(Math.random() * 300) },
          (ev) => {
            if (ev.type === "ERROR") return false; // 410 Expired etc: relist
            if (ev.type === "BOOKMARK") return;
            const obj = ev.type === "DELETED" ? null : (ev.object as ConfigMapLike);
            if (JSON.stringify(obj) === JSON.stringify(e.obj)) return;
            e.obj = obj;
            this.onChange(e.kind, e.ns, e.name, [...e.users]);
          },
          e.abort.signal,
        );
      } catch (err) {
        e.loading = null;
        if (e.abort.signal.aborted) return;
        if (!isUnreachable(err)) {
          /* a 403/404 on the collection: retry later all the same */
        }
        await Bun.sleep(this.retryMs);
      }
    }
  }
}
