// Table columns for the remaining groups: storage, coordination, autoscaling, policy, scheduling,
// node, admissionregistration, certificates, flowcontrol, events, apiextensions, apiregistration.
import type { Column } from "../registry";
import { eventColumns } from "./core";
import {
  ageCol,
  arr,
  col,
  defaultColumns,
  int,
  intOrString,
  nameCol,
  obj,
  quantityPtr,
  str,
} from "./format";
import { isObj } from "../helpers/json";
import { humanDuration } from "../helpers/duration";
import { labelSelectorString } from "../helpers/selectors";

// ---------------------------------------------------------------------------------------------
// storage.k8s.io

function isDefaultClass(o: any): boolean {
  const ann = obj(o?.metadata?.annotations);
  return ann["storageclass.kubernetes.io/is-default-class"] === "true" || ann["storageclass.beta.kubernetes.io/is-default-class"] === "true";
}

const storageClassColumns: Column[] = [
  nameCol((o) => str(o?.metadata?.name) + (isDefaultClass(o) ? " (default)" : "")),
  col("Provisioner", "string", "provisioner indicates the type of the provisioner.", (o) => str(o?.provisioner)),
  col("ReclaimPolicy", "string", "reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of this storage class.", (o) =>
    o?.reclaimPolicy === undefined || o?.reclaimPolicy === null ? "Delete" : str(o.reclaimPolicy),
  ),
  col("VolumeBindingMode", "string", "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound.", (o) =>
    o?.volumeBindingMode === undefined || o?.volumeBindingMode === null ? "Immediate" : str(o.volumeBindingMode),
  ),
  col("AllowVolumeExpansion", "string", "allowVolumeExpansion shows whether the storage class allow volume expand.", (o) => o?.allowVolumeExpansion === true),
  ageCol(),
];

const volumeAttributesClassColumns: Column[] = [
  nameCol((o) => {
    const ann = obj(o?.metadata?.annotations);
    const dflt = ann["storage.kubernetes.io/is-default-class"] === "true";
    return str(o?.metadata?.name) + (dflt ? " (default)" : "");
  }),
  col("DriverName", "string", "Name of the CSI driver", (o) => str(o?.driverName)),
  ageCol(),
];

const volumeAttachmentColumns: Column[] = [
  nameCol(),
  col("Attacher", "string", "attacher indicates the name of the volume driver that MUST handle this request.", (o) => str(o?.spec?.attacher), 0, "name"),
  col("PV", "string", "persistentVolumeName represents the name of the persistent volume to attach.", (o) => str(o?.spec?.source?.persistentVolumeName)),
  col("Node", "string", "nodeName represents the node that the volume should be attached to.", (o) => str(o?.spec?.nodeName)),
  col("Attached", "boolean", "attached indicates the volume is successfully attached.", (o) => o?.status?.attached === true),
  ageCol(),
];

const csiNodeColumns: Column[] = [
  nameCol(),
  col("Drivers", "integer", "Drivers indicates the number of CSI drivers registered on the node", (o) => arr(o?.spec?.drivers).length),
  ageCol(),
];

const csiDriverColumns: Column[] = [
  nameCol(),
  col("AttachRequired", "boolean", "attachRequired indicates this CSI volume driver requires an attach operation.", (o) => o?.spec?.attachRequired !== false),
  col("PodInfoOnMount", "boolean", "podInfoOnMount indicates this CSI volume driver requires additional pod information during mount operations.", (o) =>
    o?.spec?.podInfoOnMount === true,
  ),
  col("StorageCapacity", "boolean", "storageCapacity indicates that the CSI volume driver wants pod scheduling to consider the storage capacity.", (o) =>
    o?.spec?.storageCapacity === true,
  ),
  col("TokenRequests", "string", "tokenRequests indicates the CSI driver needs pods' service account tokens it is mounting volume for.", (o) => {
    const tr = o?.spec?.tokenRequests;
    if (tr === undefined || tr === null) return "<unset>";
    return arr(tr).map((t) => str(obj(t).audience)).join(",");
  }),
  col("RequiresRepublish", "boolean", "requiresRepublish indicates the CSI driver wants NodePublishVolume being periodically called.", (o) =>
    o?.spec?.requiresRepublish === true,
  ),
  col("Modes", "string", "volumeLifecycleModes defines what kind of volumes this CSI volume driver supports.", (o) => {
    const m = arr(o?.spec?.volumeLifecycleModes).map(str).join(",");
    return m === "" ? "<none>" : m;
  }),
  ageCol(),
];

