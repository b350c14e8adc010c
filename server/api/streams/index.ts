// Streaming subresources (pods/log, pods/exec, pods/attach, pods/portforward), the server
// end of the agents' tunnels and the metrics.k8s.io API (read over them), served in front of
// the Hono app:
//
//   const streams = createStreamServer({ store, authenticate: (h) => auth.authenticate(h) });
//   Bun.serve({ fetch: (req, srv) => streams.fetch(req, srv) ?? app.fetch(req), websocket: streams.websocket, … });
//
// `fetch` returns undefined for every other path. Bun.serve cannot hand over a raw socket, so
// the SPDY/3.1 upgrade (kubectl ≤ 1.29 exec/attach, ≤ 1.30 port-forward) needs the node:http
// listener in ./listen.ts, which serves the same app and calls `handleNodeUpgrade`.
import type { TLSSocket } from "node:tls";
import { clientCertOf, derToPem } from "../client-certs";
import type { Server } from "bun";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { acceptSpdy, offeredProtocols, rejectUpgrade } from "../../../lib/spdy/upgrade";
import {
  EXEC_SPDY_PROTOCOLS,
  EXEC_WS_PROTOCOLS,
  PORTFORWARD_SPDY_PROTOCOL,
  PORTFORWARD_TUNNEL_PROTOCOL,
  parseProtocolHeader,
  pickProtocol,
} from "../../../lib/wsstream/channel";
import { TunnelOpenError } from "../../../lib/wsstream/tunnel";
import type { Store } from "../../store/store";
import { authorizerFor, requestAttributes } from "../../auth/authz";
import { impersonate } from "../../auth/impersonation";
import { ApiError, statusObject } from "../../errors";
import { execSpdyBridge, execWsSession, openExec } from "./exec";
import { handleLog } from "./log";
import { handleMetrics, isMetricsPath } from "./metrics";
import { handleNodeMetrics, isNodeMetricsPath } from "./node-metrics";
import { portForwardStreams, portForwardTunnelWsSession, resolvePortForward } from "./portforward";
import { RELAY_PATH, RelayClient, relaySession, type PeerAccess } from "./relay";
import { TunnelRegistry } from "./tunnels";
import { decodeSegment, type PodGetter } from "./pods";
import { attachWsPackageSocket, bunWebSocketHandler, type WsData, type WsSession } from "./ws";

export { TunnelRegistry } from "./tunnels";
export const TUNNEL_PATH = "/v1-skiff/tunnel";

export interface Identity {
  user: string;
  groups: string[];
  joinOnly?: boolean;
}

export interface StreamServerOptions {
  /** Where pods are read from (or pass `getPod`). */
  store?: Store;
  getPod?: PodGetter;
  /** The API's authenticator (Authorization header → identity); omitted = no authentication. */
  /** clientCert: the PEM certificate the client presented on the connection, if any (x509 authentication). */
  authenticate?: (authorization: string | undefined, clientCert?: string) => Promise<Identity | undefined>;
  /** The other servers of the cluster, for nodes whose tunnel is held by one of them. */
  peers?: PeerAccess;
  /**
   * CONNECT admission (Registry.connect): called after authorization and before a stream to a
   * pod opens; throws an ApiError to refuse. `options` is PodExecOptions, PodAttachOptions or
   * PodPortForwardOptions as the client asked.
   */
  admitConnect?: (user: Identity, ns: string, name: string, sub: "exec" | "attach" | "portforward", options: any) => Promise<void>;
}

export interface StreamDeps {
  getPod: PodGetter;
  tunnels: TunnelRegistry;
}

const POD_SUB = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/(log|exec|attach|portforward)$/;

type Plan =
  | { response: Response }
  | { ws: { protocol: string; session: WsSession } }
  | { spdy: { protocol: string; start: (socket: Duplex, head: Uint8Array) => void } };

/** Browsers cannot set Authorization on a WebSocket: like kube-apiserver, take the bearer token
 *  from a `base64url.bearer.authorization.k8s.io.<base64url(token)>` sub-protocol (never echoed). */
const WS_BEARER = "base64url.bearer.authorization.k8s.io.";
function webSocketBearer(protocols: string | null): string | undefined {
  const p = parseProtocolHeader(protocols).find((x) => x.startsWith(WS_BEARER));
  return p ? `Bearer ${Buffer.from(p.slice(WS_BEARER.length), "base64url").toString("utf8")}` : undefined;
}

