// An interactive shell in a pod's container: exec over WebSocket, through the node's tunnel.
import { useEffect, useRef, useState } from "preact/hooks";
import { execSocket, request } from "../api";
import type { ShellHandle, ShellStatus } from "../term";
import { ContainerPicker, ErrorNote } from "../ui";

type TermModule = typeof import("../term");
let termModule: Promise<TermModule> | undefined;

/** term.js/term.css are fetched the first time a shell opens (xterm is most of their weight). */
function loadTerminal(): Promise<TermModule> {
  if (!termModule) {
    const link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = new URL("term.css", document.baseURI).href;
    document.head.append(link);
    const url = new URL("term.js", document.baseURI).href;
    termModule = import(/* runtime URL, not bundled */ url) as Promise<TermModule>;
    termModule.catch(() => (termModule = undefined));
  }
  return termModule;
}

const COMMANDS = ["sh", "bash", "ash"];

function statusText(s: ShellStatus): string {
  if (s.kind === "live") return "● connected";
  if (s.kind === "connecting") return "connecting…";
  return s.kind === "error" ? `error: ${s.text}` : s.text;
}

export function Shell(p: { pod: any }) {
  const containers: string[] = (p.pod.spec?.containers ?? []).map((c: any) => c.name);
  const [container, setContainer] = useState(containers[0] ?? "");
  const [command, setCommand] = useState("sh");
  const [status, setStatus] = useState<ShellStatus>({ kind: "connecting" });
  const [denied, setDenied] = useState<Error | undefined>();
  const [gen, setGen] = useState(0);
  const box = useRef<HTMLDivElement>(null);
  const ns = p.pod.metadata.namespace;
  const name = p.pod.metadata.name;

  useEffect(() => {
    let handle: ShellHandle | undefined;
    let alive = true;
    setDenied(undefined);
    setStatus({ kind: "connecting" });
    void (async () => {
      // A refused WebSocket upgrade reaches the page without its Status, so ask first.
      try {
        const review = await request("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", {
          body: { apiVersion: "authorization.k8s.io/v1", kind: "SelfSubjectAccessReview", spec: { resourceAttributes: { namespace: ns, verb: "create", resource: "pods", subresource: "exec", name } } },
        });
        if (!review?.status?.allowed) {
          if (alive) setDenied(new Error(`pods "${name}" is forbidden: you cannot create resource "pods/exec" in the namespace "${ns}"${review?.status?.reason ? ` (${review.status.reason})` : ""}`));
          return;
        }
      } catch {
        // no answer from the review: let the server decide on the upgrade itself
      }
      const mod = await loadTerminal();
      if (!alive || !box.current) return;
      box.current.textContent = "";
      const { url, protocols } = execSocket(ns, name, container, [command]);
      handle = mod.openShell(box.current, url, protocols, (s) => alive && setStatus(s));
    })().catch((e) => alive && setStatus({ kind: "error", text: String((e as Error).message ?? e) }));
    return () => {
      alive = false;
      handle?.close();
    };
  }, [ns, name, container, command, gen]);

  return (
    <div class="shell">
      <div class="toolbar">
        <ContainerPicker containers={containers} value={container} onChange={setContainer} />
        <label>
          Command{" "}
          <select value={command} onChange={(e) => setCommand((e.target as HTMLSelectElement).value)}>
            {COMMANDS.map((c) => (
              <option value={c}>{c}</option>
            ))}
          </select>
        </label>
        <span class={`live ${status.kind}`} role="status">
          {statusText(status)}
        </span>
        {(status.kind === "ended" || status.kind === "error") && (
          <button type="button" onClick={() => setGen((g) => g + 1)}>
            Reconnect
          </button>
        )}
      </div>
      {denied ? <ErrorNote error={denied} /> : <div class="terminal" ref={box} role="application" aria-label={`Shell in ${name}, container ${container}`} />}
    </div>
  );
}
