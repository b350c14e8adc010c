// PersistentVolume and PersistentVolumeClaim types (core/v1). Resource definitions for them
// are in core.ts; the claim spec is in pod-common.ts, which pod volume templates share.
import { F, atomicList, bool, int32, map, obj, quantity, str, time, keyedList } from "../dsl";
import { LabelSelector, typeMetaFields } from "./meta";
import {
  NodeSelector,
  ObjectReference,
  SecretReference,
  PersistentVolumeClaimSpec,
  coreName as n,
} from "./pod-common";
import {
  AWSElasticBlockStoreVolumeSource,
  AzureDiskVolumeSource,
  FCVolumeSource,
  FlockerVolumeSource,
  GCEPersistentDiskVolumeSource,
  HostPathVolumeSource,
  NFSVolumeSource,
  PhotonPersistentDiskVolumeSource,
  PortworxVolumeSource,
  QuobyteVolumeSource,
  VsphereVirtualDiskVolumeSource,
} from "./pod-volumes";

// ---- claims -----------------------------------------------------------------------------

export const PersistentVolumeClaimCondition = obj(n("PersistentVolumeClaimCondition"), () => ({
  type: F(str, 1, { required: true }),
  status: F(str, 2, { required: true }),
  lastProbeTime: F(time, 3),
  lastTransitionTime: F(time, 4),
  reason: F(str, 5),
  message: F(str, 6),
}));

export const ModifyVolumeStatus = obj(n("ModifyVolumeStatus"), () => ({
  targetVolumeAttributesClassName: F(str, 1),
  status: F(str, 2, { required: true }),
}));

export const PersistentVolumeClaimStatus = obj(n("PersistentVolumeClaimStatus"), () => ({
  phase: F(str, 1),
  accessModes: F(atomicList(str), 2),
  capacity: F(map(quantity), 3),
  conditions: F(keyedList(PersistentVolumeClaimCondition, "type"), 4),
  allocatedResources: F(map(quantity), 5),
  allocatedResourceStatuses: F(map(str), 7),
  currentVolumeAttributesClassName: F(str, 8),
  modifyVolumeStatus: F(ModifyVolumeStatus, 9),
}));

export const PersistentVolumeClaim = obj(n("PersistentVolumeClaim"), () => ({
  ...typeMetaFields(),
  spec: F(PersistentVolumeClaimSpec, 2),
  status: F(PersistentVolumeClaimStatus, 3),
}));

// ---- persistent volume sources ----------------------------------------------------------------

export const GlusterfsPersistentVolumeSource = obj(n("GlusterfsPersistentVolumeSource"), () => ({
  endpoints: F(str, 1, { required: true }),
  path: F(str, 2, { required: true }),
  readOnly: F(bool, 3),
  endpointsNamespace: F(str, 4),
}));

export const RBDPersistentVolumeSource = obj(n("RBDPersistentVolumeSource"), () => ({
  monitors: F(atomicList(str), 1, { required: true }),
  image: F(str, 2, { required: true }),
  fsType: F(str, 3),
  pool: F(str, 4),
  user: F(str, 5),
  keyring: F(str, 6),
  secretRef: F(SecretReference, 7),
  readOnly: F(bool, 8),
}));

export const ISCSIPersistentVolumeSource = obj(n("ISCSIPersistentVolumeSource"), () => ({
  targetPortal: F(str, 1, { required: true }),
  iqn: F(str, 2, { required: true }),
  lun: F(int32, 3, { required: true }),
  iscsiInterface: F(str, 4),
  fsType: F(str, 5),
  readOnly: F(bool, 6),
  portals: F(atomicList(str), 7),
  chapAuthDiscovery: F(bool, 8),
  chapAuthSession: F(bool, 11),
  secretRef: F(SecretReference, 10),
  initiatorName: F(str, 12),
}));

export const CinderPersistentVolumeSource = obj(n("CinderPersistentVolumeSource"), () => ({
  volumeID: F(str, 1, { required: true }),
  fsType: F(str, 2),
  readOnly: F(bool, 3),
  secretRef: F(SecretReference, 4),
}));

export const CephFSPersistentVolumeSource = obj(n("CephFSPersistentVolumeSource"), () => ({
  monitors: F(atomicList(str), 1, { required: true }),
  path: F(str, 2),
  user: F(str, 3),
  secretFile: F(str, 4),
  secretRef: F(SecretReference, 5),
  readOnly: F(bool, 6),
}));

export const FlexPersistentVolumeSource = obj(n("FlexPersistentVolumeSource"), () => ({
  driver: F(str, 1, { required: true }),
  fsType: F(str, 2),
  secretRef: F(SecretReference, 3),
  readOnly: F(bool, 4),
  options: F(map(str), 5),
}));

export const AzureFilePersistentVolumeSource = obj(n("AzureFilePersistentVolumeSource"), () => ({
  secretName: F(str, 1, { required: true }),
  shareName: F(str, 2, { required: true }),
  readOnly: F(bool, 3),
  secretNamespace: F(str, 4),
}));

