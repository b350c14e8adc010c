// pods/portforward. kubectl opens, per forwarded TCP connection, an `error` and a `data` SPDY
// stream carrying `port` and `requestid` headers — over a raw SPDY upgrade (kubectl ≤ 1.30) or
// as SPDY frames inside WebSocket binary messages (`SPDY/3.1+portforward.k8s.io`, ≥ 1.31).
// Each data stream becomes one tunnel stream to the node; errors go to the error stream as
// text, which kubectl prints ("error forwarding port 80 to pod …").
import { SpdySession, type SpdyStream } from "../../../lib/spdy/session";
import type { PortForwardRequest, TunnelStream } from "../../../lib/wsstream/tunnel";
import { TunnelOpenError } from "../../../lib/wsstream/tunnel";
import { badRequest } from "../../errors";
import { getPod, nodeOf, requireRunning } from "./pods";
import type { StreamDeps } from "./index";
import type { WsPeer, WsSession } from "./ws";

export interface PortForwardTarget {
  node: string;
  namespace: string;
  pod: string;
  uid: string;
  podIP?: string;
}

export async function resolvePortForward(deps: StreamDeps, ns: string, name: string): Promise<PortForwardTarget> {
  const pod = await getPod(deps.getPod, ns, name);
  requireRunning(pod, "port-forward");
  if (pod.status?.phase !== "Running") throw badRequest(`unable to forward port because pod is not running. Current status=${pod.status?.phase ?? "Unknown"}`);
  return { node: nodeOf(pod), namespace: ns, pod: name, uid: pod.metadata.uid, podIP: pod.status?.podIP };
}

const enc = new TextEncoder();

/** The SPDY onStream handler for one kubectl port-forward connection. */
export function portForwardStreams(deps: StreamDeps, target: PortForwardTarget): { onStream: (s: SpdyStream) => void; close: () => void } {
  const pairs = new Map<string, { error?: SpdyStream; data?: SpdyStream; tunnel?: TunnelStream; failed?: string }>();
  const tunnels = new Set<TunnelStream>();
  const fail = (p: { error?: SpdyStream; data?: SpdyStream; failed?: string }, port: string, msg: string) => {
    const text = `error forwarding port ${port} to pod ${target.pod}, uid ${target.uid}: ${msg}`;
    p.failed = text;
    if (p.error) {
      p.error.write(enc.encode(text));
      p.error.end();
    }
    p.data?.end();
  };
  const start = async (key: string, port: string) => {
    const p = pairs.get(key)!;
    const n = Number(port);
    if (!Number.isInteger(n) || n < 1 || n > 65535) return fail(p, port, `invalid port "${port}"`);
    const req: PortForwardRequest = { kind: "portforward", namespace: target.namespace, pod: target.pod, uid: target.uid, podIP: target.podIP, port: n };
    let t: TunnelStream;
    try {
      t = await deps.tunnels.open(target.node, req);
    } catch (e) {
      return fail(p, port, e instanceof TunnelOpenError ? e.message : String(e));
    }
    const data = p.data!;
    if (data.isReset) {
      t.reset("client went away");
      return;
    }
    p.tunnel = t;
    tunnels.add(t);
    t.on({
      data: (b) => data.write(b),
      end: () => {
        data.end();
        p.error?.end();
        tunnels.delete(t);
      },
      reset: (why) => {
        tunnels.delete(t);
        fail(p, port, why);
      },
    });
    data.on({
      data: (b) => t.write(b),
      end: () => t.end(),
      reset: () => {
        tunnels.delete(t);
        t.reset("client reset the stream");
      },
    });
  };
  return {
    onStream(s) {
      const type = s.header("streamtype");
      const port = s.header("port") ?? "";
      const key = `${s.header("requestid") ?? port}`;
      if (type !== "error" && type !== "data") {
        s.reset();
        return;
      }
      const p = pairs.get(key) ?? {};
      pairs.set(key, p);
      if (type === "error") {
        s.on({});
        // Set after this handler returns, once the session has sent SYN_REPLY: data before it
        // would be dropped by the client (see execSpdyBridge).
        queueMicrotask(() => {
          p.error = s;
          if (p.failed) {
            s.write(enc.encode(p.failed));
            s.end();
          }
        });
      } else {
        p.data = s;
        void start(key, port);
      }
    },
    close() {
      for (const t of tunnels) t.reset("client closed the connection");
      tunnels.clear();
    },
  };
}

/** kubectl ≥ 1.31: a SPDY session inside WebSocket binary messages. */
export function portForwardTunnelWsSession(deps: StreamDeps, target: PortForwardTarget): WsSession {
  let session: SpdySession | null = null;
  const handler = portForwardStreams(deps, target);
  return {
    onOpen(peer: WsPeer) {
      session = new SpdySession({
        client: false,
        write: (b) => peer.send(b),
        onStream: handler.onStream,
        onClose: () => peer.close(1000, ""),
      });
    },
    onMessage(m) {
      if (typeof m !== "string") session?.feed(m);
    },
    onClose() {
      handler.close();
      session?.shutdown();
    },
  };
}
