// A SPDY/3.1 connection as Kubernetes streaming uses it (moby/spdystream on the other end):
// either side may open streams, every SYN_STREAM is answered with SYN_REPLY, FIN half-closes,
// RST_STREAM aborts, PINGs are echoed. Transport-agnostic: bytes go out through `write` and
// come in through `feed`, so the same session runs over a TCP socket (kubectl's SPDY upgrade,
// containerd's streaming server) or inside WebSocket binary messages (kubectl's
// `SPDY/3.1+portforward.k8s.io` tunnel).
//
// Flow control: spdystream neither sends nor honours WINDOW_UPDATE, so neither does this;
// buffering is bounded by the owners (see `bufferedBytes`).
import { FrameReader, FrameWriter, FLAG_FIN, RstStatus, type Frame, type SpdyHeaders } from "./frames.ts";

export type { SpdyHeaders } from "./frames.ts";

const DEBUG = !!process.env.SKIFF_SPDY_DEBUG;

export interface StreamHandlers {
  data?: (chunk: Uint8Array) => void;
  /** The peer half-closed (FIN). */
  end?: () => void;
  /** The stream was reset by the peer or torn down with the session. */
  reset?: (reason: string) => void;
}

export class SpdyStream {
  remoteEnded = false;
  localEnded = false;
  isReset = false;
  private handlers: StreamHandlers | null = null;
  private queued: Array<{ k: "data"; d: Uint8Array } | { k: "end" } | { k: "reset"; r: string }> = [];
  /** Resolves when the peer answered our SYN_STREAM (locally opened streams only). */
  replied: Promise<void>;
  resolveReply!: () => void;
  rejectReply!: (e: Error) => void;

  constructor(
    private readonly session: SpdySession,
    readonly id: number,
    readonly headers: SpdyHeaders,
  ) {
    this.replied = new Promise((res, rej) => {
      this.resolveReply = res;
      this.rejectReply = rej;
    });
    this.replied.catch(() => {});
  }

  /** Header lookup, case-insensitive. */
  header(name: string): string | undefined {
    return this.headers[name.toLowerCase()];
  }

  /** Sets the handlers; events that arrived before are delivered now, in order. */
  on(h: StreamHandlers): this {
    this.handlers = h;
    const q = this.queued;
    this.queued = [];
    for (const e of q) this.dispatch(e);
    return this;
  }

  private dispatch(e: { k: "data"; d: Uint8Array } | { k: "end" } | { k: "reset"; r: string }) {
    if (!this.handlers) {
      this.queued.push(e);
      return;
    }
    if (e.k === "data") this.handlers.data?.(e.d);
    else if (e.k === "end") this.handlers.end?.();
    else this.handlers.reset?.(e.r);
  }

  /** @internal */ _data(d: Uint8Array) {
    if (d.length) this.dispatch({ k: "data", d });
  }
  /** @internal */ _end() {
    if (this.remoteEnded) return;
    this.remoteEnded = true;
    this.dispatch({ k: "end" });
    this.session._maybeForget(this);
  }
  /** @internal */ _reset(reason: string) {
    if (this.isReset) return;
    this.isReset = true;
    this.rejectReply(new Error(reason));
    this.dispatch({ k: "reset", r: reason });
    this.session._forget(this);
  }

  write(data: Uint8Array): void {
    if (this.localEnded || this.isReset || this.session.closed) return;
    // Keep frames modest so one stream cannot starve the others on a shared connection.
    for (let o = 0; o < data.length; o += 32 * 1024) this.session._send(this.session.writer.data(this.id, data.subarray(o, o + 32 * 1024)));
  }

  /** Half-closes our side (FIN). */
  end(): void {
    if (this.localEnded || this.isReset || this.session.closed) return;
    this.localEnded = true;
    this.session._send(this.session.writer.data(this.id, new Uint8Array(0), true));
    this.session._maybeForget(this);
  }

  reset(status: number = RstStatus.Cancel): void {
    if (this.isReset || this.session.closed) return;
    this.session._send(this.session.writer.rstStream(this.id, status));
    this._reset("reset locally");
  }
}

export interface SessionOptions {
  /** Client streams have odd ids, server streams even ones. */
  client: boolean;
  write: (bytes: Uint8Array) => void;
  /** A stream the peer opened. The session sends SYN_REPLY after this returns unless it was reset. */
  onStream?: (s: SpdyStream) => void;
  /** The connection ended (GOAWAY, protocol error, or close()). */
  onClose?: (err?: Error) => void;
}

export class SpdySession {
  readonly writer = new FrameWriter();
  private readonly reader = new FrameReader();
  private readonly streams = new Map<number, SpdyStream>();
  private nextId: number;
  private nextPing: number;
  closed = false;

