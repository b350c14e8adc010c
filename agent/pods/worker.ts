// One worker per pod: compares the pod's spec with what containerd runs and closes the gap, one
// sync at a time (kubelet's SyncPod / computePodActions, simplified):
//
//   volumes → sandbox (CNI IP) → init containers one by one → app containers (in parallel, or
//   in order when postStart hooks must hold later ones back) → restarts per restartPolicy with
//   back-off → probes → status, with kubelet's events for what goes wrong
//
// Sandboxes and containers carry the pod's uid as a CRI label, so after an agent restart the
// worker finds what it started before instead of starting duplicates. Deletion: preStop hooks,
// StopContainer with the grace period, sandbox removal, volume teardown, then the pod object is
// deleted with gracePeriodSeconds=0.

import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isConflict, isNotFound as apiNotFound, isUnreachable, NotYetReadError, podPath, type AgentApi } from "../api-client.ts";
import type { PodCache } from "../cache/pod-cache.ts";
import { isNotFound, type CriClient, type PodSandbox, type PodSandboxConfig } from "../cri/client.ts";
import { normalizeImageRef } from "../images/images.ts";
import { credentialsFor, type RegistryCredential } from "../images/pull-secrets.ts";
import { podLogDir } from "../logs/logs.ts";
import { runAction } from "../probes/handlers.ts";
import { ContainerProbes, type ProbeState } from "../probes/prober.ts";
import { objectRefs, podDir, PodVolumes, VolumeError, type MountedVolume, type NodeResources } from "../volumes/manager.ts";
import type { ObjectStore } from "../volumes/objects.ts";
import type { Backoff } from "./backoff.ts";
import { podEvents, type PodEvents } from "./events.ts";
import { A, ConfigError, containerConfig, containerHash, etcHostsContent, L, sandboxConfig, verifyRunAsNonRoot } from "./cri-config.ts";
import { containerEnv, EnvConfigError, expandCommand, usesSecretEnv } from "./env.ts";
import { computePodStatus, type ContainerRecord, type Waiting } from "./status.ts";
import type { StatusManager } from "./status-manager.ts";
import type { ConfigMapLike, Container, Pod, PodStatus } from "./types.ts";

export interface WorkerDeps {
  cri: CriClient;
  api: AgentApi;
  objects: ObjectStore;
  statuses: StatusManager;
  cache: PodCache;
  dataDir: string;
  hostIPs: () => string[];
  node: NodeResources;
  backoff: Backoff;
  cgroupRoot: string;
  clusterDns?: string[];
  clusterDomain?: string;
  tmpfs: boolean;
  log: (msg: string) => void;
  onFinished: (uid: string) => void;
  /** Retry interval for failed steps (volume setup, sandbox creation, API deletes). */
  retryMs: number;
  /** Event recorder (default: one shared per API connection). */
  events?: PodEvents;
  /** Service environment variables for a pod namespace; null until Services were read once. */
  serviceEnv?: (ns: string, enableServiceLinks: boolean) => Record<string, string> | null;
}

class ImageError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

const MAX_TERMINATION_MESSAGE = 4096;

function fmtDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  return s % 60 ? `${m}m${s % 60}s` : `${m}m0s`;
}

type Snapshot = {
  sandboxes: PodSandbox[];
  records: ContainerRecord[];
};

export class PodWorker {
  pod: Pod;
  private apiDeleted = false;
  private dirty = false;
  private running: Promise<void> | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private timerAt = 0;
  private stopped = false;
  private finished = false;
  private readonly waiting = new Map<string, Waiting>();
  private readonly probes = new Map<string, ContainerProbes>();
  private readonly exitedCache = new Map<string, ContainerRecord>();
  private readonly restartBase = new Map<string, number>();
  private readonly pullFailedAt = new Map<string, number>();
  private readonly pullErrors = new Map<string, string>();
  private readonly volumes: PodVolumes;
  private readonly events: PodEvents;
  private readonly dir: string;
  private startTime: string | undefined;
  private completed = false;
  private lastStatus: PodStatus | null = null;
  syncs = 0;

