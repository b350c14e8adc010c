// Small validation helpers shared by every kind, mirroring k8s.io/apimachinery/pkg/util/validation
// and pkg/api/validation: the same rules and the same messages, so that a user sees exactly
// what a real API server would say.
import type { FieldError } from "./registry";

// ---------------------------------------------------------------------------------------------
// Field errors, formatted like field.Error.ErrorBody() in apimachinery.

/** How Kubernetes prints a bad value: strings quoted (%q), numbers and booleans bare. */
export function formatValue(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (v === null || v === undefined) return "null";
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint") return String(v);
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}

const withDetail = (s: string, detail?: string) => (detail ? `${s}: ${detail}` : s);

export function required(field: string, detail?: string): FieldError {
  return { field, type: "FieldValueRequired", message: withDetail("Required value", detail) };
}
export function invalid(field: string, value: unknown, detail?: string): FieldError {
  return { field, type: "FieldValueInvalid", message: withDetail(`Invalid value: ${formatValue(value)}`, detail) };
}
export function notSupported(field: string, value: unknown, valid: readonly string[]): FieldError {
  const detail = valid.length ? `supported values: ${valid.map((v) => JSON.stringify(v)).join(", ")}` : undefined;
  return { field, type: "FieldValueNotSupported", message: withDetail(`Unsupported value: ${formatValue(value)}`, detail) };
}
export function duplicate(field: string, value: unknown): FieldError {
  return { field, type: "FieldValueDuplicate", message: `Duplicate value: ${formatValue(value)}` };
}
export function forbidden(field: string, detail?: string): FieldError {
  return { field, type: "FieldValueForbidden", message: withDetail("Forbidden", detail) };
}
export function tooLong(field: string, _value: unknown, max: number): FieldError {
  return { field, type: "FieldValueTooLong", message: `Too long: may not be more than ${max} bytes` };
}

/** `requireField(errs, "spec.containers[0].image", c.image)`: pushes Required value when empty. */
export function requireField(errs: FieldError[], field: string, value: unknown, detail?: string): boolean {
  const missing =
    value === undefined || value === null || value === "" || (Array.isArray(value) && value.length === 0);
  if (missing) errs.push(required(field, detail));
  return !missing;
}

/** True if the value is absent or the empty string (Go's zero value for strings). */
export const isEmpty = (v: unknown) => v === undefined || v === null || v === "";

// ---------------------------------------------------------------------------------------------
// DNS names (RFC 1123), C identifiers, qualified names, label values.

const dns1123LabelFmt = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const dns1123SubdomainFmt = `${dns1123LabelFmt}(\\.${dns1123LabelFmt})*`;
const dns1035LabelFmt = "[a-z]([-a-z0-9]*[a-z0-9])?";
const dns1123LabelRe = new RegExp(`^${dns1123LabelFmt}$`);
const dns1123SubdomainRe = new RegExp(`^${dns1123SubdomainFmt}$`);
const dns1035LabelRe = new RegExp(`^${dns1035LabelFmt}$`);
export const DNS1123LabelMaxLength = 63;
export const DNS1123SubdomainMaxLength = 253;

export function isDns1123Label(v: string): boolean {
  return v.length <= DNS1123LabelMaxLength && dns1123LabelRe.test(v);
}
export function isDns1123Subdomain(v: string): boolean {
  return v.length <= DNS1123SubdomainMaxLength && dns1123SubdomainRe.test(v);
}
export function isDns1035Label(v: string): boolean {
  return v.length <= DNS1123LabelMaxLength && dns1035LabelRe.test(v);
}

const regexDetail = (msg: string, examples: string[], fmt: string) =>
  `${msg} (e.g. ${examples.map((e) => `'${e}'`).join(",  or ")}, regex used for validation is '${fmt}')`;

const dns1123LabelErr =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
const dns1123SubdomainErr =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const dns1035LabelErr =
  "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character";

