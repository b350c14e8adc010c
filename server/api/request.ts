// Resolve a REST path to (resource, namespace, name, subresource) and build list filters.
import { findByPlural, type RegisteredResource } from "../../schemas/registry";
import { resKeyOf } from "../store/commands";
import { labelSelectorString, matchLabels, parseFieldSelector, parseLabelSelector } from "./selectors";
import { badRequest, pathNotFound } from "../errors";

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

export function fieldGetter(r: RegisteredResource, field: string): ((o: any) => string | undefined) | undefined {
  if (field === "metadata.name") return (o) => o?.metadata?.name;
  if (field === "metadata.namespace") return (o) => o?.metadata?.namespace ?? "";
  return r.fieldSelectors?.[field];
}

/** A predicate for ?labelSelector= and ?fieldSelector=. */
export function buildMatcher(r: RegisteredResource, labelSelector?: string, fieldSelector?: string): ((o: any) => boolean) | undefined {
  const checks: ((o: any) => boolean)[] = [];
  if (labelSelector) {
    const reqs = parseLabelSelector(labelSelector);
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

/** The label selector of a scalable resource, in string form (Scale.status.selector). */
export function scaleSelector(o: any): string {
  return labelSelectorString(o?.spec?.selector);
}

export function queryInt(v: string | undefined, name: string): number | undefined {
  if (v === undefined || v === "") return undefined;
  if (!/^-?\d+$/.test(v)) throw badRequest(`invalid value for ${name}: "${v}" is not an integer`);
  return Number(v);
}
