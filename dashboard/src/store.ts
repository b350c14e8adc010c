// Watched collections shared by every view: one list+watch per (resource, namespace), kept
// while a view uses it (and half a minute after, so moving between views does not relist).
import { useEffect, useMemo, useState } from "preact/hooks";
import { ApiError, listWatch, type Res } from "./api";

export interface CollectionState {
  items: any[];
  synced: boolean;
  error?: ApiError;
  /** Set while a watch reconnects after a transient failure. */
  reconnecting?: boolean;
}

const keyOf = (o: any) => `${o.metadata?.namespace ?? ""}/${o.metadata?.name}`;

class Collection {
  map = new Map<string, any>();
  synced = false;
  error?: ApiError;
  reconnecting = false;
  version = 0;
  refs = 0;
  subs = new Set<() => void>();
  stopWatch?: () => void;
  idle?: ReturnType<typeof setTimeout>;
  snapshot?: { version: number; state: CollectionState };
  release?: () => void;

  constructor(
    private res: Res,
    private ns: string | undefined,
    private query: string,
  ) {}

  start(): void {
    this.stopWatch = listWatch(
      this.res,
      this.ns,
      {
        reset: (items) => {
          this.map = new Map(items.map((o) => [keyOf(o), o]));
          this.synced = true;
          this.error = undefined;
          this.reconnecting = false;
          this.changed();
        },
        event: (type, obj) => {
          if (type === "DELETED") this.map.delete(keyOf(obj));
          else this.map.set(keyOf(obj), obj);
          this.reconnecting = false;
          this.changed();
        },
        error: (e, final) => {
          this.error = final ? e : undefined;
          this.reconnecting = !final;
          this.changed();
        },
      },
      this.query,
    );
  }

  changed(): void {
    this.version++;
    for (const s of this.subs) s();
    for (const s of activity) s();
  }

  state(): CollectionState {
    if (this.snapshot?.version !== this.version) {
      this.snapshot = { version: this.version, state: { items: [...this.map.values()], synced: this.synced, error: this.error, reconnecting: this.reconnecting } };
    }
    return this.snapshot.state;
  }
}

const collections = new Map<string, Collection>();
const activity = new Set<() => void>();

/** Called after any watched change anywhere (the control plane view refreshes on it). */
export function onActivity(cb: () => void): () => void {
  activity.add(cb);
  return () => activity.delete(cb);
}

function acquire(res: Res, ns: string | undefined, query: string): Collection {
  const key = `${res.group}/${res.version}/${res.plural}|${ns ?? ""}|${query}`;
  let c = collections.get(key);
  if (!c) {
    c = new Collection(res, ns, query);
    collections.set(key, c);
    c.start();
  }
  if (c.idle) clearTimeout(c.idle);
  c.idle = undefined;
  c.refs++;
  const col = c;
  col.release = () => {
    if (--col.refs > 0) return;
    col.idle = setTimeout(() => {
      col.stopWatch?.();
      collections.delete(key);
    }, 30_000);
  };
  return c;
}

/** Stops every watch (sign-out). */
export function dropAll(): void {
  for (const c of collections.values()) {
    if (c.idle) clearTimeout(c.idle);
    c.stopWatch?.();
  }
  collections.clear();
}

/** Re-renders (at most once a frame) on changes; `res` undefined = nothing to watch. */
export function useCollection(res: Res | undefined, ns?: string, query = ""): CollectionState {
  const [, setTick] = useState(0);
  const namespace = res?.namespaced && ns ? ns : undefined;
  const key = res ? `${res.group}/${res.plural}|${namespace ?? ""}|${query}` : "";
  const [col, setCol] = useState<Collection | undefined>(undefined);
  useEffect(() => {
    if (!res) return;
    const c = acquire(res, namespace, query);
    setCol(c);
    let frame = 0;
    const sub = () => {
      if (!frame) frame = requestAnimationFrame(() => ((frame = 0), setTick((t) => t + 1)));
    };
    c.subs.add(sub);
    return () => {
      c.subs.delete(sub);
      if (frame) cancelAnimationFrame(frame);
      c.release?.();
      setCol(undefined);
    };
  }, [key]);
  const empty = useMemo<CollectionState>(() => ({ items: [], synced: false }), []);
  return col ? col.state() : empty;
}
