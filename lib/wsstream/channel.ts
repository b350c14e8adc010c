// The Kubernetes WebSocket channel protocols for exec/attach (k8s.io/apimachinery wsstream):
// every binary message starts with a channel byte — 0 stdin, 1 stdout, 2 stderr, 3 error,
// 4 resize — and v5 adds 255 "close channel" (payload: the channel being closed) so stdin can
// reach EOF. `base64.channel.k8s.io` sends text messages with an ASCII channel digit and a
// base64 payload. The error channel carries a metav1.Status JSON from v4 on, plain text before.

export const STDIN = 0;
export const STDOUT = 1;
export const STDERR = 2;
export const ERROR = 3;
export const RESIZE = 4;
export const CLOSE = 255;

/** Sub-protocols we accept, most preferred first. */
export const EXEC_WS_PROTOCOLS = ["v5.channel.k8s.io", "v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io", "base64.channel.k8s.io"];

/** SPDY X-Stream-Protocol-Version values for exec/attach we speak, most preferred first. */
export const EXEC_SPDY_PROTOCOLS = ["v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"];

export const PORTFORWARD_SPDY_PROTOCOL = "portforward.k8s.io";
/** kubectl ≥ 1.30: SPDY frames inside WebSocket binary messages. */
export const PORTFORWARD_TUNNEL_PROTOCOL = "SPDY/3.1+portforward.k8s.io";
/** The older WebSocket port-forward (client libraries; kubectl never used it). */
export const PORTFORWARD_WS_PROTOCOLS = ["v4.channel.k8s.io", "portforward.k8s.io"];

/** Picks the first protocol of ours that the client offered (client order does not matter, like the apiserver). */
export function pickProtocol(offered: string[], ours: string[]): string | null {
  const set = new Set(offered.map((p) => p.trim()));
  return ours.find((p) => set.has(p)) ?? null;
}

export function parseProtocolHeader(h: string | null | undefined): string[] {
  return (h ?? "").split(",").map((s) => s.trim()).filter(Boolean);
}

export interface ChannelMessage {
  channel: number;
  data: Uint8Array;
}

export function encodeChannel(channel: number, data: Uint8Array, base64 = false): Uint8Array | string {
  if (base64) return String.fromCharCode(48 + channel) + Buffer.from(data).toString("base64");
  const out = new Uint8Array(1 + data.length);
  out[0] = channel;
  out.set(data, 1);
  return out;
}

export function decodeChannel(msg: Uint8Array | string): ChannelMessage | null {
  if (typeof msg === "string") {
    if (!msg.length) return null;
    const ch = msg.charCodeAt(0) - 48;
    return { channel: ch, data: new Uint8Array(Buffer.from(msg.slice(1), "base64")) };
  }
  if (!msg.length) return null;
  return { channel: msg[0]!, data: msg.subarray(1) };
}

/** Protocol version number: 1 for channel.k8s.io/base64, else the vN prefix. */
export function channelVersion(protocol: string): number {
  const m = /^v(\d+)\./.exec(protocol);
  return m ? Number(m[1]) : 1;
}

/** metav1.Status as exec reports it; v1–v3 peers get the message text instead. */
export interface ExecStatus {
  kind?: string;
  apiVersion?: string;
  metadata?: object;
  status: "Success" | "Failure";
  message?: string;
  reason?: string;
  code?: number;
  details?: { causes?: { reason?: string; message?: string }[] };
}

export function successStatus(): ExecStatus {
  return { metadata: {}, status: "Success" };
}

export function exitCodeStatus(code: number, what = "command"): ExecStatus {
  return {
    metadata: {},
    status: "Failure",
    message: `${what} terminated with non-zero exit code: exit code ${code}`,
    reason: "NonZeroExitCode",
    details: { causes: [{ reason: "ExitCode", message: String(code) }] },
  };
}

export function failureStatus(message: string, code = 500, reason = "InternalError"): ExecStatus {
  return { metadata: {}, status: "Failure", message, reason, code };
}

/** What goes on the error channel/stream for a protocol version (empty = nothing for success before v4). */
export function statusBytes(status: ExecStatus, version: number): Uint8Array {
  if (version >= 4) return new TextEncoder().encode(JSON.stringify({ kind: "Status", apiVersion: "v1", ...status }));
  if (status.status === "Success") return new Uint8Array(0);
  return new TextEncoder().encode(status.message ?? "error");
}

/** Resize payload ({"Width":w,"Height":h}); null if unparseable. */
export function parseResize(data: Uint8Array): { Width: number; Height: number } | null {
  try {
    const v = JSON.parse(new TextDecoder().decode(data));
    if (typeof v?.Width === "number" && typeof v?.Height === "number") return { Width: v.Width, Height: v.Height };
  } catch {}
  return null;
}
