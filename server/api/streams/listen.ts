// A node:http(s) listener for the whole API, for when SPDY/3.1 upgrades must work (kubectl ≤ 1.29
// exec/attach, ≤ 1.30 port-forward, other client-go tools): Bun.serve cannot hand a raw socket
// over, node:http's 'upgrade' event can. Ordinary requests are turned into Fetch Requests for the
// Hono app (streamed both ways, so watches and `logs -f` flow); WebSocket and SPDY upgrades on
// stream paths go to the stream server.
//
//   const l = await listenNode({ hostname, port, tls: { cert, key }, fetch: app.fetch, streams });
import http from "node:http";
import tls from "node:tls";
import type { AddressInfo, Socket } from "node:net";
import { ApiError } from "../../errors";
import { DEFAULT_LIMITS, type Limits } from "../limits";
import { derToPem, setClientCert } from "../client-certs";
import type { StreamServer } from "./index";
import { isWatchUpgrade, serveWatchUpgrade } from "../../dashboard/watch-socket";

export interface NodeListenOptions {
  hostname: string;
  port: number;
  /** ca: the CA whose client certificates are asked for (x509 authentication; verified by the app). */
  tls?: { cert: string; key: string; ca?: string };
  /** The API app; `env.remoteAddress` is the client's address (the audit log's sourceIPs). */
  fetch: (req: Request, env?: { remoteAddress?: string }) => Response | Promise<Response>;
  streams: StreamServer;
  /** Body size, stall and idle limits (default DEFAULT_LIMITS). */
  limits?: Pick<Limits, "maxBodyBytes" | "bodyStallMs" | "idleConnectionMs">;
}

export interface NodeListener {
  port: number;
  /** Serve a new certificate to new connections (certificate rotation); open ones keep theirs. */
  setTls(tls: { cert: string; key: string; ca?: string }): Promise<void>;
  stop(): Promise<void>;
}

/** How the request body was left: never read, read to its end, or cut off (too big, stalled). */
interface BodyState {
  state: "unread" | "done" | "aborted";
}

/**
 * The request body as a stream read only when a handler asks (so authentication, which reads
 * headers only, runs before any of it is received), with TCP back-pressure while nobody reads,
 * at most `max` bytes (413) and at most `stallMs` without a byte (408).
 */
function bodyStream(req: http.IncomingMessage, l: Pick<Limits, "maxBodyBytes" | "bodyStallMs">, st: BodyState): ReadableStream<Uint8Array> {
  let total = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let finished = false;
  let ctrl!: ReadableStreamDefaultController<Uint8Array>;
  const stop = (state: BodyState["state"]) => {
    finished = true;
    st.state = state;
    if (timer) clearTimeout(timer);
    req.removeAllListeners("data");
    req.pause();
  };
  const fail = (e: Error) => {
    if (finished) return;
    stop("aborted");
    ctrl.error(e);
  };
  // The stall clock runs only while a reader waits for bytes.
  const arm = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => fail(new ApiError(408, "Timeout", `the request body sent nothing for ${Math.round(l.bodyStallMs / 1000)} s: send it whole, or not at all`)), l.bodyStallMs);
    timer.unref?.();
  };
  return new ReadableStream<Uint8Array>(
    {
      start(c) {
        ctrl = c;
        req.pause();
        req.on("data", (chunk: Buffer) => {
          if (finished) return;
          total += chunk.length;
          if (total > l.maxBodyBytes) return fail(new ApiError(413, "RequestEntityTooLarge", `the request body is larger than ${l.maxBodyBytes} bytes`));
          ctrl.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
          if ((ctrl.desiredSize ?? 0) > 0) arm();
          else {
            req.pause();
            if (timer) clearTimeout(timer);
          }
        });
        req.on("end", () => {
          if (finished) return;
          stop("done");
          ctrl.close();
        });
        req.on("error", (e) => fail(e));
      },
      pull() {
        if (finished) return;
        arm();
        req.resume();
      },
      cancel() {
        if (!finished) stop("aborted");
      },
    },
    { highWaterMark: 64 * 1024, size: (c) => c?.byteLength ?? 0 },
  );
}

function toFetchRequest(req: http.IncomingMessage, base: string, l: Pick<Limits, "maxBodyBytes" | "bodyStallMs">, st: BodyState): Request {
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
  const method = req.method ?? "GET";
  const init: RequestInit & { duplex?: string } = { method, headers };
  const declared = Number(req.headers["content-length"] ?? NaN);
  const hasBody = method !== "GET" && method !== "HEAD" && (declared > 0 || (!Number.isFinite(declared) && !!req.headers["transfer-encoding"]));
  if (hasBody) {
    init.body = bodyStream(req, l, st);
    init.duplex = "half";
  } else st.state = "done";
  return new Request(new URL(req.url ?? "/", base).toString(), init);
}

async function writeResponse(res: http.ServerResponse, r: Response, req: http.IncomingMessage, streaming: boolean): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  r.headers.forEach((v, k) => {
    if (k === "set-cookie") headers[k] = [...((headers[k] as string[]) ?? []), v];
    else headers[k] = v;
  });
  if (!r.body || req.method === "HEAD") {
    res.writeHead(r.status, headers);
    res.end();
    return;
  }
  // Ordinary API responses are small and complete: one write, not a read loop. Only streams
  // (watch, logs -f) are marked chunked by their handlers and copied as they come.
  if (!streaming && headers["transfer-encoding"] !== "chunked") {
    const buf = Buffer.from(await r.arrayBuffer());
    headers["content-length"] = String(buf.byteLength);
    res.writeHead(r.status, headers);
    res.end(buf);
    return;
  }
  res.writeHead(r.status, headers);
  const reader = r.body.getReader();
  let gone = false;
  res.on("close", () => {
    if (!res.writableFinished) {
      gone = true;
      reader.cancel().catch(() => {});
    }
  });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done || gone) break;
      if (!res.write(value)) await new Promise<void>((ok) => res.once("drain", ok).once("close", ok));
    }
  } catch {
    // the body failed mid-stream (e.g. a watch torn down): end what we have
  }
  res.end();
}

