// Images without a registry: import OCI-layout or docker-archive tars into containerd's
// `k8s.io` namespace (the one the CRI plugin uses) under CRI-normalised names, the agent's own
// pause image, air-gap import of <data-dir>/agent/images/*.tar, and list/remove through CRI.
//
// Import is done by Debian's `ctr` (ships with containerd): `ctr -a SOCK -n k8s.io images
// import --all-platforms FILE`. Names that are not normalised (e.g. "busybox:latest" from a
// docker-archive made elsewhere) are re-tagged under the name CRI looks up
// ("docker.io/library/busybox:latest").

import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { CriClient, Image } from "../cri/client.ts";
import { findBinary } from "../containerd/preflight.ts";
import { buildPauseImage, PAUSE_IMAGE } from "./pause.ts";

export const CRI_NAMESPACE = "k8s.io";

/**
 * Normalises an image reference the way CRI (docker/distribution reference) does:
 * "busybox" → "docker.io/library/busybox:latest", "local/pause:1" → "docker.io/local/pause:1",
 * "registry:5000/x" → "registry:5000/x:latest". Digest references keep their digest.
 */
export function normalizeImageRef(ref: string): string {
  let name = ref.trim();
  if (!name) throw new Error("empty image reference");
  let digest = "";
  const at = name.indexOf("@");
  if (at >= 0) {
    digest = name.slice(at);
    name = name.slice(0, at);
  }
  let tag = "";
  const lastSlash = name.lastIndexOf("/");
  const colon = name.lastIndexOf(":");
  if (colon > lastSlash) {
    tag = name.slice(colon);
    name = name.slice(0, colon);
  }
  const slash = name.indexOf("/");
  const first = slash < 0 ? "" : name.slice(0, slash);
  const hasDomain = first !== "" && (first.includes(".") || first.includes(":") || first === "localhost");
  if (!hasDomain) name = "docker.io/" + (slash < 0 ? "library/" + name : name);
  else if (first === "index.docker.io") name = "docker.io" + name.slice(first.length);
  if (name.startsWith("docker.io/") && name.indexOf("/", "docker.io/".length) < 0) {
    name = "docker.io/library/" + name.slice("docker.io/".length);
  }
  if (name !== name.toLowerCase()) throw new Error(`invalid image reference ${ref}: repository name must be lowercase`);
  if (!tag && !digest) tag = ":latest";
  return name + tag + digest;
}

export class ImageImportError extends Error {
  override name = "ImageImportError";
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`import of ${file} failed: ${message}`);
  }
}

export interface CtrOptions {
  /** containerd socket. */
  address: string;
  ctrBin?: string;
  snapshotter?: string;
  timeoutMs?: number;
}

function ctrPath(o: CtrOptions): string {
  const p = o.ctrBin ?? findBinary("ctr");
  if (!p) throw new Error("ctr not found: install the Debian package containerd");
  return p;
}

/** Runs `ctr -a SOCK -n k8s.io ARGS…`, returning stdout; rejects with stderr on failure. */
export async function ctr(o: CtrOptions, args: string[]): Promise<string> {
  const bin = ctrPath(o);
  const child = Bun.spawn([bin, "-a", o.address, "-n", CRI_NAMESPACE, ...args], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    timeout: o.timeoutMs ?? 600_000,
    killSignal: "SIGKILL",
  });
  const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (code === 0) return out;
  const how = child.signalCode ? `killed by ${child.signalCode}` : `exited ${code}`;
  throw new Error(`ctr ${args.slice(0, 2).join(" ")} ${how}: ${(err || out).trim()}`);
}

export interface ImportedImage {
  /** CRI-normalised name. */
  name: string;
  /** Manifest or index digest as reported by ctr. */
  digest: string;
}

/** Imports one OCI-layout or docker-archive tar. Returns the (normalised) image names. */
export async function importImageArchive(file: string, o: CtrOptions): Promise<ImportedImage[]> {
  if (!existsSync(file)) throw new ImageImportError(file, "no such file");
  const args = ["images", "import", "--all-platforms"];
  if (o.snapshotter) args.push("--snapshotter", o.snapshotter);
  args.push(file);
  let out: string;
  try {
    out = await ctr(o, args);
  } catch (e) {
    throw new ImageImportError(file, e instanceof Error ? e.message : String(e));
  }
  const imported: ImportedImage[] = [];
  for (const m of out.matchAll(/unpacking (\S+) \((sha256:[0-9a-f]{64})\)/g)) {
    const raw = m[1]!;
    const digest = m[2]!;
    let name: string;
    try {
      name = normalizeImageRef(raw);
    } catch {
      continue;
    }
    if (name !== raw) {
      // Make it visible to CRI under its normalised name, then drop the raw one.
      await ctr(o, ["images", "tag", "--force", raw, name]);
      await ctr(o, ["images", "rm", raw]).catch(() => {});
    }
    imported.push({ name, digest });
  }
  if (imported.length === 0) {
    throw new ImageImportError(
      file,
      `no named image found in the archive (an OCI archive needs an io.containerd.image.name or a full org.opencontainers.image.ref.name annotation): ${out.trim()}`,
    );
  }
  return imported;
}

