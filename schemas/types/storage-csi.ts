// storage.k8s.io/v1 CSIDriver, CSINode, VolumeAttachment and CSIStorageCapacity: stored and
// validated for the CSI drivers and tools that read and write them (Skiff runs no CSI attacher
// itself). Field numbers follow k8s.io/api/storage/v1/generated.proto; validation follows
// pkg/apis/storage/validation.
import { F, bool, int32, int64, keyedList, list, map, obj, quantity, setList, str, time } from "../dsl";
import type { FieldError, ResourceDef } from "../registry";
import { quantityValue } from "../derive/quantity";
import { dns1123SubdomainErrors, duplicate, invalid, notSupported, qualifiedNameErrors, required } from "../validation";
import { metaErrors, validateLabelSelector } from "./apps";
import { PersistentVolumeSpec } from "./core-storage";
import { LabelSelector, typeMetaFields } from "./meta";

export const TokenRequest = obj("io.k8s.api.storage.v1.TokenRequest", () => ({
  audience: F(str, 1, { required: true }),
  expirationSeconds: F(int64, 2),
}));

export const CSIDriverSpec = obj("io.k8s.api.storage.v1.CSIDriverSpec", () => ({
  attachRequired: F(bool, 1),
  podInfoOnMount: F(bool, 2),
  volumeLifecycleModes: F(setList(str), 3),
  storageCapacity: F(bool, 4),
  fsGroupPolicy: F(str, 5),
  tokenRequests: F(list(TokenRequest, { listType: "atomic" }), 6),
  requiresRepublish: F(bool, 7),
  seLinuxMount: F(bool, 8),
}));

export const CSIDriver = obj("io.k8s.api.storage.v1.CSIDriver", () => ({
  ...typeMetaFields(),
  spec: F(CSIDriverSpec, 2, { required: true }),
}));

export const VolumeNodeResources = obj("io.k8s.api.storage.v1.VolumeNodeResources", () => ({
  count: F(int32, 1),
}));

export const CSINodeDriver = obj("io.k8s.api.storage.v1.CSINodeDriver", () => ({
  name: F(str, 1, { required: true }),
  nodeID: F(str, 2, { required: true }),
  topologyKeys: F(list(str, { listType: "atomic" }), 3),
  allocatable: F(VolumeNodeResources, 4),
}));

export const CSINode = obj("io.k8s.api.storage.v1.CSINode", () => ({
  ...typeMetaFields(),
  spec: F(obj("io.k8s.api.storage.v1.CSINodeSpec", () => ({ drivers: F(keyedList(CSINodeDriver, "name"), 1, { required: true }) })), 2, { required: true }),
}));

export const VolumeAttachmentSource = obj("io.k8s.api.storage.v1.VolumeAttachmentSource", () => ({
  persistentVolumeName: F(str, 1),
  inlineVolumeSpec: F(PersistentVolumeSpec, 2),
}));

export const VolumeError = obj("io.k8s.api.storage.v1.VolumeError", () => ({
  time: F(time, 1),
  message: F(str, 2),
  errorCode: F(int32, 3),
}));

export const VolumeAttachment = obj("io.k8s.api.storage.v1.VolumeAttachment", () => ({
  ...typeMetaFields(),
  spec: F(
    obj("io.k8s.api.storage.v1.VolumeAttachmentSpec", () => ({
      attacher: F(str, 1, { required: true }),
      source: F(VolumeAttachmentSource, 2, { required: true }),
      nodeName: F(str, 3, { required: true }),
    })),
    2,
    { required: true },
  ),
  status: F(
    obj("io.k8s.api.storage.v1.VolumeAttachmentStatus", () => ({
      attached: F(bool, 1, { required: true }),
      attachmentMetadata: F(map(str), 2),
      attachError: F(VolumeError, 3),
      detachError: F(VolumeError, 4),
    })),
    3,
  ),
}));

export const CSIStorageCapacity = obj("io.k8s.api.storage.v1.CSIStorageCapacity", () => ({
  ...typeMetaFields(),
  nodeTopology: F(LabelSelector, 2),
  storageClassName: F(str, 3, { required: true }),
  capacity: F(quantity, 4),
  maximumVolumeSize: F(quantity, 5),
}));

