// Structural schemas (apiextensions.k8s.io/v1 openAPIV3Schema) applied to custom resources, as
// the apiextensions server does: pruning of fields the schema does not declare, defaulting, and
// validation with upstream's messages ("spec.replicas in body must be of type integer").
import type { FieldError } from "../registry";
import { formatValue } from "../validation";
import { getOwn, setOwn } from "../json";
import { isRFC3339 } from "../derive/check";

export interface Schema {
  type?: string;
  format?: string;
  description?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  additionalProperties?: Schema | boolean;
  required?: string[];
  enum?: unknown[];
  default?: unknown;
  nullable?: boolean;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  multipleOf?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  uniqueItems?: boolean;
  minProperties?: number;
  maxProperties?: number;
  allOf?: Schema[];
  anyOf?: Schema[];
  oneOf?: Schema[];
  not?: Schema;
  "x-kubernetes-preserve-unknown-fields"?: boolean;
  "x-kubernetes-int-or-string"?: boolean;
  "x-kubernetes-embedded-resource"?: boolean;
  "x-kubernetes-list-type"?: string;
  "x-kubernetes-list-map-keys"?: string[];
  "x-kubernetes-map-type"?: string;
  "x-kubernetes-validations"?: { rule: string; message?: string; messageExpression?: string; reason?: string; fieldPath?: string; optionalOldSelf?: boolean }[];
}

type Seg = string | number;
const isObj = (v: unknown): v is Record<string, any> => v !== null && typeof v === "object" && !Array.isArray(v);
export const fmtPath = (segs: readonly Seg[]) => segs.map((s, i) => (typeof s === "number" ? `[${s}]` : i === 0 ? s : `.${s}`)).join("");

