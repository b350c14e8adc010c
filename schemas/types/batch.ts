// batch/v1: Job and CronJob. Field names, protobuf numbers and list semantics follow
// k8s.io/api/batch/v1/types.go; defaulting pkg/apis/batch/v1/defaults.go plus the selector
// generation of pkg/registry/batch/job/strategy.go; validation pkg/apis/batch/validation.
import { F, atomicList, bool, int32, int64, list, obj, str, strEnum, time } from "../dsl";
import type { FieldError, ResourceDef } from "../registry";
import { forbidden, invalid, notSupported, required } from "../validation";
import { LabelSelector, ObjectMeta, typeMetaFields } from "./meta";
import { ObjectReference, PodTemplateSpec } from "./pod";
import {
  defaultPodTemplate,
  ensureObj,
  formatGoStringMap,
  metaErrors,
  nonNegative,
  validateLabelSelector,
  validatePodTemplate,
} from "./apps";
import { labelSelectorMatches } from "../helpers/selectors";
import { deepEqual, isObj } from "../helpers/json";

const conditionStatus = strEnum(["True", "False", "Unknown"]);

// ---------------------------------------------------------------------------------------------
// Job

export const PodFailurePolicyOnExitCodesRequirement = obj(
  "io.k8s.api.batch.v1.PodFailurePolicyOnExitCodesRequirement",
  () => ({
    containerName: F(str, 1),
    operator: F(strEnum(["In", "NotIn"]), 2, { required: true }),
    values: F(list(int32, { listType: "set" }), 3, { required: true }),
  }),
);

export const PodFailurePolicyOnPodConditionsPattern = obj(
  "io.k8s.api.batch.v1.PodFailurePolicyOnPodConditionsPattern",
  () => ({
    type: F(str, 1, { required: true }),
    status: F(conditionStatus, 2, { required: true }),
  }),
);

export const PodFailurePolicyRule = obj("io.k8s.api.batch.v1.PodFailurePolicyRule", () => ({
  action: F(strEnum(["Count", "FailIndex", "FailJob", "Ignore"]), 1, { required: true }),
  onExitCodes: F(PodFailurePolicyOnExitCodesRequirement, 2),
  onPodConditions: F(atomicList(PodFailurePolicyOnPodConditionsPattern), 3),
}));

export const PodFailurePolicy = obj("io.k8s.api.batch.v1.PodFailurePolicy", () => ({
  rules: F(atomicList(PodFailurePolicyRule), 1, { required: true }),
}));

export const SuccessPolicyRule = obj("io.k8s.api.batch.v1.SuccessPolicyRule", () => ({
  succeededIndexes: F(str, 1),
  succeededCount: F(int32, 2),
}));

export const SuccessPolicy = obj("io.k8s.api.batch.v1.SuccessPolicy", () => ({
  rules: F(atomicList(SuccessPolicyRule), 1, { required: true }),
}));

export const JobSpec = obj("io.k8s.api.batch.v1.JobSpec", () => ({
  parallelism: F(int32, 1),
  completions: F(int32, 2),
  activeDeadlineSeconds: F(int64, 3),
  podFailurePolicy: F(PodFailurePolicy, 11),
  successPolicy: F(SuccessPolicy, 16),
  backoffLimit: F(int32, 7),
  backoffLimitPerIndex: F(int32, 12),
  maxFailedIndexes: F(int32, 13),
  selector: F(LabelSelector, 4),
  manualSelector: F(bool, 5),
  template: F(PodTemplateSpec, 6, { required: true }),
  ttlSecondsAfterFinished: F(int32, 8),
  completionMode: F(strEnum(["Indexed", "NonIndexed"]), 9),
  suspend: F(bool, 10),
  podReplacementPolicy: F(strEnum(["Failed", "TerminatingOrFailed"]), 14),
  managedBy: F(str, 15),
}));

export const UncountedTerminatedPods = obj("io.k8s.api.batch.v1.UncountedTerminatedPods", () => ({
  succeeded: F(list(str, { listType: "set" }), 1),
  failed: F(list(str, { listType: "set" }), 2),
}));

