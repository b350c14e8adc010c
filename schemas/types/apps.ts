// apps/v1: Deployment, ReplicaSet, StatefulSet, DaemonSet, ControllerRevision.
// Field names, protobuf numbers and list semantics follow k8s.io/api/apps/v1/types.go; defaulting
// follows pkg/apis/apps/v1/defaults.go and validation pkg/apis/apps/validation.
// The workload helpers at the bottom (selector matching, pod-template defaulting and validation)
// are shared with batch.ts.
import { F, anyJson, atomicList, bool, int32, int64, intOrString, keyedList, obj, str, strEnum, time } from "../dsl";
import type { FieldError, ResourceDef } from "../registry";
import {
  forbidden,
  invalid,
  notSupported,
  qualifiedNameErrors,
  required,
  validateAnnotations,
  validateLabels,
  validateObjectMeta,
  validateObjectMetaUpdate,
} from "../validation";
import { LabelSelector, typeMetaFields } from "./meta";
import { PodTemplateSpec } from "./pod";
import { defaultPodSpec } from "./pod-defaults";
import { validatePodSpec } from "./pod-validation";
import { PersistentVolumeClaim, defaultPersistentVolumeClaim } from "./core";
import { deepEqual, isObj } from "../helpers/json";
import { labelSelectorMatches } from "../helpers/selectors";

const conditionStatus = strEnum(["True", "False", "Unknown"]);

// ---------------------------------------------------------------------------------------------
// Deployment

export const RollingUpdateDeployment = obj("io.k8s.api.apps.v1.RollingUpdateDeployment", () => ({
  maxUnavailable: F(intOrString, 1),
  maxSurge: F(intOrString, 2),
}));

export const DeploymentStrategy = obj("io.k8s.api.apps.v1.DeploymentStrategy", () => ({
  type: F(strEnum(["Recreate", "RollingUpdate"]), 1),
  rollingUpdate: F(RollingUpdateDeployment, 2),
}));

export const DeploymentSpec = obj("io.k8s.api.apps.v1.DeploymentSpec", () => ({
  replicas: F(int32, 1),
  selector: F(LabelSelector, 2, { required: true }),
  template: F(PodTemplateSpec, 3, { required: true }),
  strategy: F(DeploymentStrategy, 4, { patchStrategy: "retainKeys" }),
  minReadySeconds: F(int32, 5),
  revisionHistoryLimit: F(int32, 6),
  paused: F(bool, 7),
  progressDeadlineSeconds: F(int32, 9),
  podReplacementPolicy: F(strEnum(["TerminationComplete", "TerminationStarted"]), 10),
}));

export const DeploymentCondition = obj("io.k8s.api.apps.v1.DeploymentCondition", () => ({
  type: F(str, 1, { required: true }),
  status: F(conditionStatus, 2, { required: true }),
  lastUpdateTime: F(time, 6),
  lastTransitionTime: F(time, 7),
  reason: F(str, 4),
  message: F(str, 5),
}));

export const DeploymentStatus = obj("io.k8s.api.apps.v1.DeploymentStatus", () => ({
  observedGeneration: F(int64, 1),
  replicas: F(int32, 2),
  updatedReplicas: F(int32, 3),
  readyReplicas: F(int32, 7),
  availableReplicas: F(int32, 4),
  unavailableReplicas: F(int32, 5),
  terminatingReplicas: F(int32, 9),
  conditions: F(keyedList(DeploymentCondition, "type"), 6),
  collisionCount: F(int32, 8),
}));

export const Deployment = obj("io.k8s.api.apps.v1.Deployment", () => ({
  ...typeMetaFields(),
  spec: F(DeploymentSpec, 2),
  status: F(DeploymentStatus, 3),
}));

// ---------------------------------------------------------------------------------------------
// ReplicaSet

export const ReplicaSetSpec = obj("io.k8s.api.apps.v1.ReplicaSetSpec", () => ({
  replicas: F(int32, 1),
  minReadySeconds: F(int32, 4),
  selector: F(LabelSelector, 2, { required: true }),
  template: F(PodTemplateSpec, 3),
}));

