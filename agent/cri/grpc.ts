// Unary gRPC calls over HTTP/2 on a unix socket (node:http2): what the CRI client needs and no
// more. Every CRI method the agent calls is unary, and exec/attach/port-forward streams go through
// the runtime's own streaming server, so this is a request with one length-prefixed message and a
// response with one message plus grpc-status trailers (the gRPC over HTTP/2 protocol).
//
// Why not @grpc/grpc-js here (DESIGN.md names it): in the compiled agent, grpc-js with its
// channelz/proto-loader/protobufjs dependencies costs ~11 MB of resident memory, a sixth of the
// idle agent's 60 MB budget (issue 4); the server's Raft transport still uses grpc-js.

import * as http2 from "node:http2";
import * as net from "node:net";

/** gRPC status codes (google.rpc.Code). */
export const Status = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

export const STATUS_NAMES: Record<number, string> = Object.fromEntries(Object.entries(Status).map(([k, v]) => [v, k]));

export class GrpcError extends Error {
  override name = "GrpcError";
  constructor(
    readonly code: number,
    readonly details: string,
  ) {
    super(`${STATUS_NAMES[code] ?? code}: ${details}`);
  }
}

export interface ChannelOptions {
  /** Largest response message accepted (default 16 MiB, as the agent configured grpc-js). */
  maxReceiveBytes?: number;
}

/** HTTP status → gRPC code when a response is not gRPC (the spec's mapping). */
function httpToGrpc(status: number): number {
  switch (status) {
    case 400:
      return Status.INTERNAL;
    case 401:
      return Status.UNAUTHENTICATED;
    case 403:
      return Status.PERMISSION_DENIED;
    case 404:
      return Status.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return Status.UNAVAILABLE;
    default:
      return Status.UNKNOWN;
  }
}

