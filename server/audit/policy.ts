// The audit policy (audit.k8s.io/v1 Policy, kube-apiserver's --audit-policy-file): the first
// rule that matches a request decides its level (None, Metadata, Request, RequestResponse) and
// the stages left out; a request no rule matches is not audited. Matching follows upstream's
// policy checker: a rule with nonResourceURLs matches only non-resource requests, a rule with
// resources or namespaces only resource requests.
import { parse } from "yaml";
import type { Attributes, UserInfo } from "../auth/attributes";

export const LEVELS = ["None", "Metadata", "Request", "RequestResponse"] as const;
export type Level = (typeof LEVELS)[number];
export const STAGES = ["RequestReceived", "ResponseStarted", "ResponseComplete", "Panic"] as const;
export type Stage = (typeof STAGES)[number];

interface GroupResources {
  group: string;
  resources: string[];
  resourceNames: string[];
}

export interface PolicyRule {
  level: Level;
  users: string[];
  userGroups: string[];
  verbs: string[];
  resources: GroupResources[];
  namespaces: string[];
  nonResourceURLs: string[];
  omitStages: Stage[];
}

export interface AuditPolicy {
  rules: PolicyRule[];
  omitStages: Stage[];
}

export interface PolicyDecision {
  level: Level;
  omitStages: Set<Stage>;
}

export class PolicyError extends Error {}

const strings = (v: unknown, where: string): string[] => {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) throw new PolicyError(`${where}: must be a list of strings`);
  return v as string[];
};

const stages = (v: unknown, where: string): Stage[] => {
  const xs = strings(v, where);
  for (const s of xs) if (!(STAGES as readonly string[]).includes(s)) throw new PolicyError(`${where}: unknown stage "${s}" (one of ${STAGES.join(", ")})`);
  return xs as Stage[];
};

/** Parse and check a policy document (YAML or JSON); PolicyError names the field to fix. */
export function parsePolicy(text: string): AuditPolicy {
  let doc: any;
  try {
    doc = parse(text);
  } catch (e) {
    throw new PolicyError(`not YAML or JSON: ${(e as Error).message}`);
  }
  if (!doc || typeof doc !== "object") throw new PolicyError("expected an audit.k8s.io/v1 Policy object");
  if (doc.apiVersion !== "audit.k8s.io/v1" || doc.kind !== "Policy") throw new PolicyError(`expected apiVersion audit.k8s.io/v1 and kind Policy, got ${doc.apiVersion ?? "no apiVersion"} ${doc.kind ?? "no kind"}`);
  if (!Array.isArray(doc.rules) || !doc.rules.length) throw new PolicyError("rules: at least one rule is required");
  const rules = doc.rules.map((r: any, i: number): PolicyRule => {
    const at = `rules[${i}]`;
    if (!r || typeof r !== "object") throw new PolicyError(`${at}: must be an object`);
    if (!(LEVELS as readonly string[]).includes(r.level)) throw new PolicyError(`${at}.level: must be one of ${LEVELS.join(", ")}, got ${JSON.stringify(r.level)}`);
    const resources = (r.resources ?? []).map((g: any, j: number): GroupResources => {
      if (!g || typeof g !== "object") throw new PolicyError(`${at}.resources[${j}]: must be an object`);
      if (g.group !== undefined && typeof g.group !== "string") throw new PolicyError(`${at}.resources[${j}].group: must be a string`);
      const res = strings(g.resources, `${at}.resources[${j}].resources`);
      for (const x of res) if (x.split("/").length > 2 || x === "" || (x.includes("*") && x !== "*" && !/^[^*]+\/\*$/.test(x) && !/^\*\/[^*]+$/.test(x))) throw new PolicyError(`${at}.resources[${j}].resources: "${x}" is not a resource, "resource/subresource", "*", "resource/*" or "*/subresource"`);
      return { group: g.group ?? "", resources: res, resourceNames: strings(g.resourceNames, `${at}.resources[${j}].resourceNames`) };
    });
    const nonResourceURLs = strings(r.nonResourceURLs, `${at}.nonResourceURLs`);
    const namespaces = strings(r.namespaces, `${at}.namespaces`);
    if (nonResourceURLs.length && (resources.length || namespaces.length)) throw new PolicyError(`${at}: rules cannot apply to both regular resources and non-resource URLs`);
    for (const u of nonResourceURLs) if (!u.startsWith("/") && u !== "*") throw new PolicyError(`${at}.nonResourceURLs: "${u}" must start with "/"`);
    return {
      level: r.level,
      users: strings(r.users, `${at}.users`),
      userGroups: strings(r.userGroups, `${at}.userGroups`),
      verbs: strings(r.verbs, `${at}.verbs`),
      resources,
      namespaces,
      nonResourceURLs,
      omitStages: stages(r.omitStages, `${at}.omitStages`),
    };
  });
  return { rules, omitStages: stages(doc.omitStages, "omitStages") };
}

const NONE: PolicyDecision = { level: "None", omitStages: new Set() };

/** The level and omitted stages of one request. */
export function evaluate(policy: AuditPolicy, user: UserInfo, a: Attributes): PolicyDecision {
  for (const r of policy.rules) {
    if (ruleMatches(r, user, a)) return { level: r.level, omitStages: new Set([...policy.omitStages, ...r.omitStages]) };
  }
  return NONE;
}

function ruleMatches(r: PolicyRule, u: UserInfo, a: Attributes): boolean {
  if (r.users.length && !r.users.includes(u.user)) return false;
  if (r.userGroups.length && !u.groups.some((g) => r.userGroups.includes(g))) return false;
  if (r.verbs.length && !r.verbs.includes(a.verb)) return false;
  if (r.nonResourceURLs.length) return !a.resourceRequest && r.nonResourceURLs.some((p) => p === "*" || p === a.path || (p.endsWith("*") && a.path.startsWith(p.slice(0, -1))));
  if (!r.resources.length && !r.namespaces.length) return true;
  if (!a.resourceRequest) return false;
  // "" in namespaces selects cluster-scoped resources.
  if (r.namespaces.length && !r.namespaces.includes(a.namespace)) return false;
  if (r.resources.length && !r.resources.some((g) => groupMatches(g, a))) return false;
  return true;
}

function groupMatches(g: GroupResources, a: Attributes): boolean {
  if (g.group !== a.apiGroup) return false;
  // An entry without resources selects the whole group (resourceNames then do not apply).
  if (!g.resources.length) return true;
  if (g.resourceNames.length && !g.resourceNames.includes(a.name)) return false;
  const full = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  return g.resources.some((x) => {
    if (x === "*" || x === full) return true;
    // "pods/*": pods and every subresource of pods (upstream's rule).
    if (x.endsWith("/*")) return x.slice(0, -2) === a.resource;
    if (x.startsWith("*/")) return !!a.subresource && x.slice(2) === a.subresource;
    return false;
  });
}

/** Does any rule log request bodies? (Then the middleware keeps a copy of each body.) */
export function wantsBodies(policy: AuditPolicy): boolean {
  return policy.rules.some((r) => r.level === "Request" || r.level === "RequestResponse");
}
