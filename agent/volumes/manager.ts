// Pod volumes on the node, under the pod directory like kubelet's:
//
//   <data-dir>/agent/pods/<uid>/volumes/<plugin>/<volume>
//
// plugin names follow kubelet (kubernetes.io~empty-dir, ~configmap, ~secret, ~downward-api,
// ~projected). setup() is idempotent and cheap when nothing changed, so the pod worker calls it
// on every sync; that is also how configMap/secret/downwardAPI volumes are updated in place.

import { existsSync, mkdirSync, readFileSync, readlinkSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isUnreachable, type AgentApi } from "../api-client.ts";
import { fieldRefValue, type RuntimeIps } from "../pods/fieldref.ts";
import { bytesOf, resourceFieldValue } from "../pods/resources.ts";
import type { ConfigMapLike, DownwardAPIVolumeFile, KeyToPath, Pod, Volume } from "../pods/types.ts";
import { cleanPath, writeAtomic, type FileProjection } from "./atomic-writer.ts";
import { checkHostPath } from "./hostpath.ts";
import { mountTmpfs, unmountAll } from "./mount.ts";
import type { ObjectKind, ObjectStore } from "./objects.ts";

export interface NodeResources {
  cpuMilli: number;
  memory: number;
  ephemeralStorage: number;
}

export interface VolumeContext {
  api: AgentApi;
  objects: ObjectStore;
  node: NodeResources;
  ips: RuntimeIps;
  /** Use tmpfs for memory media (off only where mount is impossible). */
  tmpfs: boolean;
}

export interface MountedVolume {
  /** Host path to bind into containers. */
  path: string;
  /** Forced read-only (configMap, secret, downwardAPI, projected are read-only in containers). */
  readOnly: boolean;
}

export class VolumeError extends Error {
  override name = "VolumeError";
}

const PLUGIN: Record<string, string> = {
  emptyDir: "kubernetes.io~empty-dir",
  configMap: "kubernetes.io~configmap",
  secret: "kubernetes.io~secret",
  downwardAPI: "kubernetes.io~downward-api",
  projected: "kubernetes.io~projected",
};

export function podDir(dataDir: string, uid: string): string {
  return join(dataDir, "agent", "pods", uid);
}

/** The ConfigMaps and Secrets a pod's volumes and env use. */
export function objectRefs(pod: Pod): { kind: ObjectKind; ns: string; name: string }[] {
  const ns = pod.metadata.namespace ?? "default";
  const out = new Map<string, { kind: ObjectKind; ns: string; name: string }>();
  const add = (kind: ObjectKind, name?: string) => {
    if (name) out.set(`${kind}/${name}`, { kind, ns, name });
  };
  for (const v of pod.spec.volumes ?? []) {
    add("configmaps", v.configMap?.name);
    add("secrets", v.secret?.secretName);
    for (const s of v.projected?.sources ?? []) {
      add("configmaps", s.configMap?.name);
      add("secrets", s.secret?.name);
    }
  }
  for (const c of [...(pod.spec.initContainers ?? []), ...pod.spec.containers, ...(pod.spec.ephemeralContainers ?? [])]) {
    for (const e of c.env ?? []) {
      add("configmaps", e.valueFrom?.configMapKeyRef?.name);
      add("secrets", e.valueFrom?.secretKeyRef?.name);
    }
    for (const e of c.envFrom ?? []) {
      add("configmaps", e.configMapRef?.name);
      add("secrets", e.secretRef?.name);
    }
  }
  return [...out.values()];
}

function objectData(obj: ConfigMapLike, kind: ObjectKind): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  if (kind === "secrets") {
    for (const [k, v] of Object.entries(obj.data ?? {})) out.set(k, Buffer.from(v, "base64"));
  } else {
    for (const [k, v] of Object.entries(obj.data ?? {})) out.set(k, Buffer.from(v));
    for (const [k, v] of Object.entries(obj.binaryData ?? {})) out.set(k, Buffer.from(v, "base64"));
  }
  return out;
}

