// The server end of the agent tunnels: one TunnelMux per connected node. A node that dials again
// replaces its old tunnel (the old one is closed and its streams reset).
import { TunnelMux, TunnelOpenError, type TunnelRequest, type TunnelStream } from "../../../lib/wsstream/tunnel";
import type { RelayClient } from "./relay";
import type { WsPeer, WsSession } from "./ws";

/** Tunnels and relays ping this often and are dropped after this long without a frame. */
export const KEEPALIVE_MS = 10_000;
export const DEAD_MS = 35_000;

export class TunnelRegistry {
  private readonly nodes = new Map<string, { mux: TunnelMux; peer: WsPeer; since: number }>();
  /** Reaches tunnels held by the other servers of the cluster. */
  remote?: RelayClient;

  nodesConnected(): string[] {
    return [...this.nodes.keys()].sort();
  }

  has(node: string): boolean {
    return this.nodes.has(node);
  }

  /** A WebSocket session for a node's tunnel connection. */
  session(node: string): WsSession {
    let mux: TunnelMux | null = null;
    return {
      onOpen: (peer) => {
        const old = this.nodes.get(node);
        const m = (mux = new TunnelMux({ send: (b) => peer.send(b) }));
        this.nodes.set(node, { mux, peer, since: Date.now() });
        // An agent that lost power leaves a half-open socket: drop it so a peer server's relay
        // (or the agent's next dial) finds the live tunnel instead.
        m.startKeepalive(KEEPALIVE_MS, DEAD_MS, () => {
          m.close(`the tunnel from node "${node}" went silent`);
          if (this.nodes.get(node)?.mux === m) this.nodes.delete(node);
          peer.close(1001, "no traffic");
        });
        if (old) {
          old.mux.close("replaced by a newer tunnel from the same node");
          old.peer.close(1000, "replaced");
        }
      },
      onMessage: (m) => {
        if (typeof m !== "string") mux?.receive(m);
      },
      onClose: () => {
        if (!mux) return;
        mux.close(`the tunnel from node "${node}" closed`);
        if (this.nodes.get(node)?.mux === mux) this.nodes.delete(node);
      },
    };
  }

  /** Opens a stream to a node's agent, here or through the server that holds its tunnel. */
  open(node: string, req: TunnelRequest, timeoutMs?: number): Promise<TunnelStream> {
    if (!this.nodes.has(node) && this.remote) return this.remote.open(node, req, timeoutMs);
    return this.openLocal(node, req, timeoutMs);
  }

  /** Opens a stream on this server's tunnel of the node; a missing tunnel is a 503 the user can act on. */
  openLocal(node: string, req: TunnelRequest, timeoutMs?: number): Promise<TunnelStream> {
    const t = this.nodes.get(node);
    if (!t)
      return Promise.reject(
        new TunnelOpenError(503, "ServiceUnavailable", `node "${node}" has no tunnel to this server: its agent is not running or cannot reach the server`),
      );
    return t.mux.open(req, timeoutMs);
  }

  closeAll(): void {
    this.remote?.close();
    for (const [, t] of this.nodes) {
      t.mux.close("server stopping");
      t.peer.close(1001, "server stopping");
    }
    this.nodes.clear();
  }
}
