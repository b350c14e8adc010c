// NodeRestriction (plugin/pkg/admission/noderestriction), for writes by a node
// (system:node:NAME in system:nodes). The Node authorizer decides what a node may touch by
// name; this plugin checks what only the object shows:
//   pods            create only mirror pods bound to itself, owned by its Node, using no
//                   service account, secrets, configmaps, PVCs or projected tokens; delete,
//                   evict and update status only of pods bound to itself; never ephemeral containers
//   nodes           create, update, delete only its own Node; never add, change or remove a
//                   restricted label (node-restriction.kubernetes.io/, and kubernetes.io/ or
//                   k8s.io/ labels outside kubelet's own set), never change taints
//   leases          only its own Lease in kube-node-lease
//   serviceaccounts/token   only tokens bound to a pod bound to itself
//   persistentvolumeclaims/status   only conditions and allocated resources
//   csinodes        only the CSINode named for itself
// Messages are upstream's, so kubectl prints what a Kubernetes user expects.
import { forbidden } from "../errors";
import { nodeIdentity } from "../auth/node";
import type { AdmissionPlugin, AdmissionRequest } from "./types";

const MIRROR_ANNOTATION = "kubernetes.io/config.mirror";
const LEASE_NS = "kube-node-lease";

/** kubelet's own labels, in the kubernetes.io and k8s.io namespaces (kubeletapis.KubeletLabels). */
const KUBELET_LABELS = new Set([
  "kubernetes.io/hostname",
  "topology.kubernetes.io/zone",
  "topology.kubernetes.io/region",
  "failure-domain.beta.kubernetes.io/zone",
  "failure-domain.beta.kubernetes.io/region",
  "beta.kubernetes.io/instance-type",
  "node.kubernetes.io/instance-type",
  "beta.kubernetes.io/os",
  "beta.kubernetes.io/arch",
  "kubernetes.io/os",
  "kubernetes.io/arch",
]);
const KUBELET_LABEL_NAMESPACES = ["kubelet.kubernetes.io", "node.kubernetes.io"];

/** A label a node may not set on itself (it could steer workloads meant for trusted nodes). */
export function isRestrictedNodeLabel(key: string): boolean {
  const slash = key.indexOf("/");
  if (slash < 0) return false;
  const ns = key.slice(0, slash).toLowerCase();
  if (ns === "node-restriction.kubernetes.io" || ns.endsWith(".node-restriction.kubernetes.io")) return true;
  if (KUBELET_LABELS.has(key)) return false;
  if (KUBELET_LABEL_NAMESPACES.some((k) => ns === k || ns.endsWith(`.${k}`))) return false;
  return ns === "kubernetes.io" || ns.endsWith(".kubernetes.io") || ns === "k8s.io" || ns.endsWith(".k8s.io");
}

export class NodeRestriction implements AdmissionPlugin {
  readonly name = "NodeRestriction";

  handles(req: AdmissionRequest): boolean {
    return nodeIdentity(req.user) !== undefined;
  }

  validate(req: AdmissionRequest): void {
    const node = nodeIdentity(req.user)!;
    const key = `${req.resource.group}/${req.resource.plural}`;
    switch (key) {
      case "/pods":
        return this.pod(node, req);
      case "/nodes":
        return this.node(node, req);
      case "coordination.k8s.io/leases":
        return this.lease(node, req);
      case "/serviceaccounts":
        if (req.subresource === "token") return this.token(node, req);
        return;
      case "/persistentvolumeclaims":
        if (req.subresource === "status") return this.pvcStatus(node, req);
        return;
      case "storage.k8s.io/csinodes":
        if (req.name !== node) throw forbidden(`csinodes.storage.k8s.io "${req.name}" is forbidden: can only access CSINode with the same name as the requesting node`);
        return;
    }
  }

