// Small shared pieces: tables, status badges, bars, error notes.
import type { ComponentChildren } from "preact";
import type { ApiError } from "./api";
import type { CollectionState } from "./store";
import { tone } from "./format";

export interface Col<T> {
  h: string;
  cell: (o: T) => ComponentChildren;
  cls?: string;
}

export function Table<T>(p: { label: string; cols: Col<T>[]; rows: T[]; rowKey: (o: T) => string; empty?: string; state?: CollectionState; limit?: number }) {
  const shown = p.limit ? p.rows.slice(0, p.limit) : p.rows;
  return (
    <div class="table-wrap">
      {p.state?.error ? <ErrorNote error={p.state.error} /> : null}
      {p.state?.reconnecting ? <p class="note warn">Connection lost; reconnecting…</p> : null}
      {!p.state?.error && (
        <table aria-label={p.label}>
          <thead>
            <tr>
              {p.cols.map((c) => (
                <th scope="col" class={c.cls}>
                  {c.h}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {shown.map((o) => (
              <tr key={p.rowKey(o)}>
                {p.cols.map((c) => (
                  <td class={c.cls}>{c.cell(o)}</td>
                ))}
              </tr>
            ))}
            {shown.length === 0 && (
              <tr>
                <td class="empty" colSpan={p.cols.length}>
                  {p.state && !p.state.synced ? "Loading…" : (p.empty ?? "None")}
                </td>
              </tr>
            )}
          </tbody>
        </table>
      )}
      {p.limit && p.rows.length > p.limit ? (
        <p class="note">
          Showing {p.limit} of {p.rows.length}.
        </p>
      ) : null}
    </div>
  );
}

export function Badge(p: { text: string; title?: string; kind?: string }) {
  return (
    <span class={`badge ${p.kind ?? tone(p.text)}`} title={p.title}>
      {p.text}
    </span>
  );
}

/** A bar for usage (fuller is worse) or progress (fuller is better); `value` of `max`. */
export function Bar(p: { value: number; max: number; label: string; text?: string; progress?: boolean }) {
  const frac = p.max > 0 && Number.isFinite(p.value) ? Math.min(1, Math.max(0, p.value / p.max)) : p.progress ? 1 : 0;
  const cls = p.progress ? (frac >= 1 ? "good" : "accent") : frac > 0.9 ? "bad" : frac > 0.75 ? "warn" : "good";
  return (
    <span class="bar-cell">
      <span class="bar" role="meter" aria-label={p.label} aria-valuemin={0} aria-valuemax={p.max} aria-valuenow={Number.isFinite(p.value) ? p.value : undefined}>
        <span class={`fill ${cls}`} style={{ width: `${Math.round(frac * 100)}%` }} />
      </span>
      {p.text !== undefined && <span class="bar-text">{p.text}</span>}
    </span>
  );
}

export function ErrorNote(p: { error: ApiError | Error; title?: string }) {
  const code = (p.error as ApiError).code;
  return (
    <p class={`note ${code === 403 ? "forbidden" : "error"}`} role="alert">
      {p.title ? <strong>{p.title}: </strong> : null}
      {p.error.message}
    </p>
  );
}

export function Section(p: { title: string; id?: string; actions?: ComponentChildren; children: ComponentChildren }) {
  return (
    <section class="card" aria-labelledby={p.id}>
      <header class="card-head">
        <h2 id={p.id}>{p.title}</h2>
        {p.actions}
      </header>
      {p.children}
    </section>
  );
}

export function Labels(p: { labels?: Record<string, string> }) {
  const e = Object.entries(p.labels ?? {});
  if (!e.length) return <span class="muted">none</span>;
  return (
    <span class="labels">
      {e.map(([k, v]) => (
        // Annotations can be whole documents (kubectl's last-applied-configuration): cut them.
        <code class="label" title={v.length > 80 ? v : undefined}>
          {k}={v.length > 80 ? `${v.slice(0, 77)}…` : v}
        </code>
      ))}
    </span>
  );
}

/** Filters objects by a free-text match on namespace/name. */
export function byText<T extends { metadata?: any }>(rows: T[], text: string): T[] {
  const t = text.trim().toLowerCase();
  if (!t) return rows;
  return rows.filter((o) => `${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? ""}`.toLowerCase().includes(t));
}

export function byName(a: any, b: any): number {
  return `${a.metadata?.namespace ?? ""}/${a.metadata?.name}`.localeCompare(`${b.metadata?.namespace ?? ""}/${b.metadata?.name}`);
}

/** The sailing-boat mark (an SVG: emoji fonts are often missing on edge machines). */
export function Logo() {
  return (
    <svg class="logo" viewBox="0 0 24 24" width="22" height="22" aria-hidden="true">
      <path d="M11 2 4 15h7z" fill="currentColor" opacity=".9" />
      <path d="M13 5v10h6z" fill="currentColor" opacity=".6" />
      <path d="M2 17h20l-3 4H5z" fill="currentColor" />
    </svg>
  );
}

/** The "Container" picker of a pod's logs and shell; shown only when there is a choice. */
export function ContainerPicker(p: { containers: string[]; value: string; onChange: (name: string) => void }) {
  if (p.containers.length < 2) return null;
  return (
    <label>
      Container{" "}
      <select value={p.value} onChange={(e) => p.onChange((e.target as HTMLSelectElement).value)}>
        {p.containers.map((c) => (
          <option value={c}>{c}</option>
        ))}
      </select>
    </label>
  );
}