const csiStorageCapacityColumns: Column[] = [
  nameCol(),
  col("StorageClassName", "string", "storageClassName represents the name of the StorageClass that the reported capacity applies to.", (o) => str(o?.storageClassName)),
  col("Capacity", "string", "capacity is the value reported by the CSI driver in its GetCapacityResponse for a GetCapacityRequest.", (o) =>
    o?.capacity === undefined || o?.capacity === null ? "<unset>" : str(o.capacity),
  ),
];

// ---------------------------------------------------------------------------------------------
// coordination.k8s.io

const leaseColumns: Column[] = [
  nameCol(),
  col("Holder", "string", "holderIdentity contains the identity of the holder of a current lease.", (o) => str(o?.spec?.holderIdentity)),
  ageCol(),
];

const leaseCandidateColumns: Column[] = [
  nameCol(),
  col("LeaseName", "string", "LeaseName is the name of the lease for which this candidate is contending.", (o) => str(o?.spec?.leaseName)),
  col("BinaryVersion", "string", "BinaryVersion is the binary version.", (o) => str(o?.spec?.binaryVersion)),
  col("EmulationVersion", "string", "EmulationVersion is the emulation version.", (o) => str(o?.spec?.emulationVersion)),
  ageCol(),
];

// ---------------------------------------------------------------------------------------------
// autoscaling HorizontalPodAutoscaler (v2 shape; autoscaling/v1 objects are mapped onto it)

function hpaSpecMetrics(o: any): any[] {
  const spec = obj(o?.spec);
  if (Array.isArray(spec.metrics)) return spec.metrics;
  if (spec.targetCPUUtilizationPercentage !== undefined && spec.targetCPUUtilizationPercentage !== null) {
    return [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: spec.targetCPUUtilizationPercentage } } }];
  }
  return [];
}

function hpaStatusMetrics(o: any): any[] {
  const status = obj(o?.status);
  if (Array.isArray(status.currentMetrics)) return status.currentMetrics;
  if (status.currentCPUUtilizationPercentage !== undefined && status.currentCPUUtilizationPercentage !== null && !Array.isArray(o?.spec?.metrics)) {
    return [{ type: "Resource", resource: { name: "cpu", current: { averageUtilization: status.currentCPUUtilizationPercentage } } }];
  }
  return [];
}

const present = (v: unknown): boolean => v !== undefined && v !== null;

export function formatHPAMetrics(specs: any[], statuses: any[]): string {
  if (specs.length === 0) return "<none>";
  const list: string[] = [];
  const max = 2;
  let count = 0;
  specs.forEach((raw, i) => {
    const spec = obj(raw);
    const st = i < statuses.length ? obj(statuses[i]) : undefined;
    switch (spec.type) {
      case "External": {
        const target = obj(obj(spec.external).target);
        const cur = st && isObj(st.external) ? obj(st.external.current) : undefined;
        if (present(target.averageValue)) {
          const current = cur && present(cur.averageValue) ? quantityPtr(cur.averageValue) : "<unknown>";
          list.push(`${current}/${quantityPtr(target.averageValue)} (avg)`);
        } else {
          const current = cur ? quantityPtr(cur.value) : "<unknown>";
          list.push(`${current}/${quantityPtr(target.value)}`);
        }
        break;
      }
      case "Pods": {
        const target = obj(obj(spec.pods).target);
        const current = st && isObj(st.pods) ? quantityPtr(obj(st.pods.current).averageValue) : "<unknown>";
        list.push(`${current}/${quantityPtr(target.averageValue)}`);
        break;
      }
      case "Object": {
        const target = obj(obj(spec.object).target);
        const cur = st && isObj(st.object) ? obj(st.object.current) : undefined;
        if (present(target.averageValue)) {
          const current = cur && present(cur.averageValue) ? quantityPtr(cur.averageValue) : "<unknown>";
          list.push(`${current}/${quantityPtr(target.averageValue)} (avg)`);
        } else {
          const current = cur ? quantityPtr(cur.value) : "<unknown>";
          list.push(`${current}/${quantityPtr(target.value)}`);
        }
        break;
      }
      case "Resource":
      case "ContainerResource": {
        const key = spec.type === "Resource" ? "resource" : "containerResource";
        const src = obj(spec[key]);
        const target = obj(src.target);
        const stSrc = st && isObj(st[key]) ? obj(st[key]) : undefined;
        const cur = stSrc ? obj(stSrc.current) : undefined;
        if (present(target.averageValue)) {
          const current = cur ? quantityPtr(cur.averageValue) : "<unknown>";
          list.push(`${str(src.name)}: ${current}/${quantityPtr(target.averageValue)}`);
        } else {
          const current = cur && present(cur.averageUtilization) ? `${int(cur.averageUtilization)}%` : "<unknown>";
          const tgt = present(target.averageUtilization) ? `${int(target.averageUtilization)}%` : "<auto>";
          list.push(`${str(src.name)}: ${current}/${tgt}`);
        }
        break;
      }
      default:
        list.push("<unknown type>");
    }
    count++;
  });
  const shown = count > max ? list.slice(0, max) : list;
  const ret = shown.join(", ");
  return count > max ? `${ret} + ${count - max} more...` : ret;
}

