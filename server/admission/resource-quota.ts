// ResourceQuota: a write that would take a namespace over one of its quotas is refused (403,
// upstream's "exceeded quota: ..." message), and an admitted write is charged to every quota it
// counts against before it is stored. The charge is a compare-and-swap of the quota's status
// (resourceVersion precondition, through the registry), so two servers admitting at once cannot
// both take the last slot: the loser sees a conflict, waits until it has applied the winner's
// charge (read barrier), and judges again. A write that fails after its charge leaves the quota
// over-counted until the quota controller recomputes it, as upstream.
import { findByKind } from "../../schemas/registry";
import { forbidden, type ApiError } from "../errors";
import { APISERVER_USER, writeCtx } from "../registry/ctx";
import { hardOf, podConstraintError, prettyPrint, quotaMatches, tracks, usageOf } from "./quota-usage";
import { amounts, nanosStr, isBinary, type Amounts } from "./resources";
import type { AdmissionPlugin, AdmissionRequest } from "./types";

/** Each lost race means another write was charged, so a burst of N creates needs up to N rounds. */
const MAX_ATTEMPTS = 100;

/** Kinds whose updates can change usage (a claim grows, a Service becomes a LoadBalancer). */
const UPDATE_CHARGED = new Set(["persistentvolumeclaims", "services"]);

export const resourceQuota: AdmissionPlugin = {
  name: "ResourceQuota",
  handles: (req) =>
    req.resource.namespaced &&
    req.subresource === "" &&
    (req.operation === "CREATE" || (req.operation === "UPDATE" && req.resource.group === "" && UPDATE_CHARGED.has(req.resource.plural))),

  async validate(req) {
    let fresh = false;
    for (let attempt = 1; ; attempt++) {
      let plan: Charge[];
      try {
        plan = evaluate(req);
      } catch (e) {
        // This server may lag (a quota just created, its status or a release not applied here
        // yet): refuse only on a view at least as new as the write's start.
        if (fresh) throw e;
        fresh = true;
        await req.store.readBarrier();
        attempt--;
        continue;
      }
      if (!plan.length || req.dryRun) return;
      try {
        await charge(req, plan);
        return;
      } catch (e) {
        if ((e as ApiError)?.code !== 409 || attempt >= MAX_ATTEMPTS) throw e;
        // Another write charged first: catch up with it (another server's), then judge again;
        // after a few rounds, back off a little so a burst spreads out.
        await req.store.readBarrier();
        fresh = true;
        if (attempt > 3) await Bun.sleep(Math.random() * Math.min(50, attempt * 2));
      }
    }
  },
};

interface Charge {
  name: string;
  rev: number;
  used: Record<string, string>;
}

/** Judge the write against every quota of the namespace; the new `used` of each it counts against. */
function evaluate(req: AdmissionRequest): Charge[] {
  const quotas = req.store.list("resourcequotas", req.namespace);
  if (!quotas.items.length) return [];
  const { group, plural } = req.resource;
  const delta = usageOf(group, plural, req.object);
  if (req.operation === "UPDATE") {
    const old = usageOf(group, plural, req.oldObject);
    for (const [k, v] of old) delta.set(k, (delta.get(k) ?? 0n) - v);
  }
  for (const [k, v] of delta) if (v <= 0n) delta.delete(k);
  if (!delta.size) return [];
  const refuse = (msg: string) => forbidden(`${plural} "${req.name}" is forbidden: ${msg}`);
  const plan: Charge[] = [];
  for (const q of quotas.items) {
    if (!quotaMatches(q, group, plural, req.object)) continue;
    const hard = hardOf(q);
    const tracked = Object.keys(hard).filter((k) => tracks(group, plural, k));
    if (!tracked.length) continue;
    if (group === "" && plural === "pods" && req.operation === "CREATE") {
      const err = podConstraintError(req.object, tracked);
      if (err) throw refuse(`failed quota: ${q.metadata.name}: ${err}`);
    }
    const charged = tracked.filter((k) => delta.has(k));
    if (!charged.length) continue;
    const used = amounts(q.status?.used);
    const unknown = tracked.filter((k) => !used.has(k) || q.status?.hard?.[k] === undefined);
    if (unknown.length) throw refuse(`status unknown for quota: ${q.metadata.name}, resources: ${unknown.sort().join(",")}`);
    const limit = amounts(hard);
    const exceeded = charged.filter((k) => used.get(k)! + delta.get(k)! > limit.get(k)!);
    if (exceeded.length) {
      const pick = (a: Amounts) => new Map(exceeded.map((k) => [k, a.get(k) ?? 0n]));
      throw refuse(`exceeded quota: ${q.metadata.name}, requested: ${prettyPrint(pick(delta))}, used: ${prettyPrint(pick(used))}, limited: ${prettyPrint(pick(limit))}`);
    }
    const next: Record<string, string> = { ...(q.status?.used ?? {}) };
    for (const k of charged) next[k] = nanosStr(used.get(k)! + delta.get(k)!, isBinary(k));
    plan.push({ name: q.metadata.name, rev: Number(q.metadata.resourceVersion), used: next });
  }
  return plan;
}

/** Write each quota's new usage, each on the condition that nobody changed the quota meanwhile. */
async function charge(req: AdmissionRequest, plan: Charge[]): Promise<void> {
  const registry = req.registry;
  if (!registry) throw new Error("ResourceQuota admission needs the registry to charge quotas");
  const r = findByKind("v1", "ResourceQuota")!;
  const ctx = writeCtx(APISERVER_USER, "resourcequota-admission");
  for (const c of plan)
    await registry.update(ctx, r, req.namespace, c.name, (cur) => ({ ...cur, status: { ...(cur.status ?? {}), used: c.used } }), { sub: "status", userRev: String(c.rev) });
}
