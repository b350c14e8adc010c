// admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy and ValidatingAdmissionPolicyBinding:
// in-process admission rules written in CEL. server/admission/validating-admission-policy.ts
// enforces them; expressions are compiled here so a policy that cannot run is refused (422).
import { Environment } from "@marcbachmann/cel-js";
import { F, atomicList, int64, keyedList, obj, str, strEnum } from "../dsl";
import type { FieldError, ResourceDef } from "../registry";
import { duplicate, forbidden, invalid, notSupported, required } from "../validation";
import { Condition, LabelSelector, typeMetaFields } from "./meta";
import { validateLabelSelector } from "./apps";

const g = (n: string) => `io.k8s.api.admissionregistration.v1.${n}`;

const NamedRuleWithOperations = obj(g("NamedRuleWithOperations"), () => ({
  resourceNames: F(atomicList(str)),
  operations: F(atomicList(str)),
  apiGroups: F(atomicList(str)),
  apiVersions: F(atomicList(str)),
  resources: F(atomicList(str)),
  scope: F(str),
}));

const MatchResources = obj(g("MatchResources"), () => ({
  namespaceSelector: F(LabelSelector),
  objectSelector: F(LabelSelector),
  resourceRules: F(atomicList(NamedRuleWithOperations)),
  excludeResourceRules: F(atomicList(NamedRuleWithOperations)),
  matchPolicy: F(strEnum(["Exact", "Equivalent"])),
}));

const ParamKind = obj(g("ParamKind"), () => ({ apiVersion: F(str), kind: F(str) }));
const Validation = obj(g("Validation"), () => ({ expression: F(str, undefined, { required: true }), message: F(str), reason: F(str), messageExpression: F(str) }));
const AuditAnnotation = obj(g("AuditAnnotation"), () => ({ key: F(str, undefined, { required: true }), valueExpression: F(str, undefined, { required: true }) }));
const MatchCondition = obj(g("MatchCondition"), () => ({ name: F(str, undefined, { required: true }), expression: F(str, undefined, { required: true }) }));
const Variable = obj(g("Variable"), () => ({ name: F(str, undefined, { required: true }), expression: F(str, undefined, { required: true }) }));

const PolicySpec = obj(g("ValidatingAdmissionPolicySpec"), () => ({
  paramKind: F(ParamKind),
  matchConstraints: F(MatchResources),
  validations: F(atomicList(Validation)),
  failurePolicy: F(strEnum(["Ignore", "Fail"])),
  auditAnnotations: F(atomicList(AuditAnnotation)),
  matchConditions: F(keyedList(MatchCondition, "name")),
  variables: F(atomicList(Variable)),
}));
const ExpressionWarning = obj(g("ExpressionWarning"), () => ({ fieldRef: F(str, undefined, { required: true }), warning: F(str, undefined, { required: true }) }));
const PolicyStatus = obj(g("ValidatingAdmissionPolicyStatus"), () => ({
  observedGeneration: F(int64),
  typeChecking: F(obj(g("TypeChecking"), () => ({ expressionWarnings: F(atomicList(ExpressionWarning)) }))),
  conditions: F(keyedList(Condition, "type")),
}));

export const ValidatingAdmissionPolicy = obj(g("ValidatingAdmissionPolicy"), () => ({ ...typeMetaFields(), spec: F(PolicySpec), status: F(PolicyStatus) }), {
  desc: "ValidatingAdmissionPolicy describes the definition of an admission validation policy that accepts or rejects an object without changing it.",
});

const ParamRef = obj(g("ParamRef"), () => ({
  name: F(str),
  namespace: F(str),
  selector: F(LabelSelector),
  parameterNotFoundAction: F(strEnum(["Allow", "Deny"])),
}));
const BindingSpec = obj(g("ValidatingAdmissionPolicyBindingSpec"), () => ({
  policyName: F(str),
  paramRef: F(ParamRef),
  matchResources: F(MatchResources),
  validationActions: F(atomicList(strEnum(["Deny", "Warn", "Audit"]))),
}));

