// The agent tunnel: one WebSocket the agent opens to the server (edge nodes sit behind NAT, so
// the server never dials them), multiplexing many streams. Binary messages:
//
//   [type u8][stream id u32 BE][payload]
//   OPEN   server→agent  payload: JSON TunnelRequest
//   REPLY  agent→server  payload: JSON TunnelReply (accepted, or a Status-like error)
//   DATA   both          payload: bytes (exec/attach: one channel-framed message, see channel.ts)
//   END    both          half-close: the sender writes no more DATA
//   RESET  both          abort; payload: UTF-8 reason
//   WINDOW both          payload: u32 credit; the receiver grants it back as it delivers DATA
//
// Flow control: each direction of a stream may have at most WINDOW bytes in flight; a writer
// beyond it queues locally (`write` returns false, `drain` fires when the queue empties), so a
// slow kubectl or a slow tunnel bounds memory instead of growing it. Ids are chosen by the
// server (the only side that opens streams).

export const T_OPEN = 1;
export const T_REPLY = 2;
export const T_DATA = 3;
export const T_END = 4;
export const T_RESET = 5;
export const T_WINDOW = 6;
/** Keepalive (stream id 0, no payload): a silent peer is a dead one (see startKeepalive). */
export const T_PING = 7;

/** Initial per-stream, per-direction credit. */
export const WINDOW = 1 << 20;
/** Largest DATA payload; big writes are split. */
export const MAX_DATA = 64 * 1024;

export type LogRequest = {
  kind: "log";
  namespace: string;
  pod: string;
  uid: string;
  container: string;
  /** containerd id of the current (or, with previous, the last terminated) container, if known. */
  containerId?: string;
  restartCount?: number;
  previous?: boolean;
  follow?: boolean;
  tailLines?: number;
  /** RFC 3339; sinceSeconds is turned into this by the server. */
  sinceTime?: string;
  timestamps?: boolean;
  limitBytes?: number;
};

export type ExecRequest = {
  kind: "exec" | "attach";
  namespace: string;
  pod: string;
  uid: string;
  container: string;
  containerId: string;
  command: string[];
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
};

export type PortForwardRequest = {
  kind: "portforward";
  namespace: string;
  pod: string;
  uid: string;
  podIP?: string;
  port: number;
};

/** Resource usage for the metrics.k8s.io API: the agent answers with one JSON StatsReply on the stream. */
export type StatsRequest = {
  kind: "stats";
  /** Include the node's own usage. */
  node?: boolean;
  /** Include the usage of every running pod container. */
  pods?: boolean;
};

/** One usage point: CPU is a rate over `windowMs` ending at `timestamp`. */
export interface UsagePoint {
  /** RFC 3339 (ms) time of the newer of the two samples. */
  timestamp: string;
  /** Time between the two cumulative CPU samples the rate comes from. */
  windowMs: number;
  cpuNanoCores: number;
  /** Working set (usage minus inactive file cache), what kubelet and metrics-server report. */
  memoryBytes: number;
}

export interface StatsReply {
  node?: UsagePoint;
  pods?: { namespace: string; name: string; uid: string; containers: ({ name: string } & UsagePoint)[] }[];
}

/** The node's Prometheus metrics (kubelet's /metrics or /metrics/cadvisor): the agent answers with the text exposition. */
export type NodeMetricsRequest = { kind: "metrics"; path: "/metrics" | "/metrics/cadvisor" };

export type TunnelRequest = LogRequest | ExecRequest | PortForwardRequest | StatsRequest | NodeMetricsRequest | { kind: "ping" };

export type TunnelReply = { ok: true } | { ok: false; code: number; reason: string; message: string };

export function frame(type: number, id: number, payload?: Uint8Array): Uint8Array {
  const b = new Uint8Array(5 + (payload?.length ?? 0));
  b[0] = type;
  new DataView(b.buffer).setUint32(1, id >>> 0);
  if (payload) b.set(payload, 5);
  return b;
}