export const ReplicaSetCondition = obj("io.k8s.api.apps.v1.ReplicaSetCondition", () => ({
  type: F(str, 1, { required: true }),
  status: F(conditionStatus, 2, { required: true }),
  lastTransitionTime: F(time, 3),
  reason: F(str, 4),
  message: F(str, 5),
}));

export const ReplicaSetStatus = obj("io.k8s.api.apps.v1.ReplicaSetStatus", () => ({
  replicas: F(int32, 1, { required: true }),
  fullyLabeledReplicas: F(int32, 2),
  readyReplicas: F(int32, 4),
  availableReplicas: F(int32, 5),
  terminatingReplicas: F(int32, 7),
  observedGeneration: F(int64, 3),
  conditions: F(keyedList(ReplicaSetCondition, "type"), 6),
}));

export const ReplicaSet = obj("io.k8s.api.apps.v1.ReplicaSet", () => ({
  ...typeMetaFields(),
  spec: F(ReplicaSetSpec, 2),
  status: F(ReplicaSetStatus, 3),
}));

// ---------------------------------------------------------------------------------------------
// StatefulSet

export const RollingUpdateStatefulSetStrategy = obj("io.k8s.api.apps.v1.RollingUpdateStatefulSetStrategy", () => ({
  partition: F(int32, 1),
  maxUnavailable: F(intOrString, 2),
}));

export const StatefulSetUpdateStrategy = obj("io.k8s.api.apps.v1.StatefulSetUpdateStrategy", () => ({
  type: F(strEnum(["OnDelete", "RollingUpdate"]), 1),
  rollingUpdate: F(RollingUpdateStatefulSetStrategy, 2),
}));

const retentionPolicyType = strEnum(["Delete", "Retain"]);
export const StatefulSetPersistentVolumeClaimRetentionPolicy = obj(
  "io.k8s.api.apps.v1.StatefulSetPersistentVolumeClaimRetentionPolicy",
  () => ({
    whenDeleted: F(retentionPolicyType, 1),
    whenScaled: F(retentionPolicyType, 2),
  }),
);

export const StatefulSetOrdinals = obj("io.k8s.api.apps.v1.StatefulSetOrdinals", () => ({
  start: F(int32, 1),
}));

export const StatefulSetSpec = obj("io.k8s.api.apps.v1.StatefulSetSpec", () => ({
  replicas: F(int32, 1),
  selector: F(LabelSelector, 2, { required: true }),
  template: F(PodTemplateSpec, 3, { required: true }),
  volumeClaimTemplates: F(atomicList(PersistentVolumeClaim), 4),
  serviceName: F(str, 5),
  podManagementPolicy: F(strEnum(["OrderedReady", "Parallel"]), 6),
  updateStrategy: F(StatefulSetUpdateStrategy, 7),
  revisionHistoryLimit: F(int32, 8),
  minReadySeconds: F(int32, 9),
  persistentVolumeClaimRetentionPolicy: F(StatefulSetPersistentVolumeClaimRetentionPolicy, 10),
  ordinals: F(StatefulSetOrdinals, 11),
}));

export const StatefulSetCondition = obj("io.k8s.api.apps.v1.StatefulSetCondition", () => ({
  type: F(str, 1, { required: true }),
  status: F(conditionStatus, 2, { required: true }),
  lastTransitionTime: F(time, 3),
  reason: F(str, 4),
  message: F(str, 5),
}));

export const StatefulSetStatus = obj("io.k8s.api.apps.v1.StatefulSetStatus", () => ({
  observedGeneration: F(int64, 1),
  replicas: F(int32, 2, { required: true }),
  readyReplicas: F(int32, 3),
  currentReplicas: F(int32, 4),
  updatedReplicas: F(int32, 5),
  currentRevision: F(str, 6),
  updateRevision: F(str, 7),
  collisionCount: F(int32, 9),
  conditions: F(keyedList(StatefulSetCondition, "type"), 10),
  availableReplicas: F(int32, 11),
}));

