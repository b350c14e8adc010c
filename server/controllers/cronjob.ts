// CronJob: create a Job at each scheduled time (croner, with spec.timeZone), honouring
// concurrencyPolicy (Allow/Forbid/Replace), suspend, startingDeadlineSeconds and the
// successful/failed history limits. Job names are `<cronjob>-<minutes since epoch>` so a
// retried creation for the same time is a no-op, as in Kubernetes.
import { Cron } from "croner";
import { isAlreadyExists } from "./runtime/api";
import { controllerOf, controllerRef } from "./runtime/api";
import { Controller, type ControllerContext } from "./runtime/controller";
import { objKey, splitKey, type Informer } from "./runtime/informer";
import { isJobFinished } from "./job";

const SCHEDULED = "batch.kubernetes.io/cronjob-scheduled-timestamp";
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

export class CronJobController extends Controller {
  private cronjobs: Informer;
  private jobs: Informer;

  constructor(rt: ControllerContext) {
    super(rt, "cronjob", 2);
    this.cronjobs = this.informer("batch/cronjobs");
    this.jobs = this.informer("batch/jobs");
    this.cronjobs.addHandler({ add: (c) => this.queue.add(objKey(c)), update: (_, c) => this.queue.add(objKey(c)) });
    const onJob = (j: any) => {
      const ref = controllerOf(j);
      if (ref?.kind === "CronJob") this.queue.add(`${j.metadata.namespace}/${ref.name}`);
    };
    this.jobs.addHandler({ add: onJob, update: (_, j) => onJob(j), delete: onJob });
  }

  private cron(cj: any): Cron | undefined {
    try {
      let pattern = String(cj.spec.schedule).trim();
      const macros: Record<string, string> = { "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *" };
      pattern = macros[pattern] ?? pattern;
      return new Cron(pattern, { timezone: cj.spec.timeZone ?? undefined, paused: true });
    } catch {
      return undefined;
    }
  }

  async reconcile(key: string): Promise<void> {
    const cj = this.cronjobs.get(key);
    if (!cj || cj.metadata.deletionTimestamp) return;
    const { ns, name } = splitKey(key);
    const now = this.now();
    const jobs = this.jobs.byIndex("owner", cj.metadata.uid).filter((j) => controllerOf(j)?.uid === cj.metadata.uid);
    const activeJobs = jobs.filter((j) => !isJobFinished(j) && !j.metadata.deletionTimestamp);
    let lastSuccess = Date.parse(cj.status?.lastSuccessfulTime ?? "") || 0;
    for (const j of jobs) if (isJobFinished(j) === "Complete") lastSuccess = Math.max(lastSuccess, Date.parse(j.status?.completionTime ?? "") || 0);
    await this.cleanupHistory(cj, jobs);
    let scheduledAt: number | undefined;
    let created: any;
    const cron = this.cron(cj);
    if (!cron) {
      this.record(cj, "Warning", "InvalidSchedule", `invalid schedule: ${cj.spec.schedule}`);
    } else if (!cj.spec?.suspend) {
      const earliest = Date.parse(cj.status?.lastScheduleTime ?? "") || Date.parse(cj.metadata.creationTimestamp);
      const recent = cron.previousRuns(1, new Date(now + 1))[0]?.getTime();
      const next = cron.nextRun(new Date(now))?.getTime();
      if (recent !== undefined && recent > earliest) {
        const sds = cj.spec?.startingDeadlineSeconds;
        if (sds !== undefined && sds !== null && recent < now - sds * 1000) {
          this.record(cj, "Warning", "MissSchedule", `Missed scheduled time to start a job: ${iso(recent)}`);
        } else if (cj.spec?.concurrencyPolicy === "Forbid" && activeJobs.length) {
          this.record(cj, "Normal", "JobAlreadyActive", "Not starting job because prior execution is running and concurrency policy is Forbid");
        } else {
          if (cj.spec?.concurrencyPolicy === "Replace")
            for (const j of activeJobs) {
              await this.api.delete("Job", ns, j.metadata.name, { propagationPolicy: "Background" });
              this.record(cj, "Normal", "SuccessfulDelete", `Deleted job ${j.metadata.name}`);
            }
          created = await this.createJob(cj, recent);
          scheduledAt = recent;
        }
      }
      if (next) this.queue.addAfter(key, next - now + 100);
    }
    const active = [...activeJobs, ...(created ? [created] : [])]
      .filter((j, i, a) => a.findIndex((x) => x.metadata.uid === j.metadata.uid) === i)
      .filter((j) => cj.spec?.concurrencyPolicy !== "Replace" || !created || j === created || j.metadata.uid === created.metadata.uid)
      .map((j) => ({ kind: "Job", namespace: ns, name: j.metadata.name, uid: j.metadata.uid, apiVersion: "batch/v1", resourceVersion: j.metadata.resourceVersion }));
    await this.api.updateStatus("CronJob", ns, name, (cur) => {
      const s: any = { ...(cur.status ?? {}) };
      if (active.length) s.active = active;
      else delete s.active;
      if (scheduledAt) s.lastScheduleTime = iso(scheduledAt);
      if (lastSuccess) s.lastSuccessfulTime = iso(lastSuccess);
      cur.status = s;
      return cur;
    });
  }

  private async createJob(cj: any, at: number): Promise<any | undefined> {
    const t = structuredClone(cj.spec.jobTemplate ?? {});
    const name = `${cj.metadata.name}-${Math.floor(at / 60000)}`;
    const job = {
      metadata: {
        name,
        namespace: cj.metadata.namespace,
        labels: t.metadata?.labels ?? {},
        annotations: { ...(t.metadata?.annotations ?? {}), [SCHEDULED]: iso(at) },
        ownerReferences: [controllerRef(cj, "CronJob")],
      },
      spec: t.spec ?? {},
    };
    try {
      const j = await this.api.create("Job", cj.metadata.namespace, job);
      this.record(cj, "Normal", "SuccessfulCreate", `Created job ${name}`);
      return j;
    } catch (e) {
      if (isAlreadyExists(e)) return this.jobs.getBy(cj.metadata.namespace, name);
      this.record(cj, "Warning", "FailedCreate", `Error creating job: ${(e as Error).message}`);
      throw e;
    }
  }

  private async cleanupHistory(cj: any, jobs: any[]): Promise<void> {
    const byStart = (a: any, b: any) => (a.status?.startTime ?? a.metadata.creationTimestamp ?? "").localeCompare(b.status?.startTime ?? b.metadata.creationTimestamp ?? "");
    for (const [state, limit] of [["Complete", cj.spec?.successfulJobsHistoryLimit ?? 3], ["Failed", cj.spec?.failedJobsHistoryLimit ?? 1]] as const) {
      const done = jobs.filter((j) => isJobFinished(j) === state && !j.metadata.deletionTimestamp).sort(byStart);
      for (const j of done.slice(0, Math.max(0, done.length - limit))) {
        await this.api.delete("Job", j.metadata.namespace, j.metadata.name, { propagationPolicy: "Background" });
        this.record(cj, "Normal", "SuccessfulDelete", `Deleted job ${j.metadata.name}`);
      }
    }
  }
}
