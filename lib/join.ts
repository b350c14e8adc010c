// Joining a cluster with a K3s-style token: fetch the CA without trusting it, check it against
// the hash in the token, then ask (over verified TLS) for this node's own credentials, proving
// the machine with its node password (K3s: a random secret kept in the agent's data dir, bound
// to the node name by the first agent that registers it). Credentials are short-lived: the agent
// renews them with renewCredentials before they expire.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

export interface NodeCredentials {
  server: string;
  caData: string;
  token: string;
  nodeName: string;
  /** Unix seconds when the token expires. */
  expires: number;
}

/** <data-dir>/agent/node-password: made once (0600) and kept; it is this machine's proof. */
export function nodePassword(dataDir: string): string {
  const p = join(dataDir, "agent", "node-password");
  if (existsSync(p)) {
    const v = readFileSync(p, "utf8").trim();
    if (v.length >= 16) return v;
  }
  const v = randomBytes(32).toString("hex");
  mkdirSync(dirname(p), { recursive: true, mode: 0o700 });
  writeFileSync(p, v + "\n", { mode: 0o600 });
  return v;
}

/** Saved credentials are reused while more than this is left (else the agent joins again). */
const REUSE_MIN_SECONDS = 120;

function parseToken(token: string): { caHash?: string; secret: string } {
  const t = token.trim();
  const m = /^K10([0-9a-f]{64})::([^:]+):(.+)$/.exec(t);
  if (m) return { caHash: m[1], secret: m[3]! };
  if (t.startsWith("K10")) throw new Error("the token is malformed: expected K10<64 hex characters>::<user>:<secret>, as printed by `skiff server`");
  return { secret: t };
}

function sha256Der(pem: string): string {
  const b64 = pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, "").replace(/\s+/g, "");
  return new Bun.CryptoHasher("sha256").update(Buffer.from(b64, "base64")).digest("hex");
}

/**
 * The server's CA, fetched without trusting it and then checked against the token's hash
 * (when the token carries one): what every joining node or server does first.
 */
export async function fetchPinnedCa(server: string, caHash: string | undefined): Promise<string> {
  let caPem: string;
  try {
    // Not verified yet on purpose: the token's hash is what makes this CA trustworthy.
    const r = await fetch(`${server}/cacerts`, { tls: { rejectUnauthorized: false }, signal: AbortSignal.timeout(10_000) } as RequestInit);
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    caPem = await r.text();
  } catch (e) {
    throw new Error(`cannot reach the server at ${server} to fetch its CA: ${(e as Error).message}`);
  }
  if (!caPem.includes("BEGIN CERTIFICATE")) throw new Error(`${server}/cacerts did not return a certificate: is this a skiff server?`);
  if (caHash && sha256Der(caPem) !== caHash)
    throw new Error(`the server's CA does not match the token (hash ${sha256Der(caPem).slice(0, 12)}… ≠ ${caHash.slice(0, 12)}…): check --server and --token`);
  return caPem;
}

/**
 * Obtain credentials for `nodeName`, reusing ones saved in `credFile` for the same server while
 * they have time left. Throws an Error whose message says what to fix (wrong token, a name
 * another machine holds, unreachable server).
 */
export async function joinCluster(o: { server: string; token: string; nodeName: string; credFile: string; nodePassword: string }): Promise<NodeCredentials> {
  const server = o.server.replace(/\/$/, "");
  const saved = loadCredentials(o.credFile);
  if (saved && saved.server === server && saved.nodeName === o.nodeName && saved.expires - Date.now() / 1000 > REUSE_MIN_SECONDS) return saved;
  const { caHash, secret } = parseToken(o.token);
  const caPem = await fetchPinnedCa(server, caHash);
  const creds = await requestCredentials(server, caPem, secret, o.nodeName, o.nodePassword, "join");
  saveCredentials(o.credFile, creds);
  return creds;
}

/** New credentials for the same node, asked with the current ones (before they expire). */
export async function renewCredentials(cur: NodeCredentials, nodePassword: string, credFile?: string): Promise<NodeCredentials> {
  const creds = await requestCredentials(cur.server, cur.caData, cur.token, cur.nodeName, nodePassword, "renew");
  if (credFile) saveCredentials(credFile, creds);
  return creds;
}

export class CredentialsRefused extends Error {}

async function requestCredentials(server: string, caPem: string, bearer: string, nodeName: string, password: string, why: "join" | "renew"): Promise<NodeCredentials> {
  const r = await fetch(`${server}/v1-skiff/node-credentials`, {
    method: "POST",
    headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
    body: JSON.stringify({ nodeName, nodePassword: password }),
    tls: { ca: caPem },
    signal: AbortSignal.timeout(10_000),
  } as RequestInit);
  if (r.status === 401 || (r.status === 403 && why === "join" && !(await peekMessage(r)).includes("Node password rejected"))) {
    throw new CredentialsRefused(
      why === "join"
        ? "the server rejected the join token: use the agent token (or the server token) of this cluster, in <data-dir>/server/agent-token on its first server"
        : "the server no longer accepts this node's credentials (its node-password binding was removed, or they expired): the agent joins again with its token",
    );
  }
  if (r.status === 403) throw new CredentialsRefused(await peekMessage(r));
  if (!r.ok) throw new Error(`the server refused to issue node credentials: HTTP ${r.status} ${await peekMessage(r)}`);
  const body = (await r.json()) as { token: string; caData: string; expires: number };
  return { server, caData: body.caData || caPem, token: body.token, nodeName, expires: Number(body.expires) || 0 };
}

const peeked = new WeakMap<Response, Promise<string>>();
function peekMessage(r: Response): Promise<string> {
  let p = peeked.get(r);
  if (!p) {
    p = r.text().then((t) => {
      try {
        return String(JSON.parse(t).message ?? t);
      } catch {
        return t;
      }
    });
    peeked.set(r, p);
  }
  return p;
}

function loadCredentials(file: string): NodeCredentials | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const c = JSON.parse(readFileSync(file, "utf8")) as NodeCredentials;
    // Credentials from before they expired (no `expires`) are joined again.
    return typeof c.token === "string" && typeof c.expires === "number" ? c : undefined;
  } catch {
    return undefined;
  }
}

function saveCredentials(file: string, c: NodeCredentials): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, JSON.stringify(c, null, 2), { mode: 0o600 });
}
