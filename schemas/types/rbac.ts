// rbac.authorization.k8s.io/v1: Role, RoleBinding, ClusterRole, ClusterRoleBinding.
// Field names, protobuf numbers and list semantics follow k8s.io/api/rbac/v1/types.go;
// defaulting pkg/apis/rbac/v1/defaults.go; validation pkg/apis/rbac/validation.
import { F, atomicList, obj, str } from "../dsl";
import type { FieldError, ResourceDef } from "../registry";
import { dns1123SubdomainErrors, invalid, notSupported, required } from "../validation";
import { LabelSelector, typeMetaFields } from "./meta";
import { ensureObj, metaErrors, validateLabelSelector } from "./apps";
import { isObj } from "../helpers/json";

export const rbacGroup = "rbac.authorization.k8s.io";

export const PolicyRule = obj("io.k8s.api.rbac.v1.PolicyRule", () => ({
  verbs: F(atomicList(str), 1, { required: true }),
  apiGroups: F(atomicList(str), 2),
  resources: F(atomicList(str), 3),
  resourceNames: F(atomicList(str), 4),
  nonResourceURLs: F(atomicList(str), 5),
}));

export const Subject = obj("io.k8s.api.rbac.v1.Subject", () => ({
  kind: F(str, 1, { required: true }),
  apiGroup: F(str, 2),
  name: F(str, 3, { required: true }),
  namespace: F(str, 4),
}));

export const RoleRef = obj("io.k8s.api.rbac.v1.RoleRef", () => ({
  apiGroup: F(str, 1, { required: true }),
  kind: F(str, 2, { required: true }),
  name: F(str, 3, { required: true }),
}));

export const AggregationRule = obj("io.k8s.api.rbac.v1.AggregationRule", () => ({
  clusterRoleSelectors: F(atomicList(LabelSelector), 1),
}));

export const Role = obj("io.k8s.api.rbac.v1.Role", () => ({
  ...typeMetaFields(),
  rules: F(atomicList(PolicyRule), 2),
}));

export const ClusterRole = obj("io.k8s.api.rbac.v1.ClusterRole", () => ({
  ...typeMetaFields(),
  rules: F(atomicList(PolicyRule), 2),
  aggregationRule: F(AggregationRule, 3),
}));

export const RoleBinding = obj("io.k8s.api.rbac.v1.RoleBinding", () => ({
  ...typeMetaFields(),
  subjects: F(atomicList(Subject), 2),
  roleRef: F(RoleRef, 3, { required: true }),
}));

export const ClusterRoleBinding = obj("io.k8s.api.rbac.v1.ClusterRoleBinding", () => ({
  ...typeMetaFields(),
  subjects: F(atomicList(Subject), 2),
  roleRef: F(RoleRef, 3, { required: true }),
}));

// =============================================================================================
// Defaulting

function defaultBinding(o: any): void {
  const ref = ensureObj(o, "roleRef");
  if (!ref.apiGroup) ref.apiGroup = rbacGroup;
  if (Array.isArray(o.subjects)) {
    for (const s of o.subjects) {
      if (!isObj(s) || s.apiGroup) continue;
      // ServiceAccount subjects default to the empty group, which Go's omitempty leaves out of JSON.
      if (s.kind === "ServiceAccount") delete s.apiGroup;
      else if (s.kind === "User" || s.kind === "Group") s.apiGroup = rbacGroup;
    }
  }
}

// =============================================================================================
// Validation

/** Go's %#v of a []string. */
const goStrings = (v: unknown) =>
  `[]string{${(Array.isArray(v) ? v : []).map((x) => JSON.stringify(String(x))).join(", ")}}`;

const len = (v: unknown) => (Array.isArray(v) ? v.length : 0);

function validatePolicyRule(errs: FieldError[], rule: any, namespaced: boolean, path: string): void {
  if (len(rule?.verbs) === 0) errs.push(required(`${path}.verbs`, "verbs must contain at least one value"));
  if (len(rule?.nonResourceURLs) > 0) {
    const bad = (detail: string) =>
      errs.push({
        field: `${path}.nonResourceURLs`,
        type: "FieldValueInvalid",
        message: `Invalid value: ${goStrings(rule.nonResourceURLs)}: ${detail}`,
      });
    if (namespaced) bad("namespaced rules cannot apply to non-resource URLs");
    if (len(rule.apiGroups) > 0 || len(rule.resources) > 0 || len(rule.resourceNames) > 0)
      bad("rules cannot apply to both regular resources and non-resource URLs");
    return;
  }
  if (len(rule?.apiGroups) === 0) errs.push(required(`${path}.apiGroups`, "resource rules must supply at least one api group"));
  if (len(rule?.resources) === 0) errs.push(required(`${path}.resources`, "resource rules must supply at least one resource"));
}