  constructor(
    pod: Pod,
    private readonly d: WorkerDeps,
    /** The agent stopped this pod before and only has to delete it on the server. */
    private terminatedLocally = false,
  ) {
    this.pod = pod;
    this.dir = podDir(d.dataDir, pod.metadata.uid);
    this.volumes = new PodVolumes(() => this.pod, this.dir);
    this.events = d.events ?? podEvents(d.api);
    this.startTime = pod.status?.startTime;
    if (pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed") this.completed = true;
    d.objects.track(pod.metadata.uid, objectRefs(pod));
  }

  get uid(): string {
    return this.pod.metadata.uid;
  }
  private get ns(): string {
    return this.pod.metadata.namespace ?? "default";
  }
  private get name(): string {
    return this.pod.metadata.name;
  }
  get done(): boolean {
    return this.finished;
  }

  /** A newer copy of the pod from the server (or the cache). */
  update(pod: Pod): void {
    if (pod.metadata.uid !== this.uid) return;
    this.pod = pod;
    if (!this.startTime && pod.status?.startTime) this.startTime = pod.status.startTime;
    if (pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed") this.completed = true;
    if (!this.terminatedLocally) this.d.cache.save(pod);
    this.d.statuses.observed(pod);
    this.d.objects.track(this.uid, objectRefs(pod));
    this.kick();
  }

  /** The pod no longer exists on the server. */
  apiGone(): void {
    this.apiDeleted = true;
    this.kick();
  }

  /** Schedules a sync now, or after delayMs (the earliest request wins). */
  kick(delayMs = 0): void {
    if (this.stopped) return;
    if (delayMs <= 0) {
      if (this.timer) {
        clearTimeout(this.timer);
        this.timer = null;
      }
      this.dirty = true;
      if (!this.running) this.running = this.loop();
      return;
    }
    const at = Date.now() + delayMs;
    if (this.timer && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.kick();
    }, delayMs);
  }

  /** Stops the worker without touching the pod (agent shutdown: containers keep running). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    for (const p of this.probes.values()) p.stop();
    this.probes.clear();
    await this.running;
  }

  private async loop(): Promise<void> {
    try {
      while (this.dirty && !this.stopped && !this.finished) {
        this.dirty = false;
        this.syncs++;
        try {
          await this.sync();
        } catch (e) {
          this.d.log(`pod ${this.ns}/${this.name}: sync failed: ${(e as Error).message}`);
          this.kick(this.d.retryMs);
        }
      }
    } finally {
      this.running = null;
    }
  }

  // ---- runtime state ---------------------------------------------------------------------

  private async inspect(): Promise<Snapshot> {
    const sel = { labelSelector: { [L.podUid]: this.uid } };
    const [sandboxes, containers] = await Promise.all([this.d.cri.listPodSandbox(sel), this.d.cri.listContainers(sel)]);
    sandboxes.sort((a, b) => b.createdAt - a.createdAt);
    const records: ContainerRecord[] = [];
    await Promise.all(
      containers.map(async (c) => {
        const cached = this.exitedCache.get(c.id);
        if (cached) {
          records.push(cached);
          return;
        }
        try {
          const r = await this.d.cri.containerStatus(c.id);
          const s = r.status;
          if (!s) return;
          const rec: ContainerRecord = {
            id: s.id,
            name: s.metadata?.name ?? c.labels[L.containerName] ?? "",
            attempt: Number(s.annotations?.[A.restartCount] ?? s.metadata?.attempt ?? 0),
            sandboxId: c.podSandboxId,
            state: s.state === "CONTAINER_RUNNING" ? "running" : s.state === "CONTAINER_EXITED" ? "exited" : s.state === "CONTAINER_CREATED" ? "created" : "unknown",
            createdAt: Math.floor(s.createdAt / 1e6),
            startedAt: Math.floor(s.startedAt / 1e6),
            finishedAt: Math.floor(s.finishedAt / 1e6),
            exitCode: s.exitCode,
            reason: s.reason,
            message: s.message,
            image: s.image?.image ?? "",
            imageRef: s.imageRef,
          };
          if (rec.state === "exited") {
            rec.message = rec.message || this.terminationMessage(s.annotations ?? {}, rec, s.logPath);
            this.exitedCache.set(rec.id, rec);
          }
          records.push(rec);
        } catch (e) {
          if (!isNotFound(e)) throw e;
        }
      }),
    );
    records.sort((a, b) => b.attempt - a.attempt || b.createdAt - a.createdAt);
    return { sandboxes, records };
  }

  private terminationMessage(ann: Record<string, string>, rec: ContainerRecord, logPath: string): string {
    const file = ann[A.terminationLogFile];
    let msg = "";
    if (file) {
      try {
        msg = readFileSync(file, "utf8").slice(0, MAX_TERMINATION_MESSAGE);
      } catch {
        /* none */
      }
    }
    if (!msg && ann[A.terminationMessagePolicy] === "FallbackToLogsOnError" && rec.exitCode !== 0 && logPath) {
      try {
        const lines = readFileSync(logPath, "utf8").trimEnd().split("\n").slice(-80);
        msg = lines.map((l) => l.replace(/^\S+ (stdout|stderr) [FP] /, "")).join("\n").slice(-2048);
      } catch {
        /* no log */
      }
    }
    return msg;
  }

  private byName(records: ContainerRecord[], sandboxId?: string): Map<string, ContainerRecord[]> {
    const m = new Map<string, ContainerRecord[]>();
    for (const r of records) {
      if (sandboxId !== undefined && r.sandboxId !== sandboxId) continue;
      (m.get(r.name) ?? m.set(r.name, []).get(r.name)!).push(r);
    }
    return m;
  }

  private podIps(sb: PodSandbox | undefined, ip: string): string[] {
    if (this.pod.spec.hostNetwork) return this.d.hostIPs();
    return sb && ip ? [ip] : [];
  }

  // ---- the sync --------------------------------------------------------------------------

  private async sync(): Promise<void> {
    if (this.terminatedLocally) return this.deleteFromApi();
    const snap = await this.inspect();
    if (this.apiDeleted || this.pod.metadata.deletionTimestamp) return this.terminate(snap);
    if (!this.startTime) this.startTime = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");

    const newest = snap.sandboxes[0];
    const policy = this.pod.spec.restartPolicy ?? "Always";
    if (this.completed) return this.finishCompleted(snap, newest);

    // activeDeadlineSeconds: the pod fails and its containers stop.
    const deadline = this.pod.spec.activeDeadlineSeconds;
    if (deadline && this.startTime && Date.now() > Date.parse(this.startTime) + deadline * 1000) {
      await this.killAll(snap, 0);
      this.completed = true;
      this.report(snap, newest, "", { reason: "DeadlineExceeded", message: `Pod was active on the node longer than the specified deadline` });
      return;
    }
    if (deadline && this.startTime) this.kick(Date.parse(this.startTime) + deadline * 1000 - Date.now() + 50);

    // Volumes first: containers may not start without them.
    let vols: Map<string, MountedVolume>;
    const sbIp = newest?.state === "SANDBOX_READY" ? await this.sandboxIp(newest) : "";
    try {
      vols = await this.volumes.setup({ api: this.d.api, objects: this.d.objects, node: this.d.node, ips: { podIPs: this.podIps(newest, sbIp), hostIPs: this.d.hostIPs() }, tmpfs: this.d.tmpfs });
    } catch (e) {
      const msg = e instanceof VolumeError ? e.message : `MountVolume.SetUp failed: ${(e as Error).message}`;
      this.event(undefined, "Warning", "FailedMount", msg);
      // said once per new reason: offline (after a reboot) the event waits for the server too
      if (this.pod.spec.containers[0] && this.waiting.get(this.pod.spec.containers[0].name)?.message !== msg) this.d.log(`pod ${this.ns}/${this.name}: ${msg}`);
      for (const c of [...(this.pod.spec.initContainers ?? []), ...this.pod.spec.containers]) this.waiting.set(c.name, { reason: "ContainerCreating", message: msg });
      this.report(snap, newest, sbIp);
      this.kick(this.d.retryMs);
      return;
    }
    // Projected service-account tokens are renewed before they expire.
    const renew = this.volumes.tokenRefreshAt;
    if (renew) this.kick(Math.max(1000, renew - Date.now()));

    // Sandbox: reuse the newest ready one; a dead one is replaced unless the pod is done.
    let sb = newest && newest.state === "SANDBOX_READY" ? newest : undefined;
    if (!sb && newest) {
      const recs = this.byName(snap.records, newest.id);
      const status = this.statusFor(snap, recs, newest, "");
      if (policy !== "Always" && (status.phase === "Succeeded" || status.phase === "Failed")) {
        this.completed = true;
        return this.finishCompleted(snap, newest);
      }
    }
    if (!sb) {
      for (const r of snap.records) this.restartBase.set(r.name, Math.max(this.restartBase.get(r.name) ?? 0, r.attempt + 1));
      const created = await this.createSandbox(snap);
      if (!created) {
        this.report(snap, newest, "");
        return;
      }
      return this.kick(); // re-inspect with the new sandbox
    }
    const podIp = this.pod.spec.hostNetwork ? (this.d.hostIPs()[0] ?? "") : sbIp;
    const sbConfig = this.sandboxConfigFor(sb);
    let etcHosts: string | undefined;
    if (!this.pod.spec.hostNetwork) {
      etcHosts = join(this.dir, "etc-hosts");
      const content = etcHostsContent(this.pod, podIp);
      if (!existsSync(etcHosts) || readFileSync(etcHosts, "utf8") !== content) writeFileSync(etcHosts, content, { mode: 0o644 });
    }

    // Containers of older sandboxes go away.
    for (const old of snap.sandboxes.filter((s) => s.id !== sb!.id)) await this.removeSandbox(old.id);
    const current = this.byName(snap.records, sb.id);

    const start = (c: Container, init: boolean) => this.startContainer(c, init, current.get(c.name) ?? [], sb!, sbConfig, vols, podIp, etcHosts);

    // Ephemeral containers start once, whatever the init containers are doing (as kubelet),
    // and are never restarted: one that ran stays as it ended (one that could not be created,
    // e.g. its image could not be pulled, is tried again).
    for (const ec of this.pod.spec.ephemeralContainers ?? []) {
      const recs = snap.records.filter((r) => r.name === ec.name);
      if (recs.some((r) => r.state === "running" || r.state === "exited")) continue;
      let targetId: string | undefined;
      if (ec.targetContainerName) {
        targetId = current.get(ec.targetContainerName)?.find((r) => r.state === "running")?.id;
        if (!targetId) {
          // kubelet refuses to start it without the target's namespace to join; try again later.
          this.waiting.set(ec.name, { reason: "ContainerCreating", message: `target container "${ec.targetContainerName}" is not running` });
          this.kick(this.d.retryMs);
          continue;
        }
      }
      await this.startContainer(ec, false, recs, sb, sbConfig, vols, podIp, etcHosts, { ephemeral: true, targetId });
    }

    // Init containers, one at a time, in order.
    let initDone = true;
    for (const ic of this.pod.spec.initContainers ?? []) {
      const recs = current.get(ic.name) ?? [];
      const latest = recs[0];
      if (ic.restartPolicy === "Always") {
        // sidecar: started and kept running, the next init container does not wait for its exit
        if (!latest || latest.state === "exited" || latest.state === "created") {
          await start(ic, true);
          initDone = false;
          break;
        }
        this.ensureProbes(ic, latest, podIp);
        continue;
      }
      if (!latest || latest.state === "created" || latest.state === "unknown") {
        await start(ic, true);
        initDone = false;
        break;
      }
      if (latest.state === "running") {
        initDone = false;
        break;
      }
      if (latest.exitCode === 0) continue;
      initDone = false;
      if (policy !== "Never") await start(ic, true);
      break;
    }

    if (initDone) {
      // kubelet starts app containers one by one in spec order, and a postStart hook holds back
      // the containers after it (sidecar proxies rely on that); without hooks the order cannot
      // be observed, so those start in parallel.
      const inOrder = this.pod.spec.containers.some((c) => c.lifecycle?.postStart);
      const each = async (list: Container[], fn: (c: Container) => Promise<void>) => {
        if (!inOrder) return void (await Promise.all(list.map(fn)));
        for (const c of list) await fn(c);
      };
      await each(
        this.pod.spec.containers,
        async (c) => {
          const recs = current.get(c.name) ?? [];
          const latest = recs[0];
          if (!latest || latest.state === "created" || latest.state === "unknown") return start(c, false);
          if (latest.state === "running") {
            const pr = this.probes.get(latest.id);
            if (pr?.state.failed) {
              this.d.log(`pod ${this.ns}/${this.name}: container ${c.name} ${pr.state.failMessage}, will be restarted`);
              this.event(c, "Normal", "Killing", `Container ${c.name} failed ${pr.state.failed} probe, will be restarted`);
              await this.killContainer(latest.id, c, this.graceFor(c, pr.state.failed as "liveness" | "startup"), podIp);
              return this.kick();
            }
            const hash = await this.hashOf(latest.id);
            if (hash && hash !== containerHash(c)) {
              this.d.log(`pod ${this.ns}/${this.name}: container ${c.name} definition changed, will be restarted`);
              this.event(c, "Normal", "Killing", `Container ${c.name} definition changed, will be restarted`);
              await this.killContainer(latest.id, c, this.pod.spec.terminationGracePeriodSeconds ?? 30, podIp);
              return this.kick();
            }
            this.ensureProbes(c, latest, podIp);
            return;
          }
          // exited
          const restart = policy === "Always" || (policy === "OnFailure" && latest.exitCode !== 0);
          if (restart) return start(c, false);
        },
      );
    }

    // Dead containers: keep the newest two per name (state and lastState), remove the rest.
    for (const recs of current.values()) {
      for (const r of recs.slice(2)) if (r.state === "exited") await this.d.cri.removeContainer(r.id).catch(() => {});
    }
    const fresh = await this.inspect();
    // After this pass's starts (their probes were just set up): probes of containers not running.
    for (const id of [...this.probes.keys()]) {
      if (!fresh.records.some((r) => r.id === id && r.state === "running")) {
        this.probes.get(id)!.stop();
        this.probes.delete(id);
      }
    }
    const status = this.report(fresh, sb, sbIp);
    if (policy !== "Always" && (status.phase === "Succeeded" || status.phase === "Failed")) {
      this.completed = true;
      await this.finishCompleted(fresh, sb);
    }
  }

  private graceFor(c: Container, probe: "liveness" | "startup"): number {
    const p = probe === "liveness" ? c.livenessProbe : c.startupProbe;
    return p?.terminationGracePeriodSeconds ?? this.pod.spec.terminationGracePeriodSeconds ?? 30;
  }

  private readonly hashes = new Map<string, string>();
  private async hashOf(id: string): Promise<string | undefined> {
    const h = this.hashes.get(id);
    if (h) return h;
    const s = await this.d.cri.containerStatus(id).catch(() => null);
    const v = s?.status?.annotations?.[A.hash];
    if (v) this.hashes.set(id, v);
    return v;
  }

  private async sandboxIp(sb: PodSandbox): Promise<string> {
    if (this.pod.spec.hostNetwork) return this.d.hostIPs()[0] ?? "";
    const st = await this.d.cri.podSandboxStatus(sb.id).catch(() => null);
    return st?.status?.network?.ip ?? "";
  }

  private sandboxConfigFor(sb: PodSandbox): PodSandboxConfig {
    return sandboxConfig(this.pod, {
      dataDir: this.d.dataDir,
      cgroupRoot: this.d.cgroupRoot,
      clusterDns: this.d.clusterDns,
      clusterDomain: this.d.clusterDomain,
      attempt: sb.metadata?.attempt ?? 0,
    });
  }

  private async createSandbox(snap: Snapshot): Promise<boolean> {
    const attempt = snap.sandboxes.reduce((m, s) => Math.max(m, (s.metadata?.attempt ?? 0) + 1), 0);
    const cfg = sandboxConfig(this.pod, {
      dataDir: this.d.dataDir,
      cgroupRoot: this.d.cgroupRoot,
      clusterDns: this.d.clusterDns,
      clusterDomain: this.d.clusterDomain,
      attempt,
    });
    mkdirSync(cfg.logDirectory!, { recursive: true, mode: 0o755 });
    const key = `${this.uid}/sandbox`;
    const left = this.d.backoff.remaining(key, this.pullFailedAt.get(key) ?? 0);
    if (left > 0) {
      this.kick(left);
      return false;
    }
    try {
      // Old sandboxes first: their IPs and ports go back to the pool.
      for (const s of snap.sandboxes) await this.removeSandbox(s.id);
      await this.d.cri.runPodSandbox(cfg, await this.runtimeHandler());
      this.d.backoff.reset(key);
      return true;
    } catch (e) {
      const msg = `Failed to create pod sandbox: ${(e as Error).message}`;
      this.event(undefined, "Warning", "FailedCreatePodSandBox", msg);
      this.d.log(`pod ${this.ns}/${this.name}: ${msg}`);
      for (const c of [...(this.pod.spec.initContainers ?? []), ...this.pod.spec.containers]) this.waiting.set(c.name, { reason: "ContainerCreating", message: msg });
      this.pullFailedAt.set(key, Date.now());
      const delay = this.d.backoff.next(key);
      this.kick(Math.min(delay, this.d.retryMs * 5));
      return false;
    }
  }

  /** The CRI runtime handler of the pod's RuntimeClass ("" = containerd's default runtime). */
  private async runtimeHandler(): Promise<string> {
    const name = this.pod.spec.runtimeClassName;
    if (!name) return "";
    let rc: any;
    try {
      rc = await this.d.api.get(`/apis/node.k8s.io/v1/runtimeclasses/${encodeURIComponent(name)}`);
    } catch (e) {
      throw new Error(apiNotFound(e) ? `RuntimeClass "${name}" not found` : `cannot read RuntimeClass "${name}": ${(e as Error).message}`);
    }
    return String(rc?.handler ?? "");
  }

  private async removeSandbox(id: string): Promise<void> {
    await this.d.cri.stopPodSandbox(id).catch((e) => {
      if (!isNotFound(e)) this.d.log(`pod ${this.ns}/${this.name}: stop sandbox: ${(e as Error).message}`);
    });
    await this.d.cri.removePodSandbox(id).catch((e) => {
      if (!isNotFound(e)) this.d.log(`pod ${this.ns}/${this.name}: remove sandbox: ${(e as Error).message}`);
    });
  }

  // ---- containers ------------------------------------------------------------------------

  private async ensureImage(c: Container): Promise<string> {
    let ref: string;
    try {
      ref = normalizeImageRef(c.image);
    } catch (e) {
      throw new ImageError("InvalidImageName", `Failed to apply default image tag "${c.image}": ${(e as Error).message}`);
    }
    const tag = ref.includes("@") ? "" : ref.slice(ref.lastIndexOf(":") + 1);
    const policy = c.imagePullPolicy ?? (tag === "latest" ? "Always" : "IfNotPresent");
    const present = await this.d.cri.imageStatus(ref);
    const already = () => {
      this.event(c, "Normal", "Pulled", `Container image "${c.image}" already present on machine`);
      return ref;
    };
    if (policy === "Never") {
      if (present) return already();
      throw new ImageError("ErrImageNeverPull", `Container image "${c.image}" is not present with pull policy of Never`);
    }
    if (policy === "IfNotPresent" && present) return already();
    const key = `${this.uid}/${c.name}/image`;
    const left = this.d.backoff.remaining(key, this.pullFailedAt.get(key) ?? 0);
    if (left > 0) {
      this.kick(left);
      // Right after a failure the error itself is reported (ErrImagePull), then the back-off.
      const err = this.pullErrors.get(key);
      if (err && Date.now() - (this.pullFailedAt.get(key) ?? 0) < Math.min(1000, this.d.backoff.delay(key) / 2)) {
        this.kick(Math.min(1000, this.d.backoff.delay(key) / 2));
        throw new ImageError("ErrImagePull", err);
      }
      throw new ImageError("ImagePullBackOff", `Back-off pulling image "${c.image}"`);
    }
    let creds: RegistryCredential[] = [];
    try {
      creds = credentialsFor(ref, await this.pullSecrets());
      const t0 = Date.now();
      this.event(c, "Normal", "Pulling", `Pulling image "${c.image}"`);
      await this.pull(ref, creds);
      this.event(c, "Normal", "Pulled", `Successfully pulled image "${c.image}" in ${((Date.now() - t0) / 1000).toFixed(3)}s`);
      this.d.backoff.reset(key);
      this.pullFailedAt.delete(key);
      return ref;
    } catch (e) {
      const detail = (e as Error).message.replace(/^CRI PullImage: \w+: /, "");
      // The registry answered and refused: not a connectivity problem, and with "Always" the
      // pull is the credential check, so the copy on the node is not a way around it.
      const refused = /\b(401|403)\b|unauthori[sz]ed|forbidden/i.test(detail);
      if (present && !refused) {
        // Air-gapped nodes: "Always" cannot reach a registry; the imported image is what there is.
        this.d.log(`pod ${this.ns}/${this.name}: pull of ${ref} failed (${(e as Error).message}); using the image present on the node`);
        return already();
      }
      this.pullFailedAt.set(key, Date.now());
      this.d.backoff.next(key);
      this.kick(Math.min(1000, this.d.backoff.delay(key)));
      const hint = refused
        ? creds.length
          ? `the registry refused the credentials of imagePullSecrets ${creds.map((k) => `${k.secret} (${k.key})`).join(", ")}`
          : `the registry wants credentials and no imagePullSecret of the pod has any for it: add a kubernetes.io/dockerconfigjson Secret to spec.imagePullSecrets`
        : `if this node cannot reach the registry, import the image with "skiff images import FILE" or put the archive in <data-dir>/agent/images/`;
      const msg = `Failed to pull image "${c.image}": ${detail}. ${hint[0]!.toUpperCase()}${hint.slice(1)}`;
      this.pullErrors.set(key, msg);
      throw new ImageError("ErrImagePull", msg);
    }
  }

  /** The pod's imagePullSecrets that can be read; a missing one is a warning, as in kubelet. */
  private async pullSecrets(): Promise<ConfigMapLike[]> {
    const out: ConfigMapLike[] = [];
    const missing: string[] = [];
    for (const ref of this.pod.spec.imagePullSecrets ?? []) {
      if (!ref?.name) continue;
      const s = await this.d.objects.get("secrets", this.ns, ref.name).catch(() => null);
      if (s) out.push(s);
      else missing.push(ref.name);
    }
    if (missing.length) {
      this.event(undefined, "Warning", "FailedToRetrieveImagePullSecret", `Unable to retrieve some image pull secrets (${missing.join(", ")}); attempting to pull the image may not succeed.`);
    }
    return out;
  }

  /** Pulls anonymously without credentials, else with each matching one until a pull succeeds. */
  private async pull(ref: string, creds: RegistryCredential[]): Promise<void> {
    const opts = { timeoutMs: 5 * 60_000 };
    if (!creds.length) {
      await this.d.cri.pullImage(ref, undefined, undefined, opts);
      return;
    }
    let last: unknown;
    for (const c of creds) {
      try {
        await this.d.cri.pullImage(ref, c.auth, undefined, opts);
        return;
      } catch (e) {
        last = e;
      }
    }
    throw last;
  }

  private async startContainer(
    c: Container,
    init: boolean,
    recs: ContainerRecord[],
    sb: PodSandbox,
    sbConfig: PodSandboxConfig,
    vols: Map<string, MountedVolume>,
    podIp: string,
    etcHosts: string | undefined,
    eph?: { ephemeral: true; targetId?: string },
  ): Promise<void> {
    const key = `${this.uid}/${c.name}`;
    const latest = recs[0];
    // A container that was created but never started (agent crash) is replaced.
    if (latest && (latest.state === "created" || latest.state === "unknown")) {
      await this.d.cri.removeContainer(latest.id).catch(() => {});
    }
    const lastExit = recs.find((r) => r.state === "exited");
    if (lastExit) {
      const left = this.d.backoff.remaining(key, lastExit.finishedAt || Date.now());
      if (left > 0) {
        this.event(c, "Warning", "BackOff", `Back-off restarting failed container ${c.name} in pod ${this.podRef}`);
        this.waiting.set(c.name, {
          reason: "CrashLoopBackOff",
          message: `back-off ${fmtDuration(this.d.backoff.delay(key))} restarting failed container=${c.name} pod=${this.name}_${this.ns}(${this.uid})`,
        });
        this.kick(left);
        return;
      }
    }
    let image: string;
    try {
      image = await this.ensureImage(c);
    } catch (e) {
      if (!(e instanceof ImageError)) throw e;
      this.waiting.set(c.name, { reason: e.reason, message: e.message });
      // kubelet's image manager events
      if (e.reason === "ImagePullBackOff") this.event(c, "Normal", "BackOff", e.message);
      else this.event(c, "Warning", e.reason === "ErrImagePull" ? "Failed" : e.reason === "InvalidImageName" ? "InspectFailed" : e.reason, e.message);
      return;
    }
    const ips = { podIPs: this.podIps(sb, podIp), hostIPs: this.d.hostIPs() };
    let env: { key: string; value: string }[];
    try {
      const services = this.d.serviceEnv?.(this.ns, this.pod.spec.enableServiceLinks !== false);
      // kubelet's rule: no container before the Services were read (an offline agent goes on
      // with the environment it saved for the container).
      if (services === null) throw new NotYetReadError("services have not yet been read at least once, cannot construct envvars");
      env = await containerEnv(this.pod, c, { objects: this.d.objects, ips, node: this.d.node, services });
      this.d.cache.saveEnv(this.uid, c, env);
    } catch (e) {
      const cached = isUnreachable(e) ? this.d.cache.loadEnv(this.uid, c) : null;
      if (!cached) {
        if (isUnreachable(e) && usesSecretEnv(c)) {
          // Secret-derived env is kept on tmpfs only (pod-cache.ts): after a reboot it is gone
          // and this container waits for the server; the pod's other containers start offline.
          const message = `the environment of container ${c.name} uses Secrets, which the node keeps in memory only (gone after a reboot): waiting for the API server to read them`;
          if (this.waiting.get(c.name)?.message !== message) this.d.log(`pod ${this.ns}/${this.name}: ${message}`);
          this.waiting.set(c.name, { reason: "CreateContainerConfigError", message });
          this.event(c, "Warning", "Failed", `Error: ${message}`);
          this.kick(this.d.retryMs);
          return;
        }
        if (e instanceof EnvConfigError || !isUnreachable(e)) {
          this.waiting.set(c.name, { reason: "CreateContainerConfigError", message: (e as Error).message });
          this.event(c, "Warning", "Failed", `Error: ${(e as Error).message}`);
          this.kick(this.d.retryMs);
          return;
        }
        throw e;
      }
      env = cached;
    }
    const restartCount = latest ? Math.max(latest.attempt + 1, recs.reduce((m, r) => Math.max(m, r.attempt + 1), 0)) : (this.restartBase.get(c.name) ?? 0);
    if (lastExit) this.d.backoff.next(key);
    let termLog: string | undefined;
    if (c.terminationMessagePath) {
      const dir = join(this.dir, "containers", c.name);
      mkdirSync(dir, { recursive: true });
      termLog = join(dir, String(restartCount));
      closeSync(openSync(termLog, "w", 0o666));
      chmodSync(termLog, 0o666);
    }
    let cfg;
    try {
      // the image's user matters only under runAsNonRoot: skip the extra CRI call otherwise
      if (c.securityContext?.runAsNonRoot ?? this.pod.spec.securityContext?.runAsNonRoot) verifyRunAsNonRoot(this.pod, c, await this.d.cri.imageStatus(image));
      cfg = containerConfig({
        pod: this.pod,
        container: c,
        init,
        restartCount,
        env,
        command: expandCommand(c.command, env),
        args: expandCommand(c.args, env),
        image,
        volumes: vols,
        etcHosts,
        terminationLog: termLog,
        podDir: this.dir,
        memoryCapacity: this.d.node.memory,
        targetId: eph?.targetId,
      });
    } catch (e) {
      this.waiting.set(c.name, { reason: "CreateContainerConfigError", message: (e as Error).message });
      this.event(c, "Warning", "Failed", `Error: ${(e as Error).message}`);
      this.kick(this.d.retryMs);
      return;
    }
    mkdirSync(join(podLogDir(this.d.dataDir, this.ns, this.name, this.uid), c.name), { recursive: true });
    let id: string;
    try {
      id = await this.d.cri.createContainer(sb.id, cfg, sbConfig);
    } catch (e) {
      this.waiting.set(c.name, { reason: "CreateContainerError", message: (e as Error).message.replace(/^CRI CreateContainer: \w+: /, "") });
      this.event(c, "Warning", "Failed", `Error: ${this.waiting.get(c.name)!.message}`);
      this.d.backoff.next(key);
      this.kick(this.d.retryMs);
      return;
    }
    this.event(c, "Normal", "Created", `Created container ${c.name}`);
    try {
      await this.d.cri.startContainer(id);
    } catch (e) {
      this.waiting.set(c.name, { reason: "RunContainerError", message: (e as Error).message.replace(/^CRI StartContainer: \w+: /, "") });
      this.event(c, "Warning", "Failed", `Error: ${this.waiting.get(c.name)!.message}`);
      this.kick(this.d.retryMs);
      return;
    }
    this.waiting.delete(c.name);
    this.event(c, "Normal", "Started", `Started container ${c.name}`);
    const hook = c.lifecycle?.postStart;
    if (hook) {
      const r = await runAction(hook, { cri: this.d.cri, containerId: id, container: c, podIp }, this.pod.spec.terminationGracePeriodSeconds ?? 30, { hook: true });
      if (!r.ok) {
        // kubelet: the container is killed (preStop, grace period) and shows PostStartHookError
        // until the next start attempt; restartPolicy and back-off then apply as for any exit.
        const message = this.hookMessage(hook, c, r.output);
        this.d.log(`pod ${this.ns}/${this.name}: container ${c.name}: FailedPostStartHook: ${message}`);
        this.event(c, "Warning", "FailedPostStartHook", message);
        await this.killContainer(id, c, this.pod.spec.terminationGracePeriodSeconds ?? 30, podIp);
        this.waiting.set(c.name, { reason: "PostStartHookError", message });
        return;
      }
    }
    // Probes (and "ready" for a container without a readiness probe) from the start, as kubelet:
    // the first status after the start then says Running and ready in one write, not two.
    // Ephemeral containers have neither probes nor readiness.
    if (!eph) this.ensureProbes(c, { id, startedAt: Date.now() } as ContainerRecord, podIp);
  }

  /** kubelet's format.Pod: name_namespace(uid). */
  private get podRef(): string {
    return `${this.name}_${this.ns}(${this.uid})`;
  }

  private event(c: Container | undefined, type: "Normal" | "Warning", reason: string, message: string): void {
    if (this.apiDeleted) return;
    const init = !!c && !!this.pod.spec.initContainers?.some((x) => x.name === c.name);
    const ephemeral = !!c && !!this.pod.spec.ephemeralContainers?.some((x) => x.name === c.name);
    this.events.record(this.pod, type, reason, message, c ? { name: c.name, init, ephemeral } : undefined);
  }

  /** kubelet's wording for a failed lifecycle hook. */
  private hookMessage(hook: NonNullable<NonNullable<Container["lifecycle"]>["postStart"]>, c: Container, output: string): string {
    const what = hook.exec ? `Exec lifecycle hook ([${(hook.exec.command ?? []).join(" ")}])` : hook.httpGet ? `HTTP lifecycle hook (${hook.httpGet.path ?? ""})` : "Lifecycle hook";
    return `${what} for Container "${c.name}" in Pod "${this.podRef}" failed - error: ${output}`;
  }

  private ensureProbes(c: Container, rec: ContainerRecord, podIp: string): void {
    if (this.probes.has(rec.id)) return;
    if (!c.livenessProbe && !c.readinessProbe && !c.startupProbe) {
      // still record "started/ready" for status
      this.probes.set(rec.id, new ContainerProbes(rec.id, c, { cri: this.d.cri, containerId: rec.id, container: c, podIp }, rec.startedAt || Date.now(), () => {}));
      return;
    }
    const unhealthy = (type: string, output: string) => this.event(c, "Warning", "Unhealthy", `${type[0]!.toUpperCase()}${type.slice(1)} probe failed: ${output}`);
    this.probes.set(
      rec.id,
      new ContainerProbes(rec.id, c, { cri: this.d.cri, containerId: rec.id, container: c, podIp }, rec.startedAt || Date.now(), () => this.kick(), unhealthy),
    );
  }

  /** preStop hook, then StopContainer with what is left of the grace period. */
  private async killContainer(id: string, c: Container | undefined, graceSeconds: number, podIp: string): Promise<void> {
    const t0 = Date.now();
    this.probes.get(id)?.stop();
    if (c?.lifecycle?.preStop && graceSeconds > 0) {
      const preStop = c.lifecycle.preStop;
      const hook = runAction(preStop, { cri: this.d.cri, containerId: id, container: c, podIp }, graceSeconds, { hook: true }).then((r) => {
        if (!r.ok) this.event(c, "Warning", "FailedPreStopHook", this.hookMessage(preStop, c, r.output));
      });
      await Promise.race([hook, Bun.sleep(graceSeconds * 1000)]);
    }
    const left = graceSeconds > 0 ? Math.max(2, Math.ceil(graceSeconds - (Date.now() - t0) / 1000)) : 0;
    try {
      await this.d.cri.stopContainer(id, left);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  private async killAll(snap: Snapshot, graceSeconds: number): Promise<void> {
    const specs = new Map([...(this.pod.spec.initContainers ?? []), ...this.pod.spec.containers, ...(this.pod.spec.ephemeralContainers ?? [])].map((c) => [c.name, c]));
    const ipSb = snap.sandboxes.find((s) => s.state === "SANDBOX_READY");
    const podIp = ipSb ? await this.sandboxIp(ipSb) : "";
    const live = snap.records.filter((r) => r.state === "running" || r.state === "created");
    await Promise.all(
      live.map((r) => {
        const c = specs.get(r.name);
        if (c && this.pod.metadata.deletionTimestamp) this.event(c, "Normal", "Killing", `Stopping container ${c.name}`);
        return this.killContainer(r.id, c, graceSeconds, podIp);
      }),
    );
    for (const p of this.probes.values()) p.stop();
    this.probes.clear();
    for (const s of snap.sandboxes) if (s.state === "SANDBOX_READY") await this.d.cri.stopPodSandbox(s.id).catch(() => {});
  }

  /** The pod ran to completion: its sandbox is stopped (IP released), the containers stay for logs. */
  private async finishCompleted(snap: Snapshot, newest: PodSandbox | undefined): Promise<void> {
    if (snap.records.some((r) => r.state === "running") || snap.sandboxes.some((s) => s.state === "SANDBOX_READY")) {
      const ip = newest && newest.state === "SANDBOX_READY" ? await this.sandboxIp(newest) : "";
      await this.killAll(snap, this.pod.spec.terminationGracePeriodSeconds ?? 30);
      snap = await this.inspect();
      this.report(snap, newest, ip);
      return;
    }
    this.report(snap, newest, "");
  }

  // ---- status ----------------------------------------------------------------------------

  private statusFor(snap: Snapshot, recs: Map<string, ContainerRecord[]>, sb: PodSandbox | undefined, ip: string, failure?: { reason: string; message: string }): PodStatus {
    const probes = new Map<string, ProbeState>();
    for (const [id, p] of this.probes) probes.set(id, p.state);
    return computePodStatus({
      pod: this.pod,
      hostIPs: this.d.hostIPs(),
      podIPs: sb && sb.state === "SANDBOX_READY" ? this.podIps(sb, ip) : [],
      records: recs,
      waiting: this.waiting,
      probes,
      startTime: this.startTime,
      terminating: !!this.pod.metadata.deletionTimestamp,
      failure,
    });
  }

  private report(snap: Snapshot, sb: PodSandbox | undefined, ip: string, failure?: { reason: string; message: string }): PodStatus {
    const recs = this.byName(snap.records, sb?.id ?? snap.sandboxes[0]?.id);
    // Clear waiting reasons that no longer apply (a container that runs has none).
    for (const [name, list] of recs) if (list[0]?.state === "running") this.waiting.delete(name);
    let status = this.statusFor(snap, recs, sb, ip, failure);
    if (failure) this.lastFailure = failure;
    else if (this.lastFailure) status = this.statusFor(snap, recs, sb, ip, this.lastFailure);
    this.lastStatus = status;
    if (!this.apiDeleted) this.d.statuses.set(this.pod, status);
    return status;
  }
  private lastFailure: { reason: string; message: string } | undefined;

  /** The status the worker computed last (for tests and the agent's own use). */
  get status(): PodStatus | null {
    return this.lastStatus;
  }

  // ---- termination -----------------------------------------------------------------------

  private async terminate(snap: Snapshot): Promise<void> {
    const grace = this.pod.metadata.deletionGracePeriodSeconds ?? this.pod.spec.terminationGracePeriodSeconds ?? 30;
    await this.killAll(snap, this.apiDeleted && !this.pod.metadata.deletionTimestamp ? Math.min(grace, this.pod.spec.terminationGracePeriodSeconds ?? 30) : grace);
    const after = await this.inspect();
    if (!this.apiDeleted) this.report(after, undefined, "");
    for (const s of after.sandboxes) await this.removeSandbox(s.id);
    for (const r of after.records) await this.d.cri.removeContainer(r.id).catch(() => {});
    try {
      this.volumes.teardown();
    } catch (e) {
      this.d.log(`pod ${this.ns}/${this.name}: volume teardown: ${(e as Error).message}`);
    }
    removeCgroups(this.d.cgroupRoot, this.uid);
    this.terminatedLocally = true;
    if (this.apiDeleted) return this.finish();
    this.d.cache.save(this.pod, true);
    await this.d.statuses.flush(2000);
    return this.deleteFromApi();
  }

  private async deleteFromApi(): Promise<void> {
    if (this.apiDeleted) return this.finish();
    try {
      await this.d.api.delete(podPath(this.ns, this.name), {
        kind: "DeleteOptions",
        apiVersion: "v1",
        gracePeriodSeconds: 0,
        preconditions: { uid: this.uid },
      });
    } catch (e) {
      // 404: already gone; 409: the name now belongs to another pod. Both end this worker.
      if (!apiNotFound(e) && !isConflict(e)) {
        if (!isUnreachable(e)) this.d.log(`pod ${this.ns}/${this.name}: delete: ${(e as Error).message}`);
        this.kick(isUnreachable(e) ? this.d.retryMs : this.d.retryMs * 5);
        return;
      }
    }
    return this.finish();
  }

  private finish(): void {
    this.finished = true;
    this.d.cache.remove(this.uid);
    try {
      this.volumes.teardown();
    } catch {
      /* reported before */
    }
    this.d.objects.untrack(this.uid);
    this.d.statuses.forget(this.uid);
    this.events.forget(this.uid);
    this.d.onFinished(this.uid);
  }
}

/** Removes the pod's (now empty) cgroup directories in every hierarchy. */
export function removeCgroups(root: string, uid: string): void {
  const base = "/sys/fs/cgroup";
  let hierarchies: string[];
  try {
    hierarchies = existsSync(join(base, "cgroup.controllers")) ? [""] : readdirSync(base);
  } catch {
    return;
  }
  const rel = root.replace(/^\/+|\/+$/g, "");
  for (const h of hierarchies) {
    for (const sub of ["", "burstable", "besteffort"]) {
      const d = join(base, h, rel, sub, `pod${uid}`);
      try {
        if (existsSync(d)) rmdirSync(d);
      } catch {
        /* not empty yet or gone */
      }
    }
  }
}
