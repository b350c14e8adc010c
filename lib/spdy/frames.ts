// SPDY/3.1 framing (draft-mbelshe-httpbis-spdy-00, with the 3.1 WINDOW_UPDATE semantics), the
// subset Kubernetes streaming uses: SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY,
// HEADERS, WINDOW_UPDATE and DATA. Header blocks are zlib-compressed with one context per
// direction for the whole connection, seeded with the SPDY/3 dictionary (pako, synchronous, so
// frames are encoded and decoded in order without awaiting).
//
// No npm SPDY framer is maintained (spdy-transport was last released in 2018 and is built on
// Node stream internals), so this is hand-written; zlib is pako.
import type pakoT from "pako";
import { SPDY3_DICTIONARY } from "./dictionary.ts";

// zlib for SPDY header blocks, loaded with the first SPDY stream (kubectl <= 1.29 exec): an idle
// server does not carry it.
const pako = (): typeof pakoT => require("pako") as typeof pakoT;

export const SPDY_VERSION = 3;

export const enum FrameType {
  SynStream = 1,
  SynReply = 2,
  RstStream = 3,
  Settings = 4,
  Ping = 6,
  GoAway = 7,
  Headers = 8,
  WindowUpdate = 9,
}

export const FLAG_FIN = 0x01;
export const FLAG_UNIDIRECTIONAL = 0x02;

export const RstStatus = {
  ProtocolError: 1,
  InvalidStream: 2,
  RefusedStream: 3,
  UnsupportedVersion: 4,
  Cancel: 5,
  InternalError: 6,
  FlowControlError: 7,
  StreamInUse: 8,
  StreamAlreadyClosed: 9,
} as const;

/** Header names are lower-case on the wire; a value may hold several NUL-separated values. */
export type SpdyHeaders = Record<string, string>;

export type Frame =
  | { type: "data"; streamId: number; flags: number; data: Uint8Array }
  | { type: "syn_stream"; streamId: number; associatedId: number; priority: number; flags: number; headers: SpdyHeaders }
  | { type: "syn_reply"; streamId: number; flags: number; headers: SpdyHeaders }
  | { type: "headers"; streamId: number; flags: number; headers: SpdyHeaders }
  | { type: "rst_stream"; streamId: number; status: number }
  | { type: "settings"; flags: number; settings: { id: number; flags: number; value: number }[] }
  | { type: "ping"; id: number }
  | { type: "goaway"; lastGoodStreamId: number; status: number }
  | { type: "window_update"; streamId: number; delta: number }
  | { type: "unknown"; frameType: number; flags: number };

export class SpdyProtocolError extends Error {
  override name = "SpdyProtocolError";
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function concat(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  let n = 0;
  for (const c of chunks) n += c.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/** One direction's header compressor: a single zlib stream for the life of the connection. */
export class HeaderCompressor {
  private readonly z = new (pako().Deflate)({ dictionary: SPDY3_DICTIONARY, level: 6 });
  private out: Uint8Array[] = [];
  constructor() {
    this.z.onData = (c: Uint8Array) => this.out.push(c);
  }
  compress(headers: SpdyHeaders): Uint8Array {
    const entries = Object.entries(headers);
    const parts: Uint8Array[] = [];
    const u32 = (n: number) => {
      const b = new Uint8Array(4);
      new DataView(b.buffer).setUint32(0, n);
      return b;
    };
    parts.push(u32(entries.length));
    for (const [k, v] of entries) {
      const kb = enc.encode(k.toLowerCase());
      const vb = enc.encode(v);
      parts.push(u32(kb.length), kb, u32(vb.length), vb);
    }
    this.out = [];
    this.z.push(concat(parts), pako().constants.Z_SYNC_FLUSH);
    if (this.z.err) throw new SpdyProtocolError(`header compression failed: ${this.z.msg}`);
    return concat(this.out);
  }
}

/** The other direction: one inflate context, fed each header block in order. */
export class HeaderDecompressor {
  private readonly z = new (pako().Inflate)({ dictionary: SPDY3_DICTIONARY });
  private out: Uint8Array[] = [];
  constructor() {
    this.z.onData = (c: Uint8Array) => this.out.push(c);
  }
  decompress(block: Uint8Array): SpdyHeaders {
    this.out = [];
    if (block.length) this.z.push(block, pako().constants.Z_SYNC_FLUSH);
    if (this.z.err) throw new SpdyProtocolError(`header block does not inflate: ${this.z.msg || this.z.err}`);
    const raw = concat(this.out);
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const headers: SpdyHeaders = {};
    if (raw.length < 4) throw new SpdyProtocolError("header block too short");
    const n = dv.getUint32(0);
    let o = 4;
    const str = () => {
      if (o + 4 > raw.length) throw new SpdyProtocolError("truncated header block");
      const len = dv.getUint32(o);
      o += 4;
      if (o + len > raw.length) throw new SpdyProtocolError("truncated header block");
      const s = dec.decode(raw.subarray(o, o + len));
      o += len;
      return s;
    };
    for (let i = 0; i < n; i++) {
      const k = str().toLowerCase();
      headers[k] = str();
    }
    return headers;
  }
}

function controlFrame(type: number, flags: number, payload: Uint8Array): Uint8Array {
  if (payload.length > 0xffffff) throw new SpdyProtocolError("control frame too large");
  const b = new Uint8Array(8 + payload.length);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, 0x8000 | SPDY_VERSION);
  dv.setUint16(2, type);
  dv.setUint32(4, ((flags & 0xff) << 24) | payload.length);
  b.set(payload, 8);
  return b;
}

/** Encodes frames for one connection direction (owns that direction's compressor). */
export class FrameWriter {
  private readonly hc = new HeaderCompressor();

