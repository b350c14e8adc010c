// The one write path (kube-apiserver's generic registry store): create, update and delete for
// every kind, whoever writes. In upstream's order: the object is defaulted, mutating admission
// runs, the kind's strategy prepares it, it is validated, validating admission runs, and one
// command goes to the store. Non-deterministic values (uid, timestamps, generated names,
// allocations) are decided here, before proposal, so applying the command is deterministic.
import { checkObject } from "../../schemas/derive/check";
import type { FieldError, RegisteredResource } from "../../schemas/registry";
import { validateObjectMeta } from "../../schemas/validation";
import type { AdmissionChain } from "../admission/chain";
import type { AdmissionRequest, Operation } from "../admission/types";
import { alreadyExists, badRequest, conflict, invalid, notFound, qualifiedResource } from "../errors";
import { resKeyOf, type ApplyResult, type Command } from "../store/commands";
import type { Store } from "../store/store";
import type { WriteCtx } from "./ctx";
import { randomSuffix, timestamp } from "./meta";
import { recordUpdate } from "./patch/index";
import type { Strategy, StrategyCtx } from "./strategy";
import { customResourceStrategy } from "./kinds/custom-resources";
import { deepEqual } from "../../schemas/helpers/json";

interface UpdateOpts {
  /** "" or undefined: the main resource; "status", "scale", "finalize", ... */
  sub?: string;
  /** resourceVersion the client sent: a mismatch is a 409. */
  userRev?: string;
  /** Retries when another writer got there first (patches; updates without resourceVersion). */
  retries?: number;
  /** For SSA the managedFields were computed by the caller. */
  keepManagedFields?: boolean;
  /**
   * A subresource that was admitted as itself and writes its parent without the parent's
   * validation and admission (pods/binding, like upstream's assignPod).
   */
  internal?: boolean;
}

export interface DeleteOpts {
  gracePeriodSeconds?: number;
  propagationPolicy?: "Foreground" | "Background" | "Orphan";
  preconditions?: { uid?: string; resourceVersion?: string };
  /** Admitted as a subresource already (pods/eviction): no DELETE admission. */
  internal?: boolean;
  /** DeleteOptions as the client sent them, for admission. */
  options?: any;
}

const NO_STRATEGY: Strategy = {};

export class Registry {
  constructor(
    readonly store: Store,
    private readonly strategies: ReadonlyMap<string, Strategy>,
    readonly admission: AdmissionChain,
  ) {}

  strategy(r: RegisteredResource): Strategy {
    return this.strategies.get(resKeyOf(r.group, r.plural)) ?? (r.crd ? customResourceStrategy : NO_STRATEGY);
  }

  /** The admission request for one write (also used by subresources admitted as themselves). */
  admissionRequest(ctx: WriteCtx, operation: Operation, r: RegisteredResource, sub: string, ns: string, name: string, object?: any, oldObject?: any, options?: any): AdmissionRequest {
    // A create's URL names no object: its audit event's objectRef takes the name from here.
    if (ctx.audit && name) ctx.audit.name ??= name;
    return {
      operation,
      resource: r,
      subresource: sub,
      namespace: ns,
      name,
      object,
      oldObject,
      options,
      user: ctx.user,
      dryRun: ctx.dryRun,
      store: this.store,
      registry: this,
      warn: (m) => void ctx.warnings.push(m),
      annotate: (key, value) => {
        if (ctx.audit) ctx.audit.annotations[key] = value;
      },
    };
  }

  /** Run both admission phases for a request that writes nothing itself (CONNECT, subresource creates). */
  async admit(req: AdmissionRequest): Promise<void> {
    await this.admission.run(req);
  }

  /**
   * CONNECT admission for a stream (pods/exec, pods/attach, pods/portforward): call before the
   * stream opens; throws the plugin's ApiError to refuse. `options` is what the client asked for
   * (PodExecOptions, PodAttachOptions, PodPortForwardOptions), the object plugins see.
   */
  async connect(ctx: WriteCtx, r: RegisteredResource, ns: string, name: string, sub: string, options: any): Promise<void> {
    if (!(await this.store.getFresh(resKeyOf(r.group, r.plural), ns, name))) throw notFound(r, name);
    await this.admission.run(this.admissionRequest(ctx, "CONNECT", r, sub, ns, name, options, undefined, options));
  }

  private strategyCtx(ctx: WriteCtx): StrategyCtx {
    return { store: this.store, user: ctx.user, dryRun: ctx.dryRun, warn: (m) => void ctx.warnings.push(m) };
  }