export const JobCondition = obj("io.k8s.api.batch.v1.JobCondition", () => ({
  type: F(str, 1, { required: true }),
  status: F(conditionStatus, 2, { required: true }),
  lastProbeTime: F(time, 3),
  lastTransitionTime: F(time, 4),
  reason: F(str, 5),
  message: F(str, 6),
}));

export const JobStatus = obj("io.k8s.api.batch.v1.JobStatus", () => ({
  conditions: F(list(JobCondition, { patchStrategy: "merge", patchMergeKey: "type", listType: "atomic" }), 1),
  startTime: F(time, 2),
  completionTime: F(time, 3),
  active: F(int32, 4),
  succeeded: F(int32, 5),
  failed: F(int32, 6),
  terminating: F(int32, 11),
  completedIndexes: F(str, 7),
  failedIndexes: F(str, 10),
  uncountedTerminatedPods: F(UncountedTerminatedPods, 8),
  ready: F(int32, 9),
}));

export const Job = obj("io.k8s.api.batch.v1.Job", () => ({
  ...typeMetaFields(),
  spec: F(JobSpec, 2),
  status: F(JobStatus, 3),
}));

export const JobTemplateSpec = obj("io.k8s.api.batch.v1.JobTemplateSpec", () => ({
  metadata: F(ObjectMeta, 1),
  spec: F(JobSpec, 2),
}));

// ---------------------------------------------------------------------------------------------
// CronJob

export const CronJobSpec = obj("io.k8s.api.batch.v1.CronJobSpec", () => ({
  schedule: F(str, 1, { required: true }),
  timeZone: F(str, 8),
  startingDeadlineSeconds: F(int64, 2),
  concurrencyPolicy: F(strEnum(["Allow", "Forbid", "Replace"]), 3),
  suspend: F(bool, 4),
  jobTemplate: F(JobTemplateSpec, 5, { required: true }),
  successfulJobsHistoryLimit: F(int32, 6),
  failedJobsHistoryLimit: F(int32, 7),
}));

export const CronJobStatus = obj("io.k8s.api.batch.v1.CronJobStatus", () => ({
  active: F(atomicList(ObjectReference), 1),
  lastScheduleTime: F(time, 4),
  lastSuccessfulTime: F(time, 5),
}));

export const CronJob = obj("io.k8s.api.batch.v1.CronJob", () => ({
  ...typeMetaFields(),
  spec: F(CronJobSpec, 2),
  status: F(CronJobStatus, 3),
}));

// =============================================================================================
// Cron schedule parsing: the standard 5-field format and descriptors accepted by
// github.com/robfig/cron/v3 ParseStandard (which Kubernetes uses), with its error messages.

interface CronBounds {
  min: number;
  max: number;
  names?: Record<string, number>;
}
const monthNames: Record<string, number> = {
  jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12,
};
const dowNames: Record<string, number> = { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 };
const cronFields: CronBounds[] = [
  { min: 0, max: 59 },
  { min: 0, max: 23 },
  { min: 1, max: 31 },
  { min: 1, max: 12, names: monthNames },
  { min: 0, max: 6, names: dowNames },
];
const cronDescriptors = new Set(["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"]);

function cronInt(expr: string): number {
  if (!/^[+-]?\d+$/.test(expr)) throw new Error(`failed to parse int from ${expr}: strconv.Atoi: parsing ${JSON.stringify(expr)}: invalid syntax`);
  const n = parseInt(expr, 10);
  if (n < 0) throw new Error(`negative number (${n}) not allowed: ${expr}`);
  return n;
}

function cronIntOrName(expr: string, names?: Record<string, number>): number {
  const v = names?.[expr.toLowerCase()];
  return v !== undefined ? v : cronInt(expr);
}