  data(streamId: number, data: Uint8Array, fin = false): Uint8Array {
    if (data.length > 0xffffff) throw new SpdyProtocolError("data frame too large");
    const b = new Uint8Array(8 + data.length);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, streamId & 0x7fffffff);
    dv.setUint32(4, ((fin ? FLAG_FIN : 0) << 24) | data.length);
    b.set(data, 8);
    return b;
  }

  synStream(streamId: number, headers: SpdyHeaders, opts: { fin?: boolean; unidirectional?: boolean; associatedId?: number; priority?: number } = {}): Uint8Array {
    const block = this.hc.compress(headers);
    const p = new Uint8Array(10 + block.length);
    const dv = new DataView(p.buffer);
    dv.setUint32(0, streamId & 0x7fffffff);
    dv.setUint32(4, (opts.associatedId ?? 0) & 0x7fffffff);
    p[8] = ((opts.priority ?? 0) & 7) << 5;
    p[9] = 0; // slot
    p.set(block, 10);
    return controlFrame(FrameType.SynStream, (opts.fin ? FLAG_FIN : 0) | (opts.unidirectional ? FLAG_UNIDIRECTIONAL : 0), p);
  }

  synReply(streamId: number, headers: SpdyHeaders, fin = false): Uint8Array {
    return this.withBlock(FrameType.SynReply, streamId, headers, fin);
  }

  headers(streamId: number, headers: SpdyHeaders, fin = false): Uint8Array {
    return this.withBlock(FrameType.Headers, streamId, headers, fin);
  }

  private withBlock(type: FrameType, streamId: number, headers: SpdyHeaders, fin: boolean): Uint8Array {
    const block = this.hc.compress(headers);
    const p = new Uint8Array(4 + block.length);
    new DataView(p.buffer).setUint32(0, streamId & 0x7fffffff);
    p.set(block, 4);
    return controlFrame(type, fin ? FLAG_FIN : 0, p);
  }

  rstStream(streamId: number, status: number): Uint8Array {
    const p = new Uint8Array(8);
    const dv = new DataView(p.buffer);
    dv.setUint32(0, streamId & 0x7fffffff);
    dv.setUint32(4, status);
    return controlFrame(FrameType.RstStream, 0, p);
  }

  settings(settings: { id: number; flags?: number; value: number }[], flags = 0): Uint8Array {
    const p = new Uint8Array(4 + 8 * settings.length);
    const dv = new DataView(p.buffer);
    dv.setUint32(0, settings.length);
    settings.forEach((s, i) => {
      dv.setUint32(4 + i * 8, (((s.flags ?? 0) & 0xff) << 24) | (s.id & 0xffffff));
      dv.setUint32(8 + i * 8, s.value);
    });
    return controlFrame(FrameType.Settings, flags, p);
  }

  ping(id: number): Uint8Array {
    const p = new Uint8Array(4);
    new DataView(p.buffer).setUint32(0, id >>> 0);
    return controlFrame(FrameType.Ping, 0, p);
  }