const FS_GROUP_POLICIES = ["ReadWriteOnceWithFSType", "File", "None"];
const LIFECYCLE_MODES = ["Persistent", "Ephemeral"];
const CSI_NODE_ID_MAX = 192;

/** A CSI driver name: a DNS-1123 subdomain of at most 63 characters (upstream ValidateCSIDriverName). */
function driverNameErrors(name: unknown, field: string): FieldError[] {
  if (!name) return [required(field)];
  const s = String(name);
  if (s.length > 63) return [{ field, type: "FieldValueTooLong", message: `Too long: may not be more than 63 bytes` }];
  return dns1123SubdomainErrors(s.toLowerCase()).map((m) => invalid(field, s, m));
}

function defaultCsiDriver(o: any): void {
  const s = (o.spec ??= {});
  s.attachRequired ??= true;
  s.podInfoOnMount ??= false;
  s.storageCapacity ??= false;
  s.fsGroupPolicy ??= "ReadWriteOnceWithFSType";
  s.requiresRepublish ??= false;
  s.seLinuxMount ??= false;
  if (!s.volumeLifecycleModes?.length) s.volumeLifecycleModes = ["Persistent"];
}

function validateCsiDriver(o: any, old?: any): FieldError[] {
  const errs = [...metaErrors(o, old, false), ...driverNameErrors(o?.metadata?.name, "metadata.name")];
  const s = o?.spec ?? {};
  if (s.attachRequired === undefined || s.attachRequired === null) errs.push(required("spec.attachRequired"));
  if (s.fsGroupPolicy && !FS_GROUP_POLICIES.includes(s.fsGroupPolicy)) errs.push(notSupported("spec.fsGroupPolicy", s.fsGroupPolicy, FS_GROUP_POLICIES));
  (s.volumeLifecycleModes ?? []).forEach((m: string, i: number) => {
    if (!LIFECYCLE_MODES.includes(m)) errs.push(notSupported(`spec.volumeLifecycleModes[${i}]`, m, LIFECYCLE_MODES));
  });
  const audiences = new Set<string>();
  (s.tokenRequests ?? []).forEach((t: any, i: number) => {
    if (audiences.has(t?.audience ?? "")) errs.push(duplicate(`spec.tokenRequests[${i}].audience`, t?.audience ?? ""));
    audiences.add(t?.audience ?? "");
    if (t?.expirationSeconds !== undefined && t.expirationSeconds < 600) errs.push(invalid(`spec.tokenRequests[${i}].expirationSeconds`, t.expirationSeconds, "may not specify a duration less than 10 minutes"));
    if (t?.expirationSeconds !== undefined && t.expirationSeconds > 2 ** 32) errs.push(invalid(`spec.tokenRequests[${i}].expirationSeconds`, t.expirationSeconds, "may not specify a duration larger than 2^32 seconds"));
  });
  if (old) {
    for (const f of ["attachRequired", "fsGroupPolicy"]) if (s[f] !== old.spec?.[f]) errs.push(invalid(`spec.${f}`, s[f], "field is immutable"));
    if (JSON.stringify(s.volumeLifecycleModes) !== JSON.stringify(old.spec?.volumeLifecycleModes)) errs.push(invalid("spec.volumeLifecycleModes", s.volumeLifecycleModes, "field is immutable"));
  }
  return errs;
}

