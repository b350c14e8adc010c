// The pod shell's terminal, a bundle of its own (term.js + term.css) loaded only when a shell
// opens: xterm.js on a WebSocket that speaks Kubernetes' channel protocol (v5/v4.channel.k8s.io:
// one byte of channel, then data; 0 stdin, 1 stdout, 2 stderr, 3 status, 4 resize).
import { FitAddon } from "@xterm/addon-fit";
import { Terminal } from "@xterm/xterm";
import "@xterm/xterm/css/xterm.css";

export interface ShellHandle {
  close(): void;
  focus(): void;
}

export type ShellStatus = { kind: "connecting" } | { kind: "live" } | { kind: "ended"; text: string } | { kind: "error"; text: string };

export function openShell(el: HTMLElement, url: string, protocols: string[], onStatus: (s: ShellStatus) => void): ShellHandle {
  const term = new Terminal({
    cursorBlink: true,
    fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", "Liberation Mono", monospace',
    fontSize: 13,
    scrollback: 5000,
    theme: { background: "#0f172a", foreground: "#e2e8f0", cursor: "#38bdf8" },
  });
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.open(el);
  fit.fit();
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  const ws = new WebSocket(url, protocols);
  ws.binaryType = "arraybuffer";
  let opened = false;
  let done = false;
  const send = (ch: number, data: Uint8Array) => {
    if (ws.readyState !== WebSocket.OPEN) return;
    const b = new Uint8Array(data.length + 1);
    b[0] = ch;
    b.set(data, 1);
    ws.send(b);
  };
  const resize = () => send(4, enc.encode(JSON.stringify({ Width: term.cols, Height: term.rows })));
  onStatus({ kind: "connecting" });
  ws.onopen = () => {
    opened = true;
    onStatus({ kind: "live" });
    resize();
    term.focus();
  };
  ws.onmessage = (m) => {
    const b = new Uint8Array(m.data as ArrayBuffer);
    if (!b.length) return;
    const data = b.subarray(1);
    if (b[0] === 1 || b[0] === 2) term.write(data);
    else if (b[0] === 3) {
      done = true;
      onStatus({ kind: "ended", text: exitText(dec.decode(data)) });
    }
  };
  ws.onclose = (e) => {
    if (done) return;
    done = true;
    if (!opened) onStatus({ kind: "error", text: `the server refused the shell (WebSocket closed with ${e.code}${e.reason ? `: ${e.reason}` : ""}); is the pod running and its node connected?` });
    else onStatus({ kind: "ended", text: "session closed" });
  };
  term.onData((d) => send(0, enc.encode(d)));
  term.onResize(resize);
  const ro = new ResizeObserver(() => {
    try {
      fit.fit();
    } catch {
      // hidden (zero-sized) element: nothing to fit
    }
  });
  ro.observe(el);
  return {
    close() {
      ro.disconnect();
      done = true;
      ws.close();
      term.dispose();
    },
    focus: () => term.focus(),
  };
}

/** The status channel's Status: Success, or the exit code Kubernetes puts in its causes. */
function exitText(json: string): string {
  try {
    const s = JSON.parse(json);
    if (s.status === "Success") return "exited with code 0";
    const code = s.details?.causes?.find((c: any) => c.reason === "ExitCode")?.message;
    return code !== undefined ? `exited with code ${code}` : (s.message ?? "ended");
  } catch {
    return "ended";
  }
}
