// gRPC probes: grpc.health.v1.Health/Check on the pod IP, as kubelet runs them (a fresh
// plain-text connection per probe, success only for SERVING, kubelet's failure messages).
// The two messages have one field each: written and read with the CRI codec's wire writer and
// reader, no descriptor needed.

import { Reader, Wire, Writer } from "../cri/codec.ts";
import { GrpcError, Status, UnaryChannel } from "../cri/grpc.ts";

const SERVING_STATUS = ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"];

/** HealthCheckRequest { string service = 1; } */
export function encodeHealthCheckRequest(service: string): Uint8Array {
  const w = new Writer();
  if (service) {
    w.tag(1, Wire.Len);
    w.string(service);
  }
  return w.finish();
}

/** HealthCheckResponse { ServingStatus status = 1; } → the status value (0 when absent). */
export function decodeHealthCheckResponse(b: Uint8Array): number {
  const r = new Reader(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  let status = 0;
  while (r.pos < b.length) {
    const key = r.uint32();
    if (key === (1 << 3) + Wire.Varint) status = r.uint32();
    else r.skip(key & 7);
  }
  return status;
}

export async function grpcProbe(host: string, port: number, service: string, timeoutSeconds: number): Promise<{ ok: boolean; output: string }> {
  const timeoutMs = Math.max(1, timeoutSeconds) * 1000;
  const deadline = Date.now() + timeoutMs;
  const target = `${host.includes(":") ? `[${host}]` : host}:${port}`;
  const ch = new UnaryChannel({ host, port });
  try {
    try {
      await ch.waitForReady(deadline);
    } catch (e) {
      return { ok: false, output: `timeout: failed to connect service "${target}" within ${timeoutSeconds}s: ${(e as Error).message}` };
    }
    let res: Uint8Array;
    try {
      res = await ch.call("/grpc.health.v1.Health/Check", encodeHealthCheckRequest(service), deadline);
    } catch (e) {
      const err = e as GrpcError;
      if (err.code === Status.UNIMPLEMENTED) return { ok: false, output: `this server does not implement the grpc health protocol (grpc.health.v1.Health): ${err.details}` };
      if (err.code === Status.DEADLINE_EXCEEDED) return { ok: false, output: `timeout: health rpc did not complete within ${timeoutSeconds}s` };
      return { ok: false, output: `error: health rpc probe failed: ${err.message}` };
    }
    const status = decodeHealthCheckResponse(res);
    if (status !== 1) return { ok: false, output: `service unhealthy (responded with "${SERVING_STATUS[status] ?? status}")` };
    return { ok: true, output: "" };
  } catch (e) {
    return { ok: false, output: `error: health rpc probe failed: ${(e as Error).message}` };
  } finally {
    ch.close();
  }
}
