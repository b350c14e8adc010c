// First-start state: the system namespaces, the `kubernetes` and `kube-system/kube-dns`
// Services, the `skiff` IngressClass and the default RBAC policy, created through the registry
// (as system:apiserver) so they are ordinary, replicated objects.
import { DEFAULT_CLASS_ANNOTATION, INGRESS_CLASS, INGRESS_CONTROLLER } from "../lib/networking";
import { findByKind } from "../schemas/registry";
import { SYSTEM_PRIORITY_CLASSES } from "../schemas/types/scheduling";
import { DEFAULT_FLOW_SCHEMAS, DEFAULT_PRIORITY_LEVELS } from "../schemas/types/flowcontrol";
import { checkObject } from "../schemas/derive/check";
import { ApiError } from "./errors";
import { APISERVER_USER, writeCtx, type WriteCtx } from "./registry/ctx";
import type { Registry } from "./registry/registry";
import { AUTOUPDATE_ANNOTATION, clusterRoleBindingObjects, clusterRoleObjects } from "./auth/policy";

const SYSTEM_NAMESPACES = ["default", "kube-system", "kube-public", "kube-node-lease"];

export interface BootstrapOptions {
  /** Make the `skiff` IngressClass (default class) when missing (not with --disable ingress). */
  ingressClass?: boolean;
}

export async function bootstrap(registry: Registry, opts: BootstrapOptions = {}): Promise<void> {
  const store = registry.store;
  const ctx = writeCtx(APISERVER_USER, "skiff-bootstrap");
  const nsRes = findByKind("v1", "Namespace")!;
  for (const name of SYSTEM_NAMESPACES) {
    if (store.get("namespaces", "", name)) continue;
    await createIgnoringExists(() => registry.create(ctx, nsRes, undefined, { apiVersion: "v1", kind: "Namespace", metadata: { name } }));
  }
  const svcRes = findByKind("v1", "Service")!;
  if (!store.get("services", "default", "kubernetes")) {
    const svc = checkObject(svcRes.type, {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "kubernetes", namespace: "default", labels: { component: "apiserver", provider: "kubernetes" } },
      spec: { clusterIP: "10.43.0.1", ports: [{ name: "https", port: 443, protocol: "TCP", targetPort: 6443 }], sessionAffinity: "None", type: "ClusterIP" },
    }, { strict: false }).value;
    await createIgnoringExists(() => registry.create(ctx, svcRes, "default", svc));
  }
  // The conventional cluster DNS address, for clients and images that hard-code it: no pods
  // behind it, every node's agent answers it with its own DNS.
  if (!store.get("services", "kube-system", "kube-dns")) {
    const svc = checkObject(svcRes.type, {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "kube-dns", namespace: "kube-system", labels: { "k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true", "kubernetes.io/name": "skiff-dns" } },
      spec: {
        clusterIP: "10.43.0.10",
        ports: [
          { name: "dns", port: 53, protocol: "UDP", targetPort: 53 },
          { name: "dns-tcp", port: 53, protocol: "TCP", targetPort: 53 },
        ],
        sessionAffinity: "None",
        type: "ClusterIP",
      },
    }, { strict: false }).value;
    await createIgnoringExists(() => registry.create(ctx, svcRes, "kube-system", svc));
  }
  if (opts.ingressClass === false) await removeOwnIngressClass(registry, ctx);
  else if (!store.get("networking.k8s.io/ingressclasses", "", INGRESS_CLASS)) {
    const r = findByKind("networking.k8s.io/v1", "IngressClass")!;
    const cls = checkObject(r.type, {
      apiVersion: "networking.k8s.io/v1",
      kind: "IngressClass",
      metadata: { name: INGRESS_CLASS, annotations: { [DEFAULT_CLASS_ANNOTATION]: "true" } },
      spec: { controller: INGRESS_CONTROLLER },
    }, { strict: false }).value;
    await createIgnoringExists(() => registry.create(ctx, r, undefined, cls));
  }
  await bootstrapRbac(registry, ctx);
  await bootstrapPriorityClasses(registry, ctx);
  await bootstrapFlowControl(registry, ctx);
}

/**
 * --disable ingress on a cluster that had it: the `skiff` IngressClass as this bootstrap makes it
 * goes (K3s deletes a disabled component's objects too), so Ingresses without a class are no
 * longer taken for Skiff's. A `skiff` class with other labels, annotations or spec was made or
 * changed by someone: kept.
 */
async function removeOwnIngressClass(registry: Registry, ctx: WriteCtx): Promise<void> {
  const cur = registry.store.get("networking.k8s.io/ingressclasses", "", INGRESS_CLASS)?.obj;
  if (!cur) return;
  const m = cur.metadata ?? {};
  const asMade =
    JSON.stringify(cur.spec) === JSON.stringify({ controller: INGRESS_CONTROLLER }) &&
    JSON.stringify(m.annotations ?? {}) === JSON.stringify({ [DEFAULT_CLASS_ANNOTATION]: "true" }) &&
    !Object.keys(m.labels ?? {}).length &&
    !m.finalizers?.length;
  if (!asMade) {
    console.log(`--disable ingress: the IngressClass ${INGRESS_CLASS} is not as Skiff made it (changed or made by someone): kept`);
    return;
  }
  const r = findByKind("networking.k8s.io/v1", "IngressClass")!;
  try {
    await registry.delete(ctx, r, "", INGRESS_CLASS, { preconditions: { uid: m.uid, resourceVersion: m.resourceVersion } });
    console.log(`--disable ingress: removed the IngressClass ${INGRESS_CLASS} an earlier start made`);
  } catch (e) {
    // Gone meanwhile, or changed since it was read (then it is someone's): nothing to do.
    if (!(e instanceof ApiError && (e.code === 404 || e.code === 409))) throw e;
  }
}