/** Files of a configMap/secret source; undefined when the object is optional and missing. */
function projectObject(
  obj: ConfigMapLike | null,
  kind: ObjectKind,
  what: string,
  items: KeyToPath[] | undefined,
  optional: boolean | undefined,
  mode: number,
  out: Map<string, FileProjection>,
): void {
  if (!obj) {
    if (optional) return;
    throw new VolumeError(`${kind === "secrets" ? "secret" : "configmap"} ${JSON.stringify(what)} not found`);
  }
  const data = objectData(obj, kind);
  if (items?.length) {
    for (const it of items) {
      const v = data.get(it.key);
      if (v === undefined) {
        if (optional) continue;
        throw new VolumeError(`configuration key ${JSON.stringify(it.key)} not found in ${kind === "secrets" ? "secret" : "configmap"} ${JSON.stringify(what)}`);
      }
      out.set(cleanPath(it.path), { data: v, mode: it.mode ?? mode });
    }
  } else {
    for (const [k, v] of data) out.set(k, { data: v, mode });
  }
}

function projectDownward(pod: Pod, items: DownwardAPIVolumeFile[] | undefined, mode: number, ctx: VolumeContext, out: Map<string, FileProjection>) {
  for (const it of items ?? []) {
    let value: string;
    if (it.fieldRef) value = fieldRefValue(pod, it.fieldRef.fieldPath, ctx.ips);
    else if (it.resourceFieldRef) {
      const c = [...(pod.spec.initContainers ?? []), ...pod.spec.containers].find((x) => x.name === it.resourceFieldRef!.containerName);
      value = resourceFieldValue(c, it.resourceFieldRef.resource, it.resourceFieldRef.divisor, ctx.node);
    } else continue;
    out.set(cleanPath(it.path), { data: value, mode: it.mode ?? mode });
  }
}

/**
 * tmpfs size of a memory emptyDir, like kubelet's calculateEmptyDirMemorySize: the pod's memory
 * limit (or the node's memory without one), lowered to sizeLimit when that is smaller.
 */
export function memoryVolumeSize(pod: Pod, sizeLimit: string | number | undefined, nodeMemory: number): number {
  let size = nodeMemory;
  const limit = podMemoryLimit(pod);
  if (limit > 0 && limit <= size) size = limit;
  const want = bytesOf(sizeLimit);
  if (want && want > 0 && want < size) size = want;
  return size;
}

/**
 * The pod cgroup's memory limit as kubelet sets it (ResourceConfigForPod): only when every
 * container declares one (0 = none), then resourcehelper.PodLimits: the larger of the running
 * containers' sum and any init container.
 */
function podMemoryLimit(pod: Pod): number {
  const lim = (c: { resources?: { limits?: Record<string, string | number> } }) => bytesOf(c.resources?.limits?.memory) ?? 0;
  const inits = pod.spec.initContainers ?? [];
  if ([...pod.spec.containers, ...inits].some((c) => !(lim(c) > 0))) return 0;
  // sidecars (restartPolicy Always init containers) run next to the app containers
  const apps = [...pod.spec.containers, ...inits.filter((c) => c.restartPolicy === "Always")].reduce((s, c) => s + lim(c), 0);
  const initMax = inits.filter((c) => c.restartPolicy !== "Always").reduce((m, c) => Math.max(m, lim(c)), 0);
  return Math.max(apps, initMax) + (bytesOf(pod.spec.overhead?.memory) ?? 0);
}

export class PodVolumes {
  /** Resolved persistentVolumeClaim paths, kept so the pod keeps its volume while offline. */
  private pvcPaths: Record<string, string>;
  private readonly statePath: string;

  constructor(
    readonly pod: () => Pod,
    readonly dir: string,
  ) {
    this.statePath = join(dir, "volumes.json");
    try {
      this.pvcPaths = JSON.parse(readFileSync(this.statePath, "utf8"));
    } catch {
      this.pvcPaths = {};
    }
  }

  private volDir(kind: string, name: string): string {
    return join(this.dir, "volumes", PLUGIN[kind]!, name);
  }

