// Server-side apply (application/apply-patch+yaml), after structured-merge-diff's Updater.Apply:
// merge the configuration into the live object, detect conflicts with other managers, hand the
// configuration's fields to the applier, and prune what the applier applied before but no
// longer does (unless someone else owns it).
import { getOwn, setOwn } from "../../../schemas/json";
import type { ObjTy, Ty } from "../../../schemas/dsl";
import { PatchError, badRequest } from "./errors";
import { type FieldSet, compare, itemPE, listSem, pathString, removePath, SEP, toFieldSet } from "./fieldpath";
import { type Manager, decodeManagers, encodeManagers, managerKey, setMinus } from "./managed-fields";
import { childType, clone } from "./util";
import { deepEqual, isObj } from "../../../schemas/helpers/json";

interface ApplyOptions {
  manager: string;
  force: boolean;
  apiVersion: string;
  now: string;
  root: ObjTy | undefined;
  subresource?: string;
}

const BEFORE_FIRST_APPLY = "before-first-apply";

export function serverSideApply(live: any | undefined, config: any, opts: ApplyOptions): any {
  if (!isObj(config)) throw badRequest("apply configuration must be a JSON or YAML object");
  if (config.metadata?.managedFields != null) throw badRequest("metadata.managedFields must be nil");
  if (config.metadata != null && !isObj(config.metadata)) throw badRequest("metadata must be an object");
  const cfg = clone(config);
  // A main-resource apply cannot change status and a status apply cannot change anything but status.
  if (opts.subresource === "status") {
    for (const k of Object.keys(cfg)) if (!["apiVersion", "kind", "metadata", "status"].includes(k)) delete cfg[k];
  } else if (!opts.subresource) delete cfg.status;

  if (isObj(cfg.metadata)) {
    // System fields are the server's; an apply configuration (often `creationTimestamp: null`)
    // must not erase them. resourceVersion/uid are left for the API layer's preconditions.
    for (const k of ["creationTimestamp", "generation", "selfLink", "managedFields", "deletionTimestamp", "deletionGracePeriodSeconds"]) delete cfg.metadata[k];
    for (const k of ["resourceVersion", "uid"]) if (cfg.metadata[k] === null) delete cfg.metadata[k];
  }
  const root = opts.root;
  const base: Record<string, any> = live ? clone(live) : {};
  if (isObj(base.metadata)) delete base.metadata.managedFields;
  const managers: Manager[] = live ? decodeManagers(live.metadata?.managedFields) : [];
  if (live && managers.length === 0) {
    // Objects written before anyone tracked fields: everything belongs to one pseudo-manager.
    managers.push({ manager: BEFORE_FIRST_APPLY, operation: "Update", apiVersion: opts.apiVersion, subresource: "", time: opts.now, entry: undefined, set: toFieldSet(base, root) });
  }

  const merged = mergeApply(clone(base), cfg, root);
  const c = compare(base, merged, root);
  const changed: FieldSet = new Set(c.added);
  for (const p of c.modified) changed.add(p);

  const key = managerKey({ manager: opts.manager, operation: "Apply", subresource: opts.subresource });
  const conflicts: { m: Manager; paths: string[] }[] = [];
  let mine: Manager | undefined;
  for (const m of managers) {
    if (managerKey(m) === key) {
      mine = m;
      continue;
    }
    const paths: string[] = [];
    if (changed.size < m.set.size) {
      for (const p of changed) if (m.set.has(p)) paths.push(p);
    } else for (const p of m.set) if (changed.has(p)) paths.push(p);
    if (paths.length) conflicts.push({ m, paths: paths.sort() });
  }
  if (conflicts.length && !opts.force) throw conflictError(conflicts);
  for (const { m, paths } of conflicts) {
    for (const p of paths) m.set.delete(p);
    m.entry = undefined;
  }
  for (const m of managers) if (m !== mine && setMinus(m.set, c.removed)) m.entry = undefined;

  const prev: FieldSet = mine?.set ?? new Set();
  const next = toFieldSet(cfg, root);
  if (!mine) {
    mine = { manager: opts.manager, operation: "Apply", apiVersion: opts.apiVersion, subresource: opts.subresource ?? "", time: opts.now, entry: undefined, set: next };
    managers.push(mine);
  }

  // Prune: fields applied last time, not applied now, and owned by nobody else.
  const owned = new Set<string>(next);
  for (const m of managers) if (m !== mine) for (const p of m.set) owned.add(p);
  const ownedAncestors = new Set<string>();
  for (const p of owned) {
    let i = p.lastIndexOf(SEP);
    while (i > 0) {
      const a = p.slice(0, i);
      if (ownedAncestors.has(a)) break;
      ownedAncestors.add(a);
      i = a.lastIndexOf(SEP);
    }
  }
  const result = merged;
  // Parents first: removing a list item takes its fields with it.
  const toRemove = [...prev].filter((p) => !owned.has(p) && !ownedAncestors.has(p) && !isKeyOfKeptItem(p)).sort((a, b) => a.length - b.length);
  for (const p of toRemove) removePath(result, p, root);

  const sameSet = prev.size === next.size && [...next].every((p) => prev.has(p));
  if (!(sameSet && mine.entry && deepEqual(result, base))) {
    mine.set = next;
    mine.apiVersion = opts.apiVersion;
    mine.time = opts.now;
    mine.entry = undefined;
  }
  if (!isObj(result.metadata)) result.metadata = {};
  result.metadata.managedFields = encodeManagers(managers);
  return result;
}

