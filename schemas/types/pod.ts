// Pod, PodTemplate and Binding (core/v1): types and resource definitions. The building blocks
// live in pod-common.ts, pod-container.ts, pod-volumes.ts and pod-affinity.ts; defaulting and
// validation in pod-defaults.ts and pod-validation.ts.
import { F, atomicList, bool, int32, int64, keyedList, list, map, obj, quantity, str, time } from "../dsl";
import type { ResourceDef } from "../registry";
import { ObjectMeta, typeMetaFields } from "./meta";
import {
  LocalObjectReference,
  ObjectReference,
  ResourceRequirements,
  Toleration,
  coreName as n,
} from "./pod-common";
import { Affinity, TopologySpreadConstraint } from "./pod-affinity";
import {
  AppArmorProfile,
  Container,
  ContainerStatus,
  EphemeralContainer,
  SELinuxOptions,
  SeccompProfile,
  WindowsSecurityContextOptions,
} from "./pod-container";
import { Volume } from "./pod-volumes";
import { defaultPod, defaultPodTemplate } from "./pod-defaults";
import { validatePod, validatePodTemplate } from "./pod-validation";

// Re-exports: other type files import these names from "./pod".
export {
  LocalObjectReference,
  ObjectReference,
  ResourceRequirements,
  Toleration,
  Taint,
  NodeSelector,
  NodeSelectorTerm,
  NodeSelectorRequirement,
  TypedLocalObjectReference,
  TypedObjectReference,
  SecretReference,
  ObjectFieldSelector,
  ResourceFieldSelector,
  TopologySelectorTerm,
  VolumeResourceRequirements,
} from "./pod-common";
export { Affinity, NodeAffinity, PodAffinity, PodAntiAffinity, TopologySpreadConstraint } from "./pod-affinity";
export { Container, EphemeralContainer, ContainerPort, EnvVar, Probe, SecurityContext } from "./pod-container";
export { Volume, VolumeSource, KeyToPath } from "./pod-volumes";

export const Sysctl = obj(n("Sysctl"), () => ({
  name: F(str, 1, { required: true }),
  value: F(str, 2, { required: true }),
}));

export const PodSecurityContext = obj(n("PodSecurityContext"), () => ({
  seLinuxOptions: F(SELinuxOptions, 1),
  windowsOptions: F(WindowsSecurityContextOptions, 8),
  runAsUser: F(int64, 2),
  runAsGroup: F(int64, 6),
  runAsNonRoot: F(bool, 3),
  supplementalGroups: F(atomicList(int64), 4),
  supplementalGroupsPolicy: F(str, 12),
  fsGroup: F(int64, 5),
  sysctls: F(atomicList(Sysctl), 7),
  fsGroupChangePolicy: F(str, 9),
  seccompProfile: F(SeccompProfile, 10),
  appArmorProfile: F(AppArmorProfile, 11),
  seLinuxChangePolicy: F(str, 13),
}));

export const HostAlias = obj(n("HostAlias"), () => ({
  ip: F(str, 1, { required: true }),
  hostnames: F(atomicList(str), 2),
}));

export const PodDNSConfigOption = obj(n("PodDNSConfigOption"), () => ({
  name: F(str, 1),
  value: F(str, 2),
}));

export const PodDNSConfig = obj(n("PodDNSConfig"), () => ({
  nameservers: F(atomicList(str), 1),
  searches: F(atomicList(str), 2),
  options: F(atomicList(PodDNSConfigOption), 3),
}));

export const PodReadinessGate = obj(n("PodReadinessGate"), () => ({
  conditionType: F(str, 1, { required: true }),
}));

export const PodOS = obj(n("PodOS"), () => ({
  name: F(str, 1, { required: true }),
}));

export const PodSchedulingGate = obj(n("PodSchedulingGate"), () => ({
  name: F(str, 1, { required: true }),
}));

export const PodResourceClaim = obj(n("PodResourceClaim"), () => ({
  name: F(str, 1, { required: true }),
  resourceClaimName: F(str, 3),
  resourceClaimTemplateName: F(str, 4),
}));

