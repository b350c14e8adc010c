// core/v1 kinds other than pods: Namespace, Service, Endpoints, ConfigMap, Secret, Node, Event,
// ServiceAccount, PersistentVolume(Claim), ResourceQuota, LimitRange. Types and resource
// definitions; validation lives in core-validation.ts, PV/PVC types in core-storage.ts.
import {
  F,
  atomicList,
  bool,
  bytes,
  int32,
  int64,
  intOrString,
  keyedList,
  list,
  map,
  microTime,
  obj,
  quantity,
  setList,
  str,
  time,
} from "../dsl";
import type { ResourceDef } from "../registry";
import { Condition, typeMetaFields } from "./meta";
import { LocalObjectReference, ObjectReference, Taint, coreName as n } from "./pod-common";
import { PersistentVolume, PersistentVolumeClaim } from "./core-storage";
import {
  validateConfigMap,
  validateEndpoints,
  validateEvent,
  validateLimitRange,
  validateNamespace,
  validateNode,
  validatePersistentVolume,
  validatePersistentVolumeClaim,
  validateResourceQuota,
  validateSecret,
  validateService,
  validateServiceAccount,
} from "./core-validation";
import { isObj } from "../helpers/json";

export { PersistentVolume, PersistentVolumeClaim, PersistentVolumeSpec } from "./core-storage";

// ---- Namespace ------------------------------------------------------------------------------

export const NamespaceSpec = obj(n("NamespaceSpec"), () => ({
  finalizers: F(atomicList(str), 1),
}));

export const NamespaceCondition = obj(n("NamespaceCondition"), () => ({
  type: F(str, 1, { required: true }),
  status: F(str, 2, { required: true }),
  lastTransitionTime: F(time, 4),
  reason: F(str, 5),
  message: F(str, 6),
}));

export const NamespaceStatus = obj(n("NamespaceStatus"), () => ({
  phase: F(str, 1),
  conditions: F(keyedList(NamespaceCondition, "type"), 2),
}));

export const Namespace = obj(n("Namespace"), () => ({
  ...typeMetaFields(),
  spec: F(NamespaceSpec, 2),
  status: F(NamespaceStatus, 3),
}));

// ---- Service ----------------------------------------------------------------------------------

export const ServicePort = obj(n("ServicePort"), () => ({
  name: F(str, 1),
  protocol: F(str, 2),
  appProtocol: F(str, 6),
  port: F(int32, 3, { required: true }),
  targetPort: F(intOrString, 4),
  nodePort: F(int32, 5),
}));

export const ClientIPConfig = obj(n("ClientIPConfig"), () => ({
  timeoutSeconds: F(int32, 1),
}));

export const SessionAffinityConfig = obj(n("SessionAffinityConfig"), () => ({
  clientIP: F(ClientIPConfig, 1),
}));

export const ServiceSpec = obj(n("ServiceSpec"), () => ({
  ports: F(
    list(ServicePort, { patchStrategy: "merge", patchMergeKey: "port", listType: "map", listMapKeys: ["port", "protocol"] }),
    1,
  ),
  selector: F(map(str), 2),
  clusterIP: F(str, 3),
  clusterIPs: F(atomicList(str), 18),
  type: F(str, 4),
  externalIPs: F(atomicList(str), 5),
  sessionAffinity: F(str, 7),
  loadBalancerIP: F(str, 8),
  loadBalancerSourceRanges: F(atomicList(str), 9),
  externalName: F(str, 10),
  externalTrafficPolicy: F(str, 11),
  healthCheckNodePort: F(int32, 12),
  publishNotReadyAddresses: F(bool, 13),
  sessionAffinityConfig: F(SessionAffinityConfig, 14),
  ipFamilies: F(atomicList(str), 19),
  ipFamilyPolicy: F(str, 17),
  allocateLoadBalancerNodePorts: F(bool, 20),
  loadBalancerClass: F(str, 21),
  internalTrafficPolicy: F(str, 22),
  trafficDistribution: F(str, 23),
}));

export const PortStatus = obj(n("PortStatus"), () => ({
  port: F(int32, 1, { required: true }),
  protocol: F(str, 2, { required: true }),
  error: F(str, 3),
}));

