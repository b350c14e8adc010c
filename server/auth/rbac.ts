// The RBAC authorizer over the store's Roles, ClusterRoles and their bindings. The objects are
// replicated like any other; this keeps an in-memory index of them, rebuilt lazily after an
// applied write touches one of the four kinds (or a snapshot replaced the state), so a request
// never scans the store.
import type { Store } from "../store/store";
import { labelSelectorToRequirements, matchLabels } from "../../schemas/helpers/selectors";
import type { Attributes, Decision, UserInfo } from "./attributes";
import { appliesTo, describeSubject, ruleAllows, type PolicyRule, type Subject } from "./rules";

export const RBAC_GROUP = "rbac.authorization.k8s.io";
const RES = {
  roles: `${RBAC_GROUP}/roles`,
  roleBindings: `${RBAC_GROUP}/rolebindings`,
  clusterRoles: `${RBAC_GROUP}/clusterroles`,
  clusterRoleBindings: `${RBAC_GROUP}/clusterrolebindings`,
};
const RBAC_RES = new Set(Object.values(RES));

interface Index {
  clusterRoles: Map<string, any>;
  roles: Map<string, any>; // "ns/name"
  clusterRoleBindings: any[];
  roleBindings: Map<string, any[]>; // by namespace
  /** Effective ClusterRole rules (aggregation resolved), filled on demand. */
  effective: Map<string, PolicyRule[]>;
}

/** Where a rule came from, for "allowed by" reasons. */
type Visitor = (source: () => string, rule: PolicyRule) => boolean; // true = stop

export class RbacAuthorizer {
  private index?: Index;
  private dirty = true;
  private sm: unknown;

  constructor(private readonly store: Store) {
    store.onApplied((events) => {
      if (!this.dirty && events.some((e) => RBAC_RES.has(e.res))) this.dirty = true;
    });
  }

  private current(): Index {
    // A Raft snapshot install swaps the state machine without publishing events.
    if (this.index && !this.dirty && this.sm === this.store.sm) return this.index;
    this.dirty = false;
    this.sm = this.store.sm;
    const list = (res: string) => this.store.list(res, undefined).items;
    const clusterRoles = new Map<string, any>();
    for (const o of list(RES.clusterRoles)) clusterRoles.set(o.metadata.name, o);
    const roles = new Map<string, any>();
    for (const o of list(RES.roles)) roles.set(`${o.metadata.namespace}/${o.metadata.name}`, o);
    const roleBindings = new Map<string, any[]>();
    for (const o of list(RES.roleBindings)) {
      const ns = o.metadata.namespace ?? "";
      let arr = roleBindings.get(ns);
      if (!arr) roleBindings.set(ns, (arr = []));
      arr.push(o);
    }
    this.index = { clusterRoles, roles, clusterRoleBindings: list(RES.clusterRoleBindings), roleBindings, effective: new Map() };
    return this.index;
  }

  /** A ClusterRole's rules; an aggregated one has the union of the roles its selectors pick. */
  private clusterRoleRules(ix: Index, name: string, visiting = new Set<string>()): PolicyRule[] | undefined {
    const hit = ix.effective.get(name);
    if (hit) return hit;
    const role = ix.clusterRoles.get(name);
    if (!role) return undefined;
    let rules: PolicyRule[] = Array.isArray(role.rules) ? role.rules : [];
    const selectors = role.aggregationRule?.clusterRoleSelectors;
    if (Array.isArray(selectors) && selectors.length) {
      // Like the clusterrole-aggregation controller, but computed here so it is never stale.
      visiting.add(name);
      const out: PolicyRule[] = [];
      const seen = new Set<string>();
      for (const [other, o] of ix.clusterRoles) {
        if (other === name || visiting.has(other)) continue;
        if (!selectors.some((s: any) => matchLabels(labelSelectorToRequirements(s), o.metadata?.labels))) continue;
        for (const r of this.clusterRoleRules(ix, other, visiting) ?? []) {
          const k = JSON.stringify(r);
          if (!seen.has(k)) (seen.add(k), out.push(r));
        }
      }
      visiting.delete(name);
      rules = out;
    }
    ix.effective.set(name, rules);
    return rules;
  }

  private roleRules(ix: Index, ref: any, bindingNs: string): PolicyRule[] | string {
    if (ref?.kind === "ClusterRole") return this.clusterRoleRules(ix, ref.name) ?? `clusterrole.rbac.authorization.k8s.io ${JSON.stringify(ref.name)} not found`;
    if (ref?.kind === "Role") {
      const r = ix.roles.get(`${bindingNs}/${ref.name}`);
      return r ? (Array.isArray(r.rules) ? r.rules : []) : `role.rbac.authorization.k8s.io ${JSON.stringify(ref.name)} not found`;
    }
    return `unsupported role reference kind: ${JSON.stringify(ref?.kind)}`;
  }

  /** rbac.VisitRulesFor: ClusterRoleBindings, then the RoleBindings of `namespace`. */
  private visit(u: UserInfo, namespace: string, v: Visitor, errors: string[]): void {
    const ix = this.current();
    for (const b of ix.clusterRoleBindings) {
      const subject = (b.subjects ?? []).find((s: Subject) => appliesTo(u, s, ""));
      if (!subject) continue;
      const rules = this.roleRules(ix, b.roleRef, "");
      if (typeof rules === "string") {
        errors.push(rules);
        continue;
      }
      const source = () => `ClusterRoleBinding ${JSON.stringify(b.metadata.name)} of ${b.roleRef.kind} ${JSON.stringify(b.roleRef.name)} to ${describeSubject(subject, "")}`;
      for (const r of rules) if (v(source, r)) return;
    }
    if (!namespace) return;
    for (const b of ix.roleBindings.get(namespace) ?? []) {
      const subject = (b.subjects ?? []).find((s: Subject) => appliesTo(u, s, namespace));
      if (!subject) continue;
      const rules = this.roleRules(ix, b.roleRef, namespace);
      if (typeof rules === "string") {
        errors.push(rules);
        continue;
      }
      const source = () => `RoleBinding ${JSON.stringify(`${b.metadata.name}/${namespace}`)} of ${b.roleRef.kind} ${JSON.stringify(b.roleRef.name)} to ${describeSubject(subject, namespace)}`;
      for (const r of rules) if (v(source, r)) return;
    }
  }

  authorize(u: UserInfo, a: Attributes): Decision {
    let reason = "";
    const errors: string[] = [];
    this.visit(
      u,
      a.namespace,
      (source, rule) => {
        if (!ruleAllows(a, rule)) return false;
        reason = `RBAC: allowed by ${source()}`;
        return true;
      },
      errors,
    );
    if (reason) return { allowed: true, reason };
    return { allowed: false, reason: errors.length ? `RBAC: ${errors.length === 1 ? errors[0] : `[${errors.join(", ")}]`}` : "" };
  }

  /** The rules a roleRef grants (a binding in `bindingNs`), or why it cannot be resolved. */
  referencedRules(ref: any, bindingNs: string): PolicyRule[] | string {
    return this.roleRules(this.current(), ref, bindingNs);
  }

  /** Every rule that applies to the user in `namespace` (SelfSubjectRulesReview). */
  rulesFor(u: UserInfo, namespace: string): { rules: PolicyRule[]; errors: string[] } {
    const rules: PolicyRule[] = [];
    const errors: string[] = [];
    this.visit(u, namespace, (_s, r) => (rules.push(r), false), errors);
    return { rules, errors };
  }
}
