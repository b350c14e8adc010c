// Validation of a CustomResourceDefinition itself (apiextensions' ValidateCustomResourceDefinition),
// with upstream's field paths: names, versions, the schema being structural, defaults that
// satisfy their schema, printer columns and subresource paths.
import type { FieldError } from "../registry";
import { dns1035LabelErrors, dns1123SubdomainErrors, forbidden, invalid, notSupported, required } from "../validation";
import { celSupport } from "./cel";
import { parseJsonPath } from "./jsonpath";
import { compilePattern, validateValue, type Schema } from "./schema";

const COLUMN_TYPES = ["integer", "number", "string", "boolean", "date"];
const TYPES = ["array", "boolean", "integer", "number", "object", "string"];
const isObj = (v: unknown): v is Record<string, any> => v !== null && typeof v === "object" && !Array.isArray(v);

export function validateCrd(o: any, old?: any): FieldError[] {
  const errs: FieldError[] = [];
  const spec = o.spec ?? {};
  const group: string = spec.group ?? "";
  const names = spec.names ?? {};
  if (!group) errs.push(required("spec.group"));
  else if (dns1123SubdomainErrors(group).length || !group.includes(".")) errs.push(invalid("spec.group", group, "should be a domain with at least one dot"));
  if (o.metadata?.name !== `${names.plural}.${group}`) errs.push(invalid("metadata.name", o.metadata?.name ?? "", 'must be spec.names.plural+"."+spec.group'));
  for (const k of ["plural", "singular"] as const) {
    const v = names[k];
    if (!v) {
      if (k === "plural") errs.push(required(`spec.names.${k}`));
      continue;
    }
    for (const m of dns1035LabelErrors(v)) errs.push(invalid(`spec.names.${k}`, v, m));
  }
  for (const k of ["kind", "listKind"] as const) {
    const v = names[k];
    if (!v) {
      if (k === "kind") errs.push(required(`spec.names.${k}`));
      continue;
    }
    if (!/^[A-Za-z][A-Za-z0-9]*$/.test(v) || dns1035LabelErrors(v.toLowerCase()).length) errs.push(invalid(`spec.names.${k}`, v, "may have mixed case, but should otherwise match: [a-z]([-a-z0-9]*[a-z0-9])?"));
  }
  if (names.kind && names.kind === names.listKind) errs.push(invalid("spec.names.listKind", names.listKind, "kind and listKind may not be the same"));
  (names.shortNames ?? []).forEach((s: string, i: number) => dns1035LabelErrors(s).forEach((m) => errs.push(invalid(`spec.names.shortNames[${i}]`, s, m))));
  if (!["Namespaced", "Cluster"].includes(spec.scope)) errs.push(spec.scope ? notSupported("spec.scope", spec.scope, ["Cluster", "Namespaced"]) : required("spec.scope"));
  const versions: any[] = Array.isArray(spec.versions) ? spec.versions : [];
  if (!versions.length) errs.push(required("spec.versions", "must have exactly one version marked as storage version"));
  const storage = versions.filter((v) => v?.storage === true);
  if (versions.length && storage.length !== 1) errs.push(invalid("spec.versions", versions.map((v) => v?.name), "must have exactly one version marked as storage version"));
  if (versions.length && !versions.some((v) => v?.served)) errs.push(invalid("spec.versions", versions.map((v) => v?.name), "must have at least one version marked as served"));
  const seen = new Set<string>();
  versions.forEach((v, i) => {
    const p = `spec.versions[${i}]`;
    if (!v?.name) errs.push(required(`${p}.name`));
    else {
      for (const m of dns1035LabelErrors(v.name)) errs.push(invalid(`${p}.name`, v.name, m));
      if (seen.has(v.name)) errs.push({ field: `${p}.name`, type: "FieldValueDuplicate", message: `Duplicate value: ${JSON.stringify(v.name)}` });
      seen.add(v.name);
    }
    const schema = v?.schema?.openAPIV3Schema;
    if (!isObj(schema)) errs.push(required(`${p}.schema.openAPIV3Schema`, "schemas are required"));
    else validateRootSchema(schema, `${p}.schema.openAPIV3Schema`, errs);
    (v?.additionalPrinterColumns ?? []).forEach((c: any, j: number) => {
      const cp = `${p}.additionalPrinterColumns[${j}]`;
      if (!c?.name) errs.push(required(`${cp}.name`));
      if (!COLUMN_TYPES.includes(c?.type)) errs.push(c?.type ? notSupported(`${cp}.type`, c.type, COLUMN_TYPES) : required(`${cp}.type`));
      if (!c?.jsonPath) errs.push(required(`${cp}.jsonPath`));
      else if (!String(c.jsonPath).startsWith(".")) errs.push(invalid(`${cp}.jsonPath`, c.jsonPath, "must be a simple json path starting with ."));
      else {
        try {
          parseJsonPath(String(c.jsonPath));
        } catch (e) {
          errs.push(invalid(`${cp}.jsonPath`, c.jsonPath, `must be a valid JSONPath: ${(e as Error).message}`));
        }
      }
    });
    const scale = v?.subresources?.scale;
    if (scale) {
      const sp = `${p}.subresources.scale`;
      if (!/^\.spec(\.[A-Za-z0-9_-]+)+$/.test(scale.specReplicasPath ?? "")) errs.push(invalid(`${sp}.specReplicasPath`, scale.specReplicasPath ?? "", "should be a json path under .spec"));
      if (!/^\.status(\.[A-Za-z0-9_-]+)+$/.test(scale.statusReplicasPath ?? "")) errs.push(invalid(`${sp}.statusReplicasPath`, scale.statusReplicasPath ?? "", "should be a json path under .status"));
      if (scale.labelSelectorPath && !/^\.(spec|status)(\.[A-Za-z0-9_-]+)+$/.test(scale.labelSelectorPath)) errs.push(invalid(`${sp}.labelSelectorPath`, scale.labelSelectorPath, "should be a json path under either .spec or .status"));
    }
    const st = v?.subresources?.status;
    if (st !== undefined && st !== null && (!isObj(st) || Object.keys(st).length)) errs.push(invalid(`${p}.subresources.status`, st, "must be an empty object"));
  });
  const strategy = spec.conversion?.strategy ?? "None";
  if (strategy === "Webhook" && versions.length > 1)
    errs.push(notSupported("spec.conversion.strategy", strategy, ["None"]));
  else if (strategy !== "None" && strategy !== "Webhook") errs.push(notSupported("spec.conversion.strategy", strategy, ["None", "Webhook"]));
  if (spec.preserveUnknownFields === true) errs.push(invalid("spec.preserveUnknownFields", true, "must be false in order to use defaults in the schema"));
  if (old && old.spec?.names?.plural !== names.plural) errs.push(invalid("spec.names.plural", names.plural, "field is immutable"));
  // Objects may still be stored at every version in status.storedVersions: none may vanish.
  const stored: string[] = o.status?.storedVersions ?? old?.status?.storedVersions ?? [];
  stored.forEach((v, i) => {
    if (versions.length && !versions.some((x) => x?.name === v)) errs.push(invalid(`status.storedVersions[${i}]`, v, "must appear in spec.versions"));
  });
  return errs;
}

