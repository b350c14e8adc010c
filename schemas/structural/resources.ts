// A CustomResourceDefinition as registered kinds: one RegisteredResource per served version,
// with its DSL type (for server-side apply and OpenAPI), decoding (pruning), defaulting,
// validation (schema and CEL rules), printer columns and subresources.
import { F, anyJson, double, int64, list, map, obj, str, bool, intOrString, type Field, type ObjTy, type Ty } from "../dsl";
import { checkObject } from "../derive/check";
import { col, customResourceDefaultColumns, nameCol, since } from "../columns/format";
import type { Column, FieldError, RegisteredResource } from "../registry";
import { ObjectMeta } from "../types/meta";
import { evaluateRules } from "./cel";
import { evalJsonPath, parseJsonPath } from "./jsonpath";
import { applyDefaults, prune, validateValue, type Schema } from "./schema";

const API_VERSION_DESC =
  "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources";
const KIND_DESC =
  "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";
const METADATA_DESC = "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

/** apiVersion, kind and metadata: what every custom resource has whatever its schema says. */
const Envelope = obj("io.k8s.apiextensions.CustomResource", () => ({ apiVersion: F(str), kind: F(str), metadata: F(ObjectMeta) }), { open: true });

/** Definition name as upstream publishes it: reversed group, version, kind (com.example.v1.Widget). */
export function definitionName(group: string, version: string, kind: string): string {
  return `${group.split(".").reverse().join(".")}.${version}.${kind}`;
}

/** The schema as a DSL type: lists are atomic unless x-kubernetes-list-type says otherwise. */
function toTy(s: Schema | undefined, name: string): Ty {
  if (!s) return anyJson;
  if (s["x-kubernetes-int-or-string"]) return intOrString;
  switch (s.type) {
    case "string":
      return str;
    case "integer":
      return int64;
    case "number":
      return double;
    case "boolean":
      return bool;
    case "array": {
      const lt = (s["x-kubernetes-list-type"] ?? "atomic") as "atomic" | "set" | "map";
      return list(toTy(s.items, name), { listType: lt, listMapKeys: lt === "map" ? s["x-kubernetes-list-map-keys"] : undefined });
    }
    case "object":
      if (s.properties) {
        const props = s.properties;
        return obj(name, () => Object.fromEntries(Object.entries(props).map(([k, p]) => [k, F(toTy(p, `${name}.${k}`), undefined, { desc: p.description })])), {
          open: !!s["x-kubernetes-preserve-unknown-fields"],
        });
      }
      if (typeof s.additionalProperties === "object") return map(toTy(s.additionalProperties, name));
      return anyJson;
  }
  return anyJson;
}

/** The schema as published: v2 cannot say nullable, anyOf, oneOf or not. */
function published(s: any, v: "v2" | "v3"): any {
  if (Array.isArray(s)) return s.map((x) => published(x, v));
  if (!s || typeof s !== "object") return s;
  const out: Record<string, any> = {};
  for (const [k, x] of Object.entries(s)) {
    if (v === "v2" && ["nullable", "anyOf", "oneOf", "not", "x-kubernetes-validations"].includes(k)) continue;
    if (k === "properties" || k === "definitions" || k === "patternProperties") out[k] = Object.fromEntries(Object.entries(x as object).map(([pk, p]) => [pk, published(p, v)]));
    else if (k === "default" || k === "enum" || k === "example") out[k] = x;
    else out[k] = published(x, v);
  }
  return out;
}

function rootType(group: string, version: string, kind: string, schema: Schema): ObjTy {
  const name = definitionName(group, version, kind);
  const props = schema.properties ?? {};
  return obj(
    name,
    () => {
      const fields: Record<string, Field> = { apiVersion: F(str, undefined, { desc: API_VERSION_DESC }), kind: F(str, undefined, { desc: KIND_DESC }), metadata: F(ObjectMeta, undefined, { desc: METADATA_DESC }) };
      for (const [k, p] of Object.entries(props)) if (!(k in fields)) fields[k] = F(toTy(p, `${name}.${k}`), undefined, { desc: p.description });
      return fields;
    },
    {
      desc: schema.description,
      open: !!schema["x-kubernetes-preserve-unknown-fields"],
      openapi: (v, sub) => {
        const s = published(schema, v);
        const properties: Record<string, any> = {
          apiVersion: { description: API_VERSION_DESC, type: "string" },
          kind: { description: KIND_DESC, type: "string" },
          metadata: v === "v3" ? { allOf: [sub(ObjectMeta)], description: METADATA_DESC } : { ...sub(ObjectMeta), description: METADATA_DESC },
        };
        for (const [k, p] of Object.entries((s.properties ?? {}) as Record<string, any>)) if (!(k in properties)) properties[k] = p;
        return { ...s, type: "object", properties };
      },
    },
  );
}

function cellOf(path: string, type: string): Column["cell"] {
  let steps: ReturnType<typeof parseJsonPath> | undefined;
  try {
    steps = parseJsonPath(path);
  } catch {
    return () => "<error>";
  }
  return (o, now) => {
    const vals = evalJsonPath(steps!, o);
    if (!vals.length || vals[0] === undefined || vals[0] === null) return null;
    if (type === "date") return since(vals[0], now);
    if (vals.length === 1) {
      const x = vals[0];
      if (typeof x === "string" || typeof x === "number" || typeof x === "boolean") return x;
      return JSON.stringify(x);
    }
    return vals.map((x) => (typeof x === "object" ? JSON.stringify(x) : String(x))).join(",");
  };
}