/** API Priority and Fairness' mandatory and suggested objects, with the status conditions upstream's controller sets. */
async function bootstrapFlowControl(registry: Registry, ctx: WriteCtx): Promise<void> {
  const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  const levels = findByKind("flowcontrol.apiserver.k8s.io/v1", "PriorityLevelConfiguration")!;
  const schemas = findByKind("flowcontrol.apiserver.k8s.io/v1", "FlowSchema")!;
  for (const o of DEFAULT_PRIORITY_LEVELS) {
    if (registry.store.get("flowcontrol.apiserver.k8s.io/prioritylevelconfigurations", "", o.metadata.name)) continue;
    await createIgnoringExists(() => registry.create(ctx, levels, undefined, structuredClone(o)));
  }
  for (const o of DEFAULT_FLOW_SCHEMAS) {
    if (registry.store.get("flowcontrol.apiserver.k8s.io/flowschemas", "", o.metadata.name)) continue;
    const level = o.spec.priorityLevelConfiguration.name;
    const status = { conditions: [{ type: "Dangling", status: "False", lastTransitionTime: now, reason: "Found", message: `This FlowSchema references the PriorityLevelConfiguration object named "${level}" and it exists` }] };
    await createIgnoringExists(() => registry.create(ctx, schemas, undefined, { ...structuredClone(o), status }));
  }
}

/** The two built-in PriorityClasses (kube-apiserver's post-start hook creates them too). */
async function bootstrapPriorityClasses(registry: Registry, ctx: WriteCtx): Promise<void> {
  const r = findByKind("scheduling.k8s.io/v1", "PriorityClass")!;
  for (const [name, c] of Object.entries(SYSTEM_PRIORITY_CLASSES)) {
    if (registry.store.get("scheduling.k8s.io/priorityclasses", "", name)) continue;
    await createIgnoringExists(() => registry.create(ctx, r, undefined, { metadata: { name }, value: c.value, description: c.description, preemptionPolicy: "PreemptLowerPriority" }));
  }
}

/**
 * The default ClusterRoles and ClusterRoleBindings: created when missing (a new cluster, or a
 * data dir from before RBAC was enforced), and, like the API server's RBAC reconciliation,
 * topped up with rules or subjects a newer Skiff added unless the object is annotated
 * rbac.authorization.kubernetes.io/autoupdate=false.
 */
async function bootstrapRbac(registry: Registry, ctx: WriteCtx): Promise<void> {
  const store = registry.store;
  const kinds: [string, any[], (cur: any, want: any) => boolean][] = [
    ["ClusterRole", clusterRoleObjects(), (cur, want) => addMissing(cur, want, "rules")],
    ["ClusterRoleBinding", clusterRoleBindingObjects(), (cur, want) => addMissing(cur, want, "subjects")],
  ];
  const jobs: Promise<void>[] = [];
  for (const [kind, objs, merge] of kinds) {
    const r = findByKind("rbac.authorization.k8s.io/v1", kind)!;
    const res = `${r.group}/${r.plural}`;
    for (const want of objs) {
      const name = want.metadata.name;
      const cur = store.get(res, "", name)?.obj;
      if (!cur) {
        const obj = checkObject(r.type, want, { strict: false }).value;
        jobs.push(createIgnoringExists(() => registry.create(ctx, r, undefined, obj)));
        continue;
      }
      if (cur.metadata?.annotations?.[AUTOUPDATE_ANNOTATION] === "false") continue;
      if (!merge(structuredClone(cur), want)) continue;
      jobs.push(
        registry.update(ctx, r, "", name, (latest) => (merge(latest, want), latest)).then(
          () => {},
          (e) => console.warn(`skiff: could not update the default ${kind} ${name}: ${(e as Error).message}`),
        ),
      );
    }
  }
  // In parallel: through Raft they share fsyncs (group commit).
  await Promise.all(jobs);
}

/** Appends the entries of want[field] that cur[field] lacks; true if anything changed. */
function addMissing(cur: any, want: any, field: "rules" | "subjects"): boolean {
  const have = new Set((cur[field] ?? []).map((x: unknown) => canonical(x)));
  const missing = (want[field] ?? []).filter((x: unknown) => !have.has(canonical(x)));
  if (!missing.length) return false;
  cur[field] = [...(cur[field] ?? []), ...structuredClone(missing)];
  return true;
}

function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (x && typeof x === "object" && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : 1))) : x));
}

async function createIgnoringExists(f: () => Promise<unknown>): Promise<void> {
  try {
    await f();
  } catch (e) {
    if (!(e instanceof ApiError && e.code === 409)) throw e;
  }
}
