// Field sets for server-side apply, in the spirit of sigs.k8s.io/structured-merge-diff.
// A set is a flat Set<string> of paths; a path is its FieldsV1 keys ("f:spec",
// `k:{"name":"nginx"}`, `v:"x"`, "i:0") joined by SEP. Flat sets make union/difference cheap;
// FieldsV1 trees are only built when reading or writing metadata.managedFields.
import { getOwn } from "../../../schemas/json";
import type { ListTy, Ty } from "../../../schemas/dsl";
import { childType, isDeclared } from "./util";
import { deepEqual, isObj } from "../../../schemas/helpers/json";

export const SEP = "\u0000";
export type FieldSet = Set<string>;

export const join = (prefix: string, pe: string) => (prefix === "" ? pe : prefix + SEP + pe);

// ---- list semantics (x-kubernetes-list-type / patchStrategy) ----

interface ListSem {
  kind: "atomic" | "set" | "map";
  keys: readonly string[];
  elem: Ty | undefined;
}

const ATOMIC: ListSem = { kind: "atomic", keys: [], elem: undefined };

export function listSem(t: Ty | undefined): ListSem {
  if (t?.kind !== "list") return ATOMIC; // untyped lists are atomic, as in structured-merge-diff
  const lt = t as ListTy;
  if (lt.listType === "map") return { kind: "map", keys: lt.listMapKeys ?? (lt.patchMergeKey ? [lt.patchMergeKey] : []), elem: lt.of };
  if (lt.listType === "set") return { kind: "set", keys: [], elem: lt.of };
  if (lt.listType === "atomic") return ATOMIC;
  if ((lt.patchStrategy ?? "").includes("merge")) {
    return lt.patchMergeKey ? { kind: "map", keys: [lt.patchMergeKey], elem: lt.of } : { kind: "set", keys: [], elem: lt.of };
  }
  return ATOMIC;
}

/** Kubernetes defaults of list-map key fields (the key must match before and after defaulting). */
const KEY_DEFAULTS: Record<string, unknown> = { protocol: "TCP" };

export function itemPE(sem: ListSem, item: any, index: number): string {
  if (sem.kind === "map" && isObj(item)) {
    const key: Record<string, unknown> = {};
    for (const k of [...sem.keys].sort()) {
      const v = item[k] ?? KEY_DEFAULTS[k];
      if (v !== undefined) key[k] = v;
    }
    return "k:" + JSON.stringify(key);
  }
  if (sem.kind === "set") return "v:" + JSON.stringify(item);
  return "i:" + index;
}

// ---- which paths an object sets (the applied configuration's field set) ----

/** Fields never tracked in managedFields (structured-merge-diff's strip set). */
const STRIP_META = new Set(["name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp", "selfLink", "managedFields", "clusterName"]);
const STRIP_ROOT = new Set(["apiVersion", "kind"]);

function skip(prefix: string, key: string): boolean {
  if (prefix === "") return STRIP_ROOT.has(key);
  return prefix === "f:metadata" && STRIP_META.has(key);
}

const isContainer = (v: unknown) => typeof v === "object" && v !== null;
const isEmptyContainer = (v: any) => (Array.isArray(v) ? v.length === 0 : isObj(v) && Object.keys(v).length === 0);

export function toFieldSet(obj: any, root: Ty | undefined, out: FieldSet = new Set()): FieldSet {
  if (isObj(obj)) walkMap(obj, root, "", out);
  return out;
}

function walkMap(m: Record<string, any>, t: Ty | undefined, prefix: string, out: FieldSet): void {
  for (const k in m) {
    if (skip(prefix, k)) continue;
    const v = m[k];
    if (v === undefined) continue;
    const ct = childType(t, k);
    const p = join(prefix, "f:" + k);
    if (ct?.kind === "prim" || !isContainer(v) || isEmptyContainer(v)) {
      out.add(p);
      continue;
    }
    if (Array.isArray(v)) walkList(v, ct, p, out);
    else walkMap(v, ct, p, out);
    // Map entries (as opposed to struct fields) are members in their own right.
    if (!isDeclared(t, k) && !(prefix === "" && k === "metadata")) out.add(p);
  }
}

