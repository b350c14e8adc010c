// The summary tab: what matters for each kind, live; any other kind shows its metadata and
// conditions.
import type { ComponentChildren } from "preact";
import type { Res } from "../api";
import { age, condition, matches, podStatus } from "../format";
import { R, objectHref } from "../resources";
import { now, useAtom } from "../state";
import { useCollection } from "../store";
import { Badge, Bar, Labels, Section, Table, type Col } from "../ui";
import { EventTable } from "./Events";
import { PodTable } from "./Pods";
import { rollout, jobStatus } from "./Workloads";

function Facts(p: { rows: [string, ComponentChildren][] }) {
  return (
    <dl class="facts">
      {p.rows
        .filter(([, v]) => v !== undefined && v !== null && v !== "")
        .map(([k, v]) => (
          <div>
            <dt>{k}</dt>
            <dd>{v}</dd>
          </div>
        ))}
    </dl>
  );
}

function Conditions(p: { obj: any }) {
  const t = useAtom(now);
  const cs = p.obj.status?.conditions ?? [];
  if (!cs.length) return null;
  const cols: Col<any>[] = [
    { h: "Type", cell: (c) => c.type },
    { h: "Status", cell: (c) => <Badge text={c.status} kind={conditionTone(c)} /> },
    { h: "Reason", cell: (c) => c.reason ?? "" },
    { h: "Message", cls: "wrap", cell: (c) => c.message ?? "" },
    { h: "Changed", cls: "num", cell: (c) => age(c.lastTransitionTime ?? c.lastUpdateTime, t) },
  ];
  return (
    <Section title="Conditions" id="cond-h">
      <Table label="Conditions" cols={cols} rows={cs} rowKey={(c) => c.type} />
    </Section>
  );
}

/** Node pressure conditions are good when False; everything else when True. */
function conditionTone(c: any): string {
  const inverted = /Pressure|Unavailable|Failed|ReplicaFailure/.test(c.type);
  const good = inverted ? c.status === "False" : c.status === "True";
  return good ? "good" : c.status === "Unknown" ? "warn" : "bad";
}

function ObjectEvents(p: { obj: any }) {
  const ns = p.obj.metadata.namespace;
  const ev = useCollection(R.events, ns);
  const mine = ev.items.filter((e) => (e.involvedObject ?? e.regarding)?.uid === p.obj.metadata.uid || ((e.involvedObject ?? e.regarding)?.name === p.obj.metadata.name && (e.involvedObject ?? e.regarding)?.kind === p.obj.kind));
  if (ev.error) return null;
  return (
    <Section title="Events" id="obj-ev-h">
      <EventTable rows={mine} state={ev} limit={20} showObject={false} />
    </Section>
  );
}

function MetaFacts(p: { obj: any }) {
  return (
    <Facts
      rows={[
        ["Labels", <Labels labels={p.obj.metadata.labels} />],
        ["Annotations", Object.keys(p.obj.metadata.annotations ?? {}).length ? <Labels labels={p.obj.metadata.annotations} /> : undefined],
      ]}
    />
  );
}

function PodSummary(p: { obj: any }) {
  const t = useAtom(now);
  const pod = p.obj;
  const statuses = new Map<string, any>([...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])].map((c: any) => [c.name, c]));
  const containers = [...(pod.spec?.initContainers ?? []).map((c: any) => ({ ...c, init: true })), ...(pod.spec?.containers ?? [])];
  const state = (s: any) => (s?.state?.running ? "Running" : s?.state?.waiting ? (s.state.waiting.reason ?? "Waiting") : s?.state?.terminated ? (s.state.terminated.reason ?? "Terminated") : "Waiting");
  const cols: Col<any>[] = [
    { h: "Container", cell: (c) => (c.init ? `${c.name} (init)` : c.name) },
    { h: "Image", cls: "mono small", cell: (c) => c.image },
    { h: "State", cell: (c) => <Badge text={state(statuses.get(c.name))} /> },
    { h: "Ready", cell: (c) => (statuses.get(c.name)?.ready ? "yes" : "no") },
    { h: "Restarts", cls: "num", cell: (c) => statuses.get(c.name)?.restartCount ?? 0 },
  ];
  return (
    <>
      <Section title="Pod" id="pod-h">
        <Facts
          rows={[
            ["Status", <Badge text={podStatus(pod)} />],
            ["Node", pod.spec?.nodeName ? <a href={objectHref(R.nodes, undefined, pod.spec.nodeName)}>{pod.spec.nodeName}</a> : "not scheduled"],
            ["Pod IP", <span class="mono">{(pod.status?.podIPs ?? []).map((x: any) => x.ip).join(", ") || pod.status?.podIP || "-"}</span>],
            ["Started", pod.status?.startTime ? `${age(pod.status.startTime, t)} ago` : "-"],
            ["QoS class", pod.status?.qosClass],
            ["Service account", pod.spec?.serviceAccountName],
          ]}
        />
        <MetaFacts obj={pod} />
      </Section>
      <Section title="Containers" id="ctr-h">
        <Table label="Containers" cols={cols} rows={containers} rowKey={(c) => c.name} />
      </Section>
      <Conditions obj={pod} />
      <ObjectEvents obj={pod} />
    </>
  );
}

