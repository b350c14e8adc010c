// User impersonation (`kubectl --as USER --as-group G --as-uid U`): the Impersonate-* headers
// replace the caller's identity when the caller may `impersonate` each part, as in the
// kube-apiserver's impersonation filter. Everything after (authorization, reviews, the writer
// of RBAC objects) then sees the impersonated user.
import { badRequest } from "../errors";
import type { Attributes } from "./attributes";
import type { Authorizer } from "./authz";

export interface ImpersonatableIdentity {
  user: string;
  groups: string[];
  joinOnly?: boolean;
  join?: string;
  extra?: Record<string, string[]>;
}

const SA_PREFIX = "system:serviceaccount:";

function attrs(resource: string, name: string, apiGroup = "", namespace = ""): Attributes {
  return { verb: "impersonate", resourceRequest: true, path: "", apiGroup, apiVersion: "v1", resource, subresource: "", namespace, name };
}

/** All values of a header (fetch joins repeated headers with ", "). */
function values(h: Headers, name: string): string[] {
  const v = h.get(name);
  return v === null ? [] : v.split(",").map((s) => s.trim()).filter(Boolean);
}

/** The identity the request acts as: the caller, or whom it may and does impersonate. */
export async function impersonate<T extends ImpersonatableIdentity>(authz: Authorizer, caller: T, headers: Headers): Promise<T> {
  const user = headers.get("impersonate-user");
  const groups = values(headers, "impersonate-group");
  const uid = headers.get("impersonate-uid");
  const extras = [...headers.keys()].filter((k) => k.toLowerCase().startsWith("impersonate-extra-"));
  if (user === null) {
    if (groups.length || uid !== null || extras.length) throw badRequest("impersonating groups, a uid or extra fields needs Impersonate-User (kubectl --as) too");
    return caller;
  }
  if (!user) throw badRequest("Impersonate-User must not be empty");
  if (user.startsWith(SA_PREFIX)) {
    const [ns, name] = user.slice(SA_PREFIX.length).split(":");
    if (!ns || !name) throw badRequest(`cannot impersonate "${user}": a service account is system:serviceaccount:NAMESPACE:NAME`);
    await authz.check(caller, attrs("serviceaccounts", name, "", ns));
  } else await authz.check(caller, attrs("users", user));
  for (const g of groups) await authz.check(caller, attrs("groups", g));
  if (uid !== null) await authz.check(caller, attrs("uids", uid, "authentication.k8s.io"));
  for (const k of extras) for (const v of values(headers, k)) await authz.check(caller, attrs(`userextras/${k.slice("impersonate-extra-".length).toLowerCase()}`, v, "authentication.k8s.io"));
  const out = new Set(groups);
  if (user.startsWith(SA_PREFIX)) {
    out.add("system:serviceaccounts");
    out.add(`system:serviceaccounts:${user.slice(SA_PREFIX.length).split(":")[0]}`);
  }
  if (user !== "system:anonymous") out.add("system:authenticated");
  return { ...caller, user, groups: [...out], joinOnly: false, join: undefined, extra: undefined };
}
