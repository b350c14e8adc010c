// Strategic merge patch, following k8s.io/apimachinery/pkg/util/strategicpatch (server side:
// MergeParallelList and IgnoreUnmatchedNulls on). The patch metadata (patchStrategy,
// patchMergeKey) comes from the DSL types; fields without metadata merge like JSON merge patch
// for maps and replace for lists.
import { getOwn, setOwn } from "../../../schemas/json";
import type { ListTy, ObjTy, Ty } from "../../../schemas/dsl";
import { PatchError, badRequest, invalid } from "./errors";
import { childType, clone, fieldOf } from "./util";
import { deepEqual, isObj } from "../../../schemas/helpers/json";

const DIRECTIVE = "$patch";
const RETAIN_KEYS = "$retainKeys";
const SET_ORDER = "$setElementOrder/";
const DELETE_PRIMITIVE = "$deleteFromPrimitiveList/";

interface ListMeta {
  strategy: string; // "merge" | "replace" | ""
  mergeKey?: string;
  elem?: Ty;
}

function listMeta(parent: Ty | undefined, key: string): ListMeta {
  const t = childType(parent, key);
  if (t?.kind !== "list") return { strategy: "" };
  const lt = t as ListTy;
  const strategies = (lt.patchStrategy ?? "").split(",");
  return { strategy: strategies.includes("merge") ? "merge" : strategies.includes("replace") ? "replace" : "", mergeKey: lt.patchMergeKey, elem: lt.of };
}

function mapStrategy(parent: Ty | undefined, key: string): string {
  const ps = fieldOf(parent, key)?.patchStrategy ?? "";
  return ps.split(",").includes("replace") ? "replace" : "";
}

export function applyStrategicPatch(live: any, patch: unknown, root: ObjTy | undefined): any {
  if (!root)
    throw new PatchError(
      415,
      "UnsupportedMediaType",
      "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
    );
  if (!isObj(patch)) throw badRequest("strategic merge patch must be a JSON object");
  const original = isObj(live) ? clone(live) : {};
  return mergeMap(original, clone(patch), root);
}

/** Merge patch into original (both owned: mutated freely). */
function mergeMap(original: Record<string, any>, patch: Record<string, any>, t: Ty | undefined): Record<string, any> {
  if (DIRECTIVE in patch) {
    const d = patch[DIRECTIVE];
    if (d === "replace") {
      delete patch[DIRECTIVE];
      return mergeMap({}, patch, t);
    }
    if (d === "delete") return {};
    if (d !== "merge") throw invalid(`unknown patch type: ${JSON.stringify(d)} in map: ${JSON.stringify(patch)}`);
    delete patch[DIRECTIVE];
  }
  applyRetainKeys(original, patch);
  mergeSetElementOrder(original, patch, t);

  for (let k in patch) {
    if (k.startsWith(SET_ORDER)) continue;
    let patchV = patch[k];
    let isDeleteList = false;
    if (k.startsWith(DELETE_PRIMITIVE)) {
      k = k.slice(DELETE_PRIMITIVE.length);
      isDeleteList = true;
      if (!Array.isArray(patchV)) throw invalid(`${DELETE_PRIMITIVE}${k} must be a list`);
    } else if (k.startsWith("$")) {
      continue; // unknown directive: ignore rather than store it in the object
    }
    if (patchV === null) {
      delete original[k];
      continue;
    }
    const origV = getOwn(original, k);
    if (origV === undefined || origV === null) {
      if (!isDeleteList) setOwn(original, k, fresh(patchV, t, k));
      continue;
    }
    if (isObj(origV) && isObj(patchV)) {
      setOwn(original, k, mapStrategy(t, k) === "replace" ? fresh(patchV, t, k) : mergeMap(origV, patchV, childType(t, k)));
    } else if (Array.isArray(origV) && Array.isArray(patchV)) {
      const lm = listMeta(t, k);
      if (isDeleteList) setOwn(original, k, deleteFromSlice(origV, patchV));
      else if (lm.strategy === "merge") setOwn(original, k, mergeSlice(origV, patchV, lm));
      else setOwn(original, k, fresh(patchV, t, k));
    } else if (!isDeleteList) {
      setOwn(original, k, fresh(patchV, t, k));
    }
  }
  return original;
}

