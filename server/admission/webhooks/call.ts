// One AdmissionReview round trip: the request as upstream builds it, HTTPS to the webhook's URL
// or to a ready endpoint of its Service (the server reaches pods over the node network, and
// checks the certificate against caBundle for <service>.<namespace>.svc), the response checked.
import https from "node:https";
import type { RegisteredResource } from "../../../schemas/registry";
import type { Store } from "../../store/store";
import type { AdmissionRequest } from "../types";
import { toScale } from "../../registry/kinds/scale";

export class WebhookCallError extends Error {}

interface Target {
  host: string;
  port: number;
  path: string;
  servername: string;
  /** What error messages name: the URL as upstream prints it. */
  display: string;
}

/** Where a webhook's clientConfig points now. */
export function resolveTarget(store: Store, cc: any): Target {
  if (cc.url) {
    const u = new URL(cc.url);
    const host = u.hostname.replace(/^\[|\]$/g, "");
    return { host, port: Number(u.port || 443), path: `${u.pathname}${u.search}`, servername: host, display: cc.url };
  }
  const { namespace, name } = cc.service;
  const port: number = cc.service.port ?? 443;
  const path: string = cc.service.path ?? "/";
  const servername = `${name}.${namespace}.svc`;
  const display = `https://${servername}:${port}${path}`;
  const svc = store.get("services", namespace, name)?.obj;
  if (!svc) throw new WebhookCallError(`failed to call webhook: service "${namespace}/${name}" not found`);
  if (svc.spec?.type === "ExternalName") return { host: svc.spec.externalName, port, path, servername, display };
  const sp = (svc.spec?.ports ?? []).find((p: any) => p.port === port);
  if (!sp) throw new WebhookCallError(`failed to call webhook: service "${namespace}/${name}" has no port ${port}`);
  const ep = store.get("endpoints", namespace, name)?.obj;
  const candidates: { ip: string; port: number }[] = [];
  for (const s of ep?.subsets ?? []) {
    const p = (s.ports ?? []).find((x: any) => (x.name ?? "") === (sp.name ?? "")) ?? (s.ports?.length === 1 ? s.ports[0] : undefined);
    if (!p) continue;
    for (const a of s.addresses ?? []) candidates.push({ ip: a.ip, port: p.port });
  }
  if (!candidates.length) throw new WebhookCallError(`failed to call webhook: no endpoints available for service "${name}"`);
  const pick = candidates[Math.floor(Math.random() * candidates.length)]!;
  return { host: pick.ip, port: pick.port, path, servername, display };
}

const OPTIONS_KIND: Record<string, string> = { CREATE: "CreateOptions", UPDATE: "UpdateOptions", DELETE: "DeleteOptions" };

/** admission.k8s.io AdmissionRequest for `req`, as seen at version `as` of the resource. */
export function reviewRequest(req: AdmissionRequest, as: RegisteredResource, uid: string): any {
  const at = (o: any) => {
    if (!o || typeof o !== "object") return o;
    // The scale subresource is admitted as the autoscaling/v1 Scale it reads and writes.
    if (req.subresource === "scale") return toScale(o, req.resource);
    return o.apiVersion === req.resource.apiVersion && as !== req.resource ? { ...o, apiVersion: as.apiVersion } : o;
  };
  const kindOf = (r: RegisteredResource) => (req.subresource === "scale" ? { group: "autoscaling", version: "v1", kind: "Scale" } : { group: r.group, version: r.version, kind: r.kind });
  const r: any = {
    uid,
    kind: kindOf(as),
    resource: { group: as.group, version: as.version, resource: as.plural },
    requestKind: kindOf(req.resource),
    requestResource: { group: req.resource.group, version: req.resource.version, resource: req.resource.plural },
    name: req.name || req.object?.metadata?.name || "",
    operation: req.operation,
    userInfo: { username: req.user.user, groups: req.user.groups },
    object: req.operation === "DELETE" ? null : (at(req.object) ?? null),
    oldObject: req.operation === "CREATE" || req.operation === "CONNECT" ? null : (at(req.oldObject) ?? null),
    dryRun: req.dryRun,
  };
  if (req.subresource) {
    r.subResource = req.subresource;
    r.requestSubResource = req.subresource;
  }
  if (req.namespace) r.namespace = req.namespace;
  const ok = OPTIONS_KIND[req.operation];
  if (ok) r.options = { ...(req.options && typeof req.options === "object" ? req.options : {}), kind: ok, apiVersion: "meta.k8s.io/v1" };
  else if (req.options) r.options = req.options;
  return r;
}

/** POST the review; resolves to its `response`, rejects with WebhookCallError. */
export function callWebhook(store: Store, w: any, request: any): Promise<any> {
  const timeout = (w.timeoutSeconds ?? 10) as number;
  const version = (w.admissionReviewVersions ?? ["v1"]).includes("v1") ? "v1" : "v1beta1";
  let t: Target;
  try {
    t = resolveTarget(store, w.clientConfig ?? {});
  } catch (e) {
    return Promise.reject(e);
  }
  const path = `${t.path}${t.path.includes("?") ? "&" : "?"}timeout=${timeout}s`;
  const body = JSON.stringify({ apiVersion: `admission.k8s.io/${version}`, kind: "AdmissionReview", request });
  const ca = w.clientConfig?.caBundle ? Buffer.from(w.clientConfig.caBundle, "base64").toString("utf8") : undefined;
  const post = `Post "${t.display}${t.display.includes("?") ? "&" : "?"}timeout=${timeout}s"`;
  return new Promise((resolve, reject) => {
    let done = false;
    const fail = (msg: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      reject(new WebhookCallError(msg));
    };
    let hr: ReturnType<typeof https.request>;
    try {
      hr = https.request(
      {
        host: t.host,
        port: t.port,
        path,
        method: "POST",
        servername: /^[\d.]+$|:/.test(t.servername) ? undefined : t.servername,
        ca,
        headers: { "Content-Type": "application/json", Accept: "application/json", "Content-Length": Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (d: Buffer) => chunks.push(d));
        res.on("error", (e) => fail(`failed to call webhook: ${post}: ${e.message}`));
        res.on("end", () => {
          if (done) return;
          const text = Buffer.concat(chunks).toString("utf8");
          if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) >= 300) return fail(`failed to call webhook: the server responded with status ${res.statusCode}: ${text.slice(0, 200)}`);
          let review: any;
          try {
            review = JSON.parse(text);
          } catch {
            return fail(`failed to call webhook: the response is not an AdmissionReview: ${text.slice(0, 200)}`);
          }
          const resp = review?.response;
          if (!resp || typeof resp !== "object") return fail("received invalid webhook response: response is missing");
          if (resp.uid !== request.uid) return fail(`received invalid webhook response: expected response.uid=${JSON.stringify(request.uid)}, got ${JSON.stringify(resp.uid)}`);
          done = true;
          clearTimeout(timer);
          resolve(resp);
        });
      },
      );
    } catch (e) {
      // A caBundle that is not PEM, or options Node refuses, fail the call like a dial error.
      return reject(new WebhookCallError(`failed to call webhook: ${post}: ${(e as Error).message}`));
    }
    const timer = setTimeout(() => {
      fail(`failed to call webhook: ${post}: context deadline exceeded`);
      hr.destroy();
    }, timeout * 1000);
    hr.on("error", (e) => fail(`failed to call webhook: ${post}: ${e.message}`));
    hr.end(body);
  });
}
