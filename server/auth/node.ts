// The Node authorizer (plugin/pkg/auth/authorizer/node): a node may read only the secrets,
// configmaps, PVCs and PVs its own pods use, mint tokens only for their service accounts, and
// touch only its own Lease; everything else it needs is the static NODE_RULES. The pod → object
// references are indexed from the store's pods and kept current from applied events.
import { isOurIngress, ourClasses } from "../../lib/networking";
import type { Store } from "../store/store";
import type { Attributes, Decision, UserInfo } from "./attributes";
import { NODE_RULES } from "./policy";
import { rulesAllow } from "./rules";

const NODE_PREFIX = "system:node:";

/** system:node:NAME in group system:nodes → NAME (NodeIdentifier.NodeIdentity). */
export function nodeIdentity(u: UserInfo): string | undefined {
  if (!u.user.startsWith(NODE_PREFIX) || !u.groups.includes("system:nodes")) return undefined;
  const name = u.user.slice(NODE_PREFIX.length);
  return name || undefined;
}

type RefKind = "secrets" | "configmaps" | "persistentvolumeclaims" | "serviceaccounts";

/** The objects a pod uses, as "kind/ns/name" keys. */
export function podReferences(pod: any): string[] {
  const ns = pod?.metadata?.namespace ?? "";
  const out = new Set<string>();
  const add = (kind: RefKind, name: unknown) => {
    if (typeof name === "string" && name) out.add(`${kind}/${ns}/${name}`);
  };
  const spec = pod?.spec ?? {};
  add("serviceaccounts", spec.serviceAccountName || "default");
  for (const s of spec.imagePullSecrets ?? []) add("secrets", s?.name);
  for (const v of spec.volumes ?? []) {
    add("secrets", v?.secret?.secretName);
    add("configmaps", v?.configMap?.name);
    add("persistentvolumeclaims", v?.persistentVolumeClaim?.claimName);
    if (v?.ephemeral) add("persistentvolumeclaims", `${pod?.metadata?.name}-${v.name}`);
    for (const src of v?.projected?.sources ?? []) {
      add("secrets", src?.secret?.name);
      add("configmaps", src?.configMap?.name);
    }
    // Volume plugins that name a credentials secret.
    for (const k of Object.keys(v ?? {})) {
      const ref = v[k]?.secretRef ?? v[k]?.nodePublishSecretRef;
      if (ref && typeof ref === "object") add("secrets", ref.name);
    }
  }
  for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? []), ...(spec.ephemeralContainers ?? [])]) {
    for (const e of c?.env ?? []) {
      add("secrets", e?.valueFrom?.secretKeyRef?.name);
      add("configmaps", e?.valueFrom?.configMapKeyRef?.name);
    }
    for (const e of c?.envFrom ?? []) {
      add("secrets", e?.secretRef?.name);
      add("configmaps", e?.configMapRef?.name);
    }
  }
  return [...out];
}

/** node → (reference → how many of its pods use it), from pods with spec.nodeName. */
class NodeGraph {
  private byNode = new Map<string, Map<string, number>>();
  private pods = new Map<string, { node: string; refs: string[] }>();
  private sm: unknown;
  private built = false;

  constructor(private readonly store: Store) {
    store.onApplied((events) => {
      if (!this.built) return;
      for (const e of events) if (e.res === "pods") this.setPod(`${e.ns}/${e.name}`, e.type === "DELETED" ? undefined : e.obj);
    });
  }

  private setPod(key: string, pod: any): void {
    const old = this.pods.get(key);
    if (old) {
      const m = this.byNode.get(old.node);
      for (const r of old.refs) {
        const n = (m?.get(r) ?? 1) - 1;
        if (n > 0) m!.set(r, n);
        else m?.delete(r);
      }
      if (m && m.size === 0) this.byNode.delete(old.node);
      this.pods.delete(key);
    }
    const node = pod?.spec?.nodeName;
    if (!node) return;
    const refs = podReferences(pod);
    this.pods.set(key, { node, refs });
    let m = this.byNode.get(node);
    if (!m) this.byNode.set(node, (m = new Map()));
    for (const r of refs) m.set(r, (m.get(r) ?? 0) + 1);
  }

  private ensure(): void {
    if (this.built && this.sm === this.store.sm) return;
    // First use, or a snapshot replaced the state: rebuild from the pods.
    this.byNode.clear();
    this.pods.clear();
    this.sm = this.store.sm;
    for (const p of this.store.list("pods", undefined).items) this.setPod(`${p.metadata.namespace}/${p.metadata.name}`, p);
    this.built = true;
  }

  refs(node: string): Map<string, number> | undefined {
    this.ensure();
    return this.byNode.get(node);
  }
}

const LEASE_NS = "kube-node-lease";
type Verdict = Decision & { retry?: boolean };

export class NodeAuthorizer {
  private graph: NodeGraph;

