// EndpointSlices (discovery.k8s.io/v1): for every Service with a selector, slices named
// `<service>-<random>` holding the matching pods (ready/serving/terminating conditions,
// terminating pods included), one address family and one port set per slice, at most 100
// endpoints each, owned by the Service (garbage-collected with it) and labelled
// `kubernetes.io/service-name` and `endpointslice.kubernetes.io/managed-by`. Existing slices
// are reused by port set and address family; unchanged ones are not written. A Service without
// a selector gets its Endpoints mirrored instead (endpointslicemirroring), so `default/kubernetes`
// and hand-written Endpoints have slices too, which is what the agents' service proxy reads.
import { controllerRef } from "./runtime/api";
import { Controller, type ControllerContext } from "./runtime/controller";
import { objKey, splitKey, type Informer } from "./runtime/informer";
import { isReady, stableJson } from "./runtime/pods";
import { backendsOf, hostnameFor, managesEndpoints, onSelectedPods, podRef, portsKey, toServicePort, type ServicePort } from "./service-pods";

const MANAGED_BY = "endpointslice.kubernetes.io/managed-by";
const CONTROLLER_NAME = "endpointslice-controller.k8s.io";
/** Slices mirrored from the Endpoints of a Service without a selector (`default/kubernetes`). */
const MIRROR_NAME = "endpointslicemirroring-controller.k8s.io";
const SERVICE_NAME = "kubernetes.io/service-name";
const MAX_ENDPOINTS = 100;

interface Desired {
  addressType: "IPv4" | "IPv6";
  ports: ServicePort[];
  endpoints: any[];
  key: string;
}

/** Endpoints grouped by address family and port set, cut into slices of MAX_ENDPOINTS. */
class SliceGroups {
  private readonly groups = new Map<string, Desired>();

  add(ip: string, ports: ServicePort[], endpoint: any): void {
    const addressType = ip.includes(":") ? "IPv6" : "IPv4";
    const key = `${addressType} ${portsKey(ports)}`;
    let g = this.groups.get(key);
    if (!g) this.groups.set(key, (g = { addressType, ports, endpoints: [], key }));
    g.endpoints.push(endpoint);
  }

  get size(): number {
    return this.groups.size;
  }

  slices(): Desired[] {
    const out: Desired[] = [];
    for (const g of [...this.groups.values()].sort((a, b) => (a.key < b.key ? -1 : 1))) {
      for (let i = 0; i < g.endpoints.length; i += MAX_ENDPOINTS) out.push({ ...g, endpoints: g.endpoints.slice(i, i + MAX_ENDPOINTS) });
    }
    return out;
  }
}

function desiredSlices(svc: any, pods: any[]): Desired[] {
  const publishAll = !!svc.spec?.publishNotReadyAddresses;
  const groups = new SliceGroups();
  for (const b of backendsOf(svc, pods, true)) {
    const hostname = hostnameFor(svc, b.pod);
    groups.add(b.ip, b.ports, {
      addresses: [b.ip],
      // upstream's podToEndpoint: serving = ready as the kubelet says; ready never while terminating
      conditions: { ready: publishAll || (isReady(b.pod) && !b.terminating), serving: publishAll || isReady(b.pod), terminating: b.terminating },
      ...(hostname ? { hostname } : {}),
      ...(b.pod.spec?.nodeName ? { nodeName: b.pod.spec.nodeName } : {}),
      targetRef: podRef(b.pod),
    });
  }
  // A selector Service with no backends still gets one empty slice (so readers see "none").
  if (!groups.size) return [{ addressType: "IPv4", ports: [], endpoints: [], key: `IPv4 ${portsKey([])}` }];
  return groups.slices();
}

/** The Endpoints of a selector-less Service as slices (the endpointslicemirroring controller). */
function mirroredSlices(endpoints: any): Desired[] {
  const groups = new SliceGroups();
  for (const ss of endpoints?.subsets ?? []) {
    const ports: ServicePort[] = (ss.ports ?? []).map(toServicePort);
    const add = (a: any, ready: boolean) =>
      groups.add(a.ip, ports, {
        addresses: [a.ip],
        conditions: { ready },
        ...(a.hostname ? { hostname: a.hostname } : {}),
        ...(a.nodeName ? { nodeName: a.nodeName } : {}),
        ...(a.targetRef ? { targetRef: a.targetRef } : {}),
      });
    for (const a of ss.addresses ?? []) add(a, true);
    for (const a of ss.notReadyAddresses ?? []) add(a, false);
  }
  return groups.slices();
}