/**
 * A patch value for a field the original does not have: Kubernetes stores the patch value
 * as is; we merge it into nothing so directives and nulls inside it do not end up in the object.
 */
function fresh(patchV: any, parent: Ty | undefined, key: string): any {
  if (isObj(patchV)) return mergeMap({}, patchV, childType(parent, key));
  if (Array.isArray(patchV)) {
    const lm = listMeta(parent, key);
    if (lm.strategy === "merge") return mergeSlice([], patchV, lm);
    return patchV.map((v) => (isObj(v) ? mergeMap({}, v, lm.elem) : v));
  }
  return patchV;
}

function applyRetainKeys(original: Record<string, any>, patch: Record<string, any>): void {
  if (!(RETAIN_KEYS in patch)) return;
  const list = patch[RETAIN_KEYS];
  delete patch[RETAIN_KEYS];
  if (!Array.isArray(list)) throw invalid(`${RETAIN_KEYS} must be a list`);
  const keep = new Set(list);
  for (const k in patch) {
    const v = patch[k];
    if (v === null || k.startsWith(DELETE_PRIMITIVE) || k.startsWith(SET_ORDER) || k === DIRECTIVE) continue;
    if (!keep.has(k)) throw invalid("doesn't match the retainKeys list: all the fields in the patch must be present in $retainKeys");
  }
  for (const k of Object.keys(original)) if (!keep.has(k)) delete original[k];
}

// ---- lists ----

function keyOf(item: any, mergeKey: string | undefined): unknown {
  return mergeKey && isObj(item) ? item[mergeKey] : item;
}

function indexIn(list: any[], item: any, mergeKey: string | undefined): number {
  const k = keyOf(item, mergeKey);
  for (let i = 0; i < list.length; i++) if (deepEqual(keyOf(list[i], mergeKey), k)) return i;
  return -1;
}

function deleteFromSlice(original: any[], toDelete: any[]): any[] {
  return original.filter((v) => !toDelete.some((d) => deepEqual(d, v)));
}

function isMapList(a: any[], b: any[]): boolean {
  return a.some(isObj) || b.some(isObj);
}

function mergeSlice(original: any[], patch: any[], lm: ListMeta): any[] {
  if (original.length === 0 && patch.length === 0) return original;
  const maps = isMapList(original, patch);
  let merged: any[];
  let patchItems: any[];
  let serverOrder: any[];
  if (!maps) {
    merged = dedupe([...original, ...patch]);
    patchItems = patch;
    serverOrder = original;
  } else {
    const mk = lm.mergeKey;
    if (!mk) throw invalid(`cannot merge lists without merge key`);
    const special = mergeSliceWithSpecialElements(original, patch, mk, lm.elem);
    serverOrder = special.original.slice();
    merged = special.original;
    for (const p of special.patch) {
      if (!isObj(p) || !(mk in p)) throw invalid(`map: ${JSON.stringify(p)} does not contain declared merge key: ${mk}`);
      const i = indexIn(merged, p, mk);
      if (i >= 0) merged[i] = mergeMap(isObj(merged[i]) ? merged[i] : {}, p, lm.elem);
      else merged.push(mergeMap({}, p, lm.elem));
    }
    patchItems = special.patch;
  }
  const [inPatch, serverOnly] = partition(merged, patchItems, maps ? lm.mergeKey : undefined);
  return normalizeElementOrder(inPatch, serverOnly, patchItems, serverOrder, maps ? lm.mergeKey : undefined);
}

function dedupe(list: any[]): any[] {
  const out: any[] = [];
  for (const v of list) if (!out.some((o) => deepEqual(o, v))) out.push(v);
  return out;
}

