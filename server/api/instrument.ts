// Request metrics middleware: times and counts every request (apiserver_request_total,
// apiserver_request_duration_seconds) and tracks open watches until their stream ends.
import type { Context, Next } from "hono";
import { requestAttributes, type Attributes } from "../auth/attributes";
import { metricVerb, observeRequest, watchOpened } from "../metrics/apiserver";
import { ApiError } from "../errors";
import { onBodyDone } from "./limits";

export async function instrument(c: Context, next: Next): Promise<void> {
  const started = performance.now();
  const url = new URL(c.req.url);
  let a: Attributes;
  try {
    a = requestAttributes(c.req.method, url);
  } catch {
    a = { verb: c.req.method.toLowerCase(), resourceRequest: false, path: url.pathname, apiGroup: "", apiVersion: "", resource: "", subresource: "", namespace: "", name: "" };
  }
  const verb = metricVerb(c.req.method, a, c.req.header("content-type"));
  const dryRun = url.searchParams.has("dryRun");
  let code = 500;
  try {
    await next();
    code = c.res.status;
  } catch (e) {
    code = e instanceof ApiError ? e.code : 500;
    throw e;
  } finally {
    observeRequest(a, verb, dryRun, code, (performance.now() - started) / 1000);
  }
  if (verb === "WATCH" && code === 200) c.res = onBodyDone(c.res, watchOpened(a));
}
