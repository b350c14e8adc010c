// ReplicaSet: keep spec.replicas pods matching the selector, adopting orphans and releasing
// pods that stopped matching; when scaling down prefer unscheduled, pending, not-ready and
// newest pods (Kubernetes' ActivePods ranking). The same controller runs ReplicationControllers
// (as upstream's replication manager wraps its ReplicaSet controller): only the selector's form
// (a plain label map) and the owner kind differ.
import { labelSelectorToRequirements, matchLabels, type LabelRequirement } from "../../schemas/helpers/selectors";
import { controllerOf, controllerRef, type Kind } from "./runtime/api";
import { Controller, type ControllerContext } from "./runtime/controller";
import { objKey, splitKey, type Informer } from "./runtime/informer";
import type { ResKey } from "../store/commands";
import { isActive, isAvailable, isReady, msUntilAvailable, podFromTemplate, setCondition } from "./runtime/pods";

const BURST = 500;

/** What differs between the kinds this controller runs. */
export interface ReplicatedKind {
  controller: string;
  res: ResKey;
  kind: Kind;
  selector(o: any): LabelRequirement[];
}

export const REPLICA_SET: ReplicatedKind = { controller: "replicaset", res: "apps/replicasets", kind: "ReplicaSet", selector: (o) => labelSelectorToRequirements(o.spec?.selector) };

/** v1 ReplicationController: spec.selector is a label map (equality-based), defaulted from the template's labels. */
export const REPLICATION_CONTROLLER: ReplicatedKind = {
  controller: "replicationcontroller",
  res: "replicationcontrollers",
  kind: "ReplicationController",
  // Validation forbids an empty selector; should one be stored anyway it selects nothing, not every pod.
  selector: (o) => (Object.keys(o.spec?.selector ?? {}).length ? labelSelectorToRequirements({ matchLabels: o.spec.selector }) : [{ key: "", op: "in", values: [] }]),
};

export class ReplicaSetController extends Controller {
  private rs: Informer;
  private pods: Informer;
  private readonly k: ReplicatedKind;

  constructor(rt: ControllerContext, k: ReplicatedKind = REPLICA_SET) {
    super(rt, k.controller, 8);
    this.k = k;
    this.rs = this.informer(k.res);
    this.pods = this.informer("pods");
    this.rs.addHandler({ add: (o) => this.queue.add(objKey(o)), update: (_, o) => this.queue.add(objKey(o)) });
    const onPod = (p: any) => {
      const ref = controllerOf(p);
      if (ref) {
        if (ref.kind === k.kind) this.queue.add(`${p.metadata.namespace}/${ref.name}`);
        return;
      }
      // An orphan: any ReplicaSet whose selector matches may adopt it.
      for (const rs of this.rs.byIndex("namespace", p.metadata.namespace))
        if (matchLabels(k.selector(rs), p.metadata.labels)) this.queue.add(objKey(rs));
    };
    this.pods.addHandler({
      add: onPod,
      update: (old, p) => {
        onPod(p);
        const a = controllerOf(old);
        const b = controllerOf(p);
        if (a && a.kind === k.kind && a.uid !== b?.uid) this.queue.add(`${old.metadata.namespace}/${a.name}`);
      },
      delete: onPod,
    });
  }

  async reconcile(key: string): Promise<void> {
    const rs = this.rs.get(key);
    if (!rs) return;
    const { ns } = splitKey(key);
    const reqs = this.k.selector(rs);
    const uid = rs.metadata.uid;
    // Claim: owned pods that still match, orphans that match (adopt), owned that don't (release).
    let owned: any[] = [];
    for (const p of this.pods.byIndex("namespace", ns)) {
      const ref = controllerOf(p);
      const matches = matchLabels(reqs, p.metadata.labels);
      if (ref?.uid === uid) {
        if (matches) owned.push(p);
        else if (!rs.metadata.deletionTimestamp) await this.release(p, uid);
      } else if (!ref && matches && !rs.metadata.deletionTimestamp && !p.metadata.deletionTimestamp) {
        const adopted = await this.adopt(p, rs);
        if (adopted) owned.push(adopted);
      }
    }
    const active = owned.filter(isActive);
    const want = rs.spec?.replicas ?? 1;
    let failure: string | undefined;
    if (!rs.metadata.deletionTimestamp) {
      const diff = active.length - want;
      if (diff < 0) failure = await this.createPods(rs, -diff);
      else if (diff > 0) {
        const victims = [...active].sort(deletionRank).slice(0, diff);
        await Promise.all(victims.map((p) => this.api.delete("Pod", ns, p.metadata.name)));
        const gone = new Set(victims.map((p) => p.metadata.uid));
        owned = owned.filter((p) => !gone.has(p.metadata.uid) || !!p.metadata.deletionTimestamp);
      }
    }
    await this.updateStatus(key, failure);
  }

