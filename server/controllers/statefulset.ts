// StatefulSet: pods `<name>-<ordinal>` with stable hostnames, one PVC per volumeClaimTemplate
// per ordinal (kept when the pod goes), OrderedReady (one at a time, in order, each Running
// and Ready before the next; scale down from the highest) or Parallel, RollingUpdate from the
// highest ordinal down to `partition`, or OnDelete; ControllerRevisions for rollout history.
import { labelSelectorToRequirements, matchLabels } from "../../schemas/helpers/selectors";
import { controllerOf, isAlreadyExists } from "./runtime/api";
import { Controller, type ControllerContext } from "./runtime/controller";
import { objKey, splitKey, type Informer } from "./runtime/informer";
import { isAvailable, isReady, isTerminating, podFromTemplate } from "./runtime/pods";
import { pruneRevisions, REVISION_HASH, syncRevisions } from "./runtime/revisions";

const POD_NAME = "statefulset.kubernetes.io/pod-name";
const POD_INDEX = "apps.kubernetes.io/pod-index";

const healthy = (p: any) => !isTerminating(p) && p.status?.phase === "Running" && isReady(p);

export class StatefulSetController extends Controller {
  private sets: Informer;
  private pods: Informer;
  private pvcs: Informer;
  private crs: Informer;

  constructor(rt: ControllerContext) {
    super(rt, "statefulset", 4);
    this.sets = this.informer("apps/statefulsets");
    this.pods = this.informer("pods");
    this.pvcs = this.informer("persistentvolumeclaims");
    this.crs = this.informer("apps/controllerrevisions");
    this.sets.addHandler({ add: (s) => this.queue.add(objKey(s)), update: (_, s) => this.queue.add(objKey(s)) });
    const onPod = (p: any) => {
      const ref = controllerOf(p);
      if (ref?.kind === "StatefulSet") this.queue.add(`${p.metadata.namespace}/${ref.name}`);
    };
    this.pods.addHandler({ add: onPod, update: (_, p) => onPod(p), delete: onPod });
  }

  private templateOf(set: any, revName: string, revs: any[]): any {
    const r = revs.find((x) => x.metadata.name === revName);
    const t = r?.data?.spec?.template;
    if (!t) return set.spec.template;
    const c = structuredClone(t);
    delete c.$patch;
    return c;
  }

  async reconcile(key: string): Promise<void> {
    const set = this.sets.get(key);
    if (!set || set.metadata.deletionTimestamp) return;
    const { ns, name } = splitKey(key);
    const reqs = labelSelectorToRequirements(set.spec?.selector);
    const start = set.spec?.ordinals?.start ?? 0;
    const replicas = set.spec?.replicas ?? 1;
    const ordered = (set.spec?.podManagementPolicy ?? "OrderedReady") === "OrderedReady";
    const revs = await syncRevisions(this.api, this.crs, set, "StatefulSet");
    const updateRevision = revs.update.metadata.name;
    const currentRevision = set.status?.currentRevision && revs.all.some((r) => r.metadata.name === set.status.currentRevision) ? set.status.currentRevision : updateRevision;
    const strategy = set.spec?.updateStrategy ?? { type: "RollingUpdate" };
    const partition = strategy.type === "RollingUpdate" ? strategy.rollingUpdate?.partition ?? 0 : 0;
    const byOrdinal = new Map<number, any>();
    const condemned: any[] = [];
    for (const p of this.pods.byIndex("owner", set.metadata.uid)) {
      if (controllerOf(p)?.uid !== set.metadata.uid || !matchLabels(reqs, p.metadata.labels)) continue;
      const m = new RegExp(`^${escape(name)}-(\\d+)$`).exec(p.metadata.name);
      if (!m) continue;
      const ord = Number(m[1]);
      if (ord >= start && ord < start + replicas) byOrdinal.set(ord, p);
      else condemned.push(p);
    }
    const minReady = set.spec?.minReadySeconds ?? 0;
    let blocked = false;
    // Create missing pods, replace failed ones.
    for (let ord = start; ord < start + replicas && !blocked; ord++) {
      const p = byOrdinal.get(ord);
      if (p && p.status?.phase === "Failed" && !isTerminating(p)) {
        await this.api.delete("Pod", ns, p.metadata.name, { preconditions: { uid: p.metadata.uid } });
        this.record(set, "Normal", "SuccessfulDelete", `delete Pod ${p.metadata.name} in StatefulSet ${name} successful`);
        byOrdinal.delete(ord);
        if (ordered) blocked = true;
        continue;
      }
      if (!p) {
        const rev = strategy.type === "RollingUpdate" && ord - start < partition ? currentRevision : updateRevision;
        await this.createPod(set, ord, rev, this.templateOf(set, rev, revs.all));
        if (ordered) blocked = true;
        continue;
      }
      if (ordered && !healthy(p)) blocked = true;
    }
    // Scale down: highest ordinal first; ordered waits for the rest to be healthy.
    if (!blocked && condemned.length) {
      condemned.sort((a, b) => ordinalOf(b) - ordinalOf(a));
      for (const p of condemned) {
        if (isTerminating(p)) {
          if (ordered) break;
          continue;
        }
        await this.api.delete("Pod", ns, p.metadata.name, { preconditions: { uid: p.metadata.uid } });
        this.record(set, "Normal", "SuccessfulDelete", `delete Pod ${p.metadata.name} in StatefulSet ${name} successful`);
        if (ordered) break;
      }
      blocked = true;
    }
    // Rolling update: the highest ordinal not at the update revision, one at a time.
    if (!blocked && strategy.type === "RollingUpdate") {
      const all = [...byOrdinal.values()];
      if (all.every(healthy)) {
        for (let ord = start + replicas - 1; ord >= start + partition; ord--) {
          const p = byOrdinal.get(ord);
          if (!p || p.metadata.labels?.[REVISION_HASH] === updateRevision) continue;
          await this.api.delete("Pod", ns, p.metadata.name, { preconditions: { uid: p.metadata.uid } });
          this.record(set, "Normal", "SuccessfulDelete", `delete Pod ${p.metadata.name} in StatefulSet ${name} successful`);
          break;
        }
      }
    }
    // Status.
    const pods = [...byOrdinal.values(), ...condemned].filter((p) => !isTerminating(p) || true);
    const now = this.now();
    const live = pods.filter((p) => !isTerminating(p));
    const st: any = {
      observedGeneration: set.metadata.generation,
      replicas: pods.length,
      readyReplicas: live.filter(isReady).length,
      availableReplicas: live.filter((p) => isAvailable(p, minReady, now)).length,
      currentReplicas: pods.filter((p) => p.metadata.labels?.[REVISION_HASH] === currentRevision).length,
      updatedReplicas: pods.filter((p) => p.metadata.labels?.[REVISION_HASH] === updateRevision).length,
      currentRevision,
      updateRevision,
    };
    if (strategy.type === "RollingUpdate" && st.updatedReplicas === replicas && st.readyReplicas === replicas && pods.length === replicas) {
      st.currentRevision = updateRevision;
      st.currentReplicas = st.updatedReplicas;
    }
    if (minReady) for (const p of live) if (isReady(p) && !isAvailable(p, minReady, now)) this.queue.addAfter(key, minReady * 1000);
    await this.api.updateStatus("StatefulSet", ns, name, (cur) => {
      const s = { ...(cur.status ?? {}), ...st };
      if (cur.status?.collisionCount !== undefined) s.collisionCount = cur.status.collisionCount;
      else s.collisionCount = 0;
      for (const k of ["readyReplicas", "availableReplicas", "currentReplicas", "updatedReplicas"]) if (!s[k]) delete s[k];
      if (s.availableReplicas === undefined) s.availableReplicas = 0;
      cur.status = s;
      return cur;
    });
    const inUse = new Set<string>([st.currentRevision, updateRevision, ...pods.map((p) => p.metadata.labels?.[REVISION_HASH])]);
    await pruneRevisions(this.api, revs.all, set.spec?.revisionHistoryLimit ?? 10, inUse);
  }