/** Waits until CRI sees the image (its cache follows containerd's image events). */
export async function waitForCriImage(cri: CriClient, name: string, timeoutMs = 10_000): Promise<Image> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const img = await cri.imageStatus(name);
    if (img) return img;
    if (Date.now() > end) throw new Error(`image ${name} imported but not visible through CRI after ${timeoutMs} ms`);
    await Bun.sleep(20);
  }
}

/**
 * Makes sure the agent's pause image is present under `name`, building and importing it when
 * missing or different. `workDir` holds the built archive.
 */
export async function ensurePauseImage(
  cri: CriClient,
  o: CtrOptions & { workDir: string; name?: string },
): Promise<Image> {
  const name = o.name ?? PAUSE_IMAGE;
  const archive = buildPauseImage(name);
  const have = await cri.imageStatus(name);
  if (have && have.id === archive.configDigest) return have;
  mkdirSync(o.workDir, { recursive: true });
  const file = join(o.workDir, "pause.tar");
  writeFileSync(file + ".tmp", archive.tar);
  renameSync(file + ".tmp", file);
  await importImageArchive(file, o);
  return waitForCriImage(cri, name);
}

interface AirgapState {
  [file: string]: { size: number; mtimeMs: number; images: string[] };
}

export interface AirgapResult {
  imported: { file: string; images: string[] }[];
  skipped: string[];
  errors: { file: string; error: string }[];
}

/**
 * Imports every *.tar in `dir` (K3s-style air-gap images). A tar already imported (same size
 * and mtime, images still present) is skipped. Failures are collected, not thrown.
 */
export async function importAirgapImages(dir: string, cri: CriClient, o: CtrOptions): Promise<AirgapResult> {
  const result: AirgapResult = { imported: [], skipped: [], errors: [] };
  if (!existsSync(dir)) return result;
  const stateFile = join(dir, ".imported.json");
  let state: AirgapState = {};
  try {
    state = JSON.parse(readFileSync(stateFile, "utf8"));
  } catch {}
  const next: AirgapState = {};
  for (const f of readdirSync(dir).filter((f) => f.endsWith(".tar")).sort()) {
    const file = join(dir, f);
    const st = statSync(file);
    if (!st.isFile()) continue;
    const prev = state[f];
    if (prev && prev.size === st.size && prev.mtimeMs === st.mtimeMs) {
      const present = await Promise.all(prev.images.map((n) => cri.imageStatus(n).then((i) => i !== null)));
      if (present.every(Boolean)) {
        next[f] = prev;
        result.skipped.push(file);
        continue;
      }
    }
    try {
      const imgs = await importImageArchive(file, o);
      const images = [...new Set(imgs.map((i) => i.name))];
      next[f] = { size: st.size, mtimeMs: st.mtimeMs, images };
      result.imported.push({ file, images });
    } catch (e) {
      result.errors.push({ file, error: e instanceof Error ? e.message : String(e) });
    }
  }
  writeFileSync(stateFile, JSON.stringify(next, null, 2));
  return result;
}

export interface ImageInfo {
  id: string;
  names: string[];
  digests: string[];
  size: number;
  pinned: boolean;
}

/** Images as CRI sees them (for `skiff images ls`). */
export async function listImages(cri: CriClient): Promise<ImageInfo[]> {
  const imgs = await cri.listImages();
  return imgs
    .map((i) => ({ id: i.id, names: i.repoTags, digests: i.repoDigests, size: i.size, pinned: i.pinned }))
    .sort((a, b) => (a.names[0] ?? a.id).localeCompare(b.names[0] ?? b.id));
}

/** Removes an image by name or ID (for `skiff images rm`); false when it was not present. */
export async function removeImage(cri: CriClient, ref: string): Promise<boolean> {
  const key = ref.startsWith("sha256:") ? ref : normalizeImageRef(ref);
  const img = await cri.imageStatus(key);
  if (!img) return false;
  await cri.removeImage(key);
  return true;
}
