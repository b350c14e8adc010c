// What the Endpoints and EndpointSlice controllers share: which pods back a Service and on
// which ports, by Kubernetes' rules (ShouldPodBeInEndpoints, FindPort).
import { labelSelectorToRequirements, matchLabels } from "../../schemas/helpers/selectors";
import type { Informer } from "./runtime/informer";
import { isReady } from "./runtime/pods";

export interface ServicePort {
  name: string;
  port: number;
  protocol: string;
  appProtocol?: string;
}

interface Backend {
  pod: any;
  ip: string;
  ready: boolean;
  terminating: boolean;
  /** The service's ports this pod serves, targetPort resolved (named ports looked up). */
  ports: ServicePort[];
}

/** Services whose endpoints these controllers keep: a selector, and not ExternalName. */
export function managesEndpoints(svc: any): boolean {
  const sel = svc?.spec?.selector;
  return !!sel && Object.keys(sel).length > 0 && svc.spec.type !== "ExternalName";
}

export function selects(svc: any, pod: any): boolean {
  return matchLabels(labelSelectorToRequirements({ matchLabels: svc?.spec?.selector }), pod?.metadata?.labels);
}

/** A port of a Service, an Endpoints subset or a slice, with the API's defaults filled in. */
export function toServicePort(p: any): ServicePort {
  return { name: p.name ?? "", port: p.port, protocol: p.protocol ?? "TCP", ...(p.appProtocol ? { appProtocol: p.appProtocol } : {}) };
}

/** ShouldPodBeInEndpoints: an IP, not finished for good, terminating only when asked for. */
function included(pod: any, includeTerminating: boolean): boolean {
  if (!pod.status?.podIP && !pod.status?.podIPs?.length) return false;
  if (!includeTerminating && pod.metadata?.deletionTimestamp) return false;
  const phase = pod.status?.phase;
  switch (pod.spec?.restartPolicy) {
    case "Never":
      return phase !== "Failed" && phase !== "Succeeded";
    case "OnFailure":
      return phase !== "Succeeded";
    default:
      return true;
  }
}

/** FindPort: a number, or the container port of that name and protocol. */
function findPort(pod: any, targetPort: number | string | undefined, port: number, protocol: string): number | undefined {
  if (targetPort === undefined || targetPort === null || targetPort === "" || targetPort === 0) return port;
  if (typeof targetPort === "number") return targetPort;
  if (/^\d+$/.test(targetPort)) return Number(targetPort);
  for (const c of pod.spec?.containers ?? []) {
    for (const p of c.ports ?? []) if (p.name === targetPort && (p.protocol ?? "TCP") === protocol) return p.containerPort;
  }
  return undefined;
}

export function backendsOf(svc: any, pods: any[], includeTerminating: boolean): Backend[] {
  const out: Backend[] = [];
  for (const pod of pods) {
    if (!selects(svc, pod) || !included(pod, includeTerminating)) continue;
    const ports: ServicePort[] = [];
    for (const sp of svc.spec?.ports ?? []) {
      const protocol = sp.protocol ?? "TCP";
      const n = findPort(pod, sp.targetPort, sp.port, protocol);
      if (n === undefined) continue; // the pod lacks that named port: not a backend for it
      ports.push(toServicePort({ ...sp, port: n }));
    }
    // A pod with none of the Service's ports is no backend (a port-less headless Service takes all).
    if (!ports.length && (svc.spec?.ports ?? []).length) continue;
    const ip = pod.status.podIP ?? pod.status.podIPs[0].ip;
    out.push({ pod, ip, ready: isReady(pod) && !pod.metadata.deletionTimestamp, terminating: !!pod.metadata.deletionTimestamp, ports });
  }
  return out.sort((a, b) => (a.pod.metadata.name < b.pod.metadata.name ? -1 : a.pod.metadata.name > b.pod.metadata.name ? 1 : 0));
}

export function podRef(pod: any): any {
  return { kind: "Pod", namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid };
}

/** A pod's DNS hostname in a headless service: spec.hostname when spec.subdomain names it. */
export function hostnameFor(svc: any, pod: any): string | undefined {
  return pod.spec?.hostname && pod.spec?.subdomain === svc.metadata.name && svc.metadata.namespace === pod.metadata.namespace ? pod.spec.hostname : undefined;
}

export const portsKey = (ports: ServicePort[]) => JSON.stringify([...ports].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.port - b.port)));

/** Calls `enqueue` with every selector Service a pod change may touch (old and new labels). */
export function onSelectedPods(pods: Informer, services: Informer, enqueue: (svc: any) => void): void {
  const onPod = (p: any) => {
    for (const s of services.byIndex("namespace", p.metadata.namespace)) if (managesEndpoints(s) && selects(s, p)) enqueue(s);
  };
  pods.addHandler({
    add: onPod,
    update: (old, p) => {
      onPod(old);
      onPod(p);
    },
    delete: onPod,
  });
}
