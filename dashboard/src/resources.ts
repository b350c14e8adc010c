// The built-in kinds the views show, and the link to any object's page.
import type { Res } from "./api";

const r = (group: string, version: string, plural: string, kind: string, namespaced = true): Res => ({ group, version, plural, kind, namespaced });

export const R = {
  nodes: r("", "v1", "nodes", "Node", false),
  namespaces: r("", "v1", "namespaces", "Namespace", false),
  pods: r("", "v1", "pods", "Pod"),
  services: r("", "v1", "services", "Service"),
  events: r("", "v1", "events", "Event"),
  configmaps: r("", "v1", "configmaps", "ConfigMap"),
  deployments: r("apps", "v1", "deployments", "Deployment"),
  statefulsets: r("apps", "v1", "statefulsets", "StatefulSet"),
  daemonsets: r("apps", "v1", "daemonsets", "DaemonSet"),
  replicasets: r("apps", "v1", "replicasets", "ReplicaSet"),
  jobs: r("batch", "v1", "jobs", "Job"),
  cronjobs: r("batch", "v1", "cronjobs", "CronJob"),
  ingresses: r("networking.k8s.io", "v1", "ingresses", "Ingress"),
  leases: r("coordination.k8s.io", "v1", "leases", "Lease"),
} as const;

const byKind = new Map<string, Res>(Object.values(R).map((x) => [`${x.group}/${x.kind}`, x]));
/** Kinds learnt from discovery (custom resources), so links to them resolve too. */
export function learn(res: Res): void {
  if (!byKind.has(`${res.group}/${res.kind}`)) byKind.set(`${res.group}/${res.kind}`, res);
}

/** The resource for an apiVersion + kind (ownerReferences, involvedObject). */
export function resOf(apiVersion: string | undefined, kind: string | undefined): Res | undefined {
  if (!kind) return undefined;
  const group = apiVersion?.includes("/") ? apiVersion.split("/")[0]! : "";
  return byKind.get(`${group}/${kind}`);
}

/** The object page: #/o/GROUP/VERSION/PLURAL/NAMESPACE/NAME ("core" and "-" stand for empty). */
export function objectHref(res: Res, ns: string | undefined, name: string, tab?: string): string {
  const h = `#/o/${res.group || "core"}/${res.version}/${res.plural}/${(res.namespaced && ns) || "-"}/${encodeURIComponent(name)}`;
  return tab ? `${h}?tab=${tab}` : h;
}

export const SCALABLE = new Set(["deployments", "statefulsets", "replicasets"]);
export const RESTARTABLE = new Set(["deployments", "statefulsets", "daemonsets"]);
