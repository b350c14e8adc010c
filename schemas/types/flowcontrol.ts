// flowcontrol.apiserver.k8s.io/v1 FlowSchema and PriorityLevelConfiguration, served read-only
// with upstream's mandatory and suggested defaults (k8s.io/apiserver/pkg/apis/flowcontrol/bootstrap):
// kubectl and client tools read them. Skiff does not enforce API Priority and Fairness (it has
// per-user watch limits and max-in-flight), so writes are refused rather than stored and ignored.
// Field numbers follow k8s.io/api/flowcontrol/v1/generated.proto.
import { F, atomicList, bool, int32, list, obj, str, time } from "../dsl";
import type { ResourceDef } from "../registry";
import { typeMetaFields } from "./meta";

export const FLOWCONTROL_READ_ONLY =
  "Skiff serves the API Priority and Fairness configuration read-only: it does not enforce FlowSchemas or PriorityLevelConfigurations (it limits requests in flight per server and watches per user instead), so changes are refused rather than stored and ignored";

const Condition = (n: string) =>
  obj(`io.k8s.api.flowcontrol.v1.${n}`, () => ({
    type: F(str, 1),
    status: F(str, 2),
    lastTransitionTime: F(time, 3),
    reason: F(str, 4),
    message: F(str, 5),
  }));

const Subject = obj("io.k8s.api.flowcontrol.v1.Subject", () => ({
  kind: F(str, 1, { required: true }),
  user: F(obj("io.k8s.api.flowcontrol.v1.UserSubject", () => ({ name: F(str, 1, { required: true }) })), 2),
  group: F(obj("io.k8s.api.flowcontrol.v1.GroupSubject", () => ({ name: F(str, 1, { required: true }) })), 3),
  serviceAccount: F(obj("io.k8s.api.flowcontrol.v1.ServiceAccountSubject", () => ({ namespace: F(str, 1, { required: true }), name: F(str, 2, { required: true }) })), 4),
}));

const ResourcePolicyRule = obj("io.k8s.api.flowcontrol.v1.ResourcePolicyRule", () => ({
  verbs: F(list(str, { listType: "set" }), 1, { required: true }),
  apiGroups: F(list(str, { listType: "set" }), 2, { required: true }),
  resources: F(list(str, { listType: "set" }), 3, { required: true }),
  clusterScope: F(bool, 4),
  namespaces: F(list(str, { listType: "set" }), 5),
}));

const NonResourcePolicyRule = obj("io.k8s.api.flowcontrol.v1.NonResourcePolicyRule", () => ({
  verbs: F(list(str, { listType: "set" }), 1, { required: true }),
  nonResourceURLs: F(list(str, { listType: "set" }), 6, { required: true }),
}));

const PolicyRulesWithSubjects = obj("io.k8s.api.flowcontrol.v1.PolicyRulesWithSubjects", () => ({
  subjects: F(atomicList(Subject), 1, { required: true }),
  resourceRules: F(atomicList(ResourcePolicyRule), 2),
  nonResourceRules: F(atomicList(NonResourcePolicyRule), 3),
}));

export const FlowSchema = obj("io.k8s.api.flowcontrol.v1.FlowSchema", () => ({
  ...typeMetaFields(),
  spec: F(
    obj("io.k8s.api.flowcontrol.v1.FlowSchemaSpec", () => ({
      priorityLevelConfiguration: F(obj("io.k8s.api.flowcontrol.v1.PriorityLevelConfigurationReference", () => ({ name: F(str, 1, { required: true }) })), 1, { required: true }),
      matchingPrecedence: F(int32, 2),
      distinguisherMethod: F(obj("io.k8s.api.flowcontrol.v1.FlowDistinguisherMethod", () => ({ type: F(str, 1, { required: true }) })), 3),
      rules: F(atomicList(PolicyRulesWithSubjects), 4),
    })),
    2,
  ),
  status: F(obj("io.k8s.api.flowcontrol.v1.FlowSchemaStatus", () => ({ conditions: F(list(Condition("FlowSchemaCondition"), { listType: "map", listMapKeys: ["type"] }), 1) })), 3),
}));

