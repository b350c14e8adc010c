// x-kubernetes-validations: CEL rules on a schema node, evaluated with `self` (and `oldSelf` on
// updates, for transition rules) through @marcbachmann/cel-js. Integers reach CEL as int
// (bigint), numbers as double, as the Kubernetes CEL type mapping does.
import type { Environment } from "@marcbachmann/cel-js";
import type { FieldError } from "../registry";
import { fmtPath, type Schema } from "./schema";

type Rule = NonNullable<Schema["x-kubernetes-validations"]>[number];
type Program = (ctx: Record<string, unknown>) => unknown;

// The CEL engine is loaded on the first rule (most clusters have none): an idle server does not
// carry it (idle RSS target, issue 15).
let envInstance: Environment | undefined;
const cmp = (a: any, b: any) => (a < b ? -1 : a > b ? 1 : 0);
const env = (): Environment => (envInstance ??= newEnv());
const newEnv = (): Environment =>
  new (require("@marcbachmann/cel-js") as typeof import("@marcbachmann/cel-js")).Environment({ unlistedVariablesAreDyn: true, homogeneousAggregateLiterals: false })
  .registerFunction("list.isSorted(): bool", (l: any[]) => l.every((x, i) => i === 0 || cmp(l[i - 1], x) <= 0))
  .registerFunction("list.sum(): dyn", (l: any[]) => l.reduce((a, b) => a + b, typeof l[0] === "bigint" ? 0n : 0))
  .registerFunction("list.min(): dyn", (l: any[]) => {
    if (!l.length) throw new Error("min called on empty list");
    return l.reduce((a, b) => (cmp(b, a) < 0 ? b : a));
  })
  .registerFunction("list.max(): dyn", (l: any[]) => {
    if (!l.length) throw new Error("max called on empty list");
    return l.reduce((a, b) => (cmp(b, a) > 0 ? b : a));
  }) as Environment;
const compiled = new Map<string, Program>();

function compile(rule: string): Program {
  let p = compiled.get(rule);
  if (!p) {
    p = env().parse(rule) as unknown as Program;
    if (compiled.size > 5000) compiled.clear();
    compiled.set(rule, p);
  }
  return p;
}

/** Why these rules cannot be served (a FieldError with a relative field), or undefined. */
export function celSupport(rules: unknown): FieldError | undefined {
  if (!Array.isArray(rules)) return { field: "", type: "FieldValueInvalid", message: "Invalid value: must be a list of rules" };
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i] as Rule;
    if (!r || typeof r.rule !== "string" || !r.rule) return { field: `[${i}].rule`, type: "FieldValueRequired", message: "Required value" };
    let problem: string | undefined;
    try {
      const checked = (compile(r.rule) as any).check?.();
      if (checked && checked.valid === false) problem = `${String(checked.error?.message ?? checked.error).split("\n")[0]} (not provided by this server's CEL library)`;
    } catch (e) {
      problem = (e as Error).message.split("\n")[0];
    }
    if (problem) return { field: `[${i}].rule`, type: "FieldValueInvalid", message: `Invalid value: ${JSON.stringify(r.rule)}: compilation failed: ${problem}` };
    if (r.messageExpression !== undefined) return { field: `[${i}].messageExpression`, type: "FieldValueForbidden", message: "Forbidden: messageExpression is not supported by this server: use message" };
  }
  return undefined;
}

/** JSON to CEL values along the schema: integers as bigint. */
function toCel(s: Schema | undefined, v: unknown): unknown {
  if (v === null || v === undefined) return v;
  if (typeof v === "number") return s?.type === "integer" || (s?.["x-kubernetes-int-or-string"] && Number.isInteger(v)) ? BigInt(v) : v;
  if (Array.isArray(v)) return v.map((x) => toCel(s?.items, x));
  if (typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const ps = s?.properties?.[k] ?? (typeof s?.additionalProperties === "object" ? s.additionalProperties : undefined);
      out[k] = toCel(ps, x);
    }
    return out;
  }
  return v;
}

const typeWord = (v: unknown) => (Array.isArray(v) ? "array" : v === null ? "null" : typeof v === "number" ? (Number.isInteger(v) ? "integer" : "number") : typeof v);
const REASONS: Record<string, FieldError["type"]> = { FieldValueInvalid: "FieldValueInvalid", FieldValueForbidden: "FieldValueForbidden", FieldValueRequired: "FieldValueRequired", FieldValueDuplicate: "FieldValueDuplicate" };

/** Evaluate every rule under `s` against `v` (and `old`, the previous value, on updates). */
export function evaluateRules(s: Schema | undefined, v: unknown, old: unknown, path: (string | number)[], errs: FieldError[]): void {
  if (!s || v === undefined || v === null) return;
  for (const r of s["x-kubernetes-validations"] ?? []) {
    const transition = /\boldSelf\b/.test(r.rule);
    if (transition && old === undefined && !r.optionalOldSelf) continue;
    const field = r.fieldPath ? `${fmtPath(path)}${r.fieldPath}` : fmtPath(path);
    const type = REASONS[r.reason ?? ""] ?? "FieldValueInvalid";
    try {
      const ok = compile(r.rule)({ self: toCel(s, v), oldSelf: toCel(s, old) });
      if (ok !== true) errs.push({ field, type, message: `Invalid value: ${JSON.stringify(typeWord(v))}: ${r.message ?? `failed rule: ${r.rule}`}` });
    } catch (e) {
      errs.push({ field, type: "FieldValueInvalid", message: `Invalid value: ${JSON.stringify(typeWord(v))}: rule evaluation failed: ${(e as Error).message.split("\n")[0]}` });
    }
  }
  if (Array.isArray(v)) {
    // oldSelf of a list item is only known for map lists (by key); other items have none.
    const keys = s["x-kubernetes-list-map-keys"];
    const oldItems = Array.isArray(old) ? old : [];
    v.forEach((x, i) => {
      const prev = s["x-kubernetes-list-type"] === "map" && keys ? oldItems.find((o) => o && keys.every((k) => o[k] === (x as any)?.[k])) : undefined;
      evaluateRules(s.items, x, prev, [...path, i], errs);
    });
    return;
  }
  if (typeof v === "object") {
    const o = old && typeof old === "object" && !Array.isArray(old) ? (old as Record<string, unknown>) : undefined;
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      const ps = s.properties?.[k] ?? (typeof s.additionalProperties === "object" ? s.additionalProperties : undefined);
      if (ps) evaluateRules(ps, x, o?.[k], [...path, k], errs);
    }
  }
}
