// DefaultTolerationSeconds: a pod that does not tolerate the not-ready and unreachable NoExecute
// taints gets tolerations for them with tolerationSeconds 300, so a node going away evicts its
// pods after five minutes (the node lifecycle controller's taint manager does the evicting).
import type { AdmissionPlugin } from "./types";

const KEYS = ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"];

export function defaultTolerationSeconds(seconds = 300): AdmissionPlugin {
  return {
    name: "DefaultTolerationSeconds",
    handles: (req) => req.operation === "CREATE" && req.subresource === "" && req.resource.group === "" && req.resource.plural === "pods",
    admit(req) {
      const spec = (req.object.spec ??= {});
      const tols: any[] = spec.tolerations ?? [];
      const covered = (key: string) => tols.some((t) => (t?.key === key || (!t?.key && t?.operator === "Exists")) && (!t?.effect || t.effect === "NoExecute"));
      const add = KEYS.filter((k) => !covered(k)).map((key) => ({ key, operator: "Exists", effect: "NoExecute", tolerationSeconds: seconds }));
      if (add.length) spec.tolerations = [...tols, ...add];
    },
  };
}
