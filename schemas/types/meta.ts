// meta/v1 types shared by every kind. Field numbers follow k8s.io/apimachinery/pkg/apis/meta/v1.
import { F, anyJson, bool, int32, int64, keyedList, list, map, obj, setList, str, time } from "../dsl";

export const OwnerReference = obj("io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference", () => ({
  apiVersion: F(str, 5, { required: true }),
  kind: F(str, 1, { required: true }),
  name: F(str, 3, { required: true }),
  uid: F(str, 4, { required: true }),
  controller: F(bool, 6),
  blockOwnerDeletion: F(bool, 7),
}));

export const ManagedFieldsEntry = obj("io.k8s.apimachinery.pkg.apis.meta.v1.ManagedFieldsEntry", () => ({
  manager: F(str, 1),
  operation: F(str, 2),
  apiVersion: F(str, 3),
  time: F(time, 4),
  fieldsType: F(str, 6),
  fieldsV1: F(anyJson, 7),
  subresource: F(str, 8),
}));

export const ObjectMeta = obj("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", () => ({
  name: F(str, 1),
  generateName: F(str, 2),
  namespace: F(str, 3),
  selfLink: F(str, 4),
  uid: F(str, 5),
  resourceVersion: F(str, 6),
  generation: F(int64, 7),
  creationTimestamp: F(time, 8),
  deletionTimestamp: F(time, 9),
  deletionGracePeriodSeconds: F(int64, 10),
  labels: F(map(str), 11),
  annotations: F(map(str), 12),
  ownerReferences: F(keyedList(OwnerReference, "uid"), 13),
  finalizers: F(setList(str), 14),
  managedFields: F(list(ManagedFieldsEntry), 17),
}));

export const ListMeta = obj("io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta", () => ({
  selfLink: F(str, 1),
  resourceVersion: F(str, 2),
  continue: F(str, 3),
  remainingItemCount: F(int64, 4),
}));

export const LabelSelectorRequirement = obj("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelectorRequirement", () => ({
  key: F(str, 1, { required: true }),
  operator: F(str, 2, { required: true }),
  values: F(list(str, { listType: "atomic" }), 3),
}));

export const LabelSelector = obj("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector", () => ({
  matchLabels: F(map(str), 1),
  matchExpressions: F(list(LabelSelectorRequirement, { listType: "atomic" }), 2),
}));

export const Condition = obj("io.k8s.apimachinery.pkg.apis.meta.v1.Condition", () => ({
  type: F(str, 1, { required: true }),
  status: F(str, 2, { required: true }),
  observedGeneration: F(int64, 3),
  lastTransitionTime: F(time, 4, { required: true }),
  reason: F(str, 5, { required: true }),
  message: F(str, 6, { required: true }),
}));

export const StatusCause = obj("io.k8s.apimachinery.pkg.apis.meta.v1.StatusCause", () => ({
  reason: F(str, 1),
  message: F(str, 2),
  field: F(str, 3),
}));

export const StatusDetails = obj("io.k8s.apimachinery.pkg.apis.meta.v1.StatusDetails", () => ({
  name: F(str, 1),
  group: F(str, 2),
  kind: F(str, 3),
  uid: F(str, 6),
  causes: F(list(StatusCause), 4),
  retryAfterSeconds: F(int32, 5),
}));

export const DeleteOptions = obj("io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions", () => ({
  apiVersion: F(str),
  kind: F(str),
  gracePeriodSeconds: F(int64, 1),
  preconditions: F(
    obj("io.k8s.apimachinery.pkg.apis.meta.v1.Preconditions", () => ({ uid: F(str, 1), resourceVersion: F(str, 2) })),
    2,
  ),
  orphanDependents: F(bool, 3),
  propagationPolicy: F(str, 4),
  dryRun: F(list(str, { listType: "atomic" }), 5),
}));

/** apiVersion + kind + metadata: the head of every top-level object. */
export const typeMetaFields = () => ({
  apiVersion: F(str),
  kind: F(str),
  metadata: F(ObjectMeta, 1),
});
