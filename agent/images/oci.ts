// Deterministic writers for tar archives and OCI image-layout archives.
//
// Used by the agent to build its own pause image at runtime (no registry, no compiler) and by
// the test image builder (test/images/). Everything is byte-for-byte reproducible: fixed
// mtimes, uid/gid 0, sorted entries, gzip without timestamps.


export type TarEntry =
  | { type: "dir"; path: string; mode?: number }
  | { type: "file"; path: string; data: Uint8Array | string; mode?: number }
  | { type: "symlink"; path: string; target: string };

const enc = new TextEncoder();

function writeString(buf: Uint8Array, off: number, len: number, s: string): void {
  const b = enc.encode(s);
  if (b.length > len) throw new Error(`tar: field too long (${s})`);
  buf.set(b, off);
}

function writeOctal(buf: Uint8Array, off: number, len: number, n: number): void {
  // len-1 octal digits followed by NUL
  writeString(buf, off, len, n.toString(8).padStart(len - 1, "0") + "\0");
}

/** Splits a path into ustar name/prefix (name ≤ 100 bytes, prefix ≤ 155 bytes). */
function splitPath(path: string): { name: string; prefix: string } {
  if (enc.encode(path).length <= 100) return { name: path, prefix: "" };
  for (let i = path.length - 1; i > 0; i--) {
    if (path[i] !== "/") continue;
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (enc.encode(name).length <= 100 && enc.encode(prefix).length <= 155) return { name, prefix };
  }
  throw new Error(`tar: path too long: ${path}`);
}

function header(path: string, typeflag: string, size: number, mode: number, linkname = ""): Uint8Array {
  const h = new Uint8Array(512);
  const { name, prefix } = splitPath(path);
  writeString(h, 0, 100, name);
  writeOctal(h, 100, 8, mode);
  writeOctal(h, 108, 8, 0); // uid
  writeOctal(h, 116, 8, 0); // gid
  writeOctal(h, 124, 12, size);
  writeOctal(h, 136, 12, 0); // mtime
  h.fill(0x20, 148, 156); // checksum placeholder: spaces
  writeString(h, 156, 1, typeflag);
  writeString(h, 157, 100, linkname);
  writeString(h, 257, 6, "ustar\0");
  writeString(h, 263, 2, "00");
  writeString(h, 265, 32, "root");
  writeString(h, 297, 32, "root");
  writeString(h, 345, 155, prefix);
  let sum = 0;
  for (const b of h) sum += b;
  writeString(h, 148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  return h;
}

/** Builds an uncompressed ustar archive. Entries are written in the given order. */
export function tar(entries: TarEntry[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const e of entries) {
    const path = e.path.replace(/^\/+/, "");
    if (e.type === "dir") {
      parts.push(header(path.endsWith("/") ? path : path + "/", "5", 0, e.mode ?? 0o755));
    } else if (e.type === "symlink") {
      parts.push(header(path, "2", 0, 0o777, e.target));
    } else {
      const data = typeof e.data === "string" ? enc.encode(e.data) : e.data;
      parts.push(header(path, "0", data.length, e.mode ?? 0o644));
      parts.push(data);
      const pad = (512 - (data.length % 512)) % 512;
      if (pad) parts.push(new Uint8Array(pad));
    }
  }
  parts.push(new Uint8Array(1024)); // two zero blocks end the archive
  return concat(parts);
}

export function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export function sha256(data: Uint8Array | string): string {
  return new Bun.CryptoHasher("sha256").update(data).digest("hex");
}

export interface OciImageSpec {
  /** Full normalised reference, e.g. "docker.io/library/busybox:latest". */
  name: string;
  /** Root filesystem of the single layer. Parent directories must be listed before children. */
  files: TarEntry[];
  entrypoint?: string[];
  cmd?: string[];
  env?: string[];
  workingDir?: string;
  user?: string;
  /** Defaults to the host's architecture. */
  architecture?: string;
  labels?: Record<string, string>;
}

export interface OciArchive {
  /** The OCI image-layout as a tar archive (importable by `ctr images import`). */
  tar: Uint8Array;
  /** sha256:… digest of the image manifest. */
  manifestDigest: string;
  /** sha256:… digest of the image config (the image ID that CRI reports). */
  configDigest: string;
  /** Manifest, config and layer by digest (what a registry would serve). */
  blobs: Map<string, Uint8Array>;
}

/** Go-style GOARCH for the host (what OCI image configs use). */
export function hostArch(): string {
  switch (process.arch) {
    case "x64":
      return "amd64";
    case "arm64":
      return "arm64";
    case "arm":
      return "arm";
    case "ia32":
      return "386";
    default:
      return process.arch;
  }
}

const MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const MT_CONFIG = "application/vnd.oci.image.config.v1+json";
const MT_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip";

/**
 * Builds a single-layer OCI image and wraps it in an OCI image-layout tar (oci-layout,
 * index.json, blobs/sha256/…). The index entry carries both `io.containerd.image.name` (the
 * full name containerd imports it under) and `org.opencontainers.image.ref.name`.
 */
export function buildOciArchive(spec: OciImageSpec): OciArchive {
  const layerTar = tar(spec.files);
  const diffId = "sha256:" + sha256(layerTar);
  const layer = Bun.gzipSync(layerTar as Uint8Array<ArrayBuffer>, { level: 9 });
  const layerDigest = "sha256:" + sha256(layer);
  const config = JSON.stringify({
    architecture: spec.architecture ?? hostArch(),
    os: "linux",
    config: {
      Env: spec.env ?? ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
      ...(spec.entrypoint ? { Entrypoint: spec.entrypoint } : {}),
      ...(spec.cmd ? { Cmd: spec.cmd } : {}),
      ...(spec.workingDir ? { WorkingDir: spec.workingDir } : {}),
      ...(spec.user ? { User: spec.user } : {}),
      ...(spec.labels ? { Labels: spec.labels } : {}),
    },
    rootfs: { type: "layers", diff_ids: [diffId] },
    history: [{ created_by: "skiff image builder" }],
  });
  const configDigest = "sha256:" + sha256(config);
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: MT_MANIFEST,
    config: { mediaType: MT_CONFIG, digest: configDigest, size: enc.encode(config).length },
    layers: [{ mediaType: MT_LAYER, digest: layerDigest, size: layer.length }],
  });
  const manifestDigest = "sha256:" + sha256(manifest);
  const tag = spec.name.includes("@") ? "" : spec.name.slice(spec.name.lastIndexOf(":") + 1);
  const index = JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [
      {
        mediaType: MT_MANIFEST,
        digest: manifestDigest,
        size: enc.encode(manifest).length,
        annotations: {
          "io.containerd.image.name": spec.name,
          ...(tag ? { "org.opencontainers.image.ref.name": tag } : {}),
        },
      },
    ],
  });
  const blob = (d: string) => "blobs/sha256/" + d.slice("sha256:".length);
  const out = tar([
    { type: "file", path: "oci-layout", data: JSON.stringify({ imageLayoutVersion: "1.0.0" }) },
    { type: "file", path: "index.json", data: index },
    { type: "dir", path: "blobs" },
    { type: "dir", path: "blobs/sha256" },
    { type: "file", path: blob(manifestDigest), data: manifest },
    { type: "file", path: blob(configDigest), data: config },
    { type: "file", path: blob(layerDigest), data: layer },
  ]);
  const blobs = new Map<string, Uint8Array>([
    [manifestDigest, enc.encode(manifest)],
    [configDigest, enc.encode(config)],
    [layerDigest, layer],
  ]);
  return { tar: out, manifestDigest, configDigest, blobs };
}