function cronRange(expr: string, b: CronBounds): void {
  const rangeAndStep = expr.split("/");
  const lowAndHigh = rangeAndStep[0]!.split("-");
  const singleDigit = lowAndHigh.length === 1;
  let start: number;
  let end: number;
  if (lowAndHigh[0] === "*" || lowAndHigh[0] === "?") {
    start = b.min;
    end = b.max;
  } else {
    start = cronIntOrName(lowAndHigh[0]!, b.names);
    if (lowAndHigh.length === 1) end = start;
    else if (lowAndHigh.length === 2) end = cronIntOrName(lowAndHigh[1]!, b.names);
    else throw new Error(`too many hyphens: ${expr}`);
  }
  let step = 1;
  if (rangeAndStep.length === 2) {
    step = cronInt(rangeAndStep[1]!);
    if (singleDigit) end = b.max;
  } else if (rangeAndStep.length > 2) throw new Error(`too many slashes: ${expr}`);
  if (start < b.min) throw new Error(`beginning of range (${start}) below minimum (${b.min}): ${expr}`);
  if (end > b.max) throw new Error(`end of range (${end}) above maximum (${b.max}): ${expr}`);
  if (start > end) throw new Error(`beginning of range (${start}) beyond end of range (${end}): ${expr}`);
  if (step === 0) throw new Error(`step of range should be a positive number: ${expr}`);
}

const goDurationRe = /^([+-]?)((\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h))+$/;