  /** Sets up every volume; returns name → host path. Throws VolumeError with a FailedMount-like message. */
  async setup(ctx: VolumeContext): Promise<Map<string, MountedVolume>> {
    const pod = this.pod();
    const ns = pod.metadata.namespace ?? "default";
    const out = new Map<string, MountedVolume>();
    for (const v of pod.spec.volumes ?? []) {
      try {
        out.set(v.name, await this.setupOne(pod, ns, v, ctx));
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        throw new VolumeError(`MountVolume.SetUp failed for volume ${JSON.stringify(v.name)} : ${msg}`);
      }
    }
    return out;
  }

  private async fetch(ctx: VolumeContext, kind: ObjectKind, ns: string, name: string, dir: string): Promise<ConfigMapLike | null | "keep"> {
    try {
      return await ctx.objects.get(kind, ns, name);
    } catch (e) {
      if (!isUnreachable(e)) throw e;
      // Offline: keep what was written last time.
      if (existsSync(join(dir, "..data"))) return "keep";
      // Secrets never touch the node's disk (issue 10): after a reboot they wait for the server.
      if (kind === "secrets") throw new VolumeError(`secret ${JSON.stringify(name)} is kept in memory only on this node (gone after a reboot): waiting for the API server to read it`);
      throw new VolumeError(`configmap ${JSON.stringify(name)} cannot be read: the API server is unreachable (${(e as Error).message})`);
    }
  }

  /** The node's copy of a ConfigMap a projected volume uses, so the volume can be set up offline after a reboot. */
  private copyPath(name: string): string {
    return join(this.dir, "configmaps", `${name}.json`);
  }
  /** Last copy written or read per ConfigMap name (JSON), to write only on change. */
  private copies = new Map<string, string>();

  private saveCopy(name: string, obj: ConfigMapLike | null): void {
    const path = this.copyPath(name);
    if (!obj) {
      if (this.copies.get(name) !== "") rmSync(path, { force: true });
      this.copies.set(name, "");
      return;
    }
    const json = JSON.stringify({ data: obj.data, binaryData: obj.binaryData });
    if (this.copies.get(name) === json) return;
    let old: string | undefined;
    try {
      old = readFileSync(path, "utf8");
    } catch {}
    if (old !== json) {
      // ConfigMaps are not secret, but their copy is the pod's business only: owner-only
      mkdirSync(join(this.dir, "configmaps"), { recursive: true, mode: 0o700 });
      const tmp = `${path}.tmp`;
      writeFileSync(tmp, json, { mode: 0o600 });
      renameSync(tmp, path);
    }
    this.copies.set(name, json);
  }

  private loadCopy(name: string): ConfigMapLike | undefined {
    try {
      const json = readFileSync(this.copyPath(name), "utf8");
      const obj = JSON.parse(json) as ConfigMapLike;
      this.copies.set(name, json);
      return obj;
    } catch {
      return undefined;
    }
  }

  /**
   * A configMap source of a projected volume. Offline with nothing in the volume yet (after a
   * reboot: projected volumes are on tmpfs) the node's disk copy is used; an optional ConfigMap
   * never seen counts as missing, as it would online.
   */
  private async projectedConfigMap(ctx: VolumeContext, ns: string, name: string, optional: boolean | undefined, dir: string): Promise<ConfigMapLike | null | "keep"> {
    try {
      const obj = await ctx.objects.get("configmaps", ns, name);
      this.saveCopy(name, obj);
      return obj;
    } catch (e) {
      if (!isUnreachable(e)) throw e;
      if (existsSync(join(dir, "..data"))) return "keep";
      const copy = this.loadCopy(name);
      if (copy) return copy;
      if (optional) return null;
      throw new VolumeError(`configmap ${JSON.stringify(name)} was never read on this node and the API server is unreachable: waiting for it`);
    }
  }

