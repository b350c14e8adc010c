// The default ClusterRoles and ClusterRoleBindings, after Kubernetes'
// plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go (trimmed to the kinds Skiff serves),
// and the static rules of the Node authorizer (NodeRules()).
import type { PolicyRule } from "./rules";

const READ = ["get", "list", "watch"];
const WRITE = ["create", "update", "patch", "delete", "deletecollection"];
const RW = [...READ, ...WRITE];

const rule = (verbs: string[], groups: string[], resources: string[]): PolicyRule => ({ apiGroups: groups, resources, verbs });
const urls = (verbs: string[], nonResourceURLs: string[]): PolicyRule => ({ nonResourceURLs, verbs });

export const BOOTSTRAP_LABEL = { "kubernetes.io/bootstrapping": "rbac-defaults" };
export const AUTOUPDATE_ANNOTATION = "rbac.authorization.kubernetes.io/autoupdate";

/**
 * What a node (user system:node:NAME, group system:nodes) may do, besides the per-object checks
 * of the Node authorizer (node.ts). It is the kubelet's NodeRules() plus the reads of the
 * service proxy (system:node-proxier), which a Skiff agent also runs.
 */
export const NODE_RULES: PolicyRule[] = [
  rule(["create"], ["authentication.k8s.io"], ["tokenreviews"]),
  rule(["create"], ["authorization.k8s.io"], ["subjectaccessreviews", "localsubjectaccessreviews"]),
  rule(READ, [""], ["services", "endpoints"]),
  rule(READ, ["discovery.k8s.io"], ["endpointslices"]),
  rule(["create", "get", "list", "watch"], [""], ["nodes"]),
  rule(["update", "patch"], [""], ["nodes/status"]),
  rule(["update", "patch"], [""], ["nodes"]),
  rule(["create", "update", "patch"], ["", "events.k8s.io"], ["events"]),
  rule(READ, [""], ["pods"]),
  rule(["create", "delete"], [""], ["pods"]),
  rule(["update", "patch"], [""], ["pods/status"]),
  rule(["create"], [""], ["pods/eviction"]),
  rule(READ, [""], ["secrets", "configmaps"]),
  rule(["get"], [""], ["persistentvolumeclaims", "persistentvolumes"]),
  rule(["update", "patch"], [""], ["persistentvolumeclaims/status"]),
  rule(["get", "create", "update", "patch", "delete"], ["coordination.k8s.io"], ["leases"]),
  rule(["create"], [""], ["serviceaccounts/token"]),
  rule(READ, ["node.k8s.io"], ["runtimeclasses"]),
  // CSI drivers' node plugins register on the node's own CSINode (NodeRestriction: that one only).
  rule(["get", "create", "update", "patch", "delete"], ["storage.k8s.io"], ["csinodes"]),
  rule(READ, ["storage.k8s.io"], ["csidrivers"]),
  rule(["get"], ["storage.k8s.io"], ["volumeattachments"]),
  // The agent's NetworkPolicy enforcement and ingress proxy (kube-router's and Traefik's reads).
  rule(READ, [""], ["namespaces"]),
  rule(READ, ["networking.k8s.io"], ["networkpolicies", "ingresses", "ingressclasses"]),
];

export interface ClusterRoleDef {
  name: string;
  rules: PolicyRule[];
  labels?: Record<string, string>;
  aggregateFrom?: string; // label key=true the role aggregates
}

const AGG = "rbac.authorization.k8s.io/aggregate-to-";

