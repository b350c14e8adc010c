// DaemonSet: one pod per eligible node (nodeSelector, required node affinity, taints vs
// tolerations), pinned with node affinity on metadata.name and placed by the scheduler, like
// Kubernetes; new nodes get one, nodes that stop qualifying lose theirs; RollingUpdate
// replaces old-revision pods at most maxUnavailable at a time; OnDelete waits.
import { labelSelectorToRequirements, matchLabels } from "../../schemas/helpers/selectors";
import { matchesNodeSelectorAndAffinity, untoleratedTaint } from "../scheduler/predicates";
import { controllerOf } from "./runtime/api";
import { Controller, type ControllerContext } from "./runtime/controller";
import { objKey, splitKey, type Informer } from "./runtime/informer";
import { intOrPercent, isAvailable, isReady, isTerminating, podFromTemplate } from "./runtime/pods";
import { pruneRevisions, REVISION_HASH, syncRevisions } from "./runtime/revisions";

const DAEMON_TOLERATIONS = [
  { key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute" },
  { key: "node.kubernetes.io/unreachable", operator: "Exists", effect: "NoExecute" },
  { key: "node.kubernetes.io/disk-pressure", operator: "Exists", effect: "NoSchedule" },
  { key: "node.kubernetes.io/memory-pressure", operator: "Exists", effect: "NoSchedule" },
  { key: "node.kubernetes.io/pid-pressure", operator: "Exists", effect: "NoSchedule" },
  { key: "node.kubernetes.io/unschedulable", operator: "Exists", effect: "NoSchedule" },
];

/** The node a daemon pod is for: spec.nodeName, or its metadata.name node affinity. */
function nodeOfPod(p: any): string | undefined {
  if (p.spec?.nodeName) return p.spec.nodeName;
  for (const t of p.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [])
    for (const f of t.matchFields ?? []) if (f.key === "metadata.name" && f.operator === "In" && f.values?.length === 1) return f.values[0];
  return undefined;
}

function withDaemonTolerations(spec: any): any[] {
  const tols = [...(spec?.tolerations ?? [])];
  for (const t of DAEMON_TOLERATIONS) if (!tols.some((x) => x.key === t.key && x.effect === t.effect)) tols.push(t);
  return tols;
}

function shouldRunOn(ds: any, node: any): boolean {
  const spec = ds.spec?.template?.spec ?? {};
  if (!matchesNodeSelectorAndAffinity(spec, node)) return false;
  return !untoleratedTaint(node.spec?.taints, withDaemonTolerations(spec), ["NoSchedule", "NoExecute"]);
}

/** Kubernetes' shouldContinueRunning: an existing daemon pod stays on a node that gained a
 *  NoSchedule taint (only an untolerated NoExecute taint, or a selector mismatch, removes it). */
function shouldKeepOn(ds: any, node: any): boolean {
  const spec = ds.spec?.template?.spec ?? {};
  if (!matchesNodeSelectorAndAffinity(spec, node)) return false;
  return !untoleratedTaint(node.spec?.taints, withDaemonTolerations(spec), ["NoExecute"]);
}

export class DaemonSetController extends Controller {
  private sets: Informer;
  private pods: Informer;
  private nodes: Informer;
  private crs: Informer;

  constructor(rt: ControllerContext) {
    super(rt, "daemonset", 4);
    this.sets = this.informer("apps/daemonsets");
    this.pods = this.informer("pods");
    this.nodes = this.informer("nodes");
    this.crs = this.informer("apps/controllerrevisions");
    this.sets.addHandler({ add: (s) => this.queue.add(objKey(s)), update: (_, s) => this.queue.add(objKey(s)) });
    const onPod = (p: any) => {
      const ref = controllerOf(p);
      if (ref?.kind === "DaemonSet") this.queue.add(`${p.metadata.namespace}/${ref.name}`);
    };
    this.pods.addHandler({ add: onPod, update: (_, p) => onPod(p), delete: onPod });
    const all = () => {
      for (const s of this.sets.list()) this.queue.add(objKey(s));
    };
    const sig = (n: any) => JSON.stringify([n.metadata.labels, n.spec?.taints, n.spec?.unschedulable]);
    this.nodes.addHandler({ add: all, update: (o, n) => sig(o) !== sig(n) && all(), delete: all });
  }

  async reconcile(key: string): Promise<void> {
    const ds = this.sets.get(key);
    if (!ds || ds.metadata.deletionTimestamp) return;
    const { ns, name } = splitKey(key);
    const reqs = labelSelectorToRequirements(ds.spec?.selector);
    const revs = await syncRevisions(this.api, this.crs, ds, "DaemonSet");
    const hash = revs.update.metadata.labels?.["controller.kubernetes.io/hash"] ?? revs.update.metadata.name.slice(name.length + 1);
    const byNode = new Map<string, any[]>();
    for (const p of this.pods.byIndex("owner", ds.metadata.uid)) {
      if (controllerOf(p)?.uid !== ds.metadata.uid || !matchLabels(reqs, p.metadata.labels)) continue;
      const n = nodeOfPod(p) ?? "";
      let l = byNode.get(n);
      if (!l) byNode.set(n, (l = []));
      l.push(p);
    }
    const now = this.now();
    const minReady = ds.spec?.minReadySeconds ?? 0;
    const toCreate: string[] = [];
    const toDelete: any[] = [];
    let desired = 0, current = 0, misscheduled = 0, ready = 0, updated = 0, available = 0;
    const eligible: { node: string; pod: any }[] = [];
    for (const node of this.nodes.list()) {
      const n = node.metadata.name;
      const pods = (byNode.get(n) ?? []).filter((p) => !isTerminating(p));
      byNode.delete(n);
      const run = shouldRunOn(ds, node);
      if (!run && shouldKeepOn(ds, node)) {
        // Counted as misscheduled (like Kubernetes) but left running; failed ones go.
        const live = pods.filter((p) => p.status?.phase !== "Failed");
        toDelete.push(...pods.filter((p) => p.status?.phase === "Failed"));
        if (live.length) misscheduled++;
        continue;
      }
      if (run) {
        desired++;
        const failed = pods.filter((p) => p.status?.phase === "Failed");
        toDelete.push(...failed);
        const live = pods.filter((p) => p.status?.phase !== "Failed");
        if (!live.length) {
          if (!failed.length) toCreate.push(n);
          continue;
        }
        current++;
        // Keep the oldest; extras go.
        live.sort((a, b) => (a.metadata.creationTimestamp ?? "").localeCompare(b.metadata.creationTimestamp ?? ""));
        toDelete.push(...live.slice(1));
        const p = live[0]!;
        if (isReady(p)) ready++;
        if (isAvailable(p, minReady, now)) available++;
        if (p.metadata.labels?.[REVISION_HASH] === hash) updated++;
        eligible.push({ node: n, pod: p });
      } else if (pods.length) {
        misscheduled++;
        toDelete.push(...pods);
      }
    }
    for (const pods of byNode.values()) toDelete.push(...pods.filter((p) => !isTerminating(p))); // nodes that are gone
    // Rolling update within maxUnavailable.
    const strategy = ds.spec?.updateStrategy ?? { type: "RollingUpdate" };
    if (strategy.type === "RollingUpdate") {
      const maxUnavailable = Math.max(1, intOrPercent(strategy.rollingUpdate?.maxUnavailable ?? 1, desired, true));
      const unavailable = desired - available;
      let budget = maxUnavailable - unavailable + toCreate.length * 0;
      const old = eligible.filter((e) => e.pod.metadata.labels?.[REVISION_HASH] !== hash);
      // Old pods that are already unavailable can go first at no cost.
      for (const e of old) if (!isAvailable(e.pod, minReady, now)) toDelete.push(e.pod);
      for (const e of old) {
        if (budget <= 0) break;
        if (!isAvailable(e.pod, minReady, now)) continue;
        toDelete.push(e.pod);
        budget--;
      }
    }
    await Promise.all(toDelete.map((p) => this.api.delete("Pod", ns, p.metadata.name, { preconditions: { uid: p.metadata.uid } })));
    for (const p of toDelete) this.record(ds, "Normal", "SuccessfulDelete", `Deleted pod: ${p.metadata.name}`);
    await Promise.all(
      toCreate.map(async (n) => {
        const pod = podFromTemplate(ds.spec.template, ds, "DaemonSet", { labels: { [REVISION_HASH]: hash, "pod-template-generation": String(ds.metadata.generation ?? 1) } });
        pod.spec.tolerations = withDaemonTolerations(pod.spec);
        const aff = (pod.spec.affinity ??= {});
        const na = (aff.nodeAffinity ??= {});
        const terms = na.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms?.length ? na.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms : [{}];
        na.requiredDuringSchedulingIgnoredDuringExecution = {
          nodeSelectorTerms: terms.map((t: any) => ({ ...t, matchFields: [...(t.matchFields ?? []).filter((f: any) => f.key !== "metadata.name"), { key: "metadata.name", operator: "In", values: [n] }] })),
        };
        try {
          const made = await this.api.create("Pod", ns, pod);
          this.record(ds, "Normal", "SuccessfulCreate", `Created pod: ${made.metadata.name}`);
        } catch (e) {
          this.record(ds, "Warning", "FailedCreate", `Error creating: ${(e as Error).message}`);
          throw e;
        }
      }),
    );
    if (minReady) for (const e of eligible) if (isReady(e.pod) && !isAvailable(e.pod, minReady, now)) this.queue.addAfter(key, minReady * 1000);
    await this.api.updateStatus("DaemonSet", ns, name, (cur) => {
      cur.status = {
        ...(cur.status ?? {}),
        currentNumberScheduled: current,
        numberMisscheduled: misscheduled,
        desiredNumberScheduled: desired,
        numberReady: ready,
        observedGeneration: cur.metadata.generation,
        updatedNumberScheduled: updated,
        numberAvailable: available,
        numberUnavailable: Math.max(0, desired - available),
      };
      for (const k of ["numberAvailable", "numberUnavailable", "updatedNumberScheduled"]) if (!cur.status[k]) delete cur.status[k];
      return cur;
    });
    const inUse = new Set<string>([revs.update.metadata.name]);
    for (const e of eligible) inUse.add(`${name}-${e.pod.metadata.labels?.[REVISION_HASH]}`);
    await pruneRevisions(this.api, revs.all, ds.spec?.revisionHistoryLimit ?? 10, inUse);
  }
}
