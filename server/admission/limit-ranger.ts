// LimitRanger: the namespace's LimitRanges give containers their default limits and requests
// (mutating) and bound what a Container, a Pod or a PersistentVolumeClaim may ask (validating),
// with kube-apiserver's messages, refused as 403 Forbidden. Pod updates are skipped, as upstream
// does: a running pod's resources are not re-judged against a LimitRange created later.
import { forbidden } from "../errors";
import { amounts, isBinary, nanos, nanosStr, podAmounts, qstr, type Amounts } from "./resources";
import type { AdmissionPlugin, AdmissionRequest } from "./types";

export const LIMIT_RANGER_ANNOTATION = "kubernetes.io/limit-ranger";

const isPods = (req: AdmissionRequest) => req.resource.group === "" && req.resource.plural === "pods";
const isClaims = (req: AdmissionRequest) => req.resource.group === "" && req.resource.plural === "persistentvolumeclaims";

function limitItems(req: AdmissionRequest, type: string): any[] {
  return req.store
    .list("limitranges", req.namespace)
    .items.flatMap((lr: any) => (lr.spec?.limits ?? []).filter((i: any) => i?.type === type));
}

export const limitRanger: AdmissionPlugin = {
  name: "LimitRanger",
  handles: (req) =>
    req.subresource === "" &&
    // Objects on their way out are not judged again (their finalizers must be removable).
    !req.oldObject?.metadata?.deletionTimestamp &&
    ((isPods(req) && req.operation === "CREATE") || (isClaims(req) && (req.operation === "CREATE" || req.operation === "UPDATE"))),

  admit(req) {
    if (!isPods(req)) return;
    const items = limitItems(req, "Container");
    if (!items.length) return;
    // Several LimitRanges: later ones win per resource (upstream merges them in list order).
    const limits: Record<string, unknown> = {};
    const requests: Record<string, unknown> = {};
    for (const i of items) {
      Object.assign(limits, i.default ?? {});
      Object.assign(requests, i.defaultRequest ?? {});
    }
    const spec = req.object.spec ?? {};
    const notes: string[] = [];
    for (const c of spec.containers ?? []) mergeDefaults(c, limits, requests, "container", notes);
    for (const c of spec.initContainers ?? []) mergeDefaults(c, limits, requests, "init container", notes);
    if (notes.length) {
      const m = req.object.metadata;
      m.annotations = { ...(m.annotations ?? {}), [LIMIT_RANGER_ANNOTATION]: `LimitRanger plugin set: ${notes.join("; ")}` };
    }
  },

  validate(req) {
    const errs: string[] = [];
    if (isPods(req)) {
      const spec = req.object.spec ?? {};
      for (const i of limitItems(req, "Container"))
        for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? [])])
          checkItem(errs, "Container", i, amounts(c?.resources?.requests), amounts(c?.resources?.limits), c?.resources?.requests ?? {}, c?.resources?.limits ?? {});
      const pr = podAmounts(spec, "requests");
      const pl = podAmounts(spec, "limits");
      for (const i of limitItems(req, "Pod")) checkItem(errs, "Pod", i, pr, pl, textOf(pr), textOf(pl));
    } else {
      const res = req.object.spec?.resources ?? {};
      for (const i of limitItems(req, "PersistentVolumeClaim")) {
        const rq = amounts(res.requests);
        for (const [k, v] of Object.entries(i.min ?? {})) push(errs, minConstraint("PersistentVolumeClaim", k, v, rq, amounts(res.limits), res.requests ?? {}, res.limits ?? {}));
        for (const [k, v] of Object.entries(i.max ?? {})) push(errs, maxRequestConstraint("PersistentVolumeClaim", k, v, rq, res.requests ?? {}));
      }
    }
    if (errs.length) throw forbidden(`${req.resource.plural} "${req.name}" is forbidden: ${errs.length === 1 ? errs[0] : `[${errs.join(", ")}]`}`);
  },
};