export const StatefulSet = obj("io.k8s.api.apps.v1.StatefulSet", () => ({
  ...typeMetaFields(),
  spec: F(StatefulSetSpec, 2),
  status: F(StatefulSetStatus, 3),
}));

// ---------------------------------------------------------------------------------------------
// DaemonSet

export const RollingUpdateDaemonSet = obj("io.k8s.api.apps.v1.RollingUpdateDaemonSet", () => ({
  maxUnavailable: F(intOrString, 1),
  maxSurge: F(intOrString, 2),
}));

export const DaemonSetUpdateStrategy = obj("io.k8s.api.apps.v1.DaemonSetUpdateStrategy", () => ({
  type: F(strEnum(["OnDelete", "RollingUpdate"]), 1),
  rollingUpdate: F(RollingUpdateDaemonSet, 2),
}));

export const DaemonSetSpec = obj("io.k8s.api.apps.v1.DaemonSetSpec", () => ({
  selector: F(LabelSelector, 1, { required: true }),
  template: F(PodTemplateSpec, 2, { required: true }),
  updateStrategy: F(DaemonSetUpdateStrategy, 3),
  minReadySeconds: F(int32, 4),
  revisionHistoryLimit: F(int32, 6),
}));

export const DaemonSetCondition = obj("io.k8s.api.apps.v1.DaemonSetCondition", () => ({
  type: F(str, 1, { required: true }),
  status: F(conditionStatus, 2, { required: true }),
  lastTransitionTime: F(time, 3),
  reason: F(str, 4),
  message: F(str, 5),
}));

export const DaemonSetStatus = obj("io.k8s.api.apps.v1.DaemonSetStatus", () => ({
  currentNumberScheduled: F(int32, 1, { required: true }),
  numberMisscheduled: F(int32, 2, { required: true }),
  desiredNumberScheduled: F(int32, 3, { required: true }),
  numberReady: F(int32, 4, { required: true }),
  observedGeneration: F(int64, 5),
  updatedNumberScheduled: F(int32, 6),
  numberAvailable: F(int32, 7),
  numberUnavailable: F(int32, 8),
  collisionCount: F(int32, 9),
  conditions: F(keyedList(DaemonSetCondition, "type"), 10),
}));

export const DaemonSet = obj("io.k8s.api.apps.v1.DaemonSet", () => ({
  ...typeMetaFields(),
  spec: F(DaemonSetSpec, 2),
  status: F(DaemonSetStatus, 3),
}));

// ---------------------------------------------------------------------------------------------
// ControllerRevision

export const ControllerRevision = obj("io.k8s.api.apps.v1.ControllerRevision", () => ({
  ...typeMetaFields(),
  data: F(anyJson, 2),
  revision: F(int64, 3, { required: true }),
}));

// =============================================================================================
// Shared workload helpers (also used by batch.ts).

