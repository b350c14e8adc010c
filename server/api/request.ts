// Resolve a REST path to (resource, namespace, name, subresource), build list filters, and
// read the write options every write request carries.
import { findByPlural, type RegisteredResource } from "../../schemas/registry";
import { resKeyOf } from "../store/commands";
import { matchLabels, parseLabelSelector, SelectorError } from "../../schemas/helpers/selectors";
import type { Context } from "hono";
import type { Identity } from "../auth/authn";
import { badRequest, pathNotFound } from "../errors";
import { writeCtx, type FieldValidation, type WriteCtx } from "../registry/ctx";

export interface ResourceRequest {
  r: RegisteredResource;
  res: string; // store key
  ns?: string; // undefined = all namespaces (list/watch) or cluster-scoped
  name?: string;
  sub?: string;
  watchPath: boolean; // legacy /watch/ prefix
}

/** /api/v1/..., /apis/G/V/... → request. Returns undefined when the path is not a resource path. */
export function parseResourcePath(path: string): ResourceRequest | undefined {
  let parts: string[];
  try {
    parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  } catch {
    throw badRequest(`the request path ${JSON.stringify(path)} has an invalid percent-encoding`);
  }
  let group: string;
  let version: string;
  let rest: string[];
  if (parts[0] === "api") {
    if (parts.length < 3) return undefined;
    group = "";
    version = parts[1]!;
    rest = parts.slice(2);
  } else if (parts[0] === "apis") {
    if (parts.length < 4) return undefined;
    group = parts[1]!;
    version = parts[2]!;
    rest = parts.slice(3);
  } else return undefined;
  let watchPath = false;
  if (rest[0] === "watch") {
    watchPath = true;
    rest = rest.slice(1);
  }
  let ns: string | undefined;
  // "namespaces/NAME/<plural>/..." is a namespaced path unless <plural> is a namespace subresource.
  if (rest[0] === "namespaces" && rest.length >= 3 && !["status", "finalize"].includes(rest[2]!)) {
    ns = rest[1];
    rest = rest.slice(2);
  }
  const plural = rest[0];
  if (!plural) return undefined;
  const r = findByPlural(group, version, plural);
  if (!r) throw pathNotFound(`${group ? `${group}/` : ""}${version}, Resource=${plural}`);
  if (rest.length > 3) throw pathNotFound(path);
  if (r.namespaced === false && ns !== undefined) throw pathNotFound(path);
  return { r, res: resKeyOf(r.group, r.plural), ns, name: rest[1], sub: rest[2], watchPath };
}

function fieldGetter(r: RegisteredResource, field: string): ((o: any) => string | undefined) | undefined {
  if (field === "metadata.name") return (o) => o?.metadata?.name;
  if (field === "metadata.namespace") return (o) => o?.metadata?.namespace ?? "";
  return r.fieldSelectors?.[field];
}

/** A predicate for ?labelSelector= and ?fieldSelector=. */
export function buildMatcher(r: RegisteredResource, labelSelector?: string, fieldSelector?: string): ((o: any) => boolean) | undefined {
  const checks: ((o: any) => boolean)[] = [];
  if (labelSelector) {
    let reqs;
    try {
      reqs = parseLabelSelector(labelSelector);
    } catch (e) {
      if (e instanceof SelectorError) throw badRequest(e.message);
      throw e;
    }
    if (reqs.length) checks.push((o) => matchLabels(reqs, o?.metadata?.labels));
  }
  if (fieldSelector) {
    for (const req of parseFieldSelector(fieldSelector)) {
      const get = fieldGetter(r, req.field);
      if (!get) {
        const known = ["metadata.name", "metadata.namespace", ...Object.keys(r.fieldSelectors ?? {})].map((f) => `"${f}"`).join(", ");
        throw badRequest(`"${req.field}" is not a known field selector: only ${known}`);
      }
      checks.push(req.op === "=" ? (o) => (get(o) ?? "") === req.value : (o) => (get(o) ?? "") !== req.value);
    }
  }
  if (!checks.length) return undefined;
  return (o) => checks.every((c) => c(o));
}

export function queryInt(v: string | undefined, name: string): number | undefined {
  if (v === undefined || v === "") return undefined;
  if (!/^-?\d+$/.test(v)) throw badRequest(`invalid value for ${name}: "${v}" is not an integer`);
  return Number(v);
}

/** A boolean query parameter parsed like Go's strconv.ParseBool (clients send "True", "1", "t"). */
export function queryBool(v: string | undefined, name: string): boolean {
  if (v === undefined || v === "") return false;
  if (["1", "t", "T", "true", "TRUE", "True"].includes(v)) return true;
  if (["0", "f", "F", "false", "FALSE", "False"].includes(v)) return false;
  throw badRequest(`${name}: Invalid value: ${JSON.stringify(v.slice(0, 50))}: strconv.ParseBool: parsing ${JSON.stringify(v.slice(0, 50))}: invalid syntax`);
}

interface FieldRequirement {
  field: string;
  op: "=" | "!=";
  value: string;
}

/** Parse "metadata.name=x,spec.nodeName!=y" (with \\ escapes for , = ! like Kubernetes). */
function parseFieldSelector(s: string): FieldRequirement[] {
  const out: FieldRequirement[] = [];
  for (const part of splitUnescaped(s.trim(), ",")) {
    if (!part) continue;
    const m = /^([^=!]+?)\s*(==|=|!=)\s*(.*)$/.exec(part);
    if (!m) throw badRequest(`invalid field selector: "${part}": expected field=value, field==value or field!=value`);
    out.push({ field: m[1]!.trim(), op: m[2] === "!=" ? "!=" : "=", value: unescape(m[3]!) });
  }
  return out;
}

function splitUnescaped(s: string, sep: string): string[] {
  const out: string[] = [];
  let cur = "";
  for (let i = 0; i < s.length; i++) {
    if (s[i] === "\\" && i + 1 < s.length) {
      cur += s[i]! + s[i + 1]!;
      i++;
    } else if (s[i] === sep) {
      out.push(cur);
      cur = "";
    } else cur += s[i];
  }
  out.push(cur);
  return out;
}

function unescape(s: string): string {
  return s.replace(/\\(.)/g, "$1");
}

/** The field manager: ?fieldManager=, else the client's user-agent name (as Kubernetes does). */
function managerFrom(c: Context): string {
  const fm = c.req.query("fieldManager");
  if (fm) return fm;
  const ua = c.req.header("user-agent") ?? "unknown";
  return ua.split("/")[0]!.slice(0, 128) || "unknown";
}

function parseFieldValidation(v: string | undefined): FieldValidation {
  if (!v) return "Warn";
  if (v === "Strict" || v === "Warn" || v === "Ignore") return v;
  throw badRequest(`fieldValidation must be one of Strict, Warn, Ignore, got "${v}"`);
}

/** The write context of a request (every write handler, main resource or subresource, uses this one). */
export function writeCtxOf(c: Context): WriteCtx {
  const dry = c.req.queries("dryRun") ?? [];
  for (const d of dry) if (d !== "All") throw badRequest(`unsupported dryRun value "${d}": the only supported value is All`);
  // The authentication middleware always sets the caller on resource paths.
  const id = c.get("identity") as Identity | undefined;
  const user = { user: id?.user ?? "", groups: id?.groups ?? [] };
  const ctx = writeCtx(user, managerFrom(c), { dryRun: dry.length > 0, fieldValidation: parseFieldValidation(c.req.query("fieldValidation")) });
  const audit = c.get("audit") as WriteCtx["audit"];
  if (audit) ctx.audit = audit;
  return ctx;
}