function mergeDefaults(c: any, limits: Record<string, unknown>, requests: Record<string, unknown>, what: string, notes: string[]): void {
  if (!c) return;
  const r = (c.resources ??= {});
  const setLimits: string[] = [];
  const setRequests: string[] = [];
  for (const [k, v] of Object.entries(limits)) {
    r.limits ??= {};
    if (r.limits[k] === undefined) {
      r.limits[k] = v;
      setLimits.push(k);
    }
  }
  for (const [k, v] of Object.entries(requests)) {
    r.requests ??= {};
    if (r.requests[k] === undefined) {
      r.requests[k] = v;
      setRequests.push(k);
    }
  }
  if (r.limits && !Object.keys(r.limits).length) delete r.limits;
  if (r.requests && !Object.keys(r.requests).length) delete r.requests;
  const parts: string[] = [];
  if (setRequests.length) parts.push(`${setRequests.sort().join(", ")} request`);
  if (setLimits.length) parts.push(`${setLimits.sort().join(", ")} limit`);
  if (parts.length) notes.push(`${parts.join("; ")} for ${what} ${c.name}`);
}

function textOf(a: Amounts): Record<string, string> {
  const o: Record<string, string> = {};
  for (const [k, v] of a) o[k] = nanosStr(v, isBinary(k));
  return o;
}

function push(errs: string[], e: string | undefined): void {
  if (e) errs.push(e);
}

function checkItem(errs: string[], type: string, i: any, rq: Amounts, lim: Amounts, rqText: Record<string, unknown>, limText: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(i.min ?? {})) push(errs, minConstraint(type, k, v, rq, lim, rqText, limText));
  for (const [k, v] of Object.entries(i.max ?? {})) push(errs, maxConstraint(type, k, v, rq, lim, rqText, limText));
  for (const [k, v] of Object.entries(i.maxLimitRequestRatio ?? {})) push(errs, ratioConstraint(type, k, v, rq, lim));
}

function minConstraint(type: string, k: string, enforced: unknown, rq: Amounts, lim: Amounts, rqText: Record<string, unknown>, limText: Record<string, unknown>): string | undefined {
  const e = nanos(enforced);
  if (e === undefined) return;
  const r = rq.get(k);
  if (r === undefined) return `minimum ${k} usage per ${type} is ${qstr(enforced)}.  No request is specified`;
  if (r < e) return `minimum ${k} usage per ${type} is ${qstr(enforced)}, but request is ${qstr(rqText[k])}`;
  const l = lim.get(k);
  if (l !== undefined && l < e) return `minimum ${k} usage per ${type} is ${qstr(enforced)}, but limit is ${qstr(limText[k])}`;
}

function maxConstraint(type: string, k: string, enforced: unknown, rq: Amounts, lim: Amounts, rqText: Record<string, unknown>, limText: Record<string, unknown>): string | undefined {
  const e = nanos(enforced);
  if (e === undefined) return;
  const l = lim.get(k);
  if (l === undefined) return `maximum ${k} usage per ${type} is ${qstr(enforced)}.  No limit is specified`;
  if (l > e) return `maximum ${k} usage per ${type} is ${qstr(enforced)}, but limit is ${qstr(limText[k])}`;
  const r = rq.get(k);
  if (r !== undefined && r > e) return `maximum ${k} usage per ${type} is ${qstr(enforced)}, but request is ${qstr(rqText[k])}`;
}

/** A claim has no limits worth bounding: its max applies to the request. */
function maxRequestConstraint(type: string, k: string, enforced: unknown, rq: Amounts, rqText: Record<string, unknown>): string | undefined {
  const e = nanos(enforced);
  if (e === undefined) return;
  const r = rq.get(k);
  if (r === undefined) return `maximum ${k} usage per ${type} is ${qstr(enforced)}.  No request is specified`;
  if (r > e) return `maximum ${k} usage per ${type} is ${qstr(enforced)}, but request is ${qstr(rqText[k])}`;
}

function ratioConstraint(type: string, k: string, enforced: unknown, rq: Amounts, lim: Amounts): string | undefined {
  const e = nanos(enforced);
  if (e === undefined) return;
  const r = rq.get(k) ?? 0n;
  const l = lim.get(k) ?? 0n;
  if (r === 0n) return `${k} max limit to request ratio per ${type} is ${qstr(enforced)}, but no request is specified or request is 0`;
  if (l === 0n) return `${k} max limit to request ratio per ${type} is ${qstr(enforced)}, but no limit is specified or limit is 0`;
  // limit / request > enforced, compared exactly: limit * 1e9 > enforced * request.
  if (l * 1_000_000_000n > e * r) return `${k} max limit to request ratio per ${type} is ${qstr(enforced)}, but provided ratio is ${(Number(l) / Number(r)).toFixed(6)}`;
}