const hpaColumns: Column[] = [
  nameCol(),
  col("Reference", "string", "scaleTargetRef points to the target resource to scale.", (o) => {
    const ref = obj(o?.spec?.scaleTargetRef);
    return `${str(ref.kind)}/${str(ref.name)}`;
  }),
  col("Targets", "string", "metrics contains the specifications for which to use to calculate the desired replica count.", (o) =>
    formatHPAMetrics(hpaSpecMetrics(o), hpaStatusMetrics(o)),
  ),
  col("MinPods", "string", "minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down.", (o) =>
    present(o?.spec?.minReplicas) ? String(int(o.spec.minReplicas)) : "<unset>",
  ),
  col("MaxPods", "string", "maxReplicas is the upper limit for the number of pods that can be set by the autoscaler.", (o) => int(o?.spec?.maxReplicas)),
  col("Replicas", "string", "currentReplicas is current number of replicas of pods managed by this autoscaler.", (o) => int(o?.status?.currentReplicas)),
  ageCol(),
];

// ---------------------------------------------------------------------------------------------
// policy, scheduling, node

const podDisruptionBudgetColumns: Column[] = [
  nameCol(),
  col("Min Available", "string", "The minimum number of pods that must be available.", (o) =>
    present(o?.spec?.minAvailable) ? intOrString(o.spec.minAvailable) : "N/A",
  ),
  col("Max Unavailable", "string", "The maximum number of pods that may be unavailable.", (o) =>
    present(o?.spec?.maxUnavailable) ? intOrString(o.spec.maxUnavailable) : "N/A",
  ),
  col("Allowed Disruptions", "integer", "Calculated number of pods that may be disrupted at this time.", (o) => int(o?.status?.disruptionsAllowed)),
  ageCol(),
];

const priorityClassColumns: Column[] = [
  nameCol(),
  col("Value", "integer", "value represents the integer value of this priority class.", (o) => int(o?.value)),
  col("Global-Default", "boolean", "globalDefault specifies whether this PriorityClass should be considered as the default priority for pods that do not have any priority class.", (o) =>
    o?.globalDefault === true,
  ),
  ageCol(),
  col("PreemptionPolicy", "string", "preemptionPolicy is the Policy for preempting pods with lower priority.", (o) => str(o?.preemptionPolicy)),
];

const runtimeClassColumns: Column[] = [
  nameCol(),
  col("Handler", "string", "handler specifies the underlying runtime and configuration that the CRI implementation will use to handle pods of this class.", (o) =>
    str(o?.handler),
  ),
  ageCol(),
];

// ---------------------------------------------------------------------------------------------
// admissionregistration.k8s.io

const webhookColumns: Column[] = [
  nameCol(),
  col("Webhooks", "integer", "Webhooks indicates the number of webhooks registered in this configuration", (o) => arr(o?.webhooks).length),
  ageCol(),
];

function paramKind(o: any): string {
  const pk = o?.spec?.paramKind;
  return isObj(pk) ? `${str(pk.apiVersion)}/${str(pk.kind)}` : "<unset>";
}