/** Go's %#v of a map[string]string: `map[string]string{"a":"b"}`, keys sorted; nil map as `map[string]string(nil)`. */
export function formatGoStringMap(m: unknown): string {
  if (!isObj(m)) return "map[string]string(nil)";
  const keys = Object.keys(m).sort();
  return `map[string]string{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(String(m[k]))}`).join(", ")}}`;
}

export function selectorIsEmpty(sel: any): boolean {
  if (!isObj(sel)) return true;
  const ml = isObj(sel.matchLabels) ? Object.keys(sel.matchLabels).length : 0;
  const me = Array.isArray(sel.matchExpressions) ? sel.matchExpressions.length : 0;
  return ml + me === 0;
}

/** ValidateLabelSelector (apimachinery metav1 validation). */
export function validateLabelSelector(sel: any, path: string): FieldError[] {
  const errs: FieldError[] = [];
  if (!isObj(sel)) return errs;
  if (Array.isArray(sel.matchExpressions)) {
    sel.matchExpressions.forEach((e: any, i: number) => {
      const p = `${path}.matchExpressions[${i}]`;
      const vals = Array.isArray(e?.values) ? e.values : [];
      switch (e?.operator) {
        case "In":
        case "NotIn":
          if (vals.length === 0) errs.push(required(`${p}.values`, "must be specified when `operator` is 'In' or 'NotIn'"));
          break;
        case "Exists":
        case "DoesNotExist":
          if (vals.length > 0)
            errs.push(forbidden(`${p}.values`, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
          break;
        default:
          errs.push(invalid(`${p}.operator`, e?.operator ?? "", "not a valid selector operator"));
      }
      for (const m of qualifiedNameErrors(String(e?.key ?? ""))) errs.push(invalid(`${p}.key`, e?.key ?? "", m));
    });
  }
  errs.push(...validateLabels(sel.matchLabels, `${path}.matchLabels`));
  return errs;
}

/** ValidateNonnegativeField. */
export function nonNegative(errs: FieldError[], path: string, v: unknown): void {
  if (typeof v === "number" && v < 0) errs.push(invalid(path, v, "must be greater than or equal to 0"));
}

const percentRe = /^[0-9]+%$/;
const percentMsg =
  "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')";

/** ValidatePositiveIntOrPercent. */
export function validatePositiveIntOrPercent(errs: FieldError[], path: string, v: unknown): void {
  if (v === undefined || v === null) return;
  if (typeof v === "string") {
    if (!percentRe.test(v)) errs.push(invalid(path, v, percentMsg));
  } else if (typeof v === "number") nonNegative(errs, path, v);
  else errs.push(invalid(path, v, "must be an integer or percentage (e.g '5%')"));
}

/** The integer value of an int-or-percent (percent as its number), like getIntOrPercentValue. */
export function intOrPercentValue(v: unknown): number {
  if (typeof v === "number") return v;
  if (typeof v === "string") {
    const n = parseInt(v.replace(/%$/, ""), 10);
    return Number.isNaN(n) ? 0 : n;
  }
  return 0;
}

export function notMoreThan100Percent(errs: FieldError[], path: string, v: unknown): void {
  if (typeof v === "string" && percentRe.test(v) && intOrPercentValue(v) > 100)
    errs.push(invalid(path, v, "must not be greater than 100%"));
}

/** Apply Kubernetes' PodSpec defaulting to a pod template (SetDefaults_PodSpec & co, not SetDefaults_Pod). */
export function defaultPodTemplate(tpl: any): void {
  if (!isObj(tpl)) return;
  if (!isObj(tpl.spec)) tpl.spec = {};
  defaultPodSpec(tpl.spec);
}

/** Apply the core PersistentVolumeClaim defaulting (volumeMode, status.phase) to a claim template. */
export function defaultClaimTemplate(pvc: any): void {
  if (isObj(pvc)) defaultPersistentVolumeClaim(pvc);
}

/** ValidatePodTemplateSpec: template labels/annotations plus the pod spec, with errors under `path` ("spec.template"). */
export function validatePodTemplate(tpl: any, path: string): FieldError[] {
  const errs: FieldError[] = [];
  if (!isObj(tpl)) {
    errs.push(required(path));
    return errs;
  }
  const meta = isObj(tpl.metadata) ? tpl.metadata : {};
  errs.push(...validateLabels(meta.labels, `${path}.metadata.labels`));
  errs.push(...validateAnnotations(meta.annotations, `${path}.metadata.annotations`));
  errs.push(...validatePodSpec(isObj(tpl.spec) ? tpl.spec : {}, `${path}.spec`, { template: true }));
  return errs;
}

const activeDeadlineOwner: Record<string, string> = { deployment: "ReplicaSet", statefulset: "StatefulSet", daemonset: "DaemonSet", replicationcontroller: "ReplicationController" };

/** Selector required, valid and non-empty; template labels matched (ValidatePodTemplateSpecForReplicaSet). */
export function validateSelectorAndTemplate(
  errs: FieldError[],
  spec: any,
  kindName: string,
  opts: { restartAlwaysOnly: boolean; claimTemplates?: any[] },
): void {
  const sel = spec?.selector;
  if (!isObj(sel)) errs.push(required("spec.selector"));
  else {
    errs.push(...validateLabelSelector(sel, "spec.selector"));
    if (selectorIsEmpty(sel)) errs.push(invalid("spec.selector", sel, `empty selector is invalid for ${kindName}`));
  }
  const tpl = spec?.template;
  if (!isObj(tpl)) {
    errs.push(required("spec.template"));
    return;
  }
  const labels = tpl.metadata?.labels;
  if (isObj(sel) && !selectorIsEmpty(sel) && !labelSelectorMatches(sel, labels)) {
    errs.push({
      field: "spec.template.metadata.labels",
      type: "FieldValueInvalid",
      message: `Invalid value: ${formatGoStringMap(labels)}: \`selector\` does not match template \`labels\``,
    });
  }
  let checked = tpl;
  if (opts.claimTemplates?.length) {
    // StatefulSet pods mount their claim templates as volumes of the same name; validate the
    // spec as the pods will have it so those mounts resolve.
    const volumes: any[] = Array.isArray(tpl.spec?.volumes) ? [...tpl.spec.volumes] : [];
    for (const c of opts.claimTemplates) {
      const name = c?.metadata?.name;
      if (name && !volumes.some((v) => v?.name === name)) volumes.push({ name, persistentVolumeClaim: { claimName: name } });
    }
    checked = { ...tpl, spec: { ...(isObj(tpl.spec) ? tpl.spec : {}), volumes } };
  }
  errs.push(...validatePodTemplate(checked, "spec.template"));
  if (opts.restartAlwaysOnly) {
    const rp = tpl.spec?.restartPolicy ?? "";
    if (rp !== "Always") errs.push(notSupported("spec.template.spec.restartPolicy", rp, ["Always"]));
    if (tpl.spec?.activeDeadlineSeconds !== undefined && tpl.spec?.activeDeadlineSeconds !== null)
      errs.push(
        forbidden("spec.template.spec.activeDeadlineSeconds", `activeDeadlineSeconds in ${activeDeadlineOwner[kindName] ?? "ReplicaSet"} is not Supported`),
      );
  }
}

