// core/v1 kinds kept for older clients: ComponentStatus (deprecated upstream since v1.19, still
// served; computed when read from this server's health, never stored) and ReplicationController
// (the ReplicaSet's predecessor with an equality-based selector; run by the ReplicaSet controller).
// Field numbers follow k8s.io/api/core/v1/generated.proto; defaulting pkg/apis/core/v1/defaults.go,
// validation pkg/apis/core/validation (ValidateReplicationController).
import { F, int32, int64, keyedList, map, obj, str, strEnum, time } from "../dsl";
import type { FieldError, ResourceDef } from "../registry";
import { required, validateLabels } from "../validation";
import { defaultPodTemplate, ensureObj, metaErrors, nonNegative, validateSelectorAndTemplate } from "./apps";
import { typeMetaFields } from "./meta";
import { PodTemplateSpec } from "./pod";
import { coreName as n } from "./pod-common";

export const COMPONENT_STATUS_DEPRECATION = "v1 ComponentStatus is deprecated in v1.19+";

export const ComponentStatus = obj(n("ComponentStatus"), () => ({
  ...typeMetaFields(),
  conditions: F(
    keyedList(
      obj(n("ComponentCondition"), () => ({
        type: F(str, 1, { required: true }),
        status: F(str, 2, { required: true }),
        message: F(str, 3),
        error: F(str, 4),
      })),
      "type",
    ),
    2,
  ),
}));

export const ReplicationController = obj(n("ReplicationController"), () => ({
  ...typeMetaFields(),
  spec: F(
    obj(n("ReplicationControllerSpec"), () => ({
      replicas: F(int32, 1),
      minReadySeconds: F(int32, 4),
      selector: F(map(str), 2),
      template: F(PodTemplateSpec, 3),
    })),
    2,
  ),
  status: F(
    obj(n("ReplicationControllerStatus"), () => ({
      replicas: F(int32, 1, { required: true }),
      fullyLabeledReplicas: F(int32, 2),
      readyReplicas: F(int32, 4),
      availableReplicas: F(int32, 5),
      observedGeneration: F(int64, 3),
      conditions: F(
        keyedList(
          obj(n("ReplicationControllerCondition"), () => ({
            type: F(str, 1, { required: true }),
            status: F(strEnum(["True", "False", "Unknown"]), 2, { required: true }),
            lastTransitionTime: F(time, 3),
            reason: F(str, 4),
            message: F(str, 5),
          })),
          "type",
        ),
        6,
      ),
    })),
    3,
  ),
}));

const isMap = (v: unknown): v is Record<string, unknown> => !!v && typeof v === "object" && !Array.isArray(v);

/** An empty selector (and empty labels) default to the template's labels, as upstream does. */
function defaultReplicationController(o: any): void {
  const spec = ensureObj(o, "spec");
  spec.replicas ??= 1;
  const tl = isMap(spec.template) && isMap(spec.template.metadata?.labels) ? spec.template.metadata.labels : undefined;
  if (tl && Object.keys(tl).length) {
    if (!isMap(spec.selector) || !Object.keys(spec.selector).length) spec.selector = { ...tl };
    o.metadata ??= {};
    if (!isMap(o.metadata.labels) || !Object.keys(o.metadata.labels).length) o.metadata.labels = { ...tl };
  }
  if (isMap(spec.template)) defaultPodTemplate(spec.template);
}

function validateReplicationController(o: any, old?: any): FieldError[] {
  const errs = metaErrors(o, old, true);
  const spec = o?.spec ?? {};
  nonNegative(errs, "spec.replicas", spec.replicas);
  nonNegative(errs, "spec.minReadySeconds", spec.minReadySeconds);
  const sel = spec.selector;
  if (!isMap(sel) || !Object.keys(sel).length) {
    errs.push(required("spec.selector"));
    if (!isMap(spec.template)) errs.push(required("spec.template"));
    return errs;
  }
  const selErrs = validateLabels(sel, "spec.selector");
  errs.push(...selErrs);
  // The map is the matchLabels of a label selector: the shared check then covers the template
  // (labels matching the selector, restartPolicy Always, the pod spec).
  if (!selErrs.length) validateSelectorAndTemplate(errs, { ...spec, selector: { matchLabels: sel } }, "replicationcontroller", { restartAlwaysOnly: true });
  return errs;
}

export const resources: ResourceDef[] = [
  {
    group: "",
    version: "v1",
    kind: "ComponentStatus",
    plural: "componentstatuses",
    singular: "componentstatus",
    namespaced: false,
    shortNames: ["cs"],
    type: ComponentStatus,
    verbs: ["get", "list"],
    readOnly: "componentstatuses are this server's health checks, computed when read: they cannot be created, changed or deleted",
    deprecationWarning: COMPONENT_STATUS_DEPRECATION,
    noGeneration: true,
  },
  {
    group: "",
    version: "v1",
    kind: "ReplicationController",
    plural: "replicationcontrollers",
    singular: "replicationcontroller",
    namespaced: true,
    shortNames: ["rc"],
    categories: ["all"],
    type: ReplicationController,
    subresources: { status: true, scale: { specReplicasPath: ".spec.replicas", statusReplicasPath: ".status.replicas", labelSelectorPath: ".spec.selector" } },
    fieldSelectors: { "status.replicas": (o) => String(o?.status?.replicas ?? 0) },
    defaults: defaultReplicationController,
    validate: validateReplicationController,
  },
];