function paramRef(o: any): string {
  const pr = o?.spec?.paramRef;
  if (!isObj(pr)) return "<unset>";
  if (str(pr.name).length > 0) return str(pr.namespace) !== "" ? `${str(pr.namespace)}/${str(pr.name)}` : `*/${str(pr.name)}`;
  if (isObj(pr.selector)) return labelSelectorString(pr.selector) ?? "<error>";
  return "<unset>";
}

const validatingAdmissionPolicyColumns: Column[] = [
  nameCol(),
  col("Validations", "integer", "Validations indicates the number of validation rules defined in this configuration", (o) => arr(o?.spec?.validations).length),
  col("ParamKind", "string", "ParamKind specifies the kind of resources used to parameterize this policy", (o) => paramKind(o)),
  ageCol(),
];

const mutatingAdmissionPolicyColumns: Column[] = [
  nameCol(),
  col("Mutations", "integer", "Mutation indicates the number of mutations rules defined in this configuration", (o) => arr(o?.spec?.mutations).length),
  col("ParamKind", "string", "ParamKind specifies the kind of resources used to parameterize this policy", (o) => paramKind(o)),
  ageCol(),
];

const admissionPolicyBindingColumns: Column[] = [
  nameCol(),
  col("PolicyName", "string", "PolicyName indicates the policy definition which the policy binding binded to", (o) => str(o?.spec?.policyName)),
  col("ParamRef", "string", "ParamRef indicates the param resource which sets the configration param", (o) => paramRef(o)),
  ageCol(),
];

// ---------------------------------------------------------------------------------------------
// certificates.k8s.io

function csrCondition(o: any): string {
  let approved = false;
  let denied = false;
  let failed = false;
  for (const c of arr(o?.status?.conditions)) {
    const type = obj(c).type;
    if (type === "Approved") approved = true;
    else if (type === "Denied") denied = true;
    else if (type === "Failed") failed = true;
  }
  let status = denied ? "Denied" : approved ? "Approved" : "Pending";
  if (failed) status += ",Failed";
  if (str(o?.status?.certificate).length > 0) status += ",Issued";
  return status;
}

const csrColumns: Column[] = [
  nameCol(),
  ageCol(),
  col("SignerName", "string", "Requested signer for the request.", (o) => (str(o?.spec?.signerName) !== "" ? str(o.spec.signerName) : "<none>")),
  col("Requestor", "string", "Information about the requesting user.", (o) => str(o?.spec?.username)),
  col("RequestedDuration", "string", "expirationSeconds is the requested duration of validity of the issued certificate.", (o) =>
    present(o?.spec?.expirationSeconds) ? humanDuration(int(o.spec.expirationSeconds) * 1000) : "<none>",
  ),
  col("Condition", "string", "Conditions applied to the request.", (o) => csrCondition(o)),
];

const clusterTrustBundleColumns: Column[] = [
  nameCol(),
  col("SignerName", "string", "signerName indicates the associated signer, if any.", (o) => (str(o?.spec?.signerName) !== "" ? str(o.spec.signerName) : "<none>")),
];

// ---------------------------------------------------------------------------------------------
// flowcontrol.apiserver.k8s.io

const flowSchemaColumns: Column[] = [
  nameCol(),
  col("PriorityLevel", "string", "`name` is the name of the priority level configuration being referenced", (o) => str(o?.spec?.priorityLevelConfiguration?.name)),
  col("MatchingPrecedence", "string", "`matchingPrecedence` is used to choose among the FlowSchemas that match a given request.", (o) => int(o?.spec?.matchingPrecedence)),
  col("DistinguisherMethod", "string", "`distinguisherMethod` defines how to compute the flow distinguisher for requests that match this schema.", (o) =>
    isObj(o?.spec?.distinguisherMethod) ? str(o.spec.distinguisherMethod.type) : "<none>",
  ),
  ageCol(),
  col("MissingPL", "string", "references a broken or non-existent PriorityLevelConfiguration", (o) => {
    for (const c of arr(o?.status?.conditions)) if (isObj(c) && c.type === "Dangling") return str(c.status);
    return "?";
  }),
];

