// Generic REST handlers for every registered resource: get, list, watch, create, update,
// patch, delete, deletecollection, and the status/scale subresources.
import type { Context } from "hono";
import type { Authenticator } from "../auth/authn";
import { ExpiredError, type Store } from "../store/store";
import { decodeObject, mediaType, parseText, readBody, requireObject } from "./body";
import type { WriteCtx } from "../registry/ctx";
import { toScale, updateScale } from "../registry/kinds/scale";
import { PatchError, applyPatch, patchTypeFromContentType, serverSideApply } from "../registry/patch/index";
import { checked, type DeleteOpts, type Registry } from "../registry/registry";
import { buildMatcher, parseResourcePath, queryBool, queryInt, writeCtxOf, type ResourceRequest } from "./request";
import { storedResource, type RegisteredResource } from "../../schemas/registry";
import { resKeyOf } from "../store/commands";
import { ApiError, badRequest, expired, methodNotAllowed, notAcceptable, notFound, statusObject, timeoutError, unsupportedMediaType } from "../errors";
import { computedItems } from "./computed";
import { componentStatuses, type ComponentChecks } from "./component-status";
import { handleBinding, handleReview, handleSpecialSubresource, isReviewKind } from "./subresources";
import { negotiate, toTable, type IncludeObject } from "./table";
import { serveWatch } from "./watch";
import { Scale as ScaleType } from "../../schemas/types/misc";
import { asServed } from "./versions";

export interface ApiDeps {
  store: Store;
  /** Every write goes through it. */
  registry: Registry;
  /** Signs service account tokens (TokenRequest). */
  tokenKey: Uint8Array;
  /** The health checks `componentstatuses` reports (none: an empty list). */
  componentChecks?: ComponentChecks;
  /** Answers TokenReview (createApp sets it from its options). */
  auth?: Authenticator;
}

function respond(c: Context, ctx: WriteCtx | undefined, body: unknown, code: number): Response {
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  const res = new Response(JSON.stringify(body), { status: code, headers });
  for (const w of ctx?.warnings ?? []) res.headers.append("Warning", `299 - ${JSON.stringify(w)}`);
  return res;
}

function checkAccept(c: Context): "table" | "partial" | "json" {
  const n = negotiate(c.req.header("accept"));
  if (n === "protobuf-only") throw notAcceptable("only the following media types are accepted: application/json, application/yaml");
  return n;
}

function includeObject(c: Context): IncludeObject {
  const v = c.req.query("includeObject");
  if (!v) return "Metadata";
  if (v === "None" || v === "Metadata" || v === "Object") return v;
  throw badRequest(`includeObject must be one of None, Metadata, Object`);
}

function decodeContinue(token: string): { rev: number; ns: string; name: string } {
  try {
    const v = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
    if (typeof v?.rev === "number" && typeof v?.ns === "string" && typeof v?.name === "string") return v;
  } catch {}
  throw badRequest(`continue key is not valid: decode it from a list response's metadata.continue`);
}

function encodeContinue(rev: number, key: { ns: string; name: string }): string {
  return Buffer.from(JSON.stringify({ rev, ns: key.ns, name: key.name })).toString("base64url");
}

/**
 * How one request's version relates to the stored version: `view` is what the client speaks (its
 * schema checks bodies), `r` what the registry and store hold; objects cross with in() and out().
 */
interface Versions {
  view: RegisteredResource;
  r: RegisteredResource;
  in(o: any): any;
  out(o: any): any;
}

function versionsOf(view: RegisteredResource): Versions {
  const conv = view.conversion;
  // Custom resources (conversion None): the stored object read at this version.
  if (!conv) return { view, r: view, in: (o) => o, out: view.crd ? (o) => asServed(view, o) : (o) => o };
  return { view, r: storedResource(view), in: (o) => conv.toStored(o), out: (o) => (o && o.kind === storedResource(view).kind ? conv.fromStored(o) : o) };
}

export async function handleResource(c: Context, deps: ApiDeps): Promise<Response> {
  const parsed = parseResourcePath(new URL(c.req.url).pathname);
  if (!parsed) throw new ApiError(404, "NotFound", "the server could not find the requested resource");
  if (!parsed.r.deprecationWarning) return serveResource(c, deps, parsed);
  // Every request to a deprecated version carries its warning (upstream's deprecation filter).
  const warning = `299 - ${JSON.stringify(parsed.r.deprecationWarning)}`;
  try {
    const res = await serveResource(c, deps, parsed);
    res.headers.append("Warning", warning);
    return res;
  } catch (e) {
    const res = errorResponse(e);
    res.headers.append("Warning", warning);
    return res;
  }
}

