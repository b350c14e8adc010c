// The sign-in form accepts a bare token or a whole kubeconfig (the admin one, say).
import { parse } from "yaml";

/** A token from the text: itself, or the current context's user token of a kubeconfig. */
export function tokenFrom(text: string): string {
  const t = text.trim();
  if (!/(^|\n)\s*(users|apiVersion|clusters)\s*:/.test(t)) return t.replace(/^Bearer\s+/i, "");
  let kc: any;
  try {
    kc = parse(t);
  } catch (e) {
    throw new Error(`this is not a readable kubeconfig: ${(e as Error).message}`);
  }
  const ctx = (kc?.contexts ?? []).find((c: any) => c.name === kc["current-context"]) ?? kc?.contexts?.[0];
  const users: any[] = kc?.users ?? [];
  const user = users.find((u) => u.name === ctx?.context?.user) ?? users.find((u) => u.user?.token);
  const token = user?.user?.token;
  if (!token) throw new Error("this kubeconfig's user has no token (a client certificate cannot be used here): paste a bearer token, e.g. from `kubectl create token NAME`");
  return String(token);
}