export const LoadBalancerIngress = obj(n("LoadBalancerIngress"), () => ({
  ip: F(str, 1),
  hostname: F(str, 2),
  ipMode: F(str, 3),
  ports: F(atomicList(PortStatus), 4),
}));

export const LoadBalancerStatus = obj(n("LoadBalancerStatus"), () => ({
  ingress: F(atomicList(LoadBalancerIngress), 1),
}));

export const ServiceStatus = obj(n("ServiceStatus"), () => ({
  loadBalancer: F(LoadBalancerStatus, 1),
  conditions: F(keyedList(Condition, "type"), 2),
}));

export const Service = obj(n("Service"), () => ({
  ...typeMetaFields(),
  spec: F(ServiceSpec, 2),
  status: F(ServiceStatus, 3),
}));

// ---- Endpoints ------------------------------------------------------------------------------

export const EndpointAddress = obj(n("EndpointAddress"), () => ({
  ip: F(str, 1, { required: true }),
  hostname: F(str, 3),
  nodeName: F(str, 4),
  targetRef: F(ObjectReference, 2),
}));

export const EndpointPort = obj(n("EndpointPort"), () => ({
  name: F(str, 1),
  port: F(int32, 2, { required: true }),
  protocol: F(str, 3),
  appProtocol: F(str, 4),
}));

export const EndpointSubset = obj(n("EndpointSubset"), () => ({
  addresses: F(atomicList(EndpointAddress), 1),
  notReadyAddresses: F(atomicList(EndpointAddress), 2),
  ports: F(atomicList(EndpointPort), 3),
}));

export const Endpoints = obj(n("Endpoints"), () => ({
  ...typeMetaFields(),
  subsets: F(atomicList(EndpointSubset), 2),
}));

// ---- ConfigMap and Secret ------------------------------------------------------------------------

export const ConfigMap = obj(n("ConfigMap"), () => ({
  ...typeMetaFields(),
  immutable: F(bool, 4),
  data: F(map(str), 2),
  binaryData: F(map(bytes), 3),
}));

export const Secret = obj(n("Secret"), () => ({
  ...typeMetaFields(),
  immutable: F(bool, 5),
  data: F(map(bytes), 2),
  stringData: F(map(str), 4),
  type: F(str, 3),
}));

// ---- Node -----------------------------------------------------------------------------------

export const ConfigMapNodeConfigSource = obj(n("ConfigMapNodeConfigSource"), () => ({
  namespace: F(str, 1, { required: true }),
  name: F(str, 2, { required: true }),
  uid: F(str, 3),
  resourceVersion: F(str, 4),
  kubeletConfigKey: F(str, 5, { required: true }),
}));

export const NodeConfigSource = obj(n("NodeConfigSource"), () => ({
  configMap: F(ConfigMapNodeConfigSource, 2),
}));

export const NodeSpec = obj(n("NodeSpec"), () => ({
  podCIDR: F(str, 1),
  podCIDRs: F(setList(str), 7),
  providerID: F(str, 3),
  unschedulable: F(bool, 4),
  taints: F(atomicList(Taint), 5),
  configSource: F(NodeConfigSource, 6),
  externalID: F(str, 2),
}));

export const NodeCondition = obj(n("NodeCondition"), () => ({
  type: F(str, 1, { required: true }),
  status: F(str, 2, { required: true }),
  lastHeartbeatTime: F(time, 3),
  lastTransitionTime: F(time, 4),
  reason: F(str, 5),
  message: F(str, 6),
}));

export const NodeAddress = obj(n("NodeAddress"), () => ({
  type: F(str, 1, { required: true }),
  address: F(str, 2, { required: true }),
}));

export const DaemonEndpoint = obj(n("DaemonEndpoint"), () => ({
  Port: F(int32, 1, { required: true }), // capitalized in the wire format, as upstream
}));

export const NodeDaemonEndpoints = obj(n("NodeDaemonEndpoints"), () => ({
  kubeletEndpoint: F(DaemonEndpoint, 1),
}));

export const NodeSwapStatus = obj(n("NodeSwapStatus"), () => ({
  capacity: F(int64, 1),
}));