const LimitResponse = obj("io.k8s.api.flowcontrol.v1.LimitResponse", () => ({
  type: F(str, 1, { required: true }),
  queuing: F(obj("io.k8s.api.flowcontrol.v1.QueuingConfiguration", () => ({ queues: F(int32, 1), handSize: F(int32, 2), queueLengthLimit: F(int32, 3) })), 2),
}));

export const PriorityLevelConfiguration = obj("io.k8s.api.flowcontrol.v1.PriorityLevelConfiguration", () => ({
  ...typeMetaFields(),
  spec: F(
    obj("io.k8s.api.flowcontrol.v1.PriorityLevelConfigurationSpec", () => ({
      type: F(str, 1, { required: true }),
      limited: F(
        obj("io.k8s.api.flowcontrol.v1.LimitedPriorityLevelConfiguration", () => ({
          nominalConcurrencyShares: F(int32, 1),
          limitResponse: F(LimitResponse, 2),
          lendablePercent: F(int32, 3),
          borrowingLimitPercent: F(int32, 4),
        })),
        2,
      ),
      exempt: F(obj("io.k8s.api.flowcontrol.v1.ExemptPriorityLevelConfiguration", () => ({ nominalConcurrencyShares: F(int32, 1), lendablePercent: F(int32, 2) })), 3),
    })),
    2,
  ),
  status: F(obj("io.k8s.api.flowcontrol.v1.PriorityLevelConfigurationStatus", () => ({ conditions: F(list(Condition("PriorityLevelConfigurationCondition"), { listType: "map", listMapKeys: ["type"] }), 1) })), 3),
}));

const READ = ["get", "list", "watch"];
const base = { group: "flowcontrol.apiserver.k8s.io", version: "v1", namespaced: false, verbs: READ, readOnly: FLOWCONTROL_READ_ONLY } as const;

export const resources: ResourceDef[] = [
  { ...base, kind: "FlowSchema", plural: "flowschemas", singular: "flowschema", type: FlowSchema },
  { ...base, kind: "PriorityLevelConfiguration", plural: "prioritylevelconfigurations", singular: "prioritylevelconfiguration", type: PriorityLevelConfiguration },
];

// ---- upstream's defaults (bootstrap/default.go, v1.32) -------------------------------------

const ALL = ["*"];
const groups = (...names: string[]) => names.map((name) => ({ kind: "Group", group: { name } }));
const users = (...names: string[]) => names.map((name) => ({ kind: "User", user: { name } }));
const kubeSystemSa = (...names: string[]) => names.map((name) => ({ kind: "ServiceAccount", serviceAccount: { namespace: "kube-system", name } }));
const everything = (clusterScope = true) => ({ verbs: ALL, apiGroups: ALL, resources: ALL, namespaces: ALL, clusterScope });
const allUrls = { verbs: ALL, nonResourceURLs: ALL };
const leases = { verbs: ["get", "create", "update"], apiGroups: ["coordination.k8s.io"], resources: ["leases"], namespaces: ALL };

function fs(name: string, level: string, precedence: number, distinguisher: string | undefined, rules: any): any {
  return {
    metadata: { name, annotations: { "apf.kubernetes.io/autoupdate-spec": "true" } },
    spec: { priorityLevelConfiguration: { name: level }, matchingPrecedence: precedence, ...(distinguisher ? { distinguisherMethod: { type: distinguisher } } : {}), rules: [rules] },
  };
}

const queued = (shares: number, lendable: number, queues: number, handSize: number) => ({
  type: "Limited",
  limited: { nominalConcurrencyShares: shares, lendablePercent: lendable, limitResponse: { type: "Queue", queuing: { queues, handSize, queueLengthLimit: 50 } } },
});