function walkList(l: any[], t: Ty | undefined, prefix: string, out: FieldSet): void {
  const sem = listSem(t);
  if (sem.kind === "atomic") {
    out.add(prefix);
    return;
  }
  for (let i = 0; i < l.length; i++) {
    const item = l[i];
    const p = join(prefix, itemPE(sem, item, i));
    out.add(p);
    if (isObj(item) && sem.kind === "map") walkMap(item, sem.elem, p, out);
  }
}

// ---- comparing two versions of an object ----

interface Comparison {
  added: FieldSet;
  modified: FieldSet;
  removed: FieldSet;
}

export function compare(a: any, b: any, root: Ty | undefined): Comparison {
  const c: Comparison = { added: new Set(), modified: new Set(), removed: new Set() };
  cmpMap(isObj(a) ? a : {}, isObj(b) ? b : {}, root, "", c);
  return c;
}

function leaf(a: any, b: any, p: string, c: Comparison): void {
  if (a === undefined) {
    if (b !== undefined) c.added.add(p);
  } else if (b === undefined) c.removed.add(p);
  else if (!deepEqual(a, b)) c.modified.add(p);
}

function cmpMap(a: Record<string, any> | undefined, b: Record<string, any> | undefined, t: Ty | undefined, prefix: string, c: Comparison): void {
  if (b) for (const k in b) if (!skip(prefix, k)) cmpNode(getOwn(a, k), b[k], childType(t, k), join(prefix, "f:" + k), c, isDeclared(t, k) || (prefix === "" && k === "metadata"));
  if (a) for (const k in a) if ((!b || !Object.hasOwn(b, k)) && !skip(prefix, k)) cmpNode(a[k], undefined, childType(t, k), join(prefix, "f:" + k), c, isDeclared(t, k));
}

/**
 * declared: the node is a struct field. Kubernetes objects are Go structs whose non-pointer
 * struct fields always exist, so a struct field coming into existence is not itself "added"
 * (no "." in FieldsV1); a map entry, list or list item is.
 */
function cmpNode(a: any, b: any, t: Ty | undefined, p: string, c: Comparison, declared: boolean): void {
  if (t?.kind === "prim") return leaf(a, b, p, c);
  const ao = isObj(a);
  const bo = isObj(b);
  const al = Array.isArray(a);
  const bl = Array.isArray(b);
  if ((a !== undefined && !ao && !al) || (b !== undefined && !bo && !bl) || (ao && bl) || (al && bo)) {
    // scalar on either side, or the shape changed
    if (!isContainer(a) && !isContainer(b)) return leaf(a, b, p, c);
    if (a !== undefined && b !== undefined) c.modified.add(p);
    if (isContainer(a)) cmpNode(a, undefined, t, p, c, false);
    else if (a !== undefined && b === undefined) c.removed.add(p);
    if (isContainer(b)) cmpNode(undefined, b, t, p, c, false);
    else if (b !== undefined && a === undefined) c.added.add(p);
    return;
  }
  const aEmpty = a === undefined || isEmptyContainer(a);
  const bEmpty = b === undefined || isEmptyContainer(b);
  if (aEmpty && bEmpty) return leaf(a, b, p, c);
  if (ao || bo) {
    if (a === undefined && !declared) c.added.add(p);
    else if (b === undefined) c.removed.add(p);
    cmpMap(a, b, t, p, c);
    return;
  }
  // lists
  const sem = listSem(t);
  if (sem.kind === "atomic") return leaf(a, b, p, c);
  if (a === undefined) c.added.add(p);
  else if (b === undefined) c.removed.add(p);
  const la: any[] = a ?? [];
  const lb: any[] = b ?? [];
  const byKey = new Map<string, any>();
  for (let i = 0; i < la.length; i++) byKey.set(itemPE(sem, la[i], i), la[i]);
  const seen = new Set<string>();
  for (let i = 0; i < lb.length; i++) {
    const pe = itemPE(sem, lb[i], i);
    seen.add(pe);
    const ip = join(p, pe);
    const old = byKey.get(pe);
    if (old === undefined) c.added.add(ip);
    if (sem.kind === "set") continue;
    if (isObj(lb[i]) || isObj(old)) cmpMap(isObj(old) ? old : undefined, isObj(lb[i]) ? lb[i] : undefined, sem.elem, ip, c);
    else leaf(old, lb[i], ip, c);
  }
  for (const [pe, old] of byKey) {
    if (seen.has(pe)) continue;
    const ip = join(p, pe);
    c.removed.add(ip);
    if (sem.kind !== "set" && isObj(old)) cmpMap(old, undefined, sem.elem, ip, c);
  }
}

