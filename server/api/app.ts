// The Hono application: authentication, discovery, OpenAPI, every resource path, and the
// node join endpoint, with errors as Kubernetes Status objects.
import { Hono } from "hono";
import type { Authenticator, Identity } from "../auth/authn";
import { authorizerFor, requestAttributes } from "../auth/authz";
import { impersonate } from "../auth/impersonation";
import { JOIN_PATHS } from "../raft/cluster/routes";
import { discoveryApp } from "./discovery";
import { openapiApp } from "./openapi";
import { errorResponse, handleResource, type ApiDeps } from "./resources";
import { ApiError, badRequest, forbidden, pathNotFound } from "../errors";
import { isDns1123Subdomain } from "../../schemas/validation";

interface AppOptions {
  serverAddress: () => string;
  auth: Authenticator;
  /** The cluster CA (PEM), served at /cacerts so joining nodes can pin it against their token. */
  caPem: string;
  /** More routes behind authentication (the control plane's cluster endpoints). */
  extraRoutes?: Hono<any>;
}

/** Paths anyone may read, like Kubernetes' system:public-info-viewer (plus the CA bundle). */
const PUBLIC = new Set(["/healthz", "/livez", "/readyz", "/version", "/cacerts", "/ping"]);

export function createApp(deps: ApiDeps, opts: AppOptions): Hono<{ Variables: { identity: Identity } }> {
  const app = new Hono<{ Variables: { identity: Identity } }>();
  app.onError((err) => errorResponse(err));
  app.notFound((c) => errorResponse(pathNotFound(new URL(c.req.url).pathname)));
  const authz = authorizerFor(deps.store);
  app.use("*", async (c, next) => {
    const url = new URL(c.req.url);
    const path = url.pathname;
    if (PUBLIC.has(path)) return next();
    const id = await opts.auth.authenticate(c.req.header("authorization"));
    if (!id) throw new ApiError(401, "Unauthorized", "Unauthorized: send a bearer token from your kubeconfig");
    if (id.joinOnly && path !== "/v1-skiff/node-credentials" && !JOIN_PATHS.has(path)) throw forbidden(`User "${id.user}" may only request node credentials with a join token`);
    // A join token is confined to its endpoints above; everyone else goes through Node + RBAC,
    // as whom they impersonate (kubectl --as) when they may.
    const acting = id.joinOnly ? id : await impersonate(authz, id, c.req.raw.headers);
    c.set("identity", acting);
    if (!acting.joinOnly) await authz.check(acting, requestAttributes(c.req.method, url));
    return next();
  });
  app.get("/cacerts", (c) => c.text(opts.caPem));
  app.get("/ping", (c) => c.text("pong"));
  app.post("/v1-skiff/node-credentials", async (c) => {
    const id = c.get("identity");
    if (!id.joinOnly && !id.groups.includes("system:masters")) throw forbidden(`User "${id.user}" cannot request node credentials`);
    let body: any;
    try {
      body = await c.req.json();
    } catch {
      throw badRequest('send {"nodeName": "NAME"} as JSON');
    }
    const node = body?.nodeName;
    if (typeof node !== "string" || !isDns1123Subdomain(node)) throw badRequest(`nodeName must be a lowercase RFC 1123 subdomain, got ${JSON.stringify(node)}`);
    return c.json({ nodeName: node, token: await opts.auth.nodeToken(node), caData: opts.caPem });
  });
  if (opts.extraRoutes) app.route("/", opts.extraRoutes);
  app.route("/", discoveryApp(opts.serverAddress));
  app.route("/", openapiApp);
  const resource = (c: any) => handleResource(c, deps);
  app.all("/api/v1/*", resource);
  app.all("/apis/:group/:version/*", resource);
  return app;
}
