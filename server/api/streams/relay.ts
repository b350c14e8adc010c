// Streams for a node whose agent tunnels to ANOTHER server of the cluster. Any server accepts
// every API call, but an agent keeps its one tunnel to the server it dialled; so a server
// without the node's tunnel asks its peers which one has it and relays the streams there:
//
//   kubectl ── server B ── relay WebSocket (B dials A, admin token, cluster CA) ── server A ── agent
//
// On the relay B opens streams exactly as it would on an agent tunnel (same TunnelMux frames);
// A opens the same request on the agent's tunnel and splices the two streams. Only local
// tunnels are relayed, so a request never loops between servers.
import { HOLD, TunnelMux, TunnelOpenError, type TunnelRequest, type TunnelStream } from "../../../lib/wsstream/tunnel";
import { DEAD_MS, KEEPALIVE_MS, type TunnelRegistry } from "./tunnels";
import type { WsSession } from "./ws";

export const RELAY_PATH = "/v1-skiff/relay";

export interface PeerAccess {
  /** API URLs of the other servers of the cluster (https://host:port). */
  peers(): string[];
  /** Bearer token the servers share (the cluster admin token). */
  token: string;
  /** PEM of the cluster CA. */
  caPem: string;
}

/** Joins two streams both ways; backpressure passes through (credit held until the other side drains). */
export function splice(a: TunnelStream, b: TunnelStream): void {
  const one = (from: TunnelStream, to: TunnelStream) =>
    from.on({
      data: (d) => (to.write(d) ? undefined : HOLD),
      end: () => to.end(),
      reset: (r) => to.reset(r),
      drain: () => to.release(),
    });
  one(a, b);
  one(b, a);
}

/** Server A's side of a relay: streams opened by the peer go to the node's local tunnel. */
export function relaySession(tunnels: TunnelRegistry, node: string): WsSession {
  let mux: TunnelMux | null = null;
  return {
    onOpen: (peer) => {
      const m = (mux = new TunnelMux({
        send: (b) => peer.send(b),
        onOpen: (s, req, accept, refuse) => {
          // Less than the relaying server's 30 s, so our answer (even a timeout) reaches it first.
          tunnels.openLocal(node, req, 25_000).then(
            (agent) => {
              if (s.closed) return agent.reset("the relaying server closed the stream");
              accept();
              splice(s, agent);
            },
            (e) => {
              const t = e instanceof TunnelOpenError ? e : new TunnelOpenError(500, "InternalError", (e as Error).message);
              refuse(t.code, t.reason, t.message);
            },
          );
        },
      }));
      m.startKeepalive(KEEPALIVE_MS, DEAD_MS, () => {
        m.close("the relaying server went silent");
        peer.close(1001, "no traffic");
      });
    },
    onMessage: (m) => {
      if (typeof m !== "string") mux?.receive(m);
    },
    onClose: () => mux?.close("the relay from the peer server closed"),
  };
}

interface Relay {
  mux: TunnelMux;
  sock: WebSocket;
}

/** Server B's side: one relay WebSocket per node, dialled to whichever peer has its tunnel. */
export class RelayClient {
  private readonly relays = new Map<string, Promise<Relay>>();

  constructor(private readonly access: PeerAccess) {}

  async open(node: string, req: TunnelRequest, timeoutMs?: number): Promise<TunnelStream> {
    for (let attempt = 0; ; attempt++) {
      let p = this.relays.get(node);
      const fresh = !p;
      if (!p) {
        p = this.dial(node);
        this.relays.set(node, p);
        p.catch(() => this.relays.delete(node));
      }
      const relay = await p;
      try {
        return await relay.mux.open(req, timeoutMs);
      } catch (e) {
        // The agent may have moved its tunnel to another server since this relay was dialled,
        // or the holder went away without closing the connection.
        if (fresh || attempt > 0 || !(e instanceof TunnelOpenError) || (e.code !== 503 && e.code !== 504)) throw e;
        this.drop(node, p, "stale relay");
      }
    }
  }

  close(): void {
    for (const [node, p] of [...this.relays]) this.drop(node, p, "server stopping");
  }

  private drop(node: string, p: Promise<Relay>, why: string): void {
    if (this.relays.get(node) === p) this.relays.delete(node);
    p.then(
      (r) => {
        r.mux.close(why);
        r.sock.close(1000, why);
      },
      () => {},
    );
  }

  private async dial(node: string): Promise<Relay> {
    const peer = await this.find(node);
    const url = new URL(RELAY_PATH, peer + "/");
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("node", node);
    // Bun's WebSocket takes headers and TLS options (not in the DOM type).
    const sock = new WebSocket(url.toString(), { headers: { Authorization: `Bearer ${this.access.token}` }, tls: { ca: this.access.caPem } } as any);
    sock.binaryType = "arraybuffer";
    const mux = new TunnelMux({
      send: (b) => {
        if (sock.readyState === WebSocket.OPEN) sock.send(b);
      },
    });
    const relay: Relay = { mux, sock };
    const forget = () => {
      mux.close(`the relay to ${peer} for node "${node}" closed`);
      // Only this dial's entry: a newer one may already be there.
      const cur = this.relays.get(node);
      void cur?.then((r) => r === relay && this.relays.get(node) === cur && this.relays.delete(node), () => {});
    };
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        sock.close();
        reject(new TunnelOpenError(504, "Timeout", `the server ${peer} that holds node "${node}"'s tunnel did not accept the relay`));
      }, 10_000);
      sock.onopen = () => {
        clearTimeout(timer);
        resolve();
      };
      sock.onclose = () => {
        clearTimeout(timer);
        forget();
        reject(new TunnelOpenError(503, "ServiceUnavailable", `the relay to ${peer} for node "${node}" closed before it opened`));
      };
    });
    sock.onmessage = (ev) => mux.receive(new Uint8Array(ev.data as ArrayBuffer));
    sock.onclose = forget;
    mux.startKeepalive(KEEPALIVE_MS, DEAD_MS, () => {
      forget();
      sock.close(1001, "no traffic");
    });
    return relay;
  }

  /** The peer that holds the node's tunnel: every peer is asked at once, the first yes wins. */
  private async find(node: string): Promise<string> {
    const peers = this.access.peers();
    const ask = async (peer: string) => {
      const url = new URL(RELAY_PATH, peer + "/");
      url.searchParams.set("node", node);
      const r = await fetch(url, {
        headers: { Authorization: `Bearer ${this.access.token}` },
        tls: { ca: this.access.caPem },
        signal: AbortSignal.timeout(3000),
      } as RequestInit);
      await r.arrayBuffer();
      if (r.status !== 200) throw new Error(`${peer}: ${r.status}`);
      return peer;
    };
    try {
      return await Promise.any(peers.map(ask));
    } catch {
      throw new TunnelOpenError(
        503,
        "ServiceUnavailable",
        `node "${node}" has no tunnel to any server of the cluster (asked this one and ${peers.length} other${peers.length === 1 ? "" : "s"}): its agent is not running or cannot reach a server`,
      );
    }
  }
}
