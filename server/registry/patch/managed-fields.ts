// metadata.managedFields bookkeeping: who owns which fields. Mirrors the apiserver's
// fieldmanager (k8s.io/apimachinery/pkg/util/managedfields) for Update operations.
import type { ObjTy } from "../../../schemas/dsl";
import { type FieldSet, compare, decodeFieldsV1, encodeFieldsV1 } from "./fieldpath";
import { isObj } from "../../../schemas/helpers/json";

export interface ManagedFieldsEntry {
  manager: string;
  operation: "Apply" | "Update";
  apiVersion?: string;
  time?: string;
  fieldsType: "FieldsV1";
  fieldsV1: Record<string, any>;
  subresource?: string;
}

export interface Manager {
  manager: string;
  operation: "Apply" | "Update";
  apiVersion: string;
  subresource: string;
  time: string | undefined;
  /** The original entry while the set is unchanged (so it is re-emitted as is). */
  entry: any | undefined;
  set: FieldSet;
}

/** Identity of a managedFields entry: Apply entries are one per manager, Update entries one per manager and apiVersion. */
export function managerKey(m: { manager: string; operation: string; apiVersion?: string; subresource?: string }): string {
  return JSON.stringify([m.manager, m.operation, m.operation === "Apply" ? "" : (m.apiVersion ?? ""), m.subresource ?? ""]);
}

export function decodeManagers(entries: unknown): Manager[] {
  if (!Array.isArray(entries)) return [];
  const out: Manager[] = [];
  for (const e of entries) {
    if (!isObj(e) || typeof e.manager !== "string") continue;
    out.push({
      manager: e.manager,
      operation: e.operation === "Apply" ? "Apply" : "Update",
      apiVersion: typeof e.apiVersion === "string" ? e.apiVersion : "",
      subresource: typeof e.subresource === "string" ? e.subresource : "",
      time: typeof e.time === "string" ? e.time : undefined,
      entry: e,
      set: decodeFieldsV1(e.fieldsV1),
    });
  }
  return out;
}

export function encodeManagers(ms: Manager[]): ManagedFieldsEntry[] {
  const live = ms.filter((m) => m.set.size > 0);
  live.sort((p, q) => {
    if (p.operation !== q.operation) return p.operation < q.operation ? -1 : 1;
    const pt = p.time ?? "";
    const qt = q.time ?? "";
    if (pt !== qt) return pt < qt ? -1 : 1;
    if (p.manager !== q.manager) return p.manager < q.manager ? -1 : 1;
    if (p.apiVersion !== q.apiVersion) return p.apiVersion < q.apiVersion ? -1 : 1;
    return p.subresource < q.subresource ? -1 : p.subresource > q.subresource ? 1 : 0;
  });
  return live.map((m) => {
    if (m.entry) return m.entry;
    const e: ManagedFieldsEntry = { manager: m.manager, operation: m.operation, apiVersion: m.apiVersion, time: m.time, fieldsType: "FieldsV1", fieldsV1: encodeFieldsV1(m.set) };
    if (m.subresource) e.subresource = m.subresource;
    return e;
  });
}

export function setMinus(set: FieldSet, remove: FieldSet): boolean {
  let changed = false;
  if (set.size === 0 || remove.size === 0) return false;
  if (remove.size < set.size) {
    for (const p of remove) if (set.delete(p)) changed = true;
  } else {
    for (const p of set) if (remove.has(p)) changed = set.delete(p) || changed;
  }
  return changed;
}

/**
 * The managers to start from: the request object's managedFields when it carries some (a client
 * may set them; `[{}]` resets them), otherwise the live object's.
 */
function managersFor(oldObj: any, newObj: any): Manager[] {
  const req = newObj?.metadata?.managedFields;
  if (Array.isArray(req) && req.length === 1 && isObj(req[0]) && Object.keys(req[0]).length === 0) return [];
  if (Array.isArray(req) && req.length > 0 && req !== oldObj?.metadata?.managedFields) {
    const ms = decodeManagers(req);
    if (ms.length > 0) return ms;
  }
  return decodeManagers(oldObj?.metadata?.managedFields);
}

export function recordUpdate(
  oldObj: any | undefined,
  newObj: any,
  opts: { manager: string; apiVersion: string; now: string; root: ObjTy | undefined; subresource?: string },
): any[] {
  const managers = managersFor(oldObj, newObj);
  const c = compare(oldObj, newObj, opts.root);
  const changed: FieldSet = c.added;
  for (const p of c.modified) changed.add(p);
  if (changed.size === 0 && c.removed.size === 0) return encodeManagers(managers);

  const key = managerKey({ manager: opts.manager, operation: "Update", apiVersion: opts.apiVersion, subresource: opts.subresource });
  let mine: Manager | undefined;
  for (const m of managers) {
    if (managerKey(m) === key) {
      mine = m;
      continue;
    }
    // Others lose what this write changed (a non-apply write always wins) and what it removed.
    const a = setMinus(m.set, changed);
    const b = setMinus(m.set, c.removed);
    if (a || b) m.entry = undefined;
  }
  if (mine) setMinus(mine.set, c.removed);
  let took = 0;
  for (const p of changed) if (!c.removed.has(p)) took++;
  if (took > 0) {
    if (!mine) {
      mine = { manager: opts.manager, operation: "Update", apiVersion: opts.apiVersion, subresource: opts.subresource ?? "", time: opts.now, entry: undefined, set: new Set() };
      managers.push(mine);
    }
    for (const p of changed) mine.set.add(p);
    mine.time = opts.now;
    mine.entry = undefined;
  } else if (mine && c.removed.size > 0) mine.entry = undefined;
  return encodeManagers(managers);
}
