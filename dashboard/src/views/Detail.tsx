// One object's page: a live summary, YAML view and edit, and its actions (scale, rollout
// restart/undo, delete); pods add logs and a shell. Works for any kind, custom ones included.
import { useEffect, useRef, useState } from "preact/hooks";
import type { Res } from "../api";
import { applyObject, remove, restart, scale, undo } from "../actions";
import { discover } from "../discovery";
import { age } from "../format";
import { objectHref, R, resOf, RESTARTABLE, SCALABLE } from "../resources";
import { now, useAtom } from "../state";
import { useCollection } from "../store";
import { ErrorNote } from "../ui";
import { forEdit, forView, toYaml } from "../yaml";
import { Logs } from "./Logs";
import { Shell } from "./Shell";
import { Summary } from "./Summary";
import { YamlEditor } from "./YamlEditor";

function useRes(group: string, version: string, plural: string): { res?: Res; error?: Error } {
  const known = Object.values(R).find((r) => r.group === group && r.version === version && r.plural === plural);
  const [s, setS] = useState<{ res?: Res; error?: Error }>(known ? { res: known } : {});
  useEffect(() => {
    if (known) return setS({ res: known });
    discover().then(
      (all) => {
        const res = all.find((r) => r.group === group && r.version === version && r.plural === plural);
        setS(res ? { res } : { error: new Error(`the server does not serve ${plural} in ${group || "core"}/${version}`) });
      },
      (error) => setS({ error }),
    );
  }, [group, version, plural]);
  return s;
}

export function Detail(p: { parts: string[]; query: URLSearchParams }) {
  const [, g = "", version = "", plural = "", nsPart = "-", name = ""] = p.parts;
  const group = g === "core" ? "" : g;
  const ns = nsPart === "-" ? undefined : nsPart;
  const { res, error } = useRes(group, version, plural);
  const col = useCollection(res, ns, `fieldSelector=${encodeURIComponent(`metadata.name=${name}`)}`);
  const obj = col.items.find((o) => o.metadata?.name === name);
  const isPod = res?.kind === "Pod" && !res.group;
  const tabs = ["summary", "yaml", ...(isPod ? ["logs", "shell"] : [])];
  const tab = tabs.includes(p.query.get("tab") ?? "") ? p.query.get("tab")! : "summary";
  const t = useAtom(now);

  if (error) return <ErrorNote error={error} />;
  if (!res) return <p class="muted">Loading…</p>;
  return (
    <article class="detail">
      <header class="detail-head">
        <p class="crumb">
          <span class="kind">{res.kind}</span>
          {ns ? <span class="muted"> in {ns}</span> : null}
        </p>
        <h1>{name}</h1>
        {obj ? (
          <p class="muted small">
            created {age(obj.metadata.creationTimestamp, t)} ago
            {obj.metadata.deletionTimestamp ? <strong class="bad-text"> · deleting</strong> : null}
            <Owners obj={obj} />
          </p>
        ) : null}
      </header>
      {col.error ? (
        <ErrorNote error={col.error} />
      ) : !obj ? (
        <p class="muted">{col.synced ? `${res.kind} "${name}" does not exist (or was deleted).` : "Loading…"}</p>
      ) : (
        <>
          <Actions res={res} ns={ns} obj={obj} />
          <nav class="tabs" aria-label="Views of this object">
            {tabs.map((x) => (
              <a href={objectHref(res, ns, name, x === "summary" ? undefined : x)} aria-current={x === tab ? "page" : undefined} class={x === tab ? "tab active" : "tab"}>
                {x === "yaml" ? "YAML" : x[0]!.toUpperCase() + x.slice(1)}
              </a>
            ))}
          </nav>
          {tab === "summary" && <Summary res={res} obj={obj} />}
          {tab === "yaml" && <YamlTab res={res} ns={ns} obj={obj} edit={p.query.get("edit") === "1"} />}
          {tab === "logs" && <Logs pod={obj} />}
          {tab === "shell" && <Shell pod={obj} />}
        </>
      )}
    </article>
  );
}

function Owners(p: { obj: any }) {
  const owners = p.obj.metadata.ownerReferences ?? [];
  if (!owners.length) return null;
  return (
    <>
      {" · owned by "}
      {owners.map((o: any, i: number) => {
        const r = resOf(o.apiVersion, o.kind);
        const label = `${o.kind.toLowerCase()}/${o.name}`;
        return (
          <>
            {i > 0 ? ", " : ""}
            {r ? <a href={objectHref(r, p.obj.metadata.namespace, o.name)}>{label}</a> : label}
          </>
        );
      })}
    </>
  );
}