function statusResponse(code: number, reason: string, message: string): Response {
  return new Response(JSON.stringify(statusObject(code, reason, message)), { status: code, headers: { "Content-Type": "application/json" } });
}

function errorOf(e: unknown): Response {
  if (e instanceof ApiError) return new Response(JSON.stringify(e.toStatus()), { status: e.code, headers: { "Content-Type": "application/json" } });
  if (e instanceof TunnelOpenError) return statusResponse(e.code, e.reason, e.message);
  return statusResponse(500, "InternalError", `stream error: ${(e as Error).message}`);
}

/** The options object admission plugins see for a CONNECT (the upstream *Options kinds). */
export function connectOptions(sub: string, q: URLSearchParams): any {
  const bool = (k: string) => ["1", "t", "T", "true", "TRUE", "True"].includes(q.get(k) ?? "");
  if (sub === "portforward")
    return { kind: "PodPortForwardOptions", apiVersion: "v1", ports: q.getAll("ports").flatMap((p) => p.split(",")).map(Number).filter((n) => Number.isInteger(n)) };
  const o: any = { kind: sub === "exec" ? "PodExecOptions" : "PodAttachOptions", apiVersion: "v1", stdin: bool("stdin"), stdout: bool("stdout"), stderr: bool("stderr"), tty: bool("tty") };
  if (q.get("container")) o.container = q.get("container");
  if (sub === "exec") o.command = q.getAll("command");
  return o;
}

export interface StreamServer {
  /** For Bun.serve: a Response, undefined after a WebSocket upgrade or for paths not ours. */
  fetch(req: Request, server: Server<WsData>): Response | undefined | Promise<Response | undefined>;
  /** True when `fetch` would handle this request (cheap path check). */
  handles(req: Request): boolean;
  websocket: typeof bunWebSocketHandler;
  /** For a node:http server's 'upgrade' event; returns false if the path is not ours. */
  handleNodeUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  tunnels: TunnelRegistry;
  stop(): void;
}

