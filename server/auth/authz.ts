// Authorization: is this user allowed to do this? The chain Kubernetes runs with
// --authorization-mode=Node,RBAC: system:masters always, then the Node authorizer for node
// identities, then RBAC. One Authorizer per store (the API app and the stream server share it).
import type { Store } from "../store/store";
import { forbiddenError, type Attributes, type Decision, type UserInfo } from "./attributes";
import { NodeAuthorizer, nodeIdentity } from "./node";
import { NODE_RULES } from "./policy";
import { RbacAuthorizer } from "./rbac";
import type { PolicyRule } from "./rules";

export type { Attributes, Decision, UserInfo } from "./attributes";
export { requestAttributes, forbiddenError } from "./attributes";

const MASTERS = "system:masters";
/** SKIFF_AUTHZ_DEBUG=1 logs every denial (finding what a client lacks). */
const DEBUG = !!process.env.SKIFF_AUTHZ_DEBUG;
const ALL_RULE: PolicyRule = { verbs: ["*"], apiGroups: ["*"], resources: ["*"] };
const ALL_URLS: PolicyRule = { verbs: ["*"], nonResourceURLs: ["*"] };

export class Authorizer {
  readonly rbac: RbacAuthorizer;
  readonly node: NodeAuthorizer;

  constructor(private readonly store: Store) {
    this.rbac = new RbacAuthorizer(store);
    this.node = new NodeAuthorizer(store);
  }

  async authorize(u: UserInfo, a: Attributes): Promise<Decision> {
    if (u.groups.includes(MASTERS)) return { allowed: true, reason: "" };
    const reasons: string[] = [];
    const node = nodeIdentity(u);
    if (node !== undefined) {
      let v = this.node.authorize(node, a);
      if (!v.allowed && v.retry) {
        // This replica may not have applied the pod that links the node to the object yet.
        await Promise.race([this.store.readBarrier().catch(() => {}), Bun.sleep(5000)]);
        v = this.node.authorize(node, a);
      }
      if (v.allowed) return v;
      if (v.reason) reasons.push(v.reason);
    }
    const d = this.rbac.authorize(u, a);
    if (d.allowed) return d;
    if (d.reason) reasons.push(d.reason);
    return { allowed: false, reason: reasons.join("\n") };
  }

  /** Resolves when allowed; throws the Kubernetes 403 otherwise. `seen` gets the decision (the audit log's annotations). */
  async check(u: UserInfo, a: Attributes, seen?: (d: Decision) => void): Promise<void> {
    const d = await this.authorize(u, a);
    seen?.(d);
    if (d.allowed) return;
    const err = forbiddenError(u, a, d.reason);
    if (DEBUG) console.warn(`skiff authz: denied ${u.user} [${u.groups.join(",")}]: ${err.message}`);
    throw err;
  }

  /** The rules a user holds in a namespace (SelfSubjectRulesReview). */
  rulesFor(u: UserInfo, namespace: string): { resourceRules: PolicyRule[]; nonResourceRules: PolicyRule[]; incomplete: boolean; errors: string[] } {
    const all: PolicyRule[] = [];
    let incomplete = false;
    if (u.groups.includes(MASTERS)) all.push(ALL_RULE, ALL_URLS);
    if (nodeIdentity(u) !== undefined) {
      all.push(...NODE_RULES);
      // Per-object node checks cannot be listed as rules.
      incomplete = true;
    }
    const { rules, errors } = this.rbac.rulesFor(u, namespace);
    all.push(...rules);
    const resourceRules: PolicyRule[] = [];
    const nonResourceRules: PolicyRule[] = [];
    for (const r of all) {
      if (r.nonResourceURLs?.length) nonResourceRules.push({ verbs: [...r.verbs], nonResourceURLs: [...r.nonResourceURLs] });
      else
        resourceRules.push({
          verbs: [...(r.verbs ?? [])],
          apiGroups: [...(r.apiGroups ?? [])],
          resources: [...(r.resources ?? [])],
          ...(r.resourceNames?.length ? { resourceNames: [...r.resourceNames] } : {}),
        });
    }
    return { resourceRules, nonResourceRules, incomplete: incomplete || errors.length > 0, errors };
  }
}

const byStore = new WeakMap<Store, Authorizer>();

/** The authorizer of a store, created on first use. */
export function authorizerFor(store: Store): Authorizer {
  let a = byStore.get(store);
  if (!a) byStore.set(store, (a = new Authorizer(store)));
  return a;
}
