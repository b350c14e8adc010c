// TokenRequest (serviceaccounts/token) and TokenReview, as kube-apiserver answers them: the
// request is validated field by field (a wrong type is a 400, a bad value a 422, never a 500),
// and the token is bound to the account's UID and, with spec.boundObjectRef, to a pod, secret
// or node, so it stops working when that object is gone (bound-tokens.ts checks it).
//
//   const tr = await issueServiceAccountToken(store, tokenKey, ns, name, body);   // the TokenRequest to return (201)
//   const status = await reviewToken(authenticator, body.spec);                  // TokenReview status
import { SignJWT } from "jose";
import { findByKind } from "../../schemas/registry";
import type { Store } from "../store/store";
import { ApiError, badRequest, invalid, notFound } from "../errors";
import { API_AUDIENCES, ISSUER, type Authenticator } from "./authn";

/** Upstream's limits: at least 10 minutes, at most 2^32 seconds. */
export const MIN_EXPIRATION_SECONDS = 600;
export const MAX_EXPIRATION_SECONDS = 2 ** 32;
const DEFAULT_EXPIRATION_SECONDS = 3600;

export interface TokenRequestSpec {
  audiences: string[];
  expirationSeconds: number;
  boundObjectRef?: { kind: "Pod" | "Secret" | "Node"; apiVersion: string; name: string; uid?: string };
}

const KIND = { kind: "TokenRequest", group: "authentication.k8s.io" };

/** Checks a TokenRequest body; type errors are 400 (a decode error upstream), values 422. */
export function validateTokenRequest(body: unknown, saName: string): TokenRequestSpec {
  if (body === null || typeof body !== "object" || Array.isArray(body)) throw badRequest("the request body must be a TokenRequest object");
  const spec = (body as any).spec ?? {};
  if (spec === null || typeof spec !== "object" || Array.isArray(spec)) throw badRequest("TokenRequest.spec: expected an object");
  let audiences = API_AUDIENCES;
  if (spec.audiences != null) {
    if (!Array.isArray(spec.audiences) || spec.audiences.some((a: unknown) => typeof a !== "string"))
      throw badRequest(`TokenRequest.spec.audiences: expected an array of strings, got ${JSON.stringify(spec.audiences).slice(0, 100)}`);
    if (spec.audiences.length) audiences = spec.audiences;
  }
  let exp = DEFAULT_EXPIRATION_SECONDS;
  if (spec.expirationSeconds != null) {
    const v = spec.expirationSeconds;
    if (typeof v !== "number" || !Number.isInteger(v))
      throw badRequest(`TokenRequest.spec.expirationSeconds: expected an integer number of seconds, got ${JSON.stringify(v).slice(0, 100)}`);
    if (v < MIN_EXPIRATION_SECONDS)
      throw invalid(KIND, saName, [{ field: "spec.expirationSeconds", type: "FieldValueInvalid", message: `Invalid value: ${v}: may not specify a duration less than 10 minutes` }]);
    if (v > MAX_EXPIRATION_SECONDS)
      throw invalid(KIND, saName, [{ field: "spec.expirationSeconds", type: "FieldValueInvalid", message: `Invalid value: ${v}: may not specify a duration larger than 2^32 seconds` }]);
    exp = v;
  }
  const out: TokenRequestSpec = { audiences, expirationSeconds: exp };
  const ref = spec.boundObjectRef;
  if (ref != null) {
    if (typeof ref !== "object" || Array.isArray(ref)) throw badRequest("TokenRequest.spec.boundObjectRef: expected an object");
    for (const f of ["kind", "apiVersion", "name", "uid"] as const)
      if (ref[f] != null && typeof ref[f] !== "string") throw badRequest(`TokenRequest.spec.boundObjectRef.${f}: expected a string`);
    if (!["Pod", "Secret", "Node"].includes(ref.kind)) throw badRequest(`cannot bind token to object of type ${JSON.stringify(ref.kind ?? "")}: use Pod, Secret or Node`);
    if ((ref.apiVersion ?? "v1") !== "v1") throw badRequest(`cannot bind token to ${ref.kind} of apiVersion ${JSON.stringify(ref.apiVersion)}: use v1`);
    if (!ref.name) throw invalid(KIND, saName, [{ field: "spec.boundObjectRef.name", type: "FieldValueRequired", message: "Required value" }]);
    out.boundObjectRef = { kind: ref.kind, apiVersion: "v1", name: ref.name, ...(ref.uid ? { uid: ref.uid } : {}) };
  }
  return out;
}

