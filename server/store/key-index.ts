// The in-memory index of live keys: resource → (namespace, name) → the revision of the key's
// current version, iterable in key order. state.db holds only the revision-ordered log of
// versions (state-machine.ts); keeping the key index here is what lets one write append one
// row and dirty no other B-tree page (etcd keeps its key index in memory for the same reason).
// It is rebuilt from the log when state.db is opened.

/** Namespace and name joined by NUL, which sorts below every character of either. */
const SEP = "\u0000";

export interface IndexedKey {
  ns: string;
  name: string;
  rev: number;
}

class ResKeys {
  readonly revs = new Map<string, number>();
  /** revs' keys in order; built on first use, then kept in order by set/delete. */
  sorted: string[] | undefined;

  ordered(): string[] {
    if (!this.sorted) this.sorted = [...this.revs.keys()].sort(cmp);
    return this.sorted;
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** First position in `xs` whose key is > k (strict) or >= k. */
function bound(xs: string[], k: string, strict: boolean): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const x = xs[mid]!;
    if (x < k || (strict && x === k)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class KeyIndex {
  private byRes = new Map<string, ResKeys>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(res: string, ns: string, name: string): number | undefined {
    return this.byRes.get(res)?.revs.get(ns + SEP + name);
  }

  /** Point the key at `rev`; returns the revision it had (undefined: a new key). */
  set(res: string, ns: string, name: string, rev: number): number | undefined {
    let r = this.byRes.get(res);
    if (!r) this.byRes.set(res, (r = new ResKeys()));
    const k = ns + SEP + name;
    const old = r.revs.get(k);
    r.revs.set(k, rev);
    if (old === undefined) {
      this.count++;
      if (r.sorted) r.sorted.splice(bound(r.sorted, k, false), 0, k);
    }
    return old;
  }

  /** Remove the key; returns the revision it had. */
  delete(res: string, ns: string, name: string): number | undefined {
    const r = this.byRes.get(res);
    if (!r) return undefined;
    const k = ns + SEP + name;
    const old = r.revs.get(k);
    if (old === undefined) return undefined;
    r.revs.delete(k);
    this.count--;
    if (r.sorted) r.sorted.splice(bound(r.sorted, k, false), 1);
    return old;
  }

  /** Live keys per resource. */
  counts(): { res: string; n: number }[] {
    return [...this.byRes].filter(([, r]) => r.revs.size > 0).map(([res, r]) => ({ res, n: r.revs.size }));
  }

  /** How many keys of `res` (in namespace `ns`, or all) come strictly after `after`. */
  countAfter(res: string, ns: string | undefined, after: { ns: string; name: string }): number {
    const r = this.byRes.get(res);
    if (!r) return 0;
    const xs = r.ordered();
    const from = bound(xs, (ns ?? after.ns) + SEP + after.name, true);
    // Keys of namespace ns sort before ns + "\u0001" (the separator is NUL).
    const to = ns !== undefined ? bound(xs, ns + "\u0001", false) : xs.length;
    return Math.max(0, to - from);
  }

  /**
   * Up to n keys of `res` in key order (namespace, name) — only namespace `ns` if given —
   * strictly after `after`.
   */
  scan(res: string, ns: string | undefined, after: { ns: string; name: string } | undefined, n: number): IndexedKey[] {
    const r = this.byRes.get(res);
    if (!r || n <= 0) return [];
    const xs = r.ordered();
    let i: number;
    if (ns !== undefined) i = after ? bound(xs, ns + SEP + after.name, true) : bound(xs, ns + SEP, false);
    else i = after ? bound(xs, after.ns + SEP + after.name, true) : 0;
    const out: IndexedKey[] = [];
    for (; i < xs.length && out.length < n; i++) {
      const k = xs[i]!;
      const cut = k.indexOf(SEP);
      const kns = k.slice(0, cut);
      if (ns !== undefined && kns !== ns) break;
      out.push({ ns: kns, name: k.slice(cut + 1), rev: r.revs.get(k)! });
    }
    return out;
  }

  clear(): void {
    this.byRes.clear();
    this.count = 0;
  }
}

export function joinKey(ns: string, name: string): string {
  return ns + SEP + name;
}

export function splitKey(k: string): { ns: string; name: string } {
  const cut = k.indexOf(SEP);
  return { ns: k.slice(0, cut), name: k.slice(cut + 1) };
}
