// The ingress proxy's listeners (loaded only once an Ingress of Skiff's class exists): HTTP on
// the node's port 80 and HTTPS on 443 (certificates chosen by SNI), every request routed by
// routes.ts and sent to one of the backend Service's ready endpoints, round robin. A backend that
// refuses the connection (a pod that just went away) is skipped for the next one, so a scale-down
// does not turn into 502s while other endpoints are ready. WebSocket upgrades are bridged to the
// backend. Routes and endpoints are read on each request, so their changes need no reload; a
// certificate change starts a new HTTPS listener on the same port (SO_REUSEPORT) before the old
// one stops accepting, so no connection is refused or cut.

import { writeFileSync } from "node:fs";
import type { Server, ServerWebSocket } from "bun";
import { route, type Backend, type RouteTable } from "./routes.ts";

export interface Cert {
  serverName: string;
  cert: string;
  key: string;
}

export interface IngressServerOptions {
  httpPort: number;
  httpsPort: number;
  /** Address to listen on (default every address of the node). */
  hostname?: string;
  table: () => RouteTable;
  endpoints: (b: Backend) => string[];
  log: (msg: string) => void;
}

/** Request bodies up to this size are kept so a refused request can go to another endpoint. */
const RETRY_BODY_MAX = 1 << 20;
const HOP_BY_HOP = ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "proxy-authorization", "proxy-authenticate"];

interface WsData {
  target: string;
  headers: Record<string, string>;
  protocols: string[];
  up?: WebSocket;
  queue: (string | Buffer)[];
}

export class IngressServer {
  private http: Server<WsData> | null = null;
  private https: Server<WsData> | null = null;
  private tlsKey = "";
  private next = 0;
  requests = 0;
  retries = 0;

  constructor(private readonly o: IngressServerOptions) {}

  start(): void {
    // A certificate change closes the old HTTPS listener of the port's SO_REUSEPORT group:
    // without request migration the connections still in its accept queue are reset (seen as
    // rare failed requests during a TLS Secret change). Per network namespace, harmless elsewhere.
    try {
      writeFileSync("/proc/sys/net/ipv4/tcp_migrate_req", "1");
    } catch (e) {
      this.o.log(`ingress: a certificate change may reset a few queued connections (tcp_migrate_req: ${(e as Error).message})`);
    }
    this.http = this.listen(this.o.httpPort, undefined);
  }

  /** The certificates changed: HTTPS with these (none: no HTTPS listener). */
  setCerts(certs: Cert[]): void {
    const key = JSON.stringify(certs);
    if (key === this.tlsKey) return;
    this.tlsKey = key;
    const old = this.https;
    // The new listener shares the port with the old one until the old stops accepting.
    this.https = certs.length ? this.listen(this.o.httpsPort, certs) : null;
    old?.stop(false);
  }

  /** The ports listened on (differ from the options only for port 0, in tests). */
  get ports(): { http?: number; https?: number } {
    return { http: this.http?.port, https: this.https?.port };
  }

  stop(): void {
    this.http?.stop(true);
    this.https?.stop(true);
    this.http = this.https = null;
  }

  private listen(port: number, certs: Cert[] | undefined): Server<WsData> {
    return Bun.serve<WsData, never>({
      port,
      hostname: this.o.hostname ?? "0.0.0.0",
      reusePort: true,
      idleTimeout: 120,
      maxRequestBodySize: 1 << 30,
      ...(certs ? { tls: certs } : {}),
      fetch: (req, server) => this.handle(req, server, certs ? "https" : "http"),
      websocket: {
        open: (ws) => this.wsOpen(ws),
        message: (ws, m) => {
          if (ws.data.up?.readyState === WebSocket.OPEN) ws.data.up.send(m);
          else ws.data.queue.push(m);
        },
        close: (ws, code, reason) => ws.data.up?.close(code === 1005 || code === 1006 ? 1000 : code, reason),
      },
      error: (e) => {
        this.o.log(`ingress: ${e.message}`);
        return new Response("502 Bad Gateway\n", { status: 502 });
      },
    });
  }

  private async handle(req: Request, server: Server<WsData>, proto: "http" | "https"): Promise<Response | undefined> {
    this.requests++;
    const url = new URL(req.url);
    const host = req.headers.get("host") ?? url.host;
    const b = route(this.o.table(), host, url.pathname);
    if (!b) return new Response("404 page not found\n", { status: 404 });
    const eps = this.o.endpoints(b);
    if (!eps.length) return new Response(`503 Service Unavailable: no ready endpoints for ${b.ns}/${b.service}\n`, { status: 503 });
    const start = this.next++ % eps.length;
    const headers = new Headers(req.headers);
    for (const h of HOP_BY_HOP) headers.delete(h);
    const client = server.requestIP(req)?.address ?? "";
    const xff = req.headers.get("x-forwarded-for");
    headers.set("x-forwarded-for", xff ? `${xff}, ${client}` : client);
    headers.set("x-forwarded-proto", proto);
    headers.set("x-forwarded-host", host);
    headers.set("host", host);

    if (req.headers.get("upgrade")?.toLowerCase() === "websocket") {
      const protocols = (req.headers.get("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim()).filter(Boolean);
      for (const h of ["sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions", "sec-websocket-protocol"]) headers.delete(h);
      const data: WsData = { target: `ws://${eps[start]}${url.pathname}${url.search}`, headers: Object.fromEntries(headers), protocols, queue: [] };
      if (server.upgrade(req, { data, headers: protocols.length ? { "Sec-WebSocket-Protocol": protocols[0]! } : undefined })) return undefined;
      return new Response("400 Bad Request: WebSocket upgrade failed\n", { status: 400 });
    }

    // A body that is small enough is kept, so a refused connection can be retried elsewhere.
    const len = Number(req.headers.get("content-length") ?? (req.body ? NaN : 0));
    const body = !req.body ? undefined : len <= RETRY_BODY_MAX ? await req.arrayBuffer() : req.body;
    const retryable = !(body instanceof ReadableStream);
    let lastError = "";
    for (let i = 0; i < (retryable ? Math.min(eps.length, 3) : 1); i++) {
      const ep = eps[(start + i) % eps.length]!;
      try {
        const res = await fetch(`http://${ep}${url.pathname}${url.search}`, { method: req.method, headers, body, redirect: "manual", decompress: false } as RequestInit);
        const out = new Headers(res.headers);
        for (const h of HOP_BY_HOP) out.delete(h);
        return new Response(req.method === "HEAD" ? null : res.body, { status: res.status, statusText: res.statusText, headers: out });
      } catch (e) {
        lastError = (e as Error).message;
        if (i + 1 < eps.length) this.retries++;
      }
    }
    return new Response(`502 Bad Gateway: ${b.ns}/${b.service}: ${lastError}\n`, { status: 502 });
  }

  private wsOpen(ws: ServerWebSocket<WsData>): void {
    const d = ws.data;
    const up = new WebSocket(d.target, { headers: d.headers, protocols: d.protocols } as any);
    d.up = up;
    up.binaryType = "nodebuffer" as any;
    up.onopen = () => {
      for (const m of d.queue.splice(0)) up.send(m);
    };
    up.onmessage = (e) => ws.send(e.data as string | Buffer);
    up.onclose = (e) => ws.close(e.code === 1005 || e.code === 1006 ? 1000 : e.code, e.reason);
    up.onerror = () => ws.close(1011, "backend error");
  }
}