  private async adopt(p: any, rs: any): Promise<any | undefined> {
    return this.api.update("Pod", p.metadata.namespace, p.metadata.name, (cur) => {
      if (controllerOf(cur) || cur.metadata.deletionTimestamp) return cur;
      cur.metadata.ownerReferences = [...(cur.metadata.ownerReferences ?? []), controllerRef(rs, this.k.kind)];
      return cur;
    });
  }

  private async release(p: any, uid: string): Promise<void> {
    await this.api.update("Pod", p.metadata.namespace, p.metadata.name, (cur) => {
      cur.metadata.ownerReferences = (cur.metadata.ownerReferences ?? []).filter((r: any) => r.uid !== uid);
      if (!cur.metadata.ownerReferences.length) delete cur.metadata.ownerReferences;
      return cur;
    });
  }

  private async createPods(rs: any, n: number): Promise<string | undefined> {
    // Slow start like Kubernetes: 1, 2, 4, ... so a broken template fails fast and cheaply.
    let batch = 1;
    let created = 0;
    while (created < n) {
      const size = Math.min(batch, n - created, BURST);
      const results = await Promise.allSettled(
        Array.from({ length: size }, () => this.api.create("Pod", rs.metadata.namespace, podFromTemplate(rs.spec.template, rs, this.k.kind))),
      );
      const failed = results.find((r) => r.status === "rejected") as PromiseRejectedResult | undefined;
      created += results.filter((r) => r.status === "fulfilled").length;
      if (created && batch === 1) this.record(rs, "Normal", "SuccessfulCreate", `Created pod(s) for ${rs.metadata.name}`);
      if (failed) {
        const msg = (failed.reason as Error)?.message ?? String(failed.reason);
        this.record(rs, "Warning", "FailedCreate", `Error creating: ${msg}`);
        return msg;
      }
      batch *= 2;
    }
    return undefined;
  }

  private async updateStatus(key: string, failure: string | undefined): Promise<void> {
    const rs = this.rs.get(key);
    if (!rs) return;
    const { ns } = splitKey(key);
    const uid = rs.metadata.uid;
    const reqs = this.k.selector(rs);
    const tl = rs.spec?.template?.metadata?.labels ?? {};
    const now = this.now();
    const minReady = rs.spec?.minReadySeconds ?? 0;
    let replicas = 0, labeled = 0, ready = 0, available = 0, wait = 0;
    for (const p of this.pods.byIndex("owner", uid)) {
      if (p.metadata.namespace !== ns || controllerOf(p)?.uid !== uid || !isActive(p) || !matchLabels(reqs, p.metadata.labels)) continue;
      replicas++;
      if (Object.entries(tl).every(([k, v]) => p.metadata.labels?.[k] === v)) labeled++;
      if (isReady(p)) ready++;
      if (isAvailable(p, minReady, now)) available++;
      else {
        const w = msUntilAvailable(p, minReady, now);
        if (w > 0 && (!wait || w < wait)) wait = w;
      }
    }
    if (wait) this.queue.addAfter(key, wait + 50);
    await this.api.updateStatus(this.k.kind, ns, rs.metadata.name, (cur) => {
      const s: any = { ...(cur.status ?? {}) };
      s.replicas = replicas;
      s.fullyLabeledReplicas = labeled;
      s.readyReplicas = ready;
      s.availableReplicas = available;
      s.observedGeneration = cur.metadata.generation;
      if (failure) s.conditions = setCondition(s.conditions, { type: "ReplicaFailure", status: "True", reason: "FailedCreate", message: failure });
      else if (s.conditions) {
        s.conditions = s.conditions.filter((c: any) => c.type !== "ReplicaFailure");
        if (!s.conditions.length) delete s.conditions;
      }
      for (const k of ["fullyLabeledReplicas", "readyReplicas", "availableReplicas"]) if (!s[k]) delete s[k];
      cur.status = s;
      return cur;
    });
  }
}

const phaseRank: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };

/** Kubernetes' ActivePods order: the first ones are deleted first. */
function deletionRank(a: any, b: any): number {
  const sa = a.spec?.nodeName ? 1 : 0, sb = b.spec?.nodeName ? 1 : 0;
  if (sa !== sb) return sa - sb;
  const pa = phaseRank[a.status?.phase] ?? 0, pb = phaseRank[b.status?.phase] ?? 0;
  if (pa !== pb) return pa - pb;
  const ra = isReady(a) ? 1 : 0, rb = isReady(b) ? 1 : 0;
  if (ra !== rb) return ra - rb;
  const restarts = (p: any) => (p.status?.containerStatuses ?? []).reduce((n: number, c: any) => n + (c.restartCount ?? 0), 0);
  const xa = restarts(a), xb = restarts(b);
  if (xa !== xb) return xb - xa;
  // Newer first.
  const ta = Date.parse(a.metadata.creationTimestamp ?? "") || 0, tb = Date.parse(b.metadata.creationTimestamp ?? "") || 0;
  if (ta !== tb) return tb - ta;
  return a.metadata.name < b.metadata.name ? 1 : -1;
}