export function parseFrame(b: Uint8Array): { type: number; id: number; payload: Uint8Array } | null {
  if (b.length < 5) return null;
  return { type: b[0]!, id: new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(1), payload: b.subarray(5) };
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A data handler's answer: keep this chunk's credit until `release()`. */
export const HOLD = Symbol("hold");

export interface TunnelHandlers {
  /** Return HOLD to keep the chunk's credit until `release()` (backpressure through a relay). */
  data?: (chunk: Uint8Array) => unknown;
  end?: () => void;
  reset?: (reason: string) => void;
  /** The write queue emptied (after write() returned false). */
  drain?: () => void;
}

type Ev = { k: "data"; d: Uint8Array } | { k: "end" } | { k: "reset"; r: string };

export class TunnelStream {
  localEnded = false;
  remoteEnded = false;
  closed = false;
  private credit = WINDOW;
  private queue: Uint8Array[] = [];
  private queuedBytes = 0;
  private endQueued = false;
  private handlers: TunnelHandlers | null = null;
  private pending: Ev[] = [];
  private held = 0;

  constructor(
    private readonly mux: TunnelMux,
    readonly id: number,
    readonly request: TunnelRequest | null,
  ) {}

  on(h: TunnelHandlers): this {
    this.handlers = h;
    const p = this.pending;
    this.pending = [];
    for (const e of p) this.dispatch(e);
    return this;
  }

  private dispatch(e: Ev): void {
    if (!this.handlers) {
      this.pending.push(e);
      return;
    }
    if (e.k === "data") {
      // Delivered: give the credit back, unless the handler holds it.
      if (this.handlers.data?.(e.d) === HOLD) this.held += e.d.length;
      else this.mux._send(frame(T_WINDOW, this.id, u32(e.d.length)));
    } else if (e.k === "end") this.handlers.end?.();
    else this.handlers.reset?.(e.r);
  }

  /** Gives back the credit of chunks whose handler returned HOLD. */
  release(): void {
    if (!this.held || this.closed) return;
    const n = this.held;
    this.held = 0;
    this.mux._send(frame(T_WINDOW, this.id, u32(n)));
  }

  /** Bytes waiting for credit. */
  get buffered(): number {
    return this.queuedBytes;
  }

  /** Returns false when the data had to be queued (wait for `drain`). */
  write(data: Uint8Array): boolean {
    if (this.localEnded || this.closed) return false;
    for (let o = 0; o < data.length; o += MAX_DATA) {
      const part = data.subarray(o, o + MAX_DATA);
      if (!this.queue.length && this.credit >= part.length) {
        this.credit -= part.length;
        this.mux._send(frame(T_DATA, this.id, part));
      } else {
        this.queue.push(part.slice());
        this.queuedBytes += part.length;
      }
    }
    return this.queue.length === 0;
  }

  end(): void {
    if (this.localEnded || this.closed) return;
    this.localEnded = true;
    if (this.queue.length) this.endQueued = true;
    else this.mux._send(frame(T_END, this.id));
    this.maybeDone();
  }

  reset(reason = "reset"): void {
    if (this.closed) return;
    this.mux._send(frame(T_RESET, this.id, enc.encode(reason)));
    this.closeNow("reset locally: " + reason, false);
  }

  /** @internal */ _credit(n: number): void {
    this.credit += n;
    while (this.queue.length && this.credit >= this.queue[0]!.length) {
      const p = this.queue.shift()!;
      this.queuedBytes -= p.length;
      this.credit -= p.length;
      this.mux._send(frame(T_DATA, this.id, p));
    }
    if (!this.queue.length) {
      if (this.endQueued) {
        this.endQueued = false;
        this.mux._send(frame(T_END, this.id));
        this.maybeDone();
      }
      this.handlers?.drain?.();
    }
  }
  /** @internal */ _data(d: Uint8Array): void {
    if (!this.remoteEnded && !this.closed) this.dispatch({ k: "data", d: d.slice() });
  }
  /** @internal */ _end(): void {
    if (this.remoteEnded || this.closed) return;
    this.remoteEnded = true;
    this.dispatch({ k: "end" });
    this.maybeDone();
  }
  /** @internal */ closeNow(reason: string, notify = true): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.queuedBytes = 0;
    this.mux._forget(this.id);
    if (notify) this.dispatch({ k: "reset", r: reason });
  }
  private maybeDone(): void {
    if (this.localEnded && this.remoteEnded && !this.endQueued && !this.closed) {
      this.closed = true;
      this.mux._forget(this.id);
    }
  }
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0);
  return b;
}

export interface MuxOptions {
  send: (bytes: Uint8Array) => void;
  /** Agent side: a stream the server opened. Reply with `accept`/`refuse`. */
  onOpen?: (s: TunnelStream, req: TunnelRequest, accept: () => void, refuse: (code: number, reason: string, message: string) => void) => void;
}

