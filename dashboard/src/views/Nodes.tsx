// Nodes: Ready (offline agents with when they were last seen), addresses, pods, CPU and memory.
import { useMemo } from "preact/hooks";
import { age, bytes, condition, cores, quantity } from "../format";
import { useMetrics } from "../metrics";
import { R, objectHref } from "../resources";
import { now, useAtom } from "../state";
import { useCollection, type CollectionState } from "../store";
import { Badge, Bar, byName, Section, Table, type Col } from "../ui";

export interface NodeRow {
  node: any;
  status: string;
  lastSeen?: string;
  pods: number;
  cpu?: number;
  memory?: number;
}

/** Everything the node tables need, from the node, lease, pod watches and metrics. */
export function useNodeRows(): { rows: NodeRow[]; state: CollectionState; metricsError?: string } {
  const nodes = useCollection(R.nodes);
  const leases = useCollection(R.leases, "kube-node-lease");
  const pods = useCollection(R.pods);
  const m = useMetrics("nodes", undefined, leases.items.length ? leasesVersion(leases) : nodes.items.length, nodes.synced && !nodes.error);
  const rows = useMemo(() => {
    const perNode = new Map<string, number>();
    for (const p of pods.items) {
      const n = p.spec?.nodeName;
      if (n && !["Succeeded", "Failed"].includes(p.status?.phase)) perNode.set(n, (perNode.get(n) ?? 0) + 1);
    }
    const renew = new Map<string, string>(leases.items.map((l) => [l.metadata.name, l.spec?.renewTime]));
    return [...nodes.items].sort(byName).map((node): NodeRow => {
      const ready = condition(node, "Ready");
      const status = ready?.status === "True" ? "Ready" : ready?.status === "False" ? "NotReady" : "Offline";
      const lastSeen = renew.get(node.metadata.name) ?? ready?.lastHeartbeatTime;
      const u = m.usage.get(node.metadata.name);
      return { node, status: node.spec?.unschedulable ? `${status},SchedulingDisabled` : status, lastSeen, pods: perNode.get(node.metadata.name) ?? 0, cpu: u?.cpu, memory: u?.memory };
    });
  }, [nodes, leases, pods, m]);
  return { rows, state: nodes, metricsError: m.error?.message };
}

/** Changes on every lease renewal: the moment to read metrics again. */
function leasesVersion(l: CollectionState): number {
  return l.items.reduce((s, x) => s + Number(x.metadata?.resourceVersion ?? 0), 0);
}

function addresses(node: any): string {
  return (node.status?.addresses ?? []).filter((a: any) => a.type !== "Hostname").map((a: any) => a.address).join(", ") || "-";
}

function roles(node: any): string {
  const r = Object.keys(node.metadata?.labels ?? {})
    .filter((k) => k.startsWith("node-role.kubernetes.io/"))
    .map((k) => k.slice("node-role.kubernetes.io/".length));
  return r.join(",") || "worker";
}

export function nodeCols(t: number): Col<NodeRow>[] {
  return [
    { h: "Name", cell: (r) => <a href={objectHref(R.nodes, undefined, r.node.metadata.name)}>{r.node.metadata.name}</a> },
    {
      h: "Status",
      cell: (r) => (
        <span>
          {r.status.split(",").map((s) => (
            <Badge text={s} />
          ))}
          {r.status !== "Ready" && r.lastSeen ? <span class="muted small"> last seen {age(r.lastSeen, t)} ago</span> : null}
        </span>
      ),
    },
    { h: "Roles", cls: "hide-md", cell: (r) => roles(r.node) },
    { h: "Addresses", cls: "hide-sm", cell: (r) => <span class="mono">{addresses(r.node)}</span> },
    { h: "Pods", cls: "num", cell: (r) => `${r.pods}/${r.node.status?.allocatable?.pods ?? "-"}` },
    {
      h: "CPU",
      cell: (r) => {
        const alloc = quantity(r.node.status?.allocatable?.cpu);
        return r.cpu === undefined ? <span class="muted">–</span> : <Bar value={r.cpu} max={alloc} label={`CPU of ${r.node.metadata.name}`} text={`${cores(r.cpu)} / ${cores(alloc)}`} />;
      },
    },
    {
      h: "Memory",
      cell: (r) => {
        const alloc = quantity(r.node.status?.allocatable?.memory);
        return r.memory === undefined ? <span class="muted">–</span> : <Bar value={r.memory} max={alloc} label={`Memory of ${r.node.metadata.name}`} text={`${bytes(r.memory)} / ${bytes(alloc)}`} />;
      },
    },
    { h: "Version", cls: "hide-md", cell: (r) => r.node.status?.nodeInfo?.kubeletVersion ?? "-" },
    { h: "Age", cls: "num", cell: (r) => age(r.node.metadata.creationTimestamp, t) },
  ];
}

export function Nodes() {
  const t = useAtom(now);
  const { rows, state, metricsError } = useNodeRows();
  return (
    <Section title="Nodes" id="nodes-h">
      <Table label="Nodes" cols={nodeCols(t)} rows={rows} rowKey={(r) => r.node.metadata.name} state={state} empty="No nodes have joined yet" />
      {metricsError ? <p class="note muted">CPU and memory unavailable: {metricsError}</p> : null}
    </Section>
  );
}
