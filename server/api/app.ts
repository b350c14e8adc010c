// The Hono application: discovery, OpenAPI, and every resource path, with errors as Status.
import { Hono } from "hono";
import { discoveryApp } from "./discovery";
import { openapiApp } from "./openapi";
import { errorResponse, handleResource, type ApiDeps } from "./resources";
import { pathNotFound } from "./status";

export function createApp(deps: ApiDeps, opts: { serverAddress: () => string }): Hono {
  const app = new Hono();
  app.onError((err) => errorResponse(err));
  app.notFound((c) => errorResponse(pathNotFound(new URL(c.req.url).pathname)));
  app.route("/", discoveryApp(opts.serverAddress));
  app.route("/", openapiApp);
  const resource = (c: any) => handleResource(c, deps);
  app.all("/api/v1/*", resource);
  app.all("/apis/:group/:version/*", resource);
  return app;
}
