// status.loadBalancer.ingress of the Ingresses Skiff serves (class `skiff`, or any class whose
// controller is skiff.io/ingress, or none while that class is the default): the addresses of
// the Ready nodes whose agent runs the ingress proxy (they say so in an annotation on their
// Node, with its ports), as K3s shows its Traefik's addresses.
import { INGRESS_PORTS_ANNOTATION, isOurIngress, nodeAddress, nodeReady, ourClasses } from "../../lib/networking";
import { Controller, type ControllerContext } from "./runtime/controller";
import { objKey, splitKey, type Informer } from "./runtime/informer";

/** Addresses of the nodes serving ingress, sorted. */
export function ingressAddresses(nodes: any[]): string[] {
  const out = new Set<string>();
  for (const n of nodes) if (nodeReady(n) && n.metadata.annotations?.[INGRESS_PORTS_ANNOTATION] && nodeAddress(n)) out.add(nodeAddress(n)!);
  return [...out].sort();
}

export class IngressStatusController extends Controller {
  private ingresses: Informer;
  private classes: Informer;
  private nodes: Informer;

  constructor(rt: ControllerContext) {
    super(rt, "ingressstatus", 2);
    this.ingresses = this.informer("networking.k8s.io/ingresses");
    this.classes = this.informer("networking.k8s.io/ingressclasses");
    this.nodes = this.informer("nodes");
    const one = (i: any) => this.queue.add(objKey(i));
    const all = () => {
      for (const i of this.ingresses.list()) one(i);
    };
    this.ingresses.addHandler({ add: one, update: (_, i) => one(i) });
    this.classes.addHandler({ add: all, update: all, delete: all });
    this.nodes.addHandler({ add: all, update: (o, n) => (ingressAddresses([o]).join() !== ingressAddresses([n]).join() ? all() : undefined), delete: all });
  }

  protected override onSynced(): void {
    for (const i of this.ingresses.list()) this.queue.add(objKey(i));
  }

  async reconcile(key: string): Promise<void> {
    const ing = this.ingresses.get(key);
    if (!ing || ing.metadata.deletionTimestamp || !isOurIngress(ing, ourClasses(this.classes.list()))) return;
    const want = ingressAddresses(this.nodes.list()).map((ip) => ({ ip }));
    if (JSON.stringify(ing.status?.loadBalancer?.ingress ?? []) === JSON.stringify(want)) return;
    const { ns, name } = splitKey(key);
    await this.api.updateStatus("Ingress", ns, name, (cur) => {
      cur.status = { ...(cur.status ?? {}), loadBalancer: want.length ? { ingress: want } : {} };
      return cur;
    });
  }
}
