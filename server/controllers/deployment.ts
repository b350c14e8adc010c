// Deployment: a ReplicaSet per pod template (named by pod-template-hash), rolled by
// RollingUpdate (maxSurge/maxUnavailable) or Recreate, with revisions in
// `deployment.kubernetes.io/revision` so `kubectl rollout history|undo|status` work, pause,
// proportional scaling, revisionHistoryLimit clean-up and progressDeadlineSeconds.
// Follows pkg/controller/deployment (sync.go, rolling.go, recreate.go, progress.go).
import { labelSelectorToRequirements, matchLabels } from "../../schemas/helpers/selectors";
import { timestamp } from "../registry/meta";
import { controllerOf, controllerRef, isAlreadyExists } from "./runtime/api";
import { Controller, type ControllerContext } from "./runtime/controller";
import { objKey, splitKey, type Informer } from "./runtime/informer";
import { intOrPercent, isActive, safeHash, setCondition, stableJson } from "./runtime/pods";

const REVISION = "deployment.kubernetes.io/revision";
const REVISION_HISTORY = "deployment.kubernetes.io/revision-history";
const DESIRED = "deployment.kubernetes.io/desired-replicas";
const MAX_REPLICAS = "deployment.kubernetes.io/max-replicas";
const HASH = "pod-template-hash";
const SKIP_ANNOTATIONS = new Set(["kubectl.kubernetes.io/last-applied-configuration", REVISION, REVISION_HISTORY, DESIRED, MAX_REPLICAS, "deprecated.deployment.rollback.to"]);

const revisionOf = (o: any) => Number(o?.metadata?.annotations?.[REVISION] ?? 0) || 0;
const specReplicas = (rs: any) => rs?.spec?.replicas ?? 0;
const sum = (xs: any[], f: (x: any) => number) => xs.reduce((n, x) => n + f(x), 0);

function templateKey(t: any): string {
  const c = structuredClone(t ?? {});
  if (c.metadata?.labels) {
    delete c.metadata.labels[HASH];
    if (!Object.keys(c.metadata.labels).length) delete c.metadata.labels;
  }
  return stableJson(c);
}

function podTemplateHash(t: any, collisionCount = 0): string {
  return safeHash(templateKey(t) + (collisionCount ? `#${collisionCount}` : ""));
}

function maxSurge(d: any): number {
  if (d.spec?.strategy?.type !== "RollingUpdate") return 0;
  return intOrPercent(d.spec.strategy.rollingUpdate?.maxSurge, d.spec.replicas ?? 1, true);
}

function maxUnavailable(d: any): number {
  const replicas = d.spec?.replicas ?? 1;
  if (d.spec?.strategy?.type !== "RollingUpdate" || replicas === 0) return 0;
  const surge = maxSurge(d);
  let u = intOrPercent(d.spec.strategy.rollingUpdate?.maxUnavailable, replicas, false);
  if (surge === 0 && u === 0) u = 1; // validation forbids both zero; be safe
  return Math.min(u, replicas);
}

export class DeploymentController extends Controller {
  private deps: Informer;
  private rss: Informer;
  private pods: Informer;
  /** Deployments whose new ReplicaSet was just created (for the Progressing reason). */
  private created = new Map<string, string>();

  constructor(rt: ControllerContext) {
    super(rt, "deployment", 4);
    this.deps = this.informer("apps/deployments");
    this.rss = this.informer("apps/replicasets");
    this.pods = this.informer("pods");
    this.deps.addHandler({ add: (o) => this.queue.add(objKey(o)), update: (_, o) => this.queue.add(objKey(o)) });
    const onRS = (rs: any) => {
      const ref = controllerOf(rs);
      if (ref) {
        if (ref.kind === "Deployment") this.queue.add(`${rs.metadata.namespace}/${ref.name}`);
        return;
      }
      for (const d of this.deps.byIndex("namespace", rs.metadata.namespace))
        if (matchLabels(labelSelectorToRequirements(d.spec?.selector), rs.metadata.labels)) this.queue.add(objKey(d));
    };
    this.rss.addHandler({ add: onRS, update: (_, o) => onRS(o), delete: onRS });
    // Recreate waits for old pods to be gone.
    this.pods.addHandler({
      delete: (p) => {
        const ref = controllerOf(p);
        if (ref?.kind !== "ReplicaSet") return;
        const rs = this.rss.getBy(p.metadata.namespace, ref.name);
        const dref = rs && controllerOf(rs);
        if (dref?.kind === "Deployment") this.queue.add(`${p.metadata.namespace}/${dref.name}`);
      },
    });
  }

