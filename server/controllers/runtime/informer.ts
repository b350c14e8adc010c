// Informers over the in-process Store: list, then watch from the list's revision, keeping a
// cache and secondary indexes, and calling event handlers (which usually enqueue keys).
// The store delivers watch events synchronously while a write is applied, so by the time a
// controller's write resolves, every informer has already seen it: no "expectations"
// bookkeeping is needed to avoid acting twice on a stale cache. The first list waits for a
// linearizable read barrier (a new Raft leader may not have applied everything committed yet),
// and `synced` resolves once it is in the cache: controllers wait for it before they act.
import type { ResKey } from "../../store/commands";
import { ExpiredError, type Store } from "../../store/store";

type IndexFn = (obj: any) => string[];

export interface Handlers {
  add?: (obj: any) => void;
  update?: (old: any, obj: any) => void;
  delete?: (obj: any) => void;
}

export const objKey = (obj: any): string => {
  const ns = obj?.metadata?.namespace;
  return ns ? `${ns}/${obj.metadata.name}` : obj?.metadata?.name;
};

export function splitKey(key: string): { ns: string; name: string } {
  const i = key.indexOf("/");
  return i < 0 ? { ns: "", name: key } : { ns: key.slice(0, i), name: key.slice(i + 1) };
}

const byNamespace: IndexFn = (o) => [o?.metadata?.namespace ?? ""];
const byOwnerUid: IndexFn = (o) => (o?.metadata?.ownerReferences ?? []).map((r: any) => r.uid).filter(Boolean);

export class Informer {
  private cache = new Map<string, any>();
  private indexers = new Map<string, IndexFn>();
  private indexes = new Map<string, Map<string, Set<string>>>();
  private handlers: Handlers[] = [];
  private cancel?: () => void;
  private started = false;
  private stopped = false;
  private markSynced!: () => void;
  /** Resolves once the first list is in the cache (client-go's HasSynced). */
  readonly synced: Promise<void> = new Promise((r) => (this.markSynced = r));
  hasSynced = false;
  rev = 0;

  constructor(
    private readonly store: Store,
    readonly res: ResKey,
    /** What the cache keeps of each object (all of it by default). */
    private readonly transform: (obj: any) => any = (o) => o,
  ) {}

  addIndexer(name: string, fn: IndexFn): this {
    if (this.indexers.has(name)) return this;
    this.indexers.set(name, fn);
    const idx = new Map<string, Set<string>>();
    this.indexes.set(name, idx);
    for (const [k, o] of this.cache) for (const v of fn(o)) addTo(idx, v, k);
    return this;
  }

  addHandler(h: Handlers): () => void {
    this.handlers.push(h);
    // Late handlers see the current state as adds, like client-go's shared informers.
    if (this.started && h.add) for (const o of this.cache.values()) h.add(o);
    return () => {
      this.handlers = this.handlers.filter((x) => x !== h);
    };
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    void this.firstList();
  }

  private async firstList(): Promise<void> {
    for (let delay = 50; ; delay = Math.min(delay * 2, 2000)) {
      if (this.stopped) return;
      try {
        await this.store.readBarrier();
        break;
      } catch {
        // Not leader any more, or no quorum yet: whoever runs us stops us, or the barrier heals.
        await new Promise((r) => setTimeout(r, delay));
      }
    }
    if (this.stopped) return;
    this.relist();
    this.hasSynced = true;
    this.markSynced();
  }

  /** List everything and start watching from that revision; replaces the cache. */
  private relist(): void {
    this.cancel?.();
    const page = this.store.list(this.res, undefined);
    const seen = new Set<string>();
    for (const o of page.items) {
      const k = objKey(o);
      seen.add(k);
      this.upsert(k, o);
    }
    for (const [k, o] of [...this.cache]) if (!seen.has(k)) this.remove(k, o);
    this.rev = page.rev;
    try {
      this.cancel = this.store.watch(
        {
          res: this.res,
          match: () => true,
          send: (type, obj, rev) => {
            this.rev = rev;
            const k = objKey(obj);
            if (type === "DELETED") this.remove(k, this.cache.get(k) ?? this.transform(obj));
            else this.upsert(k, obj);
          },
        },
        page.rev,
      );
    } catch (e) {
      if (e instanceof ExpiredError) {
        queueMicrotask(() => this.relist());
        return;
      }
      throw e;
    }
  }