async function serveResource(c: Context, deps: ApiDeps, parsed: ResourceRequest): Promise<Response> {
  const method = c.req.method;
  const v = versionsOf(parsed.r);
  const view = v.view;
  // From here on req.r is the stored version; bodies are checked against `view`.
  const req = { ...parsed, r: v.r, res: resKeyOf(v.r.group, v.r.plural) };
  const { r } = req;
  if (isReviewKind(r) && req.name === undefined) return handleReview(c, deps, r, req.ns);
  if (r.group === "" && r.plural === "bindings") return handleBinding(c, deps, req);
  // pods/ephemeralcontainers reads and writes a whole Pod, like status (the strategy keeps only the list).
  const podEphemeral = req.sub === "ephemeralcontainers" && r.group === "" && r.plural === "pods";
  if (req.sub && !["status", "scale", "approval"].includes(req.sub) && !podEphemeral) return handleSpecialSubresource(c, deps, req);
  if (req.sub === "approval" && !r.subresources?.approval) throw notFound(r, `${req.name}/approval`);
  // Subresources here are read, updated and patched; creating or deleting goes to the object itself.
  if (req.sub && method !== "GET" && method !== "PUT" && method !== "PATCH") throw methodNotAllowed(`method ${method} is not supported on ${r.plural}/${req.sub}`);
  if (req.sub === "status" && !r.subresources?.status) throw notFound(r, `${req.name}/status`);
  if (req.sub === "scale" && !r.subresources?.scale) throw notFound(r, `${req.name}/scale`);
  const verbs = r.verbs;
  const allowed = (v: string) => !verbs || verbs.includes(v);
  const ns = r.namespaced ? req.ns : "";
  const computed = r.group === "" && r.plural === "componentstatuses" ? (method === "GET" ? await componentStatuses(deps.componentChecks ?? {}) : []) : computedItems(r);
  if (computed) return serveComputed(c, req, v, computed);
  if (r.namespaced && req.name !== undefined && req.ns === undefined) throw badRequest(`${r.kind} is namespaced: use /namespaces/NAMESPACE/${r.plural}/${req.name}`);

  if (method === "GET") {
    if (req.name === undefined) {
      if (!allowed("list")) throw methodNotAllowed();
      if (req.watchPath || queryBool(c.req.query("watch"), "watch")) return watch(c, deps, req, v);
      return list(c, deps, req, v);
    }
    if (!allowed("get")) throw methodNotAllowed();
    const fmt = checkAccept(c);
    // resourceVersion "" (the default) is a linearizable read: ReadIndex through Raft.
    if (!c.req.query("resourceVersion")) await deps.store.readBarrier();
    const cur = deps.store.get(req.res, ns ?? "", req.name);
    if (!cur) throw notFound(r, req.name);
    if (req.sub === "scale") return respond(c, undefined, toScale(cur.obj, r), 200);
    if (fmt === "table") return respond(c, undefined, toTable(r, [cur.obj], { resourceVersion: String(cur.rev) }, includeObject(c)), 200);
    if (fmt === "partial") return respond(c, undefined, { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: cur.obj.metadata }, 200);
    return respond(c, undefined, v.out(cur.obj), 200);
  }

  if (method === "POST") {
    if (req.name !== undefined) throw methodNotAllowed(`POST is not allowed on a named ${r.kind}: use PUT or PATCH to change it`);
    if (!allowed("create")) throw methodNotAllowed(r.readOnly);
    if (r.namespaced && ns === undefined) throw badRequest(`${r.kind} is namespaced: POST to /namespaces/NAMESPACE/${r.plural}`);
    const ctx = writeCtxOf(c);
    const raw = requireObject(decodeObject(await readBody(c.req.raw), c.req.header("content-type"), ctx.fieldValidation === "Strict"));
    const obj = v.in(checked(ctx, view, raw));
    const created = await deps.registry.create(ctx, r, ns, obj);
    return respond(c, ctx, v.out(created), ctx.dryRun ? 200 : 201);
  }

  if (method === "PUT") {
    if (req.name === undefined) throw methodNotAllowed("PUT needs an object name in the path");
    if (!allowed("update")) throw methodNotAllowed(r.readOnly);
    const ctx = writeCtxOf(c);
    const raw = requireObject(decodeObject(await readBody(c.req.raw), c.req.header("content-type"), ctx.fieldValidation === "Strict"));
    if (req.sub === "scale") return scale(c, deps, ctx, req, (cur) => raw?.spec?.replicas ?? cur, raw?.metadata?.resourceVersion);
    const obj = v.in(checked(ctx, view, raw));
    const userRev = obj.metadata?.resourceVersion || undefined;
    // Only kinds that allow create-on-update ask first; for the others update() answers 404.
    if (!req.sub && deps.registry.strategy(r).allowCreateOnUpdate && !(await deps.store.getFresh(req.res, ns ?? "", req.name))) {
      obj.metadata ??= {};
      obj.metadata.name ??= req.name;
      const created = await deps.registry.create(ctx, r, ns, obj);
      return respond(c, ctx, v.out(created), 201);
    }
    const { obj: out } = await deps.registry.update(ctx, r, ns ?? "", req.name, () => obj, { sub: req.sub, userRev, retries: userRev ? 0 : 5 });
    return respond(c, ctx, v.out(out), 200);
  }

  if (method === "PATCH") {
    if (req.name === undefined) throw methodNotAllowed("PATCH needs an object name in the path");
    if (!allowed("patch")) throw methodNotAllowed(r.readOnly);
    return patch(c, deps, req, v);
  }

  if (method === "DELETE") {
    const ctx = writeCtxOf(c);
    const opts = await deleteOptions(c);
    if (req.name === undefined) {
      if (!allowed("deletecollection")) throw methodNotAllowed(r.readOnly);
      const match = buildMatcher(view, c.req.query("labelSelector"), c.req.query("fieldSelector"));
      const page = deps.store.list(req.res, ns, { match });
      const items: any[] = [];
      for (const o of page.items) {
        try {
          items.push(v.out((await deps.registry.delete(ctx, r, o.metadata.namespace ?? "", o.metadata.name, opts)).obj));
        } catch (e) {
          if (!(e instanceof ApiError && e.code === 404)) throw e;
        }
      }
      return respond(c, ctx, { kind: view.listKind, apiVersion: view.apiVersion, metadata: { resourceVersion: String(deps.store.rev) }, items }, 200);
    }
    if (!allowed("delete")) throw methodNotAllowed(r.readOnly);
    const { obj, gone } = await deps.registry.delete(ctx, r, ns ?? "", req.name, opts);
    return respond(c, ctx, v.out(obj), gone ? 200 : 202);
  }
  throw methodNotAllowed(`method ${method} is not supported`);
}

