// YAML text for objects, and where a Kubernetes field path ("spec.template.spec.containers[0].name",
// "metadata.labels[app]") sits in that text, so the server's field errors appear at their lines.
import { isMap, isScalar, isSeq, LineCounter, parseDocument, stringify, type Node } from "yaml";

export function toYaml(obj: unknown): string {
  return stringify(obj, { lineWidth: 0, aliasDuplicateObjects: false });
}

/** The object as shown (managed fields are bookkeeping nobody edits by hand). */
export function forView(o: any): any {
  const { managedFields: _m, ...metadata } = o.metadata ?? {};
  return { ...o, metadata };
}

/** The object as edited: what the user owns, plus resourceVersion so a stale edit is refused. */
export function forEdit(o: any): any {
  const { managedFields: _m, uid: _u, creationTimestamp: _c, generation: _g, selfLink: _s, ...metadata } = o.metadata ?? {};
  const { status: _st, ...rest } = o;
  return { ...rest, metadata };
}

export type Segment = string | number;

/** "a.b[0].c[key.with.dots]" → ["a", "b", 0, "c", "key.with.dots"]. */
export function parseFieldPath(path: string): Segment[] {
  const out: Segment[] = [];
  let cur = "";
  for (let i = 0; i < path.length; i++) {
    const ch = path[i]!;
    if (ch === ".") {
      if (cur) out.push(cur);
      cur = "";
    } else if (ch === "[") {
      if (cur) out.push(cur);
      cur = "";
      const end = path.indexOf("]", i);
      const inner = end < 0 ? path.slice(i + 1) : path.slice(i + 1, end);
      out.push(/^\d+$/.test(inner) ? Number(inner) : inner);
      i = end < 0 ? path.length : end;
    } else cur += ch;
  }
  if (cur) out.push(cur);
  return out;
}

export interface Parsed {
  value?: unknown;
  /** Syntax errors, with 0-based lines. */
  errors: { line: number; message: string }[];
  /** 0-based line of a field path: its own line, else its deepest ancestor present. */
  lineOf(path: string): { line: number; exact: boolean } | undefined;
}

export function parseYaml(text: string): Parsed {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  const lineAt = (offset: number) => lc.linePos(offset).line - 1;
  const errors = doc.errors.map((e) => ({ line: lineAt(e.pos[0]), message: e.message.split("\n")[0]! }));
  return {
    value: errors.length ? undefined : doc.toJS(),
    errors,
    lineOf(path) {
      let node: Node | null | undefined = doc.contents as Node | null;
      let line: number | undefined;
      const segs = parseFieldPath(path);
      for (let i = 0; i < segs.length; i++) {
        const seg = segs[i]!;
        if (isMap(node)) {
          const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(seg));
          if (!pair) return line === undefined ? undefined : { line, exact: false };
          const k = pair.key as Node;
          if (k?.range) line = lineAt(k.range[0]);
          node = pair.value as Node | null;
        } else if (isSeq(node) && typeof seg === "number") {
          const item = node.items[seg] as Node | undefined;
          if (!item) return line === undefined ? undefined : { line, exact: false };
          if (item.range) line = lineAt(item.range[0]);
          node = item;
        } else return line === undefined ? undefined : { line, exact: false };
      }
      return line === undefined ? undefined : { line, exact: true };
    },
  };
}
