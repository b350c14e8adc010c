// Which webhooks a write is sent to (k8s.io/apiserver's webhook/predicates): rules (operations,
// groups, versions, resources with subresources, scope), matchPolicy Equivalent (another served
// version of the same resource), namespaceSelector, objectSelector and matchConditions (CEL).
import type { Environment } from "@marcbachmann/cel-js";
import { labelSelectorMatches } from "../../../schemas/helpers/selectors";
import { findByPlural, registry as kinds, type RegisteredResource } from "../../../schemas/registry";
import type { AdmissionRequest } from "../types";

export interface Rule {
  operations?: string[];
  apiGroups?: string[];
  apiVersions?: string[];
  resources?: string[];
  scope?: string;
}

const has = (list: string[] | undefined, v: string) => (list ?? []).some((x) => x === "*" || x === v);

function resourceMatches(patterns: string[] | undefined, plural: string, sub: string): boolean {
  for (const p of patterns ?? []) {
    const [res, psub] = p.split("/", 2) as [string, string | undefined];
    if (psub === undefined) {
      if (sub === "" && (res === "*" || res === plural)) return true;
      continue;
    }
    if ((res === "*" || res === plural) && (psub === "*" || psub === sub)) return true;
  }
  return false;
}

export function ruleMatches(rule: Rule, op: string, r: RegisteredResource, sub: string): boolean {
  if (!has(rule.operations, op) || !has(rule.apiGroups, r.group) || !has(rule.apiVersions, r.version)) return false;
  if (!resourceMatches(rule.resources, r.plural, sub)) return false;
  const scope = rule.scope ?? "*";
  if (scope === "Cluster" && r.namespaced) return false;
  if (scope === "Namespaced" && !r.namespaced) return false;
  return true;
}

/**
 * The resource (version) the webhook sees, or undefined when its rules do not match. With
 * matchPolicy Equivalent another served version of the same group/resource may match.
 */
export function matchingResource(w: any, req: AdmissionRequest): RegisteredResource | undefined {
  const rules: Rule[] = w.rules ?? [];
  const r = req.resource;
  if (rules.some((x) => ruleMatches(x, req.operation, r, req.subresource))) return r;
  if (w.matchPolicy === "Exact") return undefined;
  for (const other of kinds) {
    if (other === r || other.group !== r.group || other.plural !== r.plural) continue;
    if (rules.some((x) => ruleMatches(x, req.operation, other, req.subresource))) return findByPlural(other.group, other.version, other.plural);
  }
  return undefined;
}

/** Webhook configurations are never sent to webhooks (a broken webhook could not be removed). */
export function exempt(req: AdmissionRequest): boolean {
  return req.resource.group === "admissionregistration.k8s.io";
}

export function namespaceMatches(w: any, req: AdmissionRequest): boolean {
  const sel = w.namespaceSelector ?? {};
  if (!Object.keys(sel).length) return true;
  const r = req.resource;
  if (!r.namespaced) {
    // Cluster-scoped objects are always sent, except a Namespace, matched on its own labels.
    if (r.group === "" && r.plural === "namespaces") return labelSelectorMatches(sel, (req.object ?? req.oldObject)?.metadata?.labels ?? {});
    return true;
  }
  const ns = req.store.get("namespaces", "", req.namespace)?.obj;
  return labelSelectorMatches(sel, ns?.metadata?.labels ?? {});
}

export function objectMatches(w: any, req: AdmissionRequest): boolean {
  const sel = w.objectSelector ?? {};
  if (!Object.keys(sel).length) return true;
  const labels = (o: any) => (o && typeof o === "object" ? (o.metadata?.labels ?? {}) : undefined);
  const a = labels(req.object);
  const b = labels(req.oldObject);
  return (a !== undefined && labelSelectorMatches(sel, a)) || (b !== undefined && labelSelectorMatches(sel, b));
}

// Loaded on the first matchCondition evaluated: an idle server does not carry the CEL engine.
let envInstance: Environment | undefined;
const env = (): Environment =>
  (envInstance ??= new (require("@marcbachmann/cel-js") as typeof import("@marcbachmann/cel-js")).Environment({ unlistedVariablesAreDyn: true, homogeneousAggregateLiterals: false }));

/** JSON to CEL values: integral numbers are CEL ints. */
function cel(v: unknown): unknown {
  if (typeof v === "number") return Number.isInteger(v) ? BigInt(v) : v;
  if (Array.isArray(v)) return v.map(cel);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, cel(x)]));
  return v;
}

/**
 * matchConditions: every expression must be true for the webhook to be called. Throws when an
 * expression cannot be evaluated (the caller applies failurePolicy).
 */
export function conditionsMatch(w: any, req: AdmissionRequest, request: any): boolean {
  const conds: { name: string; expression: string }[] = w.matchConditions ?? [];
  if (!conds.length) return true;
  const ns = req.resource.namespaced ? req.store.get("namespaces", "", req.namespace)?.obj : undefined;
  const vars = { object: cel(request.object ?? null), oldObject: cel(request.oldObject ?? null), request: cel(request), namespaceObject: cel(ns ?? null) };
  for (const c of conds) {
    let v: unknown;
    try {
      v = env().evaluate(c.expression, vars);
    } catch (e) {
      throw new Error(`matchCondition ${JSON.stringify(c.name)}: ${(e as Error).message.split("\n")[0]}`);
    }
    if (v !== true) return false;
  }
  return true;
}