  async reconcile(key: string): Promise<void> {
    const d = this.deps.get(key);
    if (!d) return;
    const { ns } = splitKey(key);
    const rsList = await this.claim(d, ns);
    if (d.metadata.deletionTimestamp) return this.syncStatusOnly(d, rsList);
    if (d.spec?.paused) {
      await this.syncScale(d, rsList);
      return this.syncRolloutStatus(key, rsList);
    }
    if (this.isScalingEvent(d, rsList)) {
      await this.syncScale(d, rsList);
      return this.syncRolloutStatus(key, rsList);
    }
    if (d.spec?.strategy?.type === "Recreate") return this.rolloutRecreate(key, d, rsList);
    return this.rolloutRolling(key, d, rsList);
  }

  /** ReplicaSets this deployment controls, adopting matching orphans and releasing strays. */
  private async claim(d: any, ns: string): Promise<any[]> {
    const reqs = labelSelectorToRequirements(d.spec?.selector);
    const out: any[] = [];
    if (!reqs.length) return out;
    for (const rs of this.rss.byIndex("namespace", ns)) {
      const ref = controllerOf(rs);
      const matches = matchLabels(reqs, rs.metadata.labels);
      if (ref?.uid === d.metadata.uid) {
        if (matches || d.metadata.deletionTimestamp) out.push(rs);
        else
          await this.api.update("ReplicaSet", ns, rs.metadata.name, (cur) => {
            cur.metadata.ownerReferences = (cur.metadata.ownerReferences ?? []).filter((r: any) => r.uid !== d.metadata.uid);
            if (!cur.metadata.ownerReferences.length) delete cur.metadata.ownerReferences;
            return cur;
          });
      } else if (!ref && matches && !d.metadata.deletionTimestamp && !rs.metadata.deletionTimestamp) {
        const adopted = await this.api.update("ReplicaSet", ns, rs.metadata.name, (cur) => {
          if (controllerOf(cur)) return cur;
          cur.metadata.ownerReferences = [...(cur.metadata.ownerReferences ?? []), controllerRef(d, "Deployment")];
          return cur;
        });
        if (adopted && controllerOf(adopted)?.uid === d.metadata.uid) out.push(adopted);
      }
    }
    return out;
  }

  private split(d: any, rsList: any[]): { newRS?: any; old: any[] } {
    const want = templateKey(d.spec?.template);
    const matching = rsList.filter((rs) => templateKey(rs.spec?.template) === want).sort(byCreation);
    const newRS = matching[0];
    return { newRS, old: rsList.filter((rs) => rs !== newRS) };
  }

  private isScalingEvent(d: any, rsList: any[]): boolean {
    const want = String(d.spec?.replicas ?? 1);
    return rsList.some((rs) => specReplicas(rs) > 0 && rs.metadata.annotations?.[DESIRED] !== undefined && rs.metadata.annotations[DESIRED] !== want);
  }

