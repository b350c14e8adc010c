// Job: run pods until `completions` succeed (NonIndexed or Indexed), at most `parallelism` at
// once, with exponential back-off between failures, failing on backoffLimit,
// activeDeadlineSeconds or a podFailurePolicy FailJob rule; Complete/Failed conditions for
// `kubectl wait`, and ttlSecondsAfterFinished clean-up. Pods are counted from the pods
// themselves (a Job's pods stay until the Job goes), never decreasing.
import { timestamp } from "../registry/meta";
import { labelSelectorToRequirements, matchLabels } from "../../schemas/helpers/selectors";
import { controllerOf } from "./runtime/api";
import { Controller, type ControllerContext } from "./runtime/controller";
import { objKey, splitKey, type Informer } from "./runtime/informer";
import { isReady, isTerminating, podFromTemplate } from "./runtime/pods";

const INDEX = "batch.kubernetes.io/job-completion-index";
const MAX_BACKOFF = 360_000;

export function isJobFinished(j: any): "Complete" | "Failed" | undefined {
  for (const c of j?.status?.conditions ?? []) if ((c.type === "Complete" || c.type === "Failed") && c.status === "True") return c.type;
  return undefined;
}

/** "0-2,4,6-7" from a set of indexes. */
function formatIndexes(xs: number[]): string {
  const s = [...new Set(xs)].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < s.length; ) {
    let j = i;
    while (j + 1 < s.length && s[j + 1] === s[j]! + 1) j++;
    out.push(i === j ? `${s[i]}` : `${s[i]}-${s[j]}`);
    i = j + 1;
  }
  return out.join(",");
}

function parseIndexes(s: string | undefined): number[] {
  const out: number[] = [];
  for (const part of (s ?? "").split(",")) {
    if (!part) continue;
    const [a, b] = part.split("-").map(Number);
    for (let i = a!; i <= (b ?? a!); i++) out.push(i);
  }
  return out;
}

function podIndex(p: any): number | undefined {
  const v = p.metadata.annotations?.[INDEX] ?? p.metadata.labels?.[INDEX];
  return v === undefined ? undefined : Number(v);
}

function finishedAt(p: any): number {
  let t = 0;
  for (const c of p.status?.containerStatuses ?? []) t = Math.max(t, Date.parse(c.state?.terminated?.finishedAt ?? "") || 0);
  return t || Date.parse(p.metadata.creationTimestamp ?? "") || 0;
}

/** The first podFailurePolicy rule matching a failed pod: its action and a message. */
function failureRule(job: any, p: any): { action: string; message: string } | undefined {
  const rules: any[] = job.spec?.podFailurePolicy?.rules ?? [];
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i];
    if (r.onExitCodes) {
      const { containerName, operator, values } = r.onExitCodes;
      for (const c of p.status?.containerStatuses ?? []) {
        if (containerName && c.name !== containerName) continue;
        const code = c.state?.terminated?.exitCode;
        if (code === undefined || code === 0) continue;
        const hit = operator === "In" ? values.includes(code) : !values.includes(code);
        if (hit) return { action: r.action, message: `Container ${c.name} for pod ${p.metadata.namespace}/${p.metadata.name} failed with exit code ${code} matching ${r.action} rule at index ${i}` };
      }
    }
    for (const pc of r.onPodConditions ?? []) {
      const c = (p.status?.conditions ?? []).find((x: any) => x.type === pc.type);
      if (c && c.status === (pc.status ?? "True"))
        return { action: r.action, message: `Pod ${p.metadata.namespace}/${p.metadata.name} has condition ${pc.type} matching ${r.action} rule at index ${i}` };
    }
  }
  return undefined;
}

export class JobController extends Controller {
  private jobs: Informer;
  private pods: Informer;

  constructor(rt: ControllerContext) {
    super(rt, "job", 4);
    this.jobs = this.informer("batch/jobs");
    this.pods = this.informer("pods");
    this.jobs.addHandler({ add: (j) => this.queue.add(objKey(j)), update: (_, j) => this.queue.add(objKey(j)) });
    const onPod = (p: any) => {
      const ref = controllerOf(p);
      if (ref?.kind === "Job") this.queue.add(`${p.metadata.namespace}/${ref.name}`);
    };
    this.pods.addHandler({ add: onPod, update: (_, p) => onPod(p), delete: onPod });
  }

