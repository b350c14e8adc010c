// The server's own secrets that a snapshot carries next to the objects, so that a server
// restored from it on an empty data dir is the same cluster: the cluster CA (agents and
// kubeconfigs keep verifying), the token-signing key, the admin and join tokens, and
// <data-dir>/server/cred/ (the keys that encrypt Secrets at rest: without them the restored
// Secrets would not decrypt). Like K3s' bootstrap data they are sealed with a key derived from
// the server token's secret (scrypt, AES-256-GCM): the snapshot holds no usable secret without
// the token, and restoring needs it (the token file of the data dir, or --token).
import { createCipheriv, createDecipheriv, randomBytes, scrypt } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { parseJoinToken } from "../../auth/tokens";

/** Files (relative to <data-dir>/server) a snapshot carries; directories are taken whole. */
const FILES = ["token-key", "admin-token", "token", "agent-token"];
const DIRS = ["cred"];
/** The cluster CA and what its rotation keeps (ca-previous.crt, ca-cross.crt); never leaf certificates. */
const TLS_FILE = /^ca(-[a-z]+)?\.(crt|key)$/;

export interface SealedBundle {
  /** scrypt salt, GCM nonce and tag, ciphertext: base64. */
  salt: string;
  iv: string;
  tag: string;
  data: string;
  /** The paths inside (not secret): what a restore will write. */
  files: string[];
}

/** scrypt on the thread pool: ~0.1 s of CPU that must not hold the event loop. */
function keyFor(token: string, salt: Buffer): Promise<Buffer> {
  const secret = parseJoinToken(token).secret;
  return new Promise((resolve, reject) => scrypt(secret, salt, 32, { N: 1 << 15, r: 8, p: 1, maxmem: 64 << 20 }, (e, k) => (e ? reject(e) : resolve(k))));
}

function walk(root: string, dir: string, out: string[]): void {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(root, p, out);
    else if (e.isFile()) out.push(relative(root, p));
  }
}

/** The files to carry from serverDir, relative to it. */
export function bundleFiles(serverDir: string): string[] {
  const out: string[] = [];
  for (const f of FILES) if (existsSync(join(serverDir, f))) out.push(f);
  const tls = join(serverDir, "tls");
  if (existsSync(tls)) for (const f of readdirSync(tls)) if (TLS_FILE.test(f)) out.push(`tls/${f}`);
  for (const d of DIRS) walk(serverDir, join(serverDir, d), out);
  return out.sort();
}

/** Seal the server's secrets with the server token. */
export async function sealBundle(serverDir: string, token: string): Promise<SealedBundle> {
  const files = bundleFiles(serverDir);
  const plain = Buffer.from(JSON.stringify(Object.fromEntries(files.map((f) => [f, { mode: statSync(join(serverDir, f)).mode & 0o777, data: readFileSync(join(serverDir, f)).toString("base64") }]))));
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const c = createCipheriv("aes-256-gcm", await keyFor(token, salt), iv);
  const data = Buffer.concat([c.update(plain), c.final()]);
  return { salt: salt.toString("base64"), iv: iv.toString("base64"), tag: c.getAuthTag().toString("base64"), data: data.toString("base64"), files };
}

export class WrongTokenError extends Error {}

/** The files of a bundle (path -> contents and mode); throws WrongTokenError for another token. */
export async function openBundle(b: SealedBundle, token: string): Promise<Map<string, { mode: number; data: Buffer }>> {
  const d = createDecipheriv("aes-256-gcm", await keyFor(token, Buffer.from(b.salt, "base64")), Buffer.from(b.iv, "base64"));
  d.setAuthTag(Buffer.from(b.tag, "base64"));
  let plain: Buffer;
  try {
    plain = Buffer.concat([d.update(Buffer.from(b.data, "base64")), d.final()]);
  } catch {
    throw new WrongTokenError("the snapshot's secrets do not open with this token: give the server token the cluster had when the snapshot was taken (--token)");
  }
  const m = new Map<string, { mode: number; data: Buffer }>();
  for (const [k, v] of Object.entries(JSON.parse(plain.toString()) as Record<string, { mode: number; data: string }>)) {
    // Paths come from our own sealed bundle, but never write outside serverDir.
    if (k.startsWith("/") || k.split("/").includes("..")) continue;
    m.set(k, { mode: v.mode || 0o600, data: Buffer.from(v.data, "base64") });
  }
  return m;
}

/**
 * Write a bundle's files into serverDir. cred/ is replaced as a whole (the snapshot's objects
 * were encrypted with the snapshot's keys); the current one, if any, is kept aside.
 */
export function writeBundle(serverDir: string, files: Map<string, { mode: number; data: Buffer }>, stamp: string): void {
  const cred = join(serverDir, "cred");
  if ([...files.keys()].some((f) => f.startsWith("cred/")) && existsSync(cred)) renameSync(cred, `${cred}.before-restore-${stamp}`);
  for (const [f, v] of files) {
    const p = join(serverDir, f);
    mkdirSync(dirname(p), { recursive: true, mode: 0o700 });
    writeFileSync(p, v.data, { mode: v.mode });
  }
}
