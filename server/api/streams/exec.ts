// pods/exec and pods/attach: the node's stream is opened first (so a missing container or a
// node without a tunnel is an ordinary HTTP error kubectl prints), then the client's upgrade is
// accepted and bridged:
//   WebSocket (v5/v4/v3/v2/channel.k8s.io/base64.channel.k8s.io): channel byte per message;
//   SPDY/3.1 (kubectl ≤ 1.29): one SPDY stream per channel, named by the `streamtype` header.
// The tunnel stream itself speaks v5-style channel messages (see agent/tunnel/exec.ts).
import type { SpdyStream } from "../../../lib/spdy/session";
import {
  CLOSE,
  ERROR,
  RESIZE,
  STDERR,
  STDIN,
  STDOUT,
  channelVersion,
  decodeChannel,
  encodeChannel,
  statusBytes,
  type ExecStatus,
} from "../../../lib/wsstream/channel";
import type { ExecRequest, TunnelStream } from "../../../lib/wsstream/tunnel";
import { badRequest } from "../../errors";
import { containerFacts, getPod, goBoolParam, nodeOf, pickContainer, requireRunning } from "./pods";
import type { StreamDeps } from "./index";
import type { WsPeer, WsSession } from "./ws";

export function buildExecRequest(pod: any, kind: "exec" | "attach", q: URLSearchParams): ExecRequest {
  requireRunning(pod, kind === "exec" ? "exec" : "attach");
  const container = pickContainer(pod, q.get("container"));
  const command = q.getAll("command");
  if (kind === "exec" && !command.length) throw badRequest("you must specify at least one command for the container");
  const stdin = goBoolParam(q, "stdin");
  const stdout = goBoolParam(q, "stdout");
  const stderr = goBoolParam(q, "stderr");
  const tty = goBoolParam(q, "tty");
  if (!stdin && !stdout && !stderr) throw badRequest("you must specify at least 1 of stdin, stdout, stderr");
  const facts = containerFacts(pod, container);
  if (!facts.containerId || !facts.running) throw badRequest(`container not found ("${container}")`);
  return {
    kind,
    namespace: pod.metadata.namespace,
    pod: pod.metadata.name,
    uid: pod.metadata.uid,
    container,
    containerId: facts.containerId,
    command,
    stdin,
    stdout,
    stderr: stderr && !tty,
    tty,
  };
}

/** Resolves the pod and opens the node's stream (throws ApiError / TunnelOpenError). */
export async function openExec(deps: StreamDeps, kind: "exec" | "attach", ns: string, name: string, q: URLSearchParams): Promise<{ stream: TunnelStream; req: ExecRequest }> {
  const pod = await getPod(deps.getPod, ns, name);
  const req = buildExecRequest(pod, kind, q);
  const stream = await deps.tunnels.open(nodeOf(pod), req);
  return { stream, req };
}

function toStatus(bytes: Uint8Array): ExecStatus {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return { status: "Failure", message: new TextDecoder().decode(bytes) };
  }
}

/** The client speaks a WebSocket channel protocol. */
export function execWsSession(t: TunnelStream, protocol: string): WsSession {
  const version = channelVersion(protocol);
  const b64 = protocol.startsWith("base64.");
  let peer: WsPeer | null = null;
  let finished = false;
  return {
    onOpen(p) {
      peer = p;
      t.on({
        data: (m) => {
          const ch = m[0]!;
          const body = m.subarray(1);
          if (ch === ERROR) {
            const bytes = statusBytes(toStatus(body), version);
            if (bytes.length || version >= 4) p.send(encodeChannel(ERROR, bytes, b64));
          } else p.send(encodeChannel(ch, body, b64));
        },
        end: () => {
          finished = true;
          p.close(1000, "");
        },
        reset: (why) => {
          if (finished) return;
          finished = true;
          p.send(encodeChannel(ERROR, statusBytes({ status: "Failure", message: `the node closed the session: ${why}` }, version), b64));
          p.close(1000, "");
        },
      });
    },
    onMessage(data) {
      const m = decodeChannel(data);
      if (!m) return;
      if (m.channel === STDIN || m.channel === RESIZE) t.write(encodeChannel(m.channel, m.data) as Uint8Array);
      else if (m.channel === CLOSE && version >= 5) t.write(encodeChannel(CLOSE, m.data) as Uint8Array);
    },
    onClose() {
      // kubectl went away (or closed after the status): stop the command's session.
      if (!finished) t.reset("client closed the connection");
      else if (!t.closed) t.end();
      void peer;
    },
  };
}

/** How long a finished SPDY exec session waits for the client to close the connection. */
export const SESSION_LINGER_MS = 30_000;

/** The client spoke SPDY: returns the SPDY session's onStream handler. */
export function execSpdyBridge(t: TunnelStream, protocol: string, closeSession: () => void): (s: SpdyStream) => void {
  const version = channelVersion(protocol);
  const out = new Map<number, SpdyStream>();
  const pending = new Map<number, Uint8Array[]>();
  let finished = false;
  const deliver = (ch: number, b: Uint8Array) => {
    const s = out.get(ch);
    if (s) s.write(b);
    else pending.set(ch, [...(pending.get(ch) ?? []), b]);
  };
  const finish = () => {
    if (finished) return;
    finished = true;
    // End every stream (FIN after the frames already written) and let kubectl close the
    // connection once it has read them: it does as soon as stdout and stderr reach EOF. Closing
    // it from here raced with kubectl's SPDY reader (spdystream hands frames to per-stream
    // goroutines; a connection closed before they ran dropped the output, ~1 exec in 10 with
    // kubectl 1.27 on a busy machine). The timer only cleans up after a client that never closes.
    for (const s of out.values()) s.end();
    setTimeout(closeSession, SESSION_LINGER_MS).unref?.();
  };
  t.on({
    data: (m) => {
      const ch = m[0]!;
      const body = m.subarray(1);
      if (ch === ERROR) {
        const bytes = statusBytes(toStatus(body), version);
        if (bytes.length) deliver(ERROR, bytes);
      } else deliver(ch, body);
    },
    end: finish,
    reset: (why) => {
      deliver(ERROR, statusBytes({ status: "Failure", message: `the node closed the session: ${why}` }, version));
      finish();
    },
  });
  const channelOf: Record<string, number> = { stdin: STDIN, stdout: STDOUT, stderr: STDERR, error: ERROR, resize: RESIZE };
  return (s) => {
    const ch = channelOf[s.header("streamtype") ?? ""];
    if (ch === undefined) {
      s.reset();
      return;
    }
    if (ch === STDIN || ch === RESIZE) {
      s.on({
        data: (b) => t.write(encodeChannel(ch, b) as Uint8Array),
        end: () => {
          if (ch === STDIN) t.write(encodeChannel(CLOSE, new Uint8Array([STDIN])) as Uint8Array);
        },
        reset: () => {
          if (!finished) t.reset("client reset the stream");
        },
      });
      return;
    }
    // Output that came before kubectl opened this stream waits until the session has sent the
    // stream's SYN_REPLY (right after this handler returns): spdystream drops DATA (and its FIN)
    // on a stream not yet replied to, which lost exec output when the command was quicker than
    // kubectl's stream set-up (most often through a relay).
    queueMicrotask(() => {
      if (s.isReset) return;
      out.set(ch, s);
      for (const b of pending.get(ch) ?? []) s.write(b);
      pending.delete(ch);
      if (finished) s.end();
    });
  };
}
