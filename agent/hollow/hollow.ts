// Hollow nodes (like kubemark): register N fake Nodes over the public API, keep their Leases
// fresh, and play kubelet for pods bound to them without running anything: pods become
// Running and Ready; pods that do not restart "run" for the `sleep N` in their command (default
// 1 s) and then succeed, or fail when the command says `exit K` with K ≠ 0; pods marked for
// deletion are removed.
import { ApiError, KubeClient } from "../../lib/client";

export interface HollowOptions {
  count: number;
  prefix?: string;
  cpu?: string;
  memory?: string;
  pods?: number;
  /** Extra labels per node index. */
  labels?: (i: number) => Record<string, string>;
  taints?: (i: number) => any[];
  leaseIntervalMs?: number;
  /** Parallel API requests. */
  concurrency?: number;
  log?: (msg: string) => void;
}

const NODES = "/api/v1/nodes";
const LEASES = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases";
const MERGE = "application/merge-patch+json";

const microTime = (d = new Date()) => d.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
const seconds = (d = new Date()) => d.toISOString().replace(/\.\d{3}Z$/, "Z");

class Limiter {
  private active = 0;
  private waiting: (() => void)[] = [];
  constructor(private readonly n: number) {}
  async run<T>(f: () => Promise<T>): Promise<T> {
    if (this.active >= this.n) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    try {
      return await f();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

export class HollowNodes {
  readonly names: string[];
  private live = new Set<string>();
  private limiter: Limiter;
  private leaseTimer?: ReturnType<typeof setInterval>;
  private abort = new AbortController();
  private handled = new Map<string, string>(); // pod uid → last state acted on
  private ipSeq = 1;
  private stopped = false;
  private o: Required<Omit<HollowOptions, "labels" | "taints">> & Pick<HollowOptions, "labels" | "taints">;
  stats = { running: 0, completed: 0, deleted: 0, errors: 0 };

  constructor(
    private readonly client: KubeClient,
    opts: HollowOptions,
  ) {
    this.o = { prefix: "hollow-", cpu: "4", memory: "16Gi", pods: 110, leaseIntervalMs: 10_000, concurrency: 64, log: () => {}, ...opts };
    this.names = Array.from({ length: opts.count }, (_, i) => `${this.o.prefix}${i}`);
    this.limiter = new Limiter(this.o.concurrency);
  }

  private nodeObject(i: number): any {
    const name = this.names[i]!;
    const now = seconds();
    return {
      apiVersion: "v1",
      kind: "Node",
      metadata: {
        name,
        labels: { "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", "node.kubernetes.io/instance-type": "hollow", ...(this.o.labels?.(i) ?? {}) },
      },
      spec: this.o.taints?.(i)?.length ? { taints: this.o.taints(i) } : {},
      status: this.nodeStatus(i, now),
    };
  }

  private nodeStatus(i: number, now: string): any {
    const cap = { cpu: this.o.cpu, memory: this.o.memory, pods: String(this.o.pods), "ephemeral-storage": "100Gi" };
    const cond = (type: string, status: string, reason: string, message: string) => ({ type, status, reason, message, lastHeartbeatTime: now, lastTransitionTime: now });
    return {
      capacity: cap,
      allocatable: cap,
      conditions: [
        cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        cond("Ready", "True", "KubeletReady", "kubelet is posting ready status (hollow)"),
      ],
      addresses: [
        { type: "InternalIP", address: `10.255.${(i >> 8) & 255}.${i & 255}` },
        { type: "Hostname", address: this.names[i] },
      ],
      nodeInfo: {
        machineID: "", systemUUID: "", bootID: "", kernelVersion: "hollow", osImage: "Skiff hollow node", containerRuntimeVersion: "hollow://0",
        kubeletVersion: "v1.31.0-skiff", kubeProxyVersion: "", operatingSystem: "linux", architecture: "amd64",
      },
    };
  }

  /** Register every node and its lease, then start serving pods. */
  async start(): Promise<void> {
    // Registration is retried: a loaded server may reset a few of a thousand connections.
    const withRetry = async (i: number) => {
      for (let attempt = 0; ; attempt++) {
        try {
          return await this.register(i);
        } catch (e) {
          if (attempt >= 5) throw e;
          await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
        }
      }
    };
    await Promise.all(this.names.map((_, i) => this.limiter.run(() => withRetry(i))));
    this.leaseTimer = setInterval(() => this.renewAll(), this.o.leaseIntervalMs);
    void this.watchPods();
  }

  private async register(i: number): Promise<void> {
    const name = this.names[i]!;
    try {
      await this.client.create(NODES, this.nodeObject(i));
    } catch (e) {
      if (!(e instanceof ApiError && e.code === 409)) throw e;
      await this.client.patch(`${NODES}/${name}/status`, { status: this.nodeStatus(i, seconds()) }, MERGE);
    }
    await this.renew(name);
    this.live.add(name);
  }

  private async renew(name: string): Promise<void> {
    try {
      await this.client.patch(`${LEASES}/${name}`, { spec: { holderIdentity: name, renewTime: microTime(), leaseDurationSeconds: 40 } }, MERGE);
    } catch (e) {
      if (!(e instanceof ApiError && e.code === 404)) throw e;
      await this.client.create(LEASES, {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name, namespace: "kube-node-lease" },
        spec: { holderIdentity: name, leaseDurationSeconds: 40, renewTime: microTime() },
      });
    }
  }

  private renewAll(): void {
    for (const n of this.live) void this.limiter.run(() => this.renew(n)).catch(() => this.stats.errors++);
  }

  /** Simulate the node's kubelet dying: no more lease renewals, pods left alone. */
  kill(name: string): void {
    this.live.delete(name);
  }

  /** Bring a killed node back (Ready again, lease renewed). */
  async revive(name: string): Promise<void> {
    const i = this.names.indexOf(name);
    await this.client.patch(`${NODES}/${name}/status`, { status: this.nodeStatus(i, seconds()) }, MERGE);
    await this.renew(name);
    this.live.add(name);
  }

  private async watchPods(): Promise<void> {
    while (!this.stopped) {
      try {
        const list = await this.client.list("/api/v1/pods");
        for (const p of list.items ?? []) this.onPod(p);
        let rv = list.metadata?.resourceVersion;
        let expired = false;
        await this.client.watch("/api/v1/pods", { resourceVersion: rv, allowWatchBookmarks: true }, (ev) => {
          if (ev.type === "ERROR") {
            expired = true;
            return false;
          }
          rv = ev.object?.metadata?.resourceVersion ?? rv;
          if (ev.type === "BOOKMARK") return;
          if (ev.type === "DELETED") this.handled.delete(ev.object?.metadata?.uid);
          else this.onPod(ev.object);
        }, this.abort.signal);
        void expired;
      } catch (e) {
        if (this.stopped) return;
        this.o.log(`hollow: pod watch failed: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  private onPod(p: any): void {
    const node = p?.spec?.nodeName;
    if (!node || !this.live.has(node)) return;
    const uid = p.metadata.uid;
    const phase = p.status?.phase;
    if (p.metadata.deletionTimestamp) {
      if (this.handled.get(uid) === "deleting") return;
      this.handled.set(uid, "deleting");
      void this.limiter
        .run(() => this.client.delete(`/api/v1/namespaces/${p.metadata.namespace}/pods/${p.metadata.name}`, { kind: "DeleteOptions", apiVersion: "v1", gracePeriodSeconds: 0, preconditions: { uid } }))
        .then(() => this.stats.deleted++)
        .catch((e) => {
          if (!(e instanceof ApiError && (e.code === 404 || e.code === 409))) this.stats.errors++;
        });
      return;
    }
    if (phase === "Succeeded" || phase === "Failed") return;
    const ready = (p.status?.conditions ?? []).some((c: any) => c.type === "Ready" && c.status === "True");
    if (phase === "Running" && ready) {
      if (!this.handled.has(uid)) this.handled.set(uid, "running");
      return;
    }
    if (this.handled.get(uid) === "starting") return;
    this.handled.set(uid, "starting");
    void this.limiter.run(() => this.startPod(p)).catch(() => {
      this.stats.errors++;
      this.handled.delete(uid);
    });
  }

  private async startPod(p: any): Promise<void> {
    const now = seconds();
    const ip = `10.42.${(this.ipSeq >> 8) & 255}.${this.ipSeq++ & 255}`;
    const hostIP = `10.255.0.1`;
    const containers = p.spec?.containers ?? [];
    const conds = ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"].map((type) => ({ type, status: "True", lastProbeTime: null, lastTransitionTime: now }));
    const status = {
      phase: "Running",
      hostIP,
      hostIPs: [{ ip: hostIP }],
      podIP: ip,
      podIPs: [{ ip }],
      startTime: now,
      conditions: conds,
      containerStatuses: containers.map((c: any) => ({
        name: c.name, ready: true, started: true, restartCount: 0, image: c.image, imageID: "", containerID: `hollow://${p.metadata.uid}/${c.name}`, state: { running: { startedAt: now } },
      })),
    };
    const path = `/api/v1/namespaces/${p.metadata.namespace}/pods/${p.metadata.name}/status`;
    await this.client.patch(path, { status }, MERGE);
    this.stats.running++;
    if ((p.spec?.restartPolicy ?? "Always") !== "Always") {
      const cmd = containers.flatMap((c: any) => [...(c.command ?? []), ...(c.args ?? [])]).join(" ");
      const sleep = /sleep\s+(\d+(?:\.\d+)?)/.exec(cmd);
      const exit = /exit\s+(\d+)/.exec(cmd);
      const code = exit ? Number(exit[1]) : 0;
      const ms = sleep ? Number(sleep[1]) * 1000 : 1000;
      setTimeout(() => {
        if (this.stopped) return;
        const end = seconds();
        const done = {
          phase: code === 0 ? "Succeeded" : "Failed",
          conditions: conds.map((c) => (c.type === "Ready" || c.type === "ContainersReady" || c.type === "PodReadyToStartContainers" ? { ...c, status: "False", reason: "PodCompleted", lastTransitionTime: end } : c)),
          containerStatuses: containers.map((c: any) => ({
            name: c.name, ready: false, started: false, restartCount: 0, image: c.image, imageID: "", containerID: `hollow://${p.metadata.uid}/${c.name}`,
            state: { terminated: { exitCode: code, reason: code === 0 ? "Completed" : "Error", startedAt: now, finishedAt: end } },
          })),
        };
        void this.limiter
          .run(() => this.client.patch(path, { status: done }, MERGE))
          .then(() => this.stats.completed++)
          .catch(() => this.stats.errors++);
      }, ms).unref?.();
    }
  }

  async stop(opts: { deleteNodes?: boolean } = {}): Promise<void> {
    this.stopped = true;
    clearInterval(this.leaseTimer);
    this.abort.abort();
    if (opts.deleteNodes) await Promise.all(this.names.map((n) => this.limiter.run(() => this.client.delete(`${NODES}/${n}`).catch(() => {}))));
  }
}
