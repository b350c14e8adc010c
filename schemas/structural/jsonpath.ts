// The JSONPath subset CRD printer columns use: ".spec.replicas", ".items[0].name",
// ".status.conditions[?(@.type=="Ready")].status", "[*]" and ['dotted.key'].
type Step = { field: string } | { index: number } | { all: true } | { filter: { path: string[]; op: "==" | "!="; value: string } | { path: string[]; exists: true } };

export class JsonPathError extends Error {}

export function parseJsonPath(src: string): Step[] {
  let s = src.trim();
  if (s.startsWith("{") && s.endsWith("}")) s = s.slice(1, -1).trim();
  if (s.startsWith("$")) s = s.slice(1);
  const steps: Step[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (c === ".") {
      const m = /^\.([A-Za-z0-9_\-\\/:]+)/.exec(s.slice(i));
      if (!m) throw new JsonPathError(`unexpected ${JSON.stringify(s.slice(i))} in ${JSON.stringify(src)}`);
      steps.push({ field: m[1]!.replace(/\\\./g, ".") });
      i += m[0].length;
    } else if (c === "[") {
      const end = s.indexOf("]", i);
      if (end < 0) throw new JsonPathError(`unclosed [ in ${JSON.stringify(src)}`);
      const inner = s.slice(i + 1, end).trim();
      i = end + 1;
      if (inner === "*") steps.push({ all: true });
      else if (/^-?\d+$/.test(inner)) steps.push({ index: Number(inner) });
      else if (/^'.*'$|^".*"$/.test(inner)) steps.push({ field: inner.slice(1, -1) });
      else {
        const f = /^\?\(@((?:\.[A-Za-z0-9_\-]+)+)\s*(?:(==|!=)\s*(?:"([^"]*)"|'([^']*)'|([^)\s]+)))?\s*\)$/.exec(inner);
        if (!f) throw new JsonPathError(`unsupported expression [${inner}] in ${JSON.stringify(src)}`);
        const path = f[1]!.slice(1).split(".");
        if (f[2]) steps.push({ filter: { path, op: f[2] as "==" | "!=", value: f[3] ?? f[4] ?? f[5] ?? "" } });
        else steps.push({ filter: { path, exists: true } });
      }
    } else throw new JsonPathError(`unexpected ${JSON.stringify(c)} in ${JSON.stringify(src)}`);
  }
  return steps;
}

export function evalJsonPath(steps: Step[], root: unknown): unknown[] {
  let cur: unknown[] = [root];
  for (const st of steps) {
    const next: unknown[] = [];
    for (const v of cur) {
      if (v === null || v === undefined) continue;
      if ("field" in st) {
        if (typeof v === "object" && !Array.isArray(v) && Object.hasOwn(v, st.field)) next.push((v as any)[st.field]);
      } else if ("index" in st) {
        if (Array.isArray(v)) {
          const x = v[st.index < 0 ? v.length + st.index : st.index];
          if (x !== undefined) next.push(x);
        }
      } else if ("all" in st) {
        if (Array.isArray(v)) next.push(...v);
        else if (typeof v === "object") next.push(...Object.values(v as object));
      } else {
        const f = st.filter;
        for (const x of Array.isArray(v) ? v : []) {
          const got = f.path.reduce((o: any, k) => (o && typeof o === "object" ? o[k] : undefined), x);
          if ("exists" in f ? got !== undefined : f.op === "==" ? String(got) === f.value : got !== undefined && String(got) !== f.value) next.push(x);
        }
      }
    }
    cur = next;
  }
  return cur;
}