  constructor(private readonly o: SessionOptions) {
    this.nextId = o.client ? 1 : 2;
    this.nextPing = o.client ? 1 : 2;
  }

  get streamCount(): number {
    return this.streams.size;
  }

  /** Bytes from the transport. */
  feed(chunk: Uint8Array): void {
    if (this.closed) return;
    let frames: Frame[];
    try {
      frames = this.reader.push(chunk);
    } catch (e) {
      this.fail(e as Error);
      return;
    }
    for (const f of frames) this.handle(f);
  }

  private handle(f: Frame): void {
    if (DEBUG) console.error(`spdy ${this.o.client ? "client" : "server"} <-`, f.type === "data" ? { ...f, data: f.data.length } : f);
    switch (f.type) {
      case "syn_stream": {
        if (this.streams.has(f.streamId)) {
          this._send(this.writer.rstStream(f.streamId, RstStatus.StreamInUse));
          return;
        }
        const s = new SpdyStream(this, f.streamId, f.headers);
        this.streams.set(f.streamId, s);
        if (f.flags & FLAG_FIN) s.remoteEnded = true;
        if (!this.o.onStream) {
          this._send(this.writer.rstStream(f.streamId, RstStatus.RefusedStream));
          this.streams.delete(f.streamId);
          return;
        }
        this.o.onStream(s);
        if (!s.isReset && !this.closed) this._send(this.writer.synReply(f.streamId, {}));
        if (f.flags & FLAG_FIN) {
          s.remoteEnded = false;
          s._end();
        }
        return;
      }
      case "syn_reply": {
        const s = this.streams.get(f.streamId);
        if (!s) return;
        s.resolveReply();
        if (f.flags & FLAG_FIN) s._end();
        return;
      }
      case "headers": {
        const s = this.streams.get(f.streamId);
        if (s && f.flags & FLAG_FIN) s._end();
        return;
      }
      case "data": {
        const s = this.streams.get(f.streamId);
        if (!s) return; // late data for a stream we already forgot
        s._data(f.data);
        if (f.flags & FLAG_FIN) s._end();
        return;
      }
      case "rst_stream": {
        this.streams.get(f.streamId)?._reset(`stream reset by peer (status ${f.status})`);
        return;
      }
      case "ping": {
        // Echo the peer's pings; ours coming back need no action.
        if ((f.id & 1) !== (this.nextPing & 1)) this._send(this.writer.ping(f.id));
        return;
      }
      case "goaway":
        this.shutdown();
        return;
      default:
        return; // SETTINGS, WINDOW_UPDATE, unknown: nothing to do (see header comment)
    }
  }

  /** Opens a stream and waits for the peer's SYN_REPLY. */
  async openStream(headers: SpdyHeaders, opts: { fin?: boolean; timeoutMs?: number } = {}): Promise<SpdyStream> {
    if (this.closed) throw new Error("SPDY connection is closed");
    const id = this.nextId;
    this.nextId += 2;
    const s = new SpdyStream(this, id, headers);
    this.streams.set(id, s);
    this._send(this.writer.synStream(id, headers, { fin: opts.fin }));
    if (opts.fin) s.localEnded = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        s.replied,
        new Promise<never>((_, rej) => {
          timer = setTimeout(() => rej(new Error("timed out waiting for the SPDY stream reply")), opts.timeoutMs ?? 30_000);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
    return s;
  }

  ping(): void {
    const id = this.nextPing;
    this.nextPing += 2;
    this._send(this.writer.ping(id));
  }

  /** Sends GOAWAY and tears every stream down. */
  close(): void {
    if (this.closed) return;
    try {
      this._send(this.writer.goAway(0));
    } catch {}
    this.shutdown();
  }

  private fail(err: Error): void {
    if (this.closed) return;
    try {
      this._send(this.writer.goAway(0, 1));
    } catch {}
    this.shutdown(err);
  }

  /** The transport is gone (or GOAWAY): reset every stream, report once. */
  shutdown(err?: Error): void {
    if (this.closed) return;
    this.closed = true;
    // Like spdystream: a closed connection reads as EOF on every stream (kubelet closes the
    // connection, not the error stream, after writing the exit status); a failure resets them.
    for (const s of [...this.streams.values()]) {
      if (err) s._reset(`connection failed: ${err.message}`);
      else {
        s._end();
        s.isReset = true;
      }
    }
    this.streams.clear();
    this.o.onClose?.(err);
  }

  /** @internal */ _send(bytes: Uint8Array): void {
    if (this.closed) return;
    this.o.write(bytes);
  }
  /** @internal */ _forget(s: SpdyStream): void {
    this.streams.delete(s.id);
  }
  /** @internal */ _maybeForget(s: SpdyStream): void {
    if (s.localEnded && s.remoteEnded) this.streams.delete(s.id);
  }
}
