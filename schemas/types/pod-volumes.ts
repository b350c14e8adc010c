// Pod volumes and every volume source (core/v1). The persistent-volume-only sources live in
// core-storage.ts; the sources shared by both live here.
import { F, atomicList, bool, int32, int64, map, obj, quantity, str } from "../dsl";
import { LabelSelector, ObjectMeta } from "./meta";
import {
  LocalObjectReference,
  ObjectFieldSelector,
  PersistentVolumeClaimSpec,
  ResourceFieldSelector,
  SecretReference,
  coreName as n,
} from "./pod-common";

export const KeyToPath = obj(n("KeyToPath"), () => ({
  key: F(str, 1, { required: true }),
  path: F(str, 2, { required: true }),
  mode: F(int32, 3),
}));

export const HostPathVolumeSource = obj(n("HostPathVolumeSource"), () => ({
  path: F(str, 1, { required: true }),
  type: F(str, 2),
}));

export const EmptyDirVolumeSource = obj(n("EmptyDirVolumeSource"), () => ({
  medium: F(str, 1),
  sizeLimit: F(quantity, 2),
}));

export const GCEPersistentDiskVolumeSource = obj(n("GCEPersistentDiskVolumeSource"), () => ({
  pdName: F(str, 1, { required: true }),
  fsType: F(str, 2),
  partition: F(int32, 3),
  readOnly: F(bool, 4),
}));

export const AWSElasticBlockStoreVolumeSource = obj(n("AWSElasticBlockStoreVolumeSource"), () => ({
  volumeID: F(str, 1, { required: true }),
  fsType: F(str, 2),
  partition: F(int32, 3),
  readOnly: F(bool, 4),
}));

export const GitRepoVolumeSource = obj(n("GitRepoVolumeSource"), () => ({
  repository: F(str, 1, { required: true }),
  revision: F(str, 2),
  directory: F(str, 3),
}));

export const SecretVolumeSource = obj(n("SecretVolumeSource"), () => ({
  secretName: F(str, 1),
  items: F(atomicList(KeyToPath), 2),
  defaultMode: F(int32, 3),
  optional: F(bool, 4),
}));

export const NFSVolumeSource = obj(n("NFSVolumeSource"), () => ({
  server: F(str, 1, { required: true }),
  path: F(str, 2, { required: true }),
  readOnly: F(bool, 3),
}));

export const ISCSIVolumeSource = obj(n("ISCSIVolumeSource"), () => ({
  targetPortal: F(str, 1, { required: true }),
  iqn: F(str, 2, { required: true }),
  lun: F(int32, 3, { required: true }),
  iscsiInterface: F(str, 4),
  fsType: F(str, 5),
  readOnly: F(bool, 6),
  portals: F(atomicList(str), 7),
  chapAuthDiscovery: F(bool, 8),
  chapAuthSession: F(bool, 11),
  secretRef: F(LocalObjectReference, 10),
  initiatorName: F(str, 12),
}));

export const GlusterfsVolumeSource = obj(n("GlusterfsVolumeSource"), () => ({
  endpoints: F(str, 1, { required: true }),
  path: F(str, 2, { required: true }),
  readOnly: F(bool, 3),
}));

export const PersistentVolumeClaimVolumeSource = obj(n("PersistentVolumeClaimVolumeSource"), () => ({
  claimName: F(str, 1, { required: true }),
  readOnly: F(bool, 2),
}));

export const RBDVolumeSource = obj(n("RBDVolumeSource"), () => ({
  monitors: F(atomicList(str), 1, { required: true }),
  image: F(str, 2, { required: true }),
  fsType: F(str, 3),
  pool: F(str, 4),
  user: F(str, 5),
  keyring: F(str, 6),
  secretRef: F(LocalObjectReference, 7),
  readOnly: F(bool, 8),
}));

export const FlexVolumeSource = obj(n("FlexVolumeSource"), () => ({
  driver: F(str, 1, { required: true }),
  fsType: F(str, 2),
  secretRef: F(LocalObjectReference, 3),
  readOnly: F(bool, 4),
  options: F(map(str), 5),
}));

export const CinderVolumeSource = obj(n("CinderVolumeSource"), () => ({
  volumeID: F(str, 1, { required: true }),
  fsType: F(str, 2),
  readOnly: F(bool, 3),
  secretRef: F(LocalObjectReference, 4),
}));

export const CephFSVolumeSource = obj(n("CephFSVolumeSource"), () => ({
  monitors: F(atomicList(str), 1, { required: true }),
  path: F(str, 2),
  user: F(str, 3),
  secretFile: F(str, 4),
  secretRef: F(LocalObjectReference, 5),
  readOnly: F(bool, 6),
}));

export const FlockerVolumeSource = obj(n("FlockerVolumeSource"), () => ({
  datasetName: F(str, 1),
  datasetUUID: F(str, 2),
}));

