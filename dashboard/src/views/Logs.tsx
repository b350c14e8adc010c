// A pod's logs, following live (GET pods/NAME/log?follow=true, streamed) until the page leaves.
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, streamLines } from "../api";
import { ContainerPicker, ErrorNote } from "../ui";

const MAX_LINES = 5000;

export function Logs(p: { pod: any }) {
  const containers: string[] = [...(p.pod.spec?.initContainers ?? []), ...(p.pod.spec?.containers ?? [])].map((c: any) => c.name);
  const [container, setContainer] = useState(p.pod.spec?.containers?.[0]?.name ?? containers[0] ?? "");
  const [follow, setFollow] = useState(true);
  const [previous, setPrevious] = useState(false);
  const [timestamps, setTimestamps] = useState(false);
  const [state, setState] = useState<{ status: "connecting" | "live" | "ended"; error?: ApiError }>({ status: "connecting" });
  const [gen, setGen] = useState(0);
  const pre = useRef<HTMLPreElement>(null);
  const ns = p.pod.metadata.namespace;
  const name = p.pod.metadata.name;

  useEffect(() => {
    const el = pre.current!;
    el.textContent = "";
    const ac = new AbortController();
    let count = 0;
    let pending: string[] = [];
    let frame = 0;
    const flush = () => {
      frame = 0;
      const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
      el.append(pending.join(""));
      count += pending.length;
      pending = [];
      // Keep the page light on long-running logs: drop the oldest lines past the cap.
      if (count > MAX_LINES * 1.2) {
        const all = (el.textContent ?? "").split("\n");
        el.textContent = all.slice(-MAX_LINES).join("\n");
        count = MAX_LINES;
      }
      if (atBottom) el.scrollTop = el.scrollHeight;
    };
    const q = new URLSearchParams({ container, tailLines: "1000" });
    if (follow && !previous) q.set("follow", "true");
    if (previous) q.set("previous", "true");
    if (timestamps) q.set("timestamps", "true");
    setState({ status: "connecting" });
    let first = true;
    streamLines(`/api/v1/namespaces/${encodeURIComponent(ns)}/pods/${encodeURIComponent(name)}/log?${q}`, ac.signal, (line) => {
      if (first) setState({ status: "live" }), (first = false);
      pending.push(line + "\n");
      if (!frame) frame = requestAnimationFrame(flush);
    })
      .then(() => {
        if (frame) cancelAnimationFrame(frame);
        flush();
        setState({ status: "ended" });
      })
      .catch((e) => {
        if (ac.signal.aborted) return;
        setState({ status: "ended", error: e as ApiError });
      });
    // A followed stream sends nothing until the container prints: say it is open.
    const t = setTimeout(() => first && setState((s) => (s.status === "connecting" ? { status: "live" } : s)), 1500);
    return () => {
      clearTimeout(t);
      ac.abort();
      if (frame) cancelAnimationFrame(frame);
    };
  }, [ns, name, container, follow, previous, timestamps, gen]);

  return (
    <div class="logs">
      <div class="toolbar">
        <ContainerPicker containers={containers} value={container} onChange={setContainer} />
        <label class="check">
          <input type="checkbox" checked={follow} disabled={previous} onChange={(e) => setFollow((e.target as HTMLInputElement).checked)} /> Follow
        </label>
        <label class="check">
          <input type="checkbox" checked={timestamps} onChange={(e) => setTimestamps((e.target as HTMLInputElement).checked)} /> Timestamps
        </label>
        <label class="check">
          <input type="checkbox" checked={previous} onChange={(e) => setPrevious((e.target as HTMLInputElement).checked)} /> Previous container
        </label>
        <span class={`live ${state.status}`} role="status">
          {state.status === "live" ? (follow && !previous ? "● following" : "loaded") : state.status === "connecting" ? "connecting…" : "stream ended"}
        </span>
        {state.status === "ended" && (
          <button type="button" onClick={() => setGen((g) => g + 1)}>
            Reconnect
          </button>
        )}
      </div>
      {state.error ? <ErrorNote error={state.error} /> : null}
      <pre class="log-view" ref={pre} tabIndex={0} aria-label={`Logs of ${name}, container ${container}`} aria-live="off" />
    </div>
  );
}
