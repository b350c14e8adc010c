// skiff exec [-i] [-t] POD [-c C] -- CMD...: the pods/exec WebSocket with the channel protocol
// kubectl 1.32 speaks (v5.channel.k8s.io: 0 stdin, 1 stdout, 2 stderr, 3 status, 4 resize,
// 255 close-stdin). The command's exit code becomes ours; -t with a terminal puts it in raw mode
// and forwards window-size changes.
import { writeSync } from "node:fs";
import { CLOSE, ERROR, RESIZE, STDERR, STDIN, STDOUT, encodeChannel, type ExecStatus } from "../../lib/wsstream/channel";
import { err, makeCtx, parseFlags, reportError, UsageError, type Ctx, type FlagSpec } from "./common";
import { pickContainer, podPath, resolvePod } from "./pod-target";

const spec: FlagSpec = {
  container: { type: "string", short: "c" },
  stdin: { type: "bool", short: "i" },
  tty: { type: "bool", short: "t" },
  quiet: { type: "bool", short: "q" },
};

const PROTOCOLS = ["v5.channel.k8s.io", "v4.channel.k8s.io"];

function write(fd: number, b: Uint8Array): void {
  let off = 0;
  while (off < b.length) {
    try {
      off += writeSync(fd, b, off, b.length - off);
    } catch (e: any) {
      if (e?.code !== "EAGAIN") throw e;
      Bun.sleepSync(1);
    }
  }
}

/** The exit code a status means: 0, the command's code (NonZeroExitCode), or null for an error. */
export function exitCodeOf(st: ExecStatus): number | null {
  if (st.status === "Success") return 0;
  if (st.reason === "NonZeroExitCode") {
    const c = st.details?.causes?.find((x) => x.reason === "ExitCode");
    const n = Number(c?.message);
    return Number.isInteger(n) ? n : 1;
  }
  return null;
}

/** wss://… URL and options for Bun's WebSocket, from the kubeconfig's credentials. */
function socketOptions(ctx: Ctx, path: string, query: URLSearchParams): { url: string; opts: Record<string, unknown> } {
  const base = new URL(ctx.client.server);
  const url = new URL(path + "?" + query.toString(), base);
  url.protocol = base.protocol === "https:" ? "wss:" : "ws:";
  const headers: Record<string, string> = { "User-Agent": "skiff" };
  const c = ctx.cfg;
  if (c.token) headers.Authorization = `Bearer ${c.token}`;
  else if (c.username !== undefined && c.password !== undefined) headers.Authorization = `Basic ${Buffer.from(`${c.username}:${c.password}`).toString("base64")}`;
  const tls: Record<string, unknown> = {};
  if (c.ca) tls.ca = c.ca;
  if (c.cert) tls.cert = c.cert;
  if (c.key) tls.key = c.key;
  if (c.insecureSkipTLSVerify) tls.rejectUnauthorized = false;
  return { url: url.toString(), opts: { protocols: PROTOCOLS, headers, tls, perMessageDeflate: false } };
}

export async function run(args: string[]): Promise<number> {
  try {
    const p = parseFlags(args, spec, "skiff exec");
    const dash = args.indexOf("--");
    // Everything after "--" is the command; before it only the pod (kubectl's modern form).
    const before = dash >= 0 ? p.positional.slice(0, p.positional.length - (args.length - dash - 1)) : p.positional;
    const command = dash >= 0 ? args.slice(dash + 1) : p.positional.slice(1);
    if (!before.length) throw new UsageError("expected 'exec POD_NAME COMMAND [ARG1] [ARG2] ... [ARGN]'.\nPOD or TYPE/NAME is a required argument for the exec command");
    if (before.length > 1 && dash >= 0) throw new UsageError(`exec [POD] [COMMAND] is not supported anymore. Use exec [POD] -- [COMMAND] instead`);
    if (!command.length) throw new UsageError("you must specify at least one command for the container");
    const ctx = makeCtx(p);
    const pod = await resolvePod(ctx, before[0]!);
    const phase = pod.status?.phase;
    if (phase === "Succeeded" || phase === "Failed") throw new Error(`cannot exec into a container in a completed pod; current phase is ${phase}`);
    const container = pickContainer(pod, p.flags.container);
    const stdin = !!p.flags.stdin;
    let tty = !!p.flags.tty && stdin;
    if (tty && !process.stdin.isTTY) {
      if (!p.flags.quiet) err("Unable to use a TTY - input is not a terminal or the right kind of file\n");
      tty = false;
    }
    const q = new URLSearchParams();
    for (const c of command) q.append("command", c);
    q.set("container", container);
    if (stdin) q.set("stdin", "true");
    q.set("stdout", "true");
    if (!tty) q.set("stderr", "true");
    if (tty) q.set("tty", "true");
    const { url, opts } = socketOptions(ctx, podPath(pod.metadata.namespace, pod.metadata.name, "exec"), q);
    return await session(url, opts, stdin, tty);
  } catch (e) {
    return reportError(e);
  }
}

