// RBAC escalation prevention (k8s.io/kubernetes/pkg/registry/rbac/validation): nobody grants
// what they do not hold. Creating or updating a Role/ClusterRole needs every rule it holds to be
// covered by the writer's own rules (or the `escalate` verb on it); a RoleBinding/
// ClusterRoleBinding needs the referenced role's rules covered (or the `bind` verb on that role).
// Without this, a namespace admin could bind cluster-admin in their namespace.
import { ApiError } from "../errors";
import type { Store } from "../store/store";
import type { Attributes, UserInfo } from "./attributes";
import { authorizerFor } from "./authz";
import { RBAC_GROUP } from "./rbac";
import { apiGroupMatches, nonResourceURLMatches, resourceMatches, resourceNameMatches, verbMatches, type PolicyRule } from "./rules";

const FULL: PolicyRule[] = [
  { verbs: ["*"], apiGroups: ["*"], resources: ["*"] },
  { verbs: ["*"], nonResourceURLs: ["*"] },
];

/** The parts of `servant` no rule of `owner` covers, one atom (verb × group × resource × name) each. */
export function uncovered(owner: readonly PolicyRule[], servant: readonly PolicyRule[]): PolicyRule[] {
  const out: PolicyRule[] = [];
  for (const s of servant) {
    for (const verb of s.verbs ?? []) {
      if (s.nonResourceURLs?.length) {
        for (const url of s.nonResourceURLs)
          if (!owner.some((o) => !o.resources?.length && verbMatches(o, verb) && nonResourceURLMatches(o, url))) out.push({ verbs: [verb], nonResourceURLs: [url] });
        continue;
      }
      for (const group of s.apiGroups ?? [])
        for (const resource of s.resources ?? []) {
          const sub = resource.includes("/") ? resource.slice(resource.indexOf("/") + 1) : "";
          for (const name of s.resourceNames?.length ? s.resourceNames : [""]) {
            const ok = owner.some((o) => verbMatches(o, verb) && apiGroupMatches(o, group) && resourceMatches(o, resource, sub) && resourceNameMatches(o, name));
            if (!ok) out.push({ verbs: [verb], apiGroups: [group], resources: [resource], ...(name ? { resourceNames: [name] } : {}) });
          }
        }
    }
  }
  return out;
}

function fmt(r: PolicyRule): string {
  const q = (a?: string[]) => `[${(a ?? []).map((x) => JSON.stringify(x)).join(" ")}]`;
  if (r.nonResourceURLs) return `{NonResourceURLs:${q(r.nonResourceURLs)}, Verbs:${q(r.verbs)}}`;
  return `{APIGroups:${q(r.apiGroups)}, Resources:${q(r.resources)}${r.resourceNames ? `, ResourceNames:${q(r.resourceNames)}` : ""}, Verbs:${q(r.verbs)}}`;
}

const attrs = (verb: string, resource: string, namespace: string, name: string): Attributes => ({
  verb,
  resourceRequest: true,
  path: "",
  apiGroup: RBAC_GROUP,
  apiVersion: "v1",
  resource,
  subresource: "",
  namespace,
  name,
});

/** Throws the Kubernetes 403 when writing `obj` (an RBAC object) would grant more than `user` holds. */
export async function confirmNoEscalation(store: Store, user: UserInfo, plural: string, obj: any): Promise<void> {
  if (user.groups.includes("system:masters")) return;
  const authz = authorizerFor(store);
  const ns: string = obj?.metadata?.namespace ?? "";
  const name: string = obj?.metadata?.name ?? "";
  const forbidden = (msg: string) =>
    new ApiError(403, "Forbidden", `${plural}.${RBAC_GROUP} ${JSON.stringify(name)} is forbidden: ${msg}`, { name, group: RBAC_GROUP, kind: plural });
  const held = () => {
    const r = authz.rulesFor(user, ns);
    return [...r.resourceRules, ...r.nonResourceRules];
  };
  const notHeld = (missing: PolicyRule[]) =>
    forbidden(`user ${JSON.stringify(user.user)} (groups=${JSON.stringify(user.groups)}) is attempting to grant RBAC permissions not currently held:\n${missing.map(fmt).join("\n")}`);

  if (plural === "roles" || plural === "clusterroles") {
    if ((await authz.authorize(user, attrs("escalate", plural, ns, name))).allowed) return;
    // An aggregated ClusterRole can come to hold anything: only full authority may define one.
    const wants: PolicyRule[] = obj?.aggregationRule?.clusterRoleSelectors?.length ? FULL : Array.isArray(obj?.rules) ? obj.rules : [];
    const missing = uncovered(held(), wants);
    if (missing.length) throw obj?.aggregationRule ? forbidden("must have cluster-admin privileges to use the aggregationRule") : notHeld(missing);
    return;
  }
  if (plural === "rolebindings" || plural === "clusterrolebindings") {
    const ref = obj?.roleRef ?? {};
    const refPlural = ref.kind === "ClusterRole" ? "clusterroles" : "roles";
    if ((await authz.authorize(user, attrs("bind", refPlural, ns, ref.name ?? ""))).allowed) return;
    const rules = authz.rbac.referencedRules(ref, ns);
    if (typeof rules === "string") throw forbidden(rules);
    const missing = uncovered(held(), rules);
    if (missing.length) throw notHeld(missing);
  }
}