export const DEFAULT_PRIORITY_LEVELS: any[] = [
  { metadata: { name: "exempt" }, spec: { type: "Exempt", exempt: { nominalConcurrencyShares: 0, lendablePercent: 0 } } },
  { metadata: { name: "catch-all" }, spec: { type: "Limited", limited: { nominalConcurrencyShares: 5, lendablePercent: 0, limitResponse: { type: "Reject" } } } },
  { metadata: { name: "system" }, spec: queued(30, 33, 64, 6) },
  { metadata: { name: "node-high" }, spec: queued(40, 25, 64, 6) },
  { metadata: { name: "leader-election" }, spec: queued(10, 0, 16, 4) },
  { metadata: { name: "workload-high" }, spec: queued(40, 50, 128, 6) },
  { metadata: { name: "workload-low" }, spec: queued(100, 90, 128, 6) },
  { metadata: { name: "global-default" }, spec: queued(20, 50, 128, 6) },
].map((o) => ({ ...o, metadata: { ...o.metadata, annotations: { "apf.kubernetes.io/autoupdate-spec": "true" } } }));

export const DEFAULT_FLOW_SCHEMAS: any[] = [
  fs("exempt", "exempt", 1, undefined, { subjects: groups("system:masters"), resourceRules: [everything()], nonResourceRules: [allUrls] }),
  fs("probes", "exempt", 2, undefined, { subjects: groups("system:unauthenticated", "system:authenticated"), nonResourceRules: [{ verbs: ["get"], nonResourceURLs: ["/healthz", "/readyz", "/livez"] }] }),
  fs("system-leader-election", "leader-election", 100, "ByUser", { subjects: [...users("system:kube-controller-manager", "system:kube-scheduler"), ...kubeSystemSa("*")], resourceRules: [leases] }),
  fs("endpoint-controller", "workload-high", 150, "ByUser", {
    subjects: [...users("system:kube-controller-manager"), ...kubeSystemSa("endpoint-controller", "endpointslicemirroring-controller")],
    resourceRules: [{ verbs: ["get", "create", "update"], apiGroups: [""], resources: ["endpoints"], namespaces: ALL }],
  }),
  fs("workload-leader-election", "leader-election", 200, "ByUser", { subjects: kubeSystemSa("*"), resourceRules: [leases] }),
  fs("system-node-high", "node-high", 400, "ByUser", {
    subjects: groups("system:nodes"),
    resourceRules: [
      { verbs: ALL, apiGroups: [""], resources: ["nodes", "nodes/status"], namespaces: ALL, clusterScope: true },
      { verbs: ALL, apiGroups: ["coordination.k8s.io"], resources: ["leases"], namespaces: ALL },
    ],
  }),
  fs("system-nodes", "system", 500, "ByUser", { subjects: groups("system:nodes"), resourceRules: [everything()], nonResourceRules: [allUrls] }),
  fs("kube-controller-manager", "workload-high", 800, "ByNamespace", { subjects: users("system:kube-controller-manager"), resourceRules: [everything()], nonResourceRules: [allUrls] }),
  fs("kube-scheduler", "workload-high", 800, "ByNamespace", { subjects: users("system:kube-scheduler"), resourceRules: [everything()], nonResourceRules: [allUrls] }),
  fs("kube-system-service-accounts", "workload-high", 900, "ByNamespace", { subjects: kubeSystemSa("*"), resourceRules: [everything()], nonResourceRules: [allUrls] }),
  fs("service-accounts", "workload-low", 9000, "ByUser", { subjects: groups("system:serviceaccounts"), resourceRules: [everything()], nonResourceRules: [allUrls] }),
  fs("global-default", "global-default", 9900, "ByUser", { subjects: groups("system:unauthenticated", "system:authenticated"), resourceRules: [everything()], nonResourceRules: [allUrls] }),
  fs("catch-all", "catch-all", 10000, "ByUser", { subjects: groups("system:unauthenticated", "system:authenticated"), resourceRules: [everything()], nonResourceRules: [allUrls] }),
];