/** ObjectMeta fields an embedded resource's metadata keeps (the rest is pruned, as upstream). */
const EMBEDDED_META = new Set(["name", "generateName", "namespace", "labels", "annotations", "ownerReferences", "finalizers", "uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "selfLink"]);

// ---------------------------------------------------------------------------------------------
// Pruning.

/**
 * Drop fields the schema does not declare (unless x-kubernetes-preserve-unknown-fields), in
 * place; returns the dropped paths. `root` skips apiVersion/kind/metadata at the top level.
 */
export function prune(s: Schema | undefined, v: unknown, path: Seg[] = [], unknown: string[] = [], root = true): string[] {
  if (!s) return unknown;
  if (Array.isArray(v)) {
    if (s.items) v.forEach((x, i) => prune(s.items, x, [...path, i], unknown, false));
    return unknown;
  }
  if (!isObj(v)) return unknown;
  const preserve = !!s["x-kubernetes-preserve-unknown-fields"];
  const embedded = !!s["x-kubernetes-embedded-resource"];
  const props = s.properties;
  const addl = typeof s.additionalProperties === "object" ? s.additionalProperties : undefined;
  for (const k of Object.keys(v)) {
    if ((root || embedded) && (k === "apiVersion" || k === "kind")) continue;
    if ((root || embedded) && k === "metadata") {
      if (embedded && isObj(v.metadata)) for (const mk of Object.keys(v.metadata)) if (!EMBEDDED_META.has(mk)) { unknown.push(fmtPath([...path, "metadata", mk])); delete v.metadata[mk]; }
      continue;
    }
    const p = props && Object.hasOwn(props, k) ? props[k] : addl;
    if (p) prune(p, v[k], [...path, k], unknown, false);
    else if (!preserve && s.additionalProperties !== true) {
      unknown.push(fmtPath([...path, k]));
      delete v[k];
    }
  }
  return unknown;
}

// ---------------------------------------------------------------------------------------------
// Defaulting.

/** Apply `default`s in place: a missing property whose schema has a default gets it. */
export function applyDefaults(s: Schema | undefined, v: unknown): void {
  if (!s) return;
  if (Array.isArray(v)) {
    if (s.items) for (const x of v) applyDefaults(s.items, x);
    return;
  }
  if (!isObj(v)) return;
  if (s.properties)
    for (const [k, p] of Object.entries(s.properties)) {
      if (p.default !== undefined && getOwn(v, k) === undefined) setOwn(v, k, structuredClone(p.default));
      if (getOwn(v, k) !== undefined) applyDefaults(p, getOwn(v, k));
    }
  if (typeof s.additionalProperties === "object") for (const k of Object.keys(v)) if (!s.properties || !Object.hasOwn(s.properties, k)) applyDefaults(s.additionalProperties, v[k]);
}

// ---------------------------------------------------------------------------------------------
// Validation.

const patterns = new Map<string, RegExp | undefined>();

/**
 * A schema pattern (Go RE2 syntax) as a JavaScript RegExp: unicode mode where it parses, else
 * the lenient legacy mode (RE2 accepts escapes like "\-" that unicode mode refuses); a leading
 * (?i) becomes the i flag. Undefined when neither parses.
 */
export function compilePattern(src: string): RegExp | undefined {
  if (patterns.has(src)) return patterns.get(src);
  let body = src;
  let flags = "";
  const m = /^\(\?([imsU]+)\)/.exec(body);
  if (m) {
    body = body.slice(m[0].length);
    if (m[1]!.includes("i")) flags += "i";
    if (m[1]!.includes("s")) flags += "s";
    if (m[1]!.includes("m")) flags += "m";
  }
  let re: RegExp | undefined;
  for (const f of [`${flags}u`, flags]) {
    try {
      re = new RegExp(body, f);
      break;
    } catch {}
  }
  if (patterns.size > 5000) patterns.clear();
  patterns.set(src, re);
  return re;
}

function jsonType(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  if (typeof v === "boolean") return "boolean";
  return typeof v;
}

const FORMATS: Record<string, (x: string) => boolean> = {
  "date-time": isRFC3339,
  datetime: isRFC3339,
  date: (x) => /^\d{4}-\d{2}-\d{2}$/.test(x) && !Number.isNaN(Date.parse(x)),
  byte: (x) => /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(x),
  uuid: (x) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(x),
  email: (x) => /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(x),
  hostname: (x) => x.length <= 253 && /^[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?)*$/.test(x),
  ipv4: (x) => /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/.test(x),
  ipv6: (x) => x.includes(":") && /^[0-9a-fA-F:.]+$/.test(x),
  cidr: (x) => /^[0-9a-fA-F:.]+\/\d{1,3}$/.test(x),
  uri: (x) => URL.canParse(x),
  duration: (x) => /^([-+]?(\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h))+$/.test(x) || x === "0",
};

/** Errors in `v` against `s`; `path` names the value ("spec.replicas"). */
export function validateValue(s: Schema | undefined, v: unknown, path: Seg[], errs: FieldError[] = []): FieldError[] {
  if (!s) return errs;
  // The path string is only needed for errors: build it on first use (most values are valid).
  let ps: string | undefined;
  const P = () => (ps ??= fmtPath(path));
  const inv = (detail: string, value: unknown = v) => errs.push({ field: P(), type: "FieldValueInvalid", message: `Invalid value: ${formatValue(value)}: ${detail}` });
  if (v === null) {
    if (!s.nullable && s.type) errs.push({ field: P(), type: "FieldValueInvalid", message: `Invalid value: "null": ${P()} in body must be of type ${s.type}: "null"` });
    return errs;
  }
  const t = jsonType(v);
  if (s["x-kubernetes-int-or-string"]) {
    if (t !== "integer" && t !== "string") inv(`${P()} in body must be of type integer or string: ${JSON.stringify(t)}`, t);
  } else if (s.type) {
    const ok = s.type === t || (s.type === "number" && t === "integer");
    if (!ok) {
      errs.push({ field: P(), type: "FieldValueInvalid", message: `Invalid value: ${JSON.stringify(t)}: ${P()} in body must be of type ${s.type}: ${JSON.stringify(t)}` });
      return errs;
    }
  }
  if (s.enum && !s.enum.some((e) => JSON.stringify(e) === JSON.stringify(v)))
    errs.push({ field: P(), type: "FieldValueNotSupported", message: `Unsupported value: ${formatValue(v)}: supported values: ${s.enum.map((e) => JSON.stringify(e)).join(", ")}` });
  if (typeof v === "string") {
    if (s.maxLength !== undefined && [...v].length > s.maxLength) errs.push({ field: P(), type: "FieldValueTooLong", message: `Too long: may not be more than ${s.maxLength} bytes` });
    if (s.minLength !== undefined && [...v].length < s.minLength) inv(`${P()} in body should be at least ${s.minLength} chars long`);
    if (s.pattern !== undefined) {
      const re = compilePattern(s.pattern);
      if (re && !re.test(v)) inv(`${P()} in body should match '${s.pattern}'`);
    }
    const f = s.format ? FORMATS[s.format] : undefined;
    if (f && !f(v)) inv(`${P()} in body must be of type ${s.format}: ${JSON.stringify(v)}`);
  }
  if (typeof v === "number") {
    if (s.minimum !== undefined && (s.exclusiveMinimum ? v <= s.minimum : v < s.minimum)) inv(`${P()} in body should be greater than ${s.exclusiveMinimum ? "" : "or equal to "}${s.minimum}`);
    if (s.maximum !== undefined && (s.exclusiveMaximum ? v >= s.maximum : v > s.maximum)) inv(`${P()} in body should be less than ${s.exclusiveMaximum ? "" : "or equal to "}${s.maximum}`);
    if (s.multipleOf !== undefined && s.multipleOf > 0 && !Number.isInteger(v / s.multipleOf)) inv(`${P()} in body should be a multiple of ${s.multipleOf}`);
    if (s.format === "int32" && (v < -2147483648 || v > 2147483647)) inv(`${P()} in body must be of type int32: ${JSON.stringify(String(v))}`);
  }
  if (Array.isArray(v)) {
    if (s.maxItems !== undefined && v.length > s.maxItems) errs.push({ field: P(), type: "FieldValueInvalid", message: `Too many: ${v.length}: must have at most ${s.maxItems} items` });
    if (s.minItems !== undefined && v.length < s.minItems) inv(`${P()} in body should have at least ${s.minItems} items`, v.length);
    v.forEach((x, i) => validateValue(s.items, x, [...path, i], errs));
    const lt = s["x-kubernetes-list-type"];
    if (lt === "set" || s.uniqueItems) {
      const seen = new Set<string>();
      v.forEach((x, i) => {
        const k = JSON.stringify(x);
        if (seen.has(k)) errs.push({ field: fmtPath([...path, i]), type: "FieldValueDuplicate", message: `Duplicate value: ${formatValue(x)}` });
        seen.add(k);
      });
    } else if (lt === "map") {
      const keys = s["x-kubernetes-list-map-keys"] ?? [];
      const seen = new Set<string>();
      v.forEach((x, i) => {
        if (!isObj(x)) return;
        const kv = Object.fromEntries(keys.map((k) => [k, x[k] ?? s.items?.properties?.[k]?.default]));
        const k = JSON.stringify(kv);
        if (seen.has(k)) errs.push({ field: fmtPath([...path, i]), type: "FieldValueDuplicate", message: `Duplicate value: ${JSON.stringify(kv)}` });
        seen.add(k);
      });
    }
  }
  if (isObj(v)) {
    for (const r of s.required ?? []) if (getOwn(v, r) === undefined) errs.push({ field: fmtPath([...path, r]), type: "FieldValueRequired", message: "Required value" });
    const n = Object.keys(v).length;
    if (s.maxProperties !== undefined && n > s.maxProperties) errs.push({ field: P(), type: "FieldValueInvalid", message: `Too many: ${n}: must have at most ${s.maxProperties} items` });
    if (s.minProperties !== undefined && n < s.minProperties) inv(`${P()} in body should have at least ${s.minProperties} properties`, n);
    if (s["x-kubernetes-embedded-resource"]) {
      if (typeof v.apiVersion !== "string" || !v.apiVersion) errs.push({ field: fmtPath([...path, "apiVersion"]), type: "FieldValueRequired", message: "Required value: must not be empty" });
      if (typeof v.kind !== "string" || !v.kind) errs.push({ field: fmtPath([...path, "kind"]), type: "FieldValueRequired", message: "Required value: must not be empty" });
    }
    for (const [k, x] of Object.entries(v)) {
      const ps = s.properties && Object.hasOwn(s.properties, k) ? s.properties[k] : typeof s.additionalProperties === "object" ? s.additionalProperties : undefined;
      if (ps) validateValue(ps, x, [...path, k], errs);
    }
  }
  // Value validations of the logical junctors: they constrain, never add fields.
  const passes = (sub: Schema) => validateValue(sub, v, path, []).length === 0;
  for (const sub of s.allOf ?? []) validateValue(sub, v, path, errs);
  if (s.anyOf && !s.anyOf.some(passes)) inv(`${P()} in body must validate at least one schema (anyOf)`, v);
  if (s.oneOf && s.oneOf.filter(passes).length !== 1) inv(`${P()} in body must validate one and only one schema (oneOf)`, v);
  if (s.not && passes(s.not)) inv(`${P()} in body must not validate the schema (not)`, v);
  return errs;
}

