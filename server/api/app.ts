// The Hono application: authentication, discovery, OpenAPI, every resource path, and the
// node join endpoint, with errors as Kubernetes Status objects.
import { Hono } from "hono";
import type { Authenticator, Identity } from "../auth/authn";
import { authorizerFor, requestAttributes } from "../auth/authz";
import { impersonate } from "../auth/impersonation";
import { X509Authenticator } from "../auth/x509";
import { clientCertOf } from "./client-certs";
import { FlowClassifier } from "./flow-schema";
import { NODE_CREDENTIALS_PATH } from "../auth/join-routes";
import { JOIN_PATHS } from "../raft/cluster/routes";
import { discoveryApp } from "./discovery";
import { openapiApp } from "./openapi";
import { errorResponse, handleResource, type ApiDeps } from "./resources";
import { ApiError, forbidden, pathNotFound, statusObject } from "../errors";
import { isDashboardPath, serveDashboard } from "../dashboard";
import { instrument } from "./instrument";
import { auditMiddleware } from "./audit";
import type { AuditContext, Auditor } from "../audit";
import { metricsRegistry } from "../metrics/apiserver";
import { capWarnings, formatWarning, Inflight, isLongRunning, isMutating, isWatch, limitsFromEnv, onBodyDone, parseWarnings, WatchCounter, type Limits } from "./limits";

interface AppOptions {
  serverAddress: () => string;
  auth: Authenticator;
  /** The cluster CA (PEM), served at /cacerts so joining nodes can pin it against their token. */
  caPem: string;
  /** More routes behind authentication (the control plane's cluster endpoints, node credentials). */
  extraRoutes?: Hono<any> | Hono<any>[];
  /** Request limits (default: limitsFromEnv()). */
  limits?: Limits;
  /** The audit policy and log (--audit-policy-file, --audit-log-path); none: nothing is audited. */
  audit?: Auditor;
}

const tooMany = (message: string) =>
  new Response(JSON.stringify(statusObject(429, "TooManyRequests", message, { retryAfterSeconds: 1 })), {
    status: 429,
    headers: { "Content-Type": "application/json", "Retry-After": "1" },
  });

/** Paths anyone may read, like Kubernetes' system:public-info-viewer (plus the CA bundle). */
const PUBLIC = new Set(["/healthz", "/livez", "/readyz", "/version", "/version/", "/cacerts", "/ping"]);

