// RuntimeClass (upstream plugin/pkg/admission/runtimeclass): a pod naming a runtimeClassName gets
// that class's pod overhead and scheduling constraints, and is refused when the class does not
// exist, so a typo cannot silently run a pod on the default runtime.
import { forbidden } from "../errors";
import type { AdmissionPlugin } from "./types";

const RES = "node.k8s.io/runtimeclasses";

export const runtimeClass: AdmissionPlugin = {
  name: "RuntimeClass",
  handles: (req) => req.operation === "CREATE" && req.subresource === "" && req.resource.group === "" && req.resource.plural === "pods" && !!req.object?.spec?.runtimeClassName,

  admit(req) {
    const spec = req.object.spec;
    const name = spec.runtimeClassName;
    const rc = req.store.get(RES, "", name)?.obj;
    if (!rc) throw forbidden(`pod rejected: RuntimeClass "${name}" not found`);
    const fixed = rc.overhead?.podFixed;
    if (fixed) {
      if (spec.overhead && JSON.stringify(spec.overhead) !== JSON.stringify(fixed)) throw forbidden("pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead");
      spec.overhead = { ...fixed };
    }
    const sched = rc.scheduling;
    if (sched?.nodeSelector) {
      const sel = { ...(spec.nodeSelector ?? {}) };
      for (const [k, v] of Object.entries<string>(sched.nodeSelector)) {
        if (k in sel && sel[k] !== v) throw forbidden(`pod rejected: conflict: runtimeClass.scheduling.nodeSelector[${k}] = ${v}; pod.spec.nodeSelector[${k}] = ${sel[k]}`);
        sel[k] = v;
      }
      spec.nodeSelector = sel;
    }
    if (sched?.tolerations?.length) {
      const have = new Set((spec.tolerations ?? []).map((t: any) => JSON.stringify(t)));
      spec.tolerations = [...(spec.tolerations ?? []), ...sched.tolerations.filter((t: any) => !have.has(JSON.stringify(t)))];
    }
  },

  validate(req) {
    const spec = req.object.spec;
    const rc = req.store.get(RES, "", spec.runtimeClassName)?.obj;
    const fixed = rc?.overhead?.podFixed;
    if (spec.overhead && (!fixed || JSON.stringify(spec.overhead) !== JSON.stringify(fixed))) throw forbidden("pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead");
  },
};
