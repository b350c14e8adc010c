// Namespace lifecycle: a namespace being deleted has everything in it deleted, then its
// "kubernetes" finalizer removed (namespaces/finalize) so it goes away itself. It reads the
// same metadata-only informers as the garbage collector.
import { findByKind, onRegistryChange, registry as kinds, type RegisteredResource } from "../../schemas/registry";
import { resKeyOf } from "../store/commands";
import { Controller, type ControllerContext } from "./runtime/controller";
import type { Informer } from "./runtime/informer";

/** How long to wait for objects with finalizers or graceful pods before looking again. */
const RECHECK_MS = 1000;

export class NamespaceController extends Controller {
  private namespaces: Informer;
  private contents: { r: RegisteredResource; inf: Informer }[] = [];

  constructor(rt: ControllerContext) {
    super(rt, "namespace", 2);
    this.namespaces = this.informer("namespaces");
    const onNs = (ns: any) => {
      if (ns.metadata.deletionTimestamp) this.queue.add(ns.metadata.name);
    };
    this.namespaces.addHandler({ add: onNs, update: (_, ns) => onNs(ns) });
    this.trackKinds();
    // Custom resources come and go with their CRDs.
    this.unsubscribe = onRegistryChange(() => this.trackKinds());
  }

  private unsubscribe: () => void;

  override stop(): void {
    this.unsubscribe();
    super.stop();
  }

  private trackKinds(): void {
    for (const r of kinds) {
      if (r.conversion) continue; // another version of a kind already listed
      if (!r.namespaced || (r.verbs && !r.verbs.includes("list"))) continue;
      const res = resKeyOf(r.group, r.plural);
      const known = this.contents.find((c) => resKeyOf(c.r.group, c.r.plural) === res);
      if (known) {
        known.r = r;
        continue;
      }
      const inf = this.metadataInformer(res);
      this.contents.push({ r, inf });
      // The last object of a terminating namespace going lets the namespace go.
      inf.addHandler({
        delete: (o) => {
          const ns = o.metadata.namespace;
          if (this.namespaces.getBy("", ns)?.metadata.deletionTimestamp) this.queue.add(ns);
        },
      });
    }
  }

  async reconcile(name: string): Promise<void> {
    const ns = this.namespaces.getBy("", name);
    if (!ns?.metadata?.deletionTimestamp) return;
    let remaining = 0;
    for (const { r, inf } of this.contents) {
      const items = inf.byIndex("namespace", name);
      remaining += items.length;
      for (const o of items) if (!o.metadata.deletionTimestamp) await this.api.delete(r, name, o.metadata.name, { propagationPolicy: "Background" });
    }
    if (remaining > 0) {
      this.queue.addAfter(name, RECHECK_MS);
      return;
    }
    await this.api.update(findByKind("v1", "Namespace")!, "", name, (o) => {
      o.spec = { ...(o.spec ?? {}), finalizers: (o.spec?.finalizers ?? []).filter((f: string) => f !== "kubernetes") };
      if (!o.spec.finalizers.length) delete o.spec.finalizers;
      return o;
    }, { sub: "finalize" });
  }
}
