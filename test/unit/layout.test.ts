// The tree's layering rules (issue 11, DESIGN.md): outside server/api/ only the server's entry
// point imports the HTTP layer; the agent and the server never import each other; and no
// value-level import cycle exists (a cycle makes module order decide what is defined when).
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "../..");
const DIRS = ["agent", "cli", "lib", "schemas", "server"];

function sources(): string[] {
  const out: string[] = [];
  for (const d of DIRS) for (const f of new Bun.Glob("**/*.ts").scanSync({ cwd: join(ROOT, d) })) out.push(`${d}/${f}`);
  return out.sort();
}

/** Relative imports of a file that exist at run time (`import type` and `export type` erased). */
function valueImports(file: string): string[] {
  const text = readFileSync(join(ROOT, file), "utf8");
  const out: string[] = [];
  const re = /^\s*(?:import|export)\s+(type\s+)?(?:[^'"]*?\s+from\s+)?["'](\.[^"']+)["']|import\(\s*["'](\.[^"']+)["']\s*\)/gm;
  for (const m of text.matchAll(re)) {
    if (m[1]) continue;
    // `import { type A, type B } from` is erased too.
    const clause = /\{([^}]*)\}/.exec(m[0])?.[1];
    if (clause && clause.split(",").every((x) => !x.trim() || x.trim().startsWith("type "))) continue;
    const spec = m[2] ?? m[3]!;
    let target = relative(ROOT, resolve(ROOT, dirname(file), spec));
    if (!target.endsWith(".ts")) target += ".ts";
    out.push(target);
  }
  return out;
}

const files = sources();
const known = new Set(files);
const graph = new Map(files.map((f) => [f, valueImports(f).filter((t) => known.has(t))]));

test("outside server/api/ only server/main.ts imports the HTTP layer", () => {
  const offenders = files.filter((f) => !f.startsWith("server/api/") && f !== "server/main.ts" && graph.get(f)!.some((t) => t.startsWith("server/api/")));
  expect(offenders).toEqual([]);
});

test("the agent and the server never import each other", () => {
  const bad = files.filter((f) => (f.startsWith("agent/") && graph.get(f)!.some((t) => t.startsWith("server/"))) || (f.startsWith("server/") && graph.get(f)!.some((t) => t.startsWith("agent/"))));
  expect(bad).toEqual([]);
});

test("no value-level import cycle", () => {
  // Tarjan's strongly connected components; any component of two or more files is a cycle.
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)!) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || graph.get(v)!.includes(v)) cycles.push(comp.sort());
    }
  };
  for (const f of files) if (!index.has(f)) visit(f);
  expect(cycles).toEqual([]);
});
