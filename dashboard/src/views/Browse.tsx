// Every kind the server serves, from discovery: custom resources first, each listed
// generically (name, namespace, age) and opening the same object page as built-in kinds.
import { useState } from "preact/hooks";
import { useDiscovery, type Discovered } from "../discovery";
import { age } from "../format";
import { objectHref } from "../resources";
import { namespace, now, useAtom } from "../state";
import { useCollection } from "../store";
import { byName, byText, ErrorNote, Section, Table, type Col } from "../ui";

const idOf = (r: Discovered) => `${r.group || "core"}/${r.version}/${r.plural}`;

function Listing(p: { res: Discovered }) {
  const ns = useAtom(namespace);
  const t = useAtom(now);
  const [filter, setFilter] = useState("");
  const c = useCollection(p.res, ns);
  const cols: Col<any>[] = [{ h: "Name", cell: (o) => <a href={objectHref(p.res, o.metadata.namespace, o.metadata.name)}>{o.metadata.name}</a> }];
  if (p.res.namespaced && !ns) cols.push({ h: "Namespace", cell: (o) => o.metadata.namespace });
  cols.push({ h: "Age", cls: "num", cell: (o) => age(o.metadata.creationTimestamp, t) });
  return (
    <Section
      title={`${p.res.kind} (${p.res.group ? `${p.res.group}/` : ""}${p.res.version})`}
      id="browse-h"
      actions={
        <label>
          <span class="sr-only">Filter by name</span>
          <input type="search" placeholder="Filter by name…" value={filter} onInput={(e) => setFilter((e.target as HTMLInputElement).value)} />
        </label>
      }
    >
      <Table label={p.res.kind} cols={cols} rows={byText([...c.items].sort(byName), filter)} rowKey={(o) => o.metadata.uid ?? o.metadata.name} state={c} empty={`No ${p.res.plural}`} />
    </Section>
  );
}

export function Browse(p: { parts: string[] }) {
  const d = useDiscovery();
  const selected = p.parts.slice(1).join("/");
  if (d.error) return <ErrorNote error={d.error} />;
  if (!d.resources) return <p class="muted">Loading…</p>;
  const custom = d.resources.filter((r) => r.custom).sort((a, b) => a.kind.localeCompare(b.kind));
  const builtin = d.resources.filter((r) => !r.custom).sort((a, b) => a.kind.localeCompare(b.kind));
  const res = d.resources.find((r) => idOf(r) === selected);
  const link = (r: Discovered) => (
    <li>
      <a href={`#/browse/${idOf(r)}`} aria-current={r === res ? "page" : undefined}>
        {r.kind}
      </a>
      <span class="muted small"> {r.group || "core"}</span>
    </li>
  );
  return (
    <div class="browse">
      <nav class="card kinds" aria-label="Kinds">
        <h2>Custom resources</h2>
        {custom.length ? <ul>{custom.map(link)}</ul> : <p class="muted small">None: no CustomResourceDefinitions are installed.</p>}
        <h2>Built-in</h2>
        <ul>{builtin.map(link)}</ul>
      </nav>
      <div class="browse-main">{res ? <Listing res={res} key={idOf(res)} /> : <p class="muted">Choose a kind to list its objects.</p>}</div>
    </div>
  );
}