/** Metadata checks every kind shares: ObjectMeta on create, plus identity immutability on update. */
export function metaErrors(o: any, old: any, namespaced: boolean, nameKind: "subdomain" | "label" | "path" = "subdomain"): FieldError[] {
  const errs = validateObjectMeta(o?.metadata, namespaced, nameKind);
  if (old) errs.push(...validateObjectMetaUpdate(o?.metadata, old?.metadata));
  return errs;
}

const ensure = (o: any, k: string): any => {
  if (!isObj(o[k])) o[k] = {};
  return o[k];
};
export { ensure as ensureObj };

// =============================================================================================
// Defaulting (pkg/apis/apps/v1/defaults.go)

function defaultDeployment(o: any): void {
  const spec = ensure(o, "spec");
  spec.replicas ??= 1;
  const strategy = ensure(spec, "strategy");
  if (!strategy.type) strategy.type = "RollingUpdate";
  if (strategy.type === "RollingUpdate") {
    const ru = ensure(strategy, "rollingUpdate");
    ru.maxUnavailable ??= "25%";
    ru.maxSurge ??= "25%";
  }
  spec.revisionHistoryLimit ??= 10;
  spec.progressDeadlineSeconds ??= 600;
  if (isObj(spec.template)) defaultPodTemplate(spec.template);
}

function defaultReplicaSet(o: any): void {
  const spec = ensure(o, "spec");
  spec.replicas ??= 1;
  if (isObj(spec.template)) defaultPodTemplate(spec.template);
}

function defaultStatefulSet(o: any): void {
  const spec = ensure(o, "spec");
  if (!spec.podManagementPolicy) spec.podManagementPolicy = "OrderedReady";
  const us = ensure(spec, "updateStrategy");
  if (!us.type) {
    us.type = "RollingUpdate";
    if (!isObj(us.rollingUpdate)) us.rollingUpdate = {};
  }
  if (us.type === "RollingUpdate" && isObj(us.rollingUpdate)) us.rollingUpdate.partition ??= 0;
  const pvcPolicy = ensure(spec, "persistentVolumeClaimRetentionPolicy");
  if (!pvcPolicy.whenDeleted) pvcPolicy.whenDeleted = "Retain";
  if (!pvcPolicy.whenScaled) pvcPolicy.whenScaled = "Retain";
  spec.replicas ??= 1;
  spec.revisionHistoryLimit ??= 10;
  if (isObj(spec.template)) defaultPodTemplate(spec.template);
  if (Array.isArray(spec.volumeClaimTemplates)) for (const t of spec.volumeClaimTemplates) defaultClaimTemplate(t);
}