export class TunnelMux {
  private readonly streams = new Map<number, TunnelStream>();
  private readonly waiting = new Map<number, { resolve: (s: TunnelStream) => void; reject: (e: TunnelOpenError) => void }>();
  private nextId = 1;
  closed = false;
  private lastReceived = Date.now();
  private peerPings = false;
  private keepalive: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly o: MuxOptions) {}

  get size(): number {
    return this.streams.size;
  }

  /** Server side: opens a stream and waits for the agent's REPLY. */
  open(req: TunnelRequest, timeoutMs = 30_000): Promise<TunnelStream> {
    if (this.closed) return Promise.reject(new TunnelOpenError(503, "ServiceUnavailable", "the node's tunnel is closed"));
    const id = this.nextId++;
    if (this.nextId > 0x7fffffff) this.nextId = 1;
    const s = new TunnelStream(this, id, req);
    this.streams.set(id, s);
    return new Promise<TunnelStream>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        this.streams.delete(id);
        // The peer may still accept later: tell it to drop the stream.
        this._send(frame(T_RESET, id, enc.encode("open timed out")));
        reject(new TunnelOpenError(504, "Timeout", `the node did not answer the ${req.kind} request within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.waiting.set(id, {
        resolve: (x) => {
          clearTimeout(timer);
          resolve(x);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this._send(frame(T_OPEN, id, enc.encode(JSON.stringify(req))));
    });
  }

  /**
   * Sends a PING every `everyMs`; once the peer has shown it pings too, `onDead` runs when
   * nothing at all arrived for `deadMs` (a half-open connection never reports itself).
   */
  startKeepalive(everyMs: number, deadMs: number, onDead: () => void): void {
    clearInterval(this.keepalive);
    this.lastReceived = Date.now();
    this.keepalive = setInterval(() => {
      if (this.closed) return clearInterval(this.keepalive);
      if (this.peerPings && Date.now() - this.lastReceived > deadMs) {
        clearInterval(this.keepalive);
        onDead();
        return;
      }
      this._send(frame(T_PING, 0));
    }, everyMs);
    this.keepalive.unref?.();
  }

  receive(msg: Uint8Array): void {
    const f = parseFrame(msg);
    if (!f || this.closed) return;
    this.lastReceived = Date.now();
    if (f.type === T_PING) {
      this.peerPings = true;
      return;
    }
    const s = this.streams.get(f.id);
    switch (f.type) {
      case T_OPEN: {
        if (s || !this.o.onOpen) {
          this._send(frame(T_REPLY, f.id, enc.encode(JSON.stringify({ ok: false, code: 500, reason: "InternalError", message: "stream refused" }))));
          return;
        }
        let req: TunnelRequest;
        try {
          req = JSON.parse(dec.decode(f.payload));
        } catch {
          this._send(frame(T_REPLY, f.id, enc.encode(JSON.stringify({ ok: false, code: 400, reason: "BadRequest", message: "unparseable tunnel request" }))));
          return;
        }
        const ns = new TunnelStream(this, f.id, req);
        this.streams.set(f.id, ns);
        let answered = false;
        this.o.onOpen(
          ns,
          req,
          () => {
            if (answered || ns.closed) return;
            answered = true;
            this._send(frame(T_REPLY, f.id, enc.encode(JSON.stringify({ ok: true }))));
          },
          (code, reason, message) => {
            if (answered) return;
            answered = true;
            this._send(frame(T_REPLY, f.id, enc.encode(JSON.stringify({ ok: false, code, reason, message }))));
            ns.closeNow("refused", false);
          },
        );
        return;
      }
      case T_REPLY: {
        const w = this.waiting.get(f.id);
        if (!w || !s) {
          // Accepted after the open timed out (or was reset): nobody reads it, so drop it there.
          if (!s) this._send(frame(T_RESET, f.id, enc.encode("no such stream")));
          return;
        }
        this.waiting.delete(f.id);
        let rep: TunnelReply;
        try {
          rep = JSON.parse(dec.decode(f.payload));
        } catch {
          rep = { ok: false, code: 500, reason: "InternalError", message: "unparseable reply from the node" };
        }
        if (rep.ok) w.resolve(s);
        else {
          s.closeNow("refused", false);
          w.reject(new TunnelOpenError(rep.code, rep.reason, rep.message));
        }
        return;
      }
      case T_DATA:
        s?._data(f.payload);
        return;
      case T_END:
        s?._end();
        return;
      case T_RESET:
        if (s) {
          const w = this.waiting.get(f.id);
          this.waiting.delete(f.id);
          w?.reject(new TunnelOpenError(500, "InternalError", dec.decode(f.payload)));
          s.closeNow(dec.decode(f.payload) || "reset by peer");
        }
        return;
      case T_WINDOW:
        if (s && f.payload.length >= 4) s._credit(new DataView(f.payload.buffer, f.payload.byteOffset, 4).getUint32(0));
        return;
    }
  }

  /** The transport is gone: every stream is reset, every pending open fails. */
  close(reason = "tunnel closed"): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.keepalive);
    for (const [, w] of this.waiting) w.reject(new TunnelOpenError(503, "ServiceUnavailable", reason));
    this.waiting.clear();
    for (const s of [...this.streams.values()]) s.closeNow(reason);
    this.streams.clear();
  }

  /** @internal */ _send(b: Uint8Array): void {
    if (!this.closed) this.o.send(b);
  }
  /** @internal */ _forget(id: number): void {
    this.streams.delete(id);
  }
}

export class TunnelOpenError extends Error {
  override name = "TunnelOpenError";
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}
