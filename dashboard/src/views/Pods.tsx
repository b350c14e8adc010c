// Pods: phase (kubectl's STATUS), ready containers, restarts, node, age.
import { useState } from "preact/hooks";
import { age, podStatus, readyCount, restarts } from "../format";
import { R, objectHref } from "../resources";
import { namespace, now, useAtom } from "../state";
import { useCollection, type CollectionState } from "../store";
import { Badge, byName, byText, Section, Table, type Col } from "../ui";

export function podCols(t: number, showNs: boolean): Col<any>[] {
  const cols: Col<any>[] = [{ h: "Name", cell: (p) => <a href={objectHref(R.pods, p.metadata.namespace, p.metadata.name)}>{p.metadata.name}</a> }];
  if (showNs) cols.push({ h: "Namespace", cls: "hide-sm", cell: (p) => p.metadata.namespace });
  cols.push(
    { h: "Status", cell: (p) => <Badge text={podStatus(p)} /> },
    { h: "Ready", cls: "num", cell: readyCount },
    { h: "Restarts", cls: "num", cell: (p) => restarts(p) },
    { h: "Node", cls: "hide-sm", cell: (p) => (p.spec?.nodeName ? <a href={objectHref(R.nodes, undefined, p.spec.nodeName)}>{p.spec.nodeName}</a> : <span class="muted">unscheduled</span>) },
    { h: "IP", cls: "hide-sm mono", cell: (p) => p.status?.podIP ?? "-" },
    { h: "Age", cls: "num", cell: (p) => age(p.metadata.creationTimestamp, t) },
  );
  return cols;
}

export function PodTable(p: { rows: any[]; state?: CollectionState; showNs: boolean; label?: string; limit?: number }) {
  const t = useAtom(now);
  return <Table label={p.label ?? "Pods"} cols={podCols(t, p.showNs)} rows={[...p.rows].sort(byName)} rowKey={(o) => o.metadata.uid ?? o.metadata.name} state={p.state} empty="No pods" limit={p.limit} />;
}

export function Pods() {
  const ns = useAtom(namespace);
  const pods = useCollection(R.pods, ns);
  const [filter, setFilter] = useState("");
  return (
    <Section
      title="Pods"
      id="pods-h"
      actions={
        <label>
          <span class="sr-only">Filter pods by name</span>
          <input type="search" placeholder="Filter by name…" value={filter} onInput={(e) => setFilter((e.target as HTMLInputElement).value)} />
        </label>
      }
    >
      <PodTable rows={byText(pods.items, filter)} state={pods} showNs={!ns} />
    </Section>
  );
}
