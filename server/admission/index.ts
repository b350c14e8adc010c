// The admission plugins, in kube-apiserver's order (RecommendedPluginOrder). A new plugin is one
// file in this folder and one line here, at its upstream position:
//   NamespaceLifecycle, LimitRanger, ServiceAccount, NodeRestriction, PodSecurity, Priority,
//   DefaultTolerationSeconds, DefaultStorageClass, StorageObjectInUseProtection, RuntimeClass,
//   DefaultIngressClass, MutatingAdmissionWebhook, ValidatingAdmissionWebhook, ResourceQuota.
import type { AdmissionPlugin } from "./types";
import { defaultStorageClass } from "./default-storage-class";
import { limitRanger } from "./limit-ranger";
import { namespaceLifecycle } from "./namespace-lifecycle";
import { NodeRestriction } from "./node-restriction";
import { podSecurity } from "./pod-security";
import { priority } from "./priority";
import { resourceQuota } from "./resource-quota";
import { runtimeClass } from "./runtime-class";

export function defaultPlugins(): AdmissionPlugin[] {
  return [
    namespaceLifecycle,
    limitRanger,
    new NodeRestriction(),
    podSecurity,
    priority,
    defaultStorageClass,
    runtimeClass,
    resourceQuota,
  ];
}
