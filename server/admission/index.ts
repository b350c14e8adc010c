// The admission plugins, in kube-apiserver's order (RecommendedPluginOrder). A new plugin is one
// file in this folder and one line here, at its upstream position:
//   NamespaceLifecycle, LimitRanger, ServiceAccount, NodeRestriction, PodSecurity, Priority,
//   DefaultTolerationSeconds, DefaultStorageClass, StorageObjectInUseProtection,
//   DefaultIngressClass, MutatingAdmissionWebhook, ValidatingAdmissionWebhook, ResourceQuota.
import type { AdmissionPlugin } from "./types";
import { defaultStorageClass } from "./default-storage-class";
import { namespaceLifecycle } from "./namespace-lifecycle";
import { NodeRestriction } from "./node-restriction";

export function defaultPlugins(): AdmissionPlugin[] {
  return [
    namespaceLifecycle,
    new NodeRestriction(),
    defaultStorageClass,
  ];
}
