// A node:http(s) listener for the whole API, for when SPDY/3.1 upgrades must work (kubectl ≤ 1.29
// exec/attach, ≤ 1.30 port-forward, other client-go tools): Bun.serve cannot hand a raw socket
// over, node:http's 'upgrade' event can. Ordinary requests are turned into Fetch Requests for the
// Hono app (streamed both ways, so watches and `logs -f` flow); WebSocket and SPDY upgrades on
// stream paths go to the stream server.
//
//   const l = await listenNode({ hostname, port, tls: { cert, key }, fetch: app.fetch, streams });
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import type { StreamServer } from "./index";

export interface NodeListenOptions {
  hostname: string;
  port: number;
  tls?: { cert: string; key: string };
  fetch: (req: Request) => Response | Promise<Response>;
  streams: StreamServer;
  maxRequestBodySize?: number;
}

export interface NodeListener {
  port: number;
  /** Serve a new certificate to new connections (certificate rotation); open ones keep theirs. */
  setTls(tls: { cert: string; key: string }): Promise<void>;
  stop(): Promise<void>;
}

async function toFetchRequest(req: http.IncomingMessage, base: string): Promise<Request> {
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
  const method = req.method ?? "GET";
  const init: RequestInit & { duplex?: string } = { method, headers };
  if (method !== "GET" && method !== "HEAD") {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    init.body = new Uint8Array(Buffer.concat(chunks));
  }
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
  const onRequest = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    try {
      const fr = await toFetchRequest(req, base);
      const ours = o.streams.handles(fr);
      const r = (ours ? await o.streams.fetch(fr, undefined as any) : undefined) ?? (await o.fetch(fr));
      await writeResponse(res, r, req, ours);
    } catch (e) {
      if (!res.headersSent) res.writeHead(500, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: String((e as Error).message), reason: "InternalError", code: 500 }));
    }
  };
  const make = (tls: NodeListenOptions["tls"]) => {
    const server = tls ? https.createServer({ cert: tls.cert, key: tls.key }, onRequest) : http.createServer(onRequest);
    server.keepAliveTimeout = 120_000;
    server.requestTimeout = 0;
    server.headersTimeout = 60_000;
    server.on("upgrade", (req, socket, head) => {
      if (!o.streams.handleNodeUpgrade(req, socket, head)) {
        socket.end("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      }
    });
    return server;
  };
  const listen = (server: http.Server, port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, o.hostname, () => resolve((server.address() as AddressInfo).port));
    });
  let tlsNow = o.tls;
  let server = make(tlsNow);
  // Listeners replaced by setTls: they accept nothing new but still carry open watches and streams.
  const retired: http.Server[] = [];
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
        old.close(() => retired.splice(retired.indexOf(old), 1));
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
        server.close(() => ok());
        for (const s of [server, ...retired]) (s as any).closeAllConnections?.();
      }),
  };
}