export const WorkloadReference = obj(n("WorkloadReference"), () => ({
  name: F(str, 1, { required: true }),
  podGroup: F(str, 2, { required: true }),
  podGroupReplicaKey: F(str, 3),
}));

export const PodSpec = obj(n("PodSpec"), () => ({
  volumes: F(
    list(Volume, { patchStrategy: "merge,retainKeys", patchMergeKey: "name", listType: "map", listMapKeys: ["name"] }),
    1,
  ),
  initContainers: F(keyedList(Container, "name"), 20),
  containers: F(keyedList(Container, "name"), 2, { required: true }),
  ephemeralContainers: F(keyedList(EphemeralContainer, "name"), 34),
  restartPolicy: F(str, 3),
  terminationGracePeriodSeconds: F(int64, 4),
  activeDeadlineSeconds: F(int64, 5),
  dnsPolicy: F(str, 6),
  nodeSelector: F(map(str), 7),
  serviceAccountName: F(str, 8),
  serviceAccount: F(str, 9),
  automountServiceAccountToken: F(bool, 21),
  nodeName: F(str, 10),
  hostNetwork: F(bool, 11),
  hostPID: F(bool, 12),
  hostIPC: F(bool, 13),
  shareProcessNamespace: F(bool, 27),
  securityContext: F(PodSecurityContext, 14),
  imagePullSecrets: F(keyedList(LocalObjectReference, "name"), 15),
  hostname: F(str, 16),
  subdomain: F(str, 17),
  affinity: F(Affinity, 18),
  schedulerName: F(str, 19),
  tolerations: F(atomicList(Toleration), 22),
  hostAliases: F(keyedList(HostAlias, "ip"), 23),
  priorityClassName: F(str, 24),
  priority: F(int32, 25),
  dnsConfig: F(PodDNSConfig, 26),
  readinessGates: F(atomicList(PodReadinessGate), 28),
  runtimeClassName: F(str, 29),
  enableServiceLinks: F(bool, 30),
  preemptionPolicy: F(str, 31),
  overhead: F(map(quantity), 32),
  topologySpreadConstraints: F(
    list(TopologySpreadConstraint, {
      patchStrategy: "merge",
      patchMergeKey: "topologyKey",
      listType: "map",
      listMapKeys: ["topologyKey", "whenUnsatisfiable"],
    }),
    33,
  ),
  setHostnameAsFQDN: F(bool, 35),
  os: F(PodOS, 36),
  hostUsers: F(bool, 37),
  schedulingGates: F(keyedList(PodSchedulingGate, "name"), 38),
  resourceClaims: F(
    list(PodResourceClaim, { patchStrategy: "merge,retainKeys", patchMergeKey: "name", listType: "map", listMapKeys: ["name"] }),
    39,
  ),
  resources: F(ResourceRequirements, 40),
  hostnameOverride: F(str, 41),
  workloadRef: F(WorkloadReference, 42),
}));

export const PodCondition = obj(n("PodCondition"), () => ({
  type: F(str, 1, { required: true }),
  observedGeneration: F(int64, 7),
  status: F(str, 2, { required: true }),
  lastProbeTime: F(time, 3),
  lastTransitionTime: F(time, 4),
  reason: F(str, 5),
  message: F(str, 6),
}));

export const PodIP = obj(n("PodIP"), () => ({
  ip: F(str, 1, { required: true }),
}));

export const HostIP = obj(n("HostIP"), () => ({
  ip: F(str, 1, { required: true }),
}));

export const PodResourceClaimStatus = obj(n("PodResourceClaimStatus"), () => ({
  name: F(str, 1, { required: true }),
  resourceClaimName: F(str, 2),
}));

export const ContainerExtendedResourceRequest = obj(n("ContainerExtendedResourceRequest"), () => ({
  containerName: F(str, 1, { required: true }),
  resourceName: F(str, 2, { required: true }),
  requestName: F(str, 3, { required: true }),
}));

export const PodExtendedResourceClaimStatus = obj(n("PodExtendedResourceClaimStatus"), () => ({
  requestMappings: F(atomicList(ContainerExtendedResourceRequest), 1, { required: true }),
  resourceClaimName: F(str, 2, { required: true }),
}));

