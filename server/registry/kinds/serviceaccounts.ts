// serviceaccounts/token (TokenRequest): admitted as a CREATE of the subresource (NodeRestriction
// checks a node's tokens there), then issued by server/auth/sa-tokens.ts.
import { findByKind } from "../../../schemas/registry";
import { issueServiceAccountToken, validateTokenRequest } from "../../auth/sa-tokens";
import { notFound } from "../../errors";
import type { WriteCtx } from "../ctx";
import type { Registry } from "../registry";

export async function issueToken(reg: Registry, ctx: WriteCtx, key: Uint8Array, ns: string, name: string, tr: any): Promise<any> {
  const r = findByKind("v1", "ServiceAccount")!;
  // Bad input is a 400/422 before admission sees it, as upstream decodes and validates first.
  validateTokenRequest(tr, name);
  if (!(await reg.store.getFresh("serviceaccounts", ns, name))) throw notFound(r, name);
  await reg.admit(reg.admissionRequest(ctx, "CREATE", r, "token", ns, name, tr));
  return issueServiceAccountToken(reg.store, key, ns, name, tr);
}