export const DownwardAPIVolumeFile = obj(n("DownwardAPIVolumeFile"), () => ({
  path: F(str, 1, { required: true }),
  fieldRef: F(ObjectFieldSelector, 2),
  resourceFieldRef: F(ResourceFieldSelector, 3),
  mode: F(int32, 4),
}));

export const DownwardAPIVolumeSource = obj(n("DownwardAPIVolumeSource"), () => ({
  items: F(atomicList(DownwardAPIVolumeFile), 1),
  defaultMode: F(int32, 2),
}));

export const FCVolumeSource = obj(n("FCVolumeSource"), () => ({
  targetWWNs: F(atomicList(str), 1),
  lun: F(int32, 2),
  fsType: F(str, 3),
  readOnly: F(bool, 4),
  wwids: F(atomicList(str), 5),
}));

export const AzureFileVolumeSource = obj(n("AzureFileVolumeSource"), () => ({
  secretName: F(str, 1, { required: true }),
  shareName: F(str, 2, { required: true }),
  readOnly: F(bool, 3),
}));

export const ConfigMapVolumeSource = obj(n("ConfigMapVolumeSource"), () => ({
  name: F(str), // inlined LocalObjectReference (pb 1.1)
  items: F(atomicList(KeyToPath), 2),
  defaultMode: F(int32, 3),
  optional: F(bool, 4),
}));

export const VsphereVirtualDiskVolumeSource = obj(n("VsphereVirtualDiskVolumeSource"), () => ({
  volumePath: F(str, 1, { required: true }),
  fsType: F(str, 2),
  storagePolicyName: F(str, 3),
  storagePolicyID: F(str, 4),
}));

export const QuobyteVolumeSource = obj(n("QuobyteVolumeSource"), () => ({
  registry: F(str, 1, { required: true }),
  volume: F(str, 2, { required: true }),
  readOnly: F(bool, 3),
  user: F(str, 4),
  group: F(str, 5),
  tenant: F(str, 6),
}));

export const AzureDiskVolumeSource = obj(n("AzureDiskVolumeSource"), () => ({
  diskName: F(str, 1, { required: true }),
  diskURI: F(str, 2, { required: true }),
  cachingMode: F(str, 3),
  fsType: F(str, 4),
  readOnly: F(bool, 5),
  kind: F(str, 6),
}));

export const PhotonPersistentDiskVolumeSource = obj(n("PhotonPersistentDiskVolumeSource"), () => ({
  pdID: F(str, 1, { required: true }),
  fsType: F(str, 2),
}));

export const SecretProjection = obj(n("SecretProjection"), () => ({
  name: F(str), // inlined LocalObjectReference (pb 1.1)
  items: F(atomicList(KeyToPath), 2),
  optional: F(bool, 4),
}));

export const DownwardAPIProjection = obj(n("DownwardAPIProjection"), () => ({
  items: F(atomicList(DownwardAPIVolumeFile), 1),
}));

export const ConfigMapProjection = obj(n("ConfigMapProjection"), () => ({
  name: F(str), // inlined LocalObjectReference (pb 1.1)
  items: F(atomicList(KeyToPath), 2),
  optional: F(bool, 4),
}));

export const ServiceAccountTokenProjection = obj(n("ServiceAccountTokenProjection"), () => ({
  audience: F(str, 1),
  expirationSeconds: F(int64, 2),
  path: F(str, 3, { required: true }),
}));

export const ClusterTrustBundleProjection = obj(n("ClusterTrustBundleProjection"), () => ({
  name: F(str, 1),
  signerName: F(str, 2),
  labelSelector: F(LabelSelector, 3),
  optional: F(bool, 5),
  path: F(str, 4, { required: true }),
}));

export const PodCertificateProjection = obj(n("PodCertificateProjection"), () => ({
  signerName: F(str, 1, { required: true }),
  keyType: F(str, 2, { required: true }),
  maxExpirationSeconds: F(int32, 3),
  credentialBundlePath: F(str, 4),
  keyPath: F(str, 5),
  certificateChainPath: F(str, 6),
  userAnnotations: F(map(str), 7),
}));

export const VolumeProjection = obj(n("VolumeProjection"), () => ({
  secret: F(SecretProjection, 1),
  downwardAPI: F(DownwardAPIProjection, 2),
  configMap: F(ConfigMapProjection, 3),
  serviceAccountToken: F(ServiceAccountTokenProjection, 4),
  clusterTrustBundle: F(ClusterTrustBundleProjection, 5),
  podCertificate: F(PodCertificateProjection, 6),
}));

export const ProjectedVolumeSource = obj(n("ProjectedVolumeSource"), () => ({
  sources: F(atomicList(VolumeProjection), 1),
  defaultMode: F(int32, 2),
}));

