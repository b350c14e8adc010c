// Endpoints (v1): for every Service with a selector, an Endpoints object of the same name with
// the matching pods' IPs, ready ones in `addresses`, the others in `notReadyAddresses`
// (publishNotReadyAddresses: all ready), grouped into subsets by identical port sets, as the
// kube-controller-manager's endpoints controller writes it. A Service without a selector keeps
// whatever Endpoints its user writes. Unchanged content is not written again.
import { isConflict } from "./runtime/api";
import { Controller, type ControllerContext } from "./runtime/controller";
import { objKey, splitKey, type Informer } from "./runtime/informer";
import { backendsOf, hostnameFor, managesEndpoints, onSelectedPods, podRef, portsKey, type ServicePort } from "./service-pods";
import { stableJson } from "./runtime/pods";

function endpointsSubsets(svc: any, pods: any[]): any[] {
  const publishAll = !!svc.spec?.publishNotReadyAddresses;
  const groups = new Map<string, { ports: ServicePort[]; ready: any[]; notReady: any[] }>();
  for (const b of backendsOf(svc, pods, publishAll)) {
    const key = portsKey(b.ports);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { ports: b.ports, ready: [], notReady: [] }));
    const hostname = hostnameFor(svc, b.pod);
    const addr = { ip: b.ip, ...(hostname ? { hostname } : {}), ...(b.pod.spec?.nodeName ? { nodeName: b.pod.spec.nodeName } : {}), targetRef: podRef(b.pod) };
    (b.ready || publishAll ? g.ready : g.notReady).push(addr);
  }
  const byIp = (a: any, b: any) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0);
  return [...groups.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, g]) => ({
      ...(g.ready.length ? { addresses: g.ready.sort(byIp) } : {}),
      ...(g.notReady.length ? { notReadyAddresses: g.notReady.sort(byIp) } : {}),
      ports: g.ports.map((p) => ({ ...(p.name ? { name: p.name } : {}), port: p.port, protocol: p.protocol, ...(p.appProtocol ? { appProtocol: p.appProtocol } : {}) })),
    }));
}

export class EndpointsController extends Controller {
  private services: Informer;
  private pods: Informer;
  private endpoints: Informer;

  constructor(rt: ControllerContext) {
    super(rt, "endpoints", 4);
    this.services = this.informer("services");
    this.pods = this.informer("pods");
    this.endpoints = this.informer("endpoints");
    const enqueue = (o: any) => this.queue.add(objKey(o));
    this.services.addHandler({ add: enqueue, update: (_, o) => enqueue(o), delete: enqueue });
    // Someone else changed or deleted an Endpoints object of a selector Service: put it back.
    // (Endpoints without a Service are left alone: they may be waiting for theirs.)
    const onEndpoints = (e: any) => {
      const svc = this.services.get(objKey(e));
      if (svc && managesEndpoints(svc)) enqueue(e);
    };
    this.endpoints.addHandler({ update: (_, o) => onEndpoints(o), delete: onEndpoints });
    onSelectedPods(this.pods, this.services, enqueue);
  }

  /** Endpoints left from Services deleted while no controller ran (upstream's leftover sweep). */
  protected override onSynced(): void {
    for (const e of this.endpoints.list()) if (!this.services.get(objKey(e)) && objKey(e) !== "default/kubernetes") this.queue.add(objKey(e));
  }

  async reconcile(key: string): Promise<void> {
    const { ns, name } = splitKey(key);
    const svc = this.services.get(key);
    const cur = this.endpoints.get(key);
    if (!svc) {
      // The Service is gone: so are its Endpoints (they carry no owner reference upstream either).
      if (cur && !(ns === "default" && name === "kubernetes")) await this.api.delete("Endpoints", ns, name);
      return;
    }
    if (!managesEndpoints(svc)) return;
    const subsets = endpointsSubsets(svc, this.pods.byIndex("namespace", ns));
    const labels: Record<string, string> = { ...(svc.metadata.labels ?? {}) };
    if (svc.spec?.clusterIP === "None") labels["service.kubernetes.io/headless"] = "";
    const same = (e: any) => stableJson(e.subsets ?? []) === stableJson(subsets) && stableJson(e.metadata.labels ?? {}) === stableJson(labels);
    if (cur && same(cur)) return;
    if (!cur) {
      try {
        await this.api.create("Endpoints", ns, { metadata: { name, namespace: ns, labels }, subsets });
        return;
      } catch (e) {
        if (!isConflict(e)) throw e; // created meanwhile: update it below
      }
    }
    await this.api.update("Endpoints", ns, name, (e) => {
      e.subsets = subsets;
      e.metadata.labels = labels;
      return e;
    });
  }
}
