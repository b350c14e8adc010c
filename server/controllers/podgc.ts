// Pod garbage collection: pods bound to nodes that no longer exist are deleted at once (no
// kubelet will ever finish them), and terminating pods on such nodes are force-deleted.
import { Controller, type ControllerContext } from "./runtime/controller";
import { objKey, splitKey, type Informer } from "./runtime/informer";

export class PodGCController extends Controller {
  private pods: Informer;
  private nodes: Informer;

  constructor(rt: ControllerContext) {
    super(rt, "podgc", 4);
    this.pods = this.informer("pods").addIndexer("node", (p) => (p.spec?.nodeName ? [p.spec.nodeName] : []));
    this.nodes = this.informer("nodes");
    this.nodes.addHandler({
      delete: (n) => {
        // Give a re-registering node a moment before its pods go.
        setTimeout(() => {
          for (const p of this.pods.byIndex("node", n.metadata.name)) this.queue.add(objKey(p));
        }, 2000).unref?.();
      },
    });
  }

  protected override onSynced(): void {
    for (const p of this.pods.list()) if (p.spec?.nodeName && !this.nodes.getBy("", p.spec.nodeName)) this.queue.addAfter(objKey(p), 5000);
  }

  async reconcile(key: string): Promise<void> {
    const p = this.pods.get(key);
    if (!p?.spec?.nodeName || this.nodes.getBy("", p.spec.nodeName)) return;
    const { ns, name } = splitKey(key);
    await this.api.delete("Pod", ns, name, { gracePeriodSeconds: 0, preconditions: { uid: p.metadata.uid } });
  }
}