  async reconcile(key: string): Promise<void> {
    const job = this.jobs.get(key);
    if (!job) return;
    const { ns, name } = splitKey(key);
    const now = this.now();
    const reqs = labelSelectorToRequirements(job.spec?.selector);
    const pods = this.pods.byIndex("owner", job.metadata.uid).filter((p) => controllerOf(p)?.uid === job.metadata.uid && matchLabels(reqs, p.metadata.labels));
    const active = pods.filter((p) => !isTerminating(p) && p.status?.phase !== "Succeeded" && p.status?.phase !== "Failed");
    const finished = isJobFinished(job);
    if (finished) {
      await Promise.all(active.map((p) => this.api.delete("Pod", ns, p.metadata.name)));
      return this.ttl(job, now);
    }
    if (job.metadata.deletionTimestamp) return;
    const indexed = job.spec?.completionMode === "Indexed";
    const completions: number | undefined = job.spec?.completions ?? undefined;
    const parallelism: number = job.spec?.parallelism ?? 1;
    const succeededPods = pods.filter((p) => p.status?.phase === "Succeeded");
    let failJob: { reason: string; message: string } | undefined;
    let failed = 0;
    let lastFailure = 0;
    for (const p of pods) {
      if (p.status?.phase !== "Failed") continue;
      const rule = failureRule(job, p);
      if (rule?.action === "Ignore") continue;
      if (rule?.action === "FailJob" && !failJob) failJob = { reason: "PodFailurePolicy", message: rule.message };
      failed++;
      lastFailure = Math.max(lastFailure, finishedAt(p));
    }
    failed = Math.max(failed, job.status?.failed ?? 0);
    const doneIdx = new Set(parseIndexes(job.status?.completedIndexes));
    if (indexed) for (const p of succeededPods) {
      const i = podIndex(p);
      if (i !== undefined && i < (completions ?? 0)) doneIdx.add(i);
    }
    const succeeded = Math.max(indexed ? doneIdx.size : succeededPods.length, job.status?.succeeded ?? 0);
    const startTime = job.status?.startTime ?? (job.spec?.suspend ? undefined : timestamp(new Date(now)));
    if (!failJob && failed > (job.spec?.backoffLimit ?? 6)) failJob = { reason: "BackoffLimitExceeded", message: "Job has reached the specified backoff limit" };
    const ads = job.spec?.activeDeadlineSeconds;
    if (!failJob && ads !== undefined && ads !== null && startTime && !job.spec?.suspend) {
      const left = Date.parse(startTime) + ads * 1000 - now;
      if (left <= 0) failJob = { reason: "DeadlineExceeded", message: "Job was active longer than specified deadline" };
      else this.queue.addAfter(key, left + 50);
    }
    const complete = !failJob && (indexed ? doneIdx.size >= (completions ?? 0) : completions !== undefined ? succeeded >= completions : succeeded > 0 && active.length === 0);
    let activeCount = active.length;
    if (failJob || complete || job.spec?.suspend) {
      await Promise.all(active.map((p) => this.api.delete("Pod", ns, p.metadata.name)));
      activeCount = 0;
    } else {
      const want = indexed ? Math.min(parallelism, (completions ?? 0) - doneIdx.size) : completions !== undefined ? Math.min(parallelism, completions - succeeded) : succeeded > 0 ? 0 : parallelism;
      if (activeCount > want) {
        const extra = [...active].sort((a, b) => (b.metadata.creationTimestamp ?? "").localeCompare(a.metadata.creationTimestamp ?? "")).slice(0, activeCount - want);
        await Promise.all(extra.map((p) => this.api.delete("Pod", ns, p.metadata.name)));
        activeCount = want;
      } else if (activeCount < want) {
        const delay = failed > 0 ? Math.min(this.rt.opts.jobBackoffBaseMs * 2 ** (failed - 1), MAX_BACKOFF) : 0;
        const wait = lastFailure + delay - now;
        if (failed > 0 && wait > 0) this.queue.addAfter(key, wait + 20);
        else activeCount += await this.createPods(job, want - activeCount, indexed, doneIdx, active);
      }
    }
    const ready = active.filter(isReady).length;
    await this.api.updateStatus("Job", ns, name, (cur) => {
      const s: any = { ...(cur.status ?? {}) };
      const ts = timestamp(new Date(now));
      if (startTime && !s.startTime) s.startTime = startTime;
      s.active = activeCount;
      s.ready = failJob || complete ? 0 : ready;
      s.succeeded = succeeded;
      s.failed = failed;
      s.terminating = pods.filter(isTerminating).length;
      s.uncountedTerminatedPods = {};
      if (indexed) {
        const f = formatIndexes([...doneIdx]);
        if (f) s.completedIndexes = f;
      }
      const conds: any[] = (s.conditions ?? []).filter((c: any) => c.type !== "Suspended" || job.spec?.suspend);
      const add = (type: string, reason: string, message: string) => {
        if (!conds.some((c) => c.type === type && c.status === "True")) conds.push({ type, status: "True", lastProbeTime: ts, lastTransitionTime: ts, reason, message });
      };
      if (job.spec?.suspend) add("Suspended", "JobSuspended", "Job suspended");
      if (failJob) {
        add("FailureTarget", failJob.reason, failJob.message);
        add("Failed", failJob.reason, failJob.message);
      } else if (complete) {
        add("SuccessCriteriaMet", "CompletionsReached", "Reached expected number of succeeded pods");
        add("Complete", "CompletionsReached", "Reached expected number of succeeded pods");
        s.completionTime ??= ts;
      }
      if (conds.length) s.conditions = conds;
      for (const k of ["active", "ready", "succeeded", "failed", "terminating"]) if (!s[k]) delete s[k];
      cur.status = s;
      return cur;
    });
    if (failJob) this.record(job, "Warning", failJob.reason, failJob.message);
    else if (complete) this.record(job, "Normal", "Completed", "Job completed");
  }