async function deleteOptions(c: Context): Promise<DeleteOpts> {
  const bytes = await readBody(c.req.raw);
  let body: any = {};
  if (bytes.byteLength) {
    const decoded = decodeObject(bytes, c.req.header("content-type") || "application/json");
    body = requireObject(decoded, "DeleteOptions object");
  }
  const grace = queryInt(c.req.query("gracePeriodSeconds"), "gracePeriodSeconds") ?? body.gracePeriodSeconds;
  let policy = c.req.query("propagationPolicy") ?? body.propagationPolicy;
  const orphan = c.req.query("orphanDependents") ?? body.orphanDependents;
  if (policy === undefined && (orphan === true || (typeof orphan === "string" && queryBool(orphan, "orphanDependents")))) policy = "Orphan";
  if (policy !== undefined && !["Foreground", "Background", "Orphan"].includes(policy))
    throw badRequest(`propagationPolicy must be one of Foreground, Background, Orphan, got "${policy}"`);
  if (grace !== undefined && (typeof grace !== "number" || grace < 0)) throw badRequest("gracePeriodSeconds must be a non-negative integer");
  const pre = body.preconditions ?? {};
  return { gracePeriodSeconds: grace, propagationPolicy: policy, preconditions: { uid: pre.uid, resourceVersion: pre.resourceVersion }, options: body };
}