/** Returns robfig/cron's error text for an invalid standard spec, or undefined when valid. */
export function cronScheduleError(spec: string): string | undefined {
  try {
    let s = spec;
    if (s.length === 0) return "empty spec string";
    // Optional TZ=/CRON_TZ= prefix.
    if (s.startsWith("TZ=") || s.startsWith("CRON_TZ=")) {
      const i = s.indexOf(" ");
      const tz = s.slice(s.indexOf("=") + 1, i < 0 ? undefined : i);
      try {
        new Intl.DateTimeFormat("en-US", { timeZone: tz });
      } catch {
        return `provided bad location ${tz}: unknown time zone ${tz}`;
      }
      s = i < 0 ? "" : s.slice(i).trim();
    }
    if (s.startsWith("@")) {
      if (cronDescriptors.has(s)) return undefined;
      if (s.startsWith("@every ")) {
        const d = s.slice("@every ".length);
        if (!goDurationRe.test(d)) return `failed to parse duration ${s}: time: invalid duration ${JSON.stringify(d)}`;
        return undefined;
      }
      return `unrecognized descriptor: ${s}`;
    }
    const fields = s.split(/\s+/).filter((f) => f.length > 0);
    if (fields.length !== 5) return `expected exactly 5 fields, found ${fields.length}: [${fields.join(" ")}]`;
    fields.forEach((f, i) => {
      for (const part of f.split(",")) cronRange(part, cronFields[i]!);
    });
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

// =============================================================================================
// Defaulting

const controllerUidLabel = "batch.kubernetes.io/controller-uid";
const legacyControllerUidLabel = "controller-uid";
const jobNameLabel = "batch.kubernetes.io/job-name";
const legacyJobNameLabel = "job-name";

/** generateSelector (job strategy PrepareForCreate): unique labels from metadata.uid and the selector on them. */
function generateJobSelector(o: any): void {
  const name = o?.metadata?.name;
  const uid = o?.metadata?.uid;
  if (!uid) return;
  const spec = ensureObj(o, "spec");
  const tpl = ensureObj(spec, "template");
  const tmeta = ensureObj(tpl, "metadata");
  const labels = ensureObj(tmeta, "labels");
  for (const k of [legacyJobNameLabel, jobNameLabel]) if (!(k in labels) && name) labels[k] = String(name);
  for (const k of [legacyControllerUidLabel, controllerUidLabel]) if (!(k in labels)) labels[k] = String(uid);
  const sel = ensureObj(spec, "selector");
  const ml = ensureObj(sel, "matchLabels");
  if (!(controllerUidLabel in ml)) ml[controllerUidLabel] = String(uid);
}

function defaultJobSpec(spec: any, topLevel: boolean): void {
  if (topLevel) {
    if (spec.completions == null && spec.parallelism == null) {
      spec.completions = 1;
      spec.parallelism = 1;
    }
    spec.parallelism ??= 1;
    if (spec.backoffLimit == null) spec.backoffLimit = spec.backoffLimitPerIndex != null ? 2147483647 : 6;
    spec.completionMode ??= "NonIndexed";
    spec.suspend ??= false;
    if (isObj(spec.podFailurePolicy) && Array.isArray(spec.podFailurePolicy.rules)) {
      for (const rule of spec.podFailurePolicy.rules) {
        if (Array.isArray(rule?.onPodConditions)) for (const p of rule.onPodConditions) if (isObj(p) && !p.status) p.status = "True";
      }
    }
    spec.podReplacementPolicy ??= isObj(spec.podFailurePolicy) ? "Failed" : "TerminatingOrFailed";
  }
  if (isObj(spec.template)) defaultPodTemplate(spec.template);
}

function defaultJob(o: any): void {
  const spec = ensureObj(o, "spec");
  defaultJobSpec(spec, true);
  // The API server generates the selector on create unless manualSelector is true; metadata.uid is
  // set before defaulting, so this is deterministic (and idempotent on later writes).
  if (spec.manualSelector !== true) generateJobSelector(o);
  const tlabels = spec.template?.metadata?.labels;
  const meta = ensureObj(o, "metadata");
  if (isObj(tlabels) && (!isObj(meta.labels) || Object.keys(meta.labels).length === 0)) meta.labels = { ...tlabels };
}

function defaultCronJob(o: any): void {
  const spec = ensureObj(o, "spec");
  if (!spec.concurrencyPolicy) spec.concurrencyPolicy = "Allow";
  spec.suspend ??= false;
  spec.successfulJobsHistoryLimit ??= 3;
  spec.failedJobsHistoryLimit ??= 1;
  const jt = spec.jobTemplate;
  if (isObj(jt) && isObj(jt.spec)) defaultJobSpec(jt.spec, false);
}

// =============================================================================================
// Validation

const mustBeFailed = "Failed";

/** validateJobSpec, with paths under `path` ("spec" or "spec.jobTemplate.spec"). */
function validateJobSpec(errs: FieldError[], spec: any, path: string, opts: { template: boolean }): void {
  nonNegative(errs, `${path}.parallelism`, spec.parallelism);
  nonNegative(errs, `${path}.completions`, spec.completions);
  nonNegative(errs, `${path}.activeDeadlineSeconds`, spec.activeDeadlineSeconds);
  nonNegative(errs, `${path}.backoffLimit`, spec.backoffLimit);
  nonNegative(errs, `${path}.ttlSecondsAfterFinished`, spec.ttlSecondsAfterFinished);
  const indexed = spec.completionMode === "Indexed";
  if (spec.completionMode != null && !["NonIndexed", "Indexed"].includes(spec.completionMode))
    errs.push(notSupported(`${path}.completionMode`, spec.completionMode, ["NonIndexed", "Indexed"]));
  if (indexed) {
    if (spec.completions == null) errs.push(required(`${path}.completions`, "when completion mode is Indexed"));
    if (typeof spec.parallelism === "number" && spec.parallelism > 100000)
      errs.push(invalid(`${path}.parallelism`, spec.parallelism, "must be less than or equal to 100000 when completion mode is Indexed"));
  }
  if (spec.backoffLimitPerIndex != null) {
    nonNegative(errs, `${path}.backoffLimitPerIndex`, spec.backoffLimitPerIndex);
    if (!indexed) errs.push(invalid(`${path}.backoffLimitPerIndex`, spec.backoffLimitPerIndex, "requires indexed completion mode"));
  }
  if (spec.maxFailedIndexes != null) {
    nonNegative(errs, `${path}.maxFailedIndexes`, spec.maxFailedIndexes);
    if (spec.backoffLimitPerIndex == null)
      errs.push(required(`${path}.backoffLimitPerIndex`, "when maxFailedIndexes is specified"));
    if (!indexed) errs.push(invalid(`${path}.maxFailedIndexes`, spec.maxFailedIndexes, "requires indexed completion mode"));
    else if (typeof spec.completions === "number" && spec.maxFailedIndexes > spec.completions)
      errs.push(invalid(`${path}.maxFailedIndexes`, spec.maxFailedIndexes, "must be less than or equal to completions"));
  }
  if (isObj(spec.successPolicy)) {
    if (!indexed) errs.push(invalid(`${path}.successPolicy`, spec.successPolicy, "requires indexed completion mode"));
    const rules = spec.successPolicy.rules;
    if (!Array.isArray(rules) || rules.length === 0) errs.push(required(`${path}.successPolicy.rules`, "at least one rules must be specified when the successPolicy is specified"));
    else
      rules.forEach((r: any, i: number) => {
        const p = `${path}.successPolicy.rules[${i}]`;
        if (r?.succeededIndexes == null && r?.succeededCount == null)
          errs.push(required(p, "at least one of succeededCount or succeededIndexes must be specified"));
        if (r?.succeededCount != null) {
          nonNegative(errs, `${p}.succeededCount`, r.succeededCount);
          if (typeof spec.completions === "number" && r.succeededCount > spec.completions)
            errs.push(invalid(`${p}.succeededCount`, r.succeededCount, `must be less than or equal to ${spec.completions} (the number of specified completions)`));
        }
      });
  }
  const tplSpec = spec.template?.spec ?? {};
  const rp = tplSpec.restartPolicy ?? "";
  if (isObj(spec.podFailurePolicy)) {
    if (rp !== "Never")
      errs.push(invalid(`${path}.template.spec.restartPolicy`, rp, 'only "Never" is supported when podFailurePolicy is specified'));
    const rules = spec.podFailurePolicy.rules;
    if (Array.isArray(rules)) {
      if (rules.length > 20) errs.push({ field: `${path}.podFailurePolicy.rules`, type: "FieldValueTooLong", message: `Too many: ${rules.length}: must have at most 20 items` });
      rules.forEach((r: any, i: number) => {
        const p = `${path}.podFailurePolicy.rules[${i}]`;
        if (!["Count", "FailIndex", "FailJob", "Ignore"].includes(r?.action))
          errs.push(notSupported(`${p}.action`, r?.action ?? "", ["Count", "FailIndex", "FailJob", "Ignore"]));
        if (r?.action === "FailIndex" && spec.backoffLimitPerIndex == null)
          errs.push(forbidden(`${p}.action`, "requires the backoffLimitPerIndex to be set"));
        const hasExit = isObj(r?.onExitCodes);
        const hasCond = Array.isArray(r?.onPodConditions);
        if (hasExit && hasCond) errs.push(invalid(p, "", "specifying both OnExitCodes and OnPodConditions is not supported"));
        if (!hasExit && !hasCond) errs.push(invalid(p, "", "specifying one of OnExitCodes and OnPodConditions is required"));
        if (hasExit) {
          const ec = r.onExitCodes;
          if (!["In", "NotIn"].includes(ec.operator))
            errs.push(notSupported(`${p}.onExitCodes.operator`, ec.operator ?? "", ["In", "NotIn"]));
          const vals = Array.isArray(ec.values) ? ec.values : [];
          if (vals.length === 0) errs.push(required(`${p}.onExitCodes.values`, "at least one value is required"));
          if (ec.operator === "In" && vals.includes(0))
            errs.push(invalid(`${p}.onExitCodes.values[${vals.indexOf(0)}]`, 0, "must not be 0 for the In operator"));
          for (let j = 1; j < vals.length; j++) {
            if (vals[j] === vals[j - 1]) errs.push({ field: `${p}.onExitCodes.values[${j}]`, type: "FieldValueDuplicate", message: `Duplicate value: ${vals[j]}` });
            else if (vals[j] < vals[j - 1]) errs.push(invalid(`${p}.onExitCodes.values[${j}]`, vals[j], "must be ordered"));
          }
        }
      });
    }
    if (spec.podReplacementPolicy != null && spec.podReplacementPolicy !== mustBeFailed)
      errs.push(notSupported(`${path}.podReplacementPolicy`, spec.podReplacementPolicy, [mustBeFailed]));
  } else if (spec.podReplacementPolicy != null && !["Failed", "TerminatingOrFailed"].includes(spec.podReplacementPolicy)) {
    errs.push(notSupported(`${path}.podReplacementPolicy`, spec.podReplacementPolicy, ["Failed", "TerminatingOrFailed"]));
  }
  if (spec.backoffLimitPerIndex != null && rp !== "Never" && rp !== "")
    errs.push(invalid(`${path}.template.spec.restartPolicy`, rp, 'must be "Never" when backoffLimitPerIndex is specified'));

  // Selector: required on Jobs (generated on create), forbidden on job templates.
  if (opts.template) {
    if (spec.selector != null) errs.push(invalid(`${path}.selector`, "", "`selector` will be auto-generated"));
    if (spec.manualSelector === true) errs.push(notSupported(`${path}.manualSelector`, true, ["nil", "false"]));
  } else if (!isObj(spec.selector)) {
    errs.push(required(`${path}.selector`));
  } else {
    errs.push(...validateLabelSelector(spec.selector, `${path}.selector`));
    const labels = spec.template?.metadata?.labels;
    if (!labelSelectorMatches(spec.selector, labels))
      errs.push({
        field: `${path}.template.metadata.labels`,
        type: "FieldValueInvalid",
        message: `Invalid value: ${formatGoStringMap(labels)}: \`selector\` does not match template \`labels\``,
      });
  }

  if (!isObj(spec.template)) errs.push(required(`${path}.template`));
  else {
    errs.push(...validatePodTemplate(spec.template, `${path}.template`));
    if (rp === "Always" || rp === "")
      errs.push(required(`${path}.template.spec.restartPolicy`, 'valid values: "OnFailure", "Never"'));
    else if (rp !== "OnFailure" && rp !== "Never")
      errs.push(notSupported(`${path}.template.spec.restartPolicy`, rp, ["OnFailure", "Never"]));
  }

  if (spec.managedBy != null) {
    const mb = String(spec.managedBy);
    if (mb.length > 63) errs.push({ field: `${path}.managedBy`, type: "FieldValueTooLong", message: "Too long: may not be more than 63 bytes" });
    const i = mb.indexOf("/");
    if (i <= 0 || i !== mb.lastIndexOf("/")) errs.push(invalid(`${path}.managedBy`, mb, 'must be a domain-prefixed path (such as "acme.io/foo")'));
  }
}

/** The job-name / controller-uid labels must be what the server generated (ValidateGeneratedSelector). */
function validateGeneratedSelector(errs: FieldError[], o: any): void {
  const spec = o?.spec ?? {};
  if (spec.manualSelector === true || !isObj(spec.selector)) return;
  const uid = o?.metadata?.uid;
  const name = o?.metadata?.name;
  if (!uid) return;
  const labels = spec.template?.metadata?.labels ?? {};
  for (const k of [legacyControllerUidLabel, controllerUidLabel]) {
    if (labels[k] !== undefined && labels[k] !== uid)
      errs.push(invalid(`spec.template.metadata.labels[${k}]`, labels[k], `must be '${uid}'`));
  }
  for (const k of [legacyJobNameLabel, jobNameLabel]) {
    if (labels[k] !== undefined && labels[k] !== name)
      errs.push(invalid(`spec.template.metadata.labels[${k}]`, labels[k], `must be '${name}'`));
  }
  const ml = spec.selector.matchLabels ?? {};
  if (ml[controllerUidLabel] !== uid)
    errs.push(invalid("spec.selector", "", "`selector` not auto-generated"));
}

/** Template fields a suspended, never-started Job may change (mutable scheduling directives). */
const schedulingDirectives = ["nodeSelector", "affinity", "tolerations", "schedulingGates"];

function validateJob(o: any, old?: any): FieldError[] {
  const errs = metaErrors(o, old, true);
  const spec = o?.spec ?? {};
  validateJobSpec(errs, spec, "spec", { template: false });
  if (!old) validateGeneratedSelector(errs, o);
  if (old) {
    const os = old.spec ?? {};
    // completions may change only for elastic Indexed Jobs (completions == parallelism before and after).
    if (!deepEqual(spec.completions, os.completions)) {
      const elastic =
        spec.completionMode === "Indexed" && spec.completions === spec.parallelism && os.completions === os.parallelism;
      if (!elastic) errs.push(invalid("spec.completions", spec.completions ?? null, "field is immutable"));
    }
    if (!deepEqual(spec.template, os.template)) {
      const mayMutateScheduling = os.suspend === true && !old.status?.startTime;
      const strip = (t: any) => {
        const c = JSON.parse(JSON.stringify(t ?? {}));
        if (mayMutateScheduling) {
          if (c.metadata) {
            delete c.metadata.labels;
            delete c.metadata.annotations;
          }
          if (c.spec) for (const k of schedulingDirectives) delete c.spec[k];
        }
        return c;
      };
      if (!deepEqual(strip(spec.template), strip(os.template)))
        errs.push(invalid("spec.template", "", "field is immutable"));
    }
  }
  return errs;
}

const validTimeZoneRe = /^[A-Za-z.\-_0-9+/]+$/;

function validateCronJob(o: any, old?: any): FieldError[] {
  const errs = metaErrors(o, old, true);
  const name = o?.metadata?.name;
  if (!old && typeof name === "string" && name.length > 52)
    errs.push(invalid("metadata.name", name, "must be no more than 52 characters"));
  const spec = o?.spec ?? {};
  const schedule = spec.schedule;
  if (!schedule) errs.push(required("spec.schedule"));
  else {
    const e = cronScheduleError(String(schedule));
    if (e) errs.push(invalid("spec.schedule", schedule, e));
    if (String(schedule).includes("TZ"))
      errs.push(
        spec.timeZone != null
          ? invalid("spec.schedule", schedule, "cannot use both timeZone field and TZ or CRON_TZ in schedule")
          : invalid("spec.schedule", schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"),
      );
  }
  if (spec.timeZone != null) {
    const tz = String(spec.timeZone);
    if (tz.toLowerCase() === "local")
      errs.push(invalid("spec.timeZone", tz, "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"));
    else if (!validTimeZoneRe.test(tz)) errs.push(invalid("spec.timeZone", tz, `unknown time zone ${tz}`));
    else {
      try {
        new Intl.DateTimeFormat("en-US", { timeZone: tz });
      } catch {
        errs.push(invalid("spec.timeZone", tz, `unknown time zone ${tz}`));
      }
    }
  }
  nonNegative(errs, "spec.startingDeadlineSeconds", spec.startingDeadlineSeconds);
  nonNegative(errs, "spec.successfulJobsHistoryLimit", spec.successfulJobsHistoryLimit);
  nonNegative(errs, "spec.failedJobsHistoryLimit", spec.failedJobsHistoryLimit);
  const cp = spec.concurrencyPolicy;
  if (!cp) errs.push(required("spec.concurrencyPolicy"));
  else if (!["Allow", "Forbid", "Replace"].includes(cp))
    errs.push(notSupported("spec.concurrencyPolicy", cp, ["Allow", "Forbid", "Replace"]));
  const jt = spec.jobTemplate;
  if (!isObj(jt)) errs.push(required("spec.jobTemplate"));
  else validateJobSpec(errs, jt.spec ?? {}, "spec.jobTemplate.spec", { template: true });
  return errs;
}

// ---------------------------------------------------------------------------------------------

export const resources: ResourceDef[] = [
  {
    group: "batch",
    version: "v1",
    kind: "Job",
    plural: "jobs",
    singular: "job",
    namespaced: true,
    categories: ["all"],
    type: Job,
    subresources: { status: true },
    fieldSelectors: { "status.successful": (o) => String(o?.status?.succeeded ?? 0) },
    defaults: defaultJob,
    validate: validateJob,
    immutable: [
      "spec.selector",
      "spec.completionMode",
      "spec.managedBy",
      "spec.podFailurePolicy",
      "spec.successPolicy",
      "spec.backoffLimitPerIndex",
    ],
  },
  {
    group: "batch",
    version: "v1",
    kind: "CronJob",
    plural: "cronjobs",
    singular: "cronjob",
    namespaced: true,
    shortNames: ["cj"],
    categories: ["all"],
    type: CronJob,
    subresources: { status: true },
    defaults: defaultCronJob,
    validate: validateCronJob,
  },
];
