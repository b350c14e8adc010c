// Joining a cluster with a K3s-style token: fetch the CA without trusting it, check it against
// the hash in the token, then ask (over verified TLS) for this node's own credentials.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

export interface NodeCredentials {
  server: string;
  caData: string;
  token: string;
  nodeName: string;
}

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
 * Obtain credentials for `nodeName`, reusing ones saved in `credFile` for the same server.
 * Throws an Error whose message says what to fix (wrong token, unreachable server).
 */
export async function joinCluster(o: { server: string; token: string; nodeName: string; credFile: string }): Promise<NodeCredentials> {
  const server = o.server.replace(/\/$/, "");
  if (existsSync(o.credFile)) {
    const saved = JSON.parse(readFileSync(o.credFile, "utf8")) as NodeCredentials;
    if (saved.server === server && saved.nodeName === o.nodeName) return saved;
  }
  const { caHash, secret } = parseToken(o.token);
  const caPem = await fetchPinnedCa(server, caHash);
  const r = await fetch(`${server}/v1-skiff/node-credentials`, {
    method: "POST",
    headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
    body: JSON.stringify({ nodeName: o.nodeName }),
    tls: { ca: caPem },
    signal: AbortSignal.timeout(10_000),
  } as RequestInit);
  if (r.status === 401 || r.status === 403) throw new Error("the server rejected the join token: use the token printed by `skiff server` (also in <data-dir>/server/token on the server)");
  if (!r.ok) throw new Error(`the server refused to issue node credentials: HTTP ${r.status} ${await r.text()}`);
  const body = (await r.json()) as { token: string; caData: string };
  const creds: NodeCredentials = { server, caData: body.caData, token: body.token, nodeName: o.nodeName };
  mkdirSync(dirname(o.credFile), { recursive: true, mode: 0o700 });
  writeFileSync(o.credFile, JSON.stringify(creds, null, 2), { mode: 0o600 });
  return creds;
}
