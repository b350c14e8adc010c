// Node lifecycle: a node whose Lease (kube-node-lease) is not renewed within the grace period
// becomes Ready=Unknown and is tainted node.kubernetes.io/unreachable:NoExecute (not-ready
// for Ready=False); cordoned nodes get the unschedulable taint. The NoExecute taint manager
// evicts pods that do not tolerate a node's NoExecute taints, after their tolerationSeconds
// (pods without a not-ready/unreachable toleration get DefaultTolerationSeconds, as the
// admission plugin would have added).
import { timestamp } from "../registry/meta";
import { tolerates } from "../scheduler/predicates";
import { Controller, type ControllerContext } from "./runtime/controller";
import type { Informer } from "./runtime/informer";
import { isFinished, isReady } from "./runtime/pods";

const UNREACHABLE = "node.kubernetes.io/unreachable";
const NOT_READY = "node.kubernetes.io/not-ready";
const UNSCHEDULABLE = "node.kubernetes.io/unschedulable";

/** The DefaultTolerationSeconds admission plugin, for callers that create pods. */
function addDefaultTolerations(pod: any, seconds = 300): void {
  const tols: any[] = (pod.spec.tolerations ??= []);
  for (const key of [NOT_READY, UNREACHABLE]) {
    if (tols.some((t) => (t.key === key || (!t.key && t.operator === "Exists")) && (!t.effect || t.effect === "NoExecute"))) continue;
    tols.push({ key, operator: "Exists", effect: "NoExecute", tolerationSeconds: seconds });
  }
}

export class NodeLifecycleController extends Controller {
  private nodes: Informer;
  private leases: Informer;
  private pods: Informer;
  /** Local time when each node's heartbeat last changed (clock-skew safe, like Kubernetes). */
  private probe = new Map<string, { renew: string; at: number }>();
  /** When a look first found a node's heartbeat stale (see reconcile). */
  private suspect = new Map<string, number>();
  /** Monotonic time this process was last seen running (see alive). */
  private lastAlive = performance.now();
  /** Controller-clock time this process last came back from a stall. */
  private resumedAt = -Infinity;
  private ticker: ReturnType<typeof setInterval>;

  constructor(rt: ControllerContext) {
    super(rt, "nodelifecycle", 4);
    this.nodes = this.informer("nodes");
    this.leases = this.informer("coordination.k8s.io/leases");
    this.pods = this.informer("pods").addIndexer("node", (p) => (p.spec?.nodeName ? [p.spec.nodeName] : []));
    this.nodes.addHandler({
      add: (n) => this.queue.add(n.metadata.name),
      update: (_, n) => this.queue.add(n.metadata.name),
      delete: (n) => {
        this.probe.delete(n.metadata.name);
        this.suspect.delete(n.metadata.name);
      },
    });
    this.leases.addHandler({
      add: (l) => l.metadata.namespace === "kube-node-lease" && this.queue.add(l.metadata.name),
      update: (_, l) => l.metadata.namespace === "kube-node-lease" && this.queue.add(l.metadata.name),
    });
    this.pods.addHandler({
      add: (p) => p.spec?.nodeName && this.queue.add(p.spec.nodeName),
      update: (o, p) => p.spec?.nodeName && !o.spec?.nodeName && this.queue.add(p.spec.nodeName),
    });
    this.ticker = setInterval(() => this.alive(), this.tickMs());
    this.ticker.unref?.();
  }

  override stop(): void {
    clearInterval(this.ticker);
    super.stop();
  }

  private tickMs(): number {
    return Math.min(1000, this.rt.opts.nodeMonitorGracePeriodMs / 10);
  }

  /**
   * Heartbeats due while this process was not running (a long GC, an SD card that froze writes,
   * a suspended VM) could not be received, and those sent meanwhile are still on their way
   * through the datastore when it resumes: after such a stall every node gets a full grace
   * period again, from the moment the process resumed. A stall shows as this ticker (or a
   * reconcile) running more than three ticks after the last one.
   */
  private alive(): void {
    const t = performance.now();
    if (t - this.lastAlive > 3 * this.tickMs()) this.resumedAt = this.now();
    this.lastAlive = t;
  }

  private heartbeat(node: any): string {
    const lease = this.leases.getBy("kube-node-lease", node.metadata.name);
    const ready = (node.status?.conditions ?? []).find((c: any) => c.type === "Ready");
    return `${lease?.spec?.renewTime ?? ""}|${ready?.lastHeartbeatTime ?? ""}`;
  }

