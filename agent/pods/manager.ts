// The node's pods: the pod source (list + watch of pods with spec.nodeName=<node>, falling back to
// the node-local cache while the server is unreachable), one PodWorker per pod, a relist of CRI
// state (kubelet's PLEG) that wakes the workers whose containers changed, orphan cleanup, and
// container log rotation.

import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { isUnreachable } from "../api-client.ts";
import type { PodCache } from "../cache/pod-cache.ts";
import { rotateIfNeeded, type RotationOptions } from "../logs/logs.ts";
import { PodVolumes } from "../volumes/manager.ts";
import { L } from "./cri-config.ts";
import type { Pod } from "./types.ts";
import { PodWorker, removeCgroups, type WorkerDeps } from "./worker.ts";

export interface PodManagerOptions {
  nodeName: string;
  /** CRI relist interval (kubelet: 1 s). */
  relistMs?: number;
  /** Log rotation check interval (kubelet: 10 s). */
  logRotateMs?: number;
  logRotation?: RotationOptions;
  /** Called when the server becomes reachable / unreachable. */
  onConnectivity?: (online: boolean) => void;
  /** Called when a pod's worker is done (the pod is gone from the node). */
  onPodGone?: () => void;
}

export class PodManager {
  readonly workers = new Map<string, PodWorker>();
  private readonly abort = new AbortController();
  private plegTimer: ReturnType<typeof setTimeout> | null = null;
  private rotateTimer: ReturnType<typeof setInterval> | null = null;
  private lastStates = new Map<string, string>();
  private sourceDone: Promise<void> | null = null;
  private stopped = false;
  online = false;
  /** Resolves after the first successful list from the server. */
  synced: Promise<void>;
  private markSynced!: () => void;
  listCount = 0;

  constructor(
    private readonly d: Omit<WorkerDeps, "onFinished">,
    private readonly cache: PodCache,
    private readonly o: PodManagerOptions,
  ) {
    this.synced = new Promise((r) => (this.markSynced = r));
  }

  private deps(): WorkerDeps {
    return {
      ...this.d,
      onFinished: (uid) => {
        this.workers.delete(uid);
        this.o.onPodGone?.();
      },
    };
  }

