// The at-rest envelope of kube-apiserver's `secretbox` provider: the stored value is
// `k8s:enc:secretbox:v1:<key name>:` followed by a random 24-byte nonce and the
// XSalsa20-Poly1305 box (NaCl secretbox, @noble/ciphers). State rows are JSON text, so the
// bytes after the prefix are base64. A box that does not open (wrong key, altered bytes) throws.
import { xsalsa20poly1305 } from "@noble/ciphers/salsa.js";

export const PROVIDER = "secretbox";
const PREFIX = `k8s:enc:${PROVIDER}:v1:`;
const NONCE = 24;

export interface DataKey {
  name: string;
  /** 32 random bytes. */
  secret: Uint8Array;
}

export function seal(key: DataKey, plaintext: Uint8Array): string {
  const nonce = crypto.getRandomValues(new Uint8Array(NONCE));
  const box = xsalsa20poly1305(key.secret, nonce).encrypt(plaintext);
  const out = new Uint8Array(NONCE + box.length);
  out.set(nonce);
  out.set(box, NONCE);
  return `${PREFIX}${key.name}:${Buffer.from(out).toString("base64")}`;
}

/** The key name an envelope was sealed with, or undefined if `value` is not one. */
export function keyNameOf(value: unknown): string | undefined {
  if (typeof value !== "string" || !value.startsWith(PREFIX)) return undefined;
  const end = value.indexOf(":", PREFIX.length);
  return end > PREFIX.length ? value.slice(PREFIX.length, end) : undefined;
}

export class UnsealError extends Error {}

export function open(value: string, keyOf: (name: string) => DataKey | undefined): Uint8Array {
  const name = keyNameOf(value);
  if (!name) throw new UnsealError("not a secretbox envelope");
  const key = keyOf(name);
  if (!key) throw new UnsealError(`encryption key "${name}" is not in this server's keyring`);
  const raw = Buffer.from(value.slice(PREFIX.length + name.length + 1), "base64");
  if (raw.length <= NONCE) throw new UnsealError("truncated envelope");
  try {
    return xsalsa20poly1305(key.secret, raw.subarray(0, NONCE)).decrypt(raw.subarray(NONCE));
  } catch {
    throw new UnsealError(`envelope sealed with key "${name}" does not open (wrong key or altered data)`);
  }
}

/** A key name that sorts by creation time, as K3s names its keys. */
export function newDataKey(now = new Date()): DataKey {
  return { name: `secretbox-${now.toISOString().replace(/[:.]/g, "-")}`, secret: crypto.getRandomValues(new Uint8Array(32)) };
}
