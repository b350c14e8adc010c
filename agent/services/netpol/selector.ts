// metav1.LabelSelector matching (matchLabels, matchExpressions In/NotIn/Exists/DoesNotExist) for
// the agent: the same rules as schemas/types/apps.ts, without loading the schema DSL into the
// agent. An empty selector matches everything; a missing one matches nothing.

export function selectorMatches(sel: any, labels: Record<string, string> | undefined): boolean {
  if (!sel || typeof sel !== "object") return false;
  const l = labels ?? {};
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (l[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(l, e?.key);
    const vals: string[] = Array.isArray(e?.values) ? e.values : [];
    switch (e?.operator) {
      case "In":
        if (!has || !vals.includes(l[e.key]!)) return false;
        break;
      case "NotIn":
        if (has && vals.includes(l[e.key]!)) return false;
        break;
      case "Exists":
        if (!has) return false;
        break;
      case "DoesNotExist":
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}
