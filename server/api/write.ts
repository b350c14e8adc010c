// The write path shared by create, update, patch and delete: decode-check, default, validate,
// then one command through the proposer. Non-deterministic values are decided here.
import { checkObject } from "../../schemas/derive/check";
import type { FieldError, RegisteredResource } from "../../schemas/registry";
import { validateObjectMeta } from "../../schemas/validation";
import type { ApplyResult, Command } from "../store/commands";
import { resKeyOf } from "../store/commands";
import type { Store } from "../store/store";
import type { UserInfo } from "../auth/attributes";
import { confirmNoEscalation } from "../auth/escalation";
import { allocateNodePodCidr, allocateServiceFields, defaultStorageClass } from "./allocators";
import { deepEqual, podQosClass, randomSuffix, specPart, timestamp, tracksGeneration } from "./object-meta";
import { recordUpdate } from "./patch/index";
import { ApiError, alreadyExists, badRequest, conflict, forbidden, invalid, namespaceNotFound, notFound, qualifiedResource } from "../errors";

/** Kubernetes refuses to delete these (NamespaceLifecycle admission). */
const UNDELETABLE_NAMESPACES = new Set(["default", "kube-system", "kube-public"]);

export type FieldValidation = "Strict" | "Warn" | "Ignore";

const RBAC_GROUP = "rbac.authorization.k8s.io";

export interface WriteCtx {
  store: Store;
  /** Who writes (API requests); RBAC objects are checked against what this user holds. */
  user?: UserInfo;
  manager: string;
  dryRun: boolean;
  fieldValidation: FieldValidation;
  warnings: string[];
}

export function parseFieldValidation(v: string | undefined): FieldValidation {
  if (!v) return "Warn";
  if (v === "Strict" || v === "Warn" || v === "Ignore") return v;
  throw badRequest(`fieldValidation must be one of Strict, Warn, Ignore, got "${v}"`);
}

/** Type-check a decoded body against the kind's schema; unknown fields per fieldValidation. */
export function checked(ctx: WriteCtx, r: RegisteredResource, raw: Record<string, any>): any {
  const res = checkObject(r.type, raw, { strict: ctx.fieldValidation === "Strict" });
  if (res.unknownFields.length) {
    if (ctx.fieldValidation === "Strict") {
      const msg = res.unknownFields.map((f) => `unknown field "${f}"`).join(", ");
      throw badRequest(`strict decoding error: ${msg}`);
    }
    if (ctx.fieldValidation === "Warn") for (const f of res.unknownFields) ctx.warnings.push(`unknown field "${f}"`);
  }
  // Kubernetes reports undecodable bodies as 400 "cannot be handled as", not 422 Invalid.
  if (res.errors.length)
    throw badRequest(`${r.kind} in version "${r.version}" cannot be handled as a ${r.kind}: ${res.errors.map((e) => e.message).join("; ")}`, {
      name: raw?.metadata?.name,
      kind: r.kind,
      causes: res.errors.map((e) => ({ reason: e.type, message: e.message, field: e.field })),
    });
  return res.value;
}

function checkTypeMeta(r: RegisteredResource, obj: any): void {
  if (obj.kind !== undefined && obj.kind !== r.kind)
    throw badRequest(`the kind of the provided object (${obj.kind}) does not match the resource ${qualifiedResource(r)} (kind ${r.kind})`);
  if (obj.apiVersion !== undefined && obj.apiVersion !== r.apiVersion)
    throw badRequest(`the API version of the provided object (${obj.apiVersion}) does not match the request (${r.apiVersion}); send it to /${r.group ? `apis/${r.apiVersion}` : "api/v1"}`);
  obj.apiVersion = r.apiVersion;
  obj.kind = r.kind;
}

