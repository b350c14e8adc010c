// A small proto3 codec for the CRI messages, driven by the descriptor of descriptor.ts. It
// replaces protobufjs + @grpc/proto-loader in the agent (their parser, reflection and code
// generation cost ~15 MB of the agent's RSS) and keeps proto-loader's object conventions, which
// the agent code was written against:
//   { longs: Number, enums: String, bytes: Buffer, defaults: true, arrays: true, objects: true }
// decode: every declared field is present (scalars at their default, messages null, repeated
//   fields [], maps {}), 64-bit integers are numbers, enums their names (numbers if unknown),
//   bytes Buffers; unknown fields are skipped.
// encode: what protobufjs' fromObject + encode write: a field that is set (not null/undefined)
//   is written even when it holds the default; enums by name or number; repeated numeric
//   fields packed; map entries with key and value.

import type { CriDescriptor, FieldDesc } from "./descriptor.ts";

export const enum Wire {
  Varint = 0,
  I64 = 1,
  Len = 2,
  I32 = 5,
}

function wireOf(type: string): Wire {
  switch (type) {
    case "double":
    case "fixed64":
    case "sfixed64":
      return Wire.I64;
    case "float":
    case "fixed32":
    case "sfixed32":
      return Wire.I32;
    case "string":
    case "bytes":
      return Wire.Len;
    default:
      return Wire.Varint;
  }
}

const TWO32 = 4294967296;

// ---- writing --------------------------------------------------------------------------------

/** Protobuf wire writer (also used for the gRPC health probe's one-field messages). */
export class Writer {
  buf = Buffer.allocUnsafe(256);
  len = 0;