/** Problems with a DNS-1123 label, as IsDNS1123Label returns them (empty = valid). */
export function dns1123LabelErrors(v: string): string[] {
  const out: string[] = [];
  if (v.length > DNS1123LabelMaxLength) out.push(`must be no more than ${DNS1123LabelMaxLength} characters`);
  if (!dns1123LabelRe.test(v)) out.push(regexDetail(dns1123LabelErr, ["my-name", "123-abc"], dns1123LabelFmt));
  return out;
}
export function dns1123SubdomainErrors(v: string): string[] {
  const out: string[] = [];
  if (v.length > DNS1123SubdomainMaxLength) out.push(`must be no more than ${DNS1123SubdomainMaxLength} characters`);
  if (!dns1123SubdomainRe.test(v)) out.push(regexDetail(dns1123SubdomainErr, ["example.com"], dns1123SubdomainFmt));
  return out;
}
export function dns1035LabelErrors(v: string): string[] {
  const out: string[] = [];
  if (v.length > DNS1123LabelMaxLength) out.push(`must be no more than ${DNS1123LabelMaxLength} characters`);
  if (!dns1035LabelRe.test(v)) out.push(regexDetail(dns1035LabelErr, ["my-name", "abc-123"], dns1035LabelFmt));
  return out;
}

/** The message Kubernetes gives for a value that is not a DNS-1123 subdomain ("" if it is one). */
export function dns1123SubdomainMessage(value: string): string {
  return dns1123SubdomainErrors(value).join(", ");
}
/** The message Kubernetes gives for a value that is not a DNS-1123 label ("" if it is one). */
export function dns1123LabelMessage(value: string): string {
  return dns1123LabelErrors(value).join(", ");
}

const qualifiedNameCharFmt = "[A-Za-z0-9]";
const qualifiedNameExtCharFmt = "[-A-Za-z0-9_.]";
const qualifiedNameFmt = `(${qualifiedNameCharFmt}${qualifiedNameExtCharFmt}*)?${qualifiedNameCharFmt}`;
const qualifiedNameRe = new RegExp(`^${qualifiedNameFmt}$`);
const qualifiedNameErr =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const qualifiedNameMaxLength = 63;

/** IsQualifiedName: "[prefix/]name", used for label and annotation keys. */
export function qualifiedNameErrors(value: string): string[] {
  const errs: string[] = [];
  const parts = value.split("/");
  let name: string;
  if (parts.length === 1) name = parts[0]!;
  else if (parts.length === 2) {
    const prefix = parts[0]!;
    name = parts[1]!;
    if (prefix.length === 0) errs.push("prefix part must be non-empty");
    else for (const m of dns1123SubdomainErrors(prefix)) errs.push(`prefix part ${m}`);
  } else {
    return [
      regexDetail(`a qualified name ${qualifiedNameErr}`, ["MyName", "my.name", "123-abc"], qualifiedNameFmt) +
        " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
    ];
  }
  if (name.length === 0) errs.push("name part must be non-empty");
  else if (name.length > qualifiedNameMaxLength) errs.push(`name part must be no more than ${qualifiedNameMaxLength} characters`);
  if (!qualifiedNameRe.test(name))
    errs.push(regexDetail(`name part ${qualifiedNameErr}`, ["MyName", "my.name", "123-abc"], qualifiedNameFmt));
  return errs;
}

const labelValueFmt = `(${qualifiedNameFmt})?`;
const labelValueRe = new RegExp(`^${labelValueFmt}$`);
export function labelValueErrors(value: string): string[] {
  const errs: string[] = [];
  if (value.length > 63) errs.push("must be no more than 63 characters");
  if (!labelValueRe.test(value))
    errs.push(
      regexDetail(
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
        ["MyValue", "my_value", "12345"],
        labelValueFmt,
      ),
    );
  return errs;
}

const cIdentifierFmt = "[A-Za-z_][A-Za-z0-9_]*";
const cIdentifierRe = new RegExp(`^${cIdentifierFmt}$`);
export function isCIdentifier(v: string): boolean {
  return cIdentifierRe.test(v);
}
export function cIdentifierMessage(_v: string): string {
  return regexDetail(
    "a valid C identifier must start with alphabetic character or '_', followed by a string of alphanumeric characters or '_'",
    ["my_name", "MY_NAME", "MyName"],
    cIdentifierFmt,
  );
}