  constructor(private readonly store: Store) {
    this.graph = new NodeGraph(store);
  }

  /** allowed, or not (then RBAC still gets its say). `retry` = a fresher replica might know the pod. */
  authorize(node: string, a: Attributes): Verdict {
    if (a.resourceRequest) {
      const r = `${a.apiGroup}/${a.resource}`;
      switch (r) {
        case "/secrets":
        case "/configmaps":
          return this.readNamespaced(node, a);
        case "/persistentvolumeclaims":
          if (a.subresource === "status") return a.verb === "update" || a.verb === "patch" ? this.related(node, a, "persistentvolumeclaims") : no("can only update persistentvolumeclaims/status");
          return a.verb === "get" && !a.subresource ? this.related(node, a, "persistentvolumeclaims") : no("can only get individual resources of this type");
        case "/persistentvolumes":
          return a.verb === "get" && !a.subresource ? this.persistentVolume(node, a) : no("can only get individual resources of this type");
        case "/serviceaccounts":
          if (a.verb !== "create" || !a.name) return no("can only create tokens for individual service accounts");
          if (a.subresource !== "token") return no("can only create token subresource of serviceaccount");
          return this.related(node, a, "serviceaccounts");
        case "coordination.k8s.io/leases":
          return lease(node, a);
        case "/nodes": {
          // NodeRestriction's intent: a node changes only its own Node object.
          const writes = a.subresource === "status" || ["update", "patch", "delete"].includes(a.verb);
          if (writes && a.name && a.name !== node) return no(`node "${node}" is not allowed to modify node "${a.name}"`);
          break;
        }
        case "/pods": {
          const what =
            a.subresource === "status" && (a.verb === "update" || a.verb === "patch")
              ? "update pod status for"
              : !a.subresource && a.verb === "delete"
                ? "delete"
                : a.subresource === "eviction" && a.verb === "create"
                  ? "evict"
                  : undefined;
          if (!what || !a.namespace || !a.name) break;
          // Only pods bound to another node are refused: a missing pod is the handler's 404.
          const pod = this.store.get("pods", a.namespace, a.name)?.obj;
          if (pod && pod.spec?.nodeName !== node) return { ...no(`node "${node}" can only ${what} pods with spec.nodeName set to itself`), retry: true };
          break;
        }
      }
    }
    if (rulesAllow(a, NODE_RULES)) return { allowed: true, reason: "" };
    return { allowed: false, reason: "" };
  }

  private readNamespaced(node: string, a: Attributes): Verdict {
    if (!["get", "list", "watch"].includes(a.verb)) return no(`can only read resources of this type`);
    if (a.subresource) return no(`cannot read subresource`);
    if (!a.name) return no(`No Object name found, expected ${a.resource === "secrets" ? "secret" : "configmap"} name`);
    if (a.resource === "secrets" && this.ingressTls(a.namespace, a.name)) return { allowed: true, reason: "" };
    return this.related(node, a, a.resource as RefKind);
  }

  /** A TLS Secret of an Ingress Skiff serves: every node's ingress proxy needs its certificate. */
  private ingressTls(ns: string | undefined, name: string): boolean {
    if (!ns) return false;
    const ours = ourClasses(this.store.list("networking.k8s.io/ingressclasses", undefined).items);
    return this.store.list("networking.k8s.io/ingresses", ns).items.some((i: any) => isOurIngress(i, ours) && (i.spec?.tls ?? []).some((t: any) => t.secretName === name));
  }

  private related(node: string, a: Attributes, kind: RefKind): Verdict {
    if (!a.namespace || !a.name) return no("can only access individual objects of this type");
    if (this.graph.refs(node)?.has(`${kind}/${a.namespace}/${a.name}`)) return { allowed: true, reason: "" };
    return { allowed: false, reason: `no relationship found between node '${node}' and this object`, retry: true };
  }

  private persistentVolume(node: string, a: Attributes): Verdict {
    for (const ref of this.graph.refs(node)?.keys() ?? []) {
      if (!ref.startsWith("persistentvolumeclaims/")) continue;
      const [, ns, name] = ref.split("/");
      const pvc = this.store.get("persistentvolumeclaims", ns!, name!)?.obj;
      if (pvc?.spec?.volumeName === a.name) return { allowed: true, reason: "" };
    }
    return { allowed: false, reason: `no relationship found between node '${node}' and this object`, retry: true };
  }
}

function no(reason: string): Verdict {
  return { allowed: false, reason };
}

function lease(node: string, a: Attributes): Verdict {
  if (!["get", "create", "update", "patch", "delete"].includes(a.verb)) return no("can only get, create, update, patch, or delete a node lease");
  if (a.namespace !== LEASE_NS) return no(`can only access leases in the ${LEASE_NS} namespace`);
  // create carries the name in the body only.
  if (a.verb !== "create" && a.name !== node) return no("can only access node lease with the same name as the requesting node");
  return { allowed: true, reason: "" };
}
