// Garbage collector: deletes dependents whose owners are gone (background), blocks an owner
// until its dependents are gone (foreground), or strips ownerReferences (orphan). It reads
// metadata-only informers of every listable kind (upstream's GC does the same), keyed
// "res|ns|name".
import { findByKind, onRegistryChange, registry as kinds, type RegisteredResource } from "../../schemas/registry";
import { resKeyOf } from "../store/commands";
import { Controller, type ControllerContext } from "./runtime/controller";
import type { Informer } from "./runtime/informer";

const keyOf = (res: string, o: any) => `${res}|${o.metadata?.namespace ?? ""}|${o.metadata?.name}`;
const parseKey = (k: string) => {
  const [res, ns, name] = k.split("|");
  return { res: res!, ns: ns!, name: name! };
};
const ownerUids = (o: any): string[] => (o?.metadata?.ownerReferences ?? []).map((r: any) => r.uid).filter(Boolean);

export class GarbageCollector extends Controller {
  private kinds = new Map<string, { r: RegisteredResource; inf: Informer }>();
  /** uid → key of every live object, across kinds. */
  private uids = new Map<string, string>();

  private unsubscribe: () => void;

  constructor(rt: ControllerContext) {
    super(rt, "garbagecollector");
    this.trackKinds();
    // Custom resources come and go with their CRDs.
    this.unsubscribe = onRegistryChange(() => this.trackKinds());
  }

  private trackKinds(): void {
    for (const r of kinds) {
      if (r.conversion) continue; // another version of a kind already listed
      if (r.verbs && !r.verbs.includes("list")) continue;
      const res = resKeyOf(r.group, r.plural);
      const known = this.kinds.get(res);
      if (known) {
        known.r = r;
        continue;
      }
      const inf = this.metadataInformer(res);
      this.kinds.set(res, { r, inf });
      inf.addHandler({ add: (o) => this.observe(res, o), update: (_, o) => this.observe(res, o), delete: (o) => this.gone(o) });
    }
  }

  override stop(): void {
    this.unsubscribe();
    super.stop();
  }

  private observe(res: string, o: any): void {
    const key = keyOf(res, o);
    const m = o.metadata;
    if (m.uid) this.uids.set(m.uid, key);
    const fins: string[] = m.finalizers ?? [];
    if (m.deletionTimestamp && (fins.includes("foregroundDeletion") || fins.includes("orphan"))) this.queue.add(key);
    if (this.ownersGone(o)) this.queue.add(key);
  }

  private gone(o: any): void {
    this.uids.delete(o.metadata.uid);
    // Owners waiting in foreground deletion may now be free to go; dependents may be orphans.
    for (const u of ownerUids(o)) {
      const k = this.uids.get(u);
      if (k) this.queue.add(k);
    }
    for (const d of this.dependents(o.metadata.uid)) this.queue.add(d);
  }

  private ownersGone(o: any): boolean {
    const refs: any[] = (o?.metadata?.ownerReferences ?? []).filter((r: any) => r?.uid);
    // An owner of a kind this server does not serve (a CRD not yet established) is not known
    // to be gone: upstream's collector cannot resolve it either and leaves the dependent alone.
    return refs.length > 0 && refs.every((r) => !this.uids.has(r.uid) && findByKind(r.apiVersion, r.kind) !== undefined);
  }

  /** Keys of every object with an ownerReference to uid. */
  private dependents(uid: string): string[] {
    const out: string[] = [];
    for (const [res, { inf }] of this.kinds) for (const o of inf.byIndex("owner", uid)) out.push(keyOf(res, o));
    return out;
  }

  private lookup(key: string): { r: RegisteredResource; obj: any } | undefined {
    const { res, ns, name } = parseKey(key);
    const k = this.kinds.get(res);
    const obj = k?.inf.getBy(ns, name);
    return k && obj ? { r: k.r, obj } : undefined;
  }

  /** Objects whose owners vanished while no collector ran. */
  protected override onSynced(): void {
    for (const [res, { inf }] of this.kinds) for (const o of inf.list()) if (this.ownersGone(o)) this.queue.add(keyOf(res, o));
  }

  async reconcile(key: string): Promise<void> {
    const cur = this.lookup(key);
    if (!cur) return;
    const { ns, name } = parseKey(key);
    const m = cur.obj.metadata;
    const fins: string[] = m.finalizers ?? [];
    if (m.deletionTimestamp && fins.includes("orphan")) {
      for (const d of this.dependents(m.uid)) await this.stripOwner(d, m.uid);
      await this.removeFinalizer(cur.r, ns, name, "orphan");
      return;
    }
    if (m.deletionTimestamp && fins.includes("foregroundDeletion")) {
      for (const d of this.dependents(m.uid)) {
        const dep = this.lookup(d);
        if (dep && !dep.obj.metadata.deletionTimestamp) await this.api.delete(dep.r, dep.obj.metadata.namespace ?? "", dep.obj.metadata.name, { propagationPolicy: "Foreground" });
      }
      // The caches follow every applied write, so they show what is left after those deletes.
      const blocking = this.dependents(m.uid).some((d) => (this.lookup(d)?.obj.metadata.ownerReferences ?? []).some((x: any) => x.uid === m.uid && x.blockOwnerDeletion));
      if (!blocking) await this.removeFinalizer(cur.r, ns, name, "foregroundDeletion");
      return;
    }
    // A dependent whose every owner is gone is deleted in the background.
    if (this.ownersGone(cur.obj) && !m.deletionTimestamp) await this.api.delete(cur.r, ns, name, { propagationPolicy: "Background" });
  }

  private async stripOwner(key: string, uid: string): Promise<void> {
    const dep = this.lookup(key);
    if (!dep) return;
    await this.api.update(dep.r, dep.obj.metadata.namespace ?? "", dep.obj.metadata.name, (o) => {
      o.metadata.ownerReferences = (o.metadata.ownerReferences ?? []).filter((x: any) => x.uid !== uid);
      if (!o.metadata.ownerReferences.length) delete o.metadata.ownerReferences;
      return o;
    });
  }

  private async removeFinalizer(r: RegisteredResource, ns: string, name: string, f: string): Promise<void> {
    await this.api.update(r, ns, name, (o) => {
      o.metadata.finalizers = (o.metadata.finalizers ?? []).filter((x: string) => x !== f);
      if (!o.metadata.finalizers.length) delete o.metadata.finalizers;
      return o;
    });
  }
}