function plcField(o: any, f: "ncs" | "queues" | "handSize" | "queueLengthLimit"): string | number {
  const limited = o?.spec?.limited;
  if (!isObj(limited)) return "<none>";
  if (f === "ncs") return int(limited.nominalConcurrencyShares);
  const q = limited.limitResponse?.queuing;
  if (!isObj(q)) return "<none>";
  return int(q[f]);
}

const priorityLevelColumns: Column[] = [
  nameCol(),
  col("Type", "string", "`type` indicates whether this priority level is subject to limitation on request execution.", (o) => str(o?.spec?.type)),
  col("NominalConcurrencyShares", "string", "`nominalConcurrencyShares` (NCS) contributes to the computation of the NominalConcurrencyLimit (NominalCL) of this level.", (o) =>
    plcField(o, "ncs"),
  ),
  col("Queues", "string", "`queues` is the number of queues for this priority level.", (o) => plcField(o, "queues")),
  col("HandSize", "string", "`handSize` is a small positive number that configures the shuffle sharding of requests into queues.", (o) => plcField(o, "handSize")),
  col("QueueLengthLimit", "string", "`queueLengthLimit` is the maximum number of requests allowed to be waiting in a given queue of this priority level at a time.", (o) =>
    plcField(o, "queueLengthLimit"),
  ),
  ageCol(),
];

// ---------------------------------------------------------------------------------------------
// apiregistration.k8s.io APIService (kube-aggregator's printer)

const apiServiceColumns: Column[] = [
  nameCol(),
  col("Service", "string", "The reference to the service that hosts this API endpoint.", (o) => {
    const svc = o?.spec?.service;
    return isObj(svc) ? `${str(svc.namespace)}/${str(svc.name)}` : "Local";
  }),
  col("Available", "string", "Whether this service is available.", (o) => {
    for (const c of arr(o?.status?.conditions)) {
      if (!isObj(c) || c.type !== "Available") continue;
      if (c.status === "True") return "True";
      return str(c.reason).length > 0 ? `${str(c.status)} (${str(c.reason)})` : str(c.status);
    }
    return "Unknown";
  }),
  ageCol(),
];

// ---------------------------------------------------------------------------------------------

export const miscColumns: Record<string, Column[]> = {
  "/LimitRange": defaultColumns,
  "storage.k8s.io/StorageClass": storageClassColumns,
  "storage.k8s.io/VolumeAttributesClass": volumeAttributesClassColumns,
  "storage.k8s.io/VolumeAttachment": volumeAttachmentColumns,
  "storage.k8s.io/CSINode": csiNodeColumns,
  "storage.k8s.io/CSIDriver": csiDriverColumns,
  "storage.k8s.io/CSIStorageCapacity": csiStorageCapacityColumns,
  "coordination.k8s.io/Lease": leaseColumns,
  "coordination.k8s.io/LeaseCandidate": leaseCandidateColumns,
  "autoscaling/HorizontalPodAutoscaler": hpaColumns,
  "policy/PodDisruptionBudget": podDisruptionBudgetColumns,
  "scheduling.k8s.io/PriorityClass": priorityClassColumns,
  "node.k8s.io/RuntimeClass": runtimeClassColumns,
  "admissionregistration.k8s.io/MutatingWebhookConfiguration": webhookColumns,
  "admissionregistration.k8s.io/ValidatingWebhookConfiguration": webhookColumns,
  "admissionregistration.k8s.io/ValidatingAdmissionPolicy": validatingAdmissionPolicyColumns,
  "admissionregistration.k8s.io/ValidatingAdmissionPolicyBinding": admissionPolicyBindingColumns,
  "admissionregistration.k8s.io/MutatingAdmissionPolicy": mutatingAdmissionPolicyColumns,
  "admissionregistration.k8s.io/MutatingAdmissionPolicyBinding": admissionPolicyBindingColumns,
  "certificates.k8s.io/CertificateSigningRequest": csrColumns,
  "certificates.k8s.io/ClusterTrustBundle": clusterTrustBundleColumns,
  "flowcontrol.apiserver.k8s.io/FlowSchema": flowSchemaColumns,
  "flowcontrol.apiserver.k8s.io/PriorityLevelConfiguration": priorityLevelColumns,
  "events.k8s.io/Event": eventColumns,
  "apiextensions.k8s.io/CustomResourceDefinition": defaultColumns,
  "apiregistration.k8s.io/APIService": apiServiceColumns,
};