  private upsert(k: string, full: any): void {
    const obj = this.transform(full);
    const old = this.cache.get(k);
    if (old && old.metadata?.resourceVersion === obj.metadata?.resourceVersion && old.metadata?.uid === obj.metadata?.uid) return;
    if (old) this.unindex(k, old);
    this.cache.set(k, obj);
    for (const [name, fn] of this.indexers) {
      const idx = this.indexes.get(name)!;
      for (const v of fn(obj)) addTo(idx, v, k);
    }
    for (const h of this.handlers) {
      try {
        if (old) h.update?.(old, obj);
        else h.add?.(obj);
      } catch (e) {
        console.error(`informer ${this.res}: handler failed: ${(e as Error).stack}`);
      }
    }
  }

  private remove(k: string, obj: any): void {
    const old = this.cache.get(k);
    if (!old) return;
    this.unindex(k, old);
    this.cache.delete(k);
    for (const h of this.handlers) {
      try {
        h.delete?.(obj);
      } catch (e) {
        console.error(`informer ${this.res}: handler failed: ${(e as Error).stack}`);
      }
    }
  }

  private unindex(k: string, obj: any): void {
    for (const [name, fn] of this.indexers) {
      const idx = this.indexes.get(name)!;
      for (const v of fn(obj)) {
        const s = idx.get(v);
        s?.delete(k);
        if (s && !s.size) idx.delete(v);
      }
    }
  }

  get(key: string): any | undefined {
    return this.cache.get(key);
  }

  getBy(ns: string, name: string): any | undefined {
    return this.cache.get(ns ? `${ns}/${name}` : name);
  }

  list(): any[] {
    return [...this.cache.values()];
  }

  get size(): number {
    return this.cache.size;
  }

  byIndex(name: string, value: string): any[] {
    const idx = this.indexes.get(name);
    if (!idx) throw new Error(`informer ${this.res}: no index ${name}`);
    const out: any[] = [];
    for (const k of idx.get(value) ?? []) {
      const o = this.cache.get(k);
      if (o) out.push(o);
    }
    return out;
  }

  stop(): void {
    this.stopped = true;
    this.cancel?.();
    this.cancel = undefined;
    this.handlers = [];
  }
}

/** Resolves once every informer has synced (client-go's WaitForCacheSync). */
export function waitForCacheSync(informers: Iterable<Informer>): Promise<void> {
  return Promise.all([...informers].map((i) => i.synced)).then(() => {});
}

function addTo(idx: Map<string, Set<string>>, v: string, k: string): void {
  let s = idx.get(v);
  if (!s) idx.set(v, (s = new Set()));
  s.add(k);
}

/**
 * The metadata of an object (upstream's PartialObjectMetadata): what the garbage collector and
 * the namespace controller need of every kind, without caching whole objects.
 */
function metadataOnly(o: any): any {
  const m = o?.metadata ?? {};
  const meta: any = { name: m.name, uid: m.uid, resourceVersion: m.resourceVersion };
  if (m.namespace) meta.namespace = m.namespace;
  if (m.ownerReferences) meta.ownerReferences = m.ownerReferences;
  if (m.finalizers) meta.finalizers = m.finalizers;
  if (m.deletionTimestamp) meta.deletionTimestamp = m.deletionTimestamp;
  return { apiVersion: o?.apiVersion, kind: o?.kind, metadata: meta };
}

/** One informer per resource (and one metadata-only informer), shared by every controller in the process. */
export class InformerFactory {
  private informers = new Map<string, Informer>();
  private started = false;
  constructor(private readonly store: Store) {}

  for(res: ResKey): Informer {
    return this.get(res, res, (o) => o);
  }

  /** An informer whose cache holds only metadataOnly() of each object. */
  metadata(res: ResKey): Informer {
    return this.get(`metadata:${res}`, res, metadataOnly);
  }

  private get(key: string, res: ResKey, transform: (o: any) => any): Informer {
    let inf = this.informers.get(key);
    if (!inf) {
      inf = new Informer(this.store, res, transform).addIndexer("namespace", byNamespace).addIndexer("owner", byOwnerUid);
      this.informers.set(key, inf);
      if (this.started) inf.start();
    }
    return inf;
  }

  start(): void {
    this.started = true;
    for (const i of this.informers.values()) i.start();
  }

  stop(): void {
    this.started = false;
    for (const i of this.informers.values()) i.stop();
  }
}
