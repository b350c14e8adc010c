// StorageObjectInUseProtection: every new PersistentVolumeClaim gets the
// kubernetes.io/pvc-protection finalizer and every PersistentVolume kubernetes.io/pv-protection,
// so deleting one that a pod still uses (or a volume still bound) only marks it; the protection
// controllers (server/controllers/storage-protection.ts) let it go once nothing uses it.
import type { AdmissionPlugin } from "./types";

export const PVC_PROTECTION = "kubernetes.io/pvc-protection";
export const PV_PROTECTION = "kubernetes.io/pv-protection";

export const storageObjectInUseProtection: AdmissionPlugin = {
  name: "StorageObjectInUseProtection",
  handles: (req) => req.operation === "CREATE" && req.subresource === "" && req.resource.group === "" && (req.resource.plural === "persistentvolumeclaims" || req.resource.plural === "persistentvolumes"),
  admit(req) {
    const f = req.resource.plural === "persistentvolumes" ? PV_PROTECTION : PVC_PROTECTION;
    const m = req.object.metadata;
    if (!(m.finalizers ?? []).includes(f)) m.finalizers = [...(m.finalizers ?? []), f];
  },
};