export const NodeSystemInfo = obj(n("NodeSystemInfo"), () => ({
  machineID: F(str, 1, { required: true }),
  systemUUID: F(str, 2, { required: true }),
  bootID: F(str, 3, { required: true }),
  kernelVersion: F(str, 4, { required: true }),
  osImage: F(str, 5, { required: true }),
  containerRuntimeVersion: F(str, 6, { required: true }),
  kubeletVersion: F(str, 7, { required: true }),
  kubeProxyVersion: F(str, 8, { required: true }),
  operatingSystem: F(str, 9, { required: true }),
  architecture: F(str, 10, { required: true }),
  swap: F(NodeSwapStatus, 11),
}));

export const ContainerImage = obj(n("ContainerImage"), () => ({
  names: F(atomicList(str), 1),
  sizeBytes: F(int64, 2),
}));

export const AttachedVolume = obj(n("AttachedVolume"), () => ({
  name: F(str, 1, { required: true }),
  devicePath: F(str, 2, { required: true }),
}));

export const NodeConfigStatus = obj(n("NodeConfigStatus"), () => ({
  assigned: F(NodeConfigSource, 1),
  active: F(NodeConfigSource, 2),
  lastKnownGood: F(NodeConfigSource, 3),
  error: F(str, 4),
}));

export const NodeRuntimeHandlerFeatures = obj(n("NodeRuntimeHandlerFeatures"), () => ({
  recursiveReadOnlyMounts: F(bool, 1),
  userNamespaces: F(bool, 2),
}));

export const NodeRuntimeHandler = obj(n("NodeRuntimeHandler"), () => ({
  name: F(str, 1),
  features: F(NodeRuntimeHandlerFeatures, 2),
}));

export const NodeFeatures = obj(n("NodeFeatures"), () => ({
  supplementalGroupsPolicy: F(bool, 1),
  containerUlimits: F(bool, 2),
}));

export const NodeStatus = obj(n("NodeStatus"), () => ({
  capacity: F(map(quantity), 1),
  allocatable: F(map(quantity), 2),
  phase: F(str, 3),
  conditions: F(keyedList(NodeCondition, "type"), 4),
  addresses: F(keyedList(NodeAddress, "type"), 5),
  daemonEndpoints: F(NodeDaemonEndpoints, 6),
  nodeInfo: F(NodeSystemInfo, 7),
  images: F(atomicList(ContainerImage), 8),
  volumesInUse: F(atomicList(str), 9),
  volumesAttached: F(atomicList(AttachedVolume), 10),
  config: F(NodeConfigStatus, 11),
  runtimeHandlers: F(atomicList(NodeRuntimeHandler), 12),
  features: F(NodeFeatures, 13),
  declaredFeatures: F(atomicList(str), 14),
}));

export const Node = obj(n("Node"), () => ({
  ...typeMetaFields(),
  spec: F(NodeSpec, 2),
  status: F(NodeStatus, 3),
}));

// ---- Event ----------------------------------------------------------------------------------

export const EventSource = obj(n("EventSource"), () => ({
  component: F(str, 1),
  host: F(str, 2),
}));

export const EventSeries = obj(n("EventSeries"), () => ({
  count: F(int32, 1),
  lastObservedTime: F(microTime, 2),
}));

export const Event = obj(n("Event"), () => ({
  ...typeMetaFields(),
  involvedObject: F(ObjectReference, 2, { required: true }),
  reason: F(str, 3),
  message: F(str, 4),
  source: F(EventSource, 5),
  firstTimestamp: F(time, 6),
  lastTimestamp: F(time, 7),
  count: F(int32, 8),
  type: F(str, 9),
  eventTime: F(microTime, 10),
  series: F(EventSeries, 11),
  action: F(str, 12),
  related: F(ObjectReference, 13),
  reportingComponent: F(str, 14),
  reportingInstance: F(str, 15),
}));

// ---- ServiceAccount ---------------------------------------------------------------------------

export const ServiceAccount = obj(n("ServiceAccount"), () => ({
  ...typeMetaFields(),
  secrets: F(keyedList(ObjectReference, "name"), 2),
  imagePullSecrets: F(atomicList(LocalObjectReference), 3),
  automountServiceAccountToken: F(bool, 4),
}));

// ---- ResourceQuota and LimitRange ---------------------------------------------------------------