export function createStreamServer(o: StreamServerOptions): StreamServer {
  const tunnels = new TunnelRegistry();
  if (o.peers) tunnels.remote = new RelayClient(o.peers);
  const store = o.store;
  const getPod: PodGetter = o.getPod ?? ((ns, name) => store?.get("pods", ns, name)?.obj);
  const deps: StreamDeps = { getPod, tunnels };

  // metrics.k8s.io is served here too: its data comes over the same tunnels.
  const ours = (path: string) => path === TUNNEL_PATH || path === RELAY_PATH || POD_SUB.test(path) || isMetricsPath(path) || isNodeMetricsPath(path);

  /** A refusal, or the (impersonated) caller the request acts as; undefined without authentication. */
  async function authorize(headers: Headers, method: string, path: string, url: URL, cert?: string): Promise<Response | { id: Identity } | undefined> {
    if (!o.authenticate) return undefined;
    const caller = await o.authenticate(headers.get("authorization") ?? webSocketBearer(headers.get("sec-websocket-protocol")), cert);
    if (!caller) return statusResponse(401, "Unauthorized", "Unauthorized: send a bearer token from your kubeconfig");
    if (caller.joinOnly) return statusResponse(403, "Forbidden", `User "${caller.user}" may only request node credentials with a join token`);
    let id = caller;
    if (store)
      try {
        id = await impersonate(authorizerFor(store), caller, headers);
      } catch (e) {
        return errorOf(e);
      }
    if (path === TUNNEL_PATH) {
      const node = url.searchParams.get("node") ?? "";
      if (id.user !== `system:node:${node}` && !id.groups.includes("system:masters"))
        return statusResponse(403, "Forbidden", `User "${id.user}" cannot open the tunnel of node "${node}"`);
    }
    if (path === RELAY_PATH && !id.groups.includes("system:masters"))
      return statusResponse(403, "Forbidden", `User "${id.user}" cannot relay node tunnels (servers only)`);
    if (path === TUNNEL_PATH || path === RELAY_PATH || !store) return { id };
    // pods/log is get; exec, attach and portforward are create, whatever the transport's method
    // (Kubernetes checks create for WebSocket upgrades too); metrics.k8s.io is get/list.
    const a = requestAttributes(method, url);
    if (a.resource === "pods" && ["exec", "attach", "portforward"].includes(a.subresource)) a.verb = "create";
    try {
      await authorizerFor(store).check(id, a);
    } catch (e) {
      return errorOf(e);
    }
    return { id };
  }

  /** Decides what to do with a request; `transport` is what the client asked for. */
  async function plan(method: string, url: URL, headers: Headers, transport: "ws" | "spdy" | "http", cert?: string): Promise<Plan> {
    const path = url.pathname;
    try {
      const auth = await authorize(headers, method, path, url, cert);
      if (auth instanceof Response) return { response: auth };
      if (path === TUNNEL_PATH) {
        const node = url.searchParams.get("node");
        if (!node) return { response: statusResponse(400, "BadRequest", "the tunnel needs ?node=NAME") };
        if (transport !== "ws") return { response: statusResponse(400, "BadRequest", "the tunnel is a WebSocket: send Upgrade: websocket") };
        return { ws: { protocol: "", session: tunnels.session(node) } };
      }
      if (path === RELAY_PATH) {
        const node = url.searchParams.get("node");
        if (!node) return { response: statusResponse(400, "BadRequest", "the relay needs ?node=NAME") };
        // Only tunnels held here are relayed, so requests never loop between servers.
        if (!tunnels.has(node)) return { response: statusResponse(404, "NotFound", `node "${node}" has no tunnel to this server`) };
        if (transport === "http") return { response: Response.json({ node, tunnel: true }) };
        if (transport !== "ws") return { response: statusResponse(400, "BadRequest", "the relay is a WebSocket: send Upgrade: websocket") };
        return { ws: { protocol: "", session: relaySession(tunnels, node) } };
      }
      if (isNodeMetricsPath(path)) {
        if (transport !== "http") return { response: statusResponse(400, "BadRequest", "node metrics are plain HTTP: do not send Upgrade") };
        return { response: await handleNodeMetrics({ store, tunnels }, method, url) };
      }
      if (isMetricsPath(path)) {
        if (transport !== "http") return { response: statusResponse(400, "BadRequest", "the metrics API is plain HTTP: do not send Upgrade") };
        return { response: await handleMetrics({ store, tunnels }, method, url) };
      }
      const m = POD_SUB.exec(path)!;
      const ns = decodeSegment(m[1]!);
      const name = decodeSegment(m[2]!);
      const sub = m[3]!;
      if (sub === "log") {
        if (method !== "GET") return { response: statusResponse(405, "MethodNotAllowed", "the server does not allow this method on the requested resource") };
        return { response: await handleLog(deps, ns, name, url) };
      }
      if (method !== "GET" && method !== "POST") return { response: statusResponse(405, "MethodNotAllowed", "the server does not allow this method on the requested resource") };
      // Admission sees CONNECT before the upgrade is checked, as kube-apiserver's connect handler
      // runs it before proxying (NodeRestriction refuses streams into other nodes' pods).
      if (o.admitConnect && auth) await o.admitConnect(auth.id, ns, name, sub as "exec" | "attach" | "portforward", connectOptions(sub, url.searchParams));
      if (transport === "http") return { response: statusResponse(400, "BadRequest", "Upgrade request required") };
      if (sub === "exec" || sub === "attach") {
        const protocol =
          transport === "ws"
            ? pickProtocol(parseProtocolHeader(headers.get("sec-websocket-protocol")), EXEC_WS_PROTOCOLS)
            : pickProtocol(offeredProtocols({ "x-stream-protocol-version": headers.get("x-stream-protocol-version") ?? undefined }), EXEC_SPDY_PROTOCOLS);
        if (!protocol) return { response: statusResponse(400, "BadRequest", `unable to upgrade: no supported stream protocol offered (supported: ${(transport === "ws" ? EXEC_WS_PROTOCOLS : EXEC_SPDY_PROTOCOLS).join(", ")})`) };
        const { stream } = await openExec(deps, sub, ns, name, url.searchParams);
        if (transport === "ws") return { ws: { protocol, session: execWsSession(stream, protocol) } };
        return {
          spdy: {
            protocol,
            start: (socket, head) => {
              let finished = false;
              const session = acceptSpdy(socket, head, protocol, {
                onStream: (s) => onStream(s),
                onClose: () => {
                  if (!finished && !stream.closed) stream.reset("client closed the connection");
                },
              });
              const onStream = execSpdyBridge(stream, protocol, () => {
                finished = true;
                session.close();
              });
            },
          },
        };
      }
      // portforward
      const target = await resolvePortForward(deps, ns, name);
      if (transport === "ws") {
        const offered = parseProtocolHeader(headers.get("sec-websocket-protocol"));
        if (!offered.includes(PORTFORWARD_TUNNEL_PROTOCOL))
          return { response: statusResponse(400, "BadRequest", `unable to upgrade: port-forward over WebSocket needs the ${PORTFORWARD_TUNNEL_PROTOCOL} sub-protocol`) };
        return { ws: { protocol: PORTFORWARD_TUNNEL_PROTOCOL, session: portForwardTunnelWsSession(deps, target) } };
      }
      const protocol = pickProtocol(offeredProtocols({ "x-stream-protocol-version": headers.get("x-stream-protocol-version") ?? undefined }), [PORTFORWARD_SPDY_PROTOCOL]);
      if (!protocol) return { response: statusResponse(400, "BadRequest", `unable to upgrade: port-forward needs X-Stream-Protocol-Version ${PORTFORWARD_SPDY_PROTOCOL}`) };
      return {
        spdy: {
          protocol,
          start: (socket, head) => {
            const h = portForwardStreams(deps, target);
            acceptSpdy(socket, head, protocol, { onStream: h.onStream, onClose: () => h.close() });
          },
        },
      };
    } catch (e) {
      return { response: errorOf(e) };
    }
  }

  function transportOf(headers: Headers): "ws" | "spdy" | "http" {
    const up = (headers.get("upgrade") ?? "").toLowerCase();
    if (up === "websocket") return "ws";
    if (up.startsWith("spdy/")) return "spdy";
    return "http";
  }

  return {
    tunnels,
    websocket: bunWebSocketHandler,
    handles: (req) => ours(new URL(req.url).pathname),
    fetch(req, server) {
      const url = new URL(req.url);
      if (!ours(url.pathname)) return undefined;
      const transport = transportOf(req.headers);
      return plan(req.method, url, req.headers, transport, clientCertOf(req)).then((p) => {
        if ("response" in p) return p.response;
        if ("spdy" in p)
          return statusResponse(
            400,
            "BadRequest",
            "this listener cannot accept SPDY/3.1 upgrades (kubectl older than 1.30 for exec, 1.31 for port-forward); use a newer kubectl or the node:http listener",
          );
        const ok = server.upgrade(req, {
          headers: p.ws.protocol ? { "Sec-WebSocket-Protocol": p.ws.protocol } : undefined,
          data: { session: p.ws.session, protocol: p.ws.protocol },
        });
        if (ok) return undefined;
        p.ws.session.onClose(1006, "upgrade failed");
        return statusResponse(400, "BadRequest", "WebSocket upgrade failed");
      });
    },
    handleNodeUpgrade(req, socket, head) {
      const url = new URL(req.url ?? "/", "http://localhost");
      if (!ours(url.pathname)) return false;
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(", ") : v);
      const transport = transportOf(headers);
      const peer = (req.socket as TLSSocket).getPeerCertificate?.(false) as { raw?: Buffer } | undefined;
      void plan(req.method ?? "GET", url, headers, transport, peer?.raw?.length ? derToPem(peer.raw) : undefined).then(async (p) => {
        if ("response" in p) {
          const body = await p.response.text();
          rejectUpgrade(socket, p.response.status, body);
          return;
        }
        if ("spdy" in p) {
          p.spdy.start(socket, head);
          return;
        }
        // @ts-ignore -- `ws` ships no types; only the node:http listener uses it
        const { WebSocketServer } = (await import("ws")) as any;
        const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, handleProtocols: () => p.ws.protocol || false });
        wss.handleUpgrade(req, socket, head, (ws: unknown) => attachWsPackageSocket(ws, p.ws.session));
      });
      return true;
    },
    stop() {
      tunnels.closeAll();
    },
  };
}
