// The cluster at a glance: counts, nodes, workloads, control plane and recent warnings.
import { podStatus } from "../format";
import { R } from "../resources";
import { namespace, now, session, useAtom } from "../state";
import { useCollection } from "../store";
import { Section, Table } from "../ui";
import { useMembers } from "./ControlPlane";
import { EventTable } from "./Events";
import { nodeCols, useNodeRows } from "./Nodes";
import { rollout, WorkloadTable } from "./Workloads";

function Stat(p: { label: string; value: string; sub?: string; tone?: string; href: string }) {
  return (
    <a class={`stat ${p.tone ?? ""}`} href={p.href}>
      <span class="stat-label">{p.label}</span>
      <span class="stat-value">{p.value}</span>
      {p.sub ? <span class="stat-sub">{p.sub}</span> : null}
    </a>
  );
}

export function Overview() {
  const ns = useAtom(namespace);
  const t = useAtom(now);
  const admin = useAtom(session)?.groups.includes("system:masters");
  const nodes = useNodeRows();
  const pods = useCollection(R.pods, ns);
  const deps = useCollection(R.deployments, ns);
  const events = useCollection(R.events, ns);
  const members = useMembers();
  const ready = nodes.rows.filter((r) => r.status.startsWith("Ready")).length;
  const counts = new Map<string, number>();
  for (const p of pods.items) {
    const s = podStatus(p);
    counts.set(s, (counts.get(s) ?? 0) + 1);
  }
  const running = counts.get("Running") ?? 0;
  const problems = pods.items.length - running - (counts.get("Succeeded") ?? 0) - (counts.get("Completed") ?? 0);
  const depsDone = deps.items.filter((d) => rollout("Deployment", d).status === "Complete").length;
  const warnings = events.items.filter((e) => e.type === "Warning");
  const leader = members.members?.find((m) => m.leader);
  const can = (s: { error?: { code: number } }) => !s.error;
  return (
    <>
      <div class="stats">
        {can(nodes.state) && <Stat label="Nodes ready" value={`${ready}/${nodes.rows.length}`} tone={ready < nodes.rows.length || !nodes.rows.length ? "warn" : "good"} href="#/nodes" sub={!nodes.rows.length ? "no node has joined" : nodes.rows.length - ready ? `${nodes.rows.length - ready} offline or not ready` : "all ready"} />}
        {can(pods) && <Stat label="Pods running" value={`${running}/${pods.items.length}`} tone={problems > 0 ? "warn" : "good"} href="#/pods" sub={problems > 0 ? `${problems} not running` : "all running"} />}
        {can(deps) && <Stat label="Deployments" value={`${depsDone}/${deps.items.length}`} tone={depsDone < deps.items.length ? "warn" : "good"} href="#/workloads" sub={depsDone < deps.items.length ? "rolling out or degraded" : "all rolled out"} />}
        {can(events) && <Stat label="Warnings" value={String(warnings.length)} tone={warnings.length ? "bad" : "good"} href="#/events" sub="in recent events" />}
        {members.members && <Stat label="Control plane" value={leader ? leader.name : "no leader"} tone={leader ? "good" : "bad"} href="#/cluster" sub={`term ${leader?.term ?? "-"}, ${members.members.length} member${members.members.length === 1 ? "" : "s"}`} />}
      </div>
      {(admin || nodes.rows.length > 0) && (
        <Section title="Nodes" id="ov-nodes">
          <Table label="Nodes" cols={nodeCols(t)} rows={nodes.rows} rowKey={(r) => r.node.metadata.name} state={nodes.state} empty="No nodes have joined yet" />
        </Section>
      )}
      <Section title="Deployments" id="ov-deploy" actions={<a href="#/workloads">All workloads →</a>}>
        <WorkloadTable res={R.deployments} ns={ns} limit={10} />
      </Section>
      <Section title="Recent warnings" id="ov-warn" actions={<a href="#/events">All events →</a>}>
        <EventTable rows={warnings} state={events} limit={8} />
      </Section>
    </>
  );
}
