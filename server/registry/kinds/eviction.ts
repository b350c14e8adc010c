// pods/eviction (upstream registry/core/pod/storage/eviction.go): a pod is deleted only if the
// PodDisruptionBudget covering it allows one more disruption. The budget is spent by decrementing
// status.disruptionsAllowed and recording the pod in status.disruptedPods in one write guarded by
// the budget's resourceVersion, so two racing evictions cannot both take the last disruption;
// the disruption controller gives it back once the pod is gone. The pod gets the DisruptionTarget
// condition before it is deleted.
import { findByKind } from "../../../schemas/registry";
import { labelSelectorMatches } from "../../../schemas/helpers/selectors";
import { ApiError, badRequest } from "../../errors";
import type { WriteCtx } from "../ctx";
import { timestamp } from "../meta";
import type { Registry } from "../registry";

const pods = () => findByKind("v1", "Pod")!;
const pdbs = () => findByKind("policy/v1", "PodDisruptionBudget")!;

/** Upstream's MaxDisruptedPodSize: beyond it the controller is not keeping up. */
const MAX_DISRUPTED_PODS = 2000;
const TOO_MANY = "Cannot evict pod as it would violate the pod's disruption budget.";

function tooManyRequests(cause: string): ApiError {
  return new ApiError(429, "TooManyRequests", TOO_MANY, { causes: [{ reason: "DisruptionBudget", message: cause }] });
}

const isReady = (pod: any) => (pod?.status?.conditions ?? []).some((c: any) => c?.type === "Ready" && c?.status === "True");

/** Pods no budget protects: finished, never started, or already going. */
function canIgnoreBudget(pod: any): boolean {
  const phase = pod?.status?.phase;
  return !!pod?.metadata?.deletionTimestamp || phase === "Succeeded" || phase === "Failed" || phase === "Pending";
}

/** The budgets whose selector matches the pod (policy/v1: an empty selector matches every pod). */
export function budgetsFor(reg: Registry, pod: any): any[] {
  const ns = pod.metadata.namespace;
  return reg.store.list("policy/poddisruptionbudgets", ns).items.filter((b) => labelSelectorMatches(b.spec?.selector, pod.metadata.labels ?? {}));
}

export async function evictPod(reg: Registry, ctx: WriteCtx, ns: string, name: string, eviction: any): Promise<void> {
  if (eviction?.metadata?.name && eviction.metadata.name !== name) throw badRequest(`name in URL does not match name in Eviction object`);
  await reg.admit(reg.admissionRequest(ctx, "CREATE", pods(), "eviction", ns, name, eviction));
  const opts = eviction?.deleteOptions ?? {};
  const cur = await reg.store.getFresh("pods", ns, name);
  if (!cur) throw new ApiError(404, "NotFound", `pods "${name}" not found`, { name, kind: "pods" });
  const pod = cur.obj;
  if (opts.preconditions?.uid && opts.preconditions.uid !== pod.metadata.uid)
    throw new ApiError(409, "Conflict", `Operation cannot be fulfilled on pods "${name}": Precondition failed: UID in precondition: ${opts.preconditions.uid}, UID in object meta: ${pod.metadata.uid}`, { name, kind: "pods" });

  if (!canIgnoreBudget(pod)) {
    const budgets = budgetsFor(reg, pod);
    if (budgets.length > 1) throw new ApiError(500, "InternalError", "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.");
    if (budgets.length === 1) await spendBudget(reg, ctx, budgets[0], pod);
  }
  if (ctx.dryRun) return;
  await markDisruptionTarget(reg, ctx, ns, name);
  await reg.delete(ctx, pods(), ns, name, { internal: true, gracePeriodSeconds: opts.gracePeriodSeconds, preconditions: opts.preconditions });
}

async function spendBudget(reg: Registry, ctx: WriteCtx, budget: any, pod: any): Promise<void> {
  const podName = pod.metadata.name;
  const policy = budget.spec?.unhealthyPodEvictionPolicy ?? "IfHealthyBudget";
  if (!isReady(pod)) {
    // An unready pod adds nothing to availability: AlwaysAllow lets it go; IfHealthyBudget only
    // when the application already has the healthy pods it needs.
    if (policy === "AlwaysAllow") return;
    const st = budget.status ?? {};
    if ((st.desiredHealthy ?? 0) > 0 && (st.currentHealthy ?? 0) >= st.desiredHealthy) return;
  }
  const now = timestamp();
  await reg.update(
    ctx,
    pdbs(),
    budget.metadata.namespace,
    budget.metadata.name,
    (b) => {
      const st = b.status ?? {};
      const name = b.metadata.name;
      if ((st.observedGeneration ?? 0) < (b.metadata.generation ?? 1)) throw tooManyRequests(`The disruption budget ${name} is still being processed by the server.`);
      if ((st.disruptionsAllowed ?? 0) < 0) throw new ApiError(403, "Forbidden", "pdb disruptions allowed is negative");
      if (Object.keys(st.disruptedPods ?? {}).length > MAX_DISRUPTED_PODS)
        throw new ApiError(403, "Forbidden", "DisruptedPods map too big - too many evictions not confirmed by PDB controller");
      if ((st.disruptionsAllowed ?? 0) === 0) throw tooManyRequests(`The disruption budget ${name} needs ${st.desiredHealthy ?? 0} healthy pods and has ${st.currentHealthy ?? 0} currently`);
      st.disruptionsAllowed -= 1;
      if (st.disruptionsAllowed === 0) st.conditions = setBudgetCondition(st.conditions, false, "InsufficientPods", "", now, b.metadata.generation);
      st.disruptedPods = { ...(st.disruptedPods ?? {}), [podName]: now };
      b.status = st;
      return b;
    },
    // Conflicts are retried by recomputing from the fresh budget: the loser sees the spent disruption.
    { sub: "status", internal: true, retries: 20 },
  );
}

/** The DisruptionAllowed condition (upstream's policy.DisruptionAllowedCondition). */
export function setBudgetCondition(conds: any[] | undefined, allowed: boolean, reason: string, message: string, now: string, generation?: number): any[] {
  const status = allowed ? "True" : "False";
  const old = (conds ?? []).find((c) => c?.type === "DisruptionAllowed");
  const same = old && old.status === status;
  const next = { type: "DisruptionAllowed", status, reason, message, observedGeneration: generation, lastTransitionTime: same ? old.lastTransitionTime : now };
  if (next.observedGeneration === undefined) delete next.observedGeneration;
  return [...(conds ?? []).filter((c) => c?.type !== "DisruptionAllowed"), next];
}

/** DisruptionTarget=True on the pod, as upstream's addConditionAndDeletePod. */
async function markDisruptionTarget(reg: Registry, ctx: WriteCtx, ns: string, name: string): Promise<void> {
  try {
    await reg.update(
      ctx,
      pods(),
      ns,
      name,
      (p) => {
        if (p.metadata.deletionTimestamp) return p;
        p.status ??= {};
        const conds = (p.status.conditions ?? []).filter((c: any) => c.type !== "DisruptionTarget");
        conds.push({ type: "DisruptionTarget", status: "True", lastProbeTime: null, lastTransitionTime: timestamp(), reason: "EvictionByEvictionAPI", message: "Eviction API: evicting" });
        p.status.conditions = conds;
        return p;
      },
      { sub: "status", internal: true, retries: 10 },
    );
  } catch (e) {
    if (!(e instanceof ApiError && e.code === 404)) throw e;
  }
}