  /** Find or create the new ReplicaSet and bring revision annotations up to date. */
  private async getNewRS(d: any, rsList: any[], create: boolean): Promise<{ newRS?: any; old: any[] }> {
    const { newRS, old } = this.split(d, rsList);
    const maxOld = Math.max(0, ...old.map(revisionOf));
    const newRevision = String(maxOld + 1);
    const ns = d.metadata.namespace;
    if (newRS) {
      const needs = revisionOf(newRS) < maxOld + 1 || this.annotationsOutdated(d, newRS) || (newRS.spec?.minReadySeconds ?? 0) !== (d.spec?.minReadySeconds ?? 0);
      let rs = newRS;
      if (needs) {
        rs =
          (await this.api.update("ReplicaSet", ns, newRS.metadata.name, (cur) => {
            const oldRev = cur.metadata.annotations?.[REVISION];
            this.setAnnotations(d, cur, revisionOf(cur) < maxOld + 1 ? newRevision : String(revisionOf(cur)));
            if (oldRev && oldRev !== cur.metadata.annotations[REVISION]) {
              const hist = cur.metadata.annotations[REVISION_HISTORY];
              cur.metadata.annotations[REVISION_HISTORY] = hist ? `${hist},${oldRev}` : oldRev;
            }
            cur.spec.minReadySeconds = d.spec?.minReadySeconds ?? 0;
            return cur;
          })) ?? newRS;
      }
      await this.setDeploymentRevision(d, rs.metadata.annotations?.[REVISION] ?? newRevision);
      return { newRS: rs, old };
    }
    if (!create) return { newRS: undefined, old };
    let collisions = d.status?.collisionCount ?? 0;
    for (let attempt = 0; attempt < 5; attempt++) {
      const hash = podTemplateHash(d.spec.template, collisions);
      const template = structuredClone(d.spec.template);
      template.metadata ??= {};
      template.metadata.labels = { ...(template.metadata.labels ?? {}), [HASH]: hash };
      const selector = structuredClone(d.spec.selector);
      selector.matchLabels = { ...(selector.matchLabels ?? {}), [HASH]: hash };
      const replicas = this.newRSReplicas(d, old, 0);
      const rs: any = {
        metadata: { name: `${d.metadata.name}-${hash}`, namespace: ns, labels: { ...(template.metadata.labels ?? {}) }, ownerReferences: [controllerRef(d, "Deployment")] },
        spec: { replicas, minReadySeconds: d.spec?.minReadySeconds ?? 0, selector, template },
      };
      this.setAnnotations(d, rs, newRevision);
      try {
        const made = await this.api.create("ReplicaSet", ns, rs);
        this.created.set(objKey(d), made.metadata.name);
        if (replicas > 0) this.record(d, "Normal", "ScalingReplicaSet", `Scaled up replica set ${made.metadata.name} from 0 to ${replicas}`);
        await this.setDeploymentRevision(d, newRevision);
        return { newRS: made, old };
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
        const existing = this.rss.getBy(ns, rs.metadata.name);
        if (existing && controllerOf(existing)?.uid === d.metadata.uid && templateKey(existing.spec?.template) === templateKey(d.spec.template))
          return { newRS: existing, old };
        collisions++;
        await this.api.updateStatus("Deployment", ns, d.metadata.name, (cur) => {
          cur.status = { ...(cur.status ?? {}), collisionCount: collisions };
          return cur;
        });
      }
    }
    throw new Error(`could not find a free ReplicaSet name for deployment ${d.metadata.name}`);
  }

  private annotationsOutdated(d: any, rs: any): boolean {
    const a = rs.metadata.annotations ?? {};
    if (a[DESIRED] !== String(d.spec?.replicas ?? 1)) return true;
    if (a[MAX_REPLICAS] !== String((d.spec?.replicas ?? 1) + maxSurge(d))) return true;
    for (const [k, v] of Object.entries(d.metadata.annotations ?? {})) if (!SKIP_ANNOTATIONS.has(k) && a[k] !== v) return true;
    return false;
  }

  private setAnnotations(d: any, rs: any, revision: string): void {
    const a: Record<string, string> = { ...(rs.metadata.annotations ?? {}) };
    for (const [k, v] of Object.entries(d.metadata.annotations ?? {})) if (!SKIP_ANNOTATIONS.has(k)) a[k] = v as string;
    a[REVISION] = revision;
    a[DESIRED] = String(d.spec?.replicas ?? 1);
    a[MAX_REPLICAS] = String((d.spec?.replicas ?? 1) + maxSurge(d));
    rs.metadata.annotations = a;
  }

  private async setDeploymentRevision(d: any, rev: string): Promise<void> {
    if (d.metadata.annotations?.[REVISION] === rev) return;
    await this.api.update("Deployment", d.metadata.namespace, d.metadata.name, (cur) => {
      cur.metadata.annotations = { ...(cur.metadata.annotations ?? {}), [REVISION]: rev };
      return cur;
    });
  }

  /** NewRSNewReplicas for RollingUpdate; Recreate gets everything at once. */
  private newRSReplicas(d: any, old: any[], current: number, newRS?: any): number {
    const replicas = d.spec?.replicas ?? 1;
    if (d.spec?.strategy?.type !== "RollingUpdate") return replicas;
    const maxTotal = replicas + maxSurge(d);
    const total = sum(old, specReplicas) + current;
    if (total >= maxTotal) return current;
    const up = Math.min(maxTotal - total, Math.max(0, replicas - current));
    void newRS;
    return current + up;
  }

