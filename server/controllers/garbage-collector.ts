// Garbage collector: deletes dependents whose owners are gone (background), blocks an owner
// until its dependents are gone (foreground), or strips ownerReferences (orphan).
import { findByPlural, registry as kinds, type RegisteredResource } from "../../schemas/registry";
import { resKeyOf } from "../store/commands";
import type { Store } from "../store/store";
import type { ChangeEvent } from "../store/watch-window";
import { ApiError } from "../errors";
import { controllerUser, writeCtx, type WriteCtx } from "../registry/ctx";
import type { Registry } from "../registry/registry";
import { WorkQueue } from "./queue";

interface Ref {
  res: string;
  ns: string;
  name: string;
}

const keyOf = (x: Ref) => `${x.res}|${x.ns}|${x.name}`;
const parseKey = (k: string): Ref => {
  const [res, ns, name] = k.split("|");
  return { res: res!, ns: ns!, name: name! };
};

export class GarbageCollector {
  /** owner uid → dependents */
  private dependents = new Map<string, Set<string>>();
  /** uid → object key, for every live object */
  private uids = new Map<string, string>();
  private ownersOf = new Map<string, string[]>();
  private queue: WorkQueue;
  private unsubscribe: () => void;
  private resByKey = new Map<string, RegisteredResource>();

  private readonly store: Store;

  constructor(private readonly registry: Registry) {
    const store = (this.store = registry.store);
    for (const r of kinds) this.resByKey.set(resKeyOf(r.group, r.plural), r);
    this.queue = new WorkQueue((k) => this.process(k), 4, (k, e) => console.error(`garbage collector: ${k}: ${(e as Error).message}`));
    this.unsubscribe = store.onApplied((evs) => this.observe(evs));
    for (const r of kinds) {
      if (r.verbs && !r.verbs.includes("list")) continue;
      const res = resKeyOf(r.group, r.plural);
      for (const o of store.list(res, undefined).items) this.index(res, o);
    }
    // Objects whose owners vanished while we were down, and objects waiting on us.
    for (const [key, owners] of this.ownersOf) if (owners.every((u) => !this.uids.has(u))) this.queue.add(key);
    for (const key of this.uids.values()) this.queue.add(key);
    this.queue.run();
  }

  private index(res: string, o: any): void {
    const key = keyOf({ res, ns: o.metadata?.namespace ?? "", name: o.metadata?.name });
    const uid = o.metadata?.uid;
    if (uid) this.uids.set(uid, key);
    this.unindexOwners(key);
    const owners = (o.metadata?.ownerReferences ?? []).map((r: any) => r.uid).filter(Boolean);
    if (owners.length) {
      this.ownersOf.set(key, owners);
      for (const u of owners) {
        let s = this.dependents.get(u);
        if (!s) this.dependents.set(u, (s = new Set()));
        s.add(key);
      }
    }
  }

  private unindexOwners(key: string): void {
    for (const u of this.ownersOf.get(key) ?? []) {
      const s = this.dependents.get(u);
      s?.delete(key);
      if (s && !s.size) this.dependents.delete(u);
    }
    this.ownersOf.delete(key);
  }

  private observe(events: ChangeEvent[]): void {
    for (const e of events) {
      const key = keyOf(e);
      const uid = e.obj?.metadata?.uid;
      if (e.type === "DELETED") {
        if (uid) this.uids.delete(uid);
        const owners = this.ownersOf.get(key) ?? [];
        this.unindexOwners(key);
        // Owners waiting in foreground deletion may now be free to go.
        for (const u of owners) {
          const ok = this.uids.get(u);
          if (ok) this.queue.add(ok);
        }
        for (const d of this.dependents.get(uid) ?? []) this.queue.add(d);
      } else {
        this.index(e.res, e.obj);
        const fins: string[] = e.obj?.metadata?.finalizers ?? [];
        if (e.obj?.metadata?.deletionTimestamp && (fins.includes("foregroundDeletion") || fins.includes("orphan"))) this.queue.add(key);
        const owners = this.ownersOf.get(key) ?? [];
        if (owners.length && owners.every((u) => !this.uids.has(u))) this.queue.add(key);
      }
    }
  }

  private ctx(): WriteCtx {
    return writeCtx(controllerUser("generic-garbage-collector"), "skiff-garbage-collector");
  }

  private async process(key: string): Promise<void> {
    const ref = parseKey(key);
    const r = this.resByKey.get(ref.res) ?? findByPlural("", "v1", ref.res);
    if (!r) return;
    const cur = this.store.get(ref.res, ref.ns, ref.name);
    if (!cur) return;
    const m = cur.obj.metadata ?? {};
    const fins: string[] = m.finalizers ?? [];
    const deps = [...(this.dependents.get(m.uid) ?? [])];
    if (m.deletionTimestamp && fins.includes("orphan")) {
      for (const d of deps) await this.stripOwner(d, m.uid);
      await this.removeFinalizer(r, ref, "orphan");
      return;
    }
    if (m.deletionTimestamp && fins.includes("foregroundDeletion")) {
      const live = deps.filter((d) => {
        const dr = parseKey(d);
        return !!this.store.get(dr.res, dr.ns, dr.name);
      });
      for (const d of live) await this.deleteDependent(d, "Foreground");
      const blocking = live.filter((d) => {
        const dr = parseKey(d);
        const o = this.store.get(dr.res, dr.ns, dr.name)?.obj;
        return o && (o.metadata?.ownerReferences ?? []).some((x: any) => x.uid === m.uid && x.blockOwnerDeletion);
      });
      if (!blocking.length) await this.removeFinalizer(r, ref, "foregroundDeletion");
      return;
    }
    // A dependent whose every owner is gone is deleted in the background.
    const owners: string[] = (m.ownerReferences ?? []).map((x: any) => x.uid);
    if (owners.length && owners.every((u) => !this.uids.has(u)) && !m.deletionTimestamp) {
      await this.deleteDependent(key, "Background");
    }
  }

  private async deleteDependent(key: string, policy: "Background" | "Foreground"): Promise<void> {
    const ref = parseKey(key);
    const r = this.resByKey.get(ref.res);
    if (!r) return;
    try {
      await this.registry.delete(this.ctx(), r, ref.ns, ref.name, { propagationPolicy: policy });
    } catch (e) {
      if (!(e instanceof ApiError && e.code === 404)) throw e;
    }
  }

  private async stripOwner(key: string, uid: string): Promise<void> {
    const ref = parseKey(key);
    const r = this.resByKey.get(ref.res);
    if (!r) return;
    try {
      await this.registry.update(this.ctx(), r, ref.ns, ref.name, (o) => {
        o.metadata.ownerReferences = (o.metadata.ownerReferences ?? []).filter((x: any) => x.uid !== uid);
        if (!o.metadata.ownerReferences.length) delete o.metadata.ownerReferences;
        return o;
      });
    } catch (e) {
      if (!(e instanceof ApiError && e.code === 404)) throw e;
    }
  }

  private async removeFinalizer(r: RegisteredResource, ref: Ref, f: string): Promise<void> {
    try {
      await this.registry.update(this.ctx(), r, ref.ns, ref.name, (o) => {
        o.metadata.finalizers = (o.metadata.finalizers ?? []).filter((x: string) => x !== f);
        if (!o.metadata.finalizers.length) delete o.metadata.finalizers;
        return o;
      });
    } catch (e) {
      if (!(e instanceof ApiError && e.code === 404)) throw e;
    }
  }

  stop(): void {
    this.unsubscribe();
    this.queue.stop();
  }
}