  private pod(node: string, req: AdmissionRequest): void {
    const deny = (why: string) => {
      throw forbidden(`pods "${req.name || req.object?.metadata?.name || ""}" is forbidden: ${why}`);
    };
    const boundHere = (p: any) => p?.spec?.nodeName === node;
    if (req.subresource === "") {
      if (req.operation === "CREATE") return this.mirrorPod(node, req, deny);
      if (req.operation === "DELETE") {
        if (!boundHere(req.oldObject ?? req.object)) deny(`node "${node}" can only delete pods with spec.nodeName set to itself`);
        return;
      }
      deny(`node "${node}" can only create and delete pods`);
    }
    if (req.subresource === "status") {
      if (req.operation !== "UPDATE") deny(`unexpected operation ${req.operation}`);
      if (!boundHere(req.oldObject)) deny(`node "${node}" can only update pod status for pods with spec.nodeName set to itself`);
      return;
    }
    // Debug containers are a user's tool: a node (even one a role let through) adds none.
    if (req.subresource === "ephemeralcontainers") deny(`node "${node}" is not allowed to modify ephemeral containers`);
    if (req.operation === "CONNECT") {
      // Upstream NodeRestriction does not handle CONNECT (RBAC gives nodes no pods/exec); should a
      // role grant a node exec/attach/port-forward anyway, it still reaches only its own pods.
      const pod = req.store.get("pods", req.namespace, req.name)?.obj;
      if (!boundHere(pod)) deny(`node "${node}" can only ${req.subresource} into pods with spec.nodeName set to itself`);
      return;
    }
    if (req.subresource === "eviction") {
      const pod = req.oldObject ?? req.store.get("pods", req.namespace, req.name)?.obj;
      if (pod && !boundHere(pod)) deny(`node "${node}" can only evict pods with spec.nodeName set to itself`);
      return;
    }
    deny(`unexpected operation ${req.operation}, subresource ${req.subresource}`);
  }