  private async scaleRS(d: any, rs: any, to: number): Promise<boolean> {
    const from = specReplicas(rs);
    const a = rs.metadata.annotations ?? {};
    const annOk = a[DESIRED] === String(d.spec?.replicas ?? 1) && a[MAX_REPLICAS] === String((d.spec?.replicas ?? 1) + maxSurge(d));
    if (from === to && annOk) return false;
    await this.api.update("ReplicaSet", rs.metadata.namespace, rs.metadata.name, (cur) => {
      cur.spec.replicas = to;
      this.setAnnotations(d, cur, cur.metadata.annotations?.[REVISION] ?? "1");
      return cur;
    });
    if (from !== to)
      this.record(d, "Normal", "ScalingReplicaSet", `Scaled ${to > from ? "up" : "down"} replica set ${rs.metadata.name} from ${from} to ${to}`);
    return from !== to;
  }

  /** Scaling (and paused) sync: proportional scaling across active ReplicaSets. */
  private async syncScale(d: any, rsList: any[]): Promise<void> {
    const { newRS, old } = await this.getNewRS(d, rsList, false);
    const replicas = d.spec?.replicas ?? 1;
    const all = newRS ? [newRS, ...old] : old;
    const active = all.filter((rs) => specReplicas(rs) > 0);
    if (active.length <= 1) {
      const target = active[0] ?? newRS ?? [...old].sort((a, b) => revisionOf(b) - revisionOf(a))[0];
      if (target) await this.scaleRS(d, target, replicas);
      return;
    }
    if (newRS && specReplicas(newRS) === replicas) {
      for (const rs of old) if (specReplicas(rs) > 0) await this.scaleRS(d, rs, 0);
      return;
    }
    const allowed = replicas + maxSurge(d);
    const current = sum(active, specReplicas);
    let toAdd = allowed - current;
    const sizes = new Map<any, number>();
    if (toAdd !== 0) {
      // Largest first (newest on ties), like ReplicaSetsBySizeNewer/Older.
      const order = [...active].sort((a, b) => specReplicas(b) - specReplicas(a) || (toAdd > 0 ? byCreation(b, a) : byCreation(a, b)));
      let left = toAdd;
      for (const rs of order) {
        const share = toAdd > 0 ? Math.floor((specReplicas(rs) * toAdd) / current) : -Math.min(specReplicas(rs), Math.floor((specReplicas(rs) * -toAdd) / current));
        sizes.set(rs, specReplicas(rs) + share);
        left -= share;
      }
      const first = order[0];
      if (left !== 0 && first) sizes.set(first, Math.max(0, sizes.get(first)! + left));
    }
    for (const rs of all) await this.scaleRS(d, rs, sizes.get(rs) ?? specReplicas(rs));
    void toAdd;
  }

  private async rolloutRolling(key: string, d: any, rsList: any[]): Promise<void> {
    const { newRS, old } = await this.getNewRS(d, rsList, true);
    const all = newRS ? [newRS, ...old] : old;
    const replicas = d.spec?.replicas ?? 1;
    // Scale up the new ReplicaSet.
    if (newRS) {
      const cur = specReplicas(newRS);
      let to = cur;
      if (cur > replicas) to = replicas;
      else if (cur < replicas) to = this.newRSReplicas(d, old, cur, newRS);
      if (to !== cur || newRS.metadata.annotations?.[DESIRED] !== String(replicas)) {
        if (await this.scaleRS(d, newRS, to)) return this.syncRolloutStatus(key, await this.fresh(d));
      }
    }
    // Scale down old ReplicaSets within maxUnavailable.
    if (await this.reconcileOld(d, newRS, old, all)) return this.syncRolloutStatus(key, await this.fresh(d));
    const st = this.calculateStatus(d, all, newRS);
    if (isComplete(d, st)) await this.cleanup(d, old);
    return this.syncRolloutStatus(key, await this.fresh(d));
  }

  private async reconcileOld(d: any, newRS: any, old: any[], all: any[]): Promise<boolean> {
    const oldCount = sum(old, specReplicas);
    if (oldCount === 0) return false;
    const replicas = d.spec?.replicas ?? 1;
    const minAvailable = replicas - maxUnavailable(d);
    const allCount = sum(all, specReplicas);
    const newUnavailable = newRS ? specReplicas(newRS) - (newRS.status?.availableReplicas ?? 0) : 0;
    const maxScaledDown = allCount - minAvailable - newUnavailable;
    if (maxScaledDown <= 0) return false;
    let changed = false;
    // First: unhealthy replicas of old sets (they do not count toward availability anyway).
    let budget = maxScaledDown;
    const sorted = [...old].sort(byCreation);
    const after = new Map<any, number>();
    for (const rs of sorted) {
      if (budget <= 0) break;
      const unhealthy = specReplicas(rs) - (rs.status?.availableReplicas ?? 0);
      if (specReplicas(rs) === 0 || unhealthy <= 0) continue;
      const n = Math.min(budget, unhealthy);
      after.set(rs, specReplicas(rs) - n);
      budget -= n;
    }
    // Then: healthy ones, as long as enough stay available.
    const available = sum(all, (rs) => rs.status?.availableReplicas ?? 0);
    let total = Math.min(available - minAvailable, budget);
    for (const rs of sorted) {
      if (total <= 0) break;
      const cur = after.get(rs) ?? specReplicas(rs);
      if (cur === 0) continue;
      const n = Math.min(cur, total);
      after.set(rs, cur - n);
      total -= n;
    }
    for (const [rs, to] of after) if (await this.scaleRS(d, rs, to)) changed = true;
    return changed;
  }

