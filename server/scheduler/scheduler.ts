// The scheduler: watches unscheduled pods, filters and scores nodes from an incremental cache,
// assumes the pod onto the chosen node at once (so the next pod sees it) and binds in the
// background, many binds per store commit. Pods that fit nowhere get a FailedScheduling event
// worded like Kubernetes' and wait until the cluster changes.
import { SCHEDULER_USER } from "../registry/ctx";
import { bindPod } from "../registry/kinds/pods";
import { scheduleAttempt } from "../metrics/controllers";
import type { ControllerContext } from "../controllers/runtime/controller";
import { Api } from "../controllers/runtime/api";
import { waitForCacheSync, type Informer } from "../controllers/runtime/informer";
import { setCondition } from "../controllers/runtime/pods";
import { makePodInfo, SchedulerCache, type NodeInfo, type PodInfo } from "./cache";
import { filter, prepare, prepareSpread, score, type VolumeInfo } from "./framework";
import { findPreemption, waitingForVictims } from "./preemption";
import { SchedulingQueue } from "./queue";
import { stableJson } from "../controllers/runtime/pods";

export interface SchedulerOptions {
  name: string;
  /** Percentage of nodes to find feasible before scoring; 0 = adaptive like Kubernetes. */
  percentageOfNodesToScore: number;
  maxInflightBinds: number;
  /** Record a "Scheduled" event per pod (Kubernetes does). */
  scheduledEvents: boolean;
}

const SELECTED_NODE = "volume.kubernetes.io/selected-node";
const DEFAULT_SC = "storageclass.kubernetes.io/is-default-class";

export class Scheduler {
  readonly cache = new SchedulerCache();
  readonly queue = new SchedulingQueue();
  private opts: SchedulerOptions;
  private api: Api;
  private pods: Informer;
  private nodes: Informer;
  private pvcs: Informer;
  private pvs: Informer;
  private classes: Informer;
  private namespaces: Informer;
  private pdbs: Informer;
  private assumed = new Set<string>();
  private inflight = 0;
  private inflightWaiter?: () => void;
  private nextStart = 0;
  private stopped = false;
  private moveScheduled = false;
  private unsubs: (() => void)[] = [];
  /** Counters for benchmarks and tests. */
  stats = { scheduled: 0, unschedulable: 0, bindErrors: 0 };

  constructor(
    private readonly rt: ControllerContext,
    opts: Partial<SchedulerOptions> = {},
  ) {
    this.opts = { name: "default-scheduler", percentageOfNodesToScore: 0, maxInflightBinds: 2000, scheduledEvents: true, ...opts };
    this.api = new Api(rt.registry, SCHEDULER_USER, "default-scheduler");
    this.pods = rt.informers.for("pods");
    this.nodes = rt.informers.for("nodes");
    this.pvcs = rt.informers.for("persistentvolumeclaims");
    this.pvs = rt.informers.for("persistentvolumes");
    this.classes = rt.informers.for("storage.k8s.io/storageclasses");
    this.namespaces = rt.informers.for("namespaces");
    this.pdbs = rt.informers.for("policy/poddisruptionbudgets");
  }

  start(): void {
    this.unsubs.push(
      this.nodes.addHandler({
        add: (n) => {
          this.cache.upsertNode(n);
          this.moveAll();
        },
        update: (old, n) => {
          this.cache.upsertNode(n);
          const sig = (x: any) => stableJson([x.metadata?.labels, x.spec, x.status?.allocatable]);
          if (sig(old) !== sig(n)) this.moveAll();
        },
        delete: (n) => this.cache.removeNode(n.metadata.name),
      }),
      this.namespaces.addHandler({
        add: (ns) => this.cache.nsLabels.set(ns.metadata.name, ns.metadata.labels ?? {}),
        update: (_, ns) => this.cache.nsLabels.set(ns.metadata.name, ns.metadata.labels ?? {}),
        delete: (ns) => this.cache.nsLabels.delete(ns.metadata.name),
      }),
      this.pods.addHandler({ add: (p) => this.onPod(undefined, p), update: (o, p) => this.onPod(o, p), delete: (p) => this.onPodDelete(p) }),
      this.pvcs.addHandler({ add: () => this.moveAll(), update: () => this.moveAll() }),
      this.pvs.addHandler({ add: () => this.moveAll(), update: () => this.moveAll() }),
    );
    void this.loop();
  }