const envVarNameFmt = "[-._a-zA-Z][-._a-zA-Z0-9]*";
const envVarNameRe = new RegExp(`^${envVarNameFmt}$`);
/** IsEnvVarName (relaxed since 1.30: any printable ASCII except '='); we keep the classic rule's message. */
export function envVarNameErrors(v: string): string[] {
  const errs: string[] = [];
  // Kubernetes >= 1.30 (RelaxedEnvironmentVariableValidation GA in 1.32): printable ASCII but '='.
  if (!/^[\x20-\x3c\x3e-\x7e]+$/.test(v))
    errs.push("a valid environment variable name must consist only of printable ASCII characters other than '='");
  return errs;
}
export const classicEnvVarName = (v: string) => envVarNameRe.test(v);

const configMapKeyFmt = "[-._a-zA-Z0-9]+";
const configMapKeyRe = new RegExp(`^${configMapKeyFmt}$`);
/** IsConfigMapKey: also used for Secret keys. */
export function configMapKeyErrors(v: string): string[] {
  const errs: string[] = [];
  if (v.length > DNS1123SubdomainMaxLength) errs.push(`must be no more than ${DNS1123SubdomainMaxLength} characters`);
  if (!configMapKeyRe.test(v))
    errs.push(regexDetail("a valid config key must consist of alphanumeric characters, '-', '_' or '.'", ["key.name", "KEY_NAME", "key-name"], configMapKeyFmt));
  if (v === ".") errs.push("must not be '.'");
  else if (v === "..") errs.push("must not be '..'");
  else if (v.startsWith("..")) errs.push("must not start with '..'");
  return errs;
}

/** IsValidPortName: IANA_SVC_NAME. */
export function portNameErrors(port: string): string[] {
  const errs: string[] = [];
  if (port.length < 1 || port.length > 15) errs.push("must be no more than 15 characters");
  if (!/^[-a-z0-9]+$/.test(port)) errs.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
  if (!/[a-z]/.test(port)) errs.push("must contain at least one letter (a-z)");
  if (port.includes("--")) errs.push("must not contain consecutive hyphens");
  if (port.length > 0 && (port.startsWith("-") || port.endsWith("-"))) errs.push("must not begin or end with a hyphen");
  return errs;
}

export const isValidPortNum = (n: unknown) => typeof n === "number" && Number.isInteger(n) && n >= 1 && n <= 65535;
export const portRangeMessage = "must be between 1 and 65535, inclusive";

