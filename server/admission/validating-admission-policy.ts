// ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1): a policy's CEL validations run
// for every write its matchConstraints select, through each binding to it (whose matchResources
// narrow further and whose validationActions say what a failure does: Deny refuses, Warn adds a
// Warning, Audit annotates the audit event). paramKind + the binding's paramRef give the
// expressions `params` (one evaluation per parameter object). Variables, matchConditions,
// messageExpression and auditAnnotations as upstream; failurePolicy decides what an expression
// that cannot be evaluated (or a missing parameter resource) does.
import { Environment } from "@marcbachmann/cel-js";
import { findByKind, findByPlural, type RegisteredResource } from "../../schemas/registry";
import { labelSelectorMatches } from "../../schemas/helpers/selectors";
import { ApiError } from "../errors";
import type { AdmissionPlugin, AdmissionRequest } from "./types";
import { reviewRequest } from "./webhooks/call";
import { namespaceMatches, objectMatches, ruleMatches } from "./webhooks/match";

const POLICIES = "admissionregistration.k8s.io/validatingadmissionpolicies";
const BINDINGS = "admissionregistration.k8s.io/validatingadmissionpolicybindings";
const CODES: Record<string, number> = { Unauthorized: 401, Forbidden: 403, Invalid: 422, RequestEntityTooLarge: 413 };

const env = new Environment({ unlistedVariablesAreDyn: true, homogeneousAggregateLiterals: false });
type Program = (vars: Record<string, unknown>) => unknown;
const programs = new Map<string, Program>();
function run(expression: string, vars: Record<string, unknown>): unknown {
  let p = programs.get(expression);
  if (!p) {
    p = env.parse(expression) as unknown as Program;
    if (programs.size > 2000) programs.clear();
    programs.set(expression, p);
  }
  return p(vars);
}

/** JSON to CEL values: integral numbers are CEL ints. */
function cel(v: unknown): unknown {
  if (typeof v === "number") return Number.isInteger(v) ? BigInt(v) : v;
  if (Array.isArray(v)) return v.map(cel);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, cel(x)]));
  return v;
}
const fromCel = (v: unknown) => (typeof v === "bigint" ? Number(v) : v);

/** Does a MatchResources select this request? (Exact rules; Equivalent also tries the other served versions.) */
function matches(m: any, req: AdmissionRequest): boolean {
  if (!m) return true;
  const name = req.name || req.object?.metadata?.name || "";
  const hit = (rules: any[], r: RegisteredResource) => rules.some((x) => ruleMatches(x, req.operation, r, req.subresource) && (!(x.resourceNames ?? []).length || x.resourceNames.includes(name)));
  const anyVersion = (rules: any[]) => {
    if (hit(rules, req.resource)) return true;
    if (m.matchPolicy === "Exact") return false;
    for (const v of ["v1", "v1beta1", "v2", "v1alpha1", "v2beta2"]) {
      const other = findByPlural(req.resource.group, v, req.resource.plural);
      if (other && other !== req.resource && hit(rules, other)) return true;
    }
    return false;
  };
  // A binding's matchResources without resourceRules selects everything the policy does.
  if ((m.resourceRules ?? []).length && !anyVersion(m.resourceRules)) return false;
  if ((m.excludeResourceRules ?? []).length && anyVersion(m.excludeResourceRules)) return false;
  return namespaceMatches(m, req) && objectMatches(m, req);
}

class PolicyFailure extends Error {}

/** The parameter objects of a binding; undefined: none found (parameterNotFoundAction decides). */
function paramsOf(policy: any, binding: any, req: AdmissionRequest): any[] | undefined {
  const pk = policy.spec?.paramKind;
  if (!pk) return [null];
  const ref = binding.spec?.paramRef;
  if (!ref) throw new PolicyFailure(`policy ${policy.metadata.name} has paramKind but binding ${binding.metadata.name} has no paramRef`);
  const r = findByKind(pk.apiVersion, pk.kind);
  if (!r) throw new PolicyFailure(`paramKind ${pk.apiVersion} ${pk.kind} of policy ${policy.metadata.name} is not served`);
  const key = r.group ? `${r.group}/${r.plural}` : r.plural;
  // A namespaced param kind without a namespace in the paramRef: the request's namespace.
  const ns = r.namespaced ? (ref.namespace ?? req.namespace) : "";
  if (r.namespaced && !ns) throw new PolicyFailure(`cannot use a namespaced paramRef without a namespace for the cluster-scoped ${req.resource.plural}`);
  const found = ref.name ? [req.store.get(key, ns, ref.name)?.obj].filter(Boolean) : req.store.list(key, r.namespaced ? ns : undefined).items.filter((o) => labelSelectorMatches(ref.selector, o.metadata?.labels ?? {}));
  return found.length ? found : undefined;
}

