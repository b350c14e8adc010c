// node.k8s.io/v1 RuntimeClass: which container runtime handler runs a pod (the RuntimeClass
// admission plugin resolves it, the agent passes the handler to CRI RunPodSandbox).
// Field numbers follow k8s.io/api/node/v1/generated.proto.
import { F, list, map, obj, quantity, str } from "../dsl";
import type { FieldError, ResourceDef } from "../registry";
import { dns1123LabelErrors, invalid, required } from "../validation";
import { quantityValue } from "../derive/quantity";
import { metaErrors } from "./apps";
import { typeMetaFields } from "./meta";
import { Toleration } from "./pod-common";

export const Overhead = obj("io.k8s.api.node.v1.Overhead", () => ({
  podFixed: F(map(quantity), 1),
}));

export const Scheduling = obj("io.k8s.api.node.v1.Scheduling", () => ({
  nodeSelector: F(map(str), 1),
  tolerations: F(list(Toleration, { listType: "atomic" }), 2),
}));

export const RuntimeClass = obj("io.k8s.api.node.v1.RuntimeClass", () => ({
  ...typeMetaFields(),
  handler: F(str, 2, { required: true }),
  overhead: F(Overhead, 3),
  scheduling: F(Scheduling, 4),
}));

function validateRuntimeClass(o: any, old?: any): FieldError[] {
  const errs = metaErrors(o, old, false);
  if (!o?.handler) errs.push(required("handler"));
  else for (const m of dns1123LabelErrors(String(o.handler))) errs.push(invalid("handler", o.handler, m));
  for (const [k, v] of Object.entries<any>(o?.overhead?.podFixed ?? {})) {
    let n = NaN;
    try {
      n = quantityValue(v);
    } catch {}
    if (!(n >= 0)) errs.push(invalid(`overhead.podFixed[${k}]`, v, "must be greater than or equal to 0"));
  }
  return errs;
}

export const resources: ResourceDef[] = [
  {
    group: "node.k8s.io",
    version: "v1",
    kind: "RuntimeClass",
    plural: "runtimeclasses",
    singular: "runtimeclass",
    namespaced: false,
    type: RuntimeClass,
    validate: validateRuntimeClass,
    immutable: ["handler"],
    noGeneration: true,
  },
];