function defaultDaemonSet(o: any): void {
  const spec = ensure(o, "spec");
  const us = ensure(spec, "updateStrategy");
  if (!us.type) us.type = "RollingUpdate";
  if (us.type === "RollingUpdate") {
    const ru = ensure(us, "rollingUpdate");
    ru.maxUnavailable ??= 1;
    ru.maxSurge ??= 0;
  }
  spec.revisionHistoryLimit ??= 10;
  if (isObj(spec.template)) defaultPodTemplate(spec.template);
}

// =============================================================================================
// Validation (pkg/apis/apps/validation/validation.go)

function validateDeployment(o: any, old?: any): FieldError[] {
  const errs = metaErrors(o, old, true);
  const spec = o?.spec ?? {};
  nonNegative(errs, "spec.replicas", spec.replicas);
  validateSelectorAndTemplate(errs, spec, "deployment", { restartAlwaysOnly: true });
  const st = spec.strategy ?? {};
  switch (st.type) {
    case "Recreate":
      if (isObj(st.rollingUpdate))
        errs.push(forbidden("spec.strategy.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'"));
      break;
    case "RollingUpdate": {
      const ru = st.rollingUpdate;
      if (!isObj(ru)) errs.push(required("spec.strategy.rollingUpdate", "this should be defaulted and never be nil"));
      else {
        validatePositiveIntOrPercent(errs, "spec.strategy.rollingUpdate.maxUnavailable", ru.maxUnavailable);
        validatePositiveIntOrPercent(errs, "spec.strategy.rollingUpdate.maxSurge", ru.maxSurge);
        if (intOrPercentValue(ru.maxUnavailable) === 0 && intOrPercentValue(ru.maxSurge) === 0)
          errs.push(invalid("spec.strategy.rollingUpdate.maxUnavailable", ru.maxUnavailable ?? 0, "may not be 0 when `maxSurge` is 0"));
        notMoreThan100Percent(errs, "spec.strategy.rollingUpdate.maxUnavailable", ru.maxUnavailable);
      }
      break;
    }
    default:
      errs.push(notSupported("spec.strategy", st.type ?? "", ["Recreate", "RollingUpdate"]));
  }
  nonNegative(errs, "spec.minReadySeconds", spec.minReadySeconds);
  nonNegative(errs, "spec.revisionHistoryLimit", spec.revisionHistoryLimit);
  if (typeof spec.progressDeadlineSeconds === "number") {
    nonNegative(errs, "spec.progressDeadlineSeconds", spec.progressDeadlineSeconds);
    if (spec.progressDeadlineSeconds <= (spec.minReadySeconds ?? 0))
      errs.push(invalid("spec.progressDeadlineSeconds", spec.progressDeadlineSeconds, "must be greater than minReadySeconds"));
  }
  if (spec.podReplacementPolicy !== undefined && spec.podReplacementPolicy !== null &&
      !["TerminationComplete", "TerminationStarted"].includes(spec.podReplacementPolicy))
    errs.push(notSupported("spec.podReplacementPolicy", spec.podReplacementPolicy, ["TerminationComplete", "TerminationStarted"]));
  return errs;
}

function validateReplicaSet(o: any, old?: any): FieldError[] {
  const errs = metaErrors(o, old, true);
  const spec = o?.spec ?? {};
  nonNegative(errs, "spec.replicas", spec.replicas);
  nonNegative(errs, "spec.minReadySeconds", spec.minReadySeconds);
  validateSelectorAndTemplate(errs, spec, "deployment", { restartAlwaysOnly: true });
  return errs;
}