function WorkloadSummary(p: { res: Res; obj: any }) {
  const o = p.obj;
  const ns = o.metadata.namespace;
  const pods = useCollection(R.pods, ns);
  const sel = o.spec?.selector;
  const mine = pods.items.filter((x) => matches(sel, x.metadata.labels));
  const r = p.res.kind === "Job" ? undefined : rollout(p.res.kind, o);
  return (
    <>
      <Section title={p.res.kind} id="wl-h">
        <Facts
          rows={[
            ["Ready", r ? `${r.ready}/${r.desired}` : undefined],
            ["Rollout", r ? <span class="rollout"><Bar value={r.updated} max={r.desired} label="rollout progress" progress text={`${r.updated}/${r.desired} updated`} /><Badge text={r.status} kind={r.status === "Complete" ? "good" : r.status === "Stalled" ? "bad" : "warn"} /></span> : undefined],
            ["Status", p.res.kind === "Job" ? <Badge text={jobStatus(o)} /> : undefined],
            ["Completions", p.res.kind === "Job" ? `${o.status?.succeeded ?? 0}/${o.spec?.completions ?? 1}` : undefined],
            ["Strategy", o.spec?.strategy?.type ?? o.spec?.updateStrategy?.type],
            ["Revision", o.metadata.annotations?.["deployment.kubernetes.io/revision"]],
            ["Selector", sel ? <Labels labels={sel.matchLabels} /> : undefined],
            ["Images", <span class="mono small">{(o.spec?.template?.spec?.containers ?? []).map((c: any) => c.image).join(", ")}</span>],
          ]}
        />
        <MetaFacts obj={o} />
      </Section>
      <Section title="Pods" id="wl-pods-h">
        <PodTable rows={mine} state={pods} showNs={false} label={`Pods of ${o.metadata.name}`} />
      </Section>
      {p.res.kind === "Deployment" && <ReplicaSets obj={o} />}
      <Conditions obj={o} />
      <ObjectEvents obj={o} />
    </>
  );
}

function ReplicaSets(p: { obj: any }) {
  const t = useAtom(now);
  const rs = useCollection(R.replicasets, p.obj.metadata.namespace);
  const mine = rs.items
    .filter((x) => (x.metadata.ownerReferences ?? []).some((o: any) => o.uid === p.obj.metadata.uid))
    .sort((a, b) => Number(b.metadata.annotations?.["deployment.kubernetes.io/revision"] ?? 0) - Number(a.metadata.annotations?.["deployment.kubernetes.io/revision"] ?? 0));
  const cols: Col<any>[] = [
    { h: "Revision", cls: "num", cell: (x) => x.metadata.annotations?.["deployment.kubernetes.io/revision"] ?? "-" },
    { h: "ReplicaSet", cell: (x) => <a href={objectHref(R.replicasets, x.metadata.namespace, x.metadata.name)}>{x.metadata.name}</a> },
    { h: "Ready", cls: "num", cell: (x) => `${x.status?.readyReplicas ?? 0}/${x.spec?.replicas ?? 0}` },
    { h: "Images", cls: "mono small", cell: (x) => (x.spec?.template?.spec?.containers ?? []).map((c: any) => c.image).join(", ") },
    { h: "Age", cls: "num", cell: (x) => age(x.metadata.creationTimestamp, t) },
  ];
  return (
    <Section title="Revisions" id="rs-h">
      <Table label="ReplicaSets" cols={cols} rows={mine} rowKey={(x) => x.metadata.uid} state={rs} empty="No ReplicaSets yet" />
    </Section>
  );
}

