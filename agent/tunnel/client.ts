// The agent end of the NAT-safe tunnel: one outbound WebSocket to
// `<server>/v1-skiff/tunnel?node=NAME`, authenticated like any API client (bearer token, CA
// pinned from the join token), re-dialled with back-off (0.5 s doubling to 30 s) for as long as
// the agent runs. The server opens streams on it for pods/log, exec, attach, portforward and
// stats (resource usage for the metrics.k8s.io API).
//
//   const t = startTunnel({ config: { server, caData, token }, nodeName, cri, podLogsDir });
//   ...; t.stop();
import type { CriClient } from "../cri/client.ts";
import { TunnelMux, type ExecRequest, type LogRequest, type PortForwardRequest, type StatsRequest, type TunnelRequest, type TunnelStream } from "../../lib/wsstream/tunnel.ts";
import { renderNodeMetrics } from "../metrics.ts";
import { StatsCollector, criStatsSource, type StatsSource } from "../stats.ts";
import { dialExec, runExec } from "./exec.ts";
import { LogError, resolveLogPath, streamLog } from "./logs.ts";
import { logContainer, runningContainer } from "./resolve.ts";
import { NoSandboxError, dialPortForward, runPortForward } from "./portforward.ts";
import { CriError } from "../cri/client.ts";

export const TUNNEL_PATH = "/v1-skiff/tunnel";

export interface TunnelConfig {
  /** https://host:port (or http:// while the server has no TLS); a function is asked at every dial. */
  server: string | (() => string);
  /** PEM of the cluster CA to trust (pinned from the join token). */
  caData?: string;
  /** Bearer token; a function is asked at every dial (node credentials are renewed). */
  token?: string | (() => string);
}

export interface TunnelOptions {
  config: TunnelConfig;
  nodeName: string;
  cri: CriClient;
  /** Root of the per-pod log dirs, e.g. <data-dir>/agent/pods-logs. */
  podLogsDir: string;
  onEvent?: (e: TunnelEvent) => void;
  /** The tunnel to `server` failed or dropped: the caller may move to another server. */
  failedOver?: (server: string) => void;
  /** Where `stats` requests (kubectl top) read usage; default CRI container stats and /proc. */
  statsSource?: StatsSource;
}

export type TunnelEvent =
  | { type: "connected"; url: string }
  | { type: "disconnected"; code: number; reason: string; retryInMs: number }
  | { type: "error"; message: string }
  | { type: "stream"; kind: string; detail: string };

export interface Tunnel {
  readonly connected: boolean;
  /** Resolves once connected (the first time, or again after a drop). */
  ready(): Promise<void>;
  stop(): void;
}

export function tunnelUrl(cfg: TunnelConfig, nodeName: string): string {
  const server = typeof cfg.server === "function" ? cfg.server() : cfg.server;
  const u = new URL(TUNNEL_PATH, server.replace(/\/+$/, "") + "/");
  u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
  u.searchParams.set("node", nodeName);
  return u.toString();
}

export function startTunnel(o: TunnelOptions): Tunnel {
  const emit = (e: TunnelEvent) => o.onEvent?.(e);
  // Outlives reconnects: it holds the previous CPU samples rates are computed from.
  const stats = new StatsCollector(o.statsSource ?? criStatsSource(o.cri));
  let ws: WebSocket | null = null;
  let stopped = false;
  let connected = false;
  let backoff = 500;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let readyWaiters: (() => void)[] = [];

  const connect = () => {
    if (stopped) return;
    const server = typeof o.config.server === "function" ? o.config.server() : o.config.server;
    const url = tunnelUrl({ ...o.config, server }, o.nodeName);
    const headers: Record<string, string> = { "User-Agent": `skiff-agent/${o.nodeName}` };
    const token = typeof o.config.token === "function" ? o.config.token() : o.config.token;
    if (token) headers.Authorization = `Bearer ${token}`;
    // Bun's WebSocket takes headers and TLS options (not in the DOM type).
    const sock = new WebSocket(url, { headers, tls: o.config.caData ? { ca: o.config.caData } : undefined } as any);
    sock.binaryType = "arraybuffer";
    ws = sock;
    const mux = new TunnelMux({
      send: (b) => {
        if (sock.readyState === WebSocket.OPEN) sock.send(b);
      },
      onOpen: (s, req, accept, refuse) => {
        handle(o, stats, s, req as any, accept, refuse).catch((e) => {
          emit({ type: "error", message: `${req.kind}: ${(e as Error).message}` });
          if (!s.closed) s.reset((e as Error).message);
        });
      },
    });
    // Both ends of a dead connection: one that never opens, and one that goes silent (a server
    // that lost power leaves a half-open socket that never reports itself).
    let done = false;
    const openTimer = setTimeout(() => {
      try {
        sock.close();
      } catch {}
      closed(1006, "no answer from the server within 10 s");
    }, 10_000);
    openTimer.unref?.();
    sock.onopen = () => {
      clearTimeout(openTimer);
      mux.startKeepalive(10_000, 35_000, () => {
        try {
          sock.close(1001, "no traffic");
        } catch {}
        closed(1006, "no traffic from the server for 35 s");
      });
      connected = true;
      backoff = 500;
      emit({ type: "connected", url });
      const w = readyWaiters;
      readyWaiters = [];
      w.forEach((f) => f());
    };
    sock.onmessage = (ev) => mux.receive(new Uint8Array(ev.data as ArrayBuffer));
    sock.onerror = () => {};
    const closed = (code: number, reason: string) => {
      if (done) return;
      done = true;
      clearTimeout(openTimer);
      connected = false;
      mux.close("tunnel to the server closed");
      if (ws === sock) ws = null;
      if (stopped) return;
      o.failedOver?.(server);
      const wait = backoff;
      backoff = Math.min(backoff * 2, 30_000);
      emit({ type: "disconnected", code, reason, retryInMs: wait });
      timer = setTimeout(connect, wait);
    };
    sock.onclose = (ev) => closed(ev.code, ev.reason);
  };
  connect();

  return {
    get connected() {
      return connected;
    },
    ready() {
      if (connected) return Promise.resolve();
      return new Promise((r) => readyWaiters.push(r));
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
      ws?.close(1000, "agent stopping");
    },
  };
}

