// Deployments, StatefulSets, DaemonSets, Jobs and CronJobs: ready/desired and rollout progress.
import { useState } from "preact/hooks";
import { age, condition } from "../format";
import { R, objectHref } from "../resources";
import { namespace, now, useAtom } from "../state";
import { useCollection } from "../store";
import { Badge, Bar, byName, byText, Section, Table, type Col } from "../ui";
import type { Res } from "../api";

export interface Rollout {
  ready: number;
  desired: number;
  updated: number;
  status: string;
}

/** ready/desired and where the rollout is, per kind (what `kubectl rollout status` reads). */
export function rollout(kind: string, o: any): Rollout {
  const s = o.status ?? {};
  const spec = o.spec ?? {};
  const stale = (s.observedGeneration ?? 0) < (o.metadata?.generation ?? 0);
  if (kind === "DaemonSet") {
    const desired = s.desiredNumberScheduled ?? 0;
    const updated = s.updatedNumberScheduled ?? 0;
    const ready = s.numberReady ?? 0;
    return { ready, desired, updated, status: stale ? "Pending" : updated < desired ? "Progressing" : ready < desired ? "Progressing" : "Complete" };
  }
  const desired = spec.replicas ?? 1;
  const ready = s.readyReplicas ?? 0;
  const updated = s.updatedReplicas ?? 0;
  if (kind === "StatefulSet") {
    const rolling = s.updateRevision && s.currentRevision && s.updateRevision !== s.currentRevision;
    return { ready, desired, updated, status: stale ? "Pending" : rolling || ready < desired ? "Progressing" : "Complete" };
  }
  if (condition(o, "Progressing")?.reason === "ProgressDeadlineExceeded") return { ready, desired, updated, status: "Stalled" };
  if (spec.paused) return { ready, desired, updated, status: "Paused" };
  const total = s.replicas ?? 0;
  const available = s.availableReplicas ?? 0;
  const done = !stale && updated >= desired && total <= updated && available >= desired;
  return { ready, desired, updated, status: done ? "Complete" : stale ? "Pending" : "Progressing" };
}

function RolloutCell(p: { kind: string; o: any }) {
  const r = rollout(p.kind, p.o);
  return (
    <span class="rollout">
      <Bar value={r.updated} max={r.desired} label={`${p.o.metadata.name} rollout`} progress />
      <Badge text={r.status} kind={r.status === "Complete" ? "good" : r.status === "Stalled" ? "bad" : "warn"} />
    </span>
  );
}

const nameCol = (res: Res): Col<any> => ({ h: "Name", cell: (o) => <a href={objectHref(res, o.metadata.namespace, o.metadata.name)}>{o.metadata.name}</a> });
const nsCol: Col<any> = { h: "Namespace", cls: "hide-sm", cell: (o) => o.metadata.namespace };
const images = (o: any) => (o.spec?.template?.spec?.containers ?? o.spec?.jobTemplate?.spec?.template?.spec?.containers ?? []).map((c: any) => c.image).join(", ");
const imagesCol: Col<any> = { h: "Images", cls: "hide-sm mono small", cell: images };

export function workloadCols(res: Res, t: number, showNs: boolean): Col<any>[] {
  const ageCol: Col<any> = { h: "Age", cls: "num", cell: (o) => age(o.metadata.creationTimestamp, t) };
  const head = showNs ? [nameCol(res), nsCol] : [nameCol(res)];
  if (res.kind === "Job")
    return [
      ...head,
      { h: "Completions", cls: "num", cell: (o) => `${o.status?.succeeded ?? 0}/${o.spec?.completions ?? 1}` },
      { h: "Status", cell: (o) => <Badge text={jobStatus(o)} /> },
      { h: "Active", cls: "num hide-sm", cell: (o) => o.status?.active ?? 0 },
      imagesCol,
      ageCol,
    ];
  if (res.kind === "CronJob")
    return [
      ...head,
      { h: "Schedule", cell: (o) => <code>{o.spec?.schedule}</code> },
      { h: "Suspend", cell: (o) => (o.spec?.suspend ? <Badge text="Suspended" /> : "No") },
      { h: "Active", cls: "num", cell: (o) => (o.status?.active ?? []).length },
      { h: "Last schedule", cls: "num", cell: (o) => (o.status?.lastScheduleTime ? `${age(o.status.lastScheduleTime, t)} ago` : "never") },
      ageCol,
    ];
  return [
    ...head,
    { h: "Ready", cls: "num", cell: (o) => readyText(res.kind, o) },
    { h: "Rollout", cell: (o) => <RolloutCell kind={res.kind} o={o} /> },
    imagesCol,
    ageCol,
  ];
}

function readyText(kind: string, o: any) {
  const r = rollout(kind, o);
  return <span class={r.ready < r.desired ? "warn-text" : ""}>{`${r.ready}/${r.desired}`}</span>;
}

export function jobStatus(o: any): string {
  if (condition(o, "Complete")?.status === "True") return "Complete";
  if (condition(o, "Failed")?.status === "True") return "Failed";
  if (o.spec?.suspend) return "Suspended";
  return (o.status?.active ?? 0) > 0 ? "Running" : "Pending";
}

export function WorkloadTable(p: { res: Res; ns: string; filter?: string; limit?: number }) {
  const t = useAtom(now);
  const c = useCollection(p.res, p.ns);
  const rows = byText([...c.items].sort(byName), p.filter ?? "");
  return <Table label={`${p.res.kind}s`} cols={workloadCols(p.res, t, !p.ns)} rows={rows} rowKey={(o) => o.metadata.uid ?? o.metadata.name} state={c} limit={p.limit} empty={`No ${p.res.kind}s`} />;
}

export const WORKLOAD_KINDS = [R.deployments, R.statefulsets, R.daemonsets, R.jobs, R.cronjobs];

export function Workloads() {
  const ns = useAtom(namespace);
  const [filter, setFilter] = useState("");
  return (
    <>
      <div class="toolbar">
        <label>
          <span class="sr-only">Filter workloads by name</span>
          <input type="search" placeholder="Filter by name…" value={filter} onInput={(e) => setFilter((e.target as HTMLInputElement).value)} />
        </label>
      </div>
      {WORKLOAD_KINDS.map((res) => (
        <Section title={`${res.kind}s`} id={`wl-${res.plural}`}>
          <WorkloadTable res={res} ns={ns} filter={filter} />
        </Section>
      ))}
    </>
  );
}
