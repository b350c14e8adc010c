// Joining a cluster: fetching its secrets before the PKI is set up (prepareJoin), the peer
// certificate, and asking a member to add this server (postJoin).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fetchPinnedCa } from "../../../lib/join";
import { parseJoinToken } from "../../auth/tokens";
import { credDir, rootKeyPath } from "../../encryption/keyring";
import { issue, type KeyPairPem } from "../../tls/pki";
import { PEER_TLS_NAME, type TlsMaterial } from "../transport/grpc";
import type { MemberRecord } from "./members";

export interface JoinRequest {
  id: number;
  name: string;
  raftAddr: string;
  apiUrl: string;
}
export interface JoinResponse {
  clusterId: string;
  members: MemberRecord[];
}
export interface BootstrapSecrets {
  caCert: string;
  caKey: string;
  /** base64 of <serverDir>/token-key (signs node and service-account tokens). */
  tokenKey: string;
  adminToken: string;
  joinToken: string;
  /** base64 of <serverDir>/cred/encryption-root-key (opens the replicated secrets-encryption keyring). */
  encryptionRootKey: string;
}

/**
 * Before runServer's PKI setup: a server joining with --server/--token fetches the cluster's
 * CA (checked against the token's hash), CA key, token-signing key, admin token and join
 * token, so that every server issues and accepts the same credentials. No-op once present.
 */
export async function prepareJoin(o: { serverDir: string; server: string; token: string }): Promise<void> {
  const tlsDir = join(o.serverDir, "tls");
  if (existsSync(join(tlsDir, "ca.key")) && existsSync(join(o.serverDir, "token-key")) && existsSync(rootKeyPath(o.serverDir))) return;
  const server = o.server.replace(/\/$/, "");
  const { caHash, secret } = parseJoinToken(o.token);
  const caPem = await fetchPinnedCa(server, caHash);
  const r = await fetch(`${server}/v1-skiff/raft/bootstrap`, {
    method: "POST",
    headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
    body: "{}",
    tls: { ca: caPem },
    signal: AbortSignal.timeout(10_000),
  } as RequestInit);
  if (r.status === 401 || r.status === 403) throw new Error("the server rejected the join token: use the token printed by the first `skiff server` (<data-dir>/server/token)");
  if (!r.ok) throw new Error(`the server refused to share the cluster secrets: HTTP ${r.status} ${await r.text()}`);
  const s = (await r.json()) as BootstrapSecrets;
  mkdirSync(tlsDir, { recursive: true, mode: 0o700 });
  writeFileSync(join(tlsDir, "ca.crt"), s.caCert, { mode: 0o644 });
  writeFileSync(join(tlsDir, "ca.key"), s.caKey, { mode: 0o600 });
  writeFileSync(join(o.serverDir, "token-key"), Buffer.from(s.tokenKey, "base64"), { mode: 0o600 });
  writeFileSync(join(o.serverDir, "admin-token"), s.adminToken, { mode: 0o600 });
  writeFileSync(join(o.serverDir, "token"), s.joinToken, { mode: 0o600 });
  if (!s.encryptionRootKey) throw new Error("the server shared no secrets-encryption root key: it runs an older Skiff; upgrade it first");
  mkdirSync(credDir(o.serverDir), { recursive: true, mode: 0o700 });
  writeFileSync(rootKeyPath(o.serverDir), Buffer.from(s.encryptionRootKey, "base64"), { mode: 0o600 });
}

export async function peerTls(serverDir: string, name: string): Promise<TlsMaterial> {
  const dir = join(serverDir, "tls");
  const ca: KeyPairPem = { cert: readFileSync(join(dir, "ca.crt"), "utf8"), key: readFileSync(join(dir, "ca.key"), "utf8") };
  const crt = join(dir, "raft-peer.crt");
  const key = join(dir, "raft-peer.key");
  let kp: KeyPairPem;
  if (existsSync(crt) && existsSync(key)) kp = { cert: readFileSync(crt, "utf8"), key: readFileSync(key, "utf8") };
  else {
    kp = await issue(ca, { cn: `skiff-raft:${name}`, org: ["skiff:servers"], dnsNames: [PEER_TLS_NAME], server: true, client: true, years: 10 });
    writeFileSync(crt, kp.cert, { mode: 0o644 });
    writeFileSync(key, kp.key, { mode: 0o600 });
  }
  return { caPem: ca.cert, certPem: kp.cert, keyPem: kp.key };
}

export async function postJoin(server: string, token: string, caPem: string, body: JoinRequest): Promise<JoinResponse> {
  const { secret } = parseJoinToken(token);
  const deadline = Date.now() + 120_000;
  let last = "";
  while (Date.now() < deadline) {
    try {
      const r = await fetch(`${server.replace(/\/$/, "")}/v1-skiff/raft/join`, {
        method: "POST",
        headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
        body: JSON.stringify(body),
        tls: { ca: caPem },
        signal: AbortSignal.timeout(30_000),
      } as RequestInit);
      if (r.ok) return (await r.json()) as JoinResponse;
      last = `HTTP ${r.status} ${await r.text()}`;
      if (r.status !== 503 && r.status !== 504) throw new Error(`joining through ${server} failed: ${last}`);
    } catch (e) {
      if ((e as Error).message.startsWith("joining")) throw e;
      last = (e as Error).message;
    }
    await Bun.sleep(500);
  }
  throw new Error(`joining through ${server} failed: ${last}`);
}