  stop(): void {
    this.stopped = true;
    for (const u of this.unsubs) u();
    this.queue.close();
    this.inflightWaiter?.();
  }

  private isOurs(p: any): boolean {
    return (p.spec?.schedulerName ?? "default-scheduler") === this.opts.name;
  }

  private onPod(old: any, p: any): void {
    const key = `${p.metadata.namespace}/${p.metadata.name}`;
    const finished = p.status?.phase === "Succeeded" || p.status?.phase === "Failed";
    if (p.spec?.nodeName) {
      this.queue.remove(key);
      if (finished) {
        if (this.cache.removePod(key)) this.moveAll();
        this.assumed.delete(key);
        return;
      }
      const cur = this.cache.pods.get(key);
      if (cur && cur.uid === p.metadata.uid && cur.nodeName === p.spec.nodeName && !this.assumed.has(key) && old && labelsEqual(old, p)) {
        cur.pod = p;
        return;
      }
      this.assumed.delete(key);
      this.cache.addPod(makePodInfo(p));
      return;
    }
    if (!this.isOurs(p) || finished) return;
    if (p.metadata.deletionTimestamp) {
      this.queue.remove(key);
      return;
    }
    if (this.assumed.has(key)) return;
    this.queue.add(key, p.spec?.priority ?? 0);
  }

  private onPodDelete(p: any): void {
    const key = `${p.metadata.namespace}/${p.metadata.name}`;
    this.queue.remove(key);
    this.assumed.delete(key);
    if (this.cache.removePod(key)) this.moveAll();
  }

  private moveAll(): void {
    if (this.moveScheduled) return;
    this.moveScheduled = true;
    setTimeout(() => {
      this.moveScheduled = false;
      this.queue.moveAllToActive();
    }, 0);
  }

  private async loop(): Promise<void> {
    // Decide nothing from a half-listed cache (a node whose pods are not listed yet looks empty).
    await waitForCacheSync([this.pods, this.nodes, this.pvcs, this.pvs, this.classes, this.namespaces, this.pdbs]);
    let slice = performance.now();
    while (!this.stopped) {
      const q = this.queue.pop();
      if (!q) {
        await this.queue.wait();
        slice = performance.now();
        continue;
      }
      try {
        this.scheduleOne(q.key);
      } catch (e) {
        console.error(`scheduler: ${q.key}: ${(e as Error).stack}`);
        this.queue.retry(q.key, q.priority);
      }
      if (this.inflight >= this.opts.maxInflightBinds) await new Promise<void>((r) => (this.inflightWaiter = r));
      // Let binds commit and watches flow between bursts of scheduling.
      if (performance.now() - slice > 20) {
        await new Promise((r) => setImmediate(r));
        slice = performance.now();
      }
    }
  }

  private numFeasibleToFind(n: number): number {
    if (n < 100) return n;
    let pct = this.opts.percentageOfNodesToScore;
    if (!pct) pct = Math.max(5, 50 - Math.floor(n / 125));
    if (pct >= 100) return n;
    return Math.max(100, Math.floor((n * pct) / 100));
  }

