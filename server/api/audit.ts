// The audit filter: one audit.k8s.io/v1 Event per stage of every request the policy selects.
// It runs outside authentication, so refused (401/403) requests are audited too; annotations
// come from authorization (authorization.k8s.io/decision, .../reason) and admission plugins
// (pod-security.kubernetes.io/audit-violations) through the request's AuditContext. Events are
// queued on the batch backend, so no request waits for the log.
import type { Context, Next } from "hono";
import { parse as parseYaml } from "yaml";
import { requestAttributes, type Attributes, type UserInfo } from "../auth/attributes";
import { ApiError } from "../errors";
import { onBodyDone } from "./limits";
import type { AuditContext, Auditor } from "../audit";
import { evaluate, wantsBodies, type Level, type Stage } from "../audit/policy";

const ANONYMOUS: UserInfo = { user: "system:anonymous", groups: ["system:unauthenticated"] };
const RANK: Record<Level, number> = { None: 0, Metadata: 1, Request: 2, RequestResponse: 3 };

/** RFC 3339 with microseconds, as upstream's MicroTime. */
const micro = (t: Date) => t.toISOString().replace(/Z$/, "000Z");

function attributesOf(method: string, url: URL): Attributes {
  try {
    return requestAttributes(method, url);
  } catch {
    return { verb: method.toLowerCase(), resourceRequest: false, path: url.pathname, apiGroup: "", apiVersion: "", resource: "", subresource: "", namespace: "", name: "" };
  }
}

/** A JSON or YAML body as an object; undefined for anything else (protobuf, streams). */
function decodeBody(text: string, contentType: string | null | undefined): unknown {
  if (!text) return undefined;
  try {
    if (!contentType || contentType.includes("json")) return JSON.parse(text);
    if (contentType.includes("yaml")) return parseYaml(text);
  } catch {
    /* an undecodable body is left out of the event, as upstream does */
  }
  return undefined;
}

export function auditMiddleware(a: Auditor) {
  const bodies = wantsBodies(a.policy);
  return async (c: Context, next: Next): Promise<void> => {
    const received = new Date();
    const url = new URL(c.req.url);
    const method = c.req.method;
    // A client may name its request (upstream keeps a given Audit-ID); bounded, so it cannot bloat the log.
    const ac: AuditContext = { auditID: c.req.header("audit-id")?.slice(0, 128) || crypto.randomUUID(), annotations: {} };
    c.set("audit", ac);
    // The body is streamed to the handler; a tee keeps a copy only when a rule may log it.
    const copy = bodies && method !== "GET" && method !== "HEAD" && c.req.raw.body ? c.req.raw.clone() : undefined;
    await next();
    // Upstream answers every request with its Audit-ID (clients log it to find the event).
    try {
      c.res.headers.set("Audit-Id", ac.auditID);
    } catch {
      /* a proxied response's headers may be immutable: the event still carries the ID */
    }
    const attrs = attributesOf(method, url);
    const authn = (c.get("authenticated") ?? c.get("identity")) as UserInfo | undefined;
    const acting = c.get("identity") as UserInfo | undefined;
    const who = authn ?? ANONYMOUS;
    const decision = evaluate(a.policy, who, attrs);
    if (decision.level === "None") {
      void copy?.body?.cancel().catch(() => {});
      return;
    }
    const level = decision.level;
    const base: Record<string, unknown> = {
      kind: "Event",
      apiVersion: "audit.k8s.io/v1",
      level,
      auditID: ac.auditID,
      stage: "RequestReceived",
      requestURI: url.pathname + url.search,
      verb: attrs.verb,
      user: userOf(who),
    };
    if (authn && acting && acting !== authn && (acting.user !== authn.user || acting.groups.join() !== authn.groups.join())) base.impersonatedUser = userOf(acting);
    const ip = (c.env as { remoteAddress?: string } | undefined)?.remoteAddress;
    const fwd = (c.req.header("x-forwarded-for") ?? "").split(",").map((s) => s.trim()).filter(Boolean);
    base.sourceIPs = [...fwd, ...(ip ? [ip.replace(/^::ffff:/, "")] : [])];
    const ua = c.req.header("user-agent");
    if (ua) base.userAgent = ua;
    if (attrs.resourceRequest) {
      const ref: Record<string, string> = {};
      if (attrs.resource) ref.resource = attrs.resource;
      if (attrs.namespace) ref.namespace = attrs.namespace;
      const name = attrs.name || ac.name;
      if (name) ref.name = name;
      ref.apiGroup = attrs.apiGroup;
      ref.apiVersion = attrs.apiVersion;
      if (attrs.subresource) ref.subresource = attrs.subresource;
      if (!ref.apiGroup) delete ref.apiGroup;
      base.objectRef = ref;
    }
    base.requestReceivedTimestamp = micro(received);
    const emit = (stage: Stage, extra: Record<string, unknown> = {}) => {
      if (decision.omitStages.has(stage)) return;
      const ev: Record<string, unknown> = { ...base, stage, ...extra, stageTimestamp: micro(new Date()) };
      if (Object.keys(ac.annotations).length) ev.annotations = { ...ac.annotations };
      a.backend.process(ev);
    };
    const res = c.res;
    const code = res.status;
    // An exception no handler turned into a Status: upstream's Panic stage.
    const panicked = code >= 500 && c.error !== undefined && !(c.error instanceof ApiError);
    let requestObject: unknown;
    if (copy && RANK[level] >= RANK.Request) requestObject = decodeBody(await copy.text().catch(() => ""), c.req.header("content-type"));
    else void copy?.body?.cancel().catch(() => {});
    emit("RequestReceived");
    const status = await responseStatus(c, code);
    const tail: Record<string, unknown> = { responseStatus: status };
    if (requestObject !== undefined) tail.requestObject = requestObject;
    if (panicked) {
      emit("Panic", tail);
      return;
    }
    const streaming = attrs.verb === "watch" || url.searchParams.get("follow") === "true";
    if (streaming && code < 300) {
      // A watch: ResponseStarted now, ResponseComplete when the stream ends.
      emit("ResponseStarted", tail);
      c.res = onBodyDone(c.res, () => emit("ResponseComplete", tail));
      return;
    }
    if (RANK[level] >= RANK.RequestResponse && (res.headers.get("content-type") ?? "").includes("json")) {
      const obj = decodeBody(await c.res.clone().text().catch(() => ""), "json");
      if (obj !== undefined) tail.responseObject = obj;
    }
    emit("ResponseComplete", tail);
  };
}

function userOf(u: UserInfo): Record<string, unknown> {
  return { username: u.user, groups: [...u.groups] };
}

/** metav1.Status of the answer: the code for a success, upstream's Failure status for an error. */
async function responseStatus(c: Context, code: number): Promise<Record<string, unknown>> {
  if (code < 400) return { metadata: {}, code };
  if (c.error instanceof ApiError) {
    const s: Record<string, unknown> = { metadata: {}, status: "Failure", message: c.error.message, code };
    if (c.error.reason) s.reason = c.error.reason;
    return s;
  }
  const body = (c.res.headers.get("content-type") ?? "").includes("json") ? (decodeBody(await c.res.clone().text().catch(() => ""), "json") as any) : undefined;
  const s: Record<string, unknown> = { metadata: {}, status: "Failure", code };
  if (body?.kind === "Status") {
    if (body.message) s.message = body.message;
    if (body.reason) s.reason = body.reason;
  }
  return s;
}
