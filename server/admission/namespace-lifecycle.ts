// NamespaceLifecycle: nothing is created in a namespace that does not exist or is being
// deleted, and the namespaces the cluster needs cannot be deleted.
import { forbidden, namespaceNotFound } from "../errors";
import type { AdmissionPlugin } from "./types";

/** Upstream's immortal namespaces. */
const UNDELETABLE = new Set(["default", "kube-system", "kube-public"]);

export const namespaceLifecycle: AdmissionPlugin = {
  name: "NamespaceLifecycle",
  handles: (req) =>
    (req.operation === "DELETE" && req.resource.group === "" && req.resource.plural === "namespaces") ||
    // Subresource creates (bindings, evictions, tokens) act on objects that exist already.
    (req.operation === "CREATE" && req.resource.namespaced && req.subresource === ""),
  async admit(req) {
    if (req.operation === "DELETE") {
      if (UNDELETABLE.has(req.name)) throw forbidden(`namespaces "${req.name}" is forbidden: this namespace may not be deleted`);
      return;
    }
    const ns = (await req.store.getFresh("namespaces", "", req.namespace))?.obj;
    if (!ns) throw namespaceNotFound(req.namespace);
    if (ns.metadata?.deletionTimestamp)
      throw forbidden(`${req.resource.plural} "${req.name}" is forbidden: unable to create new content in namespace ${req.namespace} because it is being terminated`);
  },
};
