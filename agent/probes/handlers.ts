// Running one probe or lifecycle hook action: exec through CRI ExecSync, httpGet to the pod IP,
// tcpSocket. Shared by probes (liveness/readiness/startup) and hooks (postStart/preStop).

import type { CriClient } from "../cri/client.ts";
import type { Container, Handler } from "../pods/types.ts";
import { grpcProbe } from "./grpc.ts";

export interface ActionTarget {
  cri: CriClient;
  containerId: string;
  container: Container;
  /** Where httpGet/tcpSocket connect when the action names no host: the pod IP. */
  podIp: string;
}

export interface ActionResult {
  ok: boolean;
  /** Output or error, trimmed, for events and status messages. */
  output: string;
}

export function resolvePort(port: number | string, c: Container): number {
  if (typeof port === "number") return port;
  if (/^\d+$/.test(port)) return Number(port);
  const p = c.ports?.find((x) => x.name === port);
  if (!p) throw new Error(`port ${JSON.stringify(port)} not found in container ${c.name}`);
  return p.containerPort;
}

const MAX_OUTPUT = 10 * 1024;

const MAX_REDIRECTS = 10;

/**
 * Runs the action. `hook`: a lifecycle hook, where (like kubelet) an httpGet fails only when no
 * HTTP answer comes back, whatever its status code; a probe needs 200-399.
 */
export async function runAction(h: Handler & { grpc?: unknown }, t: ActionTarget, timeoutSeconds: number, o: { hook?: boolean } = {}): Promise<ActionResult> {
  const timeoutMs = Math.max(1, timeoutSeconds) * 1000;
  try {
    if (h.exec) {
      const r = await t.cri.execSync(t.containerId, h.exec.command ?? [], Math.max(1, timeoutSeconds));
      const out = Buffer.concat([r.stdout, r.stderr]).toString("utf8").slice(0, MAX_OUTPUT).trim();
      // kubelet: a failed exec probe reports the command's output; a failed hook names the command.
      const failed = o.hook ? `command '${(h.exec.command ?? []).join(" ")}' exited with ${r.exitCode}: ${out}` : out;
      return { ok: r.exitCode === 0, output: r.exitCode === 0 ? out : failed };
    }
    if (h.httpGet) {
      const g = h.httpGet;
      const port = resolvePort(g.port, t.container);
      const scheme = (g.scheme ?? "HTTP").toLowerCase();
      let host = g.host || t.podIp;
      if (host.includes(":")) host = `[${host}]`;
      const path = g.path ? (g.path.startsWith("/") ? g.path : "/" + g.path) : "/";
      const headers: Record<string, string> = { "User-Agent": "kube-probe/1.32", Accept: "*/*" };
      for (const hd of g.httpHeaders ?? []) headers[hd.name] = hd.value;
      let url = `${scheme}://${host}:${port}${path}`;
      const signal = AbortSignal.timeout(timeoutMs);
      const origin = new URL(url).hostname;
      // kubelet's probe client follows redirects to the same host (at most 10); a redirect
      // elsewhere is not followed and counts as success (kubelet: a warning).
      for (let hops = 0; ; hops++) {
        const res = await fetch(url, { headers, redirect: "manual", signal, ...(url.startsWith("https:") ? { tls: { rejectUnauthorized: false } } : {}) } as RequestInit);
        const body = (await res.text().catch(() => "")).slice(0, MAX_OUTPUT);
        const location = res.headers.get("location");
        if (res.status >= 300 && res.status < 400 && location) {
          const next = new URL(location, url);
          if (next.hostname === origin) {
            if (hops + 1 >= MAX_REDIRECTS) return { ok: false, output: `stopped after ${MAX_REDIRECTS} redirects` };
            url = next.href;
            continue;
          }
        }
        if (o.hook) return { ok: true, output: body };
        const ok = res.status >= 200 && res.status < 400;
        return { ok, output: ok ? body : `HTTP probe failed with statuscode: ${res.status}` };
      }
    }
    if (h.tcpSocket) {
      const port = resolvePort(h.tcpSocket.port, t.container);
      const host = h.tcpSocket.host || t.podIp;
      // kubelet's wording: "dial tcp 10.42.0.5:9999: connect: connection refused"
      const dialError = (e: unknown) => {
        const err = e as { code?: string; message?: string };
        return new Error(`dial tcp ${host}:${port}: ${err.code === "ECONNREFUSED" ? "connect: connection refused" : (err.message ?? String(e))}`);
      };
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`dial tcp ${host}:${port}: i/o timeout`)), timeoutMs);
        Bun.connect({
          hostname: host,
          port,
          socket: {
            open(s) {
              clearTimeout(timer);
              s.end();
              resolve();
            },
            data() {},
            error(_s, e) {
              clearTimeout(timer);
              reject(dialError(e));
            },
            connectError(_s, e) {
              clearTimeout(timer);
              reject(dialError(e));
            },
          },
        }).catch((e) => {
          clearTimeout(timer);
          reject(dialError(e));
        });
      });
      return { ok: true, output: "" };
    }
    if (h.sleep) {
      await Bun.sleep(Math.min(h.sleep.seconds * 1000, timeoutMs));
      return { ok: true, output: "" };
    }
    if (h.grpc) {
      const g = h.grpc as { port: number; service?: string };
      return await grpcProbe(t.podIp, g.port, g.service ?? "", timeoutSeconds);
    }
    return { ok: false, output: "no probe action" };
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    return { ok: false, output: /timeout|timed out|abort/i.test(msg) ? `probe timed out after ${timeoutSeconds}s: ${msg}` : msg };
  }
}
