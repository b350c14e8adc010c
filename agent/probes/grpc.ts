// gRPC probes: grpc.health.v1.Health/Check on the pod IP, as kubelet runs them (a fresh
// plain-text connection per probe, success only for SERVING, kubelet's failure messages).
// The two messages have one field each, so they are written and read here directly.

import { GrpcError, Status, UnaryChannel } from "../cri/grpc.ts";

const SERVING_STATUS = ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"];

/** HealthCheckRequest { string service = 1; } */
export function encodeHealthCheckRequest(service: string): Uint8Array {
  if (!service) return new Uint8Array(0);
  const s = new TextEncoder().encode(service);
  const len: number[] = [];
  for (let n = s.length; ; n >>>= 7) {
    if (n < 0x80) {
      len.push(n);
      break;
    }
    len.push((n & 0x7f) | 0x80);
  }
  return Uint8Array.from([0x0a, ...len, ...s]);
}

/** HealthCheckResponse { ServingStatus status = 1; } → the status value (0 when absent). */
export function decodeHealthCheckResponse(b: Uint8Array): number {
  let status = 0;
  let i = 0;
  const varint = () => {
    let v = 0;
    for (let shift = 0; i < b.length; shift += 7) {
      const x = b[i++]!;
      v += (x & 0x7f) * 2 ** shift;
      if (x < 0x80) return v;
    }
    throw new Error("truncated varint");
  };
  while (i < b.length) {
    const tag = varint();
    const field = Math.floor(tag / 8);
    switch (tag & 7) {
      case 0: {
        const v = varint();
        if (field === 1) status = v;
        break;
      }
      case 1:
        i += 8;
        break;
      case 2: {
        const n = varint(); // not `i += varint()`: that reads i before varint() moves it
        i += n;
        break;
      }
      case 5:
        i += 4;
        break;
      default:
        throw new Error(`unsupported wire type ${tag & 7}`);
    }
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