interface Failure {
  message: string;
  reason: string;
  index: number;
}

/** Evaluate one policy against one parameter; the failed validations. */
function evaluate(policy: any, request: any, req: AdmissionRequest, param: any): Failure[] {
  const ns = req.resource.namespaced ? req.store.get("namespaces", "", req.namespace)?.obj : undefined;
  const vars: Record<string, unknown> = {
    object: cel(request.object ?? null),
    oldObject: cel(request.oldObject ?? null),
    request: cel(request),
    params: cel(param ?? null),
    namespaceObject: cel(ns ?? null),
  };
  const variables: Record<string, unknown> = {};
  vars.variables = variables;
  const failed: Failure[] = [];
  const spec = policy.spec ?? {};
  const attempt = (what: string, expression: string) => {
    try {
      return run(expression, vars);
    } catch (e) {
      throw new PolicyFailure(`${what} '${expression}' resulted in error: ${(e as Error).message.split("\n")[0]}`);
    }
  };
  for (const v of spec.variables ?? []) variables[v.name] = attempt("variable", v.expression);
  for (const c of spec.matchConditions ?? []) if (attempt("matchCondition", c.expression) !== true) return [];
  (spec.validations ?? []).forEach((v: any, index: number) => {
    const ok = attempt("expression", v.expression);
    if (ok === true) return;
    if (ok !== false) throw new PolicyFailure(`expression '${v.expression}' resulted in a ${typeof ok}, not a bool`);
    let message = v.message || `failed expression: ${v.expression}`;
    if (v.messageExpression) {
      // A messageExpression that fails or yields no string falls back to message (upstream).
      try {
        const m = run(v.messageExpression, vars);
        if (typeof m === "string" && m.trim() && !m.includes("\n")) message = m;
      } catch {
        /* keep message */
      }
    }
    failed.push({ message, reason: v.reason ?? "Invalid", index });
  });
  for (const a of spec.auditAnnotations ?? []) {
    const value = fromCel(attempt("valueExpression", a.valueExpression));
    if (value !== null && value !== undefined) req.annotate?.(`${policy.metadata.name}/${a.key}`, String(value));
  }
  return failed;
}

export const validatingAdmissionPolicy: AdmissionPlugin = {
  name: "ValidatingAdmissionPolicy",
  // Policies and bindings themselves are exempt, so a broken policy can always be removed.
  handles: (req) => req.resource.group !== "admissionregistration.k8s.io" && req.operation !== "CONNECT",

  validate(req) {
    const bindings = req.store.list(BINDINGS, undefined).items;
    if (!bindings.length) return;
    let request: any;
    const audits: any[] = [];
    for (const b of bindings) {
      const policy = req.store.get(POLICIES, "", b.spec?.policyName ?? "")?.obj;
      if (!policy) continue;
      if (!matches(policy.spec?.matchConstraints, req) || (b.spec?.matchResources && !matches(b.spec.matchResources, req))) continue;
      request ??= reviewRequest(req, req.resource, "");
      const actions: string[] = b.spec?.validationActions ?? [];
      const label = `ValidatingAdmissionPolicy '${policy.metadata.name}' with binding '${b.metadata.name}'`;
      let failures: Failure[] = [];
      try {
        const params = paramsOf(policy, b, req);
        if (!params) {
          if (b.spec.paramRef?.parameterNotFoundAction === "Deny") failures = [{ message: "no params found for policy binding with `Deny` parameterNotFoundAction", reason: "Invalid", index: -1 }];
        } else for (const p of params) failures.push(...evaluate(policy, request, req, p));
      } catch (e) {
        if (!(e instanceof PolicyFailure)) throw e;
        if (policy.spec?.failurePolicy === "Ignore") continue;
        failures = [{ message: e.message, reason: "Invalid", index: -1 }];
      }
      for (const f of failures) {
        if (actions.includes("Audit")) audits.push({ message: f.message, policy: policy.metadata.name, binding: b.metadata.name, expressionIndex: f.index, validationActions: actions });
        if (actions.includes("Warn")) req.warn(`Validation failed for ${label}: ${f.message}`);
      }
      if (audits.length) req.annotate?.("validation.policy.admission.k8s.io/validation_failure", JSON.stringify(audits));
      const deny = actions.includes("Deny") ? failures[0] : undefined;
      if (deny) throw new ApiError(CODES[deny.reason] ?? 422, deny.reason, `${label} denied request: ${deny.message}`);
    }
  },
};
