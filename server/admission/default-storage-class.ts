// DefaultStorageClass: a claim that names no class gets the default one (the newest, when
// several are marked default).
import type { AdmissionPlugin } from "./types";

const DEFAULT_ANNOTATION = "storageclass.kubernetes.io/is-default-class";

export const defaultStorageClass: AdmissionPlugin = {
  name: "DefaultStorageClass",
  handles: (req) => req.operation === "CREATE" && req.subresource === "" && req.resource.group === "" && req.resource.plural === "persistentvolumeclaims",
  admit(req) {
    const spec = (req.object.spec ??= {});
    if (spec.storageClassName != null) return;
    const defaults = req.store
      .list("storage.k8s.io/storageclasses", undefined)
      .items.filter((c: any) => c.metadata?.annotations?.[DEFAULT_ANNOTATION] === "true")
      .sort((a: any, b: any) => (b.metadata.creationTimestamp ?? "").localeCompare(a.metadata.creationTimestamp ?? "") || a.metadata.name.localeCompare(b.metadata.name));
    if (defaults[0]) spec.storageClassName = defaults[0].metadata.name;
  },
};
