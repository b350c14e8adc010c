// The subset of kubectl's JSONPath templates people use: {.a.b}, [n], [*], ['k'], ..name,
// [?(@.f=="v")] filters, {range X}...{end}, {"literal"}; also -o custom-columns.
import { UsageError } from "./common";

type Node = { kind: "text"; text: string } | { kind: "expr"; path: string } | { kind: "range"; path: string; body: Node[] };

function parseTemplate(tpl: string): Node[] {
  const stack: Node[][] = [[]];
  const ranges: { path: string }[] = [];
  let i = 0;
  while (i < tpl.length) {
    const open = tpl.indexOf("{", i);
    if (open < 0) {
      stack.at(-1)!.push({ kind: "text", text: tpl.slice(i) });
      break;
    }
    if (open > i) stack.at(-1)!.push({ kind: "text", text: tpl.slice(i, open) });
    // Find the matching "}" outside quotes.
    let j = open + 1;
    let quote = "";
    for (; j < tpl.length; j++) {
      const ch = tpl[j]!;
      if (quote) {
        if (ch === "\\") j++;
        else if (ch === quote) quote = "";
      } else if (ch === '"' || ch === "'") quote = ch;
      else if (ch === "}") break;
    }
    if (j >= tpl.length) throw new UsageError(`error parsing jsonpath ${tpl}, unclosed action`);
    const inner = tpl.slice(open + 1, j).trim();
    i = j + 1;
    if (inner.startsWith("range ")) {
      ranges.push({ path: inner.slice(6).trim() });
      stack.push([]);
    } else if (inner === "end") {
      const r = ranges.pop();
      if (!r) throw new UsageError(`error parsing jsonpath ${tpl}, not in range, nothing to end`);
      const body = stack.pop()!;
      stack.at(-1)!.push({ kind: "range", path: r.path, body });
    } else if (/^".*"$/s.test(inner) || /^'.*'$/s.test(inner)) {
      stack.at(-1)!.push({ kind: "text", text: unescape(inner.slice(1, -1)) });
    } else stack.at(-1)!.push({ kind: "expr", path: inner });
  }
  if (ranges.length) throw new UsageError(`error parsing jsonpath ${tpl}, unclosed range`);
  return stack[0]!;
}

