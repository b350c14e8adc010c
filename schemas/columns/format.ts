// Shared helpers for Table columns: Kubernetes' duration.HumanDuration, timestamp rendering,
// label / label-selector formatting and the small formatting helpers used by
// k8s.io/kubernetes/pkg/printers/internalversion/printers.go. Everything here is a pure
// function that tolerates missing / malformed input.
import type { Column } from "../registry";
import { isObj } from "../helpers/json";
import { humanDuration } from "../helpers/duration";

export type Cell = string | number | boolean | null;

// ---------------------------------------------------------------------------------------------
// Descriptions shared by many columns (metav1.ObjectMeta SwaggerDoc).

export const NAME_DESCRIPTION =
  "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";

export const CREATION_TIMESTAMP_DESCRIPTION =
  "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

export const CONTAINERS_DESCRIPTION = "Names of each container in the template.";
export const IMAGES_DESCRIPTION = "Images referenced by each container in the template.";

// ---------------------------------------------------------------------------------------------
// Column constructors.

/** A column; `cell` is wrapped so it can never throw (a failing cell yields null). */
export function col(
  name: string,
  type: Column["type"],
  description: string,
  cell: (o: any, now: number) => Cell,
  priority: 0 | 1 = 0,
  format?: string,
): Column {
  const safe = (o: any, now: number): Cell => {
    try {
      const v = cell(o ?? {}, now);
      return v === undefined ? null : v;
    } catch {
      return null;
    }
  };
  const c: Column = { name, type, description, priority, cell: safe };
  if (format !== undefined) c.format = format;
  return c;
}

/** The "Name" column (format "name"). */
export function nameCol(cell: (o: any, now: number) => Cell = (o) => str(o?.metadata?.name), priority: 0 | 1 = 0): Column {
  return col("Name", "string", NAME_DESCRIPTION, cell, priority, "name");
}

/** The "Age" column: translateTimestampSince(metadata.creationTimestamp). */
export function ageCol(): Column {
  return col("Age", "string", CREATION_TIMESTAMP_DESCRIPTION, (o, now) => since(o?.metadata?.creationTimestamp, now));
}

// ---------------------------------------------------------------------------------------------
// Primitive coercions.

/** A string field, "" when absent (Go zero value). */
export function str(v: unknown): string {
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint") return String(v);
  return "";
}

/** An integer field, 0 when absent (Go zero value). */
export function int(v: unknown): number {
  if (typeof v === "number" && Number.isFinite(v)) return Math.trunc(v);
  if (typeof v === "string" && /^-?\d+$/.test(v.trim())) return Number(v.trim());
  if (typeof v === "bigint") return Number(v);
  return 0;
}

export function arr(v: unknown): any[] {
  return Array.isArray(v) ? v : [];
}

export function obj(v: unknown): Record<string, any> {
  return isObj(v) ? v : {};
}

/** Number of keys of a map field (len(map) in Go). */
export function mapLen(v: unknown): number {
  return isObj(v) ? Object.keys(v).length : 0;
}

/** resource.Quantity.String(): quantities travel as strings in JSON; a zero Quantity prints "0". */
export function quantity(v: unknown): string {
  if (typeof v === "string" && v !== "") return v;
  if (typeof v === "number" && Number.isFinite(v)) return String(v);
  return "0";
}

/** (*resource.Quantity).String() on a possibly nil pointer: "<nil>" when absent. */
export function quantityPtr(v: unknown): string {
  if (v === undefined || v === null) return "<nil>";
  return quantity(v);
}

/** intstr.IntOrString.String(). */
export function intOrString(v: unknown): string {
  if (typeof v === "number") return String(Math.trunc(v));
  return str(v);
}

// ---------------------------------------------------------------------------------------------
// Time.

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:?\d{2})$/;

/**
 * Parses an RFC3339 / RFC3339Nano timestamp (metav1.Time / metav1.MicroTime JSON form) to ms
 * since the epoch. Returns undefined for absent, unparsable or Go-zero ("0001-01-01T00:00:00Z")
 * values, i.e. whenever Go's Time.IsZero() would be true after decoding.
 */
export function parseTime(v: unknown): number | undefined {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? undefined : v.getTime();
  if (typeof v !== "string" || v === "") return undefined;
  const m = RFC3339.exec(v);
  if (!m) return undefined;
  const [, Y, Mo, D, h, mi, s, frac, tz] = m;
  const d = new Date(0);
  d.setUTCFullYear(Number(Y), Number(Mo) - 1, Number(D));
  d.setUTCHours(Number(h), Number(mi), Number(s), 0);
  let ms = d.getTime();
  if (frac) ms += Math.floor(Number(("0." + frac).slice(0, 12)) * 1000);
  if (tz && tz !== "Z" && tz !== "z") {
    const sign = tz[0] === "-" ? -1 : 1;
    const digits = tz.slice(1).replace(":", "");
    const off = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4));
    ms -= sign * off * 60_000;
  }
  if (Number.isNaN(ms)) return undefined;
  if (Number(Y) === 1 && ms === zeroMs()) return undefined;
  return ms;
}