  private async rolloutRecreate(key: string, d: any, rsList: any[]): Promise<void> {
    let { newRS, old } = await this.getNewRS(d, rsList, false);
    let scaled = false;
    for (const rs of old) if (specReplicas(rs) > 0) scaled = (await this.scaleRS(d, rs, 0)) || scaled;
    if (scaled) return this.syncRolloutStatus(key, await this.fresh(d));
    const oldUids = new Set(old.map((rs) => rs.metadata.uid));
    const running = [...oldUids].some((uid) => this.pods.byIndex("owner", uid).some((p) => p.status?.phase !== "Succeeded" && p.status?.phase !== "Failed"));
    if (running) return this.syncRolloutStatus(key, await this.fresh(d));
    if (!newRS) ({ newRS, old } = await this.getNewRS(d, await this.fresh(d), true));
    if (newRS) await this.scaleRS(d, newRS, d.spec?.replicas ?? 1);
    const st = this.calculateStatus(d, [newRS, ...old].filter(Boolean), newRS);
    if (isComplete(d, st)) await this.cleanup(d, old);
    return this.syncRolloutStatus(key, await this.fresh(d));
  }

  private async fresh(d: any): Promise<any[]> {
    return this.rss.byIndex("owner", d.metadata.uid).filter((rs) => controllerOf(rs)?.uid === d.metadata.uid);
  }

  private async cleanup(d: any, old: any[]): Promise<void> {
    const limit = d.spec?.revisionHistoryLimit ?? 10;
    const dead = old.filter((rs) => specReplicas(rs) === 0 && (rs.status?.replicas ?? 0) === 0 && !rs.metadata.deletionTimestamp);
    const diff = dead.length - limit;
    if (diff <= 0) return;
    dead.sort((a, b) => revisionOf(a) - revisionOf(b) || byCreation(a, b));
    for (const rs of dead.slice(0, diff)) await this.api.delete("ReplicaSet", rs.metadata.namespace, rs.metadata.name);
  }

  private calculateStatus(d: any, all: any[], newRS: any): any {
    const available = sum(all, (rs) => rs.status?.availableReplicas ?? 0);
    const replicas = d.spec?.replicas ?? 1;
    return {
      observedGeneration: d.metadata.generation,
      replicas: sum(all, (rs) => rs.status?.replicas ?? 0),
      updatedReplicas: newRS?.status?.replicas ?? 0,
      readyReplicas: sum(all, (rs) => rs.status?.readyReplicas ?? 0),
      availableReplicas: available,
      unavailableReplicas: Math.max(0, replicas - available),
    };
  }

  private async syncStatusOnly(d: any, rsList: any[]): Promise<void> {
    const { newRS, old } = this.split(d, rsList);
    const st = this.calculateStatus(d, newRS ? [newRS, ...old] : old, newRS);
    await this.api.updateStatus("Deployment", d.metadata.namespace, d.metadata.name, (cur) => {
      cur.status = { ...(cur.status ?? {}), ...st };
      return cur;
    });
  }

