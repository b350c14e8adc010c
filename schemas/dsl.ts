// The one description of every API type. From it we derive: valibot validation,
// unknown-field detection, OpenAPI v3/v2 schemas, protobuf decoding (field numbers)
// and strategic-merge-patch metadata. Keep wire facts here and nowhere else.

export type Prim =
  | "string"
  | "int32"
  | "int64"
  | "double"
  | "boolean"
  | "bytes" // JSON: base64 string; protobuf: bytes
  | "quantity" // JSON: string|number; protobuf: message { string string = 1 }
  | "intOrString" // JSON: number|string; protobuf: { type=1, intVal=2, strVal=3 }
  | "time" // RFC3339 string; protobuf: { seconds int64 = 1, nanos int32 = 2 }
  | "microTime" // RFC3339 with microseconds; same protobuf as time
  | "any"; // arbitrary JSON; protobuf: runtime.RawExtension { raw bytes = 1 } holding JSON

export interface PrimTy {
  readonly kind: "prim";
  readonly prim: Prim;
  readonly enum?: readonly string[];
  readonly format?: string; // OpenAPI format hint only
}

/** Strategic-merge-patch and server-side-apply list semantics (x-kubernetes-* extensions). */
export interface ListOpts {
  /** patchStrategy: "merge" merges list items by mergeKey (or as a set for primitives). */
  readonly patchStrategy?: "merge" | "replace" | "merge,retainKeys";
  readonly patchMergeKey?: string;
  readonly listType?: "atomic" | "set" | "map";
  readonly listMapKeys?: readonly string[];
}

export interface ListTy extends ListOpts {
  readonly kind: "list";
  readonly of: Ty;
}

export interface MapTy {
  readonly kind: "map";
  readonly of: Ty;
}

export interface Field {
  readonly t: Ty;
  /** protobuf field number in the upstream generated.proto; absent = not decodable from protobuf */
  readonly pb?: number;
  readonly required?: boolean;
  readonly desc?: string;
  /** patchStrategy for a non-list field, e.g. "retainKeys" on volume sources */
  readonly patchStrategy?: string;
}

export interface ObjTy {
  readonly kind: "obj";
  /** Definition name, e.g. "io.k8s.api.core.v1.Container" (used for OpenAPI $ref and messages) */
  readonly name: string;
  readonly desc?: string;
  /** Lazy so that types can refer to each other in any order, and recursively. */
  readonly fields: () => Readonly<Record<string, Field>>;
  /** Object keeps fields it does not declare (e.g. JSONSchemaProps, raw extensions). */
  readonly open?: boolean;
  /**
   * The published OpenAPI schema, when the type comes from a schema rather than the DSL
   * (custom resources); `sub` gives the schema of a DSL type (ObjectMeta) and registers it.
   */
  readonly openapi?: (version: "v2" | "v3", sub: (t: Ty) => Record<string, any>) => Record<string, any>;
}

export type Ty = PrimTy | ListTy | MapTy | ObjTy;

const prim = (p: Prim): PrimTy => ({ kind: "prim", prim: p });
export const str: PrimTy = prim("string");
export const int32: PrimTy = prim("int32");
export const int64: PrimTy = prim("int64");
export const double: PrimTy = prim("double");
export const bool: PrimTy = prim("boolean");
export const bytes: PrimTy = prim("bytes");
export const quantity: PrimTy = prim("quantity");
export const intOrString: PrimTy = prim("intOrString");
export const time: PrimTy = prim("time");
export const microTime: PrimTy = prim("microTime");
export const anyJson: PrimTy = prim("any");

export const strEnum = (values: readonly string[]): PrimTy => ({ kind: "prim", prim: "string", enum: values });
export const list = (of: Ty, opts: ListOpts = {}): ListTy => ({ kind: "list", of, ...opts });
/** A list merged by key in strategic merge patch, listType=map in SSA. */
export const keyedList = (of: Ty, key: string): ListTy =>
  list(of, { patchStrategy: "merge", patchMergeKey: key, listType: "map", listMapKeys: [key] });
/** A list of primitives merged as a set. */
export const setList = (of: Ty): ListTy => list(of, { patchStrategy: "merge", listType: "set" });
export const atomicList = (of: Ty): ListTy => list(of, { listType: "atomic" });
export const map = (of: Ty): MapTy => ({ kind: "map", of });

/** Field helper: `F(str, 1)`, `F(str, 2, { required: true })`. */
export function F(t: Ty, pb?: number, extra: Omit<Field, "t" | "pb"> = {}): Field {
  return { t, pb, ...extra };
}

export function obj(
  name: string,
  fields: () => Readonly<Record<string, Field>>,
  extra: { desc?: string; open?: boolean; openapi?: ObjTy["openapi"] } = {},
): ObjTy {
  let cache: Readonly<Record<string, Field>> | undefined;
  return { kind: "obj", name, fields: () => (cache ??= fields()), ...extra };
}

/** Look up the type at a JSON path (["spec","template","spec","containers"]) */
export function typeAt(root: Ty, path: readonly string[]): Ty | undefined {
  let t: Ty | undefined = root;
  for (const seg of path) {
    if (!t) return undefined;
    if (t.kind === "obj") t = t.fields()[seg]?.t;
    else if (t.kind === "map") t = t.of;
    else if (t.kind === "list") t = t.of; // numeric index or key
    else return undefined;
  }
  return t;
}