function zeroMs(): number {
  const d = new Date(0);
  d.setUTCFullYear(1, 0, 1);
  d.setUTCHours(0, 0, 0, 0);
  return d.getTime();
}

/** translateTimestampSince: "<unknown>" for a zero/absent timestamp, else HumanDuration(now - t). */
export function since(ts: unknown, now: number): string {
  const t = parseTime(ts);
  if (t === undefined) return "<unknown>";
  return humanDuration(now - t);
}

/** translateTimestampUntil. */
export function until(ts: unknown, now: number): string {
  const t = parseTime(ts);
  if (t === undefined) return "<unknown>";
  return humanDuration(t - now);
}

function pad(n: number, w = 2): string {
  return String(n).padStart(w, "0");
}

/** Go's t.UTC().Format(time.RFC3339) ("0001-01-01T00:00:00Z" for a zero time). */
export function rfc3339(ts: unknown): string {
  const t = parseTime(ts);
  const d = new Date(t === undefined ? zeroMs() : t);
  return (
    `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}` +
    `T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}Z`
  );
}

// ---------------------------------------------------------------------------------------------
// Labels and selectors.

function goSortStrings(xs: string[]): string[] {
  // Go sorts strings bytewise; for the ASCII label alphabet this equals code-unit order.
  return [...xs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** labels.FormatLabels: "k=v,k2=v2" sorted by key, "<none>" when empty. */
export function formatLabels(m: unknown): string {
  if (!isObj(m)) return "<none>";
  const keys = goSortStrings(Object.keys(m));
  if (keys.length === 0) return "<none>";
  return keys.map((k) => `${k}=${str(m[k])}`).join(",");
}

// ---------------------------------------------------------------------------------------------
// Misc printers.go helpers.

/** layoutContainerCells: comma-joined container names and images. */
export function layoutContainers(containers: unknown): [string, string] {
  const cs = arr(containers).map(obj);
  return [cs.map((c) => str(c.name)).join(","), cs.map((c) => str(c.image)).join(",")];
}

/** listWithMoreString. */
export function listWithMore(list: string[], more: boolean, count: number, max: number): string {
  const ret = list.join(",");
  if (more) return `${ret} + ${count - max} more...`;
  return ret === "" ? "<unset>" : ret;
}

/** printBoolPtr. */
export function boolPtr(v: unknown): string {
  if (typeof v !== "boolean") return "<unset>";
  return v ? "True" : "False";
}

/** net.JoinHostPort. */
export function joinHostPort(host: string, port: number | string): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** sets.NewString(...).List(): unique and sorted. */
export function sortedSet(xs: string[]): string[] {
  return goSortStrings([...new Set(xs)]);
}

/** The controller owner reference (metav1.GetControllerOf). */
export function controllerOf(o: any): Record<string, any> | undefined {
  for (const r of arr(o?.metadata?.ownerReferences)) {
    if (isObj(r) && r.controller === true) return r;
  }
  return undefined;
}

/** The group of an apiVersion ("apps/v1" → "apps", "v1" → ""). */
export function groupOf(apiVersion: unknown): string {
  const s = str(apiVersion);
  const i = s.indexOf("/");
  return i < 0 ? "" : s.slice(0, i);
}

/** True when metadata.deletionTimestamp is set. */
export function deleting(o: any): boolean {
  const d = o?.metadata?.deletionTimestamp;
  return d !== undefined && d !== null && d !== "";
}

// ---------------------------------------------------------------------------------------------
// Default columns.

/**
 * The columns of k8s.io/apiserver's defaultTableConvertor, used by every built-in kind without a
 * printer (Role, ClusterRole, LimitRange, CustomResourceDefinition, ...): NAME and CREATED AT,
 * the latter the creation timestamp in RFC3339 (UTC).
 */
export const defaultColumns: Column[] = [
  nameCol(),
  col("Created At", "date", CREATION_TIMESTAMP_DESCRIPTION, (o) => rfc3339(o?.metadata?.creationTimestamp)),
];

/**
 * The columns the apiextensions server uses for a custom resource whose version declares no
 * additionalPrinterColumns: NAME and AGE. AGE is a "date" column whose cell the CRD table
 * convertor renders as a HumanDuration.
 */
export const customResourceDefaultColumns: Column[] = [
  nameCol(),
  col("Age", "date", CREATION_TIMESTAMP_DESCRIPTION, (o, now) => since(o?.metadata?.creationTimestamp, now)),
];
