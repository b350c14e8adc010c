// Kinds whose objects are computed when read, not stored: apiregistration.k8s.io APIServices
// describe the group versions this server serves (kube-aggregator's Local APIServices).
import { groupVersions, type RegisteredResource } from "../../schemas/registry";
import { METRICS_GROUP } from "./metrics";

/** kube-apiserver's group priorities (aggregator's apiVersionPriorities); others get 1000/15. */
const PRIORITY: Record<string, [number, number]> = {
  "": [18000, 1],
  apps: [17800, 15],
  events: [17750, 15],
  "events.k8s.io": [17750, 15],
  "authentication.k8s.io": [17700, 15],
  "authorization.k8s.io": [17600, 15],
  autoscaling: [17500, 15],
  batch: [17400, 15],
  "certificates.k8s.io": [17300, 15],
  "networking.k8s.io": [17200, 15],
  policy: [17100, 15],
  "rbac.authorization.k8s.io": [17000, 15],
  "storage.k8s.io": [16800, 15],
  "apiextensions.k8s.io": [16700, 15],
  "admissionregistration.k8s.io": [16700, 15],
  "scheduling.k8s.io": [16600, 15],
  "coordination.k8s.io": [16500, 15],
  "node.k8s.io": [16300, 15],
  "discovery.k8s.io": [16200, 15],
  "flowcontrol.apiserver.k8s.io": [16100, 15],
  "apiregistration.k8s.io": [18000, 15],
  [METRICS_GROUP]: [100, 100],
};

const STARTED = new Date().toISOString().replace(/\.\d+Z$/, "Z");

function apiServices(): any[] {
  const gvs = [...groupVersions(), { group: METRICS_GROUP, version: "v1beta1" }];
  const seen = new Set<string>();
  const out: any[] = [];
  for (const { group, version } of gvs) {
    const name = `${version}.${group}`;
    if (seen.has(name)) continue;
    seen.add(name);
    const [gp, vp] = PRIORITY[group] ?? [1000, 15];
    out.push({
      apiVersion: "apiregistration.k8s.io/v1",
      kind: "APIService",
      metadata: { name, uid: uuidOf(name), resourceVersion: "1", creationTimestamp: STARTED, labels: { "kube-aggregator.kubernetes.io/automanaged": "onstartup" } },
      spec: { group, version, groupPriorityMinimum: gp, versionPriority: vp },
      status: { conditions: [{ type: "Available", status: "True", lastTransitionTime: STARTED, reason: "Local", message: "Local APIServices are always available" }] },
    });
  }
  return out.sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
}

/** A stable UUID-shaped id from a name (the same object keeps its uid across reads). */
function uuidOf(name: string): string {
  const h = new Bun.CryptoHasher("sha256").update(`apiservice/${name}`).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** The computed objects of r, or undefined when r is an ordinary stored kind. */
export function computedItems(r: RegisteredResource): any[] | undefined {
  if (r.group === "apiregistration.k8s.io" && r.plural === "apiservices") return apiServices();
  return undefined;
}