/** The schema must be structural: every field typed, object at the root, metadata restricted. */
function validateRootSchema(s: Schema, path: string, errs: FieldError[]): void {
  if (s.type !== "object") errs.push(s.type ? invalid(`${path}.type`, s.type, "must be object at the root") : required(`${path}.type`, "must not be empty at the root"));
  const meta = s.properties?.metadata;
  if (meta) {
    const extra = Object.keys(meta).filter((k) => !["type", "properties", "description"].includes(k));
    if (meta.type !== "object" || extra.length) errs.push(forbidden(`${path}.properties[metadata]`, "must not specify anything other than name and generateName, but metadata is implicitly specified"));
    for (const k of Object.keys(meta.properties ?? {})) if (k !== "name" && k !== "generateName") errs.push(forbidden(`${path}.properties[metadata].properties[${k}]`, "must not specify anything other than name and generateName"));
  }
  for (const k of ["nullable", "default"] as const) if (s[k] !== undefined) errs.push(forbidden(`${path}.${k}`, "must be false at the root"));
  walk(s, path, errs, true);
}

function walk(s: Schema, path: string, errs: FieldError[], root = false): void {
  if (!isObj(s)) {
    errs.push(invalid(path, s, "must be a JSON schema object"));
    return;
  }
  const intOrString = !!s["x-kubernetes-int-or-string"];
  const preserve = !!s["x-kubernetes-preserve-unknown-fields"];
  if (!s.type && !intOrString && !preserve && !root) errs.push(required(`${path}.type`, "must not be empty for specified object fields"));
  if (s.type && !TYPES.includes(s.type)) errs.push(notSupported(`${path}.type`, s.type, TYPES));
  if (s.type === "array" && !isObj(s.items)) errs.push(required(`${path}.items`, "must be specified"));
  if (s.type === "object" && s.properties && isObj(s.additionalProperties)) errs.push(forbidden(`${path}.additionalProperties`, "additionalProperties and properties are mutual exclusive"));
  if (s.additionalProperties === false) errs.push(forbidden(`${path}.additionalProperties`, "must not be false (use no additionalProperties and no properties)"));
  if (s.uniqueItems === true) errs.push(forbidden(`${path}.uniqueItems`, "uniqueItems cannot be set to true since the runtime complexity becomes quadratic"));
  if (s.pattern !== undefined && (typeof s.pattern !== "string" || !compilePattern(s.pattern))) errs.push(invalid(`${path}.pattern`, s.pattern, "must be a valid regular expression"));
  const lt = s["x-kubernetes-list-type"];
  if (lt !== undefined) {
    if (!["atomic", "set", "map"].includes(lt)) errs.push(notSupported(`${path}.x-kubernetes-list-type`, lt, ["atomic", "set", "map"]));
    if (s.type !== "array") errs.push(invalid(`${path}.type`, s.type ?? "", "must be array if x-kubernetes-list-type is specified"));
    if (lt === "map") {
      const keys = s["x-kubernetes-list-map-keys"] ?? [];
      if (!keys.length) errs.push(required(`${path}.x-kubernetes-list-map-keys`, "must not be empty if x-kubernetes-list-type is map"));
      for (const k of keys) {
        const ks = s.items?.properties?.[k];
        if (!ks) errs.push(invalid(`${path}.x-kubernetes-list-map-keys`, keys, `entries must all be names of item properties`));
        else if (!(s.items?.required ?? []).includes(k) && ks.default === undefined)
          errs.push(required(`${path}.items.properties[${k}]`, "all map keys must be required or have a default value"));
      }
    }
  } else if (s["x-kubernetes-list-map-keys"]) errs.push(forbidden(`${path}.x-kubernetes-list-map-keys`, "must not be specified if x-kubernetes-list-type is not map"));
  if (s["x-kubernetes-validations"] !== undefined) {
    const problem = celSupport(s["x-kubernetes-validations"]);
    if (problem) errs.push({ ...problem, field: `${path}.x-kubernetes-validations${problem.field}` });
  }
  if (s.default !== undefined) {
    if (s.default === null && !s.nullable) errs.push(invalid(`${path}.default`, null, "must not be null unless nullable"));
    else if (s.default !== null) for (const e of validateValue(s, s.default, ["default"])) errs.push({ ...e, field: `${path}.${e.field}` });
  }
  for (const [k, p] of Object.entries(s.properties ?? {})) walk(p, `${path}.properties[${k}]`, errs);
  if (isObj(s.items)) walk(s.items, `${path}.items`, errs);
  if (isObj(s.additionalProperties)) walk(s.additionalProperties, `${path}.additionalProperties`, errs);
  for (const j of ["allOf", "anyOf", "oneOf"] as const) (s[j] ?? []).forEach((x, i) => isObj(x) && walkJunctor(x, `${path}.${j}[${i}]`, errs, intOrString));
  if (isObj(s.not)) walkJunctor(s.not, `${path}.not`, errs, intOrString);
}

/** Inside allOf/anyOf/oneOf/not only value validations are allowed (structural rule). */
function walkJunctor(s: Schema, path: string, errs: FieldError[], intOrString: boolean): void {
  // The one exception: x-kubernetes-int-or-string may spell its two types as anyOf.
  if (intOrString && (s.type === "integer" || s.type === "string") && Object.keys(s).length === 1) return;
  for (const k of ["type", "default", "nullable", "description", "additionalProperties", "x-kubernetes-preserve-unknown-fields", "x-kubernetes-embedded-resource", "x-kubernetes-int-or-string"] as const)
    if ((s as any)[k] !== undefined) errs.push(forbidden(`${path}.${k}`, "must be empty to be structural"));
}