export function isValidIP(v: string): boolean {
  return isIPv4(v) || isIPv6(v);
}
export function isIPv4(v: string): boolean {
  const p = v.split(".");
  return p.length === 4 && p.every((x) => /^(0|[1-9][0-9]{0,2})$/.test(x) && Number(x) <= 255);
}
export function isIPv6(v: string): boolean {
  if (!v.includes(":") || !/^[0-9a-fA-F:.]+$/.test(v)) return false;
  let s = v;
  const lastColon = s.lastIndexOf(":");
  const tail = s.slice(lastColon + 1);
  let groupsAvail = 8;
  if (tail.includes(".")) {
    if (!isIPv4(tail)) return false;
    s = s.slice(0, lastColon + 1) + "0:0";
  }
  const dbl = s.split("::");
  if (dbl.length > 2) return false;
  const parse = (x: string) => (x === "" ? [] : x.split(":"));
  const head = parse(dbl[0]!);
  const rest = dbl.length === 2 ? parse(dbl[1]!) : [];
  const groups = [...head, ...rest];
  if (!groups.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return false;
  return dbl.length === 2 ? groups.length < groupsAvail : groups.length === groupsAvail;
}

// ---------------------------------------------------------------------------------------------
// ObjectMeta.

export const totalAnnotationSizeLimitB = 256 * 1024;

/** ValidateLabels: keys are qualified names, values label values. `path` is e.g. "metadata.labels". */
export function validateLabels(labels: Record<string, unknown> | undefined, path: string): FieldError[] {
  const errs: FieldError[] = [];
  if (!labels || typeof labels !== "object") return errs;
  for (const [k, v] of Object.entries(labels)) {
    for (const m of qualifiedNameErrors(k)) errs.push(invalid(path, k, m));
    const val = typeof v === "string" ? v : String(v ?? "");
    for (const m of labelValueErrors(val)) errs.push(invalid(`${path}[${k}]`, val, m));
  }
  return errs;
}

/** ValidateAnnotations: keys are qualified names (checked lowercased), total size 256 KiB. */
export function validateAnnotations(annotations: Record<string, unknown> | undefined, path: string): FieldError[] {
  const errs: FieldError[] = [];
  if (!annotations || typeof annotations !== "object") return errs;
  let total = 0;
  for (const [k, v] of Object.entries(annotations)) {
    for (const m of qualifiedNameErrors(k.toLowerCase())) errs.push(invalid(path, k, m));
    total += Buffer.byteLength(k) + Buffer.byteLength(typeof v === "string" ? v : String(v ?? ""));
  }
  if (total > totalAnnotationSizeLimitB) errs.push(tooLong(path, "", totalAnnotationSizeLimitB));
  return errs;
}

/** Name check for a name or a generateName prefix (trailing '-' of a prefix is allowed). */
function nameErrors(name: string, nameKind: NameKind, prefix: boolean): string[] {
  if (prefix && name.endsWith("-")) name = name.slice(0, -1) + "a";
  if (nameKind === "label") return dns1123LabelErrors(name);
  if (nameKind === "dns1035") return dns1035LabelErrors(name);
  return dns1123SubdomainErrors(name);
}

/** How a kind's metadata.name is checked: DNS-1123 subdomain (most), DNS-1123 label
 * (namespaces), DNS-1035 label (services) or only path-segment safety (RBAC roles, ...). */
export type NameKind = "subdomain" | "label" | "dns1035" | "path";

/**
 * Path-segment names can't be "." or ".." or contain "/" or "%" (IsValidPathSegmentName).
 * Control characters are refused too (stricter than upstream): they cannot travel in a URL
 * path or a kubectl table intact.
 */
function pathSegmentErrors(name: string): string[] {
  if (name === "." || name === "..") return [`may not be '${name}'`];
  const errs: string[] = [];
  for (const c of ["/", "%"]) if (name.includes(c)) errs.push(`may not contain '${c}'`);
  if (/[\u0000-\u001f\u007f]/.test(name)) errs.push("may not contain control characters");
  return errs;
}

/**
 * ValidateObjectMeta: name (or generateName) present and well formed, namespace present iff the
 * kind is namespaced (the API layer fills it from the URL first), labels, annotations, finalizers.
 */
export function validateObjectMeta(
  meta: any,
  namespaced: boolean,
  nameKind: NameKind = "subdomain",
): FieldError[] {
  const errs: FieldError[] = [];
  const m = meta && typeof meta === "object" ? meta : {};
  const check = (path: string, v: string, prefix: boolean) => {
    const msgs = nameKind === "path" ? pathSegmentErrors(v) : nameErrors(v, nameKind, prefix);
    for (const msg of msgs) errs.push(invalid(path, v, msg));
  };
  if (!isEmpty(m.generateName)) check("metadata.generateName", String(m.generateName), true);
  if (isEmpty(m.name)) {
    if (isEmpty(m.generateName)) errs.push(required("metadata.name", "name or generateName is required"));
  } else check("metadata.name", String(m.name), false);
  if (namespaced) {
    if (isEmpty(m.namespace)) errs.push(required("metadata.namespace"));
    else for (const msg of dns1123LabelErrors(String(m.namespace))) errs.push(invalid("metadata.namespace", m.namespace, msg));
  } else if (!isEmpty(m.namespace)) {
    errs.push(forbidden("metadata.namespace", "not allowed on this type"));
  }
  if (typeof m.generation === "number" && m.generation < 0)
    errs.push(invalid("metadata.generation", m.generation, "must be greater than or equal to 0"));
  errs.push(...validateLabels(m.labels, "metadata.labels"));
  errs.push(...validateAnnotations(m.annotations, "metadata.annotations"));
  if (Array.isArray(m.finalizers)) {
    m.finalizers.forEach((f: unknown, i: number) => {
      const s = String(f ?? "");
      const p = `metadata.finalizers[${i}]`;
      for (const msg of qualifiedNameErrors(s)) errs.push(invalid(p, s, msg));
      // Finalizers without a '/' must be one of the standard ones.
      if (!s.includes("/") && !["kubernetes", "orphan", "foregroundDeletion"].includes(s) && qualifiedNameErrors(s).length === 0)
        errs.push(invalid(p, s, "name is neither a standard finalizer name nor is it fully qualified"));
    });
  }
  if (Array.isArray(m.ownerReferences)) {
    let controllers = 0;
    m.ownerReferences.forEach((r: any, i: number) => {
      const p = `metadata.ownerReferences[${i}]`;
      if (isEmpty(r?.apiVersion)) errs.push(invalid(`${p}.apiVersion`, r?.apiVersion ?? "", "version must not be empty"));
      if (isEmpty(r?.kind)) errs.push(invalid(`${p}.kind`, r?.kind ?? "", "kind must not be empty"));
      if (isEmpty(r?.name)) errs.push(invalid(`${p}.name`, r?.name ?? "", "name must not be empty"));
      if (isEmpty(r?.uid)) errs.push(invalid(`${p}.uid`, r?.uid ?? "", "uid must not be empty"));
      if (r?.controller === true) controllers++;
    });
    if (controllers > 1)
      errs.push(invalid("metadata.ownerReferences", m.ownerReferences, "Only one reference can have Controller set to true"));
  }
  return errs;
}

/** ValidateObjectMetaUpdate: the identity fields may not change. */
export function validateObjectMetaUpdate(meta: any, old: any): FieldError[] {
  const errs: FieldError[] = [];
  const m = meta ?? {};
  const o = old ?? {};
  const immut = (k: string) => {
    if (!isEmpty(o[k]) && (m[k] ?? "") !== o[k])
      errs.push(invalid(`metadata.${k}`, m[k] ?? "", "field is immutable"));
  };
  immut("name");
  immut("namespace");
  immut("uid");
  if (!isEmpty(o.creationTimestamp) && m.creationTimestamp !== undefined && m.creationTimestamp !== o.creationTimestamp)
    errs.push(invalid("metadata.creationTimestamp", m.creationTimestamp, "field is immutable"));
  return errs;
}

/** Byte length of a string as UTF-8 (Kubernetes size limits count bytes). */
export const byteLen = (s: string) => Buffer.byteLength(s);

// ---------------------------------------------------------------------------------------------
// Quantities ("100m", "1Gi", "1e3"), for comparisons in validation.

const binarySuffix: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const decimalSuffix: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, "": 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };
const quantityRe = /^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?[0-9]+|n|u|m|k|M|G|T|P|E)?$/;

/** The numeric value of a resource.Quantity, or NaN when it does not parse. */
export function parseQuantity(q: unknown): number {
  if (typeof q === "number") return Number.isFinite(q) ? q : NaN;
  if (typeof q !== "string") return NaN;
  const m = quantityRe.exec(q.trim() === q ? q : "");
  if (!m) return NaN;
  const num = Number(m[1]);
  const suf = m[2] ?? "";
  if (suf in binarySuffix) return num * binarySuffix[suf]!;
  if (suf in decimalSuffix) return num * decimalSuffix[suf]!;
  if (/^[eE]/.test(suf)) return num * 10 ** Number(suf.slice(1));
  return NaN;
}

export const quantityFormatMessage = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

/** FieldValueNotFound is a Kubernetes cause type the registry's FieldError union does not list yet. */
export function notFound(field: string, value: unknown): FieldError {
  return { field, type: "FieldValueNotFound" as FieldError["type"], message: `Not found: ${formatValue(value)}` };
}