  private mirrorPod(node: string, req: AdmissionRequest, deny: (why: string) => never): void {
    const pod = req.object;
    if (!pod?.metadata?.annotations?.[MIRROR_ANNOTATION]) deny(`pod does not have "${MIRROR_ANNOTATION}" annotation, node "${node}" can only create mirror pods`);
    if (pod.spec?.nodeName !== node) deny(`node "${node}" can only create pods with spec.nodeName set to itself`);
    const owners: any[] = pod.metadata?.ownerReferences ?? [];
    if (owners.length) {
      const o = owners[0];
      if (owners.length > 1 || o?.apiVersion !== "v1" || o?.kind !== "Node" || o?.name !== node || o?.controller !== true)
        deny(`node "${node}" can only create pods with an owner reference set to itself`);
      const self = req.store.get("nodes", "", node)?.obj;
      if (!self || o.uid !== self.metadata?.uid) deny(`node "${node}" UID mismatch: the mirror pod's owner reference names another node object`);
    }
    const spec = pod.spec ?? {};
    if (spec.serviceAccountName) deny(`node "${node}" can not create pods that reference a service account`);
    for (const v of spec.volumes ?? []) {
      if (v?.secret) deny(`node "${node}" can not create pods that reference secrets`);
      if (v?.configMap) deny(`node "${node}" can not create pods that reference configmaps`);
      if (v?.persistentVolumeClaim || v?.ephemeral) deny(`node "${node}" can not create pods that reference persistentvolumeclaims`);
      for (const src of v?.projected?.sources ?? []) {
        if (src?.secret) deny(`node "${node}" can not create pods that reference secrets`);
        if (src?.configMap) deny(`node "${node}" can not create pods that reference configmaps`);
        if (src?.serviceAccountToken) deny(`node "${node}" can not create pods that use service account tokens`);
        if (src?.clusterTrustBundle) deny(`node "${node}" can not create pods that use clustertrustbundles`);
      }
      // Volume plugins that name a credentials secret (cephfs, rbd, csi, ...).
      for (const k of Object.keys(v ?? {})) {
        const src = v[k];
        if (src && typeof src === "object" && (src.secretRef || src.nodePublishSecretRef || src.secretName)) deny(`node "${node}" can not create pods that reference secrets`);
      }
    }
    for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? []), ...(spec.ephemeralContainers ?? [])]) {
      for (const e of c?.env ?? []) {
        if (e?.valueFrom?.secretKeyRef) deny(`node "${node}" can not create pods that reference secrets`);
        if (e?.valueFrom?.configMapKeyRef) deny(`node "${node}" can not create pods that reference configmaps`);
      }
      for (const e of c?.envFrom ?? []) {
        if (e?.secretRef) deny(`node "${node}" can not create pods that reference secrets`);
        if (e?.configMapRef) deny(`node "${node}" can not create pods that reference configmaps`);
      }
    }
    if (spec.imagePullSecrets?.length) deny(`node "${node}" can not create pods that reference secrets`);
    if (spec.resourceClaims?.length) deny(`node "${node}" can not create pods that reference resourceclaims`);
  }

  private node(node: string, req: AdmissionRequest): void {
    const name = req.name || req.object?.metadata?.name;
    if (name !== node) throw forbidden(`nodes "${name ?? ""}" is forbidden: node "${node}" is not allowed to modify node "${name ?? ""}"`);
    if (req.operation === "CREATE") {
      const bad = Object.keys(req.object?.metadata?.labels ?? {}).filter(isRestrictedNodeLabel);
      if (bad.length) throw forbidden(`nodes "${name}" is forbidden: node "${node}" is not allowed to set the following labels: ${bad.sort().join(", ")}`);
      return;
    }
    if (req.operation === "UPDATE") {
      const now = req.object?.metadata?.labels ?? {};
      const before = req.oldObject?.metadata?.labels ?? {};
      const changed = [...new Set([...Object.keys(now), ...Object.keys(before)])].filter((k) => now[k] !== before[k] && isRestrictedNodeLabel(k));
      if (changed.length) throw forbidden(`nodes "${name}" is forbidden: is not allowed to modify labels: ${changed.sort().join(", ")}`);
      if (canonical(req.object?.spec?.taints ?? []) !== canonical(req.oldObject?.spec?.taints ?? []))
        throw forbidden(`nodes "${name}" is forbidden: node "${node}" is not allowed to modify taints`);
    }
  }

  private lease(node: string, req: AdmissionRequest): void {
    const name = req.name || req.object?.metadata?.name;
    if (req.namespace !== LEASE_NS) throw forbidden(`leases.coordination.k8s.io "${name ?? ""}" is forbidden: can only access leases in the ${LEASE_NS} namespace`);
    if (name !== node) throw forbidden(`leases.coordination.k8s.io "${name ?? ""}" is forbidden: can only access node lease with the same name as the requesting node`);
  }

  private token(node: string, req: AdmissionRequest): void {
    if (req.operation !== "CREATE") return;
    const ref = req.object?.spec?.boundObjectRef;
    const deny = (why: string) => {
      throw forbidden(`serviceaccounts "${req.name}" is forbidden: ${why}`);
    };
    if (!ref || ref.kind !== "Pod") deny(`node requested token not bound to a pod`);
    if (!ref.uid) deny(`node requested token with a pod binding without a uid`);
    const pod = req.store.get("pods", req.namespace, ref.name)?.obj;
    if (!pod) deny(`node requested token bound to a pod that does not exist`);
    if (pod.metadata?.uid !== ref.uid) deny(`the UID in the bound object reference (${ref.uid}) does not match the UID in record. The object might have been deleted and then recreated`);
    if (pod.spec?.nodeName !== node) deny(`node requested token bound to a pod scheduled on a different node`);
  }

  private pvcStatus(node: string, req: AdmissionRequest): void {
    if (req.operation !== "UPDATE") return;
    // Only what a node reports: conditions and the resources it resized the volume to.
    const strip = (o: any) => {
      const s = { ...(o?.status ?? {}) };
      delete s.conditions;
      delete s.allocatedResources;
      delete s.allocatedResourceStatuses;
      return canonical(s);
    };
    if (strip(req.object) !== strip(req.oldObject))
      throw forbidden(`persistentvolumeclaims "${req.name}" is forbidden: node "${node}" is not allowed to update fields other than status.conditions and status.allocatedResources`);
  }
}

/** JSON with object keys sorted at every level (for equality). */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (x && typeof x === "object" && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : 1))) : x));
}
