// Decoding-time checks of a JSON object against its DSL type, the way the Kubernetes API
// server's JSON decoder behaves:
//  - type errors ("json: cannot unmarshal string into Go struct field ...") come from a valibot
//    schema built once per ObjTy (objects loose: unknown fields are not a type error);
//  - fields the type does not declare are collected as unknown ("spec.foo",
//    "spec.containers[0].imagePullPolicyy") and dropped from the returned value (the API
//    layer rejects them when fieldValidation=Strict, warns otherwise);
//  - null is "absent": dropped;
//  - quantities are rewritten to their canonical form ("1000m" -> "1").
import { setOwn } from "../json";
import * as v from "valibot";
import type { ObjTy, PrimTy, Ty } from "../dsl";
import type { FieldError } from "../registry";
import { QuantityError, QUANTITY_REGEX_MESSAGE, canonicalQuantity } from "./quantity";

export { canonicalQuantity } from "./quantity";

export interface CheckResult {
  errors: FieldError[];
  unknownFields: string[];
  value: any;
}

// ---------------------------------------------------------------------------------------------
// Primitive checks shared by the valibot schema and the messages.

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function isRFC3339(s: string): boolean {
  const m = RFC3339.exec(s);
  if (!m) return false;
  const [mo, d, h, mi, se] = [m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number];
  return mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h <= 23 && mi <= 59 && se <= 60;
}

function quantityOk(q: string | number): boolean {
  try {
    canonicalQuantity(q);
    return true;
  } catch {
    return false;
  }
}

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

// ---------------------------------------------------------------------------------------------
// valibot schema per type (cached per ObjTy; recursion through v.lazy).

type Schema = v.GenericSchema<unknown, unknown>;
const objCache = new WeakMap<ObjTy, Schema>();

function primSchema(p: PrimTy): Schema {
  switch (p.prim) {
    case "string":
      return v.string();
    case "int32":
      return v.pipe(v.number(), v.integer(), v.minValue(INT32_MIN), v.maxValue(INT32_MAX));
    case "int64":
      return v.pipe(v.number(), v.integer());
    case "double":
      return v.number();
    case "boolean":
      return v.boolean();
    case "bytes":
      return v.pipe(v.string(), v.regex(BASE64));
    case "quantity":
      return v.pipe(v.union([v.string(), v.number()]), v.check((q) => quantityOk(q)));
    case "intOrString":
      return v.union([v.string(), v.pipe(v.number(), v.integer(), v.minValue(INT32_MIN), v.maxValue(INT32_MAX))]);
    case "time":
    case "microTime":
      return v.pipe(v.string(), v.check(isRFC3339));
    case "any":
      return v.unknown();
  }
}

function schemaOf(t: Ty): Schema {
  switch (t.kind) {
    case "prim":
      return primSchema(t);
    case "list":
      // A null list item decodes to the zero value in Go: accept it.
      return v.array(v.nullable(v.lazy(() => schemaOf(t.of))));
    case "map":
      return v.record(v.string(), v.nullable(v.lazy(() => schemaOf(t.of))));
    case "obj":
      return objSchema(t);
  }
}