const slicePorts = (ports: ServicePort[]) => ports.map((p) => ({ name: p.name, port: p.port, protocol: p.protocol, ...(p.appProtocol ? { appProtocol: p.appProtocol } : {}) }));
const sliceKey = (s: any) => `${s.addressType} ${portsKey((s.ports ?? []).map(toServicePort))}`;

export class EndpointSliceController extends Controller {
  private services: Informer;
  private pods: Informer;
  private slices: Informer;
  private endpoints: Informer;

  constructor(rt: ControllerContext) {
    super(rt, "endpointslice", 4);
    this.services = this.informer("services");
    this.pods = this.informer("pods");
    this.slices = this.informer("discovery.k8s.io/endpointslices");
    this.endpoints = this.informer("endpoints");
    const enqueue = (o: any) => this.queue.add(objKey(o));
    this.services.addHandler({ add: enqueue, update: (_, o) => enqueue(o) });
    // Endpoints of selector-less Services are mirrored (the endpoints controller's own are not).
    const onEndpoints = (e: any) => {
      const svc = this.services.get(objKey(e));
      if (svc && !managesEndpoints(svc)) enqueue(e);
    };
    this.endpoints.addHandler({ add: onEndpoints, update: (_, e) => onEndpoints(e), delete: onEndpoints });
    // A managed slice changed or deleted by someone else: reconcile its Service.
    const onSlice = (s: any) => {
      const svc = s.metadata?.labels?.[SERVICE_NAME];
      const by = s.metadata.labels?.[MANAGED_BY];
      if (svc && (by === CONTROLLER_NAME || by === MIRROR_NAME)) this.queue.add(`${s.metadata.namespace}/${svc}`);
    };
    this.slices.addHandler({ update: (_, s) => onSlice(s), delete: onSlice });
    onSelectedPods(this.pods, this.services, enqueue);
  }

  async reconcile(key: string): Promise<void> {
    const { ns, name } = splitKey(key);
    const svc = this.services.get(key);
    // Gone: the garbage collector deletes the slices it owned.
    if (!svc || svc.metadata.deletionTimestamp || svc.spec?.type === "ExternalName") return;
    const selector = managesEndpoints(svc);
    const mine = this.slices
      .byIndex("owner", svc.metadata.uid)
      .filter((s) => [CONTROLLER_NAME, MIRROR_NAME].includes(s.metadata.labels?.[MANAGED_BY]) && !s.metadata.deletionTimestamp)
      .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
    const labels: Record<string, string> = { ...(svc.metadata.labels ?? {}), [SERVICE_NAME]: name, [MANAGED_BY]: selector ? CONTROLLER_NAME : MIRROR_NAME };
    if (svc.spec?.clusterIP === "None") labels["service.kubernetes.io/headless"] = "";
    const unused = [...mine];
    const desired = selector ? desiredSlices(svc, this.pods.byIndex("namespace", ns)) : mirroredSlices(this.endpoints.get(key));
    for (const d of desired) {
      const ports = slicePorts(d.ports);
      // Reuse a slice of the same family and port set (the first free one), else create one.
      const i = unused.findIndex((s) => sliceKey(s) === d.key);
      const cur = i >= 0 ? unused.splice(i, 1)[0] : undefined;
      if (cur) {
        const same = stableJson(cur.endpoints ?? []) === stableJson(d.endpoints) && stableJson(cur.ports ?? []) === stableJson(ports) && stableJson(cur.metadata.labels ?? {}) === stableJson(labels);
        if (same) continue;
        await this.api.update("EndpointSlice", ns, cur.metadata.name, (s) => {
          s.endpoints = d.endpoints;
          s.ports = ports;
          s.metadata.labels = labels;
          return s;
        });
        continue;
      }
      await this.api.create("EndpointSlice", ns, {
        metadata: { generateName: `${name}-`, namespace: ns, labels, ownerReferences: [controllerRef(svc, "Service")] },
        addressType: d.addressType,
        endpoints: d.endpoints,
        ports,
      });
    }
    for (const s of unused) await this.api.delete("EndpointSlice", ns, s.metadata.name);
  }
}
