// One WebSocket abstraction for both listeners: Bun.serve's ServerWebSocket and the `ws`
// package on a node:http server. Handlers are written once against WsPeer/WsSession.
import type { ServerWebSocket, WebSocketHandler } from "bun";

export interface WsPeer {
  send(data: Uint8Array | string): void;
  close(code?: number, reason?: string): void;
  /** Bytes queued for the client. */
  readonly buffered: number;
}

export interface WsSession {
  onOpen(peer: WsPeer): void;
  onMessage(data: Uint8Array | string): void;
  onClose(code: number, reason: string): void;
  onDrain?(): void;
}

export interface WsData {
  session: WsSession;
  protocol: string;
}

function bunPeer(ws: ServerWebSocket<WsData>): WsPeer {
  return {
    send: (d) => {
      if (ws.readyState === 1) ws.send(d);
    },
    close: (code, reason) => ws.close(code, reason),
    get buffered() {
      return ws.getBufferedAmount();
    },
  };
}

export const bunWebSocketHandler: WebSocketHandler<WsData> = {
  open(ws) {
    ws.binaryType = "uint8array";
    ws.data.session.onOpen(bunPeer(ws));
  },
  message(ws, msg) {
    ws.data.session.onMessage(typeof msg === "string" ? msg : new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength));
  },
  close(ws, code, reason) {
    ws.data.session.onClose(code, reason);
  },
  drain(ws) {
    ws.data.session.onDrain?.();
  },
  // Exec and port-forward sessions are often quiet for a long time; kubectl pings.
  idleTimeout: 0,
  maxPayloadLength: 16 * 1024 * 1024,
  perMessageDeflate: false,
  sendPings: true,
};

/** Adapts a `ws` WebSocket (node listener). */
export function attachWsPackageSocket(ws: any, session: WsSession): void {
  const peer: WsPeer = {
    send: (d) => {
      if (ws.readyState === 1) ws.send(d, { binary: typeof d !== "string" });
    },
    close: (code, reason) => ws.close(code, reason),
    get buffered() {
      return ws.bufferedAmount;
    },
  };
  ws.on("message", (data: Buffer, isBinary: boolean) => session.onMessage(isBinary ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : data.toString()));
  ws.on("close", (code: number, reason: Buffer) => session.onClose(code, reason.toString()));
  ws.on("error", () => {});
  session.onOpen(peer);
}
