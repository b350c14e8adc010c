// Hand-written protobuf codec for skiff.raft.v1.Batch (schemas/proto/raft.proto), the frame
// every peer stream carries. Same wire format as protobufjs would produce (proto3: zero
// fields omitted, repeated ids unpacked like protobufjs; the decoder also reads packed ones and skips
// unknown fields), but without its generic object conversion and without Long: every
// uint64 here (ids, terms, indexes) is a JS number below 2^53. This is on the hot path of
// every write (one encode + one decode per peer per Ready), so it matters.
import { message, type ConfState, type Entry, type Message, type MessageType } from "../core/types";

export const TYPES: MessageType[] = [
  "app",
  "appResp",
  "vote",
  "voteResp",
  "preVote",
  "preVoteResp",
  "heartbeat",
  "heartbeatResp",
  "snap",
  "snapResp",
  "timeoutNow",
  "readIndex",
  "readIndexResp",
  "transferLeader",
];
const TYPE_NUM = new Map(TYPES.map((t, i) => [t, i]));

/** A write forwarded by a follower to the leader. */
export interface Proposal {
  id: number;
  data: Uint8Array;
}
/** The leader's answer: (index, term) on success, else error (+ HTTP-like code). */
export interface ProposalResult {
  id: number;
  index: number;
  term: number;
  error: string;
  code: number;
}
export interface Batch {
  from: number;
  cluster: string;
  messages: Message[];
  proposals: Proposal[];
  results: ProposalResult[];
}

const EMPTY = new Uint8Array();
const enc = new TextEncoder();
const dec = new TextDecoder();

function vsize(v: number): number {
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}
/** Size of a varint field (tag < 128 except field 16, handled by the caller). */
const vfield = (v: number) => (v ? 1 + vsize(v) : 0);
const lenField = (len: number, tagBytes = 1) => tagBytes + vsize(len) + len;

function entrySize(e: Entry): number {
  return vfield(e.term) + vfield(e.index) + (e.type === "conf" ? 2 : 0) + (e.data.length ? lenField(e.data.length) : 0);
}

function confSize(cs: ConfState): number {
  let n = 0;
  for (const v of cs.voters) n += 1 + vsize(v);
  for (const v of cs.learners) n += 1 + vsize(v);
  return n;
}

function snapMetaSize(s: NonNullable<Message["snapshot"]>): number {
  return vfield(s.index) + vfield(s.term) + lenField(confSize(s.confState));
}

interface Sized {
  m: Message;
  size: number;
  ctx: Uint8Array | undefined;
}

function messageSize(m: Message, ctx: Uint8Array | undefined): number {
  let n = vfield(TYPE_NUM.get(m.type) ?? 0) + vfield(m.from) + vfield(m.to) + vfield(m.term) + vfield(m.logTerm) + vfield(m.index);
  for (const e of m.entries) n += lenField(entrySize(e));
  n += vfield(m.commit) + (m.reject ? 2 : 0) + vfield(m.rejectHint);
  if (ctx && ctx.length) n += lenField(ctx.length);
  n += vfield(m.target);
  if (m.snapshot) n += lenField(snapMetaSize(m.snapshot));
  n += vfield(m.snapOffset ?? 0);
  if (m.snapData && m.snapData.length) n += lenField(m.snapData.length);
  if (m.snapDone) n += 3; // field 16: two tag bytes
  if (m.snapCrc) n += 2 + vsize(m.snapCrc); // field 17: two tag bytes
  return n;
}

class Writer {
  pos = 0;
  constructor(readonly buf: Uint8Array) {}
  varint(v: number): void {
    const b = this.buf;
    while (v >= 128) {
      b[this.pos++] = (v % 128) | 128;
      v = Math.floor(v / 128);
    }
    b[this.pos++] = v;
  }
  /** A varint field with a one-byte tag, omitted when zero. */
  u(tag: number, v: number): void {
    if (!v) return;
    this.buf[this.pos++] = tag;
    this.varint(v);
  }
  bytes(tag: number, d: Uint8Array): void {
    this.buf[this.pos++] = tag;
    this.varint(d.length);
    this.buf.set(d, this.pos);
    this.pos += d.length;
  }
  /** Repeated uint64, unpacked (what protobufjs writes for this schema; both forms decode). */
  repeated(tag: number, vs: number[]): void {
    for (const v of vs) {
      this.buf[this.pos++] = tag;
      this.varint(v);
    }
  }
}

