// Priority: a pod's priorityClassName is resolved to its integer priority and preemption policy
// at admission (the scheduler and preemption read spec.priority); a pod naming no class gets the
// globalDefault class, or priority 0. Only one PriorityClass may be the global default, and the
// built-in system classes cannot be deleted.
import { SYSTEM_PRIORITY_CLASSES } from "../../schemas/types/scheduling";
import { forbidden } from "../errors";
import type { AdmissionPlugin, AdmissionRequest } from "./types";

const RES = "scheduling.k8s.io/priorityclasses";
const DEFAULT_POLICY = "PreemptLowerPriority";

const isPods = (req: AdmissionRequest) => req.resource.group === "" && req.resource.plural === "pods";
const isClasses = (req: AdmissionRequest) => req.resource.group === "scheduling.k8s.io" && req.resource.plural === "priorityclasses";

export const priority: AdmissionPlugin = {
  name: "Priority",
  handles: (req) => req.subresource === "" && ((isPods(req) && req.operation === "CREATE") || isClasses(req)),

  async admit(req) {
    if (isClasses(req)) return checkClass(req);
    const spec = (req.object.spec ??= {});
    let cls: any;
    if (!spec.priorityClassName) {
      // Several defaults can only come from a race; upstream then takes the lowest value.
      cls = req.store
        .list(RES, undefined)
        .items.filter((c: any) => c.globalDefault === true)
        .sort((a: any, b: any) => a.value - b.value)[0];
      if (cls) spec.priorityClassName = cls.metadata.name;
    } else {
      cls = (await req.store.getFresh(RES, "", spec.priorityClassName))?.obj;
      if (!cls) throw forbidden(`pods "${req.name}" is forbidden: no PriorityClass with name ${spec.priorityClassName} was found`);
    }
    const value = cls?.value ?? 0;
    // Pod defaulting wrote priority 0 before admission: only another value was the client's.
    if (spec.priority !== undefined && spec.priority !== null && spec.priority !== 0 && spec.priority !== value)
      throw forbidden(`pods "${req.name}" is forbidden: the integer value of priority (${spec.priority}) must not be provided in pod spec; priority admission controller computed ${value} from the given PriorityClass name`);
    spec.priority = value;
    const policy = cls?.preemptionPolicy ?? DEFAULT_POLICY;
    if (spec.preemptionPolicy && spec.preemptionPolicy !== DEFAULT_POLICY && spec.preemptionPolicy !== policy)
      throw forbidden(`pods "${req.name}" is forbidden: the string value of PreemptionPolicy (${spec.preemptionPolicy}) must not be provided in pod spec; priority admission controller computed ${policy} from the given PriorityClass name`);
    spec.preemptionPolicy = policy;
  },
};

function checkClass(req: AdmissionRequest): void {
  if (req.operation === "DELETE") {
    if (SYSTEM_PRIORITY_CLASSES[req.name]) throw forbidden(`priorityclasses.scheduling.k8s.io "${req.name}" is forbidden: cannot delete system priority class ${req.name}`);
    return;
  }
  if (req.object?.globalDefault !== true) return;
  const other = req.store.list(RES, undefined).items.find((c: any) => c.globalDefault === true && c.metadata.name !== req.name);
  if (other) throw forbidden(`priorityclasses.scheduling.k8s.io "${req.name}" is forbidden: PriorityClass ${other.metadata.name} is already marked as default. Only one default can exist`);
}
