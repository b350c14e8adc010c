// Request attributes for authorization, parsed from the URL the way Kubernetes' RequestInfo
// factory does (k8s.io/apiserver/pkg/endpoints/request/requestinfo.go). It does not consult the
// resource registry: a request for a resource that does not exist is still authorized (and then
// answered 404), exactly as a real API server orders the two.
import { ApiError } from "../errors";

export interface UserInfo {
  user: string;
  groups: string[];
}

export interface Attributes {
  verb: string;
  resourceRequest: boolean;
  /** Non-resource requests: the URL path. */
  path: string;
  apiGroup: string;
  apiVersion: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
}

export interface Decision {
  allowed: boolean;
  /** Why (allowed: which binding; denied: what was missing), "" when nothing to say. */
  reason: string;
}

const VERB_OF_METHOD: Record<string, string> = { POST: "create", GET: "get", HEAD: "get", PUT: "update", PATCH: "patch", DELETE: "delete" };
/** Namespace subresources: /api/v1/namespaces/NAME/{status,finalize} address the namespace itself. */
const NAMESPACE_SUBRESOURCES = new Set(["status", "finalize"]);

const goBool = (v: string | null) => v !== null && ["1", "t", "T", "true", "TRUE", "True"].includes(v);

/** The attributes of an HTTP request, as Kubernetes derives them before authorizing. */
export function requestAttributes(method: string, url: URL): Attributes {
  const path = url.pathname;
  const base: Attributes = { verb: method.toLowerCase(), resourceRequest: false, path, apiGroup: "", apiVersion: "", resource: "", subresource: "", namespace: "", name: "" };
  let parts: string[];
  try {
    parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  } catch {
    return base;
  }
  if (parts.length < 3) return base;
  const prefix = parts[0];
  if (prefix !== "api" && prefix !== "apis") return base;
  let rest = parts.slice(1);
  const a: Attributes = { ...base, resourceRequest: true };
  if (prefix === "apis") {
    if (rest.length < 3) return base;
    a.apiGroup = rest[0]!;
    rest = rest.slice(1);
  }
  a.apiVersion = rest[0]!;
  rest = rest.slice(1);
  if (rest[0] === "watch" || rest[0] === "proxy") {
    // /watch/... and /proxy/... carry the verb in the path.
    if (rest.length < 2) return { ...a, verb: rest[0]! };
    a.verb = rest[0]!;
    rest = rest.slice(1);
  } else {
    a.verb = VERB_OF_METHOD[method.toUpperCase()] ?? "";
  }
  if (rest[0] === "namespaces" && rest.length > 1) {
    a.namespace = rest[1]!;
    // /namespaces/NS/RESOURCE/... unless RESOURCE is a subresource of the namespace itself.
    if (rest.length > 2 && !NAMESPACE_SUBRESOURCES.has(rest[2]!)) rest = rest.slice(2);
  }
  a.resource = rest[0] ?? "";
  a.name = rest[1] ?? "";
  if (rest.length >= 3 && a.verb !== "proxy") a.subresource = rest[2]!;
  if (!a.name && a.verb === "get") {
    a.verb = goBool(url.searchParams.get("watch")) ? "watch" : "list";
    // A list or watch of one object by name may be allowed by a rule with resourceNames.
    const n = nameFromFieldSelector(url.searchParams.get("fieldSelector"));
    if (n !== undefined && validPathSegment(n)) a.name = n;
  }
  if (!a.name && a.verb === "delete") a.verb = "deletecollection";
  return a;
}

function validPathSegment(s: string): boolean {
  return s !== "" && s !== "." && s !== ".." && !s.includes("/") && !s.includes("%");
}

/** fields.Selector.RequiresExactMatch("metadata.name"): the value of a `metadata.name=` or `==` term. */
export function nameFromFieldSelector(sel: string | null | undefined): string | undefined {
  if (!sel) return undefined;
  // Terms are separated by unescaped commas; values may escape `\,` `\=` `\\`.
  const terms: string[] = [];
  let cur = "";
  for (let i = 0; i < sel.length; i++) {
    const ch = sel[i]!;
    if (ch === "\\" && i + 1 < sel.length) {
      cur += ch + sel[++i];
      continue;
    }
    if (ch === ",") {
      terms.push(cur);
      cur = "";
    } else cur += ch;
  }
  terms.push(cur);
  for (const t of terms) {
    const m = /^\s*metadata\.name\s*(==|=)(.*)$/.exec(t);
    if (m && !m[2]!.startsWith("=")) return m[2]!.trim().replace(/\\(.)/g, "$1");
  }
  return undefined;
}

/** responsewriters.forbiddenMessage */
export function forbiddenMessage(u: UserInfo, a: Attributes): string {
  if (!a.resourceRequest) return `User ${JSON.stringify(u.user)} cannot ${a.verb} path ${JSON.stringify(a.path)}`;
  const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const scope = a.namespace ? `in the namespace ${JSON.stringify(a.namespace)}` : "at the cluster scope";
  return `User ${JSON.stringify(u.user)} cannot ${a.verb} resource ${JSON.stringify(resource)} in API group ${JSON.stringify(a.apiGroup)} ${scope}`;
}

/** responsewriters.Forbidden → apierrors.NewForbidden: the 403 Status Kubernetes sends. */
export function forbiddenError(u: UserInfo, a: Attributes, reason: string): ApiError {
  const msg = reason ? `${forbiddenMessage(u, a)}: ${reason}` : forbiddenMessage(u, a);
  if (!a.resourceRequest || !a.resource) return new ApiError(403, "Forbidden", `forbidden: ${msg}`, {});
  const qualified = a.apiGroup ? `${a.resource}.${a.apiGroup}` : a.resource;
  const message = a.name ? `${qualified} ${JSON.stringify(a.name)} is forbidden: ${msg}` : `${qualified} is forbidden: ${msg}`;
  return new ApiError(403, "Forbidden", message, { name: a.name || undefined, group: a.apiGroup || undefined, kind: a.resource });
}
