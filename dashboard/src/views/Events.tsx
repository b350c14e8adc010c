// Events, newest first; warnings stand out.
import { useState } from "preact/hooks";
import { age } from "../format";
import { R, objectHref, resOf } from "../resources";
import { namespace, now, useAtom } from "../state";
import { useCollection, type CollectionState } from "../store";
import { Badge, Section, Table, type Col } from "../ui";

export const eventTime = (e: any): string => e.lastTimestamp ?? e.eventTime ?? e.series?.lastObservedTime ?? e.firstTimestamp ?? e.metadata?.creationTimestamp ?? "";

export function sortEvents(items: any[]): any[] {
  return [...items].sort((a, b) => eventTime(b).localeCompare(eventTime(a)));
}

export function EventTable(p: { rows: any[]; state?: CollectionState; limit?: number; showObject?: boolean }) {
  const t = useAtom(now);
  const cols: Col<any>[] = [
    { h: "Type", cell: (e) => <Badge text={e.type ?? "Normal"} kind={e.type === "Warning" ? "bad" : "idle"} /> },
    { h: "Reason", cell: (e) => e.reason ?? "-" },
  ];
  if (p.showObject !== false)
    cols.push({
      h: "Object",
      cell: (e) => {
        const io = e.involvedObject ?? e.regarding ?? {};
        const res = resOf(io.apiVersion, io.kind);
        const label = `${(io.kind ?? "").toLowerCase()}/${io.name ?? ""}`;
        return res && io.name ? <a href={objectHref(res, io.namespace, io.name)}>{label}</a> : label;
      },
    });
  cols.push(
    { h: "Message", cls: "wrap", cell: (e) => e.message ?? e.note ?? "" },
    { h: "Count", cls: "num hide-sm", cell: (e) => e.count ?? e.series?.count ?? 1 },
    { h: "Last seen", cls: "num", cell: (e) => age(eventTime(e), t) },
  );
  return <Table label="Events" cols={cols} rows={sortEvents(p.rows)} rowKey={(e) => e.metadata.uid ?? e.metadata.name} state={p.state} limit={p.limit ?? 200} empty="No events" />;
}

export function Events() {
  const ns = useAtom(namespace);
  const ev = useCollection(R.events, ns);
  const [warnOnly, setWarnOnly] = useState(false);
  const rows = warnOnly ? ev.items.filter((e) => e.type === "Warning") : ev.items;
  return (
    <Section
      title="Events"
      id="events-h"
      actions={
        <label class="check">
          <input type="checkbox" checked={warnOnly} onChange={(e) => setWarnOnly((e.target as HTMLInputElement).checked)} /> Warnings only
        </label>
      }
    >
      <EventTable rows={rows} state={ev} />
    </Section>
  );
}