/** Issues the token of serviceaccounts/NAME/token: the TokenRequest object to answer with. */
export async function issueServiceAccountToken(store: Store, tokenKey: Uint8Array, ns: string, name: string, body: unknown): Promise<any> {
  const spec = validateTokenRequest(body, name);
  const sa = store.get("serviceaccounts", ns, name)?.obj;
  if (!sa) throw notFound(findByKind("v1", "ServiceAccount")!, name);
  const claims: Record<string, any> = { namespace: ns, serviceaccount: { name, uid: sa.metadata.uid } };
  const ref = spec.boundObjectRef;
  if (ref) {
    const kindRes = { Pod: "pods", Secret: "secrets", Node: "nodes" } as const;
    const res = kindRes[ref.kind];
    const obj = store.get(res, ref.kind === "Node" ? "" : ns, ref.name)?.obj;
    if (!obj) throw notFound(findByKind("v1", ref.kind)!, ref.name);
    if (ref.uid && ref.uid !== obj.metadata.uid)
      throw new ApiError(409, "Conflict", `the UID in the bound object reference (${ref.uid}) does not match the UID in record (${obj.metadata.uid}). The object might have been deleted and then recreated`);
    if (ref.kind === "Pod") {
      if ((obj.spec?.serviceAccountName || "default") !== name) throw badRequest(`cannot bind token for serviceaccount "${name}" to pod running with different serviceaccount name.`);
      claims.pod = { name: ref.name, uid: obj.metadata.uid };
      const nodeName = obj.spec?.nodeName;
      const node = nodeName ? store.get("nodes", "", nodeName)?.obj : undefined;
      if (node) claims.node = { name: nodeName, uid: node.metadata.uid };
    } else if (ref.kind === "Secret") claims.secret = { name: ref.name, uid: obj.metadata.uid };
    else claims.node = { name: ref.name, uid: obj.metadata.uid };
  }
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({ "kubernetes.io": claims })
    .setProtectedHeader({ alg: "HS256" })
    .setIssuer(ISSUER)
    .setSubject(`system:serviceaccount:${ns}:${name}`)
    .setAudience(spec.audiences)
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + spec.expirationSeconds)
    .setJti(crypto.randomUUID())
    .sign(tokenKey);
  return {
    kind: "TokenRequest",
    apiVersion: "authentication.k8s.io/v1",
    metadata: { name, namespace: ns, creationTimestamp: null },
    spec: { audiences: spec.audiences, expirationSeconds: spec.expirationSeconds, boundObjectRef: spec.boundObjectRef ?? null },
    status: { token, expirationTimestamp: new Date((now + spec.expirationSeconds) * 1000).toISOString().replace(/\.\d{3}Z$/, "Z") },
  };
}

/** TokenReview's status for spec { token, audiences }. */
export async function reviewToken(auth: Authenticator, spec: any): Promise<Record<string, unknown>> {
  const token = spec?.token;
  if (typeof token !== "string" || !token) throw badRequest("spec.token is required");
  if (spec.audiences != null && (!Array.isArray(spec.audiences) || spec.audiences.some((a: unknown) => typeof a !== "string")))
    throw badRequest("TokenReview.spec.audiences: expected an array of strings");
  const audiences: string[] = spec.audiences?.length ? spec.audiences : API_AUDIENCES;
  const r = await auth.review(token, audiences);
  if (!r.ok) return { authenticated: false, error: r.reason };
  // Join tokens are no user a webhook client should accept.
  if (r.id.joinOnly) return { authenticated: false, error: "join tokens only join nodes" };
  return {
    authenticated: true,
    user: { username: r.id.user, groups: r.id.groups, ...(r.id.extra ? { extra: r.id.extra } : {}) },
    audiences: r.audiences,
  };
}
