// A local copy of one API collection, kept by list + watch (relist on 410 or a broken watch),
// for the agent's cluster-wide readers: the service proxy, DNS and node routes.

import { isUnreachable, type AgentApi } from "../api-client.ts";

export interface MirrorOptions {
  api: AgentApi;
  path: string;
  /** Called after the first list and after every change. */
  onChange: () => void;
  log: (msg: string) => void;
  retryMs?: number;
  signal: AbortSignal;
  /** Keep only this of each object (less memory); onChange is not called when it is unchanged. */
  keep?: (o: any) => any;
  /** Query for list and watch (e.g. a fieldSelector). */
  query?: Record<string, string>;
}

export class Mirror {
  /** "ns/name" (or "name" for cluster-scoped objects) → object. */
  readonly objs = new Map<string, any>();
  /** Listed at least once. */
  synced = false;

  constructor(private readonly o: MirrorOptions) {}

  private static key(o: any): string {
    const m = o?.metadata ?? {};
    return m.namespace ? `${m.namespace}/${m.name}` : String(m.name);
  }

  async run(): Promise<void> {
    const { api, path, signal } = this.o;
    while (!signal.aborted) {
      try {
        const list = await api.get(path, this.o.query);
        this.objs.clear();
        for (const o of list.items ?? []) this.objs.set(Mirror.key(o), this.o.keep ? this.o.keep(o) : o);
        this.synced = true;
        this.o.onChange();
        await api.client.watch(
          path,
          { ...this.o.query, resourceVersion: list.metadata?.resourceVersion ?? "", allowWatchBookmarks: true, timeoutSeconds: 300 + Math.floor(Math.random() * 300) },
          (ev) => {
            if (ev.type === "ERROR") return false; // 410 Expired: relist
            if (ev.type === "BOOKMARK") return;
            const o = ev.object as any;
            const key = Mirror.key(o);
            if (ev.type === "DELETED") this.objs.delete(key);
            else if (this.o.keep) {
              const kept = this.o.keep(o);
              if (Bun.deepEquals(kept, this.objs.get(key))) return; // nothing this reader looks at
              this.objs.set(key, kept);
            } else this.objs.set(key, o);
            this.o.onChange();
          },
          signal,
        );
      } catch (e) {
        if (signal.aborted) return;
        if (!isUnreachable(e)) this.o.log(`${path}: ${(e as Error).message}`);
        await Bun.sleep(this.o.retryMs ?? 2000);
      }
    }
  }
}
