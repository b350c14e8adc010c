// scheduling.k8s.io/v1 PriorityClass: a name for a pod priority value. Field names and
// protobuf numbers follow k8s.io/api/scheduling/v1/generated.proto.
import { F, bool, int32, obj, str, strEnum } from "../dsl";
import type { FieldError, ResourceDef } from "../registry";
import { typeMetaFields } from "./meta";

/** Values above this are reserved for the system classes. */
export const HIGHEST_USER_PRIORITY = 1_000_000_000;
/** The built-in classes (created at bootstrap; their names and values are fixed). */
export const SYSTEM_PRIORITY_CLASSES: Record<string, { value: number; description: string }> = {
  "system-node-critical": { value: 2_000_001_000, description: "Used for system critical pods that must not be moved from their current node." },
  "system-cluster-critical": { value: 2_000_000_000, description: "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary." },
};

export const PriorityClass = obj("io.k8s.api.scheduling.v1.PriorityClass", () => ({
  ...typeMetaFields(),
  value: F(int32, 2, { required: true }),
  globalDefault: F(bool, 3),
  description: F(str, 4),
  preemptionPolicy: F(strEnum(["Never", "PreemptLowerPriority"]), 5),
}));

function defaultPriorityClass(o: any): void {
  if (o && (o.preemptionPolicy === undefined || o.preemptionPolicy === null || o.preemptionPolicy === "")) o.preemptionPolicy = "PreemptLowerPriority";
}

function validatePriorityClass(o: any, old?: any): FieldError[] {
  const errs: FieldError[] = [];
  const name: string = o?.metadata?.name ?? "";
  if (name.startsWith("system-")) {
    const known = SYSTEM_PRIORITY_CLASSES[name];
    const why = !known ? `${name} is not a known system priority class` : known.value !== o.value ? `value of ${name} PriorityClass must be ${known.value}` : o.globalDefault ? `globalDefault of ${name} PriorityClass must be false` : "";
    if (why) errs.push({ field: "metadata.name", type: "FieldValueForbidden", message: `Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: ${why}` });
  } else if (typeof o?.value === "number" && o.value > HIGHEST_USER_PRIORITY)
    errs.push({ field: "value", type: "FieldValueForbidden", message: `Forbidden: maximum allowed value of a user defined priority is ${HIGHEST_USER_PRIORITY}` });
  if (old) {
    if (o.value !== old.value) errs.push({ field: "value", type: "FieldValueForbidden", message: "Forbidden: may not be changed in an update." });
    if ((o.preemptionPolicy ?? "PreemptLowerPriority") !== (old.preemptionPolicy ?? "PreemptLowerPriority"))
      errs.push({ field: "preemptionPolicy", type: "FieldValueInvalid", message: `Invalid value: ${JSON.stringify(o.preemptionPolicy)}: field is immutable` });
  }
  return errs;
}

export const resources: ResourceDef[] = [
  {
    group: "scheduling.k8s.io",
    version: "v1",
    kind: "PriorityClass",
    plural: "priorityclasses",
    singular: "priorityclass",
    namespaced: false,
    shortNames: ["pc"],
    type: PriorityClass,
    defaults: defaultPriorityClass,
    validate: validatePriorityClass,
    noGeneration: true,
  },
];