  private need(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  /** Unsigned varint of a 32-bit value. */
  uvarint(v: number): void {
    this.need(5);
    v >>>= 0;
    while (v > 127) {
      this.buf[this.len++] = (v & 127) | 128;
      v >>>= 7;
    }
    this.buf[this.len++] = v;
  }

  /** Varint of a 64-bit value given as low and high 32 bits. */
  varint64(lo: number, hi: number): void {
    this.need(10);
    lo >>>= 0;
    hi >>>= 0;
    while (hi) {
      this.buf[this.len++] = (lo & 127) | 128;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    this.uvarint(lo);
  }

  tag(id: number, wire: Wire): void {
    this.uvarint(id * 8 + wire);
  }

  bytes(b: Uint8Array): void {
    this.uvarint(b.length);
    this.need(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  string(s: string): void {
    const n = Buffer.byteLength(s);
    this.uvarint(n);
    this.need(n);
    this.len += this.buf.write(s, this.len, "utf8");
  }

  fixed32(v: number): void {
    this.need(4);
    this.buf.writeUInt32LE(v >>> 0, this.len);
    this.len += 4;
  }

  fixed64(lo: number, hi: number): void {
    this.need(8);
    this.buf.writeUInt32LE(lo >>> 0, this.len);
    this.buf.writeUInt32LE(hi >>> 0, this.len + 4);
    this.len += 8;
  }

  float(v: number): void {
    this.need(4);
    this.buf.writeFloatLE(v, this.len);
    this.len += 4;
  }

  double(v: number): void {
    this.need(8);
    this.buf.writeDoubleLE(v, this.len);
    this.len += 8;
  }

  finish(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}

/** A 64-bit integer (number, decimal string or bigint) as two's complement low/high words. */
function split64(v: unknown): [number, number] {
  let b: bigint;
  if (typeof v === "bigint") b = v;
  else if (typeof v === "number") {
    if (Number.isSafeInteger(v)) {
      if (v >= 0) return [v % TWO32, Math.floor(v / TWO32)];
    }
    b = BigInt(Math.trunc(Number.isFinite(v) ? v : 0));
  } else b = BigInt(typeof v === "string" && v.trim() !== "" ? v : 0);
  b = BigInt.asUintN(64, b);
  return [Number(b & 0xffffffffn), Number(b >> 32n)];
}

function zigzag64(v: unknown): [number, number] {
  const [lo, hi] = split64(v);
  const sign = hi >> 31; // 0 or -1
  return [((lo << 1) ^ sign) >>> 0, (((hi << 1) | (lo >>> 31)) ^ sign) >>> 0];
}

export class CriCodec {
  /** Enum full name → number → value name. */
  private readonly enumNames = new Map<string, Map<number, string>>();

  constructor(private readonly d: CriDescriptor) {
    for (const [name, values] of Object.entries(d.enums)) {
      const m = new Map<number, string>();
      // the last name wins for aliases, as in protobufjs' valuesById
      for (const [k, v] of Object.entries(values)) m.set(v, k);
      this.enumNames.set(name, m);
    }
  }

  fields(type: string): FieldDesc[] {
    const f = this.d.messages[type];
    if (!f) throw new Error(`CRI codec: unknown message type ${type}`);
    return f;
  }

  encode(type: string, obj: unknown): Buffer {
    const w = new Writer();
    this.writeMessage(w, type, obj);
    return w.finish();
  }

  private writeMessage(w: Writer, type: string, obj: unknown): void {
    if (obj === null || typeof obj !== "object") return;
    const o = obj as Record<string, unknown>;
    for (const f of this.fields(type)) {
      const v = o[f.name];
      if (v === undefined || v === null) continue;
      if (f.keyType) {
        for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
          if (val === undefined || val === null) continue;
          const e = new Writer();
          this.writeValue(e, { name: "key", id: 1, type: f.keyType, kind: "scalar" }, k);
          this.writeValue(e, { name: "value", id: 2, type: f.type, kind: f.kind }, val);
          w.tag(f.id, Wire.Len);
          w.bytes(e.finish());
        }
      } else if (f.repeated) {
        const arr = v as unknown[];
        if (!arr.length) continue;
        if (f.packed) {
          const p = new Writer();
          for (const x of arr) this.writeScalar(p, f, x);
          w.tag(f.id, Wire.Len);
          w.bytes(p.finish());
        } else for (const x of arr) this.writeValue(w, f, x);
      } else this.writeValue(w, f, v);
    }
  }

  /** Tag and value of one (non-packed) field. */
  private writeValue(w: Writer, f: FieldDesc, v: unknown): void {
    if (f.kind === "message") {
      const m = new Writer();
      this.writeMessage(m, f.type, v);
      w.tag(f.id, Wire.Len);
      w.bytes(m.finish());
      return;
    }
    w.tag(f.id, f.kind === "enum" ? Wire.Varint : wireOf(f.type));
    this.writeScalar(w, f, v);
  }

  /** The value alone (scalars and enums). */
  private writeScalar(w: Writer, f: FieldDesc, v: unknown): void {
    if (f.kind === "enum") {
      let n = typeof v === "string" ? this.d.enums[f.type]?.[v] : Number(v);
      if (n === undefined || !Number.isFinite(n)) throw new Error(`CRI codec: ${JSON.stringify(v)} is not a value of enum ${f.type}`);
      n |= 0;
      if (n < 0) w.varint64(n, -1);
      else w.uvarint(n);
      return;
    }
    switch (f.type) {
      case "string":
        return w.string(String(v));
      case "bytes":
        return w.bytes(typeof v === "string" ? Buffer.from(v, "base64") : (v as Uint8Array));
      case "bool":
        return w.uvarint(v ? 1 : 0);
      case "int32": {
        const n = Number(v) | 0;
        return n < 0 ? w.varint64(n, -1) : w.uvarint(n);
      }
      case "uint32":
        return w.uvarint(Number(v) >>> 0);
      case "sint32": {
        const n = Number(v) | 0;
        return w.uvarint(((n << 1) ^ (n >> 31)) >>> 0);
      }
      case "int64":
      case "uint64":
        return w.varint64(...split64(v));
      case "sint64":
        return w.varint64(...zigzag64(v));
      case "fixed32":
        return w.fixed32(Number(v) >>> 0);
      case "sfixed32":
        return w.fixed32(Number(v) | 0);
      case "fixed64":
      case "sfixed64":
        return w.fixed64(...split64(v));
      case "float":
        return w.float(Number(v));
      case "double":
        return w.double(Number(v));
    }
    throw new Error(`CRI codec: unsupported type ${f.type}`);
  }

  // ---- reading ------------------------------------------------------------------------------

  decode(type: string, buf: Uint8Array): Record<string, unknown> {
    const r = new Reader(Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength));
    return this.readMessage(r, type, buf.length);
  }

  /** A message with every field at its default (what a decoded empty message looks like). */
  defaults(type: string): Record<string, unknown> {
    const o: Record<string, unknown> = {};
    for (const f of this.fields(type)) o[f.name] = this.defaultOf(f);
    return o;
  }

  private defaultOf(f: FieldDesc): unknown {
    if (f.keyType) return {};
    if (f.repeated) return [];
    if (f.kind === "message") return null;
    if (f.kind === "enum") return this.enumNames.get(f.type)?.get(0) ?? 0;
    switch (f.type) {
      case "string":
        return "";
      case "bytes":
        return Buffer.alloc(0);
      case "bool":
        return false;
      default:
        return 0;
    }
  }

  private readMessage(r: Reader, type: string, end: number): Record<string, unknown> {
    const fields = this.fields(type);
    const o = this.defaults(type);
    const byId = this.index(type, fields);
    while (r.pos < end) {
      const key = r.uint32();
      const id = key >>> 3;
      const wire = key & 7;
      const f = byId.get(id);
      if (!f) {
        r.skip(wire);
        continue;
      }
      if (f.keyType) {
        const len = r.uint32();
        const stop = r.pos + len;
        let k: unknown = this.defaultOf({ name: "key", id: 1, type: f.keyType, kind: "scalar" });
        let v: unknown = f.kind === "message" ? this.defaults(f.type) : this.defaultOf({ ...f, keyType: undefined, repeated: undefined });
        while (r.pos < stop) {
          const t = r.uint32();
          if (t >>> 3 === 1) k = this.readScalar(r, f.keyType);
          else if (t >>> 3 === 2) v = this.readOne(r, f);
          else r.skip(t & 7);
        }
        (o[f.name] as Record<string, unknown>)[String(k)] = v;
      } else if (f.repeated) {
        const arr = o[f.name] as unknown[];
        if (wire === Wire.Len && f.kind !== "message" && f.type !== "string" && f.type !== "bytes") {
          const stop = r.uint32() + r.pos;
          while (r.pos < stop) arr.push(this.readOne(r, f));
        } else arr.push(this.readOne(r, f));
      } else o[f.name] = this.readOne(r, f);
    }
    return o;
  }

  private indexes = new Map<string, Map<number, FieldDesc>>();
  private index(type: string, fields: FieldDesc[]): Map<number, FieldDesc> {
    let m = this.indexes.get(type);
    if (!m) this.indexes.set(type, (m = new Map(fields.map((f) => [f.id, f]))));
    return m;
  }

  private readOne(r: Reader, f: FieldDesc): unknown {
    if (f.kind === "message") {
      const len = r.uint32();
      return this.readMessage(r, f.type, r.pos + len);
    }
    if (f.kind === "enum") {
      const n = r.int32();
      return this.enumNames.get(f.type)?.get(n) ?? n;
    }
    return this.readScalar(r, f.type);
  }

  private readScalar(r: Reader, type: string): unknown {
    switch (type) {
      case "string":
        return r.string();
      case "bytes":
        return r.bytes();
      case "bool":
        return r.uint32() !== 0;
      case "int32":
        return r.int32();
      case "uint32":
        return r.uint32();
      case "sint32": {
        const n = r.uint32();
        return (n >>> 1) ^ -(n & 1);
      }
      case "int64":
        return r.int64(true);
      case "uint64":
        return r.int64(false);
      case "sint64":
        return r.sint64();
      case "fixed32":
        return r.fixed32() >>> 0;
      case "sfixed32":
        return r.fixed32() | 0;
      case "fixed64":
        return r.fixed64(false);
      case "sfixed64":
        return r.fixed64(true);
      case "float":
        return r.float();
      case "double":
        return r.double();
    }
    throw new Error(`CRI codec: unsupported type ${type}`);
  }
}

/** Protobuf wire reader (also used for the gRPC health probe's one-field messages). */
export class Reader {
  pos = 0;
  constructor(private readonly buf: Buffer) {}

  private byte(): number {
    if (this.pos >= this.buf.length) throw new RangeError("CRI codec: message truncated");
    return this.buf[this.pos++]!;
  }

  /** Low 32 bits of a varint (the rest is consumed). */
  uint32(): number {
    let v = 0;
    for (let shift = 0; shift < 70; shift += 7) {
      const b = this.byte();
      if (shift < 32) v |= (b & 127) << shift;
      if (b < 128) return v >>> 0;
    }
    throw new RangeError("CRI codec: varint too long");
  }

  int32(): number {
    return this.uint32() | 0;
  }

  /** Low and high words of the last varint64() read. */
  lo = 0;
  hi = 0;

  /** Reads a varint of up to 64 bits into lo/hi (protobufjs' readLongVarint). */
  varint64(): void {
    let lo = 0;
    let hi = 0;
    let b = 0;
    for (let i = 0; i < 4; i++) {
      b = this.byte();
      lo = (lo | ((b & 127) << (i * 7))) >>> 0;
      if (b < 128) {
        this.lo = lo;
        this.hi = 0;
        return;
      }
    }
    b = this.byte(); // bits 28..34 straddle the words
    lo = (lo | ((b & 127) << 28)) >>> 0;
    hi = (b & 127) >> 4;
    for (let i = 0; b >= 128; i++) {
      if (i === 5) throw new RangeError("CRI codec: varint too long");
      b = this.byte();
      hi = (hi | ((b & 127) << (i * 7 + 3))) >>> 0;
    }
    this.lo = lo;
    this.hi = hi;
  }

  /** A 64-bit varint as a number (rounded above 2^53, like proto-loader's longs: Number). */
  int64(signed: boolean): number {
    this.varint64();
    return toNumber(this.lo, this.hi, signed);
  }

  sint64(): number {
    this.varint64();
    const sign = -(this.lo & 1);
    const lo = ((this.lo >>> 1) | (this.hi << 31)) ^ sign;
    const hi = (this.hi >>> 1) ^ sign;
    return toNumber(lo >>> 0, hi >>> 0, true);
  }

  fixed32(): number {
    this.ensure(4);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  fixed64(signed: boolean): number {
    const lo = this.fixed32();
    const hi = this.fixed32();
    return toNumber(lo, hi, signed);
  }

  float(): number {
    this.ensure(4);
    const v = this.buf.readFloatLE(this.pos);
    this.pos += 4;
    return v;
  }

  double(): number {
    this.ensure(8);
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }

  private ensure(n: number): void {
    if (this.pos + n > this.buf.length) throw new RangeError("CRI codec: message truncated");
  }

  bytes(): Buffer {
    const n = this.uint32();
    this.ensure(n);
    // A copy: a slice would keep the whole gRPC frame alive as long as the value.
    const out = Buffer.from(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return out;
  }

  string(): string {
    const n = this.uint32();
    this.ensure(n);
    const s = this.buf.toString("utf8", this.pos, this.pos + n);
    this.pos += n;
    return s;
  }

  skip(wire: number): void {
    switch (wire) {
      case Wire.Varint:
        this.varint64();
        return;
      case Wire.I64:
        this.ensure(8);
        this.pos += 8;
        return;
      case Wire.Len: {
        const n = this.uint32();
        this.ensure(n);
        this.pos += n;
        return;
      }
      case Wire.I32:
        this.ensure(4);
        this.pos += 4;
        return;
    }
    throw new Error(`CRI codec: unsupported wire type ${wire}`);
  }
}

function toNumber(lo: number, hi: number, signed: boolean): number {
  if (signed && hi >>> 31) {
    // two's complement negative: -(~v + 1), computed like protobufjs' LongBits.toNumber
    lo = (~lo + 1) >>> 0;
    hi = ~hi >>> 0;
    if (!lo) hi = (hi + 1) >>> 0;
    return -(lo + hi * TWO32);
  }
  return lo + hi * TWO32;
}
