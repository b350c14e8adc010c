// SPDY over an HTTP/1.1 `Upgrade: SPDY/3.1` connection, both ends:
//  - dialSpdy(): the client end (the agent to containerd's CRI streaming server), POST with
//    X-Stream-Protocol-Version offers, expects 101 and the chosen protocol back;
//  - acceptSpdy(): the server end on a raw socket handed over by node:http's 'upgrade' event
//    (kubectl ≤ 1.29 exec/attach, ≤ 1.30 port-forward).
import net from "node:net";
import tls from "node:tls";
import type { Duplex } from "node:stream";
import { SpdySession, type SessionOptions } from "./session.ts";

export interface DialedSpdy {
  session: SpdySession;
  /** The X-Stream-Protocol-Version the server chose. */
  protocol: string;
  close(): void;
}

export class UpgradeError extends Error {
  override name = "UpgradeError";
  constructor(
    message: string,
    readonly status: number,
    readonly body: string,
  ) {
    super(message);
  }
}

/** Connects, upgrades and returns a client session. `url` is http(s)://host:port/path. */
export function dialSpdy(
  url: string,
  protocols: string[],
  opts: { onStream?: SessionOptions["onStream"]; onClose?: (err?: Error) => void; timeoutMs?: number; ca?: string; headers?: Record<string, string> } = {},
): Promise<DialedSpdy> {
  const u = new URL(url);
  const port = Number(u.port || (u.protocol === "https:" ? 443 : 80));
  const host = u.hostname.replace(/^\[|\]$/g, "");
  return new Promise((resolve, reject) => {
    const sock: net.Socket =
      u.protocol === "https:" ? tls.connect({ host, port, servername: net.isIP(host) ? undefined : host, ca: opts.ca }) : net.connect({ host, port });
    let settled = false;
    let head = Buffer.alloc(0);
    const timer = setTimeout(() => fail(new Error(`SPDY upgrade to ${u.host} timed out`)), opts.timeoutMs ?? 15_000);
    const fail = (e: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      reject(e);
    };
    sock.once("error", fail);
    sock.once(u.protocol === "https:" ? "secureConnect" : "connect", () => {
      const extra = Object.entries(opts.headers ?? {}).map(([k, v]) => `${k}: ${v}\r\n`).join("");
      sock.write(
        `POST ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n` +
          protocols.map((p) => `X-Stream-Protocol-Version: ${p}\r\n`).join("") +
          `${extra}Content-Length: 0\r\nUser-Agent: skiff-agent\r\n\r\n`,
      );
    });
    const onHead = (d: Buffer) => {
      head = Buffer.concat([head, d]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) {
        if (head.length > 64 * 1024) fail(new Error("SPDY upgrade: response headers too large"));
        return;
      }
      sock.off("data", onHead);
      const lines = head.subarray(0, end).toString("latin1").split("\r\n");
      const status = Number(lines[0]!.split(" ")[1]);
      const hdrs = new Map<string, string>();
      for (const l of lines.slice(1)) {
        const i = l.indexOf(":");
        if (i > 0) hdrs.set(l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim());
      }
      const rest = head.subarray(end + 4);
      if (status !== 101) {
        // Read what the server says (a Status or a plain message) for the error.
        let body = rest.toString();
        sock.on("data", (x: Buffer) => (body += x.toString()));
        const done = () => fail(new UpgradeError(`SPDY upgrade refused: ${lines[0]}: ${body.trim()}`, status, body));
        sock.once("end", done);
        setTimeout(done, 300);
        return;
      }
      settled = true;
      clearTimeout(timer);
      sock.off("error", fail);
      const session = new SpdySession({
        client: true,
        write: (b) => {
          if (!sock.destroyed) sock.write(b);
        },
        onStream: opts.onStream,
        onClose: (err) => {
          sock.destroy();
          opts.onClose?.(err);
        },
      });
      sock.on("data", (x: Buffer) => session.feed(x));
      sock.on("close", () => session.shutdown());
      sock.on("error", (e) => session.shutdown(e));
      if (rest.length) session.feed(rest);
      resolve({ session, protocol: hdrs.get("x-stream-protocol-version") ?? "", close: () => session.close() });
    };
    sock.on("data", onHead);
  });
}

/** Headers of a node:http upgrade request, lower-cased, multi-valued joined by ",". */
export function offeredProtocols(headers: Record<string, string | string[] | undefined>): string[] {
  const v = headers["x-stream-protocol-version"];
  const all = Array.isArray(v) ? v : v ? [v] : [];
  return all.flatMap((x) => x.split(",")).map((x) => x.trim()).filter(Boolean);
}

/** Answers 101 on a raw socket and runs a server session on it. */
export function acceptSpdy(
  socket: Duplex,
  head: Uint8Array,
  protocol: string,
  opts: { onStream: SessionOptions["onStream"]; onClose?: (err?: Error) => void },
): SpdySession {
  socket.write(
    `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: ${protocol}\r\n\r\n`,
  );
  const session = new SpdySession({
    client: false,
    write: (b) => {
      if (!socket.destroyed) socket.write(b);
    },
    onStream: opts.onStream,
    onClose: (err) => {
      socket.end();
      setTimeout(() => socket.destroy(), 1000).unref?.();
      opts.onClose?.(err);
    },
  });
  socket.on("data", (x: Buffer) => session.feed(x));
  socket.on("close", () => session.shutdown());
  socket.on("error", (e) => session.shutdown(e));
  if (head.length) session.feed(head);
  return session;
}

/** Writes a plain HTTP error on a raw upgrade socket (a Status JSON body) and closes it. */
export function rejectUpgrade(socket: Duplex, code: number, body: unknown): void {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  const reason = { 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 500: "Internal Server Error", 503: "Service Unavailable" }[code] ?? "Error";
  socket.end(
    `HTTP/1.1 ${code} ${reason}\r\nContent-Type: ${typeof body === "string" ? "text/plain" : "application/json"}\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
  );
}
