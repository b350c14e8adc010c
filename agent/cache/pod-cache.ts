// Node-local copy of the pods bound to this node, so the agent can keep them running (and
// restart their containers) while the server is unreachable, also across an agent restart:
//
//   <data-dir>/agent/pods/<uid>/pod.json          the last known pod (metadata + spec)
//   <data-dir>/agent/pods/<uid>/env/<name>.json   the container's resolved environment (0600)
//
// Status and resourceVersion are left out so the file is only rewritten when the pod's
// metadata or spec change (not on every status write).

import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Pod } from "../pods/types.ts";

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

  constructor(readonly root: string) {
    mkdirSync(root, { recursive: true, mode: 0o700 });
  }

  static forDataDir(dataDir: string): PodCache {
    return new PodCache(join(dataDir, "agent", "pods"));
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
      if (c?.pod?.metadata?.uid === uid) out.push(c);
    }
    return out;
  }

  /** Forgets the pod entirely (its directory, volumes must already be unmounted). */
  remove(uid: string): void {
    this.last.delete(uid);
    rmSync(join(this.dir(uid), "pod.json"), { force: true });
    rmSync(join(this.dir(uid), "env"), { recursive: true, force: true });
  }

  saveEnv(uid: string, container: string, env: { key: string; value: string }[]): void {
    const dir = join(this.dir(uid), "env");
    const path = join(dir, `${container}.json`);
    const text = JSON.stringify(env);
    try {
      if (readFileSync(path, "utf8") === text) return;
    } catch {
      /* not there yet */
    }
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeAtomicFile(path, text);
  }

  loadEnv(uid: string, container: string): { key: string; value: string }[] | null {
    try {
      return JSON.parse(readFileSync(join(this.dir(uid), "env", `${container}.json`), "utf8"));
    } catch {
      return null;
    }
  }
}