function Actions(p: { res: Res; ns: string | undefined; obj: any }) {
  const [msg, setMsg] = useState<{ ok?: string; error?: Error }>({});
  const [busy, setBusy] = useState(false);
  const [replicas, setReplicas] = useState<string>(String(p.obj.spec?.replicas ?? 1));
  const dialog = useRef<HTMLDialogElement>(null);
  const name = p.obj.metadata.name;
  const desired = p.obj.spec?.replicas;
  useEffect(() => setReplicas(String(desired ?? 1)), [desired]);

  const run = async (what: () => Promise<string>) => {
    setBusy(true);
    setMsg({});
    try {
      setMsg({ ok: await what() });
    } catch (e) {
      setMsg({ error: e as Error });
    } finally {
      setBusy(false);
    }
  };
  const onScale = (e: Event) => {
    e.preventDefault();
    const n = Number(replicas);
    if (!Number.isInteger(n) || n < 0) return setMsg({ error: new Error("replicas must be a whole number, 0 or more") });
    void run(async () => (await scale(p.res, p.ns, name, n), `Scaled to ${n}`));
  };
  const [delError, setDelError] = useState<Error | undefined>();
  const onDelete = async () => {
    setBusy(true);
    setDelError(undefined);
    try {
      await remove(p.res, p.ns, name);
      dialog.current?.close();
      setMsg({ ok: `Deleting ${p.res.kind.toLowerCase()} ${name}` });
    } catch (e) {
      setDelError(e as Error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="actions">
      {SCALABLE.has(p.res.plural) && !p.res.group.includes(".") && (
        <form class="scale" onSubmit={onScale}>
          <label>
            Replicas{" "}
            <input type="number" min={0} inputMode="numeric" value={replicas} aria-label="Replicas" onInput={(e) => setReplicas((e.target as HTMLInputElement).value)} />
          </label>
          <button type="submit" disabled={busy}>
            Scale
          </button>
        </form>
      )}
      {RESTARTABLE.has(p.res.plural) && p.res.group === "apps" && (
        <button type="button" disabled={busy} onClick={() => run(async () => (await restart(p.res, p.ns, name), "Restart requested: pods are being replaced"))}>
          Restart
        </button>
      )}
      {p.res.plural === "deployments" && p.res.group === "apps" && (
        <button type="button" disabled={busy} onClick={() => run(async () => `Rolled back to revision ${await undo(p.res, p.ns!, p.obj)}`)}>
          Undo rollout
        </button>
      )}
      <a class="button" href={`${objectHref(p.res, p.ns, name, "yaml")}&edit=1`}>
        Edit YAML
      </a>
      <button type="button" class="danger" disabled={busy} onClick={() => (setDelError(undefined), dialog.current?.showModal())}>
        Delete
      </button>
      <span class="action-msg" role="status" aria-live="polite">
        {msg.ok ? <span class="ok-text">{msg.ok}</span> : null}
      </span>
      {msg.error ? <ErrorNote error={msg.error} /> : null}
      <dialog ref={dialog} aria-labelledby="del-title">
        <h2 id="del-title">
          Delete {p.res.kind.toLowerCase()} “{name}”?
        </h2>
        <p>{p.res.kind === "Namespace" ? "Everything in it is deleted too." : "Objects it owns are deleted too."}</p>
        {delError ? <ErrorNote error={delError} /> : null}
        <div class="edit-actions">
          <button type="button" class="danger" disabled={busy} onClick={() => void onDelete()}>
            Delete
          </button>
          <button type="button" onClick={() => dialog.current?.close()} autofocus>
            Cancel
          </button>
        </div>
      </dialog>
    </div>
  );
}

function YamlTab(p: { res: Res; ns: string | undefined; obj: any; edit: boolean }) {
  const name = p.obj.metadata.name;
  const [initial, setInitial] = useState<string | undefined>(undefined);
  // The text is taken once when editing starts: later watch events must not overwrite it.
  useEffect(() => setInitial(p.edit ? toYaml(forEdit(p.obj)) : undefined), [p.edit]);
  const view = objectHref(p.res, p.ns, name, "yaml");
  if (p.edit && initial !== undefined)
    return (
      <YamlEditor
        initial={initial}
        onApply={(o) => applyObject(p.res, p.ns, name, o)}
        onCancel={() => (location.hash = view)}
        onDone={() => (location.hash = view)}
      />
    );
  return (
    <div class="yaml-view">
      <pre class="yaml" tabIndex={0} aria-label={`YAML of ${name}`}>
        {toYaml(forView(p.obj))}
      </pre>
    </div>
  );
}