function columnsOf(version: any): Column[] {
  const cols: any[] = version.additionalPrinterColumns ?? [];
  if (!cols.length) return customResourceDefaultColumns;
  return [
    nameCol(),
    ...cols.map((c) => col(c.name, c.type, c.description ?? "", cellOf(c.jsonPath, c.type), c.priority ? 1 : 0, c.format)),
  ];
}

/** Whether any `default` appears in the schema (reads then default stored objects too). */
function hasDefault(s: any): boolean {
  if (!s || typeof s !== "object") return false;
  if (s.default !== undefined) return true;
  return Object.values(s.properties ?? {}).some(hasDefault) || hasDefault(s.items) || (typeof s.additionalProperties === "object" && hasDefault(s.additionalProperties));
}

/** spec.versions[].selectableFields: extra field selector keys ("spec.color"). */
function selectableFields(version: any): Record<string, (o: any) => string | undefined> | undefined {
  const fields: any[] = version.selectableFields ?? [];
  if (!fields.length) return undefined;
  const out: Record<string, (o: any) => string | undefined> = {};
  for (const f of fields) {
    const path = String(f?.jsonPath ?? "");
    let steps: ReturnType<typeof parseJsonPath>;
    try {
      steps = parseJsonPath(path);
    } catch {
      continue;
    }
    out[path.replace(/^\./, "")] = (o) => {
      const x = evalJsonPath(steps, o)[0];
      return x === undefined || x === null ? undefined : String(x);
    };
  }
  return out;
}

/** Kubernetes' version priority: GA > beta > alpha, higher numbers first, others last by name. */
export function versionPriority(a: string, b: string): number {
  const key = (v: string): [number, number, number, string] => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
    if (!m) return [3, 0, 0, v];
    const level = m[2] === undefined ? 0 : m[2] === "beta" ? 1 : 2;
    return [level, -Number(m[1]), -Number(m[3] ?? 0), v];
  };
  const x = key(a);
  const y = key(b);
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return (x[i] as number) - (y[i] as number);
  return x[3] < y[3] ? -1 : x[3] > y[3] ? 1 : 0;
}

/** The kinds a CRD serves (its served versions, in priority order). */
export function customResources(crd: any): RegisteredResource[] {
  const spec = crd.spec;
  const names = crd.status?.acceptedNames?.kind ? crd.status.acceptedNames : spec.names;
  const group: string = spec.group;
  const versions: any[] = [...(spec.versions ?? [])].filter((v) => v.served).sort((a, b) => versionPriority(a.name, b.name));
  return versions.map((v) => {
    const schema: Schema = v.schema?.openAPIV3Schema ?? { type: "object", "x-kubernetes-preserve-unknown-fields": true };
    // The value checks skip apiVersion/kind/metadata (checked as ObjectMeta by the registry).
    const { metadata: _m, apiVersion: _a, kind: _k, ...bodyProps } = schema.properties ?? {};
    const body: Schema = { ...schema, properties: bodyProps };
    const scale = v.subresources?.scale;
    const type = rootType(group, v.name, names.kind, schema);
    const r: RegisteredResource = {
      group,
      version: v.name,
      kind: names.kind,
      plural: names.plural,
      singular: names.singular || names.kind.toLowerCase(),
      namespaced: spec.scope === "Namespaced",
      shortNames: names.shortNames,
      categories: names.categories,
      type,
      subresources: {
        status: v.subresources?.status !== undefined && v.subresources?.status !== null,
        scale: scale ? { specReplicasPath: scale.specReplicasPath, statusReplicasPath: scale.statusReplicasPath, labelSelectorPath: scale.labelSelectorPath } : undefined,
      },
      apiVersion: `${group}/${v.name}`,
      listKind: names.listKind || `${names.kind}List`,
      columns: columnsOf(v),
      fieldSelectors: selectableFields(v),
      crd: crd.metadata.name,
      deprecationWarning: v.deprecated ? (v.deprecationWarning ?? `${group}/${v.name} ${names.kind} is deprecated`) : undefined,
      decode: (raw) => {
        const res = checkObject(Envelope, raw, { strict: false });
        if (res.errors.length) return res;
        res.unknownFields.push(...prune(body, res.value));
        return res;
      },
      defaults: hasDefault(body) ? (o) => applyDefaults(body, o) : undefined,
      validate: (o, old) => {
        const errs: FieldError[] = [];
        validateValue(body, o, [], errs);
        // The schema may constrain metadata.name and generateName (nothing else of metadata).
        const meta = schema.properties?.metadata?.properties ?? {};
        for (const k of ["name", "generateName"] as const) if (meta[k] && o.metadata?.[k] !== undefined) validateValue(meta[k], o.metadata[k], ["metadata", k], errs);
        evaluateRules(body, o, old, [], errs);
        return errs;
      },
    };
    if (!r.subresources!.status && !r.subresources!.scale) delete r.subresources;
    return r;
  });
}
