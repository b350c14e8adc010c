// The page frame: header (namespace, user), navigation, and the view the route names.
import { useEffect, useState } from "preact/hooks";
import { R } from "../resources";
import { namespace, route, session, useAtom } from "../state";
import { useCollection } from "../store";
import { Logo } from "../ui";
import { Browse } from "./Browse";
import { ControlPlane } from "./ControlPlane";
import { Detail } from "./Detail";
import { Events } from "./Events";
import { Network } from "./Network";
import { Nodes } from "./Nodes";
import { Overview } from "./Overview";
import { Pods } from "./Pods";
import { Workloads } from "./Workloads";

const NAV: [string, string][] = [
  ["", "Overview"],
  ["nodes", "Nodes"],
  ["workloads", "Workloads"],
  ["pods", "Pods"],
  ["network", "Services & Ingresses"],
  ["events", "Events"],
  ["cluster", "Control plane"],
  ["browse", "All kinds"],
];

/** The ServiceAccount's namespace, for a user who may not list namespaces. */
function homeNamespace(username: string): string {
  const m = /^system:serviceaccount:([^:]+):/.exec(username);
  return m ? m[1]! : "default";
}

function NamespacePicker() {
  const ns = useAtom(namespace);
  const s = useAtom(session)!;
  const list = useCollection(R.namespaces);
  const [draft, setDraft] = useState(ns);
  useEffect(() => {
    if (list.error?.code === 403 && !namespace.get()) namespace.set(homeNamespace(s.username));
  }, [list.error?.code]);
  useEffect(() => setDraft(ns), [ns]);
  if (list.error)
    return (
      <form
        class="ns-pick"
        onSubmit={(e) => {
          e.preventDefault();
          namespace.set(draft.trim());
        }}
      >
        <label>
          <span class="sr-only">Namespace</span>
          <input value={draft} size={12} aria-label="Namespace" title="You may not list namespaces: type the one to show" onInput={(e) => setDraft((e.target as HTMLInputElement).value)} />
        </label>
      </form>
    );
  const names = list.items.map((n) => n.metadata.name).sort();
  return (
    <label class="ns-pick">
      <span class="sr-only">Namespace</span>
      <select aria-label="Namespace" value={ns} onChange={(e) => namespace.set((e.target as HTMLSelectElement).value)}>
        <option value="">All namespaces</option>
        {names.map((n) => (
          <option value={n}>{n}</option>
        ))}
        {ns && !names.includes(ns) ? <option value={ns}>{ns}</option> : null}
      </select>
    </label>
  );
}

function View() {
  const r = useAtom(route);
  const [first = ""] = r.parts;
  switch (first) {
    case "":
      return <Overview />;
    case "nodes":
      return <Nodes />;
    case "workloads":
      return <Workloads />;
    case "pods":
      return <Pods />;
    case "network":
      return <Network />;
    case "events":
      return <Events />;
    case "cluster":
      return <ControlPlane />;
    case "browse":
      return <Browse parts={r.parts} />;
    case "o":
      return <Detail parts={r.parts} query={r.query} />;
    default:
      return <p class="note">There is no page “{r.parts.join("/")}”. <a href="#/">Back to the overview</a></p>;
  }
}

export function App(p: { onSignOut: () => void }) {
  const s = useAtom(session)!;
  const r = useAtom(route);
  const [menu, setMenu] = useState(false);
  const here = r.parts[0] === "o" ? "" : (r.parts[0] ?? "");
  useEffect(() => setMenu(false), [r]);
  useEffect(() => {
    const title = NAV.find(([k]) => k === here)?.[1];
    document.title = r.parts[0] === "o" ? `${r.parts[5] ?? ""} · Skiff` : `${title ?? "Skiff"} · Skiff`;
  }, [r]);
  return (
    <div class="frame">
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById("main")?.focus())}>
        Skip to content
      </a>
      <header class="top">
        <button type="button" class="menu-btn" aria-expanded={menu} aria-controls="nav" onClick={() => setMenu(!menu)}>
          <span aria-hidden="true">☰</span>
          <span class="sr-only">Menu</span>
        </button>
        <a class="brand" href="#/">
          <Logo /> Skiff
        </a>
        <NamespacePicker />
        <span class="user" title={s.groups.join(", ")}>
          {s.username}
        </span>
        <button type="button" class="signout" onClick={p.onSignOut}>
          Sign out
        </button>
      </header>
      <nav id="nav" class={menu ? "side open" : "side"} aria-label="Sections">
        <ul>
          {NAV.map(([k, label]) => (
            <li>
              <a href={`#/${k}`} aria-current={k === here && r.parts[0] !== "o" ? "page" : undefined}>
                {label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" tabIndex={-1}>
        <View />
      </main>
    </div>
  );
}
