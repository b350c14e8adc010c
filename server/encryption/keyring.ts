// The cluster's secrets-encryption keyring. It lives in the replicated state as an internal
// object (KEYRING_RES, not served by the API) whose keys are sealed with the root key, a
// 32-byte file in <data-dir>/server/cred/ that joining servers fetch with the bootstrap data
// (server token only). Because the keyring travels in the Raft log, a server applies a new key
// before any secret written with it: log order is the "prepare, restart every server" step of
// K3s' manual rotation. Each server also mirrors the opened keyring to
// cred/encryption-config.json (0600) in upstream's EncryptionConfiguration format.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { open, PROVIDER, seal, type DataKey } from "./envelope";

export const KEYRING_RES = "skiff.io/encryptionkeyring";
export const KEYRING_NAME = "keyring";
/** One record per server: the keyring generation it has loaded (status "Server Encryption Hashes"). */
export const SERVER_STATE_RES = "skiff.io/encryptionservers";

/** K3s' rotation stages, as `secrets-encrypt status` prints them. */
export type Stage = "start" | "prepare" | "rotate" | "reencrypt_request" | "reencrypt_active" | "reencrypt_finished";

export interface Keyring {
  generation: number;
  /** Write new secrets encrypted (true) or in clear (the identity provider first). */
  enabled: boolean;
  stage: Stage;
  /** Name of the key new writes use; the others still decrypt. */
  active: string;
  keys: DataKey[];
}

/** The stored object: key names and stage in clear, the key material sealed with the root key. */
export function keyringObject(k: Keyring, root: DataKey): any {
  const material = JSON.stringify(k.keys.map((d) => ({ name: d.name, secret: Buffer.from(d.secret).toString("base64") })));
  return {
    metadata: { name: KEYRING_NAME },
    spec: { generation: k.generation, enabled: k.enabled, stage: k.stage, active: k.active, keyNames: k.keys.map((d) => d.name), sealed: seal(root, new TextEncoder().encode(material)) },
  };
}

export function keyringFrom(obj: any, root: DataKey): Keyring {
  const s = obj?.spec ?? {};
  const material = JSON.parse(new TextDecoder().decode(open(String(s.sealed), (n) => (n === root.name ? root : undefined)))) as { name: string; secret: string }[];
  return {
    generation: Number(s.generation) || 0,
    enabled: s.enabled !== false,
    stage: s.stage ?? "start",
    active: String(s.active),
    keys: material.map((m) => ({ name: m.name, secret: new Uint8Array(Buffer.from(m.secret, "base64")) })),
  };
}

/** What `status` compares across servers: a digest of the keys and which is active. */
export function keyringHash(k: Keyring): string {
  const h = createHash("sha256");
  h.update(`${k.enabled}\n${k.active}\n`);
  for (const d of k.keys) h.update(`${d.name}\n`).update(d.secret);
  return h.digest("hex").slice(0, 32);
}

export const ROOT_KEY_NAME = "root";
export const credDir = (serverDir: string) => join(serverDir, "cred");
export const rootKeyPath = (serverDir: string) => join(credDir(serverDir), "encryption-root-key");

/** The root key, made on a cluster's first server; a joining server has fetched it (prepareJoin). */
export function loadOrCreateRootKey(serverDir: string, create: boolean): DataKey | undefined {
  const p = rootKeyPath(serverDir);
  if (!existsSync(p)) {
    if (!create) return undefined;
    mkdirSync(credDir(serverDir), { recursive: true, mode: 0o700 });
    writeFileSync(p, crypto.getRandomValues(new Uint8Array(32)), { mode: 0o600 });
  }
  const secret = new Uint8Array(readFileSync(p));
  if (secret.length !== 32) throw new Error(`${p} must hold 32 bytes (the secrets-encryption root key); restore it from another server's ${p}`);
  return { name: ROOT_KEY_NAME, secret };
}

/** cred/encryption-config.json: the opened keyring in upstream's format, for people and tools. */
export function writeEncryptionConfig(serverDir: string, k: Keyring): void {
  const active = k.keys.filter((d) => d.name === k.active);
  const rest = k.keys.filter((d) => d.name !== k.active);
  const keys = [...active, ...rest].map((d) => ({ name: d.name, secret: Buffer.from(d.secret).toString("base64") }));
  const providers: any[] = [{ [PROVIDER]: { keys } }];
  // Disabled: writes in clear (identity first), old envelopes still readable.
  if (k.enabled) providers.push({ identity: {} });
  else providers.unshift({ identity: {} });
  const cfg = { kind: "EncryptionConfiguration", apiVersion: "apiserver.config.k8s.io/v1", resources: [{ resources: ["secrets"], providers }] };
  mkdirSync(credDir(serverDir), { recursive: true, mode: 0o700 });
  const p = join(credDir(serverDir), "encryption-config.json");
  writeFileSync(`${p}.tmp`, JSON.stringify(cfg, null, 2) + "\n", { mode: 0o600 });
  renameSync(`${p}.tmp`, p);
}
