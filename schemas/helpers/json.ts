// Parsed-JSON helpers every part of the tree shares (the server, the CLI, the printers, the
// schemas). One definition each, with its rule:
//
// isObj: a JSON object — not null, not an array.
//
// deepEqual: structural equality of JSON values. A key whose value is undefined counts as
// absent (JSON drops it, so {a: undefined} equals {}); arrays compare in order; null differs
// from absent. Close to Go's apiequality.Semantic.DeepEqual on decoded objects.

export function isObj(v: unknown): v is Record<string, any> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  // Counting instead of collecting keys: this runs on every write (managed fields, no-op checks).
  let n = 0;
  for (const k in a) {
    const v = (a as any)[k];
    if (v === undefined) continue;
    if (!deepEqual(v, (b as any)[k])) return false;
    n++;
  }
  for (const k in b) if ((b as any)[k] !== undefined) n--;
  return n === 0;
}
