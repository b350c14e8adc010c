// CustomResourceDefinition write rules: the server decides status (accepted names and the
// NamesAccepted/Established conditions, stored versions) before the write is proposed, so every
// node serves the kind from the same object; deletion first marks the CRD with the cleanup
// finalizer (controllers/crd-cleanup.ts deletes its custom resources, then lets it go).
import { registry as kinds } from "../../../schemas/registry";
import { timestamp } from "../meta";
import type { Strategy } from "../strategy";
import { CRD_KEY } from "./custom-resources";
import type { Store } from "../../store/store";

export const CRD_CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io";

interface Cond {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
  lastTransitionTime?: string;
}

function setCondition(conds: Cond[], c: Cond): Cond[] {
  const prev = conds.find((x) => x.type === c.type);
  const lastTransitionTime = prev && prev.status === c.status ? prev.lastTransitionTime : timestamp();
  return [...conds.filter((x) => x.type !== c.type), { ...c, lastTransitionTime }];
}

/** A name of `names` already taken in the group by a built-in kind or another accepted CRD. */
function conflict(store: Store, crd: any): { reason: string; message: string } | undefined {
  const { group, names } = crd.spec;
  const mine = crd.metadata.name;
  const taken = { plural: new Set<string>(), kind: new Set<string>(), short: new Set<string>() };
  for (const r of kinds) {
    if (r.crd === mine) continue;
    // Upstream compares names within the group only (kubectl warns about short names shared
    // across groups); a built-in kind in the group counts too.
    if (r.group !== group || r.crd) continue;
    taken.plural.add(r.plural).add(r.singular);
    taken.kind.add(r.kind).add(r.listKind);
    for (const s of r.shortNames ?? []) taken.short.add(s);
  }
  for (const o of store.list(CRD_KEY, undefined).items) {
    if (o.metadata.name === mine || o.spec?.group !== group) continue;
    const a = o.status?.acceptedNames;
    if (!a?.kind) continue;
    taken.plural.add(a.plural).add(a.singular ?? "");
    taken.kind.add(a.kind).add(a.listKind ?? "");
    for (const s of a.shortNames ?? []) taken.short.add(s);
  }
  const used = (reason: string, name: string) => ({ reason, message: `"${name}" is already in use` });
  if (taken.plural.has(names.plural)) return used("PluralConflict", names.plural);
  if (names.singular && taken.plural.has(names.singular)) return used("SingularConflict", names.singular);
  for (const s of names.shortNames ?? []) if (taken.short.has(s)) return used("ShortNamesConflict", s);
  if (taken.kind.has(names.kind)) return used("KindConflict", names.kind);
  if (names.listKind && taken.kind.has(names.listKind)) return used("ListKindConflict", names.listKind);
  return undefined;
}

function computeStatus(store: Store, crd: any, old: any | undefined): void {
  const status = old?.status ? structuredClone(old.status) : {};
  let conds: Cond[] = status.conditions ?? [];
  const problem = conflict(store, crd);
  if (problem) {
    conds = setCondition(conds, { type: "NamesAccepted", status: "False", ...problem });
    if (!status.acceptedNames?.kind) conds = setCondition(conds, { type: "Established", status: "False", reason: "NotAccepted", message: "not all names are accepted" });
  } else {
    status.acceptedNames = structuredClone(crd.spec.names);
    conds = setCondition(conds, { type: "NamesAccepted", status: "True", reason: "NoConflicts", message: "no conflicts found" });
    conds = setCondition(conds, { type: "Established", status: "True", reason: "InitialNamesAccepted", message: "the initial names have been accepted" });
  }
  status.conditions = conds;
  const storage = (crd.spec.versions ?? []).find((v: any) => v.storage)?.name;
  status.storedVersions = [...new Set([...(status.storedVersions ?? []), ...(storage ? [storage] : [])])];
  status.acceptedNames ??= { plural: "", kind: "" };
  crd.status = status;
}

export const crdStrategy: Strategy = {
  tracksGeneration: true,
  prepareForCreate(ctx, obj) {
    computeStatus(ctx.store, obj, undefined);
  },
  prepareForUpdate(ctx, obj, old, sub) {
    if (sub === "") computeStatus(ctx.store, obj, old);
  },
  markOnDelete(obj) {
    const f: string[] = obj.metadata.finalizers ?? [];
    if (!f.includes(CRD_CLEANUP_FINALIZER)) obj.metadata.finalizers = [...f, CRD_CLEANUP_FINALIZER];
    obj.status ??= {};
    obj.status.conditions = setCondition(obj.status.conditions ?? [], { type: "Terminating", status: "True", reason: "InstanceDeletionPending", message: "CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon" });
  },
};