function mergeSliceWithSpecialElements(original: any[], patch: any[], mk: string, elem: Ty | undefined): { original: any[]; patch: any[] } {
  const plain: any[] = [];
  let replace = false;
  for (const v of patch) {
    if (isObj(v) && DIRECTIVE in v) {
      const d = v[DIRECTIVE];
      if (d === "delete") {
        if (!(mk in v)) throw invalid(`map: ${JSON.stringify(v)} does not contain declared merge key: ${mk}`);
        original = original.filter((o) => !(isObj(o) && deepEqual(o[mk], v[mk])));
      } else if (d === "replace") replace = true;
      else if (d === "merge") throw invalid("merging lists cannot yet be specified in the patch");
      else throw invalid(`unknown patch type: ${JSON.stringify(d)} in map: ${JSON.stringify(v)}`);
    } else plain.push(v);
  }
  if (replace) return { original: plain.map((p) => (isObj(p) ? mergeMap({}, p, elem) : p)), patch: [] };
  return { original, patch: plain };
}

function partition(merged: any[], order: any[], mk: string | undefined): [any[], any[]] {
  const inPatch: any[] = [];
  const serverOnly: any[] = [];
  for (const v of merged) (indexIn(order, v, mk) >= 0 ? inPatch : serverOnly).push(v);
  return [inPatch, serverOnly];
}

/** Patch items in patch order, server-only items kept where they were relative to them. */
function normalizeElementOrder(patchItems: any[], serverOnly: any[], patchOrder: any[], serverOrder: any[], mk: string | undefined): any[] {
  const byOrder = (order: any[]) => (a: any, b: any) => {
    const ia = indexIn(order, a, mk);
    const ib = indexIn(order, b, mk);
    return ia >= 0 && ib >= 0 ? ia - ib : 0;
  };
  const left = serverOnly.slice().sort(byOrder(serverOrder));
  const right = patchItems.slice().sort(byOrder(patchOrder));
  const out: any[] = [];
  let i = 0;
  let j = 0;
  while (i < left.length || j < right.length) {
    if (i >= left.length) out.push(right[j++]);
    else if (j >= right.length) out.push(left[i++]);
    else {
      const li = indexIn(serverOrder, left[i], mk);
      const ri = indexIn(serverOrder, right[j], mk);
      if (li >= 0 && ri >= 0 && li < ri) out.push(left[i++]);
      else out.push(right[j++]);
    }
  }
  return out;
}

/** `$setElementOrder/<field>`: merge that list now and order it as the directive says. */
function mergeSetElementOrder(original: Record<string, any>, patch: Record<string, any>, t: Ty | undefined): void {
  for (const key of Object.keys(patch)) {
    if (!key.startsWith(SET_ORDER)) continue;
    const order = patch[key];
    delete patch[key];
    if (!Array.isArray(order)) throw invalid(`${key} must be a list`);
    const field = key.slice(SET_ORDER.length);
    const lm = listMeta(t, field);
    const origList = Array.isArray(getOwn(original, field)) ? (original[field] as any[]) : undefined;
    const patchList = Array.isArray(patch[field]) ? (patch[field] as any[]) : undefined;
    if (patch[field] === null) continue; // the field is deleted by the main loop
    if (!origList && !patchList) continue;
    let merged: any[];
    if (!origList) merged = lm.strategy === "merge" ? mergeSlice([], patchList!, lm) : fresh(patchList, t, field);
    else if (!patchList) merged = origList;
    else merged = lm.strategy === "merge" ? mergeSlice(origList, patchList, lm) : fresh(patchList, t, field);
    const maps = isMapList(merged, order);
    const mk = maps ? lm.mergeKey : undefined;
    if (maps && !mk) throw invalid(`cannot merge lists without merge key for ${field}`);
    const [inOrder, serverOnly] = partition(merged, order, mk);
    setOwn(original, field, normalizeElementOrder(inOrder, serverOnly, order, origList ?? [], mk));
    delete patch[field];
  }
}
