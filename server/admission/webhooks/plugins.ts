// MutatingAdmissionWebhook and ValidatingAdmissionWebhook: writes matching a webhook
// configuration are sent as AdmissionReviews. Mutating webhooks run in order in the mutating
// phase (JSONPatch responses applied, IfNeeded webhooks called again once after later changes);
// validating webhooks in the validating phase, all of them, each able to deny. A webhook that
// cannot be reached fails the request (failurePolicy Fail) or is skipped (Ignore). Warnings
// reach the client; a denial carries the webhook's status code and message.
import { ApiError, badRequest } from "../../errors";
import { applyPatch, PatchError } from "../../registry/patch/index";
import type { Store } from "../../store/store";
import type { AdmissionPlugin, AdmissionRequest } from "../types";
import { callWebhook, reviewRequest, WebhookCallError } from "./call";
import { conditionsMatch, exempt, matchingResource, namespaceMatches, objectMatches } from "./match";
import { deepEqual } from "../../../schemas/helpers/json";

const VALIDATING = "admissionregistration.k8s.io/validatingwebhookconfigurations";
const MUTATING = "admissionregistration.k8s.io/mutatingwebhookconfigurations";

/** Every webhook configuration of one kind, kept current from the store's own watch. */
class Configs {
  private byName = new Map<string, any>();
  private sorted: any[] = [];

  constructor(
    private readonly store: Store,
    private readonly res: string,
  ) {
    this.follow();
  }

  private follow(): void {
    const page = this.store.list(this.res, undefined);
    this.byName = new Map(page.items.map((o) => [o.metadata.name, o]));
    this.resort();
    this.store.watch(
      {
        res: this.res,
        match: () => true,
        send: (type, o) => {
          if (type === "DELETED") this.byName.delete(o.metadata.name);
          else this.byName.set(o.metadata.name, o);
          this.resort();
        },
        // The store ends its watches when it installs a snapshot: list again.
        close: () => queueMicrotask(() => this.follow()),
      },
      page.rev,
    );
  }

  private resort(): void {
    // Upstream calls configurations in name order, webhooks in their listed order.
    this.sorted = [...this.byName.values()].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1)).flatMap((c) => (c.webhooks ?? []).map((w: any) => ({ ...w, configuration: c.metadata.name })));
  }

  webhooks(): any[] {
    return this.sorted;
  }
}

const caches = new WeakMap<Store, Map<string, Configs>>();
function configs(store: Store, res: string): Configs {
  let m = caches.get(store);
  if (!m) caches.set(store, (m = new Map()));
  let c = m.get(res);
  if (!c) m.set(res, (c = new Configs(store, res)));
  return c;
}

interface Invocation {
  w: any;
  request: any;
}

/** The webhooks this request goes to, with the review request each one gets. */
function invocations(req: AdmissionRequest, res: string): Invocation[] {
  if (exempt(req)) return [];
  const out: Invocation[] = [];
  for (const w of configs(req.store, res).webhooks()) {
    const as = matchingResource(w, req);
    if (!as || !namespaceMatches(w, req) || !objectMatches(w, req)) continue;
    const request = reviewRequest(req, as, crypto.randomUUID());
    try {
      if (!conditionsMatch(w, req, request)) continue;
    } catch (e) {
      if (w.failurePolicy === "Ignore") continue;
      throw new ApiError(500, "InternalError", `Internal error occurred: failed calling webhook "${w.name}": ${(e as Error).message}`);
    }
    if (req.dryRun && !["None", "NoneOnDryRun"].includes(w.sideEffects)) throw badRequest(`admission webhook "${w.name}" does not support dry run`);
    out.push({ w, request });
  }
  return out;
}