const stsMutableSpecFields = [
  "replicas",
  "ordinals",
  "template",
  "updateStrategy",
  "revisionHistoryLimit",
  "persistentVolumeClaimRetentionPolicy",
  "minReadySeconds",
];

function validateStatefulSet(o: any, old?: any): FieldError[] {
  const errs = metaErrors(o, old, true);
  const spec = o?.spec ?? {};
  const pmp = spec.podManagementPolicy;
  if (!pmp) errs.push(required("spec.podManagementPolicy"));
  else if (!["OrderedReady", "Parallel"].includes(pmp))
    errs.push(invalid("spec.podManagementPolicy", pmp, "must be 'OrderedReady' or 'Parallel'"));
  const us = spec.updateStrategy ?? {};
  switch (us.type) {
    case "OnDelete":
      if (isObj(us.rollingUpdate))
        errs.push(invalid("spec.updateStrategy.rollingUpdate", us.rollingUpdate, "only allowed for updateStrategy 'RollingUpdate'"));
      break;
    case "RollingUpdate":
      if (isObj(us.rollingUpdate)) {
        nonNegative(errs, "spec.updateStrategy.rollingUpdate.partition", us.rollingUpdate.partition);
        const mu = us.rollingUpdate.maxUnavailable;
        if (mu !== undefined && mu !== null) {
          validatePositiveIntOrPercent(errs, "spec.updateStrategy.rollingUpdate.maxUnavailable", mu);
          if (intOrPercentValue(mu) === 0)
            errs.push(invalid("spec.updateStrategy.rollingUpdate.maxUnavailable", mu, "cannot be 0"));
          notMoreThan100Percent(errs, "spec.updateStrategy.rollingUpdate.maxUnavailable", mu);
        }
      }
      break;
    case undefined:
    case "":
      errs.push(required("spec.updateStrategy"));
      break;
    default:
      errs.push(invalid("spec.updateStrategy", us, "must be 'RollingUpdate' or 'OnDelete'"));
  }
  const pol = spec.persistentVolumeClaimRetentionPolicy;
  if (isObj(pol)) {
    for (const k of ["whenDeleted", "whenScaled"]) {
      if (!["Retain", "Delete"].includes(pol[k]))
        errs.push(notSupported(`spec.persistentVolumeClaimRetentionPolicy.${k}`, pol[k] ?? "", ["Retain", "Delete"]));
    }
  }
  nonNegative(errs, "spec.replicas", spec.replicas);
  nonNegative(errs, "spec.minReadySeconds", spec.minReadySeconds);
  nonNegative(errs, "spec.revisionHistoryLimit", spec.revisionHistoryLimit);
  if (isObj(spec.ordinals)) nonNegative(errs, "spec.ordinals.start", spec.ordinals.start);
  validateSelectorAndTemplate(errs, spec, "statefulset", {
    restartAlwaysOnly: true,
    claimTemplates: Array.isArray(spec.volumeClaimTemplates) ? spec.volumeClaimTemplates : [],
  });
  if (Array.isArray(spec.volumeClaimTemplates)) {
    spec.volumeClaimTemplates.forEach((t: any, i: number) => {
      const name = t?.metadata?.name;
      if (!name) errs.push(required(`spec.volumeClaimTemplates[${i}].metadata.name`, "name or generateName is required"));
    });
  }
  if (old) {
    const a = { ...(spec ?? {}) };
    const b = { ...(old.spec ?? {}) };
    for (const k of stsMutableSpecFields) {
      delete a[k];
      delete b[k];
    }
    if (!deepEqual(a, b))
      errs.push(
        forbidden(
          "spec",
          "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
        ),
      );
  }
  return errs;
}

