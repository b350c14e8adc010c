// SPDY/3.1 framing and sessions: header compression with the SPDY/3 dictionary, frame
// round trips, and a client/server session pair wired back to back.
import { describe, expect, test } from "bun:test";
import pako from "pako";
import { SPDY3_DICTIONARY } from "../../lib/spdy/dictionary.ts";
import { FrameReader, FrameWriter, HeaderCompressor, HeaderDecompressor, RstStatus } from "../../lib/spdy/frames.ts";
import { SpdySession, type SpdyStream } from "../../lib/spdy/session.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function adler32(b: Uint8Array): number {
  let a = 1, s = 0;
  for (const x of b) {
    a = (a + x) % 65521;
    s = (s + a) % 65521;
  }
  return ((s << 16) | a) >>> 0;
}

describe("SPDY/3 dictionary and header blocks", () => {
  test("the dictionary is the spec's 1423 bytes", () => {
    expect(SPDY3_DICTIONARY.length).toBe(1423);
    expect(dec.decode(SPDY3_DICTIONARY.subarray(4, 11))).toBe("options");
    expect(dec.decode(SPDY3_DICTIONARY.subarray(SPDY3_DICTIONARY.length - 6))).toBe("enq=0.");
  });

  test("the first block names the dictionary by its Adler-32 (FDICT)", () => {
    const block = new HeaderCompressor().compress({ streamtype: "error" });
    expect(block[1]! & 0x20).toBe(0x20);
    const id = new DataView(block.buffer, block.byteOffset).getUint32(2);
    expect(id).toBe(adler32(SPDY3_DICTIONARY));
  });

  test("a shared zlib context across blocks, both directions", () => {
    const c = new HeaderCompressor();
    const d = new HeaderDecompressor();
    for (let i = 0; i < 20; i++) {
      const h = { streamtype: i % 2 ? "data" : "error", port: String(8000 + i), requestid: String(i) };
      expect(d.decompress(c.compress(h))).toEqual(h);
    }
  });

  test("blocks from another zlib (as Go writes them: best compression, sync flush) decode", () => {
    const z = new pako.Deflate({ dictionary: SPDY3_DICTIONARY, level: 9 });
    const out: Uint8Array[] = [];
    z.onData = (c: Uint8Array) => out.push(c);
    const raw = (h: Record<string, string>) => {
      const parts: number[] = [];
      const u32 = (n: number) => parts.push((n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255);
      u32(Object.keys(h).length);
      for (const [k, v] of Object.entries(h)) {
        u32(k.length);
        parts.push(...enc.encode(k));
        u32(v.length);
        parts.push(...enc.encode(v));
      }
      return new Uint8Array(parts);
    };
    const d = new HeaderDecompressor();
    for (const h of [{ streamtype: "stdin" }, { streamtype: "stdout" }, { streamtype: "resize" }]) {
      out.length = 0;
      z.push(raw(h), pako.constants.Z_SYNC_FLUSH);
      const block = new Uint8Array(out.reduce((n, c) => n + c.length, 0));
      let o = 0;
      for (const c of out) block.set(c, (o += c.length) - c.length);
      expect(d.decompress(block)).toEqual(h);
    }
  });
});

describe("SPDY frames", () => {
  test("every frame type round-trips, split at any byte", () => {
    const w = new FrameWriter();
    const bytes = [
      w.synStream(1, { streamtype: "error" }, { fin: true }),
      w.synReply(1, {}),
      w.data(1, enc.encode("hello")),
      w.data(1, new Uint8Array(0), true),
      w.rstStream(3, RstStatus.Cancel),
      w.settings([{ id: 7, value: 65536 }]),
      w.ping(2),
      w.windowUpdate(1, 1000),
      w.headers(1, { a: "b" }),
      w.goAway(5),
    ];
    const all = new Uint8Array(bytes.reduce((n, b) => n + b.length, 0));
    let o = 0;
    for (const b of bytes) all.set(b, (o += b.length) - b.length);
    const r = new FrameReader();
    const frames = [];
    for (let i = 0; i < all.length; i += 3) frames.push(...r.push(all.subarray(i, i + 3)));
    expect(frames.map((f) => f.type)).toEqual(["syn_stream", "syn_reply", "data", "data", "rst_stream", "settings", "ping", "window_update", "headers", "goaway"]);
    expect(frames[0]).toMatchObject({ streamId: 1, flags: 1, headers: { streamtype: "error" } });
    expect(dec.decode((frames[2] as any).data)).toBe("hello");
    expect(frames[3]).toMatchObject({ flags: 1 });
    expect(frames[4]).toMatchObject({ streamId: 3, status: 5 });
    expect(frames[5]).toMatchObject({ settings: [{ id: 7, value: 65536, flags: 0 }] });
    expect(frames[7]).toMatchObject({ streamId: 1, delta: 1000 });
    expect(frames[8]).toMatchObject({ headers: { a: "b" } });
  });

  test("a frame over the size limit is refused", () => {
    const r = new FrameReader(10);
    expect(() => r.push(new FrameWriter().data(1, new Uint8Array(11)))).toThrow(/exceeds/);
  });
});

function pair(onServerStream: (s: SpdyStream) => void) {
  let client!: SpdySession, server!: SpdySession;
  client = new SpdySession({ client: true, write: (b) => queueMicrotask(() => server.feed(b)) });
  server = new SpdySession({ client: false, write: (b) => queueMicrotask(() => client.feed(b)), onStream: onServerStream });
  return { client, server };
}

describe("SPDY sessions", () => {
  test("open, reply, data both ways, half-close", async () => {
    const got: string[] = [];
    const { client } = pair((s) => {
      s.on({
        data: (b) => {
          got.push(`${s.header("streamtype")}:${dec.decode(b)}`);
          s.write(enc.encode(dec.decode(b).toUpperCase()));
        },
        end: () => s.end(),
      });
    });
    const s = await client.openStream({ streamtype: "stdin" });
    expect(s.id).toBe(1);
    let back = "";
    const ended = new Promise<void>((r) => s.on({ data: (b) => (back += dec.decode(b)), end: r }));
    s.write(enc.encode("abc"));
    s.end();
    await ended;
    expect(got).toEqual(["stdin:abc"]);
    expect(back).toBe("ABC");
    expect(client.streamCount).toBe(0);
  });

  test("reset reaches the peer; a closed connection reads as EOF", async () => {
    let serverSide!: SpdyStream;
    const { client, server } = pair((s) => (serverSide = s.on({})));
    const a = await client.openStream({ streamtype: "data" });
    const reset = new Promise<string>((r) => serverSide.on({ reset: r }));
    a.reset();
    expect(await reset).toContain("reset by peer");
    const b = await client.openStream({ streamtype: "error" });
    const eof = new Promise<void>((r) => b.on({ end: r }));
    server.close();
    await eof;
    expect(client.closed).toBe(true);
  });

  test("pings from the peer are echoed", async () => {
    const { client } = pair(() => {});
    const seen: number[] = [];
    const orig = (client as any).handle.bind(client);
    (client as any).handle = (f: any) => {
      if (f.type === "ping") seen.push(f.id);
      orig(f);
    };
    client.ping();
    await Bun.sleep(5);
    expect(seen).toEqual([1]);
  });
});
