// What the real Kubernetes 1.32 shows for each kind Skiff serves: discovery facts
// (api-resources) and the Table columns kubectl prints (from k8s.io/kubernetes
// pkg/printers/internalversion/printers.go at 1.32; kinds without a printer use the
// default "NAME CREATED AT" table). The e2e tests compare Skiff against this.

export interface KindFacts {
  kind: string;
  group: string; // "" = core
  version: string;
  plural: string;
  shortNames: string[];
  namespaced: boolean;
  /** Columns `kubectl get` prints. */
  columns: string[];
  /** Columns `kubectl get -o wide` prints (undefined = same as columns). */
  wide?: string[];
  /** In `kubectl get all`. */
  all?: boolean;
  /** Other column orders seen in 1.32-era sources (accepted as well). */
  columnsAlt?: string[][];
}

const tmpl = ["CONTAINERS", "IMAGES", "SELECTOR"];

export const KINDS: KindFacts[] = [
  { kind: "Namespace", group: "", version: "v1", plural: "namespaces", shortNames: ["ns"], namespaced: false, columns: ["NAME", "STATUS", "AGE"] },
  {
    kind: "Pod", group: "", version: "v1", plural: "pods", shortNames: ["po"], namespaced: true, all: true,
    columns: ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
    wide: ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE", "READINESS GATES"],
  },
  {
    kind: "Service", group: "", version: "v1", plural: "services", shortNames: ["svc"], namespaced: true, all: true,
    columns: ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"],
    wide: ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", "SELECTOR"],
  },
  { kind: "Endpoints", group: "", version: "v1", plural: "endpoints", shortNames: ["ep"], namespaced: true, columns: ["NAME", "ENDPOINTS", "AGE"] },
  { kind: "ConfigMap", group: "", version: "v1", plural: "configmaps", shortNames: ["cm"], namespaced: true, columns: ["NAME", "DATA", "AGE"] },
  { kind: "Secret", group: "", version: "v1", plural: "secrets", shortNames: [], namespaced: true, columns: ["NAME", "TYPE", "DATA", "AGE"] },
  {
    kind: "Node", group: "", version: "v1", plural: "nodes", shortNames: ["no"], namespaced: false,
    columns: ["NAME", "STATUS", "ROLES", "AGE", "VERSION"],
    wide: ["NAME", "STATUS", "ROLES", "AGE", "VERSION", "INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"],
  },
  {
    kind: "Event", group: "", version: "v1", plural: "events", shortNames: ["ev"], namespaced: true,
    columns: ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
    wide: ["LAST SEEN", "TYPE", "REASON", "OBJECT", "SUBOBJECT", "SOURCE", "MESSAGE", "FIRST SEEN", "COUNT", "NAME"],
  },
  { kind: "ServiceAccount", group: "", version: "v1", plural: "serviceaccounts", shortNames: ["sa"], namespaced: true, columns: ["NAME", "SECRETS", "AGE"] },
  {
    kind: "PersistentVolume", group: "", version: "v1", plural: "persistentvolumes", shortNames: ["pv"], namespaced: false,
    columns: ["NAME", "CAPACITY", "ACCESS MODES", "RECLAIM POLICY", "STATUS", "CLAIM", "STORAGECLASS", "VOLUMEATTRIBUTESCLASS", "REASON", "AGE"],
    wide: ["NAME", "CAPACITY", "ACCESS MODES", "RECLAIM POLICY", "STATUS", "CLAIM", "STORAGECLASS", "VOLUMEATTRIBUTESCLASS", "REASON", "AGE", "VOLUMEMODE"],
  },
  {
    kind: "PersistentVolumeClaim", group: "", version: "v1", plural: "persistentvolumeclaims", shortNames: ["pvc"], namespaced: true,
    columns: ["NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS MODES", "STORAGECLASS", "VOLUMEATTRIBUTESCLASS", "AGE"],
    wide: ["NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS MODES", "STORAGECLASS", "VOLUMEATTRIBUTESCLASS", "AGE", "VOLUMEMODE"],
  },
  { kind: "ResourceQuota", group: "", version: "v1", plural: "resourcequotas", shortNames: ["quota"], namespaced: true, columns: ["NAME", "AGE", "REQUEST", "LIMIT"], columnsAlt: [["NAME", "REQUEST", "LIMIT", "AGE"]] },
  { kind: "LimitRange", group: "", version: "v1", plural: "limitranges", shortNames: ["limits"], namespaced: true, columns: ["NAME", "CREATED AT"] },
  {
    kind: "Deployment", group: "apps", version: "v1", plural: "deployments", shortNames: ["deploy"], namespaced: true, all: true,
    columns: ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
    wide: ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", ...tmpl],
  },
  {
    kind: "ReplicaSet", group: "apps", version: "v1", plural: "replicasets", shortNames: ["rs"], namespaced: true, all: true,
    columns: ["NAME", "DESIRED", "CURRENT", "READY", "AGE"],
    wide: ["NAME", "DESIRED", "CURRENT", "READY", "AGE", ...tmpl],
  },
  {
    kind: "StatefulSet", group: "apps", version: "v1", plural: "statefulsets", shortNames: ["sts"], namespaced: true, all: true,
    columns: ["NAME", "READY", "AGE"],
    wide: ["NAME", "READY", "AGE", "CONTAINERS", "IMAGES"],
  },
  {
    kind: "DaemonSet", group: "apps", version: "v1", plural: "daemonsets", shortNames: ["ds"], namespaced: true, all: true,
    columns: ["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE SELECTOR", "AGE"],
    wide: ["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE SELECTOR", "AGE", ...tmpl],
  },
  { kind: "ControllerRevision", group: "apps", version: "v1", plural: "controllerrevisions", shortNames: [], namespaced: true, columns: ["NAME", "CONTROLLER", "REVISION", "AGE"] },
  {
    kind: "Job", group: "batch", version: "v1", plural: "jobs", shortNames: [], namespaced: true, all: true,
    columns: ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"],
    wide: ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE", ...tmpl],
  },
  {
    kind: "CronJob", group: "batch", version: "v1", plural: "cronjobs", shortNames: ["cj"], namespaced: true, all: true,
    columns: ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST SCHEDULE", "AGE"],
    wide: ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST SCHEDULE", "AGE", ...tmpl],
  },
  { kind: "Ingress", group: "networking.k8s.io", version: "v1", plural: "ingresses", shortNames: ["ing"], namespaced: true, columns: ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"] },
  { kind: "IngressClass", group: "networking.k8s.io", version: "v1", plural: "ingressclasses", shortNames: [], namespaced: false, columns: ["NAME", "CONTROLLER", "PARAMETERS", "AGE"] },
  { kind: "NetworkPolicy", group: "networking.k8s.io", version: "v1", plural: "networkpolicies", shortNames: ["netpol"], namespaced: true, columns: ["NAME", "POD-SELECTOR", "AGE"] },
  {
    kind: "StorageClass", group: "storage.k8s.io", version: "v1", plural: "storageclasses", shortNames: ["sc"], namespaced: false,
    columns: ["NAME", "PROVISIONER", "RECLAIMPOLICY", "VOLUMEBINDINGMODE", "ALLOWVOLUMEEXPANSION", "AGE"],
  },
  { kind: "Lease", group: "coordination.k8s.io", version: "v1", plural: "leases", shortNames: [], namespaced: true, columns: ["NAME", "HOLDER", "AGE"] },
  { kind: "EndpointSlice", group: "discovery.k8s.io", version: "v1", plural: "endpointslices", shortNames: [], namespaced: true, columns: ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"] },
  {
    kind: "HorizontalPodAutoscaler", group: "autoscaling", version: "v2", plural: "horizontalpodautoscalers", shortNames: ["hpa"], namespaced: true, all: true,
    columns: ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"],
  },
  { kind: "Role", group: "rbac.authorization.k8s.io", version: "v1", plural: "roles", shortNames: [], namespaced: true, columns: ["NAME", "CREATED AT"] },
  {
    kind: "RoleBinding", group: "rbac.authorization.k8s.io", version: "v1", plural: "rolebindings", shortNames: [], namespaced: true,
    columns: ["NAME", "ROLE", "AGE"],
    wide: ["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"],
  },
  { kind: "ClusterRole", group: "rbac.authorization.k8s.io", version: "v1", plural: "clusterroles", shortNames: [], namespaced: false, columns: ["NAME", "CREATED AT"] },
  {
    kind: "ClusterRoleBinding", group: "rbac.authorization.k8s.io", version: "v1", plural: "clusterrolebindings", shortNames: [], namespaced: false,
    columns: ["NAME", "ROLE", "AGE"],
    wide: ["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"],
  },
];

export function apiVersionOf(k: KindFacts): string {
  return k.group ? `${k.group}/${k.version}` : k.version;
}

/** "deployments.apps", "pods" — what to pass to kubectl to name the resource unambiguously. */
export function resourceArg(k: KindFacts): string {
  return k.group ? `${k.plural}.${k.group}` : k.plural;
}

/** How kubectl names an object in apply/delete output: "deployment.apps/web", "pod/debug". */
export function objectRef(kind: string, apiVersion: string, name: string): string {
  const group = apiVersion.includes("/") ? apiVersion.split("/")[0] : "";
  return `${kind.toLowerCase()}${group ? "." + group : ""}/${name}`;
}

export function factsFor(kind: string): KindFacts {
  const k = KINDS.find((x) => x.kind === kind);
  if (!k) throw new Error(`no facts for kind ${kind}`);
  return k;
}