  private async setupOne(pod: Pod, ns: string, v: Volume, ctx: VolumeContext): Promise<MountedVolume> {
    if (v.emptyDir) {
      const dir = this.volDir("emptyDir", v.name);
      mkdirSync(dir, { recursive: true, mode: 0o777 });
      if (v.emptyDir.medium === "Memory" && ctx.tmpfs) mountTmpfs(dir, memoryVolumeSize(pod, v.emptyDir.sizeLimit, ctx.node.memory), "0777");
      return { path: dir, readOnly: false };
    }
    if (v.hostPath) {
      checkHostPath(v.hostPath.path, v.hostPath.type);
      return { path: v.hostPath.path, readOnly: false };
    }
    if (v.configMap || v.secret) {
      const kind: ObjectKind = v.configMap ? "configmaps" : "secrets";
      const src = v.configMap ?? { ...v.secret!, name: v.secret!.secretName };
      const dir = this.volDir(v.configMap ? "configMap" : "secret", v.name);
      mkdirSync(dir, { recursive: true });
      if (v.secret && ctx.tmpfs) mountTmpfs(dir, undefined, "0755");
      const obj = await this.fetch(ctx, kind, ns, src.name ?? "", dir);
      if (obj !== "keep") {
        const files = new Map<string, FileProjection>();
        projectObject(obj, kind, src.name ?? "", src.items, src.optional, src.defaultMode ?? 0o644, files);
        writeAtomic(dir, files);
      }
      return { path: dir, readOnly: true };
    }
    if (v.downwardAPI) {
      const dir = this.volDir("downwardAPI", v.name);
      // kubelet backs downwardAPI volumes with a memory emptyDir, like secrets and projected ones
      // (only for a directory with nothing written yet: containers of a pod set up by an older
      // agent keep its files; after a reboot the directory is there but empty, and gets its tmpfs)
      const fresh = !existsSync(join(dir, "..data"));
      mkdirSync(dir, { recursive: true });
      if (ctx.tmpfs && fresh) mountTmpfs(dir, undefined, "0755");
      const files = new Map<string, FileProjection>();
      projectDownward(pod, v.downwardAPI.items, v.downwardAPI.defaultMode ?? 0o644, ctx, files);
      writeAtomic(dir, files);
      return { path: dir, readOnly: true };
    }
    if (v.projected) {
      const dir = this.volDir("projected", v.name);
      mkdirSync(dir, { recursive: true });
      if (ctx.tmpfs) mountTmpfs(dir, undefined, "0755");
      const mode = v.projected.defaultMode ?? 0o644;
      const files = new Map<string, FileProjection>();
      let keep = false;
      for (const s of v.projected.sources ?? []) {
        if (s.configMap || s.secret) {
          const kind: ObjectKind = s.configMap ? "configmaps" : "secrets";
          const src = (s.configMap ?? s.secret)!;
          const obj = s.configMap ? await this.projectedConfigMap(ctx, ns, src.name ?? "", src.optional, dir) : await this.fetch(ctx, kind, ns, src.name ?? "", dir);
          if (obj === "keep") keep = true;
          else projectObject(obj, kind, src.name ?? "", src.items, src.optional, mode, files);
        } else if (s.downwardAPI) projectDownward(pod, s.downwardAPI.items, mode, ctx, files);
        else if (s.serviceAccountToken) {
          // No token signer on the agent side yet: the projected token is requested from the
          // server (serviceaccounts/token) when it answers, else the path is left out.
          const token = await this.serviceAccountToken(pod, ctx, v.name, s.serviceAccountToken).catch(() => null);
          // No token yet (the account is being created, the server is away): try again soon.
          // Without one and nothing written yet (a reboot offline), the volume is written without
          // the token file: a container that cannot reach the API needs no token to start, and
          // the retry writes it as soon as the server answers.
          if (!token) this.tokenRetryAt = Date.now() + 5000;
          if (token) files.set(cleanPath(s.serviceAccountToken.path), { data: token, mode });
          else if (existsSync(join(dir, "..data"))) keep = true;
        }
      }
      if (!keep) writeAtomic(dir, files);
      return { path: dir, readOnly: true };
    }
    if (v.persistentVolumeClaim) {
      return { path: await this.pvcPath(pod, ns, v, ctx), readOnly: !!v.persistentVolumeClaim.readOnly };
    }
    throw new VolumeError(`volume type of ${JSON.stringify(v.name)} is not supported by this agent (${Object.keys(v).filter((k) => k !== "name").join(", ")})`);
  }

