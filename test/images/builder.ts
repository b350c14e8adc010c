// Builds small OCI image archives for tests from Debian's busybox-static (/bin/busybox).
//
//   const tarPath = await busyboxImage();           // docker.io/library/busybox:latest
//   const pause = pauseImage();                     // the agent's own pause image
//
// Archives are deterministic (same busybox → same bytes and digests) and cached under
// $SKIFF_TEST_CACHE or <tmp>/skiff-test-images/, keyed by content.

import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildOciArchive, hostArch, sha256, tar, type TarEntry } from "../../agent/images/oci.ts";
import { buildPauseImage, findStaticBusybox, PAUSE_IMAGE } from "../../agent/images/pause.ts";

export const BUSYBOX_IMAGE = "docker.io/library/busybox:latest";
export { PAUSE_IMAGE };

/** Applets linked into the busybox image (all in /bin, like the upstream busybox image). */
export const BUSYBOX_APPLETS = [
  "sh", "ash", "cat", "chmod", "cp", "date", "dd", "df", "echo", "env", "false", "grep", "head",
  "hostname", "httpd", "id", "ip", "kill", "ln", "ls", "mkdir", "mount", "mv", "nc", "nslookup",
  "printf", "ps", "pwd", "rm", "seq", "sleep", "sort", "stat", "tail", "tee", "test", "top",
  "touch", "true", "uname", "wc", "wget", "yes", "[", "timeout", "xargs", "tr", "cut", "expr",
  "tar", // kubectl cp
];

const BUILDER_VERSION = "2";

export function cacheDir(): string {
  const dir = process.env.SKIFF_TEST_CACHE ?? join(tmpdir(), "skiff-test-images");
  mkdirSync(dir, { recursive: true });
  return dir;
}

export function busyboxPath(): string {
  const p = findStaticBusybox();
  if (!p) throw new Error("static busybox not found: install the Debian package busybox-static (scripts/setup-node.sh)");
  return p;
}

export interface ImageOptions {
  /** Full reference, default docker.io/library/busybox:latest. */
  name?: string;
  entrypoint?: string[];
  cmd?: string[];
  env?: string[];
  workingDir?: string;
  /** Extra files (e.g. an index.html for httpd). Parent directories are created. */
  extraFiles?: Record<string, string | Uint8Array>;
}

function dirsFor(paths: string[], have: Set<string>): TarEntry[] {
  const out: TarEntry[] = [];
  for (const p of paths) {
    const parts = p.replace(/^\/+/, "").split("/").slice(0, -1);
    for (let i = 1; i <= parts.length; i++) {
      const d = parts.slice(0, i).join("/");
      if (!have.has(d)) {
        have.add(d);
        out.push({ type: "dir", path: d });
      }
    }
  }
  return out;
}

/** Returns the files of a busybox root filesystem. */
export function busyboxRootfs(extra: Record<string, string | Uint8Array> = {}): TarEntry[] {
  const bb = readFileSync(busyboxPath());
  const dirs = ["bin", "dev", "etc", "proc", "sys", "tmp", "var", "var/www", "root", "home"];
  const files: TarEntry[] = dirs.map((d) => ({ type: "dir", path: d, mode: d === "tmp" ? 0o1777 : 0o755 }));
  files.push({ type: "file", path: "bin/busybox", data: bb, mode: 0o755 });
  for (const a of [...BUSYBOX_APPLETS].sort()) files.push({ type: "symlink", path: `bin/${a}`, target: "busybox" });
  files.push({ type: "file", path: "etc/passwd", data: "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n" });
  files.push({ type: "file", path: "etc/group", data: "root:x:0:\nnobody:x:65534:\n" });
  const have = new Set(dirs);
  const extraPaths = Object.keys(extra).sort();
  files.push(...dirsFor(extraPaths, have));
  for (const p of extraPaths) files.push({ type: "file", path: p.replace(/^\/+/, ""), data: extra[p]!, mode: 0o644 });
  return files;
}

function cached(key: string, build: () => Uint8Array): string {
  const path = join(cacheDir(), `${key}.tar`);
  if (existsSync(path)) return path;
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, build());
  renameSync(tmp, path); // atomic: parallel test files may build the same image
  return path;
}

/** Builds (or reuses) a busybox OCI archive and returns its path. */
export function busyboxImage(opts: ImageOptions = {}): string {
  const name = opts.name ?? BUSYBOX_IMAGE;
  const bbHash = sha256(readFileSync(busyboxPath()));
  const extraKey = Object.entries(opts.extraFiles ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${sha256(v)}`);
  const key = sha256(
    JSON.stringify([BUILDER_VERSION, name, bbHash, opts.entrypoint, opts.cmd, opts.env, opts.workingDir, extraKey]),
  ).slice(0, 24);
  return cached(`busybox-${key}`, () =>
    buildOciArchive({
      name,
      files: busyboxRootfs(opts.extraFiles),
      entrypoint: opts.entrypoint,
      cmd: opts.cmd ?? (opts.entrypoint ? undefined : ["sh"]),
      env: opts.env ?? ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
      workingDir: opts.workingDir,
    }).tar,
  );
}

/** Builds (or reuses) the agent's pause image archive and returns its path. */
export function pauseImage(name: string = PAUSE_IMAGE): string {
  const archive = buildPauseImage(name);
  return cached(`pause-${archive.manifestDigest.slice(7, 31)}`, () => archive.tar);
}

/**
 * Builds (or reuses) a busybox image as a docker-archive (`docker save` format: manifest.json
 * with RepoTags, config JSON, uncompressed layer tar) and returns its path. `repoTag` is kept
 * as given (e.g. "busybox:docker"), like `docker save` does.
 */
export function busyboxDockerArchive(repoTag = "busybox:docker"): string {
  const bbHash = sha256(readFileSync(busyboxPath()));
  const key = sha256(JSON.stringify([BUILDER_VERSION, "docker", repoTag, bbHash])).slice(0, 24);
  return cached(`busybox-docker-${key}`, () => {
    const layer = tar(busyboxRootfs({ "/etc/format": "docker-archive\n" }));
    const layerId = sha256(layer);
    const config = JSON.stringify({
      architecture: hostArch(),
      os: "linux",
      config: { Env: ["PATH=/bin"], Cmd: ["sh"] },
      rootfs: { type: "layers", diff_ids: ["sha256:" + layerId] },
    });
    const configId = sha256(config);
    return tar([
      { type: "file", path: `${configId}.json`, data: config },
      { type: "dir", path: layerId },
      { type: "file", path: `${layerId}/layer.tar`, data: layer },
      { type: "file", path: "manifest.json", data: JSON.stringify([{ Config: `${configId}.json`, RepoTags: [repoTag], Layers: [`${layerId}/layer.tar`] }]) },
    ]);
  });
}
