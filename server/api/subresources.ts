// Subresources with their own semantics (binding, eviction, token, finalize), decoded here and
// written by their kinds in server/registry/kinds, and the create-only review kinds that are
// answered, never stored.
import type { Context } from "hono";
import type { RegisteredResource } from "../../schemas/registry";
import { decodeObject, readBody, requireObject } from "./body";
import type { ApiDeps } from "./resources";
import { writeCtxOf, type ResourceRequest } from "./request";
import { badRequest, invalid, methodNotAllowed, pathNotFound } from "../errors";
import type { Identity } from "../auth/authn";
import { authorizerFor, type Attributes, type UserInfo } from "../auth/authz";
import { finalizeNamespace } from "../registry/kinds/namespaces";
import { bindPod } from "../registry/kinds/pods";
import { evictPod } from "../registry/kinds/eviction";
import { issueToken } from "../registry/kinds/serviceaccounts";
import { reviewToken } from "../auth/sa-tokens";

async function bodyOf(c: Context): Promise<any> {
  return requireObject(decodeObject(await readBody(c.req.raw), c.req.header("content-type")));
}

const json = (v: unknown, code = 201) => new Response(JSON.stringify(v), { status: code, headers: { "Content-Type": "application/json" } });

function respond(v: unknown, code: number, warnings: string[]): Response {
  const res = json(v, code);
  for (const w of warnings) res.headers.append("Warning", `299 - ${JSON.stringify(w)}`);
  return res;
}

const SUCCESS = { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", code: 201 };

export async function handleSpecialSubresource(c: Context, deps: ApiDeps, req: ResourceRequest): Promise<Response> {
  const { r } = req;
  const key = `${r.group}/${r.plural}/${req.sub}`;
  const ns = req.ns ?? "";
  const name = req.name!;
  const method = key === "/namespaces/finalize" ? "PUT" : "POST";
  if (!["/pods/binding", "/pods/eviction", "/serviceaccounts/token", "/namespaces/finalize"].includes(key)) throw pathNotFound(`${r.plural}/${req.sub}`);
  if (c.req.method !== method) throw methodNotAllowed();
  const body = await bodyOf(c);
  const ctx = writeCtxOf(c);
  switch (key) {
    case "/pods/binding":
      await bindPod(deps.registry, ctx, ns, name, body);
      return respond(SUCCESS, 201, ctx.warnings);
    case "/pods/eviction":
      await evictPod(deps.registry, ctx, ns, name, body);
      return respond(SUCCESS, 201, ctx.warnings);
    case "/serviceaccounts/token":
      return respond(await issueToken(deps.registry, ctx, deps.tokenKey, ns, name, body), 201, ctx.warnings);
    default:
      return respond(await finalizeNamespace(deps.registry, ctx, name, body?.spec?.finalizers ?? []), 200, ctx.warnings);
  }
}

/**
 * POST /api/v1/namespaces/NS/bindings: the top-level form of pods/NAME/binding (older
 * schedulers use it), the pod named by the Binding's metadata.name; one code path, bindPod.
 */
export async function handleBinding(c: Context, deps: ApiDeps, req: ResourceRequest): Promise<Response> {
  if (req.name !== undefined || req.sub) throw pathNotFound(`bindings/${req.name ?? ""}${req.sub ? `/${req.sub}` : ""}`);
  if (c.req.method !== "POST") throw methodNotAllowed("bindings only supports create");
  if (req.ns === undefined) throw badRequest("Binding is namespaced: POST to /api/v1/namespaces/NAMESPACE/bindings");
  const body = await bodyOf(c);
  const name = body.metadata?.name;
  if (typeof name !== "string" || !name)
    throw invalid(req.r, "", [{ field: "metadata.name", type: "FieldValueRequired", message: "Required value: the name of the pod to bind" }]);
  if (body.metadata.namespace && body.metadata.namespace !== req.ns)
    throw badRequest("the namespace of the provided object does not match the namespace sent on the request");
  const ctx = writeCtxOf(c);
  await bindPod(deps.registry, ctx, req.ns, name, body, "bindings");
  return respond(SUCCESS, 201, ctx.warnings);
}

/** Review kinds (SelfSubjectAccessReview, TokenReview, ...): answered from the request, never stored. */
export function isReviewKind(r: RegisteredResource): boolean {
  return r.group === "authorization.k8s.io" || r.group === "authentication.k8s.io";
}

export async function handleReview(c: Context, deps: ApiDeps, r: RegisteredResource, ns: string | undefined): Promise<Response> {
  if (c.req.method !== "POST") throw methodNotAllowed(`${r.plural} only supports create`);
  const body = await bodyOf(c);
  body.metadata ??= {};
  if (ns && r.namespaced) body.metadata.namespace ??= ns;
  r.defaults?.(body);
  const errs = r.validate?.(body) ?? [];
  if (errs.length) throw invalid(r, body.metadata?.name ?? "", errs);
  const out: any = { kind: r.kind, apiVersion: r.apiVersion, metadata: { creationTimestamp: null, ...(ns ? { namespace: ns } : {}) }, spec: body.spec ?? {} };
  // The caller, as authenticated (the middleware always sets it on this path).
  const me: Identity = c.get("identity") ?? { user: "", groups: [] };
  const authz = authorizerFor(deps.store);
  switch (r.kind) {
    case "SelfSubjectAccessReview":
    case "SubjectAccessReview":
    case "LocalSubjectAccessReview": {
      const spec = body.spec ?? {};
      const who: UserInfo =
        r.kind === "SelfSubjectAccessReview"
          ? { user: me.user, groups: me.groups }
          : { user: String(spec.user ?? ""), groups: Array.isArray(spec.groups) ? spec.groups.map(String) : [] };
      const d = await authz.authorize(who, reviewAttributes(spec));
      out.status = { allowed: d.allowed, ...(d.reason ? { reason: d.reason } : {}) };
      break;
    }
    case "SelfSubjectRulesReview": {
      const rules = authz.rulesFor({ user: me.user, groups: me.groups }, String(body.spec?.namespace ?? ""));
      out.status = {
        resourceRules: rules.resourceRules,
        nonResourceRules: rules.nonResourceRules,
        incomplete: rules.incomplete,
        ...(rules.errors.length ? { evaluationError: rules.errors.join(", ") } : {}),
      };
      break;
    }
    case "SelfSubjectReview":
      out.status = { userInfo: { username: me.user, groups: me.groups } };
      delete out.spec;
      break;
    case "TokenReview":
      if (!deps.auth) throw methodNotAllowed("this server does not review tokens");
      out.status = await reviewToken(deps.auth, body.spec);
      break;
    default:
      throw methodNotAllowed();
  }
  return json(out, 201);
}

/** ResourceAttributes / NonResourceAttributes of an access review → authorizer attributes. */
function reviewAttributes(spec: any): Attributes {
  const ra = spec?.resourceAttributes;
  if (ra && typeof ra === "object") {
    return {
      verb: String(ra.verb ?? ""),
      resourceRequest: true,
      path: "",
      apiGroup: String(ra.group ?? ""),
      apiVersion: String(ra.version ?? ""),
      resource: String(ra.resource ?? ""),
      subresource: String(ra.subresource ?? ""),
      namespace: String(ra.namespace ?? ""),
      name: String(ra.name ?? ""),
    };
  }
  const nra = spec?.nonResourceAttributes ?? {};
  return { verb: String(nra.verb ?? ""), resourceRequest: false, path: String(nra.path ?? ""), apiGroup: "", apiVersion: "", resource: "", subresource: "", namespace: "", name: "" };
}