function session(url: string, opts: Record<string, unknown>, stdin: boolean, tty: boolean): Promise<number> {
  return new Promise<number>((resolve) => {
    // Bun's WebSocket takes headers, protocols and TLS options (not in the DOM type).
    const ws = new WebSocket(url, opts as any);
    ws.binaryType = "arraybuffer";
    let status: ExecStatus | null = null;
    let opened = false;
    let rawSet = false;
    const cleanups: (() => void)[] = [];
    const finish = (code: number) => {
      for (const c of cleanups.splice(0)) c();
      if (rawSet) process.stdin.setRawMode?.(false);
      resolve(code);
    };
    const send = (ch: number, data: Uint8Array) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(encodeChannel(ch, data) as Uint8Array);
    };
    const sendResize = () => {
      const cols = process.stdout.columns;
      const rows = process.stdout.rows;
      if (cols && rows) send(RESIZE, new TextEncoder().encode(JSON.stringify({ Width: cols, Height: rows })));
    };
    ws.onopen = () => {
      opened = true;
      if (tty) {
        process.stdin.setRawMode?.(true);
        rawSet = true;
        sendResize();
        const onResize = () => sendResize();
        process.stdout.on("resize", onResize);
        cleanups.push(() => process.stdout.off("resize", onResize));
      }
      if (stdin) {
        const onData = (b: Buffer) => {
          send(STDIN, new Uint8Array(b));
          // Keep memory bounded when the tunnel is slower than our stdin.
          if (ws.bufferedAmount > 4 << 20) {
            process.stdin.pause();
            const t = setInterval(() => {
              if (ws.readyState !== WebSocket.OPEN || ws.bufferedAmount < 1 << 20) {
                clearInterval(t);
                process.stdin.resume();
              }
            }, 5);
          }
        };
        // v5: half-close stdin so `exec -i … < file` sees EOF.
        const onEnd = () => send(CLOSE, new Uint8Array([STDIN]));
        process.stdin.on("data", onData);
        process.stdin.on("end", onEnd);
        process.stdin.resume();
        cleanups.push(() => {
          process.stdin.off("data", onData);
          process.stdin.off("end", onEnd);
          process.stdin.pause();
        });
      }
    };
    ws.onmessage = (ev) => {
      if (typeof ev.data === "string") return;
      const m = new Uint8Array(ev.data as ArrayBuffer);
      if (!m.length) return;
      const body = m.subarray(1);
      if (m[0] === STDOUT) write(1, body);
      else if (m[0] === STDERR) write(2, body);
      else if (m[0] === ERROR && body.length) {
        try {
          status = JSON.parse(new TextDecoder().decode(body));
        } catch {
          status = { status: "Failure", message: new TextDecoder().decode(body) };
        }
      }
    };
    ws.onerror = () => {};
    ws.onclose = (ev) => {
      if (!opened) {
        err(`error: unable to upgrade connection: ${ev.reason || `the server closed the connection (code ${ev.code})`}\n`);
        return finish(1);
      }
      if (!status) return finish(0);
      const code = exitCodeOf(status);
      if (code !== null) {
        if (code !== 0) err(`command terminated with exit code ${code}\n`);
        return finish(code);
      }
      err(`error: ${status.message ?? "exec failed"}\n`);
      finish(1);
    };
  });
}