  /** Schedule one pod synchronously (binding continues in the background). */
  scheduleOne(key: string): void {
    const pod = this.pods.get(key);
    if (!pod || pod.spec?.nodeName || pod.metadata.deletionTimestamp || !this.isOurs(pod)) {
      this.queue.done(key);
      return;
    }
    const pi = makePodInfo(pod);
    const nodes = this.cache.nodeList();
    const vol = this.volumeInfo(pod);
    if (vol.missing) return this.unschedulable(pod, `0/${nodes.length} nodes are available: ${vol.missing}. preemption: 0/${nodes.length} nodes are available: ${nodes.length} Preemption is not helpful for scheduling.`);
    const ctx = prepare(this.cache, pod, pi, vol);
    if (ctx.spreads.length) prepareSpread(ctx, nodes);
    const want = this.numFeasibleToFind(nodes.length);
    const feasible = [];
    const reasons = new Map<string, number>();
    let resolvable = 0;
    const resolvableNodes: NodeInfo[] = [];
    const len = nodes.length;
    const start = len ? this.nextStart % len : 0;
    let i = 0;
    for (; i < len && feasible.length < want; i++) {
      const n = nodes[(start + i) % len]!;
      const r = filter(ctx, n);
      if (!r) feasible.push(n);
      else {
        for (const x of r.reasons) reasons.set(x, (reasons.get(x) ?? 0) + 1);
        if (r.resolvable) {
          resolvable++;
          resolvableNodes.push(n);
        }
      }
    }
    this.nextStart = len ? (start + i) % len : 0;
    if (!feasible.length) {
      const parts = [...reasons].map(([r, c]) => `${c} ${r}`).sort();
      const head = len ? `0/${len} nodes are available: ${parts.join(", ")}.` : "0/0 nodes are available: no nodes available to schedule pods.";
      let pre: string;
      if (pod.spec?.preemptionPolicy === "Never") pre = " preemption: not eligible due to preemptionPolicy=Never.";
      else if (waitingForVictims(this.cache, pod)) return this.unschedulable(pod, `${head} preemption: not eligible due to a terminating pod on the nominated node.`);
      else if (resolvable && this.preempt(pod, pi, vol, resolvableNodes, head)) return;
      else {
        const p: string[] = [];
        if (resolvable) p.push(`${resolvable} No preemption victims found for incoming pod`);
        if (len - resolvable) p.push(`${len - resolvable} Preemption is not helpful for scheduling`);
        pre = ` preemption: 0/${len} nodes are available: ${p.join(", ")}.`;
      }
      return this.unschedulable(pod, len ? head + pre : head);
    }
    const scores = score(ctx, feasible);
    let best = 0, ties = 1;
    for (let j = 1; j < scores.length; j++) {
      if (scores[j]! > scores[best]!) {
        best = j;
        ties = 1;
      } else if (scores[j] === scores[best] && Math.random() * ++ties < 1) best = j;
    }
    const node = feasible[best]!;
    pi.nodeName = node.name;
    this.cache.addPod(pi);
    this.assumed.add(key);
    this.inflight++;
    void this.bind(pod, pi, vol).finally(() => {
      this.inflight--;
      if (this.inflight < this.opts.maxInflightBinds) {
        const w = this.inflightWaiter;
        this.inflightWaiter = undefined;
        w?.();
      }
    });
  }

  private volumeInfo(pod: any): VolumeInfo {
    const out: VolumeInfo = { nodeAffinities: [], delayed: [] };
    const ns = pod.metadata.namespace;
    for (const v of pod.spec?.volumes ?? []) {
      const claim = v.persistentVolumeClaim?.claimName ?? (v.ephemeral ? `${pod.metadata.name}-${v.name}` : undefined);
      if (!claim) continue;
      const pvc = this.pvcs.getBy(ns, claim);
      if (!pvc) {
        out.missing = `persistentvolumeclaim "${claim}" not found`;
        return out;
      }
      if (pvc.metadata.deletionTimestamp) {
        out.missing = `persistentvolumeclaim "${claim}" is being deleted`;
        return out;
      }
      if (pvc.spec?.volumeName) {
        const pv = this.pvs.getBy("", pvc.spec.volumeName);
        if (!pv) {
          out.missing = `persistentvolume "${pvc.spec.volumeName}" not found`;
          return out;
        }
        if (pv.spec?.nodeAffinity) out.nodeAffinities.push(pv.spec.nodeAffinity);
        continue;
      }
      const scName = pvc.spec?.storageClassName ?? this.classes.list().find((c) => c.metadata.annotations?.[DEFAULT_SC] === "true")?.metadata.name;
      const sc = scName ? this.classes.getBy("", scName) : undefined;
      if (sc?.volumeBindingMode === "WaitForFirstConsumer") {
        const sel = pvc.metadata.annotations?.[SELECTED_NODE];
        if (sel) out.nodeAffinities.push({ required: { nodeSelectorTerms: [{ matchFields: [{ key: "metadata.name", operator: "In", values: [sel] }] }] } });
        else out.delayed.push({ ns, name: claim });
        continue;
      }
      out.missing = "pod has unbound immediate PersistentVolumeClaims";
      return out;
    }
    return out;
  }

