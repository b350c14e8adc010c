// Which FlowSchema and PriorityLevelConfiguration a request would be classified into, for the
// X-Kubernetes-PF-FlowSchema-UID / X-Kubernetes-PF-PriorityLevel-UID response headers clients
// log (client-go does). Skiff does not queue by them (API Priority and Fairness is not
// enforced; the objects are read-only): this is the classification only, upstream's matching
// order (matchingPrecedence, then name) and rules.
import type { Attributes, UserInfo } from "../auth/attributes";
import type { Store } from "../store/store";

const FS = "flowcontrol.apiserver.k8s.io/flowschemas";
const PL = "flowcontrol.apiserver.k8s.io/prioritylevelconfigurations";
/** The objects are read-only, so a short-lived cache is exact but for the seconds after bootstrap. */
const TTL_MS = 10_000;

const has = (list: string[] | undefined, v: string) => !!list && (list.includes("*") || list.includes(v));

function subjectMatches(s: any, u: UserInfo): boolean {
  if (s?.kind === "User") return s.user?.name === "*" || s.user?.name === u.user;
  if (s?.kind === "Group") return s.group?.name === "*" || u.groups.includes(s.group?.name);
  if (s?.kind === "ServiceAccount") {
    const m = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(u.user);
    return !!m && m[1] === s.serviceAccount?.namespace && (s.serviceAccount?.name === "*" || s.serviceAccount?.name === m[2]);
  }
  return false;
}

function ruleMatches(rule: any, a: Attributes): boolean {
  if (a.resourceRequest) {
    const res = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
    return (rule.resourceRules ?? []).some(
      (r: any) => has(r.verbs, a.verb) && has(r.apiGroups, a.apiGroup) && has(r.resources, res) && (a.namespace ? has(r.namespaces, a.namespace) : !!r.clusterScope),
    );
  }
  return (rule.nonResourceRules ?? []).some(
    (r: any) => has(r.verbs, a.verb) && (r.nonResourceURLs ?? []).some((p: string) => p === "*" || p === a.path || (p.endsWith("/*") && a.path.startsWith(p.slice(0, -1)))),
  );
}

export class FlowClassifier {
  private schemas: any[] = [];
  private levels = new Map<string, string>();
  private until = 0;

  constructor(private readonly store: Store) {}

  /** UIDs of the matching FlowSchema and its priority level, or undefined when none matches. */
  classify(u: UserInfo, a: Attributes, now = Date.now()): { flowSchema: string; priorityLevel: string } | undefined {
    if (now >= this.until) this.load(now);
    for (const fs of this.schemas) {
      if (!(fs.spec?.rules ?? []).some((r: any) => (r.subjects ?? []).some((s: any) => subjectMatches(s, u)) && ruleMatches(r, a))) continue;
      const pl = this.levels.get(fs.spec?.priorityLevelConfiguration?.name);
      if (pl) return { flowSchema: fs.metadata.uid, priorityLevel: pl };
    }
    return undefined;
  }

  private load(now: number): void {
    this.schemas = this.store
      .list(FS, undefined)
      .items.slice()
      .sort((x: any, y: any) => (x.spec?.matchingPrecedence ?? 1000) - (y.spec?.matchingPrecedence ?? 1000) || (x.metadata.name < y.metadata.name ? -1 : 1));
    this.levels = new Map(this.store.list(PL, undefined).items.map((p: any) => [p.metadata.name, p.metadata.uid]));
    this.until = now + TTL_MS;
  }
}
