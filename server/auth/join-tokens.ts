// The two join tokens (K3s semantics): the server token joins control-plane servers (and may
// fetch the cluster's bootstrap secrets), the agent token only joins agents. Each server keeps
// its plain tokens in <data-dir>/server/{token,agent-token}; the cluster keeps only salted
// hashes, in the Secret kube-system/skiff-join-tokens, so a rotation on one server is in force
// on every server at once and no state file, Raft entry or snapshot holds a usable token.
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { ApiError } from "../errors";
import { constantTimeEqual, formatJoinToken, parseJoinToken, randomSecret } from "./tokens";

export type JoinRole = "server" | "agent";

export const JOIN_TOKENS_NS = "kube-system";
export const JOIN_TOKENS_SECRET = "skiff-join-tokens";
export const JOIN_TOKENS_TYPE = "skiff.io/join-tokens";

/** "sha256:<salt hex>:<digest hex>" of a token's secret part. */
export function hashSecret(secret: string, salt = randomBytes(16).toString("hex")): string {
  return `sha256:${salt}:${createHash("sha256").update(`${salt}:${secret}`).digest("hex")}`;
}

export function secretMatches(secret: string, stored: string | undefined): boolean {
  if (!stored) return false;
  const m = /^sha256:([0-9a-f]+):([0-9a-f]{64})$/.exec(stored);
  if (!m) return false;
  return constantTimeEqual(hashSecret(secret, m[1]!), stored);
}

/** The secret part of a bearer value that may be a whole K10 token. */
export function secretOf(token: string): string | undefined {
  try {
    return parseJoinToken(token).secret;
  } catch {
    return undefined;
  }
}

/** Hashes as stored in the Secret (base64 data, like any Secret). */
export function hashesFromSecret(obj: any): Partial<Record<JoinRole, string>> {
  const d = obj?.data ?? {};
  const dec = (v: unknown) => (typeof v === "string" ? Buffer.from(v, "base64").toString("utf8") : undefined);
  return { server: dec(d.server), agent: dec(d.agent) };
}

export function joinTokensSecret(hashes: Record<JoinRole, string>): any {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: JOIN_TOKENS_SECRET, namespace: JOIN_TOKENS_NS, labels: { "app.kubernetes.io/managed-by": "skiff" } },
    type: JOIN_TOKENS_TYPE,
    data: { server: Buffer.from(hashes.server).toString("base64"), agent: Buffer.from(hashes.agent).toString("base64") },
  };
}

/** Writes the cluster's join-token Secret through the write path. */
export interface JoinTokenWriter {
  create(obj: any): Promise<any>;
  update(ns: string, name: string, mutate: (cur: any) => any): Promise<any>;
}

export interface JoinTokenPaths {
  /** <data-dir>/server/token */
  server: string;
  /** <data-dir>/server/agent-token */
  agent: string;
}

/**
 * This server's token files and the cluster's hashes. The files hold whole K10 tokens (0600);
 * the hashes decide who may join, on every server.
 */
export class JoinTokens {
  private secrets: Partial<Record<JoinRole, string>> = {};

  constructor(
    private readonly store: { get(res: string, ns: string, name: string): { obj: any } | undefined },
    private readonly writer: () => JoinTokenWriter,
    readonly paths: JoinTokenPaths,
    private readonly caHash: string,
    private readonly log: (m: string) => void = (m) => console.log(m),
  ) {
    this.reload();
  }

  /** The plain secrets in this server's files (used until the cluster's hashes exist). */
  local(): Partial<Record<JoinRole, string>> {
    return this.secrets;
  }

  private reload(): void {
    for (const role of ["server", "agent"] as const) {
      try {
        this.secrets[role] = parseJoinToken(readFileSync(this.paths[role], "utf8")).secret;
      } catch {
        delete this.secrets[role];
      }
    }
  }

  private write(role: JoinRole, secret: string): string {
    const token = formatJoinToken(this.caHash, secret, role === "server" ? "server" : "node");
    mkdirSync(dirname(this.paths[role]), { recursive: true, mode: 0o700 });
    writeFileSync(this.paths[role], token + "\n", { mode: 0o600 });
    this.secrets[role] = secret;
    return token;
  }

  /**
   * After bootstrap: the first server of a cluster (no hashes yet) stores the hashes of its
   * tokens, making the agent token first (from --agent-token or random). A server whose files
   * no longer match the cluster's tokens (rotated elsewhere) says so.
   */
  async reconcile(agentTokenFlag?: string): Promise<void> {
    const rec = this.store.get("secrets", JOIN_TOKENS_NS, JOIN_TOKENS_SECRET)?.obj;
    if (!rec) {
      const server = this.secrets.server;
      if (!server) throw new Error(`no server token in ${this.paths.server}`);
      const agent = agentTokenFlag ? flagSecret(agentTokenFlag, this.caHash, "--agent-token") : (this.secrets.agent ?? randomSecret());
      if (agent === server) throw new Error("the agent token must differ from the server token, or it could join servers");
      if (agent !== this.secrets.agent) this.write("agent", agent);
      try {
        await this.writer().create(joinTokensSecret({ server: hashSecret(server), agent: hashSecret(agent) }));
      } catch (e) {
        // Another server of a new cluster stored them first: fine, its tokens are the cluster's.
        if ((e as { code?: number }).code !== 409) throw e;
      }
      return;
    }
    const h = hashesFromSecret(rec);
    if (agentTokenFlag && !secretMatches(flagSecret(agentTokenFlag, this.caHash, "--agent-token"), h.agent))
      this.log(`skiff: --agent-token is not the cluster's agent token and is ignored (change it with \`skiff token rotate --type agent\`)`);
    for (const role of ["server", "agent"] as const) {
      const s = this.secrets[role];
      if (s && !secretMatches(s, h[role])) this.log(`skiff: the ${role} token in ${this.paths[role]} is out of date (rotated on another server); that server's file holds the current one`);
    }
  }

  /** `skiff token rotate`: a new token (given or random) in force on every server at once. */
  async rotate(role: JoinRole, newToken?: string): Promise<{ file: string; token: string }> {
    const secret = newToken ? flagSecret(newToken, this.caHash, "the new token") : randomSecret();
    if (secret.length < 16) throw new ApiError(422, "Invalid", "the new token must be at least 16 characters long");
    const rec = this.store.get("secrets", JOIN_TOKENS_NS, JOIN_TOKENS_SECRET)?.obj;
    if (!rec) throw new ApiError(503, "ServiceUnavailable", "the cluster's join tokens are not stored yet: try again in a moment");
    const other = role === "server" ? "agent" : "server";
    if (secretMatches(secret, hashesFromSecret(rec)[other])) throw new ApiError(422, "Invalid", `the new ${role} token must differ from the ${other} token`);
    await this.writer().update(JOIN_TOKENS_NS, JOIN_TOKENS_SECRET, (cur) => {
      cur.data = { ...(cur.data ?? {}), [role]: Buffer.from(hashSecret(secret)).toString("base64") };
      return cur;
    });
    return { file: this.paths[role], token: this.write(role, secret) };
  }
}

function flagSecret(token: string, caHash: string, what: string): string {
  let t;
  try {
    t = parseJoinToken(token);
  } catch (e) {
    throw new ApiError(400, "BadRequest", `${what}: ${(e as Error).message}`);
  }
  if (t.caHash && t.caHash !== caHash) throw new ApiError(400, "BadRequest", `${what} pins a different CA than this cluster's: give its secret part only`);
  return t.secret;
}