export function createApp(deps: ApiDeps, opts: AppOptions): Hono<{ Variables: { identity: Identity; authenticated: Identity; audit: AuditContext } }> {
  const app = new Hono<{ Variables: { identity: Identity; authenticated: Identity; audit: AuditContext } }>();
  app.onError((err) => errorResponse(err));
  app.notFound((c) => errorResponse(pathNotFound(new URL(c.req.url).pathname)));
  const authz = authorizerFor(deps.store);
  const certs = new X509Authenticator(opts.caPem);
  const flows = new FlowClassifier(deps.store);
  const limits = opts.limits ?? limitsFromEnv();
  const reads = new Inflight(limits.maxRequestsInflight);
  const writes = new Inflight(limits.maxMutatingInflight);
  const watches = new WatchCounter(limits.maxWatchesPerUser);
  // Outermost: every answer (401s and 429s too) is counted in apiserver_request_total.
  app.use("*", (c, next) => instrument(c, next));
  // Outside authentication, so refused requests are audited too (upstream's WithAudit order).
  if (opts.audit) app.use("*", auditMiddleware(opts.audit));
  // Authentication comes first and reads only headers: the body is not read (the listener
  // streams it in on demand) until a handler of an authenticated, authorized request asks.
  app.use("*", async (c, next) => {
    const url = new URL(c.req.url);
    const path = url.pathname;
    // The dashboard page and assets hold no data; the page calls the API with its own token.
    if (PUBLIC.has(path) || (isDashboardPath(path) && (c.req.method === "GET" || c.req.method === "HEAD"))) return next();
    // A client certificate from the cluster CA first (as kube-apiserver's x509 authenticator), then tokens.
    const id = (await certs.authenticate(clientCertOf(c.req.raw))) ?? (await opts.auth.authenticate(c.req.header("authorization")));
    if (!id) throw new ApiError(401, "Unauthorized", "Unauthorized: send a bearer token from your kubeconfig, or a client certificate the cluster CA signed");
    // Join tokens reach only their endpoints: the agent token node credentials, the server token
    // also the control plane's join and bootstrap (K3s: the agent token cannot join a server).
    if (id.joinOnly && path !== NODE_CREDENTIALS_PATH && !(id.join === "server" && JOIN_PATHS.has(path)))
      throw forbidden(
        id.join === "agent" && (JOIN_PATHS.has(path) || path.startsWith("/v1-skiff/raft/"))
          ? `User "${id.user}" cannot join a server or read the cluster's secrets: the agent token only joins agents (servers join with the server token, <data-dir>/server/token)`
          : `User "${id.user}" may only request node credentials with a join token`,
      );
    // A join token is confined to its endpoints above; everyone else goes through Node + RBAC,
    // as whom they impersonate (kubectl --as) when they may.
    const acting = id.joinOnly ? id : await impersonate(authz, id, c.req.raw.headers);
    c.set("authenticated", id);
    c.set("identity", acting);
    const method = c.req.method;
    let release: (() => void) | undefined;
    // Upstream's max-in-flight filter: cluster admins (the loopback client) are exempt.
    if (!acting.groups.includes("system:masters")) {
      if (isWatch(method, url)) {
        release = watches.tryEnter(acting.user);
        if (!release) return tooMany(`too many open watches for user "${acting.user}" (at most ${limits.maxWatchesPerUser}): close some, or retry later`);
      } else if (!isLongRunning(method, url)) {
        release = (isMutating(method) ? writes : reads).tryEnter();
        if (!release) return tooMany("too many requests, please try again later");
      }
    }
    try {
      // Node credentials decide for themselves (join token, the node itself, or an admin).
      const attrs = requestAttributes(method, url);
      if (!acting.joinOnly && path !== NODE_CREDENTIALS_PATH) {
        const audit = c.get("audit") as AuditContext | undefined;
        await authz.check(acting, attrs, (d) => {
          if (!audit) return;
          audit.annotations["authorization.k8s.io/decision"] = d.allowed ? "allow" : "forbid";
          if (d.reason) audit.annotations["authorization.k8s.io/reason"] = d.reason;
        });
      }
      await next();
      const flow = flows.classify(acting, attrs);
      if (flow && !c.res.headers.has("X-Kubernetes-PF-FlowSchema-UID")) {
        try {
          c.res.headers.set("X-Kubernetes-PF-FlowSchema-UID", flow.flowSchema);
          c.res.headers.set("X-Kubernetes-PF-PriorityLevel-UID", flow.priorityLevel);
        } catch {
          // a response with immutable headers (a passed-through fetch) goes without them
        }
      }
    } catch (e) {
      release?.();
      throw e;
    }
    capWarningHeaders(c);
    // A watch holds its slot until its body ends; other requests until their answer is made.
    if (release && isWatch(method, url)) c.res = onBodyDone(c.res, release);
    else release?.();
  });
  app.get("/cacerts", (c) => c.text(opts.caPem));
  app.get("/metrics", async () => new Response(await metricsRegistry.metrics(), { headers: { "Content-Type": metricsRegistry.contentType } }));
  app.get("/ping", (c) => c.text("pong"));
  app.get("/dashboard/*", (c) => serveDashboard(c.req.raw));
  app.get("/dashboard", (c) => serveDashboard(c.req.raw));
  for (const r of [opts.extraRoutes ?? []].flat()) app.route("/", r);
  app.route("/", discoveryApp(opts.serverAddress));
  app.route("/", openapiApp);
  const withAuth: ApiDeps = { ...deps, auth: opts.auth };
  const resource = (c: any) => handleResource(c, withAuth);
  app.all("/api/v1/*", resource);
  app.all("/apis/:group/:version/*", resource);
  return app;
}

/** Upstream truncates Warning headers to a few KiB; so do we, whoever added them. */
function capWarningHeaders(c: { res: Response }): void {
  const raw = c.res.headers.get("warning");
  if (!raw || raw.length <= 4096) return;
  const kept = capWarnings(parseWarnings(raw));
  // In place: Hono copies the old response's headers onto a replacement.
  c.res.headers.delete("warning");
  for (const w of kept) c.res.headers.append("Warning", formatWarning(w));
}