function unescape(s: string): string {
  return s.replace(/\\([ntr\\"'])/g, (_, c) => ({ n: "\n", t: "\t", r: "\r" })[c as "n"] ?? c);
}

/** Evaluate a path like `.items[*].metadata.name` against `root`; `@` is the current node. */
export function evalPath(path: string, cur: unknown, root: unknown = cur): unknown[] {
  let p = path.trim();
  let nodes: unknown[];
  if (p.startsWith("$")) {
    nodes = [root];
    p = p.slice(1);
  } else if (p.startsWith("@")) {
    nodes = [cur];
    p = p.slice(1);
  } else nodes = [cur];
  let i = 0;
  const flat = (xs: unknown[]) => xs.filter((x) => x !== undefined);
  while (i < p.length) {
    if (p.startsWith("..", i)) {
      i += 2;
      const m = /^[\w-]+/.exec(p.slice(i));
      if (!m) throw new UsageError(`unrecognized jsonpath ${path}`);
      i += m[0].length;
      const found: unknown[] = [];
      const walk = (v: any) => {
        if (v && typeof v === "object") {
          if (!Array.isArray(v) && m[0] in v) found.push(v[m[0]]);
          for (const x of Object.values(v)) walk(x);
        }
      };
      nodes.forEach(walk);
      nodes = found;
    } else if (p[i] === ".") {
      i++;
      const m = /^[^.[\]]*/.exec(p.slice(i))!;
      i += m[0].length;
      if (m[0] === "") continue;
      nodes = flat(nodes.map((n: any) => (n && typeof n === "object" && !Array.isArray(n) ? n[m[0]] : undefined)));
    } else if (p[i] === "[") {
      const close = findClose(p, i);
      const sel = p.slice(i + 1, close).trim();
      i = close + 1;
      if (sel === "*") nodes = nodes.flatMap((n: any) => (Array.isArray(n) ? n : n && typeof n === "object" ? Object.values(n) : []));
      else if (sel.startsWith("?(") && sel.endsWith(")")) {
        const cond = sel.slice(2, -1).trim();
        nodes = nodes.flatMap((n: any) => (Array.isArray(n) ? n : [])).filter((item) => filterMatch(cond, item, root));
      } else if (/^'.*'$|^".*"$/.test(sel)) {
        const key = sel.slice(1, -1);
        nodes = flat(nodes.map((n: any) => (n && typeof n === "object" ? n[key] : undefined)));
      } else if (/^-?\d*:-?\d*$/.test(sel)) {
        const [a, b] = sel.split(":");
        nodes = nodes.flatMap((n: any) => (Array.isArray(n) ? n.slice(a ? Number(a) : 0, b ? Number(b) : undefined) : []));
      } else if (/^-?\d+$/.test(sel)) {
        const k = Number(sel);
        nodes = flat(nodes.map((n: any) => (Array.isArray(n) ? n[k < 0 ? n.length + k : k] : undefined)));
      } else throw new UsageError(`unrecognized identifier ${sel} in jsonpath ${path}`);
    } else {
      // A bare first name ("metadata.name") is allowed, like kubectl's relaxed mode.
      const m = /^[^.[\]]+/.exec(p.slice(i))!;
      i += m[0].length;
      nodes = flat(nodes.map((n: any) => (n && typeof n === "object" ? n[m[0]] : undefined)));
    }
  }
  return nodes;
}

function findClose(p: string, open: number): number {
  let depth = 0;
  let quote = "";
  for (let j = open; j < p.length; j++) {
    const ch = p[j]!;
    if (quote) {
      if (ch === quote) quote = "";
    } else if (ch === '"' || ch === "'") quote = ch;
    else if (ch === "[") depth++;
    else if (ch === "]" && --depth === 0) return j;
  }
  throw new UsageError(`unclosed [ in jsonpath ${p}`);
}

function filterMatch(cond: string, item: unknown, root: unknown): boolean {
  const m = /^(.+?)\s*(==|!=|<=|>=|<|>)\s*(.+)$/.exec(cond);
  if (!m) return evalPath(cond, item, root).length > 0;
  const left = evalPath(m[1]!, item, root)[0];
  const rawRight = m[3]!.trim();
  const right = /^'.*'$|^".*"$/.test(rawRight) ? rawRight.slice(1, -1) : /^-?\d+(\.\d+)?$/.test(rawRight) ? Number(rawRight) : evalPath(rawRight, item, root)[0];
  const l = typeof right === "number" && typeof left === "string" ? Number(left) : left;
  switch (m[2]) {
    case "==":
      return String(l) === String(right);
    case "!=":
      return String(l) !== String(right);
    case "<":
      return (l as number) < (right as number);
    case ">":
      return (l as number) > (right as number);
    case "<=":
      return (l as number) <= (right as number);
    default:
      return (l as number) >= (right as number);
  }
}

function show(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** Render a kubectl JSONPath template against an object. */
export function jsonpath(template: string, obj: unknown): string {
  let tpl = template.trim();
  if (!tpl.includes("{")) tpl = `{${tpl}}`;
  const nodes = parseTemplate(tpl);
  const render = (ns: Node[], cur: unknown): string =>
    ns
      .map((n) => {
        if (n.kind === "text") return n.text;
        if (n.kind === "expr") return evalPath(n.path, cur, obj).map(show).join(" ");
        return evalPath(n.path, cur, obj)
          .map((x) => render(n.body, x))
          .join("");
      })
      .join("");
  return render(nodes, obj);
}

/** -o custom-columns=NAME:.metadata.name,IMAGE:.spec.containers[*].image */
export function customColumns(spec: string, objs: unknown[]): string[][] {
  const cols = spec.split(",").map((c) => {
    const colon = c.indexOf(":");
    if (colon <= 0) throw new UsageError(`unexpected custom-columns spec: ${c}, expected <header>:<json-path-expr>`);
    let path = c.slice(colon + 1).trim();
    if (path.startsWith("{") && path.endsWith("}")) path = path.slice(1, -1);
    return { header: c.slice(0, colon), path };
  });
  const rows = [cols.map((c) => c.header)];
  for (const o of objs) {
    rows.push(
      cols.map((c) => {
        const vs = evalPath(c.path.startsWith(".") || c.path.startsWith("$") ? c.path : `.${c.path}`, o, o);
        return vs.length ? vs.map(show).join(",") : "<none>";
      }),
    );
  }
  return rows;
}
