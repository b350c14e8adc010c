// Small core/v1 types used across pods, nodes, storage and events. Field numbers follow
// k8s.io/api/core/v1/generated.proto.
//
// Go structs that *embed* another struct inline (ConfigMapKeySelector embeds LocalObjectReference,
// Volume embeds VolumeSource, Probe embeds ProbeHandler, ...) put the embedded struct's fields
// at the parent's level in JSON but nest them as one message field in protobuf. The DSL has no
// way to say that yet, so those JSON fields are declared flat and without a pb number (see
// `inlinedPb` below for where protobuf nests them).
import { F, atomicList, int64, list, map, obj, quantity, str, time } from "../dsl";
import { LabelSelector } from "./meta";

/** protobuf nesting of inlined Go structs: parent definition -> [pb number of the embedded message, embedded definition]. */
export const inlinedPb: Record<string, [number, string]> = {
  "io.k8s.api.core.v1.Volume": [2, "io.k8s.api.core.v1.VolumeSource"],
  "io.k8s.api.core.v1.ConfigMapVolumeSource": [1, "io.k8s.api.core.v1.LocalObjectReference"],
  "io.k8s.api.core.v1.ConfigMapProjection": [1, "io.k8s.api.core.v1.LocalObjectReference"],
  "io.k8s.api.core.v1.ConfigMapEnvSource": [1, "io.k8s.api.core.v1.LocalObjectReference"],
  "io.k8s.api.core.v1.ConfigMapKeySelector": [1, "io.k8s.api.core.v1.LocalObjectReference"],
  "io.k8s.api.core.v1.SecretProjection": [1, "io.k8s.api.core.v1.LocalObjectReference"],
  "io.k8s.api.core.v1.SecretEnvSource": [1, "io.k8s.api.core.v1.LocalObjectReference"],
  "io.k8s.api.core.v1.SecretKeySelector": [1, "io.k8s.api.core.v1.LocalObjectReference"],
  "io.k8s.api.core.v1.EphemeralContainer": [1, "io.k8s.api.core.v1.EphemeralContainerCommon"],
  "io.k8s.api.core.v1.Probe": [1, "io.k8s.api.core.v1.ProbeHandler"],
  "io.k8s.api.core.v1.PersistentVolumeSpec": [2, "io.k8s.api.core.v1.PersistentVolumeSource"],
};

const n = (name: string) => `io.k8s.api.core.v1.${name}`;
export const coreName = n;

export const ObjectReference = obj(n("ObjectReference"), () => ({
  kind: F(str, 1),
  namespace: F(str, 2),
  name: F(str, 3),
  uid: F(str, 4),
  apiVersion: F(str, 5),
  resourceVersion: F(str, 6),
  fieldPath: F(str, 7),
}));

export const LocalObjectReference = obj(n("LocalObjectReference"), () => ({
  name: F(str, 1),
}));

export const TypedLocalObjectReference = obj(n("TypedLocalObjectReference"), () => ({
  apiGroup: F(str, 1),
  kind: F(str, 2, { required: true }),
  name: F(str, 3, { required: true }),
}));

export const TypedObjectReference = obj(n("TypedObjectReference"), () => ({
  apiGroup: F(str, 1),
  kind: F(str, 2, { required: true }),
  name: F(str, 3, { required: true }),
  namespace: F(str, 4),
}));

export const SecretReference = obj(n("SecretReference"), () => ({
  name: F(str, 1),
  namespace: F(str, 2),
}));

export const ResourceClaim = obj(n("ResourceClaim"), () => ({
  name: F(str, 1, { required: true }),
  request: F(str, 2),
}));

export const ResourceRequirements = obj(n("ResourceRequirements"), () => ({
  limits: F(map(quantity), 1),
  requests: F(map(quantity), 2),
  claims: F(list(ResourceClaim, { listType: "map", listMapKeys: ["name"] }), 3),
}));

export const VolumeResourceRequirements = obj(n("VolumeResourceRequirements"), () => ({
  limits: F(map(quantity), 1),
  requests: F(map(quantity), 2),
}));

export const PersistentVolumeClaimSpec = obj(n("PersistentVolumeClaimSpec"), () => ({
  accessModes: F(atomicList(str), 1),
  selector: F(LabelSelector, 4),
  resources: F(VolumeResourceRequirements, 2),
  volumeName: F(str, 3),
  storageClassName: F(str, 5),
  volumeMode: F(str, 6),
  dataSource: F(TypedLocalObjectReference, 7),
  dataSourceRef: F(TypedObjectReference, 8),
  volumeAttributesClassName: F(str, 9),
}));


export const Toleration = obj(n("Toleration"), () => ({
  key: F(str, 1),
  operator: F(str, 2),
  value: F(str, 3),
  effect: F(str, 4),
  tolerationSeconds: F(int64, 5),
}));

export const Taint = obj(n("Taint"), () => ({
  key: F(str, 1, { required: true }),
  value: F(str, 2),
  effect: F(str, 3, { required: true }),
  timeAdded: F(time, 4),
}));

export const NodeSelectorRequirement = obj(n("NodeSelectorRequirement"), () => ({
  key: F(str, 1, { required: true }),
  operator: F(str, 2, { required: true }),
  values: F(atomicList(str), 3),
}));

export const NodeSelectorTerm = obj(n("NodeSelectorTerm"), () => ({
  matchExpressions: F(atomicList(NodeSelectorRequirement), 1),
  matchFields: F(atomicList(NodeSelectorRequirement), 2),
}));

export const NodeSelector = obj(n("NodeSelector"), () => ({
  nodeSelectorTerms: F(atomicList(NodeSelectorTerm), 1, { required: true }),
}));

export const TopologySelectorLabelRequirement = obj(n("TopologySelectorLabelRequirement"), () => ({
  key: F(str, 1, { required: true }),
  values: F(atomicList(str), 2, { required: true }),
}));

export const TopologySelectorTerm = obj(n("TopologySelectorTerm"), () => ({
  matchLabelExpressions: F(atomicList(TopologySelectorLabelRequirement), 1),
}));

export const ObjectFieldSelector = obj(n("ObjectFieldSelector"), () => ({
  apiVersion: F(str, 1),
  fieldPath: F(str, 2, { required: true }),
}));

export const ResourceFieldSelector = obj(n("ResourceFieldSelector"), () => ({
  containerName: F(str, 1),
  resource: F(str, 2, { required: true }),
  divisor: F(quantity, 3),
}));