  private async bind(pod: any, pi: PodInfo, vol: VolumeInfo): Promise<void> {
    const key = pi.key;
    const ns = pod.metadata.namespace, name = pod.metadata.name;
    try {
      // WaitForFirstConsumer claims learn their node now; the binder provisions there.
      for (const c of vol.delayed)
        await this.api.update("PersistentVolumeClaim", c.ns, c.name, (cur) => {
          if (cur.spec?.volumeName || cur.metadata.annotations?.[SELECTED_NODE]) return cur;
          cur.metadata.annotations = { ...(cur.metadata.annotations ?? {}), [SELECTED_NODE]: pi.nodeName };
          return cur;
        });
      // The same code as POST pods/binding (admission included).
      const bound = await bindPod(this.api.registry, this.api.ctx(), ns, name, { metadata: { name, namespace: ns, uid: pod.metadata.uid }, target: { kind: "Node", name: pi.nodeName } });
      this.stats.scheduled++;
      scheduleAttempt("scheduled");
      this.queue.done(key);
      if (this.opts.scheduledEvents) this.rt.events.record(bound, "Normal", "Scheduled", `Successfully assigned ${ns}/${name} to ${pi.nodeName}`, "default-scheduler");
    } catch (e) {
      this.stats.bindErrors++;
      scheduleAttempt("error");
      if (this.assumed.delete(key)) this.cache.removePod(key);
      const cur = this.pods.get(key);
      if (cur && !cur.spec?.nodeName && !cur.metadata.deletionTimestamp && !this.stopped) {
        this.rt.events.record(cur, "Warning", "FailedScheduling", `Binding rejected: ${(e as Error).message}`, "default-scheduler");
        this.queue.retry(key, cur.spec?.priority ?? 0);
      } else this.queue.done(key);
    }
  }

  /** Evict the victims of the best preemption plan and nominate the node; false when there is none. */
  private preempt(pod: any, pi: PodInfo, vol: VolumeInfo, candidates: NodeInfo[], head: string): boolean {
    const plan = findPreemption(this.cache, pod, pi, vol, candidates, this.pdbs.list());
    if (!plan) return false;
    for (const v of plan.victims) {
      const vp = v.pod;
      void (async () => {
        await this.api.updateStatus("Pod", vp.metadata.namespace, vp.metadata.name, (cur) => {
          if (cur.metadata.uid !== vp.metadata.uid) return cur;
          cur.status = { ...(cur.status ?? {}) };
          cur.status.conditions = setCondition(cur.status.conditions, { type: "DisruptionTarget", status: "True", reason: "PreemptionByScheduler", message: `${this.opts.name}: preempting to accommodate a higher priority pod` });
          return cur;
        });
        await this.api.delete("Pod", vp.metadata.namespace, vp.metadata.name, { preconditions: { uid: vp.metadata.uid } });
        this.rt.events.record(vp, "Normal", "Preempted", `Preempted by pod ${pod.metadata.uid} on node ${plan.node}`, this.opts.name);
      })().catch((e) => console.error(`scheduler: preempting ${vp.metadata.namespace}/${vp.metadata.name}: ${(e as Error).message}`));
    }
    this.unschedulable(pod, `${head} preemption: ${plan.victims.length} pod(s) on node ${plan.node} will be preempted.`, plan.node);
    return true;
  }

  private unschedulable(pod: any, message: string, nominate?: string): void {
    const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
    this.stats.unschedulable++;
    scheduleAttempt("unschedulable");
    this.queue.unschedulableAgain(key, pod.spec?.priority ?? 0);
    this.rt.events.record(pod, "Warning", "FailedScheduling", message, "default-scheduler");
    const prev = (pod.status?.conditions ?? []).find((c: any) => c.type === "PodScheduled");
    if (prev?.status === "False" && prev.message === message && !nominate) return;
    void this.api
      .updateStatus("Pod", pod.metadata.namespace, pod.metadata.name, (cur) => {
        if (cur.spec?.nodeName) return cur;
        cur.status = { ...(cur.status ?? {}) };
        if (nominate) cur.status.nominatedNodeName = nominate;
        cur.status.conditions = setCondition(cur.status.conditions, { type: "PodScheduled", status: "False", reason: "Unschedulable", message });
        for (const c of cur.status.conditions) if (c.type === "PodScheduled") c.lastProbeTime ??= null;
        return cur;
      })
      .catch(() => {});
  }
}

function labelsEqual(a: any, b: any): boolean {
  const x = a.metadata?.labels ?? {}, y = b.metadata?.labels ?? {};
  const kx = Object.keys(x);
  if (kx.length !== Object.keys(y).length) return false;
  for (const k of kx) if (x[k] !== y[k]) return false;
  return true;
}
