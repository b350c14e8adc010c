// CustomResourceDefinition deletion (apiextensions' finalizer controller): a CRD marked for
// deletion has all its custom resources deleted, then its cleanup finalizer removed so it goes.
import { findByKind, registry as kinds } from "../../schemas/registry";
import { CRD_CLEANUP_FINALIZER } from "../registry/kinds/crds";
import { CRD_KEY } from "../registry/kinds/custom-resources";
import { resKeyOf } from "../store/commands";
import { Controller, type ControllerContext } from "./runtime/controller";
import type { Informer } from "./runtime/informer";

const RECHECK_MS = 500;

export class CrdCleanupController extends Controller {
  private crds: Informer;

  constructor(rt: ControllerContext) {
    super(rt, "crd-cleanup", 2);
    this.crds = this.informer(CRD_KEY);
    const on = (crd: any) => {
      if (crd.metadata.deletionTimestamp && (crd.metadata.finalizers ?? []).includes(CRD_CLEANUP_FINALIZER)) this.queue.add(crd.metadata.name);
    };
    this.crds.addHandler({ add: on, update: (_, crd) => on(crd) });
  }

  async reconcile(name: string): Promise<void> {
    const crd = this.crds.getBy("", name);
    if (!crd?.metadata?.deletionTimestamp || !(crd.metadata.finalizers ?? []).includes(CRD_CLEANUP_FINALIZER)) return;
    // A CRD whose names were never accepted served nothing, so it has nothing to delete.
    const r = kinds.find((k) => k.crd === name);
    let remaining = 0;
    if (r) {
      const items = this.rt.store.list(resKeyOf(r.group, r.plural), undefined).items;
      remaining = items.length;
      for (const o of items) if (!o.metadata.deletionTimestamp) await this.api.delete(r, o.metadata.namespace ?? "", o.metadata.name, { propagationPolicy: "Background" });
    }
    if (remaining > 0) {
      this.queue.addAfter(name, RECHECK_MS);
      return;
    }
    await this.api.update(findByKind("apiextensions.k8s.io/v1", "CustomResourceDefinition")!, "", name, (o) => {
      o.metadata.finalizers = (o.metadata.finalizers ?? []).filter((f: string) => f !== CRD_CLEANUP_FINALIZER);
      if (!o.metadata.finalizers.length) delete o.metadata.finalizers;
      return o;
    });
  }
}