export async function listenNode(o: NodeListenOptions): Promise<NodeListener> {
  const base = `${o.tls ? "https" : "http"}://${o.hostname.includes(":") ? `[${o.hostname}]` : o.hostname}:${o.port}`;
  const l = { ...DEFAULT_LIMITS, ...o.limits };
  // A connection idle for idleConnectionMs is closed: before its first request (one that never
  // finishes its headers or TLS handshake included) and between requests; never during one.
  const idle = (sock: Socket) => sock.setTimeout(l.idleConnectionMs);
  const onRequest = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    req.socket.setTimeout(0);
    const body: BodyState = { state: "unread" };
    res.once("finish", () => {
      // A body nobody read (refused before reading it: 401, 403, 413...) is not drained:
      // closing is cheaper than receiving up to gigabytes to throw away.
      if (body.state === "done") idle(req.socket);
      else if (typeof req.socket.destroySoon === "function") req.socket.destroySoon();
      else req.socket.end();
    });
    try {
      const fr = toFetchRequest(req, base, l, body);
      const peer = (req.socket as tls.TLSSocket).getPeerCertificate?.(false) as { raw?: Buffer } | undefined;
      if (peer?.raw?.length) setClientCert(fr, derToPem(peer.raw));
      const ours = o.streams.handles(fr);
      const r = (ours ? await o.streams.fetch(fr, undefined as any) : undefined) ?? (await o.fetch(fr, { remoteAddress: req.socket.remoteAddress }));
      if (body.state !== "done" && !res.headersSent) res.setHeader("Connection", "close");
      await writeResponse(res, r, req, ours);
    } catch (e) {
      if (!res.headersSent) res.writeHead(500, { "Content-Type": "application/json", Connection: "close" });
      res.end(JSON.stringify({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: String((e as Error).message), reason: "InternalError", code: 500 }));
    }
  };
  const make = (opts: NodeListenOptions["tls"]): Served => {
    const server = http.createServer(onRequest);
    // TLS is terminated by a tls.Server that hands each connection to the HTTP server: Bun's
    // https server does not expose the client's certificate, a TLS socket does. Client
    // certificates are asked for, never required (token clients send none); the app verifies them.
    const sockets = new Set<tls.TLSSocket>();
    const front = opts
      ? tls.createServer(
          { cert: opts.cert, key: opts.key, handshakeTimeout: Math.min(120_000, l.idleConnectionMs), ...(opts.ca ? { ca: opts.ca, requestCert: true, rejectUnauthorized: false } : {}) },
          (sock) => {
            sockets.add(sock);
            sock.once("close", () => sockets.delete(sock));
            server.emit("connection", sock);
          },
        )
      : undefined;
    server.keepAliveTimeout = l.idleConnectionMs;
    server.requestTimeout = 0;
    server.headersTimeout = 60_000;
    server.on("connection", (sock: Socket) => {
      idle(sock);
      sock.on("timeout", () => sock.destroy());
    });
    server.on("upgrade", (req, socket, head) => {
      // Streams (exec, port-forward, tunnels, watches) may be silent for hours.
      (socket as Socket).setTimeout?.(0);
      if (o.streams.handleNodeUpgrade(req, socket, head)) return;
      // Watch over WebSocket (the dashboard's watches: browsers keep few HTTP/1.1 connections).
      if (isWatchUpgrade(req)) serveWatchUpgrade(req, socket, head, base, o.fetch).catch(() => socket.destroy());
      else socket.end("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    });
    return { http: server, net: front ?? server, sockets };
  };
  const listen = (s: Served, port: number) =>
    new Promise<number>((resolve, reject) => {
      s.net.once("error", reject);
      s.net.listen(port, o.hostname, () => resolve((s.net.address() as AddressInfo).port));
    });
  let tlsNow = o.tls;
  let server = make(tlsNow);
  // Listeners replaced by setTls: they accept nothing new but still carry open watches and streams.
  const retired: Served[] = [];
  const port = await listen(server, o.port);
  let swapping = Promise.resolve();
  return {
    port,
    // Bun's servers cannot swap their certificate in place (no setSecureContext): a new listener
    // takes the port a moment after the old one stops accepting; connections already open stay
    // on the old one (with the old certificate) until they close.
    setTls: (tls) =>
      (swapping = swapping.catch(() => {}).then(async () => {
        const next = make(tls);
        const old = server;
        retired.push(old);
        old.net.close(() => retired.splice(retired.indexOf(old), 1));
        try {
          await listen(next, port);
        } catch (e) {
          // Never leave the port without a listener: try again with the old certificate.
          server = make(tlsNow);
          await listen(server, port);
          throw e;
        }
        server = next;
        tlsNow = tls;
      })),
    stop: () =>
      new Promise<void>((ok) => {
        o.streams.stop();
        server.net.close(() => ok());
        for (const s of [server, ...retired]) {
          (s.http as any).closeAllConnections?.();
          for (const sock of s.sockets) sock.destroy();
        }
      }),
  };
}

/** The HTTP server and what listens for it (itself, or the TLS server in front of it). */
interface Served {
  http: http.Server;
  net: http.Server | tls.Server;
  /** Open TLS connections (the HTTP server does not track connections handed to it). */
  sockets: Set<tls.TLSSocket>;
}