function NodeSummary(p: { obj: any }) {
  const n = p.obj;
  const pods = useCollection(R.pods);
  const mine = pods.items.filter((x) => x.spec?.nodeName === n.metadata.name);
  const info = n.status?.nodeInfo ?? {};
  const ready = condition(n, "Ready");
  return (
    <>
      <Section title="Node" id="node-h">
        <Facts
          rows={[
            ["Status", <Badge text={ready?.status === "True" ? "Ready" : ready?.status === "False" ? "NotReady" : "Offline"} />],
            ["Addresses", <span class="mono">{(n.status?.addresses ?? []).map((a: any) => `${a.type}: ${a.address}`).join(", ")}</span>],
            ["Pod CIDR", n.spec?.podCIDR],
            ["OS", [info.osImage, info.kernelVersion, info.architecture].filter(Boolean).join(" · ")],
            ["Runtime", info.containerRuntimeVersion],
            ["Version", info.kubeletVersion],
            ["Capacity", Object.entries(n.status?.capacity ?? {}).map(([k, v]) => `${k} ${v}`).join(", ")],
            ["Allocatable", Object.entries(n.status?.allocatable ?? {}).map(([k, v]) => `${k} ${v}`).join(", ")],
            ["Taints", (n.spec?.taints ?? []).map((t: any) => `${t.key}${t.value ? `=${t.value}` : ""}:${t.effect}`).join(", ")],
          ]}
        />
        <MetaFacts obj={n} />
      </Section>
      <Conditions obj={n} />
      <Section title="Pods on this node" id="node-pods-h">
        <PodTable rows={mine} state={pods} showNs={true} label={`Pods on ${n.metadata.name}`} />
      </Section>
    </>
  );
}

function ServiceSummary(p: { obj: any }) {
  const s = p.obj;
  const pods = useCollection(R.pods, s.metadata.namespace);
  const sel = s.spec?.selector;
  const mine = sel ? pods.items.filter((x) => matches({ matchLabels: sel }, x.metadata.labels)) : [];
  return (
    <>
      <Section title="Service" id="svc-h">
        <Facts
          rows={[
            ["Type", s.spec?.type ?? "ClusterIP"],
            ["Cluster IP", <span class="mono">{(s.spec?.clusterIPs ?? [s.spec?.clusterIP]).filter(Boolean).join(", ")}</span>],
            ["External", <span class="mono">{(s.status?.loadBalancer?.ingress ?? []).map((i: any) => i.ip ?? i.hostname).join(", ") || "-"}</span>],
            ["Ports", <span class="mono">{(s.spec?.ports ?? []).map((x: any) => `${x.name ? `${x.name} ` : ""}${x.port}→${x.targetPort ?? x.port}${x.nodePort ? ` (node ${x.nodePort})` : ""}/${x.protocol ?? "TCP"}`).join(", ")}</span>],
            ["Selector", sel ? <Labels labels={sel} /> : "none"],
          ]}
        />
        <MetaFacts obj={s} />
      </Section>
      {sel && (
        <Section title="Pods behind it" id="svc-pods-h">
          <PodTable rows={mine} state={pods} showNs={false} />
        </Section>
      )}
      <ObjectEvents obj={s} />
    </>
  );
}

export function Summary(p: { res: Res; obj: any }) {
  const k = p.res.kind;
  if (!p.res.group && k === "Pod") return <PodSummary obj={p.obj} />;
  if (!p.res.group && k === "Node") return <NodeSummary obj={p.obj} />;
  if (!p.res.group && k === "Service") return <ServiceSummary obj={p.obj} />;
  if ((p.res.group === "apps" && k !== "ControllerRevision") || (p.res.group === "batch" && k === "Job")) return <WorkloadSummary res={p.res} obj={p.obj} />;
  return (
    <>
      <Section title={k} id="gen-h">
        <MetaFacts obj={p.obj} />
        {p.obj.spec ? (
          <Facts
            rows={Object.entries(p.obj.spec)
              .filter(([, v]) => v === null || typeof v !== "object")
              .slice(0, 12)
              .map(([key, v]) => [key, String(v)])}
          />
        ) : null}
      </Section>
      <Conditions obj={p.obj} />
      {p.res.namespaced ? <ObjectEvents obj={p.obj} /> : null}
    </>
  );
}