/** GET of a computed kind (nothing stored): a list, one object or a Table; other methods are refused. */
function serveComputed(c: Context, req: ResourceRequest, v: Versions, items: any[]): Response {
  const { r } = req;
  if (c.req.method !== "GET") throw methodNotAllowed(r.readOnly);
  if (req.watchPath || queryBool(c.req.query("watch"), "watch")) throw methodNotAllowed(`${r.group ? `${r.plural}.${r.group}` : r.plural} cannot be watched: they are computed when read`);
  const fmt = checkAccept(c);
  const meta = { resourceVersion: "1" };
  if (req.name !== undefined) {
    const o = items.find((i) => i.metadata.name === req.name);
    if (!o) throw notFound(r, req.name);
    if (fmt === "table") return respond(c, undefined, toTable(r, [o], meta, includeObject(c)), 200);
    return respond(c, undefined, o, 200);
  }
  const match = buildMatcher(v.view, c.req.query("labelSelector"), c.req.query("fieldSelector"));
  const shown = match ? items.filter(match) : items;
  if (fmt === "partial")
    return respond(c, undefined, { kind: "PartialObjectMetadataList", apiVersion: "meta.k8s.io/v1", metadata: meta, items: shown.map((o) => ({ kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: o.metadata })) }, 200);
  if (fmt === "table") return respond(c, undefined, toTable(r, shown, meta, includeObject(c)), 200);
  return respond(c, undefined, { kind: r.listKind, apiVersion: r.apiVersion, metadata: meta, items: shown }, 200);
}

async function list(c: Context, deps: ApiDeps, req: ResourceRequest, v: Versions): Promise<Response> {
  const { r } = req;
  const fmt = checkAccept(c);
  const match = buildMatcher(v.view, c.req.query("labelSelector"), c.req.query("fieldSelector"));
  const limit = queryInt(c.req.query("limit"), "limit");
  const cont = c.req.query("continue");
  const rvParam = c.req.query("resourceVersion");
  const rvMatch = c.req.query("resourceVersionMatch");
  let atRev: number | undefined;
  let after: { ns: string; name: string } | undefined;
  if (cont) {
    if (rvParam) throw badRequest("specifying resource version is not allowed when using continue");
    const t = decodeContinue(cont);
    atRev = t.rev;
    after = { ns: t.ns, name: t.name };
  } else if (rvParam && rvParam !== "0") {
    const n = Number(rvParam);
    if (!Number.isInteger(n) || n < 0) throw badRequest(`invalid resourceVersion "${rvParam}": must be a non-negative integer`);
    if (n > deps.store.rev) throw timeoutError(`Too large resource version: ${n}, current: ${deps.store.rev}`);
    // Exact asks for the state at that revision; NotOlderThan (the default) is served by current state.
    if (rvMatch === "Exact") atRev = n;
    else if (rvMatch && rvMatch !== "NotOlderThan") throw badRequest(`resourceVersionMatch must be Exact or NotOlderThan`);
  }
  if (!rvParam && !cont) await deps.store.readBarrier();
  let page;
  try {
    page = deps.store.list(req.res, req.ns, { match, limit, after, atRev });
  } catch (e) {
    if (e instanceof ExpiredError) {
      if (cont) throw expired("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.");
      throw expired(`too old resource version: ${e.requested} (${e.oldest})`);
    }
    throw e;
  }
  const meta: Record<string, unknown> = { resourceVersion: String(page.rev) };
  if (page.more) meta.continue = encodeContinue(page.rev, page.more);
  if (page.remaining !== undefined) meta.remainingItemCount = page.remaining;
  if (fmt === "table") return respond(c, undefined, toTable(r, page.items, meta, includeObject(c)), 200);
  if (fmt === "partial")
    return respond(c, undefined, { kind: "PartialObjectMetadataList", apiVersion: "meta.k8s.io/v1", metadata: meta, items: page.items.map((o) => ({ kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: o.metadata })) }, 200);
  return respond(c, undefined, { kind: v.view.listKind, apiVersion: v.view.apiVersion, metadata: meta, items: page.items.map(v.out) }, 200);
}

function watch(c: Context, deps: ApiDeps, req: ResourceRequest, v: Versions): Response {
  const fmt = checkAccept(c);
  const match = buildMatcher(v.view, c.req.query("labelSelector"), c.req.query("fieldSelector")) ?? (() => true);
  return serveWatch(
    deps.store,
    {
      r: req.r,
      res: req.res,
      ns: req.ns,
      match,
      resourceVersion: c.req.query("resourceVersion"),
      bookmarks: queryBool(c.req.query("allowWatchBookmarks"), "allowWatchBookmarks"),
      timeoutSeconds: queryInt(c.req.query("timeoutSeconds"), "timeoutSeconds"),
      format: fmt === "table" ? "table" : "json",
      include: includeObject(c),
      sendInitialEvents: queryBool(c.req.query("sendInitialEvents"), "sendInitialEvents"),
      convert: v.r === v.view && !v.view.crd ? undefined : v.out,
    },
    c.req.raw.signal,
  );
}

