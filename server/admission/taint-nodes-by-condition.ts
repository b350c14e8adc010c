// TaintNodesByCondition: a new Node starts tainted node.kubernetes.io/not-ready:NoSchedule, so
// no pod is scheduled onto it before its kubelet reports Ready; the node lifecycle controller
// removes the taint once it does. A Node created already reporting Ready (a test fixture, a
// re-registration carrying its status) is not tainted: nothing would be waiting for.
import type { AdmissionPlugin } from "./types";

const NOT_READY = "node.kubernetes.io/not-ready";

export const taintNodesByCondition: AdmissionPlugin = {
  name: "TaintNodesByCondition",
  handles: (req) => req.operation === "CREATE" && req.subresource === "" && req.resource.group === "" && req.resource.plural === "nodes",
  admit(req) {
    const node = req.object;
    if ((node.status?.conditions ?? []).some((c: any) => c?.type === "Ready" && c.status === "True")) return;
    const spec = (node.spec ??= {});
    const taints: any[] = (spec.taints ??= []);
    if (!taints.some((t) => t?.key === NOT_READY && t.effect === "NoSchedule")) taints.push({ key: NOT_READY, effect: "NoSchedule" });
  },
};