export const PortworxVolumeSource = obj(n("PortworxVolumeSource"), () => ({
  volumeID: F(str, 1, { required: true }),
  fsType: F(str, 2),
  readOnly: F(bool, 3),
}));

export const ScaleIOVolumeSource = obj(n("ScaleIOVolumeSource"), () => ({
  gateway: F(str, 1, { required: true }),
  system: F(str, 2, { required: true }),
  secretRef: F(LocalObjectReference, 3, { required: true }),
  sslEnabled: F(bool, 4),
  protectionDomain: F(str, 5),
  storagePool: F(str, 6),
  storageMode: F(str, 7),
  volumeName: F(str, 8),
  fsType: F(str, 9),
  readOnly: F(bool, 10),
}));

export const StorageOSVolumeSource = obj(n("StorageOSVolumeSource"), () => ({
  volumeName: F(str, 1),
  volumeNamespace: F(str, 2),
  fsType: F(str, 3),
  readOnly: F(bool, 4),
  secretRef: F(LocalObjectReference, 5),
}));

export const CSIVolumeSource = obj(n("CSIVolumeSource"), () => ({
  driver: F(str, 1, { required: true }),
  readOnly: F(bool, 2),
  fsType: F(str, 3),
  volumeAttributes: F(map(str), 4),
  nodePublishSecretRef: F(LocalObjectReference, 5),
}));

export const PersistentVolumeClaimTemplate = obj(n("PersistentVolumeClaimTemplate"), () => ({
  metadata: F(ObjectMeta, 1),
  spec: F(PersistentVolumeClaimSpec, 2, { required: true }),
}));

export const EphemeralVolumeSource = obj(n("EphemeralVolumeSource"), () => ({
  volumeClaimTemplate: F(PersistentVolumeClaimTemplate, 1),
}));

export const ImageVolumeSource = obj(n("ImageVolumeSource"), () => ({
  reference: F(str, 1),
  pullPolicy: F(str, 2),
}));

/** VolumeSource's fields: exactly one should be set. pb=false for the copy inlined in Volume. */
export const volumeSourceFields = (pb: boolean) => {
  const p = (x: number) => (pb ? x : undefined);
  return {
    hostPath: F(HostPathVolumeSource, p(1)),
    emptyDir: F(EmptyDirVolumeSource, p(2)),
    gcePersistentDisk: F(GCEPersistentDiskVolumeSource, p(3)),
    awsElasticBlockStore: F(AWSElasticBlockStoreVolumeSource, p(4)),
    gitRepo: F(GitRepoVolumeSource, p(5)),
    secret: F(SecretVolumeSource, p(6)),
    nfs: F(NFSVolumeSource, p(7)),
    iscsi: F(ISCSIVolumeSource, p(8)),
    glusterfs: F(GlusterfsVolumeSource, p(9)),
    persistentVolumeClaim: F(PersistentVolumeClaimVolumeSource, p(10)),
    rbd: F(RBDVolumeSource, p(11)),
    flexVolume: F(FlexVolumeSource, p(12)),
    cinder: F(CinderVolumeSource, p(13)),
    cephfs: F(CephFSVolumeSource, p(14)),
    flocker: F(FlockerVolumeSource, p(15)),
    downwardAPI: F(DownwardAPIVolumeSource, p(16)),
    fc: F(FCVolumeSource, p(17)),
    azureFile: F(AzureFileVolumeSource, p(18)),
    configMap: F(ConfigMapVolumeSource, p(19)),
    vsphereVolume: F(VsphereVirtualDiskVolumeSource, p(20)),
    quobyte: F(QuobyteVolumeSource, p(21)),
    azureDisk: F(AzureDiskVolumeSource, p(22)),
    photonPersistentDisk: F(PhotonPersistentDiskVolumeSource, p(23)),
    projected: F(ProjectedVolumeSource, p(26)),
    portworxVolume: F(PortworxVolumeSource, p(24)),
    scaleIO: F(ScaleIOVolumeSource, p(25)),
    storageos: F(StorageOSVolumeSource, p(27)),
    csi: F(CSIVolumeSource, p(28)),
    ephemeral: F(EphemeralVolumeSource, p(29)),
    image: F(ImageVolumeSource, p(30)),
  };
};

/** JSON names of VolumeSource members (used by validation: exactly one per volume). */
export const volumeSourceKeys = Object.keys(volumeSourceFields(false));

export const VolumeSource = obj(n("VolumeSource"), () => volumeSourceFields(true));

export const Volume = obj(n("Volume"), () => ({
  name: F(str, 1, { required: true }),
  ...volumeSourceFields(false), // inlined VolumeSource (pb 2)
}));

// Keep SecretReference reachable for files that import volume types from here.
export { SecretReference };
