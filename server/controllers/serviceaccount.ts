// ServiceAccount: every active namespace has a `default` ServiceAccount (recreated if deleted).
import { isAlreadyExists } from "./runtime/api";
import { Controller, type ControllerContext } from "./runtime/controller";
import type { Informer } from "./runtime/informer";

export class ServiceAccountController extends Controller {
  private namespaces: Informer;
  private sas: Informer;

  constructor(rt: ControllerContext) {
    super(rt, "serviceaccount", 2);
    this.namespaces = this.informer("namespaces");
    this.sas = this.informer("serviceaccounts");
    this.namespaces.addHandler({ add: (ns) => this.queue.add(ns.metadata.name), update: (_, ns) => this.queue.add(ns.metadata.name) });
    this.sas.addHandler({ delete: (sa) => sa.metadata.name === "default" && this.queue.add(sa.metadata.namespace) });
  }

  async reconcile(name: string): Promise<void> {
    const ns = this.namespaces.get(name);
    if (!ns || ns.metadata.deletionTimestamp || ns.status?.phase === "Terminating") return;
    if (this.sas.getBy(name, "default")) return;
    try {
      await this.api.create("ServiceAccount", name, { metadata: { name: "default", namespace: name } });
    } catch (e) {
      if (isAlreadyExists(e)) return;
      // The namespace started terminating in the meantime.
      if ((e as any)?.code === 403 || (e as any)?.code === 404) return;
      throw e;
    }
  }
}
