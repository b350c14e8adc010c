// The disruption controller (upstream pkg/controller/disruption): keeps each PodDisruptionBudget's
// status true — expectedPods, desiredHealthy, currentHealthy, disruptionsAllowed and the
// DisruptionAllowed condition — from the pods its selector matches and, for percentages and
// maxUnavailable, the scale of the controllers owning them. Pods an eviction has spent budget on
// (status.disruptedPods) count as unhealthy until they are gone or the entry is two minutes old,
// so a budget is never spent twice on the same pod nor lost when a deletion does not happen.
import { labelSelectorMatches } from "../../schemas/helpers/selectors";
import { setBudgetCondition } from "../registry/kinds/eviction";
import { timestamp } from "../registry/meta";
import { controllerOf } from "./runtime/api";
import { Controller, type ControllerContext } from "./runtime/controller";
import { objKey, type Informer } from "./runtime/informer";
import { intOrPercent, isReady } from "./runtime/pods";

/** Upstream's DeletionTimeout: an eviction not followed by a deletion within it is given back. */
const DELETION_TIMEOUT_MS = 2 * 60 * 1000;

const isPercent = (v: unknown) => typeof v === "string" && v.endsWith("%");

export class DisruptionController extends Controller {
  private pdbs: Informer;
  private pods: Informer;
  private rs: Informer;
  private deploys: Informer;
  private sts: Informer;

  constructor(rt: ControllerContext) {
    super(rt, "disruption", 4);
    this.pdbs = this.informer("policy/poddisruptionbudgets");
    this.pods = this.informer("pods");
    this.rs = this.informer("apps/replicasets");
    this.deploys = this.informer("apps/deployments");
    this.sts = this.informer("apps/statefulsets");
    this.pdbs.addHandler({ add: (o) => this.queue.add(objKey(o)), update: (_, o) => this.queue.add(objKey(o)) });
    const onPod = (p: any) => {
      for (const b of this.pdbs.byIndex("namespace", p.metadata.namespace)) if (labelSelectorMatches(b.spec?.selector, p.metadata.labels ?? {})) this.queue.add(objKey(b));
    };
    this.pods.addHandler({
      add: onPod,
      update: (old, p) => {
        onPod(p);
        if (JSON.stringify(old.metadata.labels) !== JSON.stringify(p.metadata.labels)) onPod(old);
      },
      delete: onPod,
    });
    // A scale change moves expectedPods for percentages and maxUnavailable.
    const onScale = (o: any) => {
      for (const b of this.pdbs.byIndex("namespace", o.metadata.namespace)) this.queue.add(objKey(b));
    };
    for (const i of [this.rs, this.deploys, this.sts]) i.addHandler({ update: (a, b) => a.spec?.replicas !== b.spec?.replicas && onScale(b), delete: onScale });
  }

