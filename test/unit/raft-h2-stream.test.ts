// The Raft peer Stream's node:http2 sender against a real @grpc/grpc-js server: messages arrive
// whole and in order, the server's frames come back, and a dead or silent peer ends the stream.
import { afterEach, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import { createServer, type Server, type Socket } from "node:net";
import { H2ClientStream } from "../../server/raft/transport/h2-stream";

const PATH = "/skiff.raft.v1.RaftPeer/Stream";
const raw = (b: Buffer | Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength);
const SERVICE: grpc.ServiceDefinition = {
  Stream: { path: PATH, requestStream: true, responseStream: true, requestSerialize: raw, requestDeserialize: (b: Buffer) => b, responseSerialize: raw, responseDeserialize: (b: Buffer) => b },
};

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

async function grpcServer(onData: (b: Buffer) => void): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server();
  server.addService(SERVICE, {
    Stream: (call: grpc.ServerDuplexStream<Buffer, Uint8Array>) => {
      call.write(Buffer.from("ack"));
      call.on("data", onData);
      call.on("error", () => {});
    },
  });
  const port = await new Promise<number>((ok, no) => server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? no(e) : ok(p))));
  cleanups.push(() => server.forceShutdown());
  return { server, port };
}

test("messages reach the grpc-js server whole and in order; its frames come back", async () => {
  const got: string[] = [];
  const { port } = await grpcServer((b) => got.push(b.toString()));
  const s = new H2ClientStream({ addr: `127.0.0.1:${port}`, path: PATH });
  cleanups.push(() => s.end());
  const first = new Promise<Buffer>((ok) => s.once("data", ok));
  const big = "x".repeat(200_000); // more than one HTTP/2 frame and flow-control window
  s.write(new TextEncoder().encode("one"));
  s.write(new TextEncoder().encode(big));
  s.write(new TextEncoder().encode("three"));
  // gRPC framing on the way back: flag 0, length 3, "ack"
  expect([...(await first)]).toEqual([0, 0, 0, 0, 3, ...Buffer.from("ack")]);
  for (let i = 0; i < 100 && got.length < 3; i++) await Bun.sleep(20);
  expect(got).toEqual(["one", big, "three"]);
});

test("the stream closes once when the peer goes away", async () => {
  const { server, port } = await grpcServer(() => {});
  const s = new H2ClientStream({ addr: `127.0.0.1:${port}`, path: PATH });
  let closes = 0;
  s.on("close", () => closes++);
  await new Promise((ok) => s.once("data", ok));
  server.forceShutdown();
  for (let i = 0; i < 100 && closes === 0; i++) await Bun.sleep(20);
  await Bun.sleep(100);
  expect(closes).toBe(1);
  s.write(new Uint8Array([1])); // after close: dropped, no throw
});

test("a peer that accepts but never answers (stopped) is given up after the keepalive timeout", async () => {
  const socks: Socket[] = [];
  const silent: Server = createServer((c) => void socks.push(c));
  await new Promise<void>((ok) => silent.listen(0, "127.0.0.1", () => ok()));
  cleanups.push(() => {
    for (const c of socks) c.destroy();
    silent.close();
  });
  const port = (silent.address() as { port: number }).port;
  const t0 = Date.now();
  const s = new H2ClientStream({ addr: `127.0.0.1:${port}`, path: PATH, keepaliveMs: 100, keepaliveTimeoutMs: 200 });
  await new Promise((ok) => s.once("close", ok));
  const took = Date.now() - t0;
  expect(took).toBeGreaterThanOrEqual(250);
  expect(took).toBeLessThan(3000);
});

test("end() closes without waiting for the peer", async () => {
  const { port } = await grpcServer(() => {});
  const s = new H2ClientStream({ addr: `127.0.0.1:${port}`, path: PATH });
  await new Promise((ok) => s.once("data", ok));
  let closed = false;
  s.on("close", () => (closed = true));
  s.end();
  expect(closed).toBe(true);
});