function writeMessage(w: Writer, s: Sized): void {
  const m = s.m;
  w.buf[w.pos++] = 26; // Batch.messages
  w.varint(s.size);
  w.u(8, TYPE_NUM.get(m.type) ?? 0);
  w.u(16, m.from);
  w.u(24, m.to);
  w.u(32, m.term);
  w.u(40, m.logTerm);
  w.u(48, m.index);
  for (const e of m.entries) {
    w.buf[w.pos++] = 58;
    w.varint(entrySize(e));
    w.u(8, e.term);
    w.u(16, e.index);
    if (e.type === "conf") w.u(24, 1);
    if (e.data.length) w.bytes(34, e.data);
  }
  w.u(64, m.commit);
  if (m.reject) w.u(72, 1);
  w.u(80, m.rejectHint);
  if (s.ctx && s.ctx.length) w.bytes(90, s.ctx);
  w.u(96, m.target);
  if (m.snapshot) {
    const sn = m.snapshot;
    w.buf[w.pos++] = 106;
    w.varint(snapMetaSize(sn));
    w.u(8, sn.index);
    w.u(16, sn.term);
    w.buf[w.pos++] = 26;
    w.varint(confSize(sn.confState));
    w.repeated(8, sn.confState.voters);
    w.repeated(16, sn.confState.learners);
  }
  w.u(112, m.snapOffset ?? 0);
  if (m.snapData && m.snapData.length) w.bytes(122, m.snapData);
  if (m.snapDone) {
    w.buf[w.pos++] = 128;
    w.buf[w.pos++] = 1;
    w.buf[w.pos++] = 1;
  }
  if (m.snapCrc) {
    w.buf[w.pos++] = 136; // field 17, varint
    w.buf[w.pos++] = 1;
    w.varint(m.snapCrc);
  }
}

export function encodeBatch(b: { from: number; cluster: string | Uint8Array; messages?: Message[]; proposals?: Proposal[]; results?: ProposalResult[] }): Uint8Array {
  const cluster = typeof b.cluster === "string" ? enc.encode(b.cluster) : b.cluster;
  const msgs: Sized[] = (b.messages ?? []).map((m) => {
    const ctx = m.context ? enc.encode(m.context) : undefined;
    return { m, ctx, size: messageSize(m, ctx) };
  });
  const props = b.proposals ?? [];
  const results = (b.results ?? []).map((r) => ({ r, err: r.error ? enc.encode(r.error) : undefined }));
  const propSize = (p: Proposal) => vfield(p.id) + (p.data.length ? lenField(p.data.length) : 0);
  const resSize = (x: (typeof results)[number]) => vfield(x.r.id) + vfield(x.r.index) + vfield(x.r.term) + (x.err ? lenField(x.err.length) : 0) + vfield(x.r.code);
  let size = vfield(b.from) + (cluster.length ? lenField(cluster.length) : 0);
  for (const s of msgs) size += lenField(s.size);
  for (const p of props) size += lenField(propSize(p));
  for (const x of results) size += lenField(resSize(x));
  const w = new Writer(new Uint8Array(size));
  w.u(8, b.from);
  if (cluster.length) w.bytes(18, cluster);
  for (const s of msgs) writeMessage(w, s);
  for (const p of props) {
    w.buf[w.pos++] = 34;
    w.varint(propSize(p));
    w.u(8, p.id);
    if (p.data.length) w.bytes(18, p.data);
  }
  for (const x of results) {
    w.buf[w.pos++] = 42;
    w.varint(resSize(x));
    w.u(8, x.r.id);
    w.u(16, x.r.index);
    w.u(24, x.r.term);
    if (x.err) w.bytes(34, x.err);
    w.u(40, x.r.code);
  }
  if (w.pos !== size) throw new Error(`raft codec: encoded ${w.pos} bytes, expected ${size}`);
  return w.buf;
}

class Reader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
  }
  varint(): number {
    const b = this.buf;
    let v = 0;
    let mul = 1;
    for (;;) {
      if (this.pos >= this.end) throw new Error("raft codec: truncated varint");
      const x = b[this.pos++]!;
      v += (x & 127) * mul;
      if (x < 128) return v;
      mul *= 128;
      if (mul > 2 ** 63) throw new Error("raft codec: varint too long");
    }
  }
  /** A length-delimited field: returns [start, end) and moves past it. */
  span(): [number, number] {
    const len = this.varint();
    const s = this.pos;
    if (s + len > this.end) throw new Error("raft codec: truncated field");
    this.pos = s + len;
    return [s, s + len];
  }
  bytes(): Uint8Array {
    const [s, e] = this.span();
    // A copy: the frame's buffer may be pooled by the transport.
    return this.buf.slice(s, e);
  }
  str(): string {
    const [s, e] = this.span();
    return dec.decode(this.buf.subarray(s, e));
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.span();
    else if (wire === 5) this.pos += 4;
    else throw new Error(`raft codec: unsupported wire type ${wire}`);
    if (this.pos > this.end) throw new Error("raft codec: truncated field");
  }
}

function readPacked(r: Reader, wire: number, out: number[]): void {
  if (wire === 0) {
    out.push(r.varint());
    return;
  }
  if (wire !== 2) return r.skip(wire);
  const [s, e] = r.span();
  const sub = new Reader(r.buf, s, e);
  while (sub.pos < e) out.push(sub.varint());
}

function readEntry(r: Reader, end: number): Entry {
  let term = 0;
  let index = 0;
  let conf = false;
  let data: Uint8Array = EMPTY;
  while (r.pos < end) {
    const tag = r.varint();
    const f = Math.floor(tag / 8);
    const wire = tag & 7;
    if (f === 1 && wire === 0) term = r.varint();
    else if (f === 2 && wire === 0) index = r.varint();
    else if (f === 3 && wire === 0) conf = r.varint() !== 0;
    else if (f === 4 && wire === 2) data = r.bytes();
    else r.skip(wire);
  }
  return { term, index, type: conf ? "conf" : "normal", data };
}