  async reconcile(name: string): Promise<void> {
    const node = this.nodes.getBy("", name);
    if (!node) return;
    this.alive();
    const now = this.now();
    const grace = this.rt.opts.nodeMonitorGracePeriodMs;
    const hb = this.heartbeat(node);
    let p = this.probe.get(name);
    if (!p || p.renew !== hb) this.probe.set(name, (p = { renew: hb, at: now }));
    const conds: any[] = node.status?.conditions ?? [];
    const ready = conds.find((c) => c.type === "Ready");
    const since = Math.max(p.at, this.resumedAt);
    const stale = now - since > grace;
    if (!stale) this.suspect.delete(name);
    if (stale && ready?.status !== "Unknown") {
      // A heartbeat is judged missing only by two looks, the second one on time and after a
      // read barrier: a look can run before heartbeats already sent are applied here.
      const confirmMs = this.tickMs();
      const first = this.suspect.get(name);
      if (first === undefined || now - first > 3 * confirmMs) {
        this.suspect.set(name, now);
        this.queue.addAfter(name, confirmMs);
        return;
      }
      if (now - first < confirmMs) return; // a look some other event brought: the timed one comes
      // The second look judges what the store has committed, not what the informers have
      // delivered so far: on an external datastore a heartbeat written right after a stall
      // reaches the Lease informer 2 to 20 ms later on a busy machine (measured on etcd), close
      // to a short grace period's confirmMs.
      try {
        await this.rt.store.readBarrier();
      } catch {
        this.queue.addAfter(name, confirmMs); // no quorum or datastore now: judge nothing
        return;
      }
      this.alive();
      if (this.heartbeat(this.nodes.getBy("", name) ?? node) !== p.renew || this.resumedAt > since) {
        this.queue.add(name);
        return;
      }
      this.suspect.delete(name);
      const ts = timestamp(new Date(now));
      await this.api.updateStatus("Node", "", name, (cur) => {
        const list: any[] = cur.status?.conditions ?? [];
        const types = list.length ? list.map((c) => c.type) : ["Ready"];
        const next = types.map((t) => {
          const c = list.find((x) => x.type === t) ?? { type: t };
          return { ...c, status: "Unknown", reason: "NodeStatusUnknown", message: "Kubelet stopped posting node status.", lastTransitionTime: ts, lastHeartbeatTime: c.lastHeartbeatTime ?? ts };
        });
        cur.status = { ...(cur.status ?? {}), conditions: next };
        return cur;
      });
      this.record({ ...node, kind: "Node", apiVersion: "v1" }, "Normal", "NodeNotReady", `Node ${name} status is now: NodeNotReady`);
      await this.markPodsNotReady(name);
    } else if (!stale) this.queue.addAfter(name, since + grace - now + 50);
    const state = stale ? "Unknown" : ready?.status ?? "Unknown";
    // NoExecute and NoSchedule taints follow the Ready condition; cordon adds unschedulable.
    const want: any[] = [];
    if (state === "Unknown" && (stale || ready)) want.push({ key: UNREACHABLE, effect: "NoExecute" }, { key: UNREACHABLE, effect: "NoSchedule" });
    if (state === "False") want.push({ key: NOT_READY, effect: "NoExecute" }, { key: NOT_READY, effect: "NoSchedule" });
    // A node that never reported Ready keeps TaintNodesByCondition's not-ready:NoSchedule.
    if (!ready && !stale) want.push({ key: NOT_READY, effect: "NoSchedule" });
    if (node.spec?.unschedulable) want.push({ key: UNSCHEDULABLE, effect: "NoSchedule" });
    const managed = (t: any) => t.key === UNREACHABLE || t.key === NOT_READY || t.key === UNSCHEDULABLE;
    const have: any[] = node.spec?.taints ?? [];
    const same = want.length === have.filter(managed).length && want.every((w) => have.some((h) => h.key === w.key && h.effect === w.effect));
    let taints = have;
    if (!same) {
      const updated = await this.api.update("Node", "", name, (cur) => {
        const cur0: any[] = cur.spec?.taints ?? [];
        const keep = cur0.filter((t) => !managed(t) || want.some((w) => w.key === t.key && w.effect === t.effect));
        for (const w of want) if (!keep.some((t) => t.key === w.key && t.effect === w.effect)) keep.push({ ...w, ...(w.effect === "NoExecute" ? { timeAdded: timestamp(new Date(now)) } : {}) });
        cur.spec = { ...(cur.spec ?? {}), taints: keep };
        if (!keep.length) delete cur.spec.taints;
        return cur;
      });
      taints = updated?.spec?.taints ?? [];
    }
    await this.evict(name, taints.filter((t) => t.effect === "NoExecute"), now);
  }

  private async markPodsNotReady(node: string): Promise<void> {
    for (const p of this.pods.byIndex("node", node)) {
      if (!isReady(p) || isFinished(p)) continue;
      await this.api.updateStatus("Pod", p.metadata.namespace, p.metadata.name, (cur) => {
        const ts = timestamp();
        cur.status.conditions = (cur.status?.conditions ?? []).map((c: any) => (c.type === "Ready" || c.type === "ContainersReady") && c.status === "True" ? { ...c, status: "False", lastTransitionTime: ts } : c);
        return cur;
      });
    }
  }

  /** NoExecute taint manager for one node. */
  private async evict(node: string, taints: any[], now: number): Promise<void> {
    if (!taints.length) return;
    let next = Infinity;
    for (const p of this.pods.byIndex("node", node)) {
      if (p.metadata.deletionTimestamp || isFinished(p)) continue;
      const tols: any[] = [...(p.spec?.tolerations ?? [])];
      const dflt = { spec: { tolerations: [...tols] } };
      addDefaultTolerations(dflt, this.rt.opts.defaultTolerationSeconds);
      const effective = dflt.spec.tolerations;
      let at = Infinity;
      let never = false;
      for (const t of taints) {
        const matching = effective.filter((tol: any) => tolerates(tol, t));
        if (!matching.length) {
          at = now;
          break;
        }
        const secs = matching.map((m: any) => (typeof m.tolerationSeconds === "number" ? m.tolerationSeconds : Infinity));
        const s = Math.min(...secs);
        if (s === Infinity) {
          never = true;
          continue;
        }
        const added = Date.parse(t.timeAdded ?? "") || now;
        at = Math.min(at, added + Math.max(0, s) * 1000);
      }
      void never;
      if (at === Infinity) continue;
      if (at <= now) {
        this.record(p, "Normal", "TaintManagerEviction", `Marking for deletion Pod ${p.metadata.namespace}/${p.metadata.name}`);
        await this.api.delete("Pod", p.metadata.namespace, p.metadata.name, { preconditions: { uid: p.metadata.uid } });
      } else next = Math.min(next, at);
    }
    if (next !== Infinity) this.queue.addAfter(node, next - now + 50);
  }
}
