// Node-local copy of the pods bound to this node, so the agent can keep them running (and
// restart their containers) while the server is unreachable, also across an agent restart:
//
//   <data-dir>/agent/pods/<uid>/pod.json          the last known pod (metadata + spec)
//   <data-dir>/agent/pods/<uid>/env/<name>.json   the container's resolved environment (0600)
//   <data-dir>/agent/secrets/pods/<uid>/env/<name>.json  the same for a container whose env
//       takes anything from a Secret: on tmpfs (secret-store.ts), never on disk, so it survives
//       an agent restart but not a reboot; without a tmpfs it is kept in process memory only
//
// Status and resourceVersion are left out so the file is only rewritten when the pod's
// metadata or spec change (not on every status write).

import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { usesSecretEnv } from "../pods/env.ts";
import type { Container, Pod } from "../pods/types.ts";
import type { SecretStore } from "./secret-store.ts";

type Env = { key: string; value: string }[];

export interface CachedPod {
  pod: Pod;
  /** The agent has stopped the pod and only needs to delete it on the server. */
  terminated?: boolean;
}

function writeAtomicFile(path: string, data: string, mode = 0o600): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, data, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}

export class PodCache {
  private readonly last = new Map<string, string>();
  /** Secret-derived env of this process's lifetime, by `<uid>/<container>`. */
  private readonly secretEnv = new Map<string, string>();

  constructor(
    readonly root: string,
    private readonly secrets?: SecretStore,
  ) {
    mkdirSync(root, { recursive: true, mode: 0o700 });
  }

  static forDataDir(dataDir: string, secrets?: SecretStore): PodCache {
    return new PodCache(join(dataDir, "agent", "pods"), secrets);
  }

  dir(uid: string): string {
    return join(this.root, uid);
  }

  /** What is written for a pod: no status, no resourceVersion, no managedFields. */
  static strip(pod: Pod): Pod {
    const { status: _s, ...rest } = pod;
    const { resourceVersion: _rv, managedFields: _mf, ...meta } = pod.metadata as Pod["metadata"] & { managedFields?: unknown };
    return { ...rest, metadata: meta } as Pod;
  }

  save(pod: Pod, terminated = false): void {
    const uid = pod.metadata.uid;
    const entry: CachedPod = { pod: PodCache.strip(pod), ...(terminated ? { terminated } : {}) };
    const text = JSON.stringify(entry);
    if (this.last.get(uid) === text) return;
    mkdirSync(this.dir(uid), { recursive: true, mode: 0o700 });
    writeAtomicFile(join(this.dir(uid), "pod.json"), text);
    this.last.set(uid, text);
  }

  load(uid: string): CachedPod | null {
    try {
      const text = readFileSync(join(this.dir(uid), "pod.json"), "utf8");
      this.last.set(uid, text);
      return JSON.parse(text) as CachedPod;
    } catch {
      return null;
    }
  }

  loadAll(): CachedPod[] {
    if (!existsSync(this.root)) return [];
    const out: CachedPod[] = [];
    for (const uid of readdirSync(this.root)) {
      const c = this.load(uid);
      if (c?.pod?.metadata?.uid !== uid) continue;
      out.push(c);
      this.moveSecretEnvOffDisk(c.pod);
    }
    return out;
  }

  /** Env files an older agent wrote to disk for containers that use Secrets: to tmpfs, then gone. */
  private moveSecretEnvOffDisk(pod: Pod): void {
    const uid = pod.metadata.uid;
    for (const c of [...(pod.spec.initContainers ?? []), ...(pod.spec.containers ?? [])]) {
      if (!usesSecretEnv(c)) continue;
      const disk = join(this.dir(uid), "env", `${c.name}.json`);
      let text: string;
      try {
        text = readFileSync(disk, "utf8");
      } catch {
        continue;
      }
      if (!this.secrets?.read(this.secretPath(uid, c.name))) this.keepSecretEnv(uid, c.name, text);
      rmSync(disk, { force: true });
    }
  }

  /** Forgets the pod entirely (its directory, volumes must already be unmounted). */
  remove(uid: string): void {
    this.last.delete(uid);
    rmSync(join(this.dir(uid), "pod.json"), { force: true });
    rmSync(join(this.dir(uid), "env"), { recursive: true, force: true });
    for (const k of this.secretEnv.keys()) if (k.startsWith(`${uid}/`)) this.secretEnv.delete(k);
    this.secrets?.remove(`pods/${uid}`);
  }

  private secretPath(uid: string, container: string): string {
    return `pods/${uid}/env/${container}.json`;
  }

  private keepSecretEnv(uid: string, container: string, text: string): void {
    this.secretEnv.set(`${uid}/${container}`, text);
    const rel = this.secretPath(uid, container);
    if (this.secrets?.read(rel)?.toString("utf8") !== text) this.secrets?.write(rel, text);
  }

  /** Keeps the container's resolved env for offline restarts (see the header for where). */
  saveEnv(uid: string, c: Container, env: Env): void {
    const dir = join(this.dir(uid), "env");
    const path = join(dir, `${c.name}.json`);
    const text = JSON.stringify(env);
    if (usesSecretEnv(c)) {
      this.keepSecretEnv(uid, c.name, text);
      rmSync(path, { force: true });
      return;
    }
    try {
      if (readFileSync(path, "utf8") === text) return;
    } catch {
      /* not there yet */
    }
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeAtomicFile(path, text);
  }

  /** The env saved for the container; null when none (for a Secret user: none since the reboot). */
  loadEnv(uid: string, c: Container): Env | null {
    try {
      if (!usesSecretEnv(c)) return JSON.parse(readFileSync(join(this.dir(uid), "env", `${c.name}.json`), "utf8"));
      const text = this.secretEnv.get(`${uid}/${c.name}`) ?? this.secrets?.read(this.secretPath(uid, c.name))?.toString("utf8");
      return text === undefined ? null : JSON.parse(text);
    } catch {
      return null;
    }
  }
}