  /** Fill server-decided metadata, default, admit, validate and create. obj is already type-checked. */
  async create(ctx: WriteCtx, r: RegisteredResource, ns: string | undefined, obj: any, opts: { keepManagedFields?: boolean } = {}): Promise<any> {
    const s = this.strategy(r);
    checkTypeMeta(r, obj);
    obj.metadata ??= {};
    const m = obj.metadata;
    if (r.namespaced) {
      if (m.namespace !== undefined && m.namespace !== "" && ns !== undefined && m.namespace !== ns)
        throw badRequest("the namespace of the provided object does not match the namespace sent on the request");
      m.namespace = ns ?? m.namespace;
      if (!m.namespace) throw badRequest("a namespace is required: send the object to /namespaces/NAMESPACE/... or set metadata.namespace");
    } else delete m.namespace;
    if (!m.name && m.generateName) m.name = `${m.generateName}${randomSuffix()}`;
    const now = timestamp();
    m.uid = crypto.randomUUID();
    m.creationTimestamp = now;
    delete m.resourceVersion;
    delete m.deletionTimestamp;
    delete m.deletionGracePeriodSeconds;
    delete m.selfLink;
    if (s.tracksGeneration) m.generation = 1;
    else delete m.generation;
    if (s.resetStatusOnCreate ?? (r.subresources?.status && r.group !== "")) delete obj.status;
    r.defaults?.(obj);
    dropEmptyMeta(m);
    const req = this.admissionRequest(ctx, "CREATE", r, "", m.namespace ?? "", m.name ?? "", obj);
    await this.admission.admit(req);
    const sctx = this.strategyCtx(ctx);
    s.prepareForCreate?.(sctx, obj);
    validate(r, s, obj);
    await s.validateWrite?.(sctx, obj, undefined, "");
    await this.admission.validate(req);
    if (m.managedFields?.length && !opts.keepManagedFields) managedOnWrite(ctx, r, undefined, obj, now);
    if (ctx.dryRun) return obj;
    const res = await this.store.propose({ op: "create", res: resKeyOf(r.group, r.plural), ns: m.namespace ?? "", name: m.name, obj });
    return resultOrThrow(r, m.name, res);
  }

  /**
   * Update through a function of the current object (so conflicts can be retried by recomputing).
   * Returns the stored object (unchanged objects are not rewritten).
   */
  async update(ctx: WriteCtx, r: RegisteredResource, ns: string, name: string, compute: (current: any) => any, opts: UpdateOpts = {}): Promise<{ obj: any; changed: boolean }> {
    const res = resKeyOf(r.group, r.plural);
    const s = this.strategy(r);
    const sub = opts.sub ?? "";
    const sctx = this.strategyCtx(ctx);
    for (let attempt = 0; ; attempt++) {
      const cur = await this.store.getFresh(res, ns, name);
      if (!cur) throw notFound(r, name);
      const incoming = compute(structuredClone(cur.obj));
      const next = mergeForUpdate(r, cur.obj, incoming, sub);
      if (opts.userRev && opts.userRev !== String(cur.rev)) throw conflict(r, name);
      if (next.metadata.name !== name) throw badRequest(`the name of the object (${next.metadata.name}) does not match the name on the URL (${name})`);
      if (!opts.internal) {
        // Defaulting belongs to decoding a full object: subresource writes are not re-defaulted,
        // except pods/ephemeralcontainers, whose new containers still need their defaults.
        if (sub === "" || sub === "ephemeralcontainers") r.defaults?.(next);
        dropEmptyMeta(next.metadata);
        const req = this.admissionRequest(ctx, "UPDATE", r, sub, ns, name, next, cur.obj);
        await this.admission.admit(req);
        s.prepareForUpdate?.(sctx, next, cur.obj, sub);
        if (s.tracksGeneration && sub !== "status" && sub !== "approval") {
          const g = cur.obj.metadata.generation ?? 1;
          next.metadata.generation = deepEqual(specPart(cur.obj), specPart(next)) ? g : g + 1;
        }
        validate(r, s, next, cur.obj, sub);
        await s.validateWrite?.(sctx, next, cur.obj, sub);
        await this.admission.validate(req);
      }
      const now = timestamp();
      if (!opts.keepManagedFields) managedOnWrite(ctx, r, cur.obj, next, now, sub || undefined);
      const oldCmp = { ...cur.obj, metadata: { ...cur.obj.metadata, resourceVersion: undefined, managedFields: undefined } };
      const newCmp = { ...next, metadata: { ...next.metadata, resourceVersion: undefined, managedFields: undefined } };
      if (deepEqual(oldCmp, newCmp)) return { obj: cur.obj, changed: false };
      if (ctx.dryRun) return { obj: next, changed: true };
      const cmd: Command = { op: "update", res, ns, name, obj: next, pre: { rev: cur.rev } };
      const out = await this.store.propose(cmd);
      if (!out.ok && out.error.code === "Conflict" && !opts.userRev && attempt < (opts.retries ?? 5)) continue;
      return { obj: resultOrThrow(r, name, out), changed: true };
    }
  }