export const ScopedResourceSelectorRequirement = obj(n("ScopedResourceSelectorRequirement"), () => ({
  scopeName: F(str, 1, { required: true }),
  operator: F(str, 2, { required: true }),
  values: F(atomicList(str), 3),
}));

export const ScopeSelector = obj(n("ScopeSelector"), () => ({
  matchExpressions: F(atomicList(ScopedResourceSelectorRequirement), 1),
}));

export const ResourceQuotaSpec = obj(n("ResourceQuotaSpec"), () => ({
  hard: F(map(quantity), 1),
  scopes: F(atomicList(str), 2),
  scopeSelector: F(ScopeSelector, 3),
}));

export const ResourceQuotaStatus = obj(n("ResourceQuotaStatus"), () => ({
  hard: F(map(quantity), 1),
  used: F(map(quantity), 2),
}));

export const ResourceQuota = obj(n("ResourceQuota"), () => ({
  ...typeMetaFields(),
  spec: F(ResourceQuotaSpec, 2),
  status: F(ResourceQuotaStatus, 3),
}));

export const LimitRangeItem = obj(n("LimitRangeItem"), () => ({
  type: F(str, 1, { required: true }),
  max: F(map(quantity), 2),
  min: F(map(quantity), 3),
  default: F(map(quantity), 4),
  defaultRequest: F(map(quantity), 5),
  maxLimitRequestRatio: F(map(quantity), 6),
}));

export const LimitRangeSpec = obj(n("LimitRangeSpec"), () => ({
  limits: F(atomicList(LimitRangeItem), 1, { required: true }),
}));

export const LimitRange = obj(n("LimitRange"), () => ({
  ...typeMetaFields(),
  spec: F(LimitRangeSpec, 2),
}));

// ---- defaulting (pkg/apis/core/v1/defaults.go and the create strategies) --------------------------

const arr = (v: unknown): any[] => (Array.isArray(v) ? v : []);
const unset = (v: unknown) => v === undefined || v === null || v === "";

export function defaultNamespace(o: any) {
  if (!isObj(o)) return;
  // SetDefaults_Namespace: the immutable name label.
  const name = o.metadata?.name;
  if (typeof name === "string" && name) {
    o.metadata.labels = { ...(o.metadata.labels ?? {}), "kubernetes.io/metadata.name": name };
  }
  // Namespace strategy PrepareForCreate: the "kubernetes" finalizer.
  if (!isObj(o.spec)) o.spec = {};
  if (!Array.isArray(o.spec.finalizers)) o.spec.finalizers = ["kubernetes"];
  if (!isObj(o.status)) o.status = {};
  if (unset(o.status.phase)) o.status.phase = "Active";
}

export function defaultService(o: any) {
  if (!isObj(o)) return;
  if (!isObj(o.spec)) o.spec = {};
  const s = o.spec;
  if (unset(s.sessionAffinity)) s.sessionAffinity = "None";
  if (unset(s.type)) s.type = "ClusterIP";
  for (const p of arr(s.ports)) {
    if (!isObj(p)) continue;
    if (unset(p.protocol)) p.protocol = "TCP";
    if (p.targetPort === undefined || p.targetPort === null || p.targetPort === 0 || p.targetPort === "") p.targetPort = p.port;
  }
  if (s.sessionAffinity === "ClientIP" && !isObj(s.sessionAffinityConfig?.clientIP))
    s.sessionAffinityConfig = { clientIP: { timeoutSeconds: 10800 } };
  if ((s.type === "NodePort" || s.type === "LoadBalancer") && unset(s.externalTrafficPolicy)) s.externalTrafficPolicy = "Cluster";
  if (s.type !== "ExternalName") {
    if (unset(s.internalTrafficPolicy)) s.internalTrafficPolicy = "Cluster";
    // Set by the IP allocator in Kubernetes; a single-stack cluster always resolves to this.
    if (unset(s.ipFamilyPolicy)) s.ipFamilyPolicy = "SingleStack";
  }
  if (s.type === "LoadBalancer" && s.allocateLoadBalancerNodePorts === undefined) s.allocateLoadBalancerNodePorts = true;
  if (!isObj(o.status)) o.status = { loadBalancer: {} };
}

export function defaultEndpoints(o: any) {
  for (const sub of arr(o?.subsets)) for (const p of arr(sub?.ports)) if (isObj(p) && unset(p.protocol)) p.protocol = "TCP";
}

