// Root CA publisher: every active namespace has the kube-root-ca.crt ConfigMap with the cluster
// CA (ca.crt), which the ServiceAccount admission's projected volume mounts for in-cluster clients;
// recreated when deleted, put back when changed (kube-controller-manager's root-ca-cert-publisher).
import { isAlreadyExists } from "./runtime/api";
import { Controller, type ControllerContext } from "./runtime/controller";
import type { Informer } from "./runtime/informer";

export const ROOT_CA_CONFIGMAP = "kube-root-ca.crt";
const DESCRIPTION =
  "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

export class RootCaPublisher extends Controller {
  private namespaces: Informer;
  private configmaps: Informer;

  constructor(rt: ControllerContext, private readonly caPem: string) {
    super(rt, "root-ca-cert-publisher", 2);
    this.namespaces = this.informer("namespaces");
    this.configmaps = this.informer("configmaps");
    this.namespaces.addHandler({ add: (ns) => this.queue.add(ns.metadata.name), update: (_, ns) => this.queue.add(ns.metadata.name) });
    const mine = (cm: any) => cm.metadata.name === ROOT_CA_CONFIGMAP && this.queue.add(cm.metadata.namespace);
    this.configmaps.addHandler({ update: (_, cm) => mine(cm), delete: mine });
  }

  async reconcile(name: string): Promise<void> {
    const ns = this.namespaces.get(name);
    if (!ns || ns.metadata.deletionTimestamp || ns.status?.phase === "Terminating") return;
    const cm = this.configmaps.getBy(name, ROOT_CA_CONFIGMAP);
    if (cm?.data?.["ca.crt"] === this.caPem) return;
    try {
      if (!cm) {
        await this.api.create("ConfigMap", name, { metadata: { name: ROOT_CA_CONFIGMAP, namespace: name, annotations: { "kubernetes.io/description": DESCRIPTION } }, data: { "ca.crt": this.caPem } });
      } else {
        await this.api.update("ConfigMap", name, ROOT_CA_CONFIGMAP, (cur) => ({ ...cur, data: { "ca.crt": this.caPem } }));
      }
    } catch (e) {
      if (isAlreadyExists(e)) return;
      // The namespace started terminating, or the map went away, in the meantime: the next event retries.
      if ((e as any)?.code === 403 || (e as any)?.code === 404) return;
      throw e;
    }
  }
}