export const ValidatingAdmissionPolicyBinding = obj(g("ValidatingAdmissionPolicyBinding"), () => ({ ...typeMetaFields(), spec: F(BindingSpec) }), {
  desc: "ValidatingAdmissionPolicyBinding binds the ValidatingAdmissionPolicy with paramerized resources.",
});

const env = new Environment({ unlistedVariablesAreDyn: true, homogeneousAggregateLiterals: false });

/** Why a CEL expression cannot run here, or undefined. */
export function celProblem(expression: unknown): string | undefined {
  if (typeof expression !== "string" || !expression.trim()) return "Required value";
  try {
    const checked = (env.parse(expression) as any).check?.();
    if (checked && checked.valid === false) return `compilation failed: ${String(checked.error?.message ?? checked.error).split("\n")[0]}`;
  } catch (e) {
    return `compilation failed: ${(e as Error).message.split("\n")[0]}`;
  }
  return undefined;
}

const OPERATIONS = ["*", "CREATE", "UPDATE", "DELETE", "CONNECT"];

function validateMatchResources(m: any, p: string, needRules: boolean): FieldError[] {
  const errs: FieldError[] = [];
  if (!m || typeof m !== "object") return needRules ? [required(p)] : [];
  if (needRules && !(m.resourceRules ?? []).length) errs.push(required(`${p}.resourceRules`));
  for (const k of ["resourceRules", "excludeResourceRules"] as const)
    (m[k] ?? []).forEach((r: any, j: number) => {
      const rp = `${p}.${k}[${j}]`;
      for (const f of ["operations", "apiGroups", "apiVersions", "resources"]) if (!Array.isArray(r?.[f]) || !r[f].length) errs.push(required(`${rp}.${f}`));
      (r?.operations ?? []).forEach((op: string, n: number) => OPERATIONS.includes(op) || errs.push(notSupported(`${rp}.operations[${n}]`, op, OPERATIONS)));
      if (r?.scope !== undefined && !["*", "Cluster", "Namespaced"].includes(r.scope)) errs.push(notSupported(`${rp}.scope`, r.scope, ["*", "Cluster", "Namespaced"]));
    });
  if (m.namespaceSelector) errs.push(...validateLabelSelector(m.namespaceSelector, `${p}.namespaceSelector`));
  if (m.objectSelector) errs.push(...validateLabelSelector(m.objectSelector, `${p}.objectSelector`));
  return errs;
}

function validatePolicy(o: any): FieldError[] {
  const s = o.spec ?? {};
  const errs: FieldError[] = validateMatchResources(s.matchConstraints, "spec.matchConstraints", true);
  if (!(s.validations ?? []).length && !(s.auditAnnotations ?? []).length) errs.push(required("spec.validations", "validations or auditAnnotations must contain at least one item"));
  const expr = (field: string, e: unknown) => {
    const why = celProblem(e);
    if (why === "Required value") errs.push(required(field));
    else if (why) errs.push(invalid(field, e, why));
  };
  (s.validations ?? []).forEach((v: any, i: number) => {
    expr(`spec.validations[${i}].expression`, v?.expression);
    if (v?.messageExpression !== undefined) expr(`spec.validations[${i}].messageExpression`, v.messageExpression);
    if (typeof v?.message === "string" && v.message.includes("\n")) errs.push(invalid(`spec.validations[${i}].message`, v.message, "message must not contain line breaks"));
    if (v?.reason !== undefined && !["Unauthorized", "Forbidden", "Invalid", "RequestEntityTooLarge"].includes(v.reason))
      errs.push(notSupported(`spec.validations[${i}].reason`, v.reason, ["Forbidden", "Invalid", "RequestEntityTooLarge", "Unauthorized"]));
  });
  const keys = new Set<string>();
  (s.auditAnnotations ?? []).forEach((a: any, i: number) => {
    if (!a?.key) errs.push(required(`spec.auditAnnotations[${i}].key`));
    else if (keys.has(a.key)) errs.push(duplicate(`spec.auditAnnotations[${i}].key`, a.key));
    keys.add(a?.key);
    expr(`spec.auditAnnotations[${i}].valueExpression`, a?.valueExpression);
  });
  (s.matchConditions ?? []).forEach((c: any, i: number) => expr(`spec.matchConditions[${i}].expression`, c?.expression));
  const names = new Set<string>();
  (s.variables ?? []).forEach((v: any, i: number) => {
    if (!v?.name || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(v.name)) errs.push(invalid(`spec.variables[${i}].name`, v?.name, "name is not a valid CEL identifier"));
    else if (names.has(v.name)) errs.push(duplicate(`spec.variables[${i}].name`, v.name));
    names.add(v?.name);
    expr(`spec.variables[${i}].expression`, v?.expression);
  });
  if (s.paramKind && (!s.paramKind.apiVersion || !s.paramKind.kind)) errs.push(required(s.paramKind.kind ? "spec.paramKind.apiVersion" : "spec.paramKind.kind"));
  return errs;
}

