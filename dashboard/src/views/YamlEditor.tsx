// A plain-text YAML editor whose errors sit at their lines: a textarea over a backdrop that
// repeats the text, marks the lines with errors, and writes each message after its line.
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError } from "../api";
import { parseYaml } from "../yaml";

export interface LineError {
  line?: number;
  field?: string;
  message: string;
}

export function YamlEditor(p: { initial: string; onApply: (obj: any) => Promise<void>; onCancel: () => void; onDone: () => void }) {
  const [text, setText] = useState(p.initial);
  const [errors, setErrors] = useState<LineError[]>([]);
  const [busy, setBusy] = useState(false);
  const area = useRef<HTMLTextAreaElement>(null);
  const back = useRef<HTMLDivElement>(null);
  const gutter = useRef<HTMLDivElement>(null);
  useEffect(() => area.current?.focus(), []);

  const sync = () => {
    const a = area.current;
    if (!a) return;
    if (back.current) back.current.style.transform = `translate(${-a.scrollLeft}px, ${-a.scrollTop}px)`;
    if (gutter.current) gutter.current.style.transform = `translateY(${-a.scrollTop}px)`;
  };

  const apply = async () => {
    const parsed = parseYaml(text);
    if (parsed.errors.length) {
      setErrors(parsed.errors.map((e) => ({ line: e.line, message: `YAML: ${e.message}` })));
      return;
    }
    if (!parsed.value || typeof parsed.value !== "object") {
      setErrors([{ message: "The document must be one Kubernetes object (apiVersion, kind, metadata, …)" }]);
      return;
    }
    setBusy(true);
    try {
      await p.onApply(parsed.value);
      setErrors([]);
      p.onDone();
    } catch (e) {
      const err = e as ApiError;
      const causes = err.causes?.filter((c) => c.field) ?? [];
      if (err.code === 422 && causes.length) {
        const located = causes.map((c) => ({ line: parsed.lineOf(c.field!)?.line, field: c.field, message: c.message ?? c.reason ?? "invalid" }));
        setErrors(located);
        const first = Math.min(...located.map((e) => e.line ?? Infinity));
        if (Number.isFinite(first)) goToLine(area.current, first, sync);
      } else setErrors([{ message: err.message }]);
    } finally {
      setBusy(false);
    }
  };

  const lines = text.split("\n");
  const byLine = new Map<number, LineError[]>();
  for (const e of errors) if (e.line !== undefined) byLine.set(e.line, [...(byLine.get(e.line) ?? []), e]);
  const onKey = (e: KeyboardEvent) => {
    if ((e.ctrlKey || e.metaKey) && e.key === "Enter") {
      e.preventDefault();
      void apply();
    } else if (e.key === "Escape") p.onCancel();
  };

  return (
    <div class="yaml-edit">
      {errors.length > 0 && (
        <ul class="edit-errors" id="yaml-errors" role="alert">
          {errors.map((e) => (
            <li>
              {e.line !== undefined ? (
                <button type="button" class="linkish" onClick={() => goToLine(area.current, e.line!, sync)}>
                  line {e.line + 1}
                </button>
              ) : null}{" "}
              {e.field ? <code>{e.field}</code> : null} {e.message}
            </li>
          ))}
        </ul>
      )}
      <div class="editor">
        <div class="gutter" aria-hidden="true">
          <div ref={gutter}>
            {lines.map((_, i) => (
              <div class={byLine.has(i) ? "ln err" : "ln"}>{i + 1}</div>
            ))}
          </div>
        </div>
        <div class="code">
          <div class="backdrop" aria-hidden="true" ref={back}>
            {lines.map((l, i) => {
              const errs = byLine.get(i);
              return (
                <div class={errs ? "line err" : "line"} data-line={i + 1}>
                  <span class="txt">{l || " "}</span>
                  {errs ? <span class="inline-err">{errs.map((e) => `◀ ${short(e.message)}`).join("  ")}</span> : null}
                </div>
              );
            })}
          </div>
          <textarea
            ref={area}
            value={text}
            spellcheck={false}
            wrap="off"
            autocapitalize="off"
            autocomplete="off"
            aria-label="Object YAML"
            aria-describedby={errors.length ? "yaml-errors" : undefined}
            aria-invalid={errors.length > 0}
            onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
            onScroll={sync}
            onKeyDown={onKey}
          />
        </div>
      </div>
      <div class="edit-actions">
        <button type="button" class="primary" disabled={busy} onClick={() => void apply()}>
          {busy ? "Applying…" : "Apply"}
        </button>
        <button type="button" disabled={busy} onClick={p.onCancel}>
          Cancel
        </button>
        <span class="muted small">Server-side apply as field manager “skiff-dashboard”. Ctrl+Enter applies, Esc cancels.</span>
      </div>
    </div>
  );
}

/** Long messages (a regex in an RFC 1123 hint) are cut at the line; the list above has them whole. */
function short(m: string): string {
  return m.length > 110 ? `${m.slice(0, 107)}…` : m;
}

function goToLine(a: HTMLTextAreaElement | null, line: number, after: () => void) {
  if (!a) return;
  const lines = a.value.split("\n");
  const start = lines.slice(0, line).reduce((n, l) => n + l.length + 1, 0);
  a.focus();
  a.setSelectionRange(start, start + (lines[line]?.length ?? 0));
  const lh = parseFloat(getComputedStyle(a).lineHeight) || 20;
  a.scrollTop = Math.max(0, line * lh - a.clientHeight / 3);
  after();
}