export function defaultSecret(o: any) {
  if (!isObj(o)) return;
  if (unset(o.type)) o.type = "Opaque";
  // stringData is write-only: merged into data (base64) and dropped, as v1 conversion does.
  if (isObj(o.stringData)) {
    const data = isObj(o.data) ? o.data : {};
    for (const [k, v] of Object.entries(o.stringData)) data[k] = Buffer.from(String(v ?? ""), "utf8").toString("base64");
    o.data = data;
    delete o.stringData;
  }
}

export function defaultNode(o: any) {
  if (!isObj(o)) return;
  // SetDefaults_NodeStatus: allocatable defaults to capacity.
  if (isObj(o.status) && isObj(o.status.capacity) && !isObj(o.status.allocatable))
    o.status.allocatable = { ...o.status.capacity };
}

export function defaultPersistentVolumeClaimSpec(spec: any) {
  if (isObj(spec) && unset(spec.volumeMode)) spec.volumeMode = "Filesystem";
}

export function defaultPersistentVolumeClaim(o: any) {
  if (!isObj(o)) return;
  if (!isObj(o.spec)) o.spec = {};
  defaultPersistentVolumeClaimSpec(o.spec);
  if (!isObj(o.status)) o.status = {};
  if (unset(o.status.phase)) o.status.phase = "Pending";
}

export function defaultPersistentVolume(o: any) {
  if (!isObj(o)) return;
  if (!isObj(o.spec)) o.spec = {};
  if (unset(o.spec.persistentVolumeReclaimPolicy)) o.spec.persistentVolumeReclaimPolicy = "Retain";
  if (unset(o.spec.volumeMode)) o.spec.volumeMode = "Filesystem";
  if (isObj(o.spec.hostPath) && (o.spec.hostPath.type === undefined || o.spec.hostPath.type === null)) o.spec.hostPath.type = "";
  if (isObj(o.spec.iscsi) && unset(o.spec.iscsi.iscsiInterface)) o.spec.iscsi.iscsiInterface = "default";
  if (isObj(o.spec.rbd)) {
    if (unset(o.spec.rbd.pool)) o.spec.rbd.pool = "rbd";
    if (unset(o.spec.rbd.user)) o.spec.rbd.user = "admin";
    if (unset(o.spec.rbd.keyring)) o.spec.rbd.keyring = "/etc/ceph/keyring";
  }
  if (!isObj(o.status)) o.status = {};
  if (unset(o.status.phase)) o.status.phase = "Pending";
}

export function defaultLimitRange(o: any) {
  for (const item of arr(o?.spec?.limits)) {
    if (!isObj(item) || item.type !== "Container") continue;
    const def: Record<string, unknown> = isObj(item.default) ? item.default : {};
    const defReq: Record<string, unknown> = isObj(item.defaultRequest) ? item.defaultRequest : {};
    for (const [k, v] of Object.entries(isObj(item.max) ? item.max : {})) if (def[k] === undefined) def[k] = v;
    for (const [k, v] of Object.entries(def)) if (defReq[k] === undefined) defReq[k] = v;
    for (const [k, v] of Object.entries(isObj(item.min) ? item.min : {})) if (defReq[k] === undefined) defReq[k] = v;
    if (Object.keys(def).length) item.default = def;
    if (Object.keys(defReq).length) item.defaultRequest = defReq;
  }
}

// ---- resources ------------------------------------------------------------------------------

const s = (v: unknown) => (v === undefined || v === null ? "" : String(v));
const core = { group: "", version: "v1" } as const;

