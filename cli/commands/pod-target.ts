// Which pod and container `logs` and `exec` mean: NAME, pod/NAME, or a workload (deploy/NAME,
// rs/, sts/, ds/, job/) resolved to one of its pods the way kubectl does; the container from -c,
// else the kubectl.kubernetes.io/default-container annotation, else the first one.
import { resourcePath } from "../../lib/client";
import { labelSelectorString } from "../../schemas/helpers/selectors";
import { err, resolveResource, UsageError, type Ctx } from "./common";

const POD_RES = { group: "", version: "v1", plural: "pods", namespaced: true };

export function podPath(ns: string, name: string, sub?: string): string {
  return resourcePath(POD_RES, ns, name, sub);
}

/** Gets the pod an argument names; workloads pick their first running pod (newest first). */
export async function resolvePod(ctx: Ctx, arg: string): Promise<any> {
  const slash = arg.indexOf("/");
  if (slash < 0) return ctx.client.get(podPath(ctx.namespace, arg));
  const r = resolveResource(arg.slice(0, slash));
  const name = arg.slice(slash + 1);
  if (!name) throw new UsageError(`resource name may not be empty in "${arg}"`);
  if (r.group === "" && r.plural === "pods") return ctx.client.get(podPath(ctx.namespace, name));
  if (!["deployments", "replicasets", "statefulsets", "daemonsets", "jobs"].includes(r.plural))
    throw new UsageError(`cannot select a pod from ${r.plural}: use pod/NAME or a deployment, replicaset, statefulset, daemonset or job`);
  const owner = await ctx.client.get(resourcePath(r, ctx.namespace, name));
  const selector = labelSelectorString(owner.spec?.selector);
  if (!selector) throw new UsageError(`${r.plural} "${name}" has no pod selector`);
  const list = await ctx.client.list(resourcePath(POD_RES, ctx.namespace), { labelSelector: selector });
  const pods: any[] = (list.items ?? []).filter((p: any) => !p.metadata?.deletionTimestamp);
  if (!pods.length) throw new Error(`no pods found for ${arg}`);
  // kubectl prefers running and ready pods, then the newest.
  const score = (p: any) => (p.status?.phase === "Running" ? 2 : 0) + ((p.status?.conditions ?? []).some((c: any) => c.type === "Ready" && c.status === "True") ? 1 : 0);
  pods.sort((a, b) => score(b) - score(a) || Date.parse(b.metadata.creationTimestamp ?? "") - Date.parse(a.metadata.creationTimestamp ?? ""));
  if (pods.length > 1) err(`Found ${pods.length} pods, using pod/${pods[0].metadata.name}\n`);
  return pods[0];
}

/** -c, else the default container, with kubectl's notice when the pod has more than one. */
export function pickContainer(pod: any, requested: string | undefined): string {
  const containers: string[] = (pod.spec?.containers ?? []).map((c: any) => c.name);
  const inits: string[] = (pod.spec?.initContainers ?? []).map((c: any) => c.name);
  const ephemeral: string[] = (pod.spec?.ephemeralContainers ?? []).map((c: any) => c.name);
  if (requested) {
    if (![...containers, ...inits, ...ephemeral].includes(requested)) throw new Error(`container ${requested} is not valid for pod ${pod.metadata.name}`);
    return requested;
  }
  const annotated = pod.metadata?.annotations?.["kubectl.kubernetes.io/default-container"];
  if (annotated && containers.includes(annotated)) return annotated;
  if (!containers.length) throw new Error(`pod ${pod.metadata.name} has no containers`);
  if (containers.length + inits.length + ephemeral.length > 1)
    err(`Defaulted container "${containers[0]}" out of: ${[...containers, ...inits.map((n) => `${n} (init)`), ...ephemeral.map((n) => `${n} (ephem)`)].join(", ")}\n`);
  return containers[0]!;
}
