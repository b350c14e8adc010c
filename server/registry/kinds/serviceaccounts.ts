// serviceaccounts/token (TokenRequest): a token for the account, signed with the cluster's
// service-account key, admitted as a CREATE of the subresource.
import { SignJWT } from "jose";
import { findByKind } from "../../../schemas/registry";
import { notFound } from "../../errors";
import type { WriteCtx } from "../ctx";
import { timestamp } from "../meta";
import type { Registry } from "../registry";

const ISSUER = "https://kubernetes.default.svc.cluster.local";

export async function issueToken(reg: Registry, ctx: WriteCtx, key: Uint8Array, ns: string, name: string, tr: any): Promise<any> {
  const r = findByKind("v1", "ServiceAccount")!;
  const sa = reg.store.get("serviceaccounts", ns, name);
  if (!sa) throw notFound(r, name);
  await reg.admit(reg.admissionRequest(ctx, "CREATE", r, "token", ns, name, tr));
  const exp = Math.max(600, Math.min(Number(tr?.spec?.expirationSeconds ?? 3600), 86400 * 365));
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({ "kubernetes.io": { namespace: ns, serviceaccount: { name, uid: sa.obj.metadata.uid } } })
    .setProtectedHeader({ alg: "HS256" })
    .setIssuer(ISSUER)
    .setSubject(`system:serviceaccount:${ns}:${name}`)
    .setAudience(tr?.spec?.audiences?.length ? tr.spec.audiences : [ISSUER])
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + exp)
    .sign(key);
  return {
    kind: "TokenRequest",
    apiVersion: "authentication.k8s.io/v1",
    metadata: { name, namespace: ns, creationTimestamp: null },
    spec: { ...(tr?.spec ?? {}), expirationSeconds: exp },
    status: { token, expirationTimestamp: timestamp(new Date((now + exp) * 1000)) },
  };
}
