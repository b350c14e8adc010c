// policy/v1: PodDisruptionBudget and Eviction (the body of pods/eviction, not stored).
// Field names and protobuf numbers follow upstream's k8s.io/api/policy/v1/generated.proto.
import { F, int32, int64, intOrString, keyedList, map, obj, str, strEnum, time } from "../dsl";
import type { FieldError, ResourceDef } from "../registry";
import { forbidden, invalid, notSupported } from "../validation";
import { metaErrors } from "./apps";
import { Condition, DeleteOptions, LabelSelector, typeMetaFields } from "./meta";

const UNHEALTHY_POLICIES = ["AlwaysAllow", "IfHealthyBudget"] as const;

export const PodDisruptionBudgetSpec = obj("io.k8s.api.policy.v1.PodDisruptionBudgetSpec", () => ({
  minAvailable: F(intOrString, 1),
  selector: F(LabelSelector, 2),
  maxUnavailable: F(intOrString, 3),
  unhealthyPodEvictionPolicy: F(strEnum(UNHEALTHY_POLICIES), 4),
}));

export const PodDisruptionBudgetStatus = obj("io.k8s.api.policy.v1.PodDisruptionBudgetStatus", () => ({
  observedGeneration: F(int64, 1),
  disruptedPods: F(map(time), 2),
  disruptionsAllowed: F(int32, 3, { required: true }),
  currentHealthy: F(int32, 4, { required: true }),
  desiredHealthy: F(int32, 5, { required: true }),
  expectedPods: F(int32, 6, { required: true }),
  conditions: F(keyedList(Condition, "type"), 7),
}));

export const PodDisruptionBudget = obj("io.k8s.api.policy.v1.PodDisruptionBudget", () => ({
  ...typeMetaFields(),
  spec: F(PodDisruptionBudgetSpec, 2),
  status: F(PodDisruptionBudgetStatus, 3),
}));

/** The body of POST pods/NAME/eviction (kubectl drain sends it as protobuf). */
export const Eviction = obj("io.k8s.api.policy.v1.Eviction", () => ({
  ...typeMetaFields(),
  deleteOptions: F(DeleteOptions, 2),
}));

/** An int-or-string budget value: a non-negative integer or a percentage "0%".."100%". */
function intOrPercentErrors(errs: FieldError[], v: unknown, path: string): void {
  if (v === undefined || v === null) return;
  if (typeof v === "number") {
    if (!Number.isInteger(v) || v < 0) errs.push(invalid(path, v, "must be greater than or equal to 0"));
    return;
  }
  const m = /^(\d+)%$/.exec(String(v));
  if (!m) errs.push(invalid(path, v, "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"));
  else if (Number(m[1]) > 100) errs.push(invalid(path, v, "must not be greater than 100%"));
}

function validatePDB(o: any, old?: any): FieldError[] {
  const errs = metaErrors(o, old, true);
  const spec = o?.spec ?? {};
  const has = (k: string) => spec[k] !== undefined && spec[k] !== null;
  if (has("minAvailable") && has("maxUnavailable")) errs.push(invalid("spec", spec, "minAvailable and maxUnavailable cannot be both set"));
  intOrPercentErrors(errs, spec.minAvailable, "spec.minAvailable");
  intOrPercentErrors(errs, spec.maxUnavailable, "spec.maxUnavailable");
  const p = spec.unhealthyPodEvictionPolicy;
  if (p !== undefined && p !== null && !UNHEALTHY_POLICIES.includes(p)) errs.push(notSupported("spec.unhealthyPodEvictionPolicy", p, UNHEALTHY_POLICIES));
  const st = o?.status;
  if (st) {
    for (const k of ["disruptionsAllowed", "currentHealthy", "desiredHealthy", "expectedPods"])
      if (typeof st[k] === "number" && st[k] < 0) errs.push(invalid(`status.${k}`, st[k], "must be greater than or equal to 0"));
  }
  if (spec.selector && typeof spec.selector !== "object") errs.push(forbidden("spec.selector", "must be a label selector"));
  return errs;
}

export const resources: ResourceDef[] = [
  {
    group: "policy",
    version: "v1",
    kind: "PodDisruptionBudget",
    plural: "poddisruptionbudgets",
    singular: "poddisruptionbudget",
    namespaced: true,
    shortNames: ["pdb"],
    type: PodDisruptionBudget,
    subresources: { status: true },
    validate: validatePDB,
  },
];
