// The registry: one write path for every kind and every writer (HTTP clients, controllers, the
// scheduler, bootstrap). Kinds with special write rules register their strategy here, one line
// each; the admission plugins come from server/admission/index.ts.
import { AdmissionChain } from "../admission/chain";
import { defaultPlugins } from "../admission/index";
import type { AdmissionPlugin } from "../admission/types";
import type { Store } from "../store/store";
import { syncCustomResources } from "./crd-sync";
import { createOnUpdateStrategy } from "./kinds/create-on-update";
import { crdStrategy } from "./kinds/crds";
import { csrStrategy } from "./kinds/certificates";
import { generationStrategy } from "./kinds/generation";
import { namespaceStrategy } from "./kinds/namespaces";
import { nodeStrategy } from "./kinds/nodes";
import { podStrategy } from "./kinds/pods";
import { clusterRoleBindingStrategy, clusterRoleStrategy, roleBindingStrategy, roleStrategy } from "./kinds/rbac";
import { ingressStrategy, loadBalancerServiceStrategy } from "./kinds/networking";
import { Registry } from "./registry";
import type { Strategy } from "./strategy";

/** Strategies by store key (group/plural, core kinds by plural alone). */
const STRATEGIES: [string, Strategy][] = [
  ["pods", podStrategy],
  ["services", loadBalancerServiceStrategy],
  ["nodes", nodeStrategy],
  ["namespaces", namespaceStrategy],
  ["endpoints", createOnUpdateStrategy],
  ["events", createOnUpdateStrategy],
  ["coordination.k8s.io/leases", createOnUpdateStrategy],
  ["discovery.k8s.io/endpointslices", createOnUpdateStrategy],
  ["apps/deployments", generationStrategy],
  ["apps/replicasets", generationStrategy],
  ["apps/statefulsets", generationStrategy],
  ["apps/daemonsets", generationStrategy],
  ["batch/jobs", generationStrategy],
  ["batch/cronjobs", generationStrategy],
  ["networking.k8s.io/ingresses", ingressStrategy],
  ["networking.k8s.io/networkpolicies", generationStrategy],
  ["autoscaling/horizontalpodautoscalers", generationStrategy],
  ["policy/poddisruptionbudgets", generationStrategy],
  ["rbac.authorization.k8s.io/roles", roleStrategy],
  ["rbac.authorization.k8s.io/clusterroles", clusterRoleStrategy],
  ["rbac.authorization.k8s.io/rolebindings", roleBindingStrategy],
  ["rbac.authorization.k8s.io/clusterrolebindings", clusterRoleBindingStrategy],
  ["apiextensions.k8s.io/customresourcedefinitions", crdStrategy],
  ["certificates.k8s.io/certificatesigningrequests", csrStrategy],
];

/** The process's registry over `store`; tests may pass their own admission plugins. */
export function newRegistry(store: Store, plugins: AdmissionPlugin[] = defaultPlugins()): Registry {
  syncCustomResources(store);
  return new Registry(store, new Map(STRATEGIES), new AdmissionChain(plugins));
}
