// Subresources with their own semantics (binding, eviction, token, finalize) and the
// create-only review kinds that are answered, never stored.
import type { Context } from "hono";
import { SignJWT } from "jose";
import type { RegisteredResource } from "../../schemas/registry";
import { decodeObject, readBody, requireObject } from "./body";
import { managerFrom, type ApiDeps } from "./resources";
import type { ResourceRequest } from "./request";
import { ApiError, badRequest, invalid, methodNotAllowed, notFound, pathNotFound } from "../errors";
import type { Identity } from "../auth/authn";
import { authorizerFor, type Attributes, type UserInfo } from "../auth/authz";
import { deleteObject, updateObject, type WriteCtx } from "./write";
import { timestamp } from "./object-meta";

function ctxOf(c: Context, deps: ApiDeps): WriteCtx {
  return { store: deps.store, manager: managerFrom(c), dryRun: !!c.req.query("dryRun"), fieldValidation: "Warn", warnings: [] };
}

async function bodyOf(c: Context): Promise<any> {
  return requireObject(decodeObject(await readBody(c.req.raw), c.req.header("content-type")));
}

const json = (v: unknown, code = 201) => new Response(JSON.stringify(v), { status: code, headers: { "Content-Type": "application/json" } });

export async function handleSpecialSubresource(c: Context, deps: ApiDeps, req: ResourceRequest): Promise<Response> {
  const { r } = req;
  const key = `${r.group}/${r.plural}/${req.sub}`;
  const ns = req.ns ?? "";
  const name = req.name!;
  if (key === "/pods/binding") {
    if (c.req.method !== "POST") throw methodNotAllowed();
    const b = await bodyOf(c);
    const node = b?.target?.name;
    if (!node) throw new ApiError(422, "Invalid", `Binding "${name}" is invalid: target.name: Required value`);
    const ctx = ctxOf(c, deps);
    await updateObject(ctx, r, ns, name, (pod) => {
      if (pod.spec?.nodeName) throw new ApiError(409, "Conflict", `Operation cannot be fulfilled on pods/binding "${name}": pod ${name} is already assigned to node "${pod.spec.nodeName}"`);
      if (b.metadata?.uid && b.metadata.uid !== pod.metadata.uid) throw new ApiError(409, "Conflict", `Operation cannot be fulfilled on pods/binding "${name}": UID mismatch`);
      pod.spec.nodeName = node;
      pod.status ??= {};
      const conds = (pod.status.conditions ?? []).filter((x: any) => x.type !== "PodScheduled");
      conds.push({ type: "PodScheduled", status: "True", lastProbeTime: null, lastTransitionTime: timestamp() });
      pod.status.conditions = conds;
      return pod;
    }, { retries: 0, skipValidate: true });
    return json({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", code: 201 });
  }
  if (key === "/pods/eviction") {
    if (c.req.method !== "POST") throw methodNotAllowed();
    await bodyOf(c);
    const ctx = ctxOf(c, deps);
    await deleteObject(ctx, r, ns, name, {});
    return json({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", code: 201 });
  }
  if (key === "/serviceaccounts/token") {
    if (c.req.method !== "POST") throw methodNotAllowed();
    const tr = await bodyOf(c);
    const sa = deps.store.get("serviceaccounts", ns, name);
    if (!sa) throw notFound(r, name);
    const exp = Math.max(600, Math.min(Number(tr?.spec?.expirationSeconds ?? 3600), 86400 * 365));
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({
      "kubernetes.io": { namespace: ns, serviceaccount: { name, uid: sa.obj.metadata.uid } },
    })
      .setProtectedHeader({ alg: "HS256" })
      .setIssuer("https://kubernetes.default.svc.cluster.local")
      .setSubject(`system:serviceaccount:${ns}:${name}`)
      .setAudience(tr?.spec?.audiences?.length ? tr.spec.audiences : ["https://kubernetes.default.svc.cluster.local"])
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + exp)
      .sign(deps.tokenKey);
    return json({
      kind: "TokenRequest",
      apiVersion: "authentication.k8s.io/v1",
      metadata: { name, namespace: ns, creationTimestamp: null },
      spec: { ...(tr?.spec ?? {}), expirationSeconds: exp },
      status: { token, expirationTimestamp: timestamp(new Date((now + exp) * 1000)) },
    });
  }
  if (key === "/namespaces/finalize") {
    if (c.req.method !== "PUT") throw methodNotAllowed();
    const b = await bodyOf(c);
    const ctx = ctxOf(c, deps);
    const { obj } = await updateObject(ctx, r, "", name, (cur) => {
      cur.spec = { ...(cur.spec ?? {}), finalizers: b?.spec?.finalizers ?? [] };
      if (!cur.spec.finalizers.length) delete cur.spec.finalizers;
      return cur;
    }, { sub: "finalize" });
    return json(obj, 200);
  }
  throw pathNotFound(`${r.plural}/${req.sub}`);
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
    case "TokenReview": {
      const token = body.spec?.token;
      if (!token) throw badRequest("spec.token is required");
      try {
        const { jwtVerify } = await import("jose");
        const { payload } = await jwtVerify(token, deps.tokenKey);
        const sub = String(payload.sub ?? "");
        const groups = sub.startsWith("system:node:")
          ? ["system:nodes", "system:authenticated"]
          : sub.startsWith("system:serviceaccount:")
            ? ["system:serviceaccounts", `system:serviceaccounts:${sub.split(":")[2]}`, "system:authenticated"]
            : ["system:authenticated"];
        out.status = { authenticated: true, user: { username: sub, groups }, audiences: payload.aud };
      } catch (e) {
        out.status = { authenticated: false, error: (e as Error).message };
      }
      break;
    }
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