  private async createPod(set: any, ord: number, revision: string, template: any): Promise<void> {
    const ns = set.metadata.namespace;
    const podName = `${set.metadata.name}-${ord}`;
    // Claims first: they outlive the pod and are never recreated with different data.
    for (const t of set.spec?.volumeClaimTemplates ?? []) {
      const claim = `${t.metadata?.name}-${podName}`;
      if (this.pvcs.getBy(ns, claim)) continue;
      try {
        await this.api.create("PersistentVolumeClaim", ns, {
          metadata: { name: claim, namespace: ns, labels: { ...(t.metadata?.labels ?? {}), ...(set.spec.selector?.matchLabels ?? {}) }, annotations: t.metadata?.annotations },
          spec: structuredClone(t.spec ?? {}),
        });
      } catch (e) {
        if (!isAlreadyExists(e)) {
          this.record(set, "Warning", "FailedCreate", `create Claim ${claim} for Pod ${podName} in StatefulSet ${set.metadata.name} failed error: ${(e as Error).message}`);
          throw e;
        }
      }
    }
    const pod = podFromTemplate(template, set, "StatefulSet", { name: podName, labels: { [POD_NAME]: podName, [POD_INDEX]: String(ord), [REVISION_HASH]: revision } });
    pod.spec.hostname = podName;
    if (set.spec?.serviceName) pod.spec.subdomain = set.spec.serviceName;
    const vols: any[] = pod.spec.volumes ?? [];
    for (const t of set.spec?.volumeClaimTemplates ?? []) {
      const v = { name: t.metadata?.name, persistentVolumeClaim: { claimName: `${t.metadata?.name}-${podName}` } };
      const i = vols.findIndex((x) => x.name === v.name);
      if (i >= 0) vols[i] = v;
      else vols.push(v);
    }
    if (vols.length) pod.spec.volumes = vols;
    try {
      await this.api.create("Pod", ns, pod);
      this.record(set, "Normal", "SuccessfulCreate", `create Pod ${podName} in StatefulSet ${set.metadata.name} successful`);
    } catch (e) {
      if (isAlreadyExists(e)) return;
      this.record(set, "Warning", "FailedCreate", `create Pod ${podName} in StatefulSet ${set.metadata.name} failed error: ${(e as Error).message}`);
      throw e;
    }
  }
}

function ordinalOf(p: any): number {
  return Number(/-(\d+)$/.exec(p.metadata.name)?.[1] ?? -1);
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
