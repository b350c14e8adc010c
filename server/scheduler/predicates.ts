// Node-level predicates shared by the scheduler, the DaemonSet controller and the taint
// manager: node selectors and affinity terms, taints and tolerations.
import { labelSelectorToRequirements, matchLabels, type LabelRequirement } from "../../schemas/helpers/selectors";

function matchNodeSelectorRequirement(e: any, labels: Record<string, string>): boolean {
  const has = Object.prototype.hasOwnProperty.call(labels, e.key);
  const v = labels[e.key];
  const vals: string[] = e.values ?? [];
  switch (e.operator) {
    case "In":
      return has && vals.includes(v!);
    case "NotIn":
      return !has || !vals.includes(v!);
    case "Exists":
      return has;
    case "DoesNotExist":
      return !has;
    case "Gt":
    case "Lt": {
      if (!has || vals.length !== 1) return false;
      const a = Number(v), b = Number(vals[0]);
      if (!Number.isInteger(a) || !Number.isInteger(b)) return false;
      return e.operator === "Gt" ? a > b : a < b;
    }
  }
  return false;
}

/** One NodeSelectorTerm: all expressions and fields must match; an empty term matches nothing. */
export function matchNodeSelectorTerm(term: any, node: any): boolean {
  const exprs = term?.matchExpressions ?? [];
  const fields = term?.matchFields ?? [];
  if (!exprs.length && !fields.length) return false;
  const labels = node?.metadata?.labels ?? {};
  for (const e of exprs) if (!matchNodeSelectorRequirement(e, labels)) return false;
  const f = { "metadata.name": node?.metadata?.name ?? "" };
  for (const e of fields) if (e.key !== "metadata.name" || !matchNodeSelectorRequirement(e, f)) return false;
  return true;
}

/** spec.nodeSelector and required node affinity. */
export function matchesNodeSelectorAndAffinity(spec: any, node: any): boolean {
  const labels = node?.metadata?.labels ?? {};
  for (const [k, v] of Object.entries(spec?.nodeSelector ?? {})) if (labels[k] !== v) return false;
  const terms = spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  if (terms && !terms.some((t: any) => matchNodeSelectorTerm(t, node))) return false;
  return true;
}

export function tolerates(tol: any, taint: any): boolean {
  if (tol.effect && tol.effect !== taint.effect) return false;
  if (!tol.key) return tol.operator === "Exists";
  if (tol.key !== taint.key) return false;
  if (tol.operator === "Exists") return true;
  return (tol.value ?? "") === (taint.value ?? "");
}

/** The first taint with one of `effects` that no toleration tolerates. */
export function untoleratedTaint(taints: any[] | undefined, tolerations: any[] | undefined, effects: string[]): any | undefined {
  for (const t of taints ?? []) {
    if (!effects.includes(t.effect)) continue;
    if (!(tolerations ?? []).some((tol: any) => tolerates(tol, t))) return t;
  }
  return undefined;
}

export interface ParsedSelector {
  reqs: LabelRequirement[];
  /** A selector without requirements: matches everything (null selector matches nothing). */
  null: boolean;
}

export function parseSelector(sel: any): ParsedSelector {
  if (sel === undefined || sel === null) return { reqs: [], null: true };
  return { reqs: labelSelectorToRequirements(sel), null: false };
}

export function selectorMatches(s: ParsedSelector, labels: Record<string, string> | undefined): boolean {
  return !s.null && matchLabels(s.reqs, labels);
}
