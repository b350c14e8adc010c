// The server end of the agent tunnels: one TunnelMux per connected node. A node that dials again
// replaces its old tunnel (the old one is closed and its streams reset).
import { TunnelMux, TunnelOpenError, type TunnelRequest, type TunnelStream } from "../../../lib/wsstream/tunnel";
import type { WsPeer, WsSession } from "./ws";

export class TunnelRegistry {
  private readonly nodes = new Map<string, { mux: TunnelMux; peer: WsPeer; since: number }>();

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
        mux = new TunnelMux({ send: (b) => peer.send(b) });
        this.nodes.set(node, { mux, peer, since: Date.now() });
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

  /** Opens a stream to a node's agent; a missing tunnel is a 503 the user can act on. */
  open(node: string, req: TunnelRequest, timeoutMs?: number): Promise<TunnelStream> {
    const t = this.nodes.get(node);
    if (!t)
      return Promise.reject(
        new TunnelOpenError(503, "ServiceUnavailable", `node "${node}" has no tunnel to this server: its agent is not running or cannot reach the server`),
      );
    return t.mux.open(req, timeoutMs);
  }

  closeAll(): void {
    for (const [, t] of this.nodes) {
      t.mux.close("server stopping");
      t.peer.close(1001, "server stopping");
    }
    this.nodes.clear();
  }
}