async function patch(c: Context, deps: ApiDeps, req: ResourceRequest, v: Versions): Promise<Response> {
  const { r } = req;
  const view = v.view;
  const ctx = writeCtxOf(c);
  const ct = c.req.header("content-type");
  const type = patchTypeFromContentType(ct ?? "");
  if (!type)
    throw unsupportedMediaType(mediaType(ct), ["application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json", "application/apply-patch+yaml"]);
  // Custom resources have no Go struct to carry patch strategies: upstream refuses SMP there.
  if (type === "strategic" && r.crd)
    throw unsupportedMediaType(mediaType(ct), ["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"]);
  const text = new TextDecoder().decode(await readBody(c.req.raw));
  const body = parseText(text, type === "apply", ctx.fieldValidation === "Strict");
  const ns = req.ns ?? "";
  const name = req.name!;
  const wrap = (f: () => any) => {
    try {
      return f();
    } catch (e) {
      if (e instanceof PatchError) throw new ApiError(e.code, e.reason, e.message, e.causes ? { name, kind: r.kind, causes: e.causes } : undefined);
      throw e;
    }
  };
  if (req.sub === "scale") {
    return scale(c, deps, ctx, req, (curReplicas, curScale) => {
      // The Scale type roots a strategic merge patch, as upstream's scale subresource does.
      const patched = wrap(() => applyPatch(type === "apply" ? "merge" : type, curScale, body, ScaleType));
      return patched?.spec?.replicas ?? curReplicas;
    });
  }
  if (type === "apply") {
    if (!c.req.query("fieldManager")) throw badRequest("PATCH with application/apply-patch+yaml requires the fieldManager query parameter");
    const config = requireObject(body, "apply configuration");
    const force = queryBool(c.req.query("force"), "force");
    const cur = await deps.store.getFresh(req.res, ns, name);
    if (config.metadata?.name && config.metadata.name !== name) throw badRequest(`the name of the object (${config.metadata.name}) does not match the name on the URL (${name})`);
    const cleanConfig = checked(ctx, view, config);
    if (!cur) {
      if (req.sub) throw notFound(r, name);
      const obj = v.in(wrap(() => serverSideApply(undefined, cleanConfig, { manager: ctx.manager, force, apiVersion: view.apiVersion, now: new Date().toISOString().replace(/\.\d+Z$/, "Z"), root: view.type })));
      obj.metadata ??= {};
      obj.metadata.name = name;
      const created = await deps.registry.create(ctx, r, req.ns, obj, { keepManagedFields: true });
      return respond(c, ctx, v.out(created), 201);
    }
    const { obj } = await deps.registry.update(
      ctx,
      r,
      ns,
      name,
      (current) => v.in(wrap(() => serverSideApply(v.out(current), structuredClone(cleanConfig), { manager: ctx.manager, force, apiVersion: view.apiVersion, now: new Date().toISOString().replace(/\.\d+Z$/, "Z"), root: view.type, subresource: req.sub }))),
      { sub: req.sub, keepManagedFields: true, userRev: config.metadata?.resourceVersion },
    );
    return respond(c, ctx, v.out(obj), 200);
  }
  const { obj } = await deps.registry.update(
    ctx,
    r,
    ns,
    name,
    (current) => {
      const patched = wrap(() => applyPatch(type, v.out(current), body, view.type));
      const raw = requireObject(patched, "patched object");
      return v.in(checked(ctx, view, raw));
    },
    { sub: req.sub, userRev: (body as any)?.metadata?.resourceVersion },
  );
  return respond(c, ctx, v.out(obj), 200);
}

function scale(c: Context, deps: ApiDeps, ctx: WriteCtx, req: ResourceRequest, replicasFrom: (cur: number, curScale: any) => unknown, userRev?: string): Promise<Response> {
  return updateScale(deps.registry, ctx, req.r, req.ns ?? "", req.name!, replicasFrom, userRev).then((s) => respond(c, ctx, s, 200));
}

export function errorResponse(e: unknown): Response {
  if (e instanceof ApiError) return new Response(JSON.stringify(e.toStatus()), { status: e.code, headers: { "Content-Type": "application/json" } });
  console.error("internal error:", e);
  return new Response(JSON.stringify(statusObject(500, "InternalError", `Internal error occurred: ${(e as Error)?.message ?? String(e)}`)), {
    status: 500,
    headers: { "Content-Type": "application/json" },
  });
}
