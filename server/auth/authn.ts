// Authentication: who is calling. Bearer tokens only: the admin token (kubeconfig), signed
// JWTs for nodes and service accounts, and the join secret (only for fetching node credentials).
import { SignJWT, jwtVerify } from "jose";
import { constantTimeEqual } from "./tokens";

export interface Identity {
  user: string;
  groups: string[];
  /** Only allowed to call the join endpoint. */
  joinOnly?: boolean;
}

export const ISSUER = "https://kubernetes.default.svc.cluster.local";

export class Authenticator {
  private cache = new Map<string, { id: Identity; until: number }>();

  constructor(
    private readonly adminToken: string,
    private readonly joinSecret: string,
    private readonly key: Uint8Array,
  ) {}

  async authenticate(header: string | undefined): Promise<Identity | undefined> {
    if (!header) return undefined;
    const m = /^Bearer\s+(.+)$/i.exec(header.trim());
    if (!m) return undefined;
    const token = m[1]!;
    if (constantTimeEqual(token, this.adminToken)) return { user: "system:admin", groups: ["system:masters", "system:authenticated"] };
    if (constantTimeEqual(token, this.joinSecret)) return { user: "system:node-joiner", groups: ["system:bootstrappers"], joinOnly: true };
    const hit = this.cache.get(token);
    const now = Date.now();
    if (hit && hit.until > now) return hit.id;
    try {
      const { payload } = await jwtVerify(token, this.key, { issuer: ISSUER });
      const sub = String(payload.sub ?? "");
      const groups = sub.startsWith("system:node:") ? ["system:nodes", "system:authenticated"] : sub.startsWith("system:serviceaccount:") ? ["system:serviceaccounts", `system:serviceaccounts:${sub.split(":")[2]}`, "system:authenticated"] : ["system:authenticated"];
      const id = { user: sub, groups };
      const until = Math.min(now + 60_000, (payload.exp ?? 0) * 1000 || now + 60_000);
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(token, { id, until });
      return id;
    } catch {
      return undefined;
    }
  }

  /** A long-lived credential for a node agent. */
  async nodeToken(nodeName: string): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setIssuer(ISSUER)
      .setSubject(`system:node:${nodeName}`)
      .setAudience(ISSUER)
      .setIssuedAt(now)
      .setExpirationTime(now + 10 * 365 * 24 * 3600)
      .sign(this.key);
  }
}
