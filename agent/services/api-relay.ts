// How pods reach the API at kubernetes.default.svc:443 (10.43.0.1) on every node, whatever the
// server listens on: the service proxy sends that ClusterIP to this relay on the node's pod
// bridge gateway, and the relay opens a TCP connection to the server the agent itself uses now
// (so it follows the agent's failover, and works when the server listens on loopback only, or
// sits behind NAT). TLS passes through untouched: every server's certificate names 10.43.0.1
// and kubernetes.default.svc, and clients authenticate to the server as usual.
//
// Who can reach it: it listens on the gateway address only (not the LAN address), and takes
// connections only from this node's pods and from the node itself. Anything else (a host on the
// LAN routing to the gateway address, or a pod of another node) is closed at once; a spoofed
// source cannot finish the TCP handshake, because the answer goes to the pod bridge.

import { createServer, connect, type Server, type Socket } from "node:net";
import { networkInterfaces } from "node:os";
import { inCidr } from "./ip.ts";

export const API_RELAY_PORT = 6444;

export interface ApiRelayOptions {
  /** The pod bridge's gateway address. */
  address: string;
  port?: number;
  /** This node's pod CIDR (pods allowed to connect). */
  podCidr: string;
  /** The API server in use now ("https://host:port"). */
  server: () => string;
  log: (msg: string) => void;
}

/** May a connection from this address use the relay? This node's pods and the node itself. */
export function relayAllows(from: string, podCidr: string, local: Set<string> = localAddresses()): boolean {
  return inCidr(from, podCidr) || local.has(from.replace(/^::ffff:/, ""));
}

function localAddresses(): Set<string> {
  const out = new Set<string>();
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (a.family === "IPv4") out.add(a.address);
  return out;
}

export class ApiRelay {
  private server: Server | null = null;
  private readonly open = new Set<Socket>();
  connections = 0;
  refused = 0;

  constructor(private readonly o: ApiRelayOptions) {}

  get address(): { ip: string; port: number } {
    return { ip: this.o.address, port: this.o.port ?? API_RELAY_PORT };
  }

  /** The port listened on (differs from address.port only for port 0, in tests). */
  get boundPort(): number {
    const a = this.server?.address();
    return a && typeof a === "object" ? a.port : this.address.port;
  }

  /** Resolves once listening; rejects when the address cannot be bound. */
  start(): Promise<void> {
    const srv = createServer({ noDelay: true, allowHalfOpen: true }, (sock) => this.accept(sock));
    return new Promise((resolve, reject) => {
      srv.once("error", reject);
      srv.listen({ host: this.o.address, port: this.address.port, exclusive: true }, () => {
        srv.off("error", reject);
        srv.on("error", (e) => this.o.log(`API relay: ${e.message}`));
        this.server = srv;
        resolve();
      });
    });
  }

  private accept(sock: Socket): void {
    if (!relayAllows(sock.remoteAddress ?? "", this.o.podCidr)) {
      this.refused++;
      sock.destroy();
      return;
    }
    this.connections++;
    let target: URL;
    try {
      target = new URL(this.o.server());
    } catch {
      sock.destroy();
      return;
    }
    const up = connect({ host: target.hostname.replace(/^\[|\]$/g, ""), port: Number(target.port) || 443, noDelay: true, allowHalfOpen: true });
    this.open.add(sock);
    // Half-open on both sides: a client that shuts down its sending side still gets the answer
    // (pipe passes the end on); a socket is gone only once both directions are.
    const close = () => {
      this.open.delete(sock);
      sock.destroy();
      up.destroy();
    };
    sock.on("error", close).on("close", close);
    up.on("error", close).on("close", close);
    sock.pipe(up);
    up.pipe(sock);
  }

  stop(): void {
    this.server?.close();
    this.server = null;
    for (const s of this.open) s.destroy();
  }
}