// ---- FieldsV1 <-> FieldSet ----

export function decodeFieldsV1(tree: unknown, prefix = "", out: FieldSet = new Set()): FieldSet {
  if (!isObj(tree)) return out;
  for (const k in tree) {
    if (k === ".") {
      if (prefix !== "") out.add(prefix);
      continue;
    }
    const p = join(prefix, k);
    const sub = tree[k];
    let children = false;
    if (isObj(sub)) for (const _ in sub) { children = true; break; }
    if (children) decodeFieldsV1(sub, p, out);
    else out.add(p);
  }
  return out;
}

interface Node {
  member: boolean;
  kids: Map<string, Node> | undefined;
}

const PE_RANK: Record<string, number> = { f: 0, k: 1, v: 2, i: 3 };
function peLess(a: string, b: string): number {
  const ra = PE_RANK[a[0]!] ?? 4;
  const rb = PE_RANK[b[0]!] ?? 4;
  if (ra !== rb) return ra - rb;
  return a < b ? -1 : a > b ? 1 : 0;
}

export function encodeFieldsV1(set: FieldSet): Record<string, any> {
  const root: Node = { member: false, kids: new Map() };
  for (const path of set) {
    let n = root;
    for (const pe of path.split(SEP)) {
      n.kids ??= new Map();
      let next = n.kids.get(pe);
      if (!next) n.kids.set(pe, (next = { member: false, kids: undefined }));
      n = next;
    }
    n.member = true;
  }
  const emit = (n: Node): Record<string, any> => {
    const out: Record<string, any> = {};
    if (!n.kids || n.kids.size === 0) return out;
    if (n.member) out["."] = {};
    for (const k of [...n.kids.keys()].sort(peLess)) out[k] = emit(n.kids.get(k)!);
    return out;
  };
  return emit(root);
}

// ---- human-readable paths (conflict messages): .spec.containers[name="nginx"].image ----

export function pathString(path: string): string {
  let s = "";
  for (const pe of path.split(SEP)) {
    const body = pe.slice(2);
    switch (pe[0]) {
      case "f":
        s += "." + body;
        break;
      case "k": {
        let key: Record<string, unknown> = {};
        try {
          key = JSON.parse(body);
        } catch {}
        s += "[" + Object.entries(key).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(",") + "]";
        break;
      }
      case "v":
        s += "[=" + body + "]";
        break;
      default:
        s += "[" + body + "]";
    }
  }
  return s;
}

// ---- removing paths from an object (apply's pruning of fields the applier gave up) ----

/** Remove the value at path; returns false when it is not there. Removes list items by key. */
export function removePath(obj: any, path: string, root: Ty | undefined): boolean {
  const pes = path.split(SEP);
  const chain: { container: any; key: string | number }[] = [];
  let cur: any = obj;
  let t: Ty | undefined = root;
  for (const pe of pes) {
    if (pe.startsWith("f:")) {
      if (!isObj(cur)) return false;
      const k = pe.slice(2);
      if (!Object.hasOwn(cur, k)) return false;
      chain.push({ container: cur, key: k });
      cur = cur[k];
      t = childType(t, k);
    } else {
      if (!Array.isArray(cur)) return false;
      const sem = listSem(t);
      const idx = cur.findIndex((item, i) => itemPE(sem.kind === "atomic" ? { ...sem, kind: pe[0] === "v" ? "set" : pe[0] === "k" ? "map" : "atomic" } : sem, item, i) === pe);
      if (idx < 0) return false;
      chain.push({ container: cur, key: idx });
      cur = cur[idx];
      t = sem.elem;
    }
  }
  const last = chain.pop()!;
  if (Array.isArray(last.container)) last.container.splice(last.key as number, 1);
  else delete last.container[last.key as string];
  // Go serialization omits empty maps and lists; do not leave empty shells behind.
  while (chain.length > 1) {
    const up = chain[chain.length - 1]!;
    const v = Array.isArray(up.container) ? up.container[up.key as number] : up.container[up.key as string];
    if (!isEmptyContainer(v) || Array.isArray(up.container)) break;
    delete up.container[up.key as string];
    chain.pop();
  }
  return true;
}