/** Call one webhook; undefined when it failed and its failurePolicy ignores failures. */
async function call(req: AdmissionRequest, inv: Invocation): Promise<any | undefined> {
  try {
    const resp = await callWebhook(req.store, inv.w, inv.request);
    for (const m of Array.isArray(resp.warnings) ? resp.warnings : []) if (typeof m === "string") req.warn(m);
    if (resp.allowed !== true) throw denied(inv.w.name, resp.status);
    return resp;
  } catch (e) {
    if (!(e instanceof WebhookCallError)) throw e;
    if (inv.w.failurePolicy === "Ignore") {
      console.warn(`admission: failed calling webhook "${inv.w.name}", failing open (failurePolicy Ignore): ${e.message}`);
      return undefined;
    }
    throw new ApiError(500, "InternalError", `Internal error occurred: failed calling webhook "${inv.w.name}": ${e.message}`);
  }
}

function denied(name: string, status: any): ApiError {
  const s = status && typeof status === "object" ? status : {};
  const by = `admission webhook "${name}" denied the request`;
  const message = s.message ? `${by}: ${s.message}` : s.reason ? `${by}: ${s.reason}` : `${by} without explanation`;
  const code = Number.isInteger(s.code) && s.code >= 400 && s.code < 600 ? s.code : 403;
  return new ApiError(code, s.reason || (code === 403 ? "Forbidden" : ""), message, s.details);
}

/** Replace the contents of `target` with `next` (the registry holds `target`). */
function replaceInPlace(target: Record<string, unknown>, next: Record<string, unknown>): void {
  for (const k of Object.keys(target)) delete target[k];
  Object.assign(target, next);
}

export const mutatingAdmissionWebhook: AdmissionPlugin = {
  name: "MutatingAdmissionWebhook",
  handles: (req) => configs(req.store, MUTATING).webhooks().length > 0,
  async admit(req) {
    const list = invocations(req, MUTATING);
    if (!list.length) return;
    const changedAt: number[] = [];
    const apply = async (inv: Invocation, i: number) => {
      const writes = req.operation === "CREATE" || req.operation === "UPDATE";
      // Each webhook sees the object as the webhooks before it left it.
      if (writes && req.object && typeof req.object === "object") inv.request.object = { ...req.object, apiVersion: inv.request.object?.apiVersion ?? req.object.apiVersion };
      const resp = await call(req, inv);
      if (!resp?.patch || !writes) return;
      if (resp.patchType !== "JSONPatch") throw new ApiError(500, "InternalError", `Internal error occurred: admission webhook "${inv.w.name}" returned a patch of unsupported type ${JSON.stringify(resp.patchType)}`);
      if (!req.object || typeof req.object !== "object") return;
      let ops: unknown;
      let next: any;
      try {
        ops = JSON.parse(Buffer.from(resp.patch, "base64").toString("utf8"));
        next = applyPatch("json", req.object, ops, req.resource.type);
      } catch (e) {
        const why = e instanceof PatchError || e instanceof SyntaxError ? e.message : String(e);
        throw new ApiError(500, "InternalError", `Internal error occurred: admission webhook "${inv.w.name}" returned an invalid patch: ${why}`);
      }
      // A patched custom resource is decoded again, as upstream does: pruned and defaulted.
      if (req.resource.decode && next && typeof next === "object") {
        next = req.resource.decode(next).value;
        req.resource.defaults?.(next);
      }
      if (!deepEqual(next, req.object)) {
        replaceInPlace(req.object, next);
        changedAt.push(i);
      }
    };
    for (let i = 0; i < list.length; i++) await apply(list[i]!, i);
    // Reinvocation: an IfNeeded webhook called before a later change sees the object once more.
    const last = changedAt.length ? changedAt[changedAt.length - 1]! : -1;
    for (let i = 0; i < last; i++) {
      const inv = list[i]!;
      if (inv.w.reinvocationPolicy === "IfNeeded") await apply({ w: inv.w, request: { ...inv.request, uid: crypto.randomUUID() } }, list.length + i);
    }
  },
};

export const validatingAdmissionWebhook: AdmissionPlugin = {
  name: "ValidatingAdmissionWebhook",
  handles: (req) => configs(req.store, VALIDATING).webhooks().length > 0,
  async validate(req) {
    const list = invocations(req, VALIDATING);
    // Upstream calls validating webhooks in parallel; the first denial (in order) is returned.
    const results = await Promise.allSettled(list.map((inv) => call(req, inv)));
    for (const r of results) if (r.status === "rejected") throw r.reason;
  },
};