  private async syncRolloutStatus(key: string, rsList: any[]): Promise<void> {
    const d = this.deps.get(key);
    if (!d) return;
    const { newRS, old } = this.split(d, rsList);
    const all = newRS ? [newRS, ...old] : old;
    const st = this.calculateStatus(d, all, newRS);
    const replicas = d.spec?.replicas ?? 1;
    const nowIso = timestamp(new Date(this.now()));
    const created = this.created.get(key);
    this.created.delete(key);
    let requeue = 0;
    await this.api.updateStatus("Deployment", d.metadata.namespace, d.metadata.name, (cur) => {
      const prev = cur.status ?? {};
      const s: any = { ...prev, ...st };
      if (prev.collisionCount !== undefined) s.collisionCount = prev.collisionCount;
      let conds: any[] = prev.conditions ?? [];
      const minAvail = replicas - maxUnavailable(cur);
      conds = setCondition(
        conds,
        st.availableReplicas >= minAvail
          ? { type: "Available", status: "True", reason: "MinimumReplicasAvailable", message: "Deployment has minimum availability." }
          : { type: "Available", status: "False", reason: "MinimumReplicasUnavailable", message: "Deployment does not have minimum availability." },
        nowIso,
        true,
      );
      const deadline = cur.spec?.progressDeadlineSeconds;
      const prog = conds.find((c) => c.type === "Progressing");
      const rsName = newRS?.metadata?.name ?? "";
      if (cur.spec?.paused) {
        if (prog?.reason !== "DeploymentPaused") conds = setCondition(conds, { type: "Progressing", status: "Unknown", reason: "DeploymentPaused", message: "Deployment is paused" }, nowIso, true);
      } else if (deadline !== undefined && deadline !== 2147483647) {
        const complete = isComplete(cur, s);
        if (complete) {
          conds = setCondition(conds, { type: "Progressing", status: "True", reason: "NewReplicaSetAvailable", message: `ReplicaSet "${rsName}" has successfully progressed.` }, nowIso, true);
        } else if (created || prog?.reason === "DeploymentPaused" || !prog) {
          const reason = prog?.reason === "DeploymentPaused" ? "DeploymentResumed" : created ? "NewReplicaSetCreated" : "FoundNewReplicaSet";
          const message = reason === "DeploymentResumed" ? "Deployment is resumed" : reason === "NewReplicaSetCreated" ? `Created new replica set "${rsName}"` : `Found new replica set "${rsName}"`;
          conds = setCondition(conds, { type: "Progressing", status: "True", reason, message }, nowIso, true);
          requeue = deadline * 1000;
        } else if (isProgressing(prev, s) || (prog?.reason === "NewReplicaSetAvailable" && rsName)) {
          conds = setCondition(conds, { type: "Progressing", status: "True", reason: "ReplicaSetUpdated", message: `ReplicaSet "${rsName}" is progressing.` }, nowIso, true);
          // setCondition keeps lastUpdateTime when nothing changed; progress must refresh it.
          const p = conds.find((c) => c.type === "Progressing");
          p.lastUpdateTime = nowIso;
          requeue = deadline * 1000;
        } else if (prog && prog.status === "True") {
          const last = Date.parse(prog.lastUpdateTime ?? prog.lastTransitionTime ?? "") || this.now();
          const left = last + deadline * 1000 - this.now();
          if (left <= 0) {
            conds = setCondition(conds, { type: "Progressing", status: "False", reason: "ProgressDeadlineExceeded", message: `ReplicaSet "${rsName}" has timed out progressing.` }, nowIso, true);
            this.record(cur, "Warning", "ProgressDeadlineExceeded", `Deployment "${cur.metadata.name}" has timed out progressing.`);
          } else requeue = left + 100;
        }
      }
      s.conditions = conds;
      for (const k of ["readyReplicas", "availableReplicas", "unavailableReplicas", "updatedReplicas", "replicas"]) if (!s[k]) delete s[k];
      cur.status = s;
      return cur;
    });
    if (requeue) this.queue.addAfter(key, requeue);
  }
}

function isComplete(d: any, s: any): boolean {
  const replicas = d.spec?.replicas ?? 1;
  return (s.updatedReplicas ?? 0) === replicas && (s.replicas ?? 0) === replicas && (s.availableReplicas ?? 0) === replicas && (s.observedGeneration ?? 0) >= (d.metadata.generation ?? 0);
}

function isProgressing(prev: any, s: any): boolean {
  const oldOld = (prev.replicas ?? 0) - (prev.updatedReplicas ?? 0);
  const newOld = (s.replicas ?? 0) - (s.updatedReplicas ?? 0);
  return (s.updatedReplicas ?? 0) > (prev.updatedReplicas ?? 0) || newOld < oldOld || (s.readyReplicas ?? 0) > (prev.readyReplicas ?? 0) || (s.availableReplicas ?? 0) > (prev.availableReplicas ?? 0);
}

function byCreation(a: any, b: any): number {
  const ta = Date.parse(a.metadata.creationTimestamp ?? "") || 0;
  const tb = Date.parse(b.metadata.creationTimestamp ?? "") || 0;
  if (ta !== tb) return ta - tb;
  return a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0;
}

export { isActive };