export const PodStatus = obj(n("PodStatus"), () => ({
  observedGeneration: F(int64, 17),
  phase: F(str, 1),
  conditions: F(keyedList(PodCondition, "type"), 2),
  message: F(str, 3),
  reason: F(str, 4),
  nominatedNodeName: F(str, 11),
  hostIP: F(str, 5),
  hostIPs: F(list(HostIP, { patchStrategy: "merge", patchMergeKey: "ip", listType: "atomic" }), 16),
  podIP: F(str, 6),
  podIPs: F(keyedList(PodIP, "ip"), 12),
  startTime: F(time, 7),
  initContainerStatuses: F(atomicList(ContainerStatus), 10),
  containerStatuses: F(atomicList(ContainerStatus), 8),
  qosClass: F(str, 9),
  ephemeralContainerStatuses: F(atomicList(ContainerStatus), 13),
  resize: F(str, 14),
  resourceClaimStatuses: F(
    list(PodResourceClaimStatus, { patchStrategy: "merge,retainKeys", patchMergeKey: "name", listType: "map", listMapKeys: ["name"] }),
    15,
  ),
  extendedResourceClaimStatus: F(PodExtendedResourceClaimStatus, 18),
  allocatedResources: F(map(quantity), 19),
  resources: F(ResourceRequirements, 20),
}));

export const Pod = obj(n("Pod"), () => ({
  ...typeMetaFields(),
  spec: F(PodSpec, 2),
  status: F(PodStatus, 3),
}));

export const PodTemplateSpec = obj(n("PodTemplateSpec"), () => ({
  metadata: F(ObjectMeta, 1),
  spec: F(PodSpec, 2),
}));

export const PodTemplate = obj(n("PodTemplate"), () => ({
  ...typeMetaFields(),
  template: F(PodTemplateSpec, 2),
}));

/** Body of POST pods/{name}/binding (and of the top-level bindings resource): ties a pod to a node. */
export const Binding = obj(n("Binding"), () => ({
  ...typeMetaFields(),
  target: F(ObjectReference, 2, { required: true }),
}));

const s = (v: unknown) => (v === undefined || v === null ? "" : String(v));

export const resources: ResourceDef[] = [
  {
    group: "",
    version: "v1",
    kind: "Pod",
    plural: "pods",
    singular: "pod",
    namespaced: true,
    shortNames: ["po"],
    categories: ["all"],
    type: Pod,
    subresources: { status: true },
    fieldSelectors: {
      "spec.nodeName": (o) => s(o?.spec?.nodeName),
      "spec.restartPolicy": (o) => s(o?.spec?.restartPolicy),
      "spec.schedulerName": (o) => s(o?.spec?.schedulerName),
      "spec.serviceAccountName": (o) => s(o?.spec?.serviceAccountName),
      "spec.hostNetwork": (o) => String(o?.spec?.hostNetwork === true),
      "status.phase": (o) => s(o?.status?.phase),
      // Kubernetes reads the first of status.podIPs (status.podIP mirrors it).
      "status.podIP": (o) => s(o?.status?.podIPs?.[0]?.ip ?? o?.status?.podIP),
      "status.nominatedNodeName": (o) => s(o?.status?.nominatedNodeName),
    },
    defaults: defaultPod,
    validate: validatePod,
  },
  {
    group: "",
    version: "v1",
    kind: "PodTemplate",
    plural: "podtemplates",
    singular: "podtemplate",
    namespaced: true,
    type: PodTemplate,
    defaults: defaultPodTemplate,
    validate: validatePodTemplate,
    noGeneration: true,
  },
  {
    // Create-only, never stored: upstream's top-level bindings REST is the pods/binding code,
    // with the pod named by the Binding's metadata.name.
    group: "",
    version: "v1",
    kind: "Binding",
    plural: "bindings",
    singular: "binding",
    namespaced: true,
    type: Binding,
    verbs: ["create"],
    noGeneration: true,
  },
];