function readConf(r: Reader, end: number): ConfState {
  const cs: ConfState = { voters: [], learners: [] };
  while (r.pos < end) {
    const tag = r.varint();
    const f = Math.floor(tag / 8);
    const wire = tag & 7;
    if (f === 1) readPacked(r, wire, cs.voters);
    else if (f === 2) readPacked(r, wire, cs.learners);
    else r.skip(wire);
  }
  return cs;
}

function readMessage(r: Reader, end: number): Message {
  // Fields absent on the wire keep message()'s defaults (proto3: zero values are not sent).
  const m = message({ type: "app", to: 0 });
  let snapData: Uint8Array | undefined;
  while (r.pos < end) {
    const tag = r.varint();
    const f = Math.floor(tag / 8);
    const wire = tag & 7;
    switch (wire === 0 ? f : wire === 2 ? -f : 0) {
      case 1: {
        const t = TYPES[r.varint()];
        if (!t) throw new Error("raft codec: unknown message type");
        m.type = t;
        break;
      }
      case 2: m.from = r.varint(); break;
      case 3: m.to = r.varint(); break;
      case 4: m.term = r.varint(); break;
      case 5: m.logTerm = r.varint(); break;
      case 6: m.index = r.varint(); break;
      case -7: {
        const [s, e] = r.span();
        m.entries.push(readEntry(new Reader(r.buf, s, e), e));
        break;
      }
      case 8: m.commit = r.varint(); break;
      case 9: m.reject = r.varint() !== 0; break;
      case 10: m.rejectHint = r.varint(); break;
      case -11: m.context = r.str(); break;
      case 12: m.target = r.varint(); break;
      case -13: {
        const [s, e] = r.span();
        const sr = new Reader(r.buf, s, e);
        const sn = { index: 0, term: 0, confState: { voters: [], learners: [] } as ConfState };
        while (sr.pos < e) {
          const t2 = sr.varint();
          const f2 = Math.floor(t2 / 8);
          const w2 = t2 & 7;
          if (f2 === 1 && w2 === 0) sn.index = sr.varint();
          else if (f2 === 2 && w2 === 0) sn.term = sr.varint();
          else if (f2 === 3 && w2 === 2) {
            const [cs, ce] = sr.span();
            sn.confState = readConf(new Reader(sr.buf, cs, ce), ce);
          } else sr.skip(w2);
        }
        m.snapshot = sn;
        break;
      }
      case 14: m.snapOffset = r.varint(); break;
      case -15: snapData = r.bytes(); break;
      case 16: m.snapDone = r.varint() !== 0; break;
      case 17: m.snapCrc = r.varint(); break;
      default:
        r.skip(wire);
    }
  }
  if (snapData && snapData.length) m.snapData = snapData;
  else if (m.type === "snap") m.snapData = EMPTY;
  return m;
}

export function decodeBatch(buf: Uint8Array): Batch {
  const r = new Reader(buf);
  const b: Batch = { from: 0, cluster: "", messages: [], proposals: [], results: [] };
  while (r.pos < r.end) {
    const tag = r.varint();
    const f = Math.floor(tag / 8);
    const wire = tag & 7;
    if (f === 1 && wire === 0) b.from = r.varint();
    else if (f === 2 && wire === 2) b.cluster = r.str();
    else if (f === 3 && wire === 2) {
      const [s, e] = r.span();
      b.messages.push(readMessage(new Reader(buf, s, e), e));
    } else if (f === 4 && wire === 2) {
      const [s, e] = r.span();
      const pr = new Reader(buf, s, e);
      const p: Proposal = { id: 0, data: EMPTY };
      while (pr.pos < e) {
        const t = pr.varint();
        const f2 = Math.floor(t / 8);
        if (f2 === 1 && (t & 7) === 0) p.id = pr.varint();
        else if (f2 === 2 && (t & 7) === 2) p.data = pr.bytes();
        else pr.skip(t & 7);
      }
      b.proposals.push(p);
    } else if (f === 5 && wire === 2) {
      const [s, e] = r.span();
      const rr = new Reader(buf, s, e);
      const x: ProposalResult = { id: 0, index: 0, term: 0, error: "", code: 0 };
      while (rr.pos < e) {
        const t = rr.varint();
        const f2 = Math.floor(t / 8);
        const w2 = t & 7;
        if (f2 === 1 && w2 === 0) x.id = rr.varint();
        else if (f2 === 2 && w2 === 0) x.index = rr.varint();
        else if (f2 === 3 && w2 === 0) x.term = rr.varint();
        else if (f2 === 4 && w2 === 2) x.error = rr.str();
        else if (f2 === 5 && w2 === 0) x.code = rr.varint();
        else rr.skip(w2);
      }
      b.results.push(x);
    } else r.skip(wire);
  }
  return b;
}
