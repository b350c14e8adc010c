// Servers sharing a datastore are one cluster: the CA, the token-signing key and the admin
// token live in the datastore, encrypted with the server token's secret (K3s' bootstrap data).
// The first server stores its own; every later one (started with the same --token) takes them
// before its PKI is set up, so all of them issue and accept the same credentials.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseJoinToken, randomSecret } from "../../auth/tokens";
import { credDir, rootKeyPath } from "../../encryption/keyring";
import { makeCa, save } from "../../tls/pki";
import type { Backend } from "./backend";

interface Secrets {
  caCert: string;
  caKey: string;
  tokenKey: string; // base64
  adminToken: string;
  /** base64 of cred/encryption-root-key (opens the secrets-encryption keyring). */
  encryptionRootKey: string;
}

const ITERATIONS = 100_000;

async function keyFor(secret: string, salt: Uint8Array<ArrayBuffer>): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), "PBKDF2", false, ["deriveKey"]);
  return crypto.subtle.deriveKey({ name: "PBKDF2", hash: "SHA-256", salt, iterations: ITERATIONS }, base, { name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
}

async function seal(s: Secrets, secret: string): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const data = await crypto.subtle.encrypt({ name: "AES-GCM", iv }, await keyFor(secret, salt), new TextEncoder().encode(JSON.stringify(s)));
  const b64 = (u: Uint8Array | ArrayBuffer) => Buffer.from(u as Uint8Array).toString("base64");
  return JSON.stringify({ v: 1, salt: b64(salt), iv: b64(iv), data: b64(data) });
}

async function open(blob: string, secret: string): Promise<Secrets> {
  const b = JSON.parse(blob);
  const u = (s: string) => Uint8Array.from(Buffer.from(s, "base64"));
  try {
    const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: u(b.iv) }, await keyFor(secret, u(b.salt)), u(b.data));
    return JSON.parse(new TextDecoder().decode(plain));
  } catch {
    throw new Error("the datastore holds another cluster's bootstrap data, or --token is not that cluster's server token: start this server with the server token of the cluster in the datastore (<data-dir>/server/token on its first server)");
  }
}

/**
 * Before runServer's PKI setup. Returns the server token secret to use: --token's, this data
 * dir's, or (a brand-new cluster only) a new one.
 */
export async function shareBootstrap(backend: Backend, serverDir: string, token: string | undefined): Promise<string> {
  const tlsDir = join(serverDir, "tls");
  const tokenPath = join(serverDir, "token");
  const secret = token ? parseJoinToken(token).secret : existsSync(tokenPath) ? parseJoinToken(readFileSync(tokenPath, "utf8")).secret : randomSecret();
  const local = (): Secrets | undefined => {
    const f = [join(tlsDir, "ca.crt"), join(tlsDir, "ca.key"), join(serverDir, "token-key"), join(serverDir, "admin-token"), rootKeyPath(serverDir)];
    if (!f.every((p) => existsSync(p))) return undefined;
    return {
      caCert: readFileSync(f[0]!, "utf8"),
      caKey: readFileSync(f[1]!, "utf8"),
      tokenKey: readFileSync(f[2]!).toString("base64"),
      adminToken: readFileSync(f[3]!, "utf8").trim(),
      encryptionRootKey: readFileSync(f[4]!).toString("base64"),
    };
  };
  const mine = local();
  let offer = mine;
  if (!offer) {
    const ca = await makeCa();
    const random = () => Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64");
    offer = { caCert: ca.cert, caKey: ca.key, tokenKey: random(), adminToken: randomSecret(), encryptionRootKey: random() };
  }
  const stored = await open(await backend.bootstrap(await seal(offer, secret)), secret);
  if (mine && mine.caCert === stored.caCert && mine.tokenKey === stored.tokenKey && mine.adminToken === stored.adminToken && mine.encryptionRootKey === stored.encryptionRootKey) return secret;
  mkdirSync(tlsDir, { recursive: true, mode: 0o700 });
  save(tlsDir, "ca", { cert: stored.caCert, key: stored.caKey });
  // Certificates of another CA would not be trusted by the cluster's clients: issue new ones.
  if (mine && mine.caCert !== stored.caCert) for (const n of ["serving", "admin"]) for (const ext of ["crt", "key"]) rmSync(join(tlsDir, `${n}.${ext}`), { force: true });
  writeFileSync(join(serverDir, "token-key"), Buffer.from(stored.tokenKey, "base64"), { mode: 0o600 });
  writeFileSync(join(serverDir, "admin-token"), stored.adminToken, { mode: 0o600 });
  mkdirSync(credDir(serverDir), { recursive: true, mode: 0o700 });
  writeFileSync(rootKeyPath(serverDir), Buffer.from(stored.encryptionRootKey, "base64"), { mode: 0o600 });
  return secret;
}
