// exec/attach on the node: CRI Exec/Attach gives a one-time URL on containerd's streaming
// server; we speak SPDY to it (the protocol kubelet's apiserver proxy uses), because its
// WebSocket side (v4 at most) cannot half-close stdin and `kubectl exec -i … < file` needs EOF.
// The tunnel stream carries channel-framed messages both ways (lib/wsstream/channel.ts):
// in: 0 stdin, 4 resize, 255+[0] stdin EOF; out: 1 stdout, 2 stderr, 3 status JSON, then END.
import type { CriClient } from "../cri/client.ts";
import type { DialedSpdy } from "../../lib/spdy/upgrade.ts";
import { spdy } from "./spdy.ts";
import type { SpdyStream } from "../../lib/spdy/session.ts";
import { CLOSE, ERROR, EXEC_SPDY_PROTOCOLS, RESIZE, STDERR, STDIN, STDOUT, encodeChannel, failureStatus } from "../../lib/wsstream/channel.ts";
import type { ExecRequest, TunnelStream } from "../../lib/wsstream/tunnel.ts";

const enc = new TextEncoder();

function send(t: TunnelStream, ch: number, data: Uint8Array): void {
  t.write(encodeChannel(ch, data) as Uint8Array);
}

/** Gets the streaming URL and connects; throws with a message for the client on failure. */
export async function dialExec(cri: CriClient, req: ExecRequest): Promise<DialedSpdy> {
  const containerId = req.containerId.replace(/^\w+:\/\//, "");
  const tty = req.tty;
  const stderr = req.stderr && !tty;
  const url =
    req.kind === "exec"
      ? await cri.exec({ containerId, cmd: req.command, tty, stdin: req.stdin, stdout: req.stdout, stderr })
      : await cri.attach({ containerId, tty, stdin: req.stdin, stdout: req.stdout, stderr });
  return (await spdy()).dialSpdy(url, EXEC_SPDY_PROTOCOLS);
}

/** Bridges an accepted tunnel stream and a dialed containerd session until the command ends. */
export async function runExec(t: TunnelStream, d: DialedSpdy, req: ExecRequest): Promise<void> {
  const s = d.session;
  const tty = req.tty;
  const stderrWanted = req.stderr && !tty;
  let statusText = "";
  const waits: Promise<void>[] = [];
  const drained = (st: SpdyStream, ch?: number) =>
    new Promise<void>((resolve) =>
      st.on({
        data: (b) => (ch === undefined ? (statusText += new TextDecoder().decode(b)) : send(t, ch, b)),
        end: resolve,
        reset: () => resolve(),
      }),
    );
  let stdinStream: SpdyStream | null = null;
  let resizeStream: SpdyStream | null = null;
  try {
    // The order kubectl uses; the server waits for exactly these streams.
    const errS = await s.openStream({ streamtype: "error" });
    errS.end();
    waits.push(drained(errS));
    if (req.stdin) stdinStream = await s.openStream({ streamtype: "stdin" });
    if (req.stdout) {
      const o = await s.openStream({ streamtype: "stdout" });
      o.end();
      waits.push(drained(o, STDOUT));
    }
    if (stderrWanted) {
      const e = await s.openStream({ streamtype: "stderr" });
      e.end();
      waits.push(drained(e, STDERR));
    }
    if (tty && d.protocol !== "v2.channel.k8s.io" && d.protocol !== "channel.k8s.io") resizeStream = await s.openStream({ streamtype: "resize" });
  } catch (e) {
    send(t, ERROR, enc.encode(JSON.stringify(failureStatus(`cannot start the ${req.kind} session: ${(e as Error).message}`))));
    t.end();
    d.close();
    return;
  }
  t.on({
    data: (m) => {
      const ch = m[0];
      const body = m.subarray(1);
      if (ch === STDIN) stdinStream?.write(body);
      else if (ch === RESIZE) resizeStream?.write(body);
      else if (ch === CLOSE && body[0] === STDIN) stdinStream?.end();
    },
    end: () => stdinStream?.end(),
    reset: () => d.close(),
  });
  await Promise.all(waits);
  // containerd writes the v4 Status JSON itself (with NonZeroExitCode and the exit code);
  // nothing on the error stream means success.
  const status = statusText.trim() ? statusText.trim() : JSON.stringify({ metadata: {}, status: "Success" });
  if (!t.closed) {
    send(t, ERROR, enc.encode(status));
    t.end();
  }
  d.close();
}