  private async createPods(job: any, n: number, indexed: boolean, done: Set<number>, active: any[]): Promise<number> {
    const ns = job.metadata.namespace;
    const jobs: Promise<any>[] = [];
    if (indexed) {
      const busy = new Set(active.map(podIndex));
      for (let i = 0; i < (job.spec.completions ?? 0) && jobs.length < n; i++) {
        if (done.has(i) || busy.has(i)) continue;
        const pod = podFromTemplate(job.spec.template, job, "Job", { generateName: `${job.metadata.name}-${i}-`, labels: { [INDEX]: String(i) }, annotations: { [INDEX]: String(i) } });
        pod.spec.hostname ??= `${job.metadata.name}-${i}`;
        for (const c of pod.spec.containers ?? []) c.env = [...(c.env ?? []).filter((e: any) => e.name !== "JOB_COMPLETION_INDEX"), { name: "JOB_COMPLETION_INDEX", valueFrom: { fieldRef: { apiVersion: "v1", fieldPath: `metadata.annotations['${INDEX}']` } } }];
        jobs.push(this.api.create("Pod", ns, pod));
      }
    } else for (let i = 0; i < n; i++) jobs.push(this.api.create("Pod", ns, podFromTemplate(job.spec.template, job, "Job")));
    const res = await Promise.allSettled(jobs);
    let ok = 0;
    for (const r of res) {
      if (r.status === "fulfilled") {
        ok++;
        this.record(job, "Normal", "SuccessfulCreate", `Created pod: ${r.value.metadata.name}`);
      } else this.record(job, "Warning", "FailedCreate", `Error creating: ${(r.reason as Error).message}`);
    }
    return ok;
  }

  private async ttl(job: any, now: number): Promise<void> {
    const ttl = job.spec?.ttlSecondsAfterFinished;
    if (ttl === undefined || ttl === null || job.metadata.deletionTimestamp) return;
    const cond = (job.status?.conditions ?? []).find((c: any) => (c.type === "Complete" || c.type === "Failed") && c.status === "True");
    const at = (Date.parse(job.status?.completionTime ?? cond?.lastTransitionTime ?? "") || now) + ttl * 1000;
    if (at > now) {
      this.queue.addAfter(objKey(job), at - now + 50);
      return;
    }
    await this.api.delete("Job", job.metadata.namespace, job.metadata.name, { propagationPolicy: "Foreground", preconditions: { uid: job.metadata.uid } });
  }
}