/** ValidateRBACName: a path segment name (":" is fine, "/" and "%" are not). */
function rbacNameErrors(name: string): string[] {
  if (name === "." || name === "..") return [`may not be '${name}'`];
  const out: string[] = [];
  for (const c of ["/", "%"]) if (name.includes(c)) out.push(`may not contain '${c}'`);
  return out;
}

function validateSubject(errs: FieldError[], s: any, namespaced: boolean, path: string): void {
  const name = s?.name ?? "";
  if (!name) errs.push(required(`${path}.name`));
  const apiGroup = s?.apiGroup ?? "";
  switch (s?.kind) {
    case "ServiceAccount":
      if (name) for (const m of dns1123SubdomainErrors(String(name))) errs.push(invalid(`${path}.name`, name, m));
      if (apiGroup) errs.push(notSupported(`${path}.apiGroup`, apiGroup, [""]));
      if (!namespaced && !s?.namespace) errs.push(required(`${path}.namespace`));
      break;
    case "User":
    case "Group":
      if (apiGroup !== rbacGroup) errs.push(notSupported(`${path}.apiGroup`, apiGroup, [rbacGroup]));
      break;
    default:
      errs.push(notSupported(`${path}.kind`, s?.kind ?? "", ["ServiceAccount", "User", "Group"]));
  }
}

function validateRole(namespaced: boolean) {
  return (o: any, old?: any): FieldError[] => {
    const errs = metaErrors(o, old, namespaced, "path");
    if (Array.isArray(o?.rules)) o.rules.forEach((r: any, i: number) => validatePolicyRule(errs, r, namespaced, `rules[${i}]`));
    const agg = o?.aggregationRule;
    if (!namespaced && isObj(agg)) {
      const sels = agg.clusterRoleSelectors;
      if (len(sels) === 0)
        errs.push(required("aggregationRule.clusterRoleSelectors", "at least one clusterRoleSelector required if aggregationRule is non-nil"));
      else sels.forEach((s: any, i: number) => errs.push(...validateLabelSelector(s, `aggregationRule.clusterRoleSelectors[${i}]`)));
    }
    return errs;
  };
}

function validateBinding(namespaced: boolean) {
  return (o: any, old?: any): FieldError[] => {
    const errs = metaErrors(o, old, namespaced, "path");
    const ref = o?.roleRef ?? {};
    if ((ref.apiGroup ?? "") !== rbacGroup) errs.push(notSupported("roleRef.apiGroup", ref.apiGroup ?? "", [rbacGroup]));
    const kinds = namespaced ? ["Role", "ClusterRole"] : ["ClusterRole"];
    if (!kinds.includes(ref.kind)) errs.push(notSupported("roleRef.kind", ref.kind ?? "", kinds));
    if (!ref.name) errs.push(required("roleRef.name"));
    else for (const m of rbacNameErrors(String(ref.name))) errs.push(invalid("roleRef.name", ref.name, m));
    if (Array.isArray(o?.subjects)) o.subjects.forEach((s: any, i: number) => validateSubject(errs, s, namespaced, `subjects[${i}]`));
    if (old) {
      const a = old.roleRef ?? {};
      if ((a.apiGroup ?? "") !== (ref.apiGroup ?? "") || (a.kind ?? "") !== (ref.kind ?? "") || (a.name ?? "") !== (ref.name ?? ""))
        errs.push({
          field: "roleRef",
          type: "FieldValueInvalid",
          message: `Invalid value: rbac.RoleRef{APIGroup:${JSON.stringify(ref.apiGroup ?? "")}, Kind:${JSON.stringify(ref.kind ?? "")}, Name:${JSON.stringify(ref.name ?? "")}}: cannot change roleRef`,
        });
    }
    return errs;
  };
}

// ---------------------------------------------------------------------------------------------

export const resources: ResourceDef[] = [
  {
    group: rbacGroup,
    version: "v1",
    kind: "Role",
    plural: "roles",
    singular: "role",
    namespaced: true,
    type: Role,
    validate: validateRole(true),
    noGeneration: true,
  },
  {
    group: rbacGroup,
    version: "v1",
    kind: "RoleBinding",
    plural: "rolebindings",
    singular: "rolebinding",
    namespaced: true,
    type: RoleBinding,
    defaults: defaultBinding,
    validate: validateBinding(true),
    noGeneration: true,
  },
  {
    group: rbacGroup,
    version: "v1",
    kind: "ClusterRole",
    plural: "clusterroles",
    singular: "clusterrole",
    namespaced: false,
    type: ClusterRole,
    validate: validateRole(false),
    noGeneration: true,
  },
  {
    group: rbacGroup,
    version: "v1",
    kind: "ClusterRoleBinding",
    plural: "clusterrolebindings",
    singular: "clusterrolebinding",
    namespaced: false,
    type: ClusterRoleBinding,
    defaults: defaultBinding,
    validate: validateBinding(false),
    noGeneration: true,
  },
];