export function objSchema(t: ObjTy): Schema {
  let s = objCache.get(t);
  if (!s) {
    const entries: Record<string, Schema> = {};
    // Placeholder first so that a recursive type refers to itself through lazy().
    objCache.set(t, v.lazy(() => objCache.get(t)!));
    for (const [name, f] of Object.entries(t.fields())) {
      const inner = f.t;
      entries[name] = v.nullish(v.lazy(() => schemaOf(inner)));
    }
    s = v.looseObject(entries) as unknown as Schema;
    objCache.set(t, s);
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// Go-like messages.

const shortName = (name: string) => {
  const parts = name.split(".");
  return parts.length >= 2 ? `${parts[parts.length - 2]}.${parts[parts.length - 1]}` : name;
};

function goType(t: Ty): string {
  switch (t.kind) {
    case "obj":
      return shortName(t.name);
    case "list":
      return `[]${goType(t.of)}`;
    case "map":
      return `map[string]${goType(t.of)}`;
    case "prim":
      switch (t.prim) {
        case "string":
        case "int32":
        case "int64":
          return t.prim;
        case "double":
          return "float64";
        case "boolean":
          return "bool";
        case "bytes":
          return "[]uint8";
        case "quantity":
          return "resource.Quantity";
        case "intOrString":
          return "intstr.IntOrString";
        case "time":
          return "v1.Time";
        case "microTime":
          return "v1.MicroTime";
        case "any":
          return "interface {}";
      }
  }
}

function jsonKind(x: unknown): string {
  if (x === null) return "null";
  if (Array.isArray(x)) return "array";
  if (typeof x === "object") return "object";
  if (typeof x === "number") return "number";
  if (typeof x === "boolean") return "bool";
  return typeof x;
}

type Seg = string | number;

const fmtPath = (segs: readonly Seg[]) =>
  segs.map((s, i) => (typeof s === "number" ? `[${s}]` : i === 0 ? s : `.${s}`)).join("");

/** Walk the type along a path; returns the type there and the struct that holds the last field. */
function locate(root: ObjTy, segs: readonly Seg[]): { t: Ty | undefined; struct: ObjTy } {
  let t: Ty | undefined = root;
  let struct = root;
  for (const seg of segs) {
    if (!t) break;
    if (t.kind === "obj") {
      struct = t;
      t = t.fields()[String(seg)]?.t;
    } else if (t.kind === "list" || t.kind === "map") t = t.of;
    else t = undefined;
  }
  return { t, struct };
}

function messageFor(root: ObjTy, segs: readonly Seg[], value: unknown): string {
  const { t, struct } = locate(root, segs);
  if (t && t.kind === "prim") {
    if (t.prim === "quantity" && (typeof value === "string" || typeof value === "number")) {
      try {
        canonicalQuantity(value);
      } catch (e) {
        return e instanceof QuantityError ? e.message : QUANTITY_REGEX_MESSAGE;
      }
    }
    if ((t.prim === "time" || t.prim === "microTime") && typeof value === "string") {
      return `parsing time ${JSON.stringify(value)} as "2006-01-02T15:04:05Z07:00": cannot parse ${JSON.stringify(value)} as "2006"`;
    }
    if (t.prim === "bytes" && typeof value === "string") {
      return `illegal base64 data at input byte ${firstBadBase64(value)}`;
    }
    if ((t.prim === "int32" || t.prim === "int64" || t.prim === "intOrString") && typeof value === "number") {
      const goT = t.prim === "intOrString" ? "int32" : t.prim;
      return `json: cannot unmarshal number ${value} into Go struct field ${shortName(struct.name).split(".")[1]}.${goFieldPath(root, segs)} of type ${goT}`;
    }
  }
  const target = t ? goType(t) : "unknown";
  return `json: cannot unmarshal ${jsonKind(value)} into Go struct field ${shortName(struct.name).split(".")[1]}.${goFieldPath(root, segs)} of type ${target}`;
}

/** Go's json error names the struct-field path, without list indices or map keys: "spec.containers.ports". */
function goFieldPath(root: ObjTy, segs: readonly Seg[]): string {
  const names: string[] = [];
  let t: Ty | undefined = root;
  for (const seg of segs) {
    if (!t) break;
    if (t.kind === "obj") {
      names.push(String(seg));
      t = t.fields()[String(seg)]?.t;
    } else if (t.kind === "list" || t.kind === "map") t = t.of;
    else t = undefined;
  }
  return names.join(".");
}

function firstBadBase64(s: string): number {
  for (let i = 0; i < s.length; i++) if (!/[A-Za-z0-9+/=]/.test(s[i]!)) return i;
  return Math.max(0, s.length - (s.length % 4 || 4));
}

// ---------------------------------------------------------------------------------------------
// The walk that drops unknown fields and nulls and canonicalizes quantities.

function clean(t: Ty, x: unknown, path: Seg[], unknown: string[]): unknown {
  if (x === null || x === undefined) return x;
  switch (t.kind) {
    case "prim":
      if (t.prim === "quantity" && (typeof x === "string" || typeof x === "number")) {
        try {
          return canonicalQuantity(x);
        } catch {
          return x;
        }
      }
      return x;
    case "list":
      if (!Array.isArray(x)) return x;
      return x.map((item, i) => clean(t.of, item, [...path, i], unknown));
    case "map": {
      if (typeof x !== "object" || Array.isArray(x)) return x;
      const out: Record<string, unknown> = {};
      for (const [k, val] of Object.entries(x)) {
        if (val === null) continue;
        setOwn(out, k, clean(t.of, val, [...path, k], unknown));
      }
      return out;
    }
    case "obj": {
      if (typeof x !== "object" || Array.isArray(x)) return x;
      const fields = t.fields();
      const out: Record<string, unknown> = {};
      for (const [k, val] of Object.entries(x)) {
        const f = Object.hasOwn(fields, k) ? fields[k] : undefined;
        if (!f) {
          if (t.open) setOwn(out, k, val);
          else unknown.push(fmtPath([...path, k]));
          continue;
        }
        if (val === null) continue;
        setOwn(out, k, clean(f.t, val, [...path, k], unknown));
      }
      return out;
    }
  }
}

/**
 * Check a decoded JSON object against its type. `strict` only changes nothing here but is
 * accepted for the API layer's convenience: unknown fields are always reported and removed;
 * the caller turns them into an error (Strict) or warnings (Warn) or ignores them.
 */
export function checkObject(t: ObjTy, value: unknown, _opts: { strict: boolean }): CheckResult {
  const errors: FieldError[] = [];
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    errors.push({
      field: "",
      type: "FieldValueInvalid",
      message: `json: cannot unmarshal ${jsonKind(value)} into Go value of type ${shortName(t.name)}`,
    });
    return { errors, unknownFields: [], value };
  }
  const r = v.safeParse(objSchema(t), value, { abortPipeEarly: true });
  if (!r.success) {
    const seen = new Set<string>();
    for (const issue of r.issues) {
      const segs: Seg[] = (issue.path ?? []).map((p) => p.key as Seg);
      const field = fmtPath(segs);
      if (seen.has(field)) continue; // a union reports once per branch
      seen.add(field);
      errors.push({ field, type: "FieldValueInvalid", message: messageFor(t, segs, issue.input) });
    }
  }
  const unknownFields: string[] = [];
  const cleaned = clean(t, value, [], unknownFields);
  return { errors, unknownFields, value: cleaned };
}
