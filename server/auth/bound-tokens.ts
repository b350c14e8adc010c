// What a signed token is bound to, and whether those objects still stand (upstream's
// pkg/serviceaccount claims validator): a service-account token names the account's UID and,
// from TokenRequest, the pod or secret it was made for; a node credential names the UID of the
// node-password Secret that binds the node name to its machine. When any of these is gone or
// was re-created (another UID), the token stops authenticating.
import type { Store } from "../store/store";

export const SA_PREFIX = "system:serviceaccount:";
export const NODE_PREFIX = "system:node:";
/** Claim of node credentials: { name, bindingUid }. */
export const NODE_CLAIM = "skiff.io/node";
export const NODE_PASSWORD_NS = "kube-system";
export const nodePasswordSecretName = (node: string) => `${node}.node-password.skiff`;

/** A pod or secret whose deletion started longer ago than this no longer vouches for a token. */
const DELETION_GRACE_MS = 60_000;

export interface BoundRef {
  kind: "Pod" | "Secret" | "Node";
  name: string;
  uid: string;
}

export interface Binding {
  ok: true;
  user: string;
  groups: string[];
  /** Store keys ("secrets/ns/name") whose deletion must drop a cached authentication. */
  deps: string[];
  extra?: Record<string, string[]>;
}

export type BindingResult = Binding | { ok: false; reason: string };

const fail = (reason: string): BindingResult => ({ ok: false, reason });

function gone(obj: any, now: number): boolean {
  const del = obj?.metadata?.deletionTimestamp;
  return !!del && Date.parse(del) < now - DELETION_GRACE_MS;
}

/** Checks the claims of a verified token against the objects it names. */
export function checkBindings(store: Store, payload: Record<string, any>, now = Date.now()): BindingResult {
  const sub = typeof payload.sub === "string" ? payload.sub : "";
  if (sub.startsWith(SA_PREFIX)) return checkServiceAccount(store, sub, payload["kubernetes.io"], now);
  if (sub.startsWith(NODE_PREFIX)) return checkNode(store, sub, payload[NODE_CLAIM]);
  return fail("the token names no service account or node");
}

function checkServiceAccount(store: Store, sub: string, k: any, now: number): BindingResult {
  const [ns, name, ...rest] = sub.slice(SA_PREFIX.length).split(":");
  if (!ns || !name || rest.length) return fail("malformed service account subject");
  if (!k || typeof k !== "object" || k.namespace !== ns || k.serviceaccount?.name !== name || typeof k.serviceaccount?.uid !== "string")
    return fail("the token lacks its service account claims");
  const deps = [`serviceaccounts/${ns}/${name}`];
  const sa = store.get("serviceaccounts", ns, name)?.obj;
  if (!sa) return fail(`service account ${ns}/${name} has been deleted`);
  if (sa.metadata?.uid !== k.serviceaccount.uid) return fail(`service account UID (${sa.metadata?.uid}) does not match claim (${k.serviceaccount.uid})`);
  const extra: Record<string, string[]> = {};
  for (const [kind, res] of [
    ["pod", "pods"],
    ["secret", "secrets"],
  ] as const) {
    const ref = k[kind];
    if (!ref) continue;
    if (typeof ref.name !== "string" || typeof ref.uid !== "string") return fail(`malformed ${kind} claim`);
    deps.push(`${res}/${ns}/${ref.name}`);
    const obj = store.get(res, ns, ref.name)?.obj;
    if (!obj || gone(obj, now)) return fail(`${kind} ${ns}/${ref.name} has been deleted`);
    if (obj.metadata?.uid !== ref.uid) return fail(`${kind} UID (${obj.metadata?.uid}) does not match claim (${ref.uid})`);
    if (kind === "pod") {
      extra["authentication.kubernetes.io/pod-name"] = [ref.name];
      extra["authentication.kubernetes.io/pod-uid"] = [ref.uid];
    }
  }
  if (k.node) {
    if (typeof k.node.name !== "string" || typeof k.node.uid !== "string") return fail("malformed node claim");
    deps.push(`nodes//${k.node.name}`);
    const node = store.get("nodes", "", k.node.name)?.obj;
    // A pod-bound token names the pod's node only as information (upstream checks it the same way).
    if (!k.pod && (!node || gone(node, now))) return fail(`node ${k.node.name} has been deleted`);
    if (!k.pod && node.metadata?.uid !== k.node.uid) return fail(`node UID (${node.metadata?.uid}) does not match claim (${k.node.uid})`);
  }
  return {
    ok: true,
    user: sub,
    groups: ["system:serviceaccounts", `system:serviceaccounts:${ns}`, "system:authenticated"],
    deps,
    ...(Object.keys(extra).length ? { extra } : {}),
  };
}

function checkNode(store: Store, sub: string, claim: any): BindingResult {
  const name = sub.slice(NODE_PREFIX.length);
  if (!name || !claim || claim.name !== name || typeof claim.bindingUid !== "string") return fail("the node credential lacks its binding claim (re-join the node)");
  const secretName = nodePasswordSecretName(name);
  const binding = store.get("secrets", NODE_PASSWORD_NS, secretName)?.obj;
  if (!binding) return fail(`node ${name} has no node-password binding (it was removed)`);
  if (binding.metadata?.uid !== claim.bindingUid) return fail(`node ${name} was bound again by another machine`);
  return { ok: true, user: sub, groups: ["system:nodes", "system:authenticated"], deps: [`secrets/${NODE_PASSWORD_NS}/${secretName}`] };
}
