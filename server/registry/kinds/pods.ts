// Pods (upstream registry/core/pod): a new pod is Pending with its QoS class; a pod on a node is
// deleted gracefully (its kubelet stops the containers first); binding (here) and eviction
// (eviction.ts) are subresources admitted as themselves that then write the pod.
import { findByKind } from "../../../schemas/registry";
import { validatePodEphemeralContainersUpdate } from "../../../schemas/types/pod-validation";
import { ApiError } from "../../errors";
import type { WriteCtx } from "../ctx";
import { timestamp } from "../meta";
import type { Registry } from "../registry";
import type { Strategy } from "../strategy";

export const podStrategy: Strategy = {
  prepareForCreate(_ctx, pod) {
    pod.status = { phase: "Pending", qosClass: podQosClass(pod) };
  },
  prepareForUpdate(_ctx, pod, old, sub) {
    // pods/ephemeralcontainers writes only spec.ephemeralContainers (upstream's
    // dropNonEphemeralContainerUpdates): everything else stays as stored.
    if (sub !== "ephemeralcontainers") return;
    const eph = pod.spec?.ephemeralContainers;
    const rv = pod.metadata?.resourceVersion;
    for (const k of Object.keys(pod)) delete pod[k];
    Object.assign(pod, structuredClone(old));
    if (rv !== undefined) pod.metadata.resourceVersion = rv;
    if (eph === undefined || eph === null) delete pod.spec.ephemeralContainers;
    else pod.spec.ephemeralContainers = eph;
  },
  validateSubresourceUpdate(sub, pod, old) {
    return sub === "ephemeralcontainers" ? validatePodEphemeralContainersUpdate(pod, old) : undefined;
  },
  gracePeriodSeconds(pod, opts) {
    const running = !!pod.spec?.nodeName && !["Succeeded", "Failed"].includes(pod.status?.phase);
    return running ? (opts.gracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30) : undefined;
  },
};

/** Pod QoS class from its containers' requests and limits (Kubernetes' GetPodQOS, simplified to cpu/memory). */
function podQosClass(pod: any): "Guaranteed" | "Burstable" | "BestEffort" {
  const containers = [...(pod?.spec?.initContainers ?? []), ...(pod?.spec?.containers ?? [])];
  let any = false;
  let guaranteed = true;
  for (const c of containers) {
    const req = c?.resources?.requests ?? {};
    const lim = c?.resources?.limits ?? {};
    for (const res of ["cpu", "memory"]) {
      if (req[res] !== undefined || lim[res] !== undefined) any = true;
      const l = lim[res];
      const q = req[res] ?? l;
      if (l === undefined || String(q) !== String(l)) guaranteed = false;
    }
  }
  if (!any) return "BestEffort";
  return guaranteed ? "Guaranteed" : "Burstable";
}

const pods = () => findByKind("v1", "Pod")!;

/**
 * pods/binding: assign a pod to a node, the scheduler's only write to a pod. The Binding is
 * admitted (CREATE pods/binding, or CREATE bindings when it came to the top-level `bindings`
 * resource, as upstream admits each); the pod is then updated without the pod's own admission,
 * retrying on conflicts like upstream's assignPod, and refused (409) when already assigned.
 */
export async function bindPod(reg: Registry, ctx: WriteCtx, ns: string, name: string, binding: any, via: "pods/binding" | "bindings" = "pods/binding"): Promise<any> {
  const node = binding?.target?.name;
  if (!node) throw new ApiError(422, "Invalid", `Binding "${name}" is invalid: target.name: Required value`);
  const admitted = via === "bindings" ? reg.admissionRequest(ctx, "CREATE", findByKind("v1", "Binding")!, "", ns, name, binding) : reg.admissionRequest(ctx, "CREATE", pods(), "binding", ns, name, binding);
  await reg.admit(admitted);
  const { obj } = await reg.update(
    ctx,
    pods(),
    ns,
    name,
    (pod) => {
      if (binding.metadata?.uid && binding.metadata.uid !== pod.metadata.uid) throw new ApiError(409, "Conflict", `Operation cannot be fulfilled on pods/binding "${name}": UID mismatch`);
      if (pod.spec?.nodeName) throw new ApiError(409, "Conflict", `Operation cannot be fulfilled on pods/binding "${name}": pod ${name} is already assigned to node "${pod.spec.nodeName}"`);
      pod.spec.nodeName = node;
      pod.status ??= {};
      const conds = (pod.status.conditions ?? []).filter((x: any) => x.type !== "PodScheduled");
      conds.push({ type: "PodScheduled", status: "True", lastProbeTime: null, lastTransitionTime: timestamp() });
      pod.status.conditions = conds;
      return pod;
    },
    { sub: "binding", retries: 10, internal: true },
  );
  return obj;
}