function criMessage(e: unknown): { code: number; reason: string; message: string } {
  if (e instanceof LogError) return { code: e.code, reason: e.reason, message: e.message };
  if (e instanceof NoSandboxError) return { code: 404, reason: "NotFound", message: e.message };
  if (e instanceof CriError) {
    if (e.notFound) return { code: 404, reason: "NotFound", message: `container not found: ${e.details}` };
    return { code: 500, reason: "InternalError", message: e.details };
  }
  return { code: 500, reason: "InternalError", message: (e as Error).message };
}

async function handle(
  o: TunnelOptions,
  stats: StatsCollector,
  s: TunnelStream,
  req: TunnelRequest,
  accept: () => void,
  refuse: (code: number, reason: string, message: string) => void,
): Promise<void> {
  o.onEvent?.({ type: "stream", kind: req.kind, detail: "namespace" in req ? `${req.namespace}/${req.pod}` : "" });
  switch (req.kind) {
    case "ping":
      accept();
      s.end();
      return;
    case "stats": {
      // One JSON answer on the stream, then END (the server reads to the end).
      let reply;
      try {
        reply = await stats.collect(req);
      } catch (e) {
        const m = criMessage(e);
        refuse(m.code, m.reason, `cannot read resource usage: ${m.message}`);
        return;
      }
      accept();
      s.write(new TextEncoder().encode(JSON.stringify(reply)));
      s.end();
      return;
    }
    case "metrics": {
      let text: string;
      try {
        text = await renderNodeMetrics(req.path, o.nodeName, o.statsSource ?? criStatsSource(o.cri));
      } catch (e) {
        const m = criMessage(e);
        refuse(m.code, m.reason, `cannot read node metrics: ${m.message}`);
        return;
      }
      accept();
      s.write(new TextEncoder().encode(text));
      s.end();
      return;
    }
    case "log": {
      let path: string;
      let id: string | undefined;
      try {
        // The container is the one this node runs for that pod UID and name, whatever ID the
        // request carries (it comes from pod status, which API writers control).
        id = await logContainer(o.cri, req.uid, req.container, !!req.previous);
        path = await resolveLogPath(o.cri, { podLogsDir: o.podLogsDir }, { ...req, containerId: id });
      } catch (e) {
        const m = criMessage(e);
        refuse(m.code, m.reason, m.message);
        return;
      }
      accept();
      let closed = false;
      let drainWaiters: (() => void)[] = [];
      s.on({
        reset: () => {
          closed = true;
          drainWaiters.forEach((f) => f());
        },
        drain: () => {
          const w = drainWaiters;
          drainWaiters = [];
          w.forEach((f) => f());
        },
      });
      const stillRunning = async () => {
        if (!id) return true;
        try {
          const st = await o.cri.containerStatus(id);
          return st.status?.state === "CONTAINER_RUNNING" || st.status?.state === "CONTAINER_CREATED";
        } catch {
          return false;
        }
      };
      try {
        await streamLog(
          path,
          req.previous ? { ...req, follow: false } : req,
          {
            write: (b) => s.write(b),
            waitDrain: () => (closed || s.buffered === 0 ? Promise.resolve() : new Promise((r) => drainWaiters.push(r))),
            get closed() {
              return closed || s.closed;
            },
          },
          stillRunning,
        );
      } finally {
        s.end();
      }
      return;
    }
    case "exec":
    case "attach": {
      let d;
      try {
        d = await dialExec(o.cri, { ...req, containerId: await runningContainer(o.cri, req.uid, req.container) });
      } catch (e) {
        const m = criMessage(e);
        refuse(m.code, m.reason, m.message);
        return;
      }
      accept();
      await runExec(s, d, req);
      return;
    }
    case "portforward": {
      let d;
      try {
        d = await dialPortForward(o.cri, req);
      } catch (e) {
        const m = criMessage(e);
        refuse(m.code, m.reason, m.message);
        return;
      }
      accept();
      await runPortForward(s, d, req);
      return;
    }
    default:
      refuse(400, "BadRequest", `unknown tunnel request ${(req as any).kind}`);
  }
}
