// Watch over WebSocket, as kube-apiserver also serves it: a GET of any list path with
// `watch=1` and `Upgrade: websocket` gets each watch event as one WebSocket message (the same
// JSON as a line of the HTTP watch). Browsers need this: over HTTP/1.1 they open at most six
// connections to a server, so a page that follows nodes, pods, workloads and events with plain
// streaming GETs has none left for anything else; WebSockets do not count against that pool.
//
// The watch itself is the API's own: the request goes through the app (authentication, RBAC,
// the watch handler) with the bearer token taken from the `base64url.bearer.authorization.k8s.io.`
// sub-protocol (browsers cannot set Authorization on a WebSocket), like exec.
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { parseProtocolHeader } from "../../lib/wsstream/channel";

const WS_BEARER = "base64url.bearer.authorization.k8s.io.";
/** Messages are the event's JSON bytes in binary frames, as Kubernetes' "binary.k8s.io". */
export const WATCH_WS_PROTOCOL = "binary.k8s.io";

export function isWatchUpgrade(req: IncomingMessage): boolean {
  if ((req.headers.upgrade ?? "").toLowerCase() !== "websocket" || (req.method ?? "GET") !== "GET") return false;
  const url = new URL(req.url ?? "/", "http://x");
  const w = url.searchParams.get("watch");
  return (url.pathname.startsWith("/api/") || url.pathname.startsWith("/apis/")) && (w === "1" || w === "true");
}

/** Serves one watch upgrade through `fetch` (the API app); call only when isWatchUpgrade(req). */
export async function serveWatchUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, base: string, fetch: (r: Request) => Response | Promise<Response>): Promise<void> {
  const offered = parseProtocolHeader(req.headers["sec-websocket-protocol"] as string | undefined);
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined || /^(upgrade|connection|sec-websocket-.*)$/i.test(k)) continue;
    headers.set(k, Array.isArray(v) ? v.join(", ") : v);
  }
  const bearer = offered.find((p) => p.startsWith(WS_BEARER));
  if (bearer && !headers.has("authorization")) headers.set("authorization", `Bearer ${Buffer.from(bearer.slice(WS_BEARER.length), "base64url").toString("utf8")}`);
  const ac = new AbortController();
  const res = await fetch(new Request(new URL(req.url ?? "/", base).toString(), { headers, signal: ac.signal }));
  // @ts-ignore -- `ws` ships no types; the node:http listener already uses it for exec
  const { WebSocketServer } = (await import("ws")) as any;
  const picked = offered.includes(WATCH_WS_PROTOCOL) ? WATCH_WS_PROTOCOL : false;
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, handleProtocols: () => picked });
  wss.handleUpgrade(req, socket, head, (ws: any) => {
    const send = (text: string) => ws.readyState === 1 && ws.send(Buffer.from(text), { binary: true });
    if (!res.ok || !res.body) {
      // A refused watch (401, 403, 410 …) as the watch protocol's ERROR event, which the
      // page can read (a refused upgrade reaches browsers without its body).
      void res.text().then((body) => {
        let status: unknown;
        try {
          status = JSON.parse(body);
        } catch {
          status = { kind: "Status", apiVersion: "v1", status: "Failure", message: body, code: res.status };
        }
        send(JSON.stringify({ type: "ERROR", object: status }));
        ws.close(1000);
      });
      return;
    }
    const reader = res.body.getReader();
    ws.on("close", () => {
      ac.abort();
      reader.cancel().catch(() => {});
    });
    ws.on("error", () => {});
    void (async () => {
      const dec = new TextDecoder();
      let buf = "";
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          buf += dec.decode(value, { stream: true });
          let nl: number;
          while ((nl = buf.indexOf("\n")) >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            if (line.trim()) send(line);
          }
        }
      } catch {
        // the watch was torn down (client gone, server stopping)
      }
      if (buf.trim()) send(buf);
      if (ws.readyState === 1) ws.close(1000);
    })();
  });
}