  /**
   * Delete: immediately, or by marking deletionTimestamp when finalizers (or the kind's graceful
   * termination) must run first. Returns the object and whether it is gone.
   */
  async delete(ctx: WriteCtx, r: RegisteredResource, ns: string, name: string, o: DeleteOpts): Promise<{ obj: any; gone: boolean }> {
    const res = resKeyOf(r.group, r.plural);
    const s = this.strategy(r);
    for (let attempt = 0; ; attempt++) {
      const cur = await this.store.getFresh(res, ns, name);
      if (!cur) throw notFound(r, name);
      const m = cur.obj.metadata ?? {};
      if (o.preconditions?.uid && o.preconditions.uid !== m.uid)
        throw conflict(r, name, `Precondition failed: UID in precondition: ${o.preconditions.uid}, UID in object meta: ${m.uid}`);
      if (o.preconditions?.resourceVersion && o.preconditions.resourceVersion !== String(cur.rev))
        throw conflict(r, name, `Precondition failed: ResourceVersion in precondition: ${o.preconditions.resourceVersion}, ResourceVersion in object meta: ${cur.rev}`);
      if (!o.internal) await this.admission.run(this.admissionRequest(ctx, "DELETE", r, "", ns, name, cur.obj, cur.obj, o.options));
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
      const graceful = s.gracePeriodSeconds?.(cur.obj, o);
      const grace = graceful ?? 0;
      const needsMark = finalizers.length > 0 || !!s.markOnDelete || grace > 0;
      if (!needsMark) {
        if (ctx.dryRun) return { obj: cur.obj, gone: true };
        const out = await this.store.propose({ op: "delete", res, ns, name, pre: { rev: cur.rev } });
        if (!out.ok && out.error.code === "Conflict" && attempt < 5) continue;
        if (!out.ok && out.error.code === "NotFound") throw notFound(r, name);
        return { obj: resultOrThrow(r, name, out), gone: true };
      }
      const next = structuredClone(cur.obj);
      next.metadata.finalizers = finalizers.length ? finalizers : undefined;
      if (!next.metadata.finalizers) delete next.metadata.finalizers;
      if (!m.deletionTimestamp) {
        next.metadata.deletionTimestamp = timestamp(new Date(Date.now() + grace * 1000));
        next.metadata.deletionGracePeriodSeconds = grace;
        s.markOnDelete?.(next);
      } else if (graceful !== undefined && grace < (m.deletionGracePeriodSeconds ?? Infinity)) {
        // A shorter grace period may replace a longer one (kubectl delete --grace-period=0 --force).
        next.metadata.deletionGracePeriodSeconds = grace;
        next.metadata.deletionTimestamp = timestamp(new Date(Date.now() + grace * 1000));
      }
      if (deepEqual(next, cur.obj)) return { obj: cur.obj, gone: false };
      if (ctx.dryRun) return { obj: next, gone: false };
      const out = await this.store.propose({ op: "update", res, ns, name, obj: next, pre: { rev: cur.rev } });
      if (!out.ok && out.error.code === "Conflict" && attempt < 5) continue;
      const obj = resultOrThrow(r, name, out);
      return { obj, gone: !!out.ok && !!out.deleted };
    }
  }
}

/** Type-check a decoded body against the kind's schema; unknown fields per ctx.fieldValidation. */
export function checked(ctx: WriteCtx, r: RegisteredResource, raw: Record<string, any>): any {
  const res = r.decode ? r.decode(raw) : checkObject(r.type, raw, { strict: ctx.fieldValidation === "Strict" });
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

/** Everything that is neither metadata nor status: a change here bumps generation. */
function specPart(o: any): Record<string, unknown> {
  const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = o ?? {};
  return rest;
}

function validate(r: RegisteredResource, s: Strategy, obj: any, old?: any, sub = ""): void {
  const errs: FieldError[] = [];
  errs.push(...validateObjectMeta(obj.metadata ?? {}, r.namespaced, s.nameValidation ?? "subdomain"));
  const own = old && sub ? s.validateSubresourceUpdate?.(sub, obj, old) : undefined;
  if (own) errs.push(...own);
  else if (r.validate) errs.push(...r.validate(obj, old));
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

/** Combine the stored object with an incoming full object for a main-resource or status update. */
function mergeForUpdate(r: RegisteredResource, old: any, incoming: any, sub: string): any {
  if (incoming === null || typeof incoming !== "object" || Array.isArray(incoming)) throw badRequest("the object must be a JSON object");
  checkTypeMeta(r, incoming);
  // /approval, like /status, changes the status only (the strategy keeps what it may not change).
  if (sub === "status" || sub === "approval") {
    const next = { ...old, status: incoming.status };
    if (incoming.status === undefined) delete next.status;
    // A status write may not change anything else, but metadata.managedFields is carried.
    next.metadata = { ...old.metadata };
    return next;
  }
  const next = { ...incoming };
  // pods/binding sets PodScheduled with the node (upstream's assignPod); other main writes keep the status.
  if (r.subresources?.status && sub !== "binding") {
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
    generation: old.metadata.generation,
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
  if (next.metadata.generation === undefined) delete next.metadata.generation;
  return next;
}

/** ObjectMeta's maps and lists are omitempty upstream: `annotations: {}` (kubectl diff and
 * apply patches send it) is stored as no annotations, so a no-op write stays a no-op. */
function dropEmptyMeta(m: any): void {
  if (!m || typeof m !== "object") return;
  for (const k of ["labels", "annotations", "finalizers", "ownerReferences"]) {
    const v = m[k];
    if (v !== null && typeof v === "object" && (Array.isArray(v) ? v.length === 0 : Object.keys(v).length === 0)) delete m[k];
  }
}
