// Authentication: who is calling. Bearer tokens only: the admin token (kubeconfig), signed
// JWTs for nodes and service accounts (bound to objects that must still exist, see
// bound-tokens.ts), and the two join tokens, which may only call the join endpoints.
import { SignJWT, jwtVerify } from "jose";
import type { Store } from "../store/store";
import { checkBindings, NODE_CLAIM, NODE_PREFIX } from "./bound-tokens";
import { hashesFromSecret, JOIN_TOKENS_NS, JOIN_TOKENS_SECRET, secretMatches, secretOf, type JoinRole } from "./join-tokens";
import { constantTimeEqual } from "./tokens";

export interface Identity {
  user: string;
  groups: string[];
  /** A join token: only allowed to call the join endpoints. */
  joinOnly?: boolean;
  /** Which join token: "server" (joins servers and agents) or "agent" (joins agents only). */
  join?: JoinRole;
  extra?: Record<string, string[]>;
}

export const ISSUER = "https://kubernetes.default.svc.cluster.local";
/** The API server's own audience (kube-apiserver's --api-audiences defaults to the issuer). */
export const API_AUDIENCES = [ISSUER];

/** How long a verified token is trusted without looking again (deletions drop it at once). */
const CACHE_MS = 5_000;
const CACHE_MAX = 10_000;

export type Review = { ok: true; id: Identity; audiences: string[] } | { ok: false; reason: string };

interface Cached {
  id: Identity;
  audiences: string[];
  until: number;
  deps: string[];
}

export interface AuthenticatorOptions {
  adminToken: string;
  tokenKey: Uint8Array;
  /** This server's plain join secrets, used until the cluster's hashes are in the store. */
  localJoinSecrets: () => Partial<Record<JoinRole, string>>;
}

export class Authenticator {
  private cache = new Map<string, Cached>();
  private byDep = new Map<string, Set<string>>();
  private store?: Store;
  private storeState: unknown;
  readonly tokenKey: Uint8Array;

  constructor(private readonly o: AuthenticatorOptions) {
    this.tokenKey = o.tokenKey;
  }

  /** Bound tokens and the cluster's join-token hashes are checked against this store. */
  attach(store: Store): void {
    this.store = store;
    this.storeState = store.sm;
    store.onApplied((events) => {
      for (const e of events) {
        if (e.type !== "DELETED" && e.type !== "MODIFIED") continue;
        const dep = `${e.res}/${e.ns}/${e.name}`;
        const tokens = this.byDep.get(dep);
        if (!tokens) continue;
        // A modification matters only when it starts a deletion (deletionTimestamp).
        if (e.type === "MODIFIED" && !e.obj?.metadata?.deletionTimestamp) continue;
        for (const t of tokens) this.forget(t);
      }
    });
  }