  goAway(lastGoodStreamId: number, status = 0): Uint8Array {
    const p = new Uint8Array(8);
    const dv = new DataView(p.buffer);
    dv.setUint32(0, lastGoodStreamId & 0x7fffffff);
    dv.setUint32(4, status);
    return controlFrame(FrameType.GoAway, 0, p);
  }

  windowUpdate(streamId: number, delta: number): Uint8Array {
    const p = new Uint8Array(8);
    const dv = new DataView(p.buffer);
    dv.setUint32(0, streamId & 0x7fffffff);
    dv.setUint32(4, delta & 0x7fffffff);
    return controlFrame(FrameType.WindowUpdate, 0, p);
  }
}

/** Decodes a byte stream into frames (owns the other direction's decompressor). */
export class FrameReader {
  private readonly hd = new HeaderDecompressor();
  private buf: Uint8Array = new Uint8Array(0);
  /** Largest frame payload accepted; guards memory against a hostile peer. */
  constructor(private readonly maxFrame = 16 * 1024 * 1024) {}

  /** Appends bytes and returns every complete frame in them. */
  push(chunk: Uint8Array): Frame[] {
    this.buf = this.buf.length ? concat([this.buf, chunk]) : chunk;
    const frames: Frame[] = [];
    let o = 0;
    while (this.buf.length - o >= 8) {
      const dv = new DataView(this.buf.buffer, this.buf.byteOffset + o, 8);
      const len = dv.getUint32(4) & 0xffffff;
      if (len > this.maxFrame) throw new SpdyProtocolError(`frame of ${len} bytes exceeds the limit`);
      if (this.buf.length - o < 8 + len) break;
      const payload = this.buf.subarray(o + 8, o + 8 + len);
      frames.push(this.parse(dv.getUint32(0), dv.getUint32(4) >>> 24, payload));
      o += 8 + len;
    }
    this.buf = o === this.buf.length ? new Uint8Array(0) : this.buf.slice(o);
    return frames;
  }

  private parse(first: number, flags: number, payload: Uint8Array): Frame {
    const pv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
    if (!(first & 0x80000000)) {
      // Copy: the frame outlives this read buffer.
      return { type: "data", streamId: first & 0x7fffffff, flags, data: payload.slice() };
    }
    const version = (first >>> 16) & 0x7fff;
    const type = first & 0xffff;
    if (version !== SPDY_VERSION) throw new SpdyProtocolError(`unsupported SPDY version ${version}`);
    const need = (n: number) => {
      if (payload.length < n) throw new SpdyProtocolError(`control frame ${type} too short`);
    };
    switch (type) {
      case FrameType.SynStream:
        need(10);
        return {
          type: "syn_stream",
          streamId: pv.getUint32(0) & 0x7fffffff,
          associatedId: pv.getUint32(4) & 0x7fffffff,
          priority: payload[8]! >> 5,
          flags,
          headers: this.hd.decompress(payload.subarray(10)),
        };
      case FrameType.SynReply:
        need(4);
        return { type: "syn_reply", streamId: pv.getUint32(0) & 0x7fffffff, flags, headers: this.hd.decompress(payload.subarray(4)) };
      case FrameType.Headers:
        need(4);
        return { type: "headers", streamId: pv.getUint32(0) & 0x7fffffff, flags, headers: this.hd.decompress(payload.subarray(4)) };
      case FrameType.RstStream:
        need(8);
        return { type: "rst_stream", streamId: pv.getUint32(0) & 0x7fffffff, status: pv.getUint32(4) };
      case FrameType.Settings: {
        need(4);
        const n = pv.getUint32(0);
        need(4 + n * 8);
        const settings = [];
        for (let i = 0; i < n; i++) {
          const idf = pv.getUint32(4 + i * 8);
          settings.push({ id: idf & 0xffffff, flags: idf >>> 24, value: pv.getUint32(8 + i * 8) });
        }
        return { type: "settings", flags, settings };
      }
      case FrameType.Ping:
        need(4);
        return { type: "ping", id: pv.getUint32(0) };
      case FrameType.GoAway:
        need(4);
        return { type: "goaway", lastGoodStreamId: pv.getUint32(0) & 0x7fffffff, status: payload.length >= 8 ? pv.getUint32(4) : 0 };
      case FrameType.WindowUpdate:
        need(8);
        return { type: "window_update", streamId: pv.getUint32(0) & 0x7fffffff, delta: pv.getUint32(4) & 0x7fffffff };
      default:
        return { type: "unknown", frameType: type, flags };
    }
  }
}