/** grpc-message is percent-encoded UTF-8. */
function decodeMessage(v: string | string[] | undefined): string {
  const s = Array.isArray(v) ? v.join(",") : (v ?? "");
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** grpc-timeout: at most 8 digits, in the coarsest unit that keeps them. */
function grpcTimeout(ms: number): string {
  const m = Math.max(1, Math.ceil(ms));
  return m < 1e8 ? `${m}m` : `${Math.ceil(m / 1000)}S`;
}

/** node:http2 errors of a stream that never left this process. */
const NOT_SENT_CODES = new Set(["ERR_HTTP2_GOAWAY_SESSION", "ERR_HTTP2_INVALID_SESSION"]);

/** A call the runtime did not see, so it is safe to send again. */
class NotSent extends Error {
  constructor(
    readonly session: http2.ClientHttp2Session,
    readonly error: GrpcError,
  ) {
    super(error.message);
  }
}

/** Where to dial: a unix socket path, or a TCP host and port (gRPC probes). */
export type ChannelTarget = string | { host: string; port: number };

/** Longest setTimeout delay; later deadlines are waited for in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** One HTTP/2 connection, re-dialled when it closes (containerd restarts). */
export class UnaryChannel {
  private session: http2.ClientHttp2Session | null = null;
  /** The session whose 'connect' has fired (Bun's ClientHttp2Session has no `connecting`). */
  private connected: http2.ClientHttp2Session | null = null;
  private closed = false;
  /** Calls in flight per connection (a re-dial can leave calls on the old one). */
  private readonly inFlight = new WeakMap<http2.ClientHttp2Session, number>();
  private readonly maxReceiveBytes: number;
  /** For messages: the socket path or host:port. */
  readonly address: string;

  constructor(
    readonly target: ChannelTarget,
    opts: ChannelOptions = {},
  ) {
    this.maxReceiveBytes = opts.maxReceiveBytes ?? 16 * 1024 * 1024;
    this.address = typeof target === "string" ? target : `${target.host.includes(":") ? `[${target.host}]` : target.host}:${target.port}`;
  }

  private open(): http2.ClientHttp2Session {
    if (this.closed) throw new GrpcError(Status.CANCELLED, "channel closed");
    const cur = this.session;
    if (cur && !cur.closed && !cur.destroyed) return cur;
    const t = this.target;
    const s = http2.connect(typeof t === "string" ? "http://localhost" : `http://${this.address}`, {
      createConnection: () => (typeof t === "string" ? net.connect(t) : net.connect({ host: t.host, port: t.port })),
      // Large CRI responses (ListContainers, ListImages) arrive without waiting for window updates.
      settings: { initialWindowSize: 4 * 1024 * 1024, enablePush: false },
    });
    const drop = () => {
      if (this.session === s) this.session = null;
      if (this.connected === s) this.connected = null;
    };
    s.once("connect", () => {
      if (this.session === s) this.connected = s;
    });
    s.on("error", drop);
    s.on("close", drop);
    s.on("goaway", drop);
    // A local socket with no calls in flight must not keep the process alive.
    s.unref();
    this.session = s;
    return s;
  }

  /** Resolves once the socket accepts an HTTP/2 connection; retries until the deadline. */
  async waitForReady(deadline: number): Promise<void> {
    let last = "";
    for (let delay = 50; ; delay = Math.min(delay * 2, 1000)) {
      try {
        const s = this.open();
        if (this.connected === s) return;
        await new Promise<void>((resolve, reject) => {
          const done = (err?: Error) => {
            clearTimeout(t);
            s.off("connect", onConnect);
            s.off("error", onError);
            s.off("close", onClose);
            if (err) reject(err);
            else resolve();
          };
          const onConnect = () => done();
          const onError = (e: Error) => done(e);
          const onClose = () => done(new Error("connection closed"));
          const t = setTimeout(() => done(new Error("timed out")), Math.min(MAX_TIMER_MS, Math.max(1, deadline - Date.now())));
          s.once("connect", onConnect);
          s.once("error", onError);
          s.once("close", onClose);
        });
        return;
      } catch (e) {
        last = (e as Error).message;
      }
      if (Date.now() + delay >= deadline) throw new GrpcError(Status.DEADLINE_EXCEEDED, `not ready: ${last}`);
      await Bun.sleep(delay);
    }
  }

  /** Sends one request message to `path` (/package.Service/Method) and returns the response's.
   *  A call the runtime never saw (a connection that was closing or never came up) is sent once
   *  more on a fresh connection, as grpc-js's transparent retry does. */
  async call(path: string, message: Uint8Array, deadline: number): Promise<Buffer> {
    try {
      return await this.attempt(path, message, deadline);
    } catch (e) {
      if (!(e instanceof NotSent) || Date.now() >= deadline) throw e instanceof NotSent ? e.error : e;
      if (this.session === e.session) this.session = null;
      e.session.close(); // calls still on it finish; then it goes
      return await this.attempt(path, message, deadline).catch((e2) => {
        throw e2 instanceof NotSent ? e2.error : e2;
      });
    }
  }

  private attempt(path: string, message: Uint8Array, deadline: number): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      let session: http2.ClientHttp2Session;
      try {
        session = this.open();
      } catch (e) {
        reject(e);
        return;
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        reject(new GrpcError(Status.DEADLINE_EXCEEDED, "deadline exceeded before the call was sent"));
        return;
      }
      // Calls in flight keep the process alive; an idle connection does not.
      const n = this.inFlight.get(session) ?? 0;
      this.inFlight.set(session, n + 1);
      if (n === 0) session.ref();
      let settled = false;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const finish = (err: Error | null, res?: Buffer) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const rest = (this.inFlight.get(session) ?? 1) - 1;
        this.inFlight.set(session, rest);
        if (rest === 0 && !session.destroyed) session.unref();
        if (err) reject(err);
        else resolve(res!);
      };
      let req: http2.ClientHttp2Stream;
      try {
        req = session.request({
          ":method": "POST",
          ":path": path,
          "content-type": "application/grpc",
          te: "trailers",
          // Past ~24.8 days the deadline is this side's alone: some servers (grpc-js) cannot
          // arm a timer that long and would expire the call at once.
          ...(left <= MAX_TIMER_MS ? { "grpc-timeout": grpcTimeout(left) } : {}),
        });
      } catch (e) {
        const err = e as Error & { code?: string };
        finish(new NotSent(session, new GrpcError(Status.UNAVAILABLE, `${err.code ?? "error"}: ${err.message} (${this.address})`)));
        return;
      }
      const arm = (ms: number) => {
        timer = setTimeout(() => {
          const rest = deadline - Date.now();
          if (rest > 0) return arm(rest);
          finish(new GrpcError(Status.DEADLINE_EXCEEDED, "deadline exceeded"));
          req.close(http2.constants.NGHTTP2_CANCEL);
        }, Math.min(ms, MAX_TIMER_MS));
      };
      arm(left);

      let httpStatus = 0;
      let contentType = "";
      let grpcStatus: string | undefined;
      let grpcMessage: string | string[] | undefined;
      const chunks: Buffer[] = [];
      let bytes = 0;
      const takeStatus = (h: http2.IncomingHttpHeaders) => {
        if (h["grpc-status"] !== undefined) {
          grpcStatus = String(h["grpc-status"]);
          grpcMessage = h["grpc-message"];
        }
      };
      req.on("response", (h) => {
        httpStatus = Number(h[":status"] ?? 0);
        contentType = String(h["content-type"] ?? "");
        takeStatus(h); // a trailers-only response carries the status in its headers
      });
      req.on("trailers", takeStatus);
      req.on("data", (d: Buffer) => {
        bytes += d.length;
        if (bytes > this.maxReceiveBytes + 5) {
          finish(new GrpcError(Status.RESOURCE_EXHAUSTED, `received message larger than max (${bytes} vs. ${this.maxReceiveBytes})`));
          req.close(http2.constants.NGHTTP2_CANCEL);
          return;
        }
        chunks.push(d);
      });
      req.on("error", (e: Error & { code?: string }) => {
        // A refused or reset connection is the runtime being away: UNAVAILABLE, like grpc-js.
        const err = new GrpcError(Status.UNAVAILABLE, `${e.code ?? "error"}: ${e.message} (${this.address})`);
        // Bun fails every open stream of a destroyed session with ERR_HTTP2_STREAM_CANCEL, sent
        // or not: only a stream that never got an id (still pending) is known to be unsent.
        const pending = e.code === "ERR_HTTP2_STREAM_CANCEL" ? req.id === undefined : NOT_SENT_CODES.has(e.code ?? "");
        const unsent = !httpStatus && (pending || req.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM);
        finish(unsent ? new NotSent(session, err) : err);
      });
      req.on("close", () => {
        if (settled) return;
        if (grpcStatus === undefined) {
          if (httpStatus && httpStatus !== 200) return finish(new GrpcError(httpToGrpc(httpStatus), `HTTP status ${httpStatus} from ${path}`));
          const code = req.rstCode;
          const err = new GrpcError(Status.UNAVAILABLE, `stream closed without a gRPC status${code ? ` (RST_STREAM ${code})` : ""}`);
          return finish(!httpStatus && code === http2.constants.NGHTTP2_REFUSED_STREAM ? new NotSent(session, err) : err);
        }
        const code = Number(grpcStatus);
        if (code !== Status.OK) return finish(new GrpcError(Number.isInteger(code) ? code : Status.UNKNOWN, decodeMessage(grpcMessage)));
        if (!contentType.startsWith("application/grpc")) return finish(new GrpcError(Status.UNKNOWN, `unexpected content-type ${JSON.stringify(contentType)}`));
        const body = Buffer.concat(chunks);
        if (body.length < 5) return finish(new GrpcError(Status.INTERNAL, "response has no message"));
        if (body[0] !== 0) return finish(new GrpcError(Status.INTERNAL, "compressed response message, but no compression was offered"));
        const len = body.readUInt32BE(1);
        if (body.length !== 5 + len) return finish(new GrpcError(Status.INTERNAL, `response message framing: ${body.length - 5} bytes for a ${len}-byte message`));
        finish(null, body.subarray(5));
      });

      const head = Buffer.allocUnsafe(5);
      head[0] = 0;
      head.writeUInt32BE(message.length, 1);
      req.end(Buffer.concat([head, message]));
    });
  }

  close(): void {
    this.closed = true;
    this.session?.close();
    this.session = null;
  }
}
