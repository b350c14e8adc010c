// The admission plugins, in kube-apiserver's order (RecommendedPluginOrder). A new plugin is one
// file in this folder and one line here, at its upstream position:
//   NamespaceLifecycle, LimitRanger, ServiceAccount, NodeRestriction, TaintNodesByCondition, PodSecurity, Priority,
//   DefaultTolerationSeconds, DefaultStorageClass, StorageObjectInUseProtection, RuntimeClass,
//   DefaultIngressClass, MutatingAdmissionWebhook, ValidatingAdmissionPolicy, ValidatingAdmissionWebhook, ResourceQuota.
import type { AdmissionPlugin } from "./types";
import { defaultStorageClass } from "./default-storage-class";
import { defaultTolerationSeconds } from "./default-toleration-seconds";
import { limitRanger } from "./limit-ranger";
import { namespaceLifecycle } from "./namespace-lifecycle";
import { NodeRestriction } from "./node-restriction";
import { podSecurity } from "./pod-security";
import { priority } from "./priority";
import { resourceQuota } from "./resource-quota";
import { runtimeClass } from "./runtime-class";
import { serviceAccount } from "./service-account";
import { storageObjectInUseProtection } from "./storage-object-in-use-protection";
import { taintNodesByCondition } from "./taint-nodes-by-condition";
import { mutatingAdmissionWebhook, validatingAdmissionWebhook } from "./webhooks/plugins";
import { validatingAdmissionPolicy } from "./validating-admission-policy";

/** defaultTolerationSeconds: DefaultTolerationSeconds' value (default $SKIFF_DEFAULT_TOLERATION_SECONDS or 300). */
export function defaultPlugins(o: { defaultTolerationSeconds?: number } = {}): AdmissionPlugin[] {
  return [
    namespaceLifecycle,
    limitRanger,
    serviceAccount,
    new NodeRestriction(),
    taintNodesByCondition,
    podSecurity,
    priority,
    defaultTolerationSeconds(o.defaultTolerationSeconds ?? (Number(process.env.SKIFF_DEFAULT_TOLERATION_SECONDS) || 300)),
    defaultStorageClass,
    storageObjectInUseProtection,
    runtimeClass,
    mutatingAdmissionWebhook,
    validatingAdmissionPolicy,
    validatingAdmissionWebhook,
    resourceQuota,
  ];
}