export const ScaleIOPersistentVolumeSource = obj(n("ScaleIOPersistentVolumeSource"), () => ({
  gateway: F(str, 1, { required: true }),
  system: F(str, 2, { required: true }),
  secretRef: F(SecretReference, 3, { required: true }),
  sslEnabled: F(bool, 4),
  protectionDomain: F(str, 5),
  storagePool: F(str, 6),
  storageMode: F(str, 7),
  volumeName: F(str, 8),
  fsType: F(str, 9),
  readOnly: F(bool, 10),
}));

export const LocalVolumeSource = obj(n("LocalVolumeSource"), () => ({
  path: F(str, 1, { required: true }),
  fsType: F(str, 2),
}));

export const StorageOSPersistentVolumeSource = obj(n("StorageOSPersistentVolumeSource"), () => ({
  volumeName: F(str, 1),
  volumeNamespace: F(str, 2),
  fsType: F(str, 3),
  readOnly: F(bool, 4),
  secretRef: F(ObjectReference, 5),
}));

export const CSIPersistentVolumeSource = obj(n("CSIPersistentVolumeSource"), () => ({
  driver: F(str, 1, { required: true }),
  volumeHandle: F(str, 2, { required: true }),
  readOnly: F(bool, 3),
  fsType: F(str, 4),
  volumeAttributes: F(map(str), 5),
  controllerPublishSecretRef: F(SecretReference, 6),
  nodeStageSecretRef: F(SecretReference, 7),
  nodePublishSecretRef: F(SecretReference, 8),
  controllerExpandSecretRef: F(SecretReference, 9),
  nodeExpandSecretRef: F(SecretReference, 10),
}));

const persistentVolumeSourceFields = (pb: boolean) => {
  const p = (x: number) => (pb ? x : undefined);
  return {
    gcePersistentDisk: F(GCEPersistentDiskVolumeSource, p(1)),
    awsElasticBlockStore: F(AWSElasticBlockStoreVolumeSource, p(2)),
    hostPath: F(HostPathVolumeSource, p(3)),
    glusterfs: F(GlusterfsPersistentVolumeSource, p(4)),
    nfs: F(NFSVolumeSource, p(5)),
    rbd: F(RBDPersistentVolumeSource, p(6)),
    iscsi: F(ISCSIPersistentVolumeSource, p(7)),
    cinder: F(CinderPersistentVolumeSource, p(8)),
    cephfs: F(CephFSPersistentVolumeSource, p(9)),
    fc: F(FCVolumeSource, p(10)),
    flocker: F(FlockerVolumeSource, p(11)),
    flexVolume: F(FlexPersistentVolumeSource, p(12)),
    azureFile: F(AzureFilePersistentVolumeSource, p(13)),
    vsphereVolume: F(VsphereVirtualDiskVolumeSource, p(14)),
    quobyte: F(QuobyteVolumeSource, p(15)),
    azureDisk: F(AzureDiskVolumeSource, p(16)),
    photonPersistentDisk: F(PhotonPersistentDiskVolumeSource, p(17)),
    portworxVolume: F(PortworxVolumeSource, p(18)),
    scaleIO: F(ScaleIOPersistentVolumeSource, p(19)),
    local: F(LocalVolumeSource, p(20)),
    storageos: F(StorageOSPersistentVolumeSource, p(21)),
    csi: F(CSIPersistentVolumeSource, p(22)),
  };
};

/** JSON names of PersistentVolumeSource members (exactly one per PV). */
export const persistentVolumeSourceKeys = [
  "gcePersistentDisk", "awsElasticBlockStore", "hostPath", "glusterfs", "nfs", "rbd", "iscsi", "cinder",
  "cephfs", "fc", "flocker", "flexVolume", "azureFile", "vsphereVolume", "quobyte", "azureDisk",
  "photonPersistentDisk", "portworxVolume", "scaleIO", "local", "storageos", "csi",
];

export const PersistentVolumeSource = obj(n("PersistentVolumeSource"), () => persistentVolumeSourceFields(true));

export const VolumeNodeAffinity = obj(n("VolumeNodeAffinity"), () => ({
  required: F(NodeSelector, 1),
}));

export const PersistentVolumeSpec = obj(n("PersistentVolumeSpec"), () => ({
  capacity: F(map(quantity), 1),
  ...persistentVolumeSourceFields(false), // inlined PersistentVolumeSource (pb 2)
  accessModes: F(atomicList(str), 3),
  claimRef: F(ObjectReference, 4),
  persistentVolumeReclaimPolicy: F(str, 5),
  storageClassName: F(str, 6),
  mountOptions: F(atomicList(str), 7),
  volumeMode: F(str, 8),
  nodeAffinity: F(VolumeNodeAffinity, 9),
  volumeAttributesClassName: F(str, 10),
}));

export const PersistentVolumeStatus = obj(n("PersistentVolumeStatus"), () => ({
  phase: F(str, 1),
  message: F(str, 2),
  reason: F(str, 3),
  lastPhaseTransitionTime: F(time, 4),
}));

export const PersistentVolume = obj(n("PersistentVolume"), () => ({
  ...typeMetaFields(),
  spec: F(PersistentVolumeSpec, 2),
  status: F(PersistentVolumeStatus, 3),
}));