function validateCsiNode(o: any, old?: any): FieldError[] {
  const errs = metaErrors(o, old, false);
  const names = new Set<string>();
  (o?.spec?.drivers ?? []).forEach((d: any, i: number) => {
    const p = `spec.drivers[${i}]`;
    errs.push(...driverNameErrors(d?.name, `${p}.name`));
    if (names.has(d?.name)) errs.push(duplicate(`${p}.name`, d?.name));
    names.add(d?.name);
    if (!d?.nodeID) errs.push(required(`${p}.nodeID`));
    else if (String(d.nodeID).length > CSI_NODE_ID_MAX) errs.push({ field: `${p}.nodeID`, type: "FieldValueTooLong", message: `Too long: may not be more than ${CSI_NODE_ID_MAX} bytes` });
    const keys = new Set<string>();
    (d?.topologyKeys ?? []).forEach((k: string, j: number) => {
      if (keys.has(k)) errs.push(duplicate(`${p}.topologyKeys[${j}]`, k));
      keys.add(k);
      for (const m of qualifiedNameErrors(k)) errs.push(invalid(`${p}.topologyKeys[${j}]`, k, m));
    });
    if (d?.allocatable?.count !== undefined && d.allocatable.count < 0) errs.push(invalid(`${p}.allocatable.count`, d.allocatable.count, "must be greater than or equal to 0"));
    // A driver's identity on the node is fixed once registered (upstream's update validation).
    const was = (old?.spec?.drivers ?? []).find((x: any) => x?.name === d?.name);
    if (was && was.nodeID !== d.nodeID) errs.push(invalid(`${p}.nodeID`, d.nodeID, "field is immutable"));
    if (was && JSON.stringify(was.topologyKeys ?? []) !== JSON.stringify(d.topologyKeys ?? [])) errs.push(invalid(`${p}.topologyKeys`, d.topologyKeys ?? [], "field is immutable"));
  });
  return errs;
}

function validateVolumeAttachment(o: any, old?: any): FieldError[] {
  const errs = metaErrors(o, old, false);
  const s = o?.spec ?? {};
  errs.push(...driverNameErrors(s.attacher, "spec.attacher"));
  if (!s.nodeName) errs.push(required("spec.nodeName"));
  else for (const m of dns1123SubdomainErrors(s.nodeName)) errs.push(invalid("spec.nodeName", s.nodeName, m));
  const src = s.source ?? {};
  const n = (src.persistentVolumeName ? 1 : 0) + (src.inlineVolumeSpec ? 1 : 0);
  if (n !== 1) errs.push({ field: "spec.source", type: "FieldValueForbidden", message: "Forbidden: must specify exactly one of inlineVolumeSpec and persistentVolumeName" });
  for (const [k, e] of [["attachError", o?.status?.attachError], ["detachError", o?.status?.detachError]] as const)
    if (e?.message && String(e.message).length > 1024) errs.push({ field: `status.${k}.message`, type: "FieldValueTooLong", message: "Too long: may not be more than 1024 bytes" });
  if (old && JSON.stringify(s) !== JSON.stringify(old.spec)) errs.push(invalid("spec", "<spec>", "field is immutable"));
  return errs;
}

function validateCapacity(o: any, old?: any): FieldError[] {
  const errs = metaErrors(o, old, true);
  if (!o?.storageClassName) errs.push(required("storageClassName"));
  else for (const m of dns1123SubdomainErrors(o.storageClassName)) errs.push(invalid("storageClassName", o.storageClassName, m));
  if (o?.nodeTopology) errs.push(...validateLabelSelector(o.nodeTopology, "nodeTopology"));
  for (const f of ["capacity", "maximumVolumeSize"]) {
    if (o?.[f] === undefined) continue;
    let v = NaN;
    try {
      v = quantityValue(o[f]);
    } catch {}
    if (!(v >= 0)) errs.push(invalid(f, o[f], "must be greater than or equal to 0"));
  }
  if (old) {
    if (o.storageClassName !== old.storageClassName) errs.push(invalid("storageClassName", o.storageClassName, "field is immutable"));
    if (JSON.stringify(o.nodeTopology) !== JSON.stringify(old.nodeTopology)) errs.push(invalid("nodeTopology", o.nodeTopology ?? null, "field is immutable"));
  }
  return errs;
}

const base = { group: "storage.k8s.io", version: "v1", noGeneration: true } as const;

export const resources: ResourceDef[] = [
  { ...base, kind: "CSIDriver", plural: "csidrivers", singular: "csidriver", namespaced: false, type: CSIDriver, defaults: defaultCsiDriver, validate: validateCsiDriver },
  { ...base, kind: "CSINode", plural: "csinodes", singular: "csinode", namespaced: false, type: CSINode, validate: validateCsiNode },
  { ...base, kind: "VolumeAttachment", plural: "volumeattachments", singular: "volumeattachment", namespaced: false, type: VolumeAttachment, subresources: { status: true }, validate: validateVolumeAttachment },
  { ...base, kind: "CSIStorageCapacity", plural: "csistoragecapacities", singular: "csistoragecapacity", namespaced: true, type: CSIStorageCapacity, validate: validateCapacity },
];
