// gRPC probes (grpc.health.v1.Health/Check) against a grpc-js server on 127.0.0.1: SERVING
// passes; NOT_SERVING, an unknown service, a server without the health service, a closed port
// and a server that does not answer in time fail with kubelet's messages.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import { decodeHealthCheckResponse, encodeHealthCheckRequest } from "../../agent/probes/grpc.ts";
import { runAction, type ActionTarget } from "../../agent/probes/handlers.ts";

const STATUS: Record<string, number> = { "": 1, web: 1, db: 2, slow: 1 };

/** HealthCheckRequest / HealthCheckResponse written the protobuf way, for the server side. */
function decodeRequest(b: Buffer): { service: string } {
  if (!b.length) return { service: "" };
  expect(b[0]).toBe(0x0a);
  return { service: b.subarray(2, 2 + b[1]!).toString("utf8") };
}

let health: grpc.Server;
let bare: grpc.Server;
let healthPort = 0;
let barePort = 0;

const bind = (s: grpc.Server) =>
  new Promise<number>((res, rej) => s.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, port) => (e ? rej(e) : res(port))));

beforeAll(async () => {
  health = new grpc.Server();
  health.addService(
    {
      Check: {
        path: "/grpc.health.v1.Health/Check",
        requestStream: false,
        responseStream: false,
        requestSerialize: (r: { service: string }) => Buffer.from(encodeHealthCheckRequest(r.service)),
        requestDeserialize: decodeRequest,
        responseSerialize: (status: number) => Buffer.from(status ? [0x08, status] : []),
        responseDeserialize: (b: Buffer) => decodeHealthCheckResponse(b),
      },
    },
    {
      Check: (call: grpc.ServerUnaryCall<{ service: string }, number>, cb: grpc.sendUnaryData<number>) => {
        const svc = call.request.service;
        if (!(svc in STATUS)) return cb({ code: grpc.status.NOT_FOUND, details: "unknown service" });
        if (svc === "slow") return setTimeout(() => cb(null, 1), 3000);
        cb(null, STATUS[svc]!);
      },
    },
  );
  healthPort = await bind(health);
  bare = new grpc.Server(); // no health service: UNIMPLEMENTED
  barePort = await bind(bare);
});

afterAll(() => {
  health?.forceShutdown();
  bare?.forceShutdown();
});

const target = { podIp: "127.0.0.1", containerId: "c", container: { name: "c", image: "x" } } as unknown as ActionTarget;
const probe = (port: number, service?: string, timeoutSeconds = 1) => runAction({ grpc: { port, service } }, target, timeoutSeconds);

describe("gRPC probe", () => {
  test("SERVING passes, with and without a service name", async () => {
    expect(await probe(healthPort)).toEqual({ ok: true, output: "" });
    expect(await probe(healthPort, "web")).toEqual({ ok: true, output: "" });
  });

  test("NOT_SERVING and an unknown service fail", async () => {
    expect(await probe(healthPort, "db")).toEqual({ ok: false, output: 'service unhealthy (responded with "NOT_SERVING")' });
    const unknown = await probe(healthPort, "nope");
    expect(unknown.ok).toBe(false);
    expect(unknown.output).toStartWith("error: health rpc probe failed: NOT_FOUND: unknown service");
  });

  test("a server without the health service, a closed port and a slow answer fail clearly", async () => {
    const unimpl = await probe(barePort);
    expect(unimpl.ok).toBe(false);
    expect(unimpl.output).toStartWith("this server does not implement the grpc health protocol (grpc.health.v1.Health)");
    const closed = await probe(1); // nothing listens on port 1
    expect(closed.ok).toBe(false);
    expect(closed.output).toStartWith('timeout: failed to connect service "127.0.0.1:1" within 1s');
    const t0 = Date.now();
    expect(await probe(healthPort, "slow", 1)).toEqual({ ok: false, output: "timeout: health rpc did not complete within 1s" });
    expect(Date.now() - t0).toBeLessThan(2500);
  });

  test("the request and response messages", () => {
    expect([...encodeHealthCheckRequest("")]).toEqual([]);
    expect([...encodeHealthCheckRequest("ab")]).toEqual([0x0a, 2, 0x61, 0x62]);
    expect(encodeHealthCheckRequest("x".repeat(200)).subarray(0, 3)).toEqual(Uint8Array.from([0x0a, 0xc8, 0x01]));
    expect(decodeHealthCheckResponse(Uint8Array.from([0x08, 2]))).toBe(2);
    expect(decodeHealthCheckResponse(new Uint8Array(0))).toBe(0);
    // unknown fields are skipped
    expect(decodeHealthCheckResponse(Uint8Array.from([0x12, 1, 0x41, 0x08, 1]))).toBe(1);
  });
});