  /** Projected tokens by volume, reused until 80% of their lifetime has passed (kubelet's rule). */
  private tokens = new Map<string, { token: string; refreshAt: number }>();
  /** When the next projected token is due for renewal (ms since the epoch; 0: none): the worker syncs then. */
  private tokenRetryAt = 0;
  get tokenRefreshAt(): number {
    let at = this.tokenRetryAt > Date.now() ? this.tokenRetryAt : 0;
    for (const t of this.tokens.values()) if (!at || t.refreshAt < at) at = t.refreshAt;
    return at;
  }

  private async serviceAccountToken(pod: Pod, ctx: VolumeContext, volume: string, s: { audience?: string; expirationSeconds?: number; path?: string }): Promise<string | null> {
    const key = `${volume}/${s.path ?? ""}`;
    const cached = this.tokens.get(key);
    if (cached && Date.now() < cached.refreshAt) return cached.token;
    const sa = pod.spec.serviceAccountName || "default";
    const ns = pod.metadata.namespace ?? "default";
    const r = await ctx.api.create(`/api/v1/namespaces/${ns}/serviceaccounts/${sa}/token`, {
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenRequest",
      spec: {
        audiences: s.audience ? [s.audience] : [],
        expirationSeconds: s.expirationSeconds ?? 3607,
        boundObjectRef: { apiVersion: "v1", kind: "Pod", name: pod.metadata.name, uid: pod.metadata.uid },
      },
    });
    const token: string | null = r?.status?.token ?? null;
    if (token) {
      const expires = Date.parse(r.status.expirationTimestamp ?? "") || Date.now() + (s.expirationSeconds ?? 3607) * 1000;
      this.tokens.set(key, { token, refreshAt: Date.now() + 0.8 * (expires - Date.now()) });
    }
    return token;
  }

  private async pvcPath(pod: Pod, ns: string, v: Volume, ctx: VolumeContext): Promise<string> {
    const claim = v.persistentVolumeClaim!.claimName;
    try {
      const pvc = await ctx.api.get(`/api/v1/namespaces/${ns}/persistentvolumeclaims/${encodeURIComponent(claim)}`);
      const pvName: string | undefined = pvc?.spec?.volumeName;
      if (!pvName || (pvc?.status?.phase && pvc.status.phase !== "Bound"))
        throw new VolumeError(`persistentvolumeclaim ${JSON.stringify(claim)} is not bound`);
      const pv = await ctx.api.get(`/api/v1/persistentvolumes/${encodeURIComponent(pvName)}`);
      const path: string | undefined = pv?.spec?.hostPath?.path ?? pv?.spec?.local?.path;
      if (!path) throw new VolumeError(`persistentvolume ${JSON.stringify(pvName)} is neither hostPath nor local: not supported on this node`);
      const localPath =
        pv?.spec?.storageClassName === "local-path" ||
        pv?.metadata?.annotations?.["pv.kubernetes.io/provisioned-by"]?.includes("local-path") ||
        pv?.spec?.hostPath?.type === "DirectoryOrCreate";
      if (localPath && !existsSync(path)) mkdirSync(path, { recursive: true, mode: 0o777 });
      else if (pv?.spec?.hostPath) checkHostPath(path, pv.spec.hostPath.type);
      else if (!existsSync(path)) throw new VolumeError(`local volume path ${path} does not exist`);
      if (this.pvcPaths[v.name] !== path) {
        this.pvcPaths[v.name] = path;
        mkdirSync(this.dir, { recursive: true });
        await Bun.write(this.statePath, JSON.stringify(this.pvcPaths));
      }
      return path;
    } catch (e) {
      if (isUnreachable(e) && this.pvcPaths[v.name]) return this.pvcPaths[v.name]!;
      throw e;
    }
  }

  /** Unmounts tmpfs volumes and removes the pod directory. */
  teardown(): void {
    const stuck = unmountAll(this.dir);
    if (stuck.length) throw new Error(`could not unmount ${stuck.join(", ")}`);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** For tests: the target of a volume's ..data link. */
export function dataVersion(dir: string): string | null {
  try {
    return readlinkSync(join(dir, "..data"));
  } catch {
    return null;
  }
}