export const resources: ResourceDef[] = [
  {
    ...core,
    kind: "Namespace",
    plural: "namespaces",
    singular: "namespace",
    namespaced: false,
    shortNames: ["ns"],
    type: Namespace,
    subresources: { status: true },
    fieldSelectors: { "status.phase": (o) => s(o?.status?.phase) },
    defaults: defaultNamespace,
    validate: validateNamespace,
    noGeneration: true,
  },
  {
    ...core,
    kind: "Service",
    plural: "services",
    singular: "service",
    namespaced: true,
    shortNames: ["svc"],
    categories: ["all"],
    type: Service,
    subresources: { status: true },
    fieldSelectors: {
      "spec.clusterIP": (o) => s(o?.spec?.clusterIP),
      "spec.type": (o) => s(o?.spec?.type),
    },
    defaults: defaultService,
    validate: validateService,
    noGeneration: true,
  },
  {
    ...core,
    kind: "Endpoints",
    plural: "endpoints",
    singular: "endpoints",
    namespaced: true,
    shortNames: ["ep"],
    type: Endpoints,
    defaults: defaultEndpoints,
    validate: validateEndpoints,
    noGeneration: true,
  },
  {
    ...core,
    kind: "ConfigMap",
    plural: "configmaps",
    singular: "configmap",
    namespaced: true,
    shortNames: ["cm"],
    type: ConfigMap,
    validate: validateConfigMap,
    noGeneration: true,
  },
  {
    ...core,
    kind: "Secret",
    plural: "secrets",
    singular: "secret",
    namespaced: true,
    type: Secret,
    fieldSelectors: { type: (o) => s(o?.type) },
    defaults: defaultSecret,
    validate: validateSecret,
    noGeneration: true,
  },
  {
    ...core,
    kind: "Node",
    plural: "nodes",
    singular: "node",
    namespaced: false,
    shortNames: ["no"],
    type: Node,
    subresources: { status: true },
    fieldSelectors: { "spec.unschedulable": (o) => String(o?.spec?.unschedulable === true) },
    defaults: defaultNode,
    validate: validateNode,
    noGeneration: true,
  },
  {
    ...core,
    kind: "Event",
    plural: "events",
    singular: "event",
    namespaced: true,
    shortNames: ["ev"],
    type: Event,
    fieldSelectors: {
      "involvedObject.kind": (o) => s(o?.involvedObject?.kind),
      "involvedObject.namespace": (o) => s(o?.involvedObject?.namespace),
      "involvedObject.name": (o) => s(o?.involvedObject?.name),
      "involvedObject.uid": (o) => s(o?.involvedObject?.uid),
      "involvedObject.apiVersion": (o) => s(o?.involvedObject?.apiVersion),
      "involvedObject.resourceVersion": (o) => s(o?.involvedObject?.resourceVersion),
      "involvedObject.fieldPath": (o) => s(o?.involvedObject?.fieldPath),
      reason: (o) => s(o?.reason),
      reportingComponent: (o) => s(o?.reportingComponent),
      // Kubernetes falls back to the reporting controller when source.component is empty.
      source: (o) => s(o?.source?.component || o?.reportingComponent),
      type: (o) => s(o?.type),
    },
    validate: validateEvent,
    noGeneration: true,
  },
  {
    ...core,
    kind: "ServiceAccount",
    plural: "serviceaccounts",
    singular: "serviceaccount",
    namespaced: true,
    shortNames: ["sa"],
    type: ServiceAccount,
    validate: validateServiceAccount,
    noGeneration: true,
  },
  {
    ...core,
    kind: "PersistentVolume",
    plural: "persistentvolumes",
    singular: "persistentvolume",
    namespaced: false,
    shortNames: ["pv"],
    type: PersistentVolume,
    subresources: { status: true },
    defaults: defaultPersistentVolume,
    validate: validatePersistentVolume,
    noGeneration: true,
  },
  {
    ...core,
    kind: "PersistentVolumeClaim",
    plural: "persistentvolumeclaims",
    singular: "persistentvolumeclaim",
    namespaced: true,
    shortNames: ["pvc"],
    type: PersistentVolumeClaim,
    subresources: { status: true },
    defaults: defaultPersistentVolumeClaim,
    validate: validatePersistentVolumeClaim,
    noGeneration: true,
  },
  {
    ...core,
    kind: "ResourceQuota",
    plural: "resourcequotas",
    singular: "resourcequota",
    namespaced: true,
    shortNames: ["quota"],
    type: ResourceQuota,
    subresources: { status: true },
    validate: validateResourceQuota,
    noGeneration: true,
  },
  {
    ...core,
    kind: "LimitRange",
    plural: "limitranges",
    singular: "limitrange",
    namespaced: true,
    shortNames: ["limits"],
    type: LimitRange,
    defaults: defaultLimitRange,
    validate: validateLimitRange,
    noGeneration: true,
  },
];