function validate(r: RegisteredResource, obj: any, old?: any): void {
  const errs: FieldError[] = [];
  // RBAC objects are named like path segments ("system:node"): ValidateRBACName.
  const nameKind = r.group === "" && (r.plural === "namespaces" || r.plural === "services") ? "label" : r.group === "rbac.authorization.k8s.io" ? "path" : "subdomain";
  errs.push(...validateObjectMeta(obj.metadata ?? {}, r.namespaced, nameKind));
  if (r.validate) errs.push(...r.validate(obj, old));
  if (old) {
    for (const path of r.immutable ?? []) {
      const a = path.split(".").reduce((o: any, k) => o?.[k], obj);
      const b = path.split(".").reduce((o: any, k) => o?.[k], old);
      if (!deepEqual(a, b)) errs.push({ field: path, type: "FieldValueInvalid", message: `Invalid value: ${JSON.stringify(a ?? null)}: field is immutable` });
    }
  }
  const seen = new Set<string>();
  const unique = errs.filter((e) => {
    const k = `${e.field}\u0000${e.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  if (unique.length) throw invalid(r, obj?.metadata?.name ?? "", unique);
}

function managedOnWrite(ctx: WriteCtx, r: RegisteredResource, old: any, obj: any, now: string, sub?: string): void {
  // Field ownership is tracked once an object has been applied server-side; plain writes to
  // objects nobody applied stay lean (managedFields is optional in this API).
  if (!old?.metadata?.managedFields?.length && !obj.metadata?.managedFields?.length) return;
  obj.metadata.managedFields = recordUpdate(old, obj, { manager: ctx.manager, apiVersion: r.apiVersion, now, root: r.type, subresource: sub });
  if (!obj.metadata.managedFields?.length) delete obj.metadata.managedFields;
}

function resultOrThrow(r: RegisteredResource, name: string, res: ApplyResult): any {
  if (res.ok) return res.obj;
  switch (res.error.code) {
    case "AlreadyExists":
      throw alreadyExists(r, name);
    case "NotFound":
      throw notFound(r, name);
    case "Conflict":
      throw conflict(r, name);
    case "UidMismatch":
      throw conflict(r, name, "Precondition failed: UID in precondition does not match the stored object");
  }
}

/** Fill server-decided metadata, default, validate and create. obj is already type-checked. */
export async function createObject(ctx: WriteCtx, r: RegisteredResource, ns: string | undefined, obj: any, opts: { keepManagedFields?: boolean } = {}): Promise<any> {
  checkTypeMeta(r, obj);
  obj.metadata ??= {};
  const m = obj.metadata;
  if (r.namespaced) {
    if (m.namespace !== undefined && m.namespace !== "" && ns !== undefined && m.namespace !== ns)
      throw badRequest("the namespace of the provided object does not match the namespace sent on the request");
    m.namespace = ns ?? m.namespace;
    if (!m.namespace) throw badRequest("a namespace is required: send the object to /namespaces/NAMESPACE/... or set metadata.namespace");
    const nsObj = ctx.store.get("namespaces", "", m.namespace);
    if (!nsObj) throw namespaceNotFound(m.namespace);
    if (nsObj.obj.metadata?.deletionTimestamp) throw forbidden(`${r.plural} "${m.name ?? m.generateName ?? ""}" is forbidden: unable to create new content in namespace ${m.namespace} because it is being terminated`);
  } else delete m.namespace;
  if (!m.name && m.generateName) m.name = `${m.generateName}${randomSuffix()}`;
  const now = timestamp();
  m.uid = crypto.randomUUID();
  m.creationTimestamp = now;
  delete m.resourceVersion;
  delete m.deletionTimestamp;
  delete m.deletionGracePeriodSeconds;
  delete m.selfLink;
  if (tracksGeneration(r)) m.generation = 1;
  else delete m.generation;
  if (r.subresources?.status && r.group !== "" ) delete obj.status;
  r.defaults?.(obj);
  if (r.group === "" && r.plural === "pods") {
    obj.status = { phase: "Pending", qosClass: podQosClass(obj) };
  }
  if (r.group === "" && r.plural === "services") allocateServiceFields(ctx.store, obj);
  if (r.group === "" && r.plural === "nodes") allocateNodePodCidr(ctx.store, obj);
  if (r.group === "" && r.plural === "persistentvolumeclaims") defaultStorageClass(ctx.store, obj);
  validate(r, obj);
  if (ctx.user && r.group === RBAC_GROUP) await confirmNoEscalation(ctx.store, ctx.user, r.plural, obj);
  if (m.managedFields?.length && !opts.keepManagedFields) managedOnWrite(ctx, r, undefined, obj, now);
  if (ctx.dryRun) return obj;
  const res = await ctx.store.propose({ op: "create", res: resKeyOf(r.group, r.plural), ns: m.namespace ?? "", name: m.name, obj });
  return resultOrThrow(r, m.name, res);
}

export interface UpdateOpts {
  sub?: string;
  /** resourceVersion the client sent: a mismatch is a 409. */
  userRev?: string;
  /** Retries when another writer got there first (patches; updates without resourceVersion). */
  retries?: number;
  /** For SSA and patches the managedFields were computed by the caller. */
  keepManagedFields?: boolean;
  /** Server-internal writes that Kubernetes does not validate as user updates (pods/binding). */
  skipValidate?: boolean;
}

/**
 * Update through a function of the current object (so conflicts can be retried by recomputing).
 * Returns the stored object (unchanged objects are not rewritten).
 */
export async function updateObject(
  ctx: WriteCtx,
  r: RegisteredResource,
  ns: string,
  name: string,
  compute: (current: any) => any,
  opts: UpdateOpts = {},
): Promise<{ obj: any; changed: boolean }> {
  const res = resKeyOf(r.group, r.plural);
  for (let attempt = 0; ; attempt++) {
    const cur = ctx.store.get(res, ns, name);
    if (!cur) throw notFound(r, name);
    const incoming = compute(structuredClone(cur.obj));
    const next = mergeForUpdate(r, cur.obj, incoming, opts.sub);
    if (opts.userRev && opts.userRev !== String(cur.rev)) throw conflict(r, name);
    if (next.metadata.name !== name) throw badRequest(`the name of the object (${next.metadata.name}) does not match the name on the URL (${name})`);
    if (!opts.sub) r.defaults?.(next);
    if (!opts.skipValidate) validate(r, next, cur.obj);
    if (ctx.user && r.group === RBAC_GROUP && !opts.sub) await confirmNoEscalation(ctx.store, ctx.user, r.plural, next);
    const now = timestamp();
    if (!opts.keepManagedFields) managedOnWrite(ctx, r, cur.obj, next, now, opts.sub);
    const oldCmp = { ...cur.obj, metadata: { ...cur.obj.metadata, resourceVersion: undefined, managedFields: undefined } };
    const newCmp = { ...next, metadata: { ...next.metadata, resourceVersion: undefined, managedFields: undefined } };
    if (deepEqual(oldCmp, newCmp)) return { obj: cur.obj, changed: false };
    if (ctx.dryRun) return { obj: next, changed: true };
    const cmd: Command = { op: "update", res, ns, name, obj: next, pre: { rev: cur.rev } };
    const out = await ctx.store.propose(cmd);
    if (!out.ok && out.error.code === "Conflict" && !opts.userRev && attempt < (opts.retries ?? 5)) continue;
    return { obj: resultOrThrow(r, name, out), changed: true };
  }
}

/** Combine the stored object with an incoming full object for a main-resource or status update. */
export function mergeForUpdate(r: RegisteredResource, old: any, incoming: any, sub?: string): any {
  if (incoming === null || typeof incoming !== "object" || Array.isArray(incoming)) throw badRequest("the object must be a JSON object");
  checkTypeMeta(r, incoming);
  let next: any;
  if (sub === "status") {
    next = { ...old, status: incoming.status };
    if (incoming.status === undefined) delete next.status;
    // A status write may not change anything else, but metadata.managedFields is carried.
    next.metadata = { ...old.metadata };
  } else {
    next = { ...incoming };
    if (r.subresources?.status) {
      if (old.status === undefined) delete next.status;
      else next.status = old.status;
    }
    const im = incoming.metadata ?? {};
    if (im.uid && im.uid !== old.metadata.uid) throw badRequest(`Precondition failed: UID in precondition: ${im.uid}, UID in object meta: ${old.metadata.uid}`);
    next.metadata = {
      ...im,
      name: im.name ?? old.metadata.name,
      namespace: old.metadata.namespace,
      uid: old.metadata.uid,
      creationTimestamp: old.metadata.creationTimestamp,
      managedFields: im.managedFields ?? old.metadata.managedFields,
    };
    if (old.metadata.deletionTimestamp) {
      next.metadata.deletionTimestamp = old.metadata.deletionTimestamp;
      if (old.metadata.deletionGracePeriodSeconds !== undefined) next.metadata.deletionGracePeriodSeconds = old.metadata.deletionGracePeriodSeconds;
    } else {
      delete next.metadata.deletionTimestamp;
      delete next.metadata.deletionGracePeriodSeconds;
    }
    if (next.metadata.namespace === undefined) delete next.metadata.namespace;
    if (next.metadata.managedFields === undefined) delete next.metadata.managedFields;
    delete next.metadata.generation;
    // A namespace's spec.finalizers change only through /finalize.
    if (r.group === "" && r.plural === "namespaces" && sub !== "finalize") {
      next.spec = { ...(next.spec ?? {}) };
      if (old.spec?.finalizers) next.spec.finalizers = old.spec.finalizers;
      else delete next.spec.finalizers;
    }
    if (tracksGeneration(r)) {
      const g = old.metadata.generation ?? 1;
      next.metadata.generation = deepEqual(specPart(old), specPart(next)) ? g : g + 1;
    }
  }
  return next;
}

export interface DeleteOpts {
  gracePeriodSeconds?: number;
  propagationPolicy?: "Foreground" | "Background" | "Orphan";
  preconditions?: { uid?: string; resourceVersion?: string };
}

/**
 * Delete: immediately, or by marking deletionTimestamp when finalizers (or a pod's graceful
 * termination on its node) must run first. Returns the object and whether it is gone.
 */
export async function deleteObject(ctx: WriteCtx, r: RegisteredResource, ns: string, name: string, o: DeleteOpts): Promise<{ obj: any; gone: boolean }> {
  const res = resKeyOf(r.group, r.plural);
  for (let attempt = 0; ; attempt++) {
    const cur = ctx.store.get(res, ns, name);
    if (!cur) throw notFound(r, name);
    const m = cur.obj.metadata ?? {};
    if (o.preconditions?.uid && o.preconditions.uid !== m.uid)
      throw conflict(r, name, `Precondition failed: UID in precondition: ${o.preconditions.uid}, UID in object meta: ${m.uid}`);
    if (o.preconditions?.resourceVersion && o.preconditions.resourceVersion !== String(cur.rev))
      throw conflict(r, name, `Precondition failed: ResourceVersion in precondition: ${o.preconditions.resourceVersion}, ResourceVersion in object meta: ${cur.rev}`);
    const finalizers: string[] = [...(m.finalizers ?? [])];
    const policy = o.propagationPolicy;
    const want = policy === "Foreground" ? "foregroundDeletion" : policy === "Orphan" ? "orphan" : undefined;
    if (want) {
      // Kubernetes only adds these finalizers when dependents may exist; we let the garbage collector decide.
      const other = want === "orphan" ? "foregroundDeletion" : "orphan";
      const i = finalizers.indexOf(other);
      if (i >= 0) finalizers.splice(i, 1);
      if (!finalizers.includes(want)) finalizers.push(want);
    } else if (policy === "Background") {
      for (const f of ["orphan", "foregroundDeletion"]) {
        const i = finalizers.indexOf(f);
        if (i >= 0 && !m.deletionTimestamp) finalizers.splice(i, 1);
      }
    }
    const isNs = r.group === "" && r.plural === "namespaces";
    if (isNs && UNDELETABLE_NAMESPACES.has(name)) throw forbidden(`namespaces "${name}" is forbidden: this namespace may not be deleted`);
    const gracefulPod = r.group === "" && r.plural === "pods" && !!cur.obj.spec?.nodeName && !["Succeeded", "Failed"].includes(cur.obj.status?.phase);
    let grace = 0;
    if (gracefulPod) grace = o.gracePeriodSeconds ?? cur.obj.spec?.terminationGracePeriodSeconds ?? 30;
    const needsMark = finalizers.length > 0 || isNs || grace > 0;
    if (!needsMark) {
      if (ctx.dryRun) return { obj: cur.obj, gone: true };
      const out = await ctx.store.propose({ op: "delete", res, ns, name, pre: { rev: cur.rev } });
      if (!out.ok && out.error.code === "Conflict" && attempt < 5) continue;
      if (!out.ok && out.error.code === "NotFound") throw notFound(r, name);
      return { obj: resultOrThrow(r, name, out), gone: true };
    }
    const next = structuredClone(cur.obj);
    next.metadata.finalizers = finalizers.length ? finalizers : undefined;
    if (!next.metadata.finalizers) delete next.metadata.finalizers;
    if (!m.deletionTimestamp) {
      const when = new Date(Date.now() + grace * 1000);
      next.metadata.deletionTimestamp = timestamp(when);
      next.metadata.deletionGracePeriodSeconds = grace;
      if (isNs) next.status = { ...(next.status ?? {}), phase: "Terminating" };
    } else if (gracefulPod && grace < (m.deletionGracePeriodSeconds ?? Infinity)) {
      // A shorter grace period may replace a longer one (kubectl delete --grace-period=0 --force).
      next.metadata.deletionGracePeriodSeconds = grace;
      next.metadata.deletionTimestamp = timestamp(new Date(Date.now() + grace * 1000));
    }
    if (deepEqual(next, cur.obj)) return { obj: cur.obj, gone: false };
    if (ctx.dryRun) return { obj: next, gone: false };
    const out = await ctx.store.propose({ op: "update", res, ns, name, obj: next, pre: { rev: cur.rev } });
    if (!out.ok && out.error.code === "Conflict" && attempt < 5) continue;
    const obj = resultOrThrow(r, name, out);
    return { obj, gone: !!out.ok && !!out.deleted };
  }
}

export function isApiError(e: unknown): e is ApiError {
  return e instanceof ApiError;
}