export const CLUSTER_ROLES: ClusterRoleDef[] = [
  { name: "cluster-admin", rules: [rule(["*"], ["*"], ["*"]), urls(["*"], ["*"])] },
  {
    name: "system:discovery",
    rules: [urls(["get"], ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz", "/version", "/version/"])],
  },
  {
    name: "system:basic-user",
    rules: [
      rule(["create"], ["authorization.k8s.io"], ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]),
      rule(["create"], ["authentication.k8s.io"], ["selfsubjectreviews"]),
    ],
  },
  { name: "system:public-info-viewer", rules: [urls(["get"], ["/healthz", "/livez", "/readyz", "/version", "/version/"])] },
  { name: "system:service-account-issuer-discovery", rules: [urls(["get"], ["/.well-known/openid-configuration", "/.well-known/openid-configuration/", "/openid/v1/jwks", "/openid/v1/jwks/"])] },
  { name: "system:monitoring", rules: [urls(["get"], ["/healthz", "/healthz/*", "/livez", "/livez/*", "/readyz", "/readyz/*", "/metrics", "/metrics/slis"])] },
  { name: "admin", labels: {}, aggregateFrom: `${AGG}admin`, rules: [] },
  { name: "edit", labels: { [`${AGG}admin`]: "true" }, aggregateFrom: `${AGG}edit`, rules: [] },
  { name: "view", labels: { [`${AGG}edit`]: "true" }, aggregateFrom: `${AGG}view`, rules: [] },
  {
    name: "system:aggregate-to-admin",
    labels: { [`${AGG}admin`]: "true" },
    rules: [rule(["create"], ["authorization.k8s.io"], ["localsubjectaccessreviews"]), rule(RW, ["rbac.authorization.k8s.io"], ["roles", "rolebindings"])],
  },
  {
    name: "system:aggregate-to-edit",
    labels: { [`${AGG}edit`]: "true" },
    rules: [
      rule(READ, [""], ["pods/attach", "pods/proxy", "pods/exec", "pods/portforward", "secrets", "services/proxy"]),
      rule(["impersonate"], [""], ["serviceaccounts"]),
      rule(WRITE, [""], ["pods", "pods/attach", "pods/proxy", "pods/exec", "pods/portforward"]),
      rule(["create"], [""], ["pods/eviction"]),
      rule(WRITE, [""], ["replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts", "services", "services/proxy", "persistentvolumeclaims", "configmaps", "secrets", "events"]),
      rule(["create"], [""], ["serviceaccounts/token"]),
      rule(WRITE, ["apps"], ["statefulsets", "statefulsets/scale", "daemonsets", "deployments", "deployments/scale", "deployments/rollback", "replicasets", "replicasets/scale"]),
      rule(WRITE, ["autoscaling"], ["horizontalpodautoscalers"]),
      rule(WRITE, ["batch"], ["jobs", "cronjobs"]),
      rule(WRITE, ["policy"], ["poddisruptionbudgets"]),
      rule(WRITE, ["networking.k8s.io"], ["networkpolicies", "ingresses"]),
      rule(RW, ["coordination.k8s.io"], ["leases"]),
    ],
  },
  {
    name: "system:aggregate-to-view",
    labels: { [`${AGG}view`]: "true" },
    rules: [
      rule(READ, [""], ["pods", "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts", "services", "services/status", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status", "configmaps"]),
      rule(READ, [""], ["limitranges", "resourcequotas", "bindings", "events", "pods/status", "resourcequotas/status", "namespaces/status", "replicationcontrollers/status", "pods/log"]),
      rule(READ, [""], ["namespaces"]),
      rule(READ, ["discovery.k8s.io"], ["endpointslices"]),
      rule(READ, ["apps"], ["controllerrevisions", "statefulsets", "statefulsets/status", "statefulsets/scale", "daemonsets", "daemonsets/status", "deployments", "deployments/status", "deployments/scale", "replicasets", "replicasets/status", "replicasets/scale"]),
      rule(READ, ["autoscaling"], ["horizontalpodautoscalers", "horizontalpodautoscalers/status"]),
      rule(READ, ["batch"], ["jobs", "cronjobs", "cronjobs/status", "jobs/status"]),
      rule(READ, ["policy"], ["poddisruptionbudgets", "poddisruptionbudgets/status"]),
      rule(READ, ["networking.k8s.io"], ["networkpolicies", "ingresses", "ingresses/status"]),
      // kubectl top in a namespace (metrics-server ships this as system:aggregated-metrics-reader).
      rule(READ, ["metrics.k8s.io"], ["pods", "nodes"]),
    ],
  },
  // Shown, like in Kubernetes, but not bound: the Node authorizer grants these to each node.
  { name: "system:node", rules: NODE_RULES },
  {
    name: "system:node-proxier",
    rules: [
      rule(["list", "watch"], [""], ["services", "endpoints"]),
      rule(["get", "list", "watch"], [""], ["nodes"]),
      rule(["create", "patch", "update"], ["", "events.k8s.io"], ["events"]),
      rule(["list", "watch"], ["discovery.k8s.io"], ["endpointslices"]),
    ],
  },
  {
    // The CSR signing controller and cleaner (upstream's system:controller:certificate-controller).
    name: "system:controller:certificate-controller",
    rules: [
      rule(["delete", "get", "list", "watch"], ["certificates.k8s.io"], ["certificatesigningrequests"]),
      rule(["update"], ["certificates.k8s.io"], ["certificatesigningrequests/approval", "certificatesigningrequests/status"]),
      {
        apiGroups: ["certificates.k8s.io"],
        resources: ["signers"],
        resourceNames: ["kubernetes.io/kube-apiserver-client", "kubernetes.io/kube-apiserver-client-kubelet", "kubernetes.io/kubelet-serving", "kubernetes.io/legacy-unknown"],
        verbs: ["sign"],
      },
    ],
  },
];

export interface ClusterRoleBindingDef {
  name: string;
  role: string;
  subjects: { kind: "User" | "Group"; name: string }[];
}

export const CLUSTER_ROLE_BINDINGS: ClusterRoleBindingDef[] = [
  { name: "cluster-admin", role: "cluster-admin", subjects: [{ kind: "Group", name: "system:masters" }] },
  { name: "system:discovery", role: "system:discovery", subjects: [{ kind: "Group", name: "system:authenticated" }] },
  { name: "system:basic-user", role: "system:basic-user", subjects: [{ kind: "Group", name: "system:authenticated" }] },
  {
    name: "system:public-info-viewer",
    role: "system:public-info-viewer",
    subjects: [
      { kind: "Group", name: "system:authenticated" },
      { kind: "Group", name: "system:unauthenticated" },
    ],
  },
  { name: "system:service-account-issuer-discovery", role: "system:service-account-issuer-discovery", subjects: [{ kind: "Group", name: "system:serviceaccounts" }] },
  { name: "system:monitoring", role: "system:monitoring", subjects: [{ kind: "Group", name: "system:monitoring" }] },
  // Kubernetes keeps this binding without subjects: nodes are authorized by the Node authorizer.
  { name: "system:node", role: "system:node", subjects: [] },
  { name: "system:node-proxier", role: "system:node-proxier", subjects: [{ kind: "User", name: "system:kube-proxy" }] },
  { name: "system:controller:certificate-controller", role: "system:controller:certificate-controller", subjects: [{ kind: "User", name: "system:serviceaccount:kube-system:certificate-controller" }] },
];

/** The ClusterRole objects, as stored (admin/edit/view carry their aggregation rule and the rules it yields). */
export function clusterRoleObjects(): any[] {
  const byLabel = (key: string) => CLUSTER_ROLES.filter((r) => r.labels?.[key] === "true");
  const effective = (d: ClusterRoleDef, seen = new Set<string>()): PolicyRule[] => {
    if (!d.aggregateFrom) return d.rules;
    seen.add(d.name);
    return byLabel(d.aggregateFrom).filter((r) => !seen.has(r.name)).flatMap((r) => effective(r, seen));
  };
  return CLUSTER_ROLES.map((d) => ({
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRole",
    metadata: { name: d.name, labels: { ...BOOTSTRAP_LABEL, ...(d.labels ?? {}) }, annotations: { [AUTOUPDATE_ANNOTATION]: "true" } },
    ...(d.aggregateFrom ? { aggregationRule: { clusterRoleSelectors: [{ matchLabels: { [d.aggregateFrom]: "true" } }] } } : {}),
    rules: structuredClone(effective(d)),
  }));
}

export function clusterRoleBindingObjects(): any[] {
  return CLUSTER_ROLE_BINDINGS.map((d) => ({
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRoleBinding",
    metadata: { name: d.name, labels: { ...BOOTSTRAP_LABEL }, annotations: { [AUTOUPDATE_ANNOTATION]: "true" } },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: d.role },
    subjects: d.subjects.map((s) => ({ apiGroup: "rbac.authorization.k8s.io", ...s })),
  }));
}