  async authenticate(header: string | undefined): Promise<Identity | undefined> {
    if (!header) return undefined;
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header.trim());
    if (!m) return undefined;
    const r = await this.review(m[1]!);
    return r.ok ? r.id : undefined;
  }

  /**
   * Authenticates a bearer token (TokenReview uses this too). With `audiences`, a signed token
   * must be meant for one of them; the answer lists the ones it is meant for.
   */
  async review(token: string, audiences: string[] = API_AUDIENCES): Promise<Review> {
    if (constantTimeEqual(token, this.o.adminToken))
      return { ok: true, id: { user: "system:admin", groups: ["system:masters", "system:authenticated"] }, audiences };
    if (!looksLikeJwt(token)) {
      const role = this.joinRole(token);
      if (!role) return { ok: false, reason: "invalid bearer token" };
      return { ok: true, id: { user: `system:bootstrap:${role}`, groups: ["system:bootstrappers", `skiff:${role}-joiners`], joinOnly: true, join: role }, audiences };
    }
    if (this.store && this.store.sm !== this.storeState) {
      // A snapshot replaced the state: deletions in it were never seen as events.
      this.storeState = this.store.sm;
      this.cache.clear();
      this.byDep.clear();
    }
    const now = Date.now();
    const key = `${audiences.join(",")}\n${token}`;
    const hit = this.cache.get(key);
    if (hit && hit.until > now) return { ok: true, id: hit.id, audiences: hit.audiences };
    let payload: Record<string, any>;
    try {
      ({ payload } = await jwtVerify(token, this.o.tokenKey, { issuer: ISSUER, algorithms: ["HS256"] }));
    } catch (e) {
      return { ok: false, reason: `invalid bearer token: ${(e as Error).message}` };
    }
    const aud = Array.isArray(payload.aud) ? payload.aud.map(String) : typeof payload.aud === "string" ? [payload.aud] : [];
    const wanted = aud.filter((a) => audiences.includes(a));
    if (!wanted.length) return { ok: false, reason: `token audiences ${JSON.stringify(aud)} are invalid for the target audiences ${JSON.stringify(audiences)}` };
    if (!this.store) return { ok: false, reason: "the server is starting" };
    let b = checkBindings(this.store, payload, now);
    if (!b.ok) {
      // This replica may not have applied the object the token was just made for.
      await Promise.race([this.store.readBarrier().catch(() => {}), Bun.sleep(5000)]);
      b = checkBindings(this.store, payload, Date.now());
      if (!b.ok) return { ok: false, reason: b.reason };
    }
    const id: Identity = { user: b.user, groups: b.groups, ...(b.extra ? { extra: b.extra } : {}) };
    this.remember(key, { id, audiences: wanted, until: Math.min(now + CACHE_MS, typeof payload.exp === "number" ? payload.exp * 1000 : now), deps: b.deps });
    return { ok: true, id, audiences: wanted };
  }

  /** Which join token this is: the cluster's hashes once stored, this server's files before. */
  joinRole(token: string): JoinRole | undefined {
    const secret = secretOf(token);
    if (!secret) return undefined;
    const rec = this.store?.get("secrets", JOIN_TOKENS_NS, JOIN_TOKENS_SECRET)?.obj;
    if (rec) {
      const h = hashesFromSecret(rec);
      if (secretMatches(secret, h.server)) return "server";
      if (secretMatches(secret, h.agent)) return "agent";
      return undefined;
    }
    const local = this.o.localJoinSecrets();
    if (local.server && constantTimeEqual(secret, local.server)) return "server";
    if (local.agent && constantTimeEqual(secret, local.agent)) return "agent";
    return undefined;
  }

  /** A node credential, valid for `ttlSeconds`, bound to the node's node-password Secret. */
  async nodeToken(nodeName: string, bindingUid: string, ttlSeconds: number): Promise<{ token: string; expires: number }> {
    const now = Math.floor(Date.now() / 1000);
    const exp = now + ttlSeconds;
    const token = await new SignJWT({ [NODE_CLAIM]: { name: nodeName, bindingUid } })
      .setProtectedHeader({ alg: "HS256" })
      .setIssuer(ISSUER)
      .setSubject(`${NODE_PREFIX}${nodeName}`)
      .setAudience(API_AUDIENCES)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(exp)
      .setJti(crypto.randomUUID())
      .sign(this.o.tokenKey);
    return { token, expires: exp };
  }

  private remember(key: string, c: Cached): void {
    if (this.cache.size >= CACHE_MAX) {
      this.cache.clear();
      this.byDep.clear();
    }
    this.cache.set(key, c);
    for (const d of c.deps) {
      let s = this.byDep.get(d);
      if (!s) this.byDep.set(d, (s = new Set()));
      s.add(key);
    }
  }

  private forget(key: string): void {
    const c = this.cache.get(key);
    if (!c) return;
    this.cache.delete(key);
    for (const d of c.deps) {
      const s = this.byDep.get(d);
      s?.delete(key);
      if (s && !s.size) this.byDep.delete(d);
    }
  }
}

/** header.payload.signature, each base64url. */
function looksLikeJwt(t: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(t);
}