  async reconcile(key: string): Promise<void> {
    const pdb = this.pdbs.get(key);
    if (!pdb || pdb.metadata.deletionTimestamp) return;
    const ns = pdb.metadata.namespace;
    const now = this.now();
    const pods = this.pods.byIndex("namespace", ns).filter((p) => labelSelectorMatches(pdb.spec?.selector, p.metadata.labels ?? {}));
    if (pods.length === 0) this.record(pdb, "Normal", "NoPods", "No matching pods found");

    let expected: number;
    let desired: number;
    let failure: string | undefined;
    const spec = pdb.spec ?? {};
    if (spec.maxUnavailable !== undefined && spec.maxUnavailable !== null) {
      const scale = this.expectedScale(pdb, pods);
      if (typeof scale === "string") failure = scale;
      expected = typeof scale === "number" ? scale : 0;
      desired = Math.max(0, expected - intOrPercent(spec.maxUnavailable, expected, true));
    } else if (isPercent(spec.minAvailable)) {
      const scale = this.expectedScale(pdb, pods);
      if (typeof scale === "string") failure = scale;
      expected = typeof scale === "number" ? scale : 0;
      desired = intOrPercent(spec.minAvailable, expected, true);
    } else {
      expected = pods.length;
      desired = intOrPercent(spec.minAvailable ?? 0, expected, true);
    }

    // disruptedPods: keep entries for pods still here, not yet terminating, within the timeout.
    const disrupted: Record<string, string> = {};
    let recheckMs: number | undefined;
    const byName = new Map(pods.map((p) => [p.metadata.name, p]));
    for (const [name, at] of Object.entries<string>(pdb.status?.disruptedPods ?? {})) {
      const p = byName.get(name);
      if (!p || p.metadata.deletionTimestamp) continue;
      const expires = Date.parse(at) + DELETION_TIMEOUT_MS;
      if (!Number.isFinite(expires) || expires <= now) {
        this.record(pdb, "Warning", "NotDeleted", `Pod ${ns}/${name} was expected to be deleted but it wasn't`);
        continue;
      }
      disrupted[name] = at;
      recheckMs = Math.min(recheckMs ?? Infinity, expires - now);
    }
    const healthy = pods.filter((p) => !p.metadata.deletionTimestamp && !disrupted[p.metadata.name] && isReady(p)).length;
    const allowed = failure || expected <= 0 ? 0 : Math.max(0, healthy - desired);

    const stamp = timestamp(new Date(now));
    const gen = pdb.metadata.generation ?? 1;
    await this.api.update(
      "PodDisruptionBudget",
      ns,
      pdb.metadata.name,
      (cur) => {
        const st: any = {
          ...(cur.status ?? {}),
          observedGeneration: gen,
          disruptionsAllowed: allowed,
          currentHealthy: failure ? 0 : healthy,
          desiredHealthy: failure ? 0 : desired,
          expectedPods: failure ? 0 : expected,
        };
        if (Object.keys(disrupted).length) st.disruptedPods = disrupted;
        else delete st.disruptedPods;
        st.conditions = failure
          ? setBudgetCondition(cur.status?.conditions, false, "SyncFailed", failure, stamp, gen)
          : setBudgetCondition(cur.status?.conditions, allowed > 0, allowed > 0 ? "SufficientPods" : "InsufficientPods", "", stamp, gen);
        cur.status = st;
        return cur;
      },
      { status: true },
    );
    if (recheckMs !== undefined) this.queue.addAfter(key, recheckMs + 100);
  }

  /** The summed scale of the controllers owning the pods (upstream getExpectedScale), or why there is none. */
  private expectedScale(pdb: any, pods: any[]): number | string {
    const seen = new Set<string>();
    let total = 0;
    for (const p of pods) {
      const ref = controllerOf(p);
      if (!ref) {
        this.record(pdb, "Warning", "NoControllers", `found no controllers for pod "${p.metadata.name}"`);
        return `found no controller ref for pod "${p.metadata.name}"`;
      }
      const scale = this.scaleOf(p.metadata.namespace, ref);
      if (!scale) {
        this.record(pdb, "Warning", "CalculateExpectedPodCountFailed", `Failed to calculate the number of expected pods: found no controllers for pod "${p.metadata.name}"`);
        return `found no controllers for pod "${p.metadata.name}"`;
      }
      if (seen.has(scale.uid)) continue;
      seen.add(scale.uid);
      total += scale.replicas;
    }
    return total;
  }

  private scaleOf(ns: string, ref: any): { uid: string; replicas: number } | undefined {
    const pick = (o: any) => (o && o.metadata.uid === ref.uid ? o : undefined);
    if (ref.kind === "ReplicaSet") {
      const rs = pick(this.rs.getBy(ns, ref.name));
      if (!rs) return undefined;
      const up = controllerOf(rs);
      if (up?.kind === "Deployment") {
        const d = this.deploys.getBy(ns, up.name);
        if (d && d.metadata.uid === up.uid) return { uid: d.metadata.uid, replicas: d.spec?.replicas ?? 1 };
      }
      return { uid: rs.metadata.uid, replicas: rs.spec?.replicas ?? 1 };
    }
    if (ref.kind === "StatefulSet") {
      const s = pick(this.sts.getBy(ns, ref.name));
      return s ? { uid: s.metadata.uid, replicas: s.spec?.replicas ?? 1 } : undefined;
    }
    return undefined;
  }
}