  start(): void {
    // Pods from the cache run at once: the server may be down.
    for (const c of this.cache.loadAll()) {
      if (this.workers.has(c.pod.metadata.uid)) continue;
      const w = new PodWorker(c.pod, this.deps(), !!c.terminated);
      this.workers.set(w.uid, w);
      w.kick();
    }
    this.sourceDone = this.sourceLoop();
    this.schedulePleg();
    this.rotateTimer = setInterval(() => void this.rotateLogs(), this.o.logRotateMs ?? 10_000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    if (this.plegTimer) clearTimeout(this.plegTimer);
    if (this.rotateTimer) clearInterval(this.rotateTimer);
    await this.sourceDone?.catch(() => {});
    await Promise.all([...this.workers.values()].map((w) => w.stop()));
  }

  private upsert(pod: Pod): void {
    if (pod.spec?.nodeName !== this.o.nodeName) return;
    const w = this.workers.get(pod.metadata.uid);
    if (w) {
      w.update(pod);
      return;
    }
    // Terminal pods that this agent never ran (or already cleaned up) need no worker.
    const terminal = pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed";
    if (terminal && !pod.metadata.deletionTimestamp && !existsSync(this.cache.dir(pod.metadata.uid))) return;
    const nw = new PodWorker(pod, this.deps());
    this.workers.set(nw.uid, nw);
    this.cache.save(pod);
    nw.update(pod);
  }

  private setOnline(v: boolean): void {
    if (this.online === v) return;
    this.online = v;
    this.o.onConnectivity?.(v);
  }

  private async sourceLoop(): Promise<void> {
    const path = "/api/v1/pods";
    const fieldSelector = `spec.nodeName=${this.o.nodeName}`;
    let delay = 500;
    while (!this.stopped) {
      try {
        const list = await this.d.api.get(path, { fieldSelector });
        this.listCount++;
        this.setOnline(true);
        delay = 500;
        const seen = new Set<string>();
        for (const p of (list.items ?? []) as Pod[]) {
          seen.add(p.metadata.uid);
          this.upsert(p);
        }
        for (const [uid, w] of this.workers) if (!seen.has(uid)) w.apiGone();
        await this.cleanupOrphans(seen).catch((e) => this.d.log(`orphan cleanup: ${(e as Error).message}`));
        this.markSynced();
        await this.d.api.client.watch<Pod>(
          path,
          { fieldSelector, resourceVersion: list.metadata?.resourceVersion, allowWatchBookmarks: true, timeoutSeconds: 300 + Math.floor(Math.random() * 300) },
          (ev) => {
            if (ev.type === "ERROR") return false;
            if (ev.type === "BOOKMARK") return;
            if (ev.type === "DELETED") this.workers.get(ev.object.metadata.uid)?.apiGone();
            else this.upsert(ev.object);
          },
          this.abort.signal,
        );
      } catch (e) {
        if (this.stopped) return;
        // A watch stream cut mid-way (ECONNRESET) is the server going away too.
        if (isUnreachable(e) || /ECONNRESET|socket|closed/i.test(String((e as Error)?.message))) this.setOnline(false);
        else this.d.log(`pod watch: ${(e as Error).message}`);
        await Bun.sleep(delay);
        delay = Math.min(delay * 2, 5000);
      }
    }
  }

  /** Sandboxes, containers and pod directories of pods this node no longer has. */
  private async cleanupOrphans(known: Set<string>): Promise<void> {
    const isKnown = (uid: string | undefined) => !uid || known.has(uid) || this.workers.has(uid);
    const sandboxes = await this.d.cri.listPodSandbox({ labelSelector: { [L.managed]: "true" } });
    const orphans = sandboxes.filter((s) => !isKnown(s.labels[L.podUid]));
    for (const s of orphans) {
      this.d.log(`removing orphaned sandbox ${s.id.slice(0, 12)} of pod ${s.labels[L.podNamespace]}/${s.labels[L.podName]}`);
      await this.d.cri.stopPodSandbox(s.id).catch(() => {});
      await this.d.cri.removePodSandbox(s.id).catch(() => {});
      removeCgroups(this.d.cgroupRoot, s.labels[L.podUid]!);
    }
    const root = this.cache.root;
    if (!existsSync(root)) return;
    for (const uid of readdirSync(root)) {
      if (isKnown(uid)) continue;
      if (existsSync(join(root, uid, "pod.json"))) continue; // a cached pod the server does not know: its worker decides
      try {
        new PodVolumes(() => ({ metadata: { uid, name: uid }, spec: { containers: [] } }), join(root, uid)).teardown();
      } catch (e) {
        this.d.log(`pod dir ${uid}: ${(e as Error).message}`);
      }
    }
  }

  private schedulePleg(): void {
    if (this.stopped) return;
    this.plegTimer = setTimeout(() => {
      this.relist()
        .catch(() => {})
        .finally(() => this.schedulePleg());
    }, this.o.relistMs ?? 1000);
  }

  /** kubelet's PLEG: one list of sandboxes and containers; a change wakes the pod's worker. */
  private async relist(): Promise<void> {
    const sel = { labelSelector: { [L.managed]: "true" } };
    const [sandboxes, containers] = await Promise.all([this.d.cri.listPodSandbox(sel), this.d.cri.listContainers(sel)]);
    const now = new Map<string, string>();
    for (const s of sandboxes) now.set(s.id, `${s.labels[L.podUid]}|${s.state}`);
    for (const c of containers) now.set(c.id, `${c.labels[L.podUid]}|${c.state}`);
    const changed = new Set<string>();
    for (const [id, v] of now) if (this.lastStates.get(id) !== v) changed.add(v.split("|")[0]!);
    for (const [id, v] of this.lastStates) if (!now.has(id)) changed.add(v.split("|")[0]!);
    this.lastStates = now;
    for (const uid of changed) this.workers.get(uid)?.kick();
  }

  private rotating = false;
  private async rotateLogs(): Promise<void> {
    if (this.rotating) return;
    this.rotating = true;
    try {
      const running = await this.d.cri.listContainers({ labelSelector: { [L.managed]: "true" }, state: { state: "CONTAINER_RUNNING" } });
      for (const c of running) {
        const st = await this.d.cri.containerStatus(c.id).catch(() => null);
        const path = st?.status?.logPath;
        if (path) await rotateIfNeeded(this.d.cri, c.id, path, this.o.logRotation).catch(() => {});
      }
    } catch {
      /* runtime busy or restarting: next round */
    } finally {
      this.rotating = false;
    }
  }
}