function validateBinding(o: any): FieldError[] {
  const s = o.spec ?? {};
  const errs: FieldError[] = [];
  if (!s.policyName) errs.push(required("spec.policyName"));
  const actions: string[] = s.validationActions ?? [];
  if (!actions.length) errs.push(required("spec.validationActions"));
  actions.forEach((a, i) => {
    if (!["Deny", "Warn", "Audit"].includes(a)) errs.push(notSupported(`spec.validationActions[${i}]`, a, ["Audit", "Deny", "Warn"]));
    else if (actions.indexOf(a) !== i) errs.push(duplicate(`spec.validationActions[${i}]`, a));
  });
  if (actions.includes("Deny") && actions.includes("Warn")) errs.push(invalid("spec.validationActions", actions, "must not contain both Deny and Warn (repeating the same validation failure information in the API response and headers serves no purpose)"));
  const pr = s.paramRef;
  if (pr) {
    if (pr.name && pr.selector) errs.push(forbidden("spec.paramRef.name", "name and selector are mutually exclusive"));
    if (!pr.name && !pr.selector) errs.push(required("spec.paramRef", "one of name or selector must be specified"));
    if (!pr.parameterNotFoundAction) errs.push(required("spec.paramRef.parameterNotFoundAction"));
    if (pr.selector) errs.push(...validateLabelSelector(pr.selector, "spec.paramRef.selector"));
  }
  if (s.matchResources) errs.push(...validateMatchResources(s.matchResources, "spec.matchResources", false));
  return errs;
}

function defaultMatch(m: any): void {
  if (!m || typeof m !== "object") return;
  m.matchPolicy ??= "Equivalent";
  m.namespaceSelector ??= {};
  m.objectSelector ??= {};
  for (const k of ["resourceRules", "excludeResourceRules"]) for (const r of m[k] ?? []) if (r && typeof r === "object") r.scope ??= "*";
}

export const resources: ResourceDef[] = [
  {
    group: "admissionregistration.k8s.io",
    version: "v1",
    kind: "ValidatingAdmissionPolicy",
    plural: "validatingadmissionpolicies",
    singular: "validatingadmissionpolicy",
    namespaced: false,
    categories: ["api-extensions"],
    type: ValidatingAdmissionPolicy,
    subresources: { status: true },
    defaults: (o) => {
      if (!o.spec || typeof o.spec !== "object") return;
      o.spec.failurePolicy ??= "Fail";
      defaultMatch(o.spec.matchConstraints);
    },
    validate: validatePolicy,
  },
  {
    group: "admissionregistration.k8s.io",
    version: "v1",
    kind: "ValidatingAdmissionPolicyBinding",
    plural: "validatingadmissionpolicybindings",
    singular: "validatingadmissionpolicybinding",
    namespaced: false,
    categories: ["api-extensions"],
    type: ValidatingAdmissionPolicyBinding,
    defaults: (o) => defaultMatch(o.spec?.matchResources),
    validate: validateBinding,
  },
];
