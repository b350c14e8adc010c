// Label selectors as Kubernetes parses, matches and prints them (k8s.io/apimachinery/pkg/labels
// and metav1.LabelSelector): the one copy the server, the CLI and the printers share.

import { isObj } from "./json";

/** A selector that does not parse; the server answers it with a 400 that carries the message. */
export class SelectorError extends Error {}

export type LabelRequirement =
  | { key: string; op: "=" | "!="; values: [string] }
  | { key: string; op: "in" | "notin"; values: string[] }
  | { key: string; op: "exists" | "!" }
  | { key: string; op: "gt" | "lt"; values: [string] };

const KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Parse "a=b,c!=d,e in (x,y),f notin (z),g,!h,n>3". Throws a SelectorError naming the problem. */
export function parseLabelSelector(s: string): LabelRequirement[] {
  const reqs: LabelRequirement[] = [];
  let i = 0;
  const src = s.trim();
  const fail = (why: string): never => {
    throw new SelectorError(`unable to parse requirement: ${why} (in label selector "${s}")`);
  };
  const ws = () => {
    while (i < src.length && src[i] === " ") i++;
  };
  const ident = (): string => {
    ws();
    const start = i;
    while (i < src.length && !" ,=!()<>".includes(src[i]!)) i++;
    return src.slice(start, i);
  };
  const checkKey = (k: string) => {
    if (!k) fail("found '' , expected: identifier");
    if (k.length > 316 || !KEY.test(k)) fail(`invalid label key "${k}": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`);
  };
  const checkValue = (v: string) => {
    if (v.length > 63 || !VALUE.test(v)) fail(`invalid label value: "${v}": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`);
  };
  while (i < src.length) {
    ws();
    if (src[i] === "!") {
      i++;
      const k = ident();
      checkKey(k);
      reqs.push({ key: k, op: "!" });
    } else {
      const k = ident();
      checkKey(k);
      ws();
      const rest = src.slice(i);
      if (rest.startsWith("==") || rest.startsWith("=") || rest.startsWith("!=")) {
        const op = rest.startsWith("!=") ? "!=" : "=";
        i += rest.startsWith("==") || rest.startsWith("!=") ? 2 : 1;
        const v = ident();
        checkValue(v);
        reqs.push({ key: k, op, values: [v] });
      } else if (rest.startsWith(">") || rest.startsWith("<")) {
        i++;
        const v = ident();
        if (!/^-?\d+$/.test(v)) fail(`for 'Gt', 'Lt' operators, the value must be an integer`);
        reqs.push({ key: k, op: rest[0] === ">" ? "gt" : "lt", values: [v] });
      } else if (/^(in|notin)\s*\(/.test(rest)) {
        const op = rest.startsWith("in") ? "in" : "notin";
        i += op.length;
        ws();
        i++; // (
        const values: string[] = [];
        for (;;) {
          ws();
          const v = ident();
          checkValue(v);
          values.push(v);
          ws();
          if (src[i] === ",") {
            i++;
            continue;
          }
          if (src[i] === ")") {
            i++;
            break;
          }
          fail(`found '${src[i] ?? "end of string"}', expected: ',', ')'`);
        }
        reqs.push({ key: k, op, values });
      } else if (rest === "" || rest.startsWith(",")) {
        reqs.push({ key: k, op: "exists" });
      } else {
        fail(`found '${rest[0]}', expected: in, notin, =, ==, !=, gt, lt`);
      }
    }
    ws();
    if (i < src.length) {
      if (src[i] !== ",") fail(`found '${src[i]}', expected: ','`);
      i++;
    }
  }
  return reqs;
}

export function matchLabels(reqs: LabelRequirement[], labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  for (const r of reqs) {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    const v = l[r.key];
    switch (r.op) {
      case "=":
        if (!has || v !== r.values[0]) return false;
        break;
      case "!=":
        if (has && v === r.values[0]) return false;
        break;
      case "in":
        if (!has || !r.values.includes(v!)) return false;
        break;
      case "notin":
        if (has && r.values.includes(v!)) return false;
        break;
      case "exists":
        if (!has) return false;
        break;
      case "!":
        if (has) return false;
        break;
      case "gt":
      case "lt": {
        if (!has || !/^-?\d+$/.test(v!)) return false;
        const n = Number(v);
        const want = Number(r.values[0]);
        if (r.op === "gt" ? !(n > want) : !(n < want)) return false;
      }
    }
  }
  return true;
}

/** A requirement no labels satisfy: what an invalid selector object matches. */
const NOTHING: LabelRequirement = { key: "", op: "in", values: [] };

/**
 * A metav1.LabelSelector object (matchLabels/matchExpressions) as requirements. The rule, as
 * LabelSelectorAsSelector: In/NotIn need values, Exists/DoesNotExist take none, and any other
 * operator is invalid; an invalid selector matches nothing. An empty selector matches everything.
 */
export function labelSelectorToRequirements(sel: any): LabelRequirement[] {
  const out: LabelRequirement[] = [];
  for (const [k, v] of Object.entries(isObj(sel?.matchLabels) ? sel.matchLabels : {})) out.push({ key: k, op: "=", values: [String(v)] });
  for (const e of Array.isArray(sel?.matchExpressions) ? sel.matchExpressions : []) {
    const values: string[] = Array.isArray(e?.values) ? e.values.map(String) : [];
    const key = String(e?.key ?? "");
    switch (e?.operator) {
      case "In":
      case "NotIn":
        out.push(values.length ? { key, op: e.operator === "In" ? "in" : "notin", values } : NOTHING);
        break;
      case "Exists":
      case "DoesNotExist":
        out.push(values.length ? NOTHING : { key, op: e.operator === "Exists" ? "exists" : "!" });
        break;
      default:
        out.push(NOTHING);
    }
  }
  return out;
}

/** metav1.LabelSelector semantics: a missing selector matches nothing, an empty one everything. */
export function labelSelectorMatches(sel: unknown, labels: Record<string, string> | undefined): boolean {
  return isObj(sel) && matchLabels(labelSelectorToRequirements(sel), labels);
}

// Go sorts strings bytewise; for the ASCII label alphabet this equals code-unit order.
const goSort = (xs: string[]) => [...xs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
const str = (v: unknown) => (typeof v === "string" ? v : typeof v === "number" || typeof v === "boolean" ? String(v) : "");

/**
 * metav1.LabelSelectorAsSelector(sel).String(), the form of ?labelSelector= and
 * Scale.status.selector: requirements sorted by key, values sorted. Undefined when the selector
 * is invalid (the Go function returns an error); a missing or empty selector is "".
 */
export function labelSelectorString(sel: unknown): string | undefined {
  if (!isObj(sel)) return "";
  const matchLabels = isObj(sel.matchLabels) ? sel.matchLabels : {};
  const reqs: { key: string; text: string }[] = [];
  for (const k of Object.keys(matchLabels)) reqs.push({ key: k, text: `${k}=${str(matchLabels[k])}` });
  for (const e of Array.isArray(sel.matchExpressions) ? sel.matchExpressions : []) {
    if (!isObj(e)) return undefined;
    const key = str(e.key);
    const values = (Array.isArray(e.values) ? e.values : []).map(str);
    switch (e.operator) {
      case "In":
      case "NotIn":
        if (values.length === 0) return undefined;
        reqs.push({ key, text: `${key} ${e.operator === "In" ? "in" : "notin"} (${goSort(values).join(",")})` });
        break;
      case "Exists":
      case "DoesNotExist":
        if (values.length !== 0) return undefined;
        reqs.push({ key, text: e.operator === "Exists" ? key : `!${key}` });
        break;
      default:
        return undefined;
    }
  }
  // internalSelector.Add sorts requirements by key (stable).
  return reqs
    .map((r, i) => ({ ...r, i }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.i - b.i))
    .map((r) => r.text)
    .join(",");
}

/** metav1.FormatLabelSelector (kubectl's Selector columns and describe): "<error>" when invalid, "<none>" when empty. */
export function formatLabelSelector(sel: unknown): string {
  const s = labelSelectorString(sel);
  if (s === undefined) return "<error>";
  return s === "" ? "<none>" : s;
}