/** `...k:{"name":"x"}\0f:name`: the key fields of a list item that stays are never pruned. */
function isKeyOfKeptItem(path: string): boolean {
  const i = path.lastIndexOf(SEP);
  if (i < 0 || !path.startsWith("f:", i + 1)) return false;
  const j = path.lastIndexOf(SEP, i - 1);
  const parent = path.slice(j + 1, i);
  if (!parent.startsWith("k:")) return false;
  try {
    return Object.prototype.hasOwnProperty.call(JSON.parse(parent.slice(2)), path.slice(i + 3));
  } catch {
    return false;
  }
}

function printManager(m: Manager): string {
  let s = JSON.stringify(m.manager);
  if (m.subresource) s += ` with subresource ${JSON.stringify(m.subresource)}`;
  if (m.operation === "Update") s += ` using ${m.apiVersion}`;
  return s;
}

function conflictError(conflicts: { m: Manager; paths: string[] }[]): PatchError {
  const causes = conflicts.flatMap(({ m, paths }) =>
    paths.map((p) => ({ type: "FieldManagerConflict", message: `conflict with ${printManager(m)}`, field: pathString(p) })),
  );
  let message: string;
  if (causes.length === 1) {
    message = `Apply failed with 1 conflict: conflict with ${printManager(conflicts[0]!.m)}: ${causes[0]!.field}`;
  } else {
    const lines: string[] = [];
    const sorted = [...conflicts].sort((a, b) => (managerKey(a.m) < managerKey(b.m) ? -1 : 1));
    for (const { m, paths } of sorted) {
      lines.push(`conflicts with ${printManager(m)}:`);
      for (const p of paths) lines.push(`- ${pathString(p)}`);
    }
    message = `Apply failed with ${causes.length} conflicts: ${lines.join("\n")}`;
  }
  return new PatchError(409, "Conflict", message, causes);
}

// ---- merging the configuration into the live object ----

/** lhs is owned (mutated); rhs is the configuration. */
function mergeApply(lhs: any, rhs: any, t: Ty | undefined): any {
  if (rhs === undefined) return lhs;
  if (t?.kind === "prim") return clone(rhs);
  if (isObj(rhs)) {
    const out: Record<string, any> = isObj(lhs) ? lhs : {};
    for (const k in rhs) {
      const v = rhs[k];
      if (v === null) delete out[k];
      else setOwn(out, k, mergeApply(getOwn(out, k), v, childType(t, k)));
    }
    return out;
  }
  if (Array.isArray(rhs)) {
    const sem = listSem(t);
    if (sem.kind === "atomic" || !Array.isArray(lhs)) return clone(rhs).map((v: any) => (isObj(v) ? mergeApply({}, v, sem.elem) : v));
    return mergeList(lhs, rhs, t);
  }
  return rhs;
}

/**
 * Associative/set list merge with structured-merge-diff's ordering: items in the configuration
 * come in its order, live-only items stay where they were relative to the shared ones.
 */
function mergeList(lhs: any[], rhs: any[], t: Ty | undefined): any[] {
  const sem = listSem(t);
  const lPE = lhs.map((v, i) => itemPE(sem, v, i));
  const rPE = rhs.map((v, i) => itemPE(sem, v, i));
  const lMap = new Map<string, any>();
  lPE.forEach((pe, i) => lMap.has(pe) || lMap.set(pe, lhs[i]));
  const rMap = new Map<string, any>();
  rPE.forEach((pe, i) => rMap.has(pe) || rMap.set(pe, rhs[i]));
  const shared = rPE.filter((pe) => lMap.has(pe));
  let nextShared = 0;
  const done = new Set<string>();
  const out: any[] = [];
  const mergeItem = (pe: string) => {
    done.add(pe);
    const l = lMap.get(pe);
    const r = rMap.get(pe);
    if (sem.kind === "set") return r !== undefined ? clone(r) : l;
    return r === undefined ? l : mergeApply(isObj(l) ? l : {}, r, sem.elem);
  };
  let li = 0;
  let ri = 0;
  while (li < lPE.length || ri < rPE.length) {
    if (li < lPE.length && ri < rPE.length) {
      const pe = lPE[li]!;
      if (pe === rPE[ri]) {
        if (!done.has(pe)) out.push(mergeItem(pe));
        li++;
        ri++;
        if (shared[nextShared] === pe) nextShared++;
        continue;
      }
      if (rMap.has(pe) && nextShared < shared.length && shared[nextShared] !== pe) {
        li++;
        continue;
      }
    }
    if (li < lPE.length) {
      const pe = lPE[li]!;
      if (!rMap.has(pe)) {
        out.push(lhs[li]);
        li++;
        continue;
      }
      if (done.has(pe)) {
        li++;
        continue;
      }
    }
    if (ri < rPE.length) {
      const pe = rPE[ri]!;
      if (!done.has(pe)) out.push(mergeItem(pe));
      ri++;
      if (shared[nextShared] === pe) nextShared++;
    }
  }
  return out;
}