function validateDaemonSet(o: any, old?: any): FieldError[] {
  const errs = metaErrors(o, old, true);
  const spec = o?.spec ?? {};
  validateSelectorAndTemplate(errs, spec, "daemonset", { restartAlwaysOnly: true });
  nonNegative(errs, "spec.minReadySeconds", spec.minReadySeconds);
  nonNegative(errs, "spec.revisionHistoryLimit", spec.revisionHistoryLimit);
  const us = spec.updateStrategy ?? {};
  switch (us.type) {
    case "OnDelete":
      break;
    case "RollingUpdate": {
      const ru = us.rollingUpdate;
      if (!isObj(ru)) errs.push(required("spec.updateStrategy.rollingUpdate"));
      else {
        validatePositiveIntOrPercent(errs, "spec.updateStrategy.rollingUpdate.maxUnavailable", ru.maxUnavailable);
        validatePositiveIntOrPercent(errs, "spec.updateStrategy.rollingUpdate.maxSurge", ru.maxSurge);
        const mu = intOrPercentValue(ru.maxUnavailable);
        const ms = intOrPercentValue(ru.maxSurge);
        notMoreThan100Percent(errs, "spec.updateStrategy.rollingUpdate.maxUnavailable", ru.maxUnavailable);
        notMoreThan100Percent(errs, "spec.updateStrategy.rollingUpdate.maxSurge", ru.maxSurge);
        if (mu !== 0 && ms !== 0)
          errs.push(invalid("spec.updateStrategy.rollingUpdate.maxSurge", ru.maxSurge, "may not be set when maxUnavailable is non-zero"));
        if (mu === 0 && ms === 0)
          errs.push(required("spec.updateStrategy.rollingUpdate.maxUnavailable", "cannot be 0 when maxSurge is 0"));
      }
      break;
    }
    default:
      errs.push(notSupported("spec.updateStrategy.type", us.type ?? "", ["OnDelete", "RollingUpdate"]));
  }
  return errs;
}

function validateControllerRevision(o: any, old?: any): FieldError[] {
  const errs = metaErrors(o, old, true);
  if (o?.data === undefined || o?.data === null) errs.push(required("data"));
  nonNegative(errs, "revision", o?.revision);
  if (old && !deepEqual(o?.data, old?.data)) errs.push(invalid("data", "", "field is immutable"));
  return errs;
}

// ---------------------------------------------------------------------------------------------

const scale = { specReplicasPath: ".spec.replicas", statusReplicasPath: ".status.replicas", labelSelectorPath: ".spec.selector" };

export const resources: ResourceDef[] = [
  {
    group: "apps",
    version: "v1",
    kind: "Deployment",
    plural: "deployments",
    singular: "deployment",
    namespaced: true,
    shortNames: ["deploy"],
    categories: ["all"],
    type: Deployment,
    subresources: { status: true, scale },
    defaults: defaultDeployment,
    validate: validateDeployment,
    immutable: ["spec.selector"],
  },
  {
    group: "apps",
    version: "v1",
    kind: "ReplicaSet",
    plural: "replicasets",
    singular: "replicaset",
    namespaced: true,
    shortNames: ["rs"],
    categories: ["all"],
    type: ReplicaSet,
    subresources: { status: true, scale },
    fieldSelectors: { "status.replicas": (o) => String(o?.status?.replicas ?? 0) },
    defaults: defaultReplicaSet,
    validate: validateReplicaSet,
    immutable: ["spec.selector"],
  },
  {
    group: "apps",
    version: "v1",
    kind: "StatefulSet",
    plural: "statefulsets",
    singular: "statefulset",
    namespaced: true,
    shortNames: ["sts"],
    categories: ["all"],
    type: StatefulSet,
    subresources: { status: true, scale },
    defaults: defaultStatefulSet,
    validate: validateStatefulSet,
    immutable: ["spec.selector"],
  },
  {
    group: "apps",
    version: "v1",
    kind: "DaemonSet",
    plural: "daemonsets",
    singular: "daemonset",
    namespaced: true,
    shortNames: ["ds"],
    categories: ["all"],
    type: DaemonSet,
    subresources: { status: true },
    defaults: defaultDaemonSet,
    validate: validateDaemonSet,
    immutable: ["spec.selector"],
  },
  {
    group: "apps",
    version: "v1",
    kind: "ControllerRevision",
    plural: "controllerrevisions",
    singular: "controllerrevision",
    namespaced: true,
    type: ControllerRevision,
    validate: validateControllerRevision,
    noGeneration: true,
  },
];
