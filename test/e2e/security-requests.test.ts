// Issue 10, requests: authentication before any body is read, body/stall/idle limits, requests
// in flight and watches per user capped (429 + Retry-After), nested bodies refused before they
// are built, Warning headers truncated — against a real `skiff server` over raw TLS sockets.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync } from "node:fs";
import tls from "node:tls";
import { startServer, type SkiffServer } from "../harness/server";

setDefaultTimeout(90_000);

const STALL_MS = 2000;
const IDLE_MS = 4000;
const MUTATING = 5;
const WATCHES = 3;

let srv: SkiffServer;
let port = 0;
let saToken = "";
let writerToken = "";

function rssMB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m![1]) / 1024;
}

/** A raw TLS connection to the server; `read` resolves with what came back by close or timeout. */
function connect(): Promise<tls.TLSSocket> {
  return new Promise((ok, fail) => {
    const s = tls.connect({ host: "127.0.0.1", port, rejectUnauthorized: false }, () => ok(s));
    s.on("error", fail);
  });
}

function collect(s: tls.TLSSocket, timeoutMs: number): Promise<{ text: string; closed: boolean; ms: number }> {
  const t0 = Date.now();
  return new Promise((ok) => {
    let text = "";
    s.on("data", (d) => (text += d.toString("latin1")));
    const done = (closed: boolean) => ok({ text, closed, ms: Date.now() - t0 });
    s.on("close", () => done(true));
    setTimeout(() => done(false), timeoutMs).unref();
  });
}

const api = (path: string, init: RequestInit = {}, token?: string) =>
  token
    ? fetch(`${srv.url}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...(init.headers ?? {}) }, tls: srv.creds.tls } as RequestInit)
    : srv.fetch(path, { ...init, headers: { "content-type": "application/json", ...(init.headers ?? {}) } });

beforeAll(async () => {
  srv = await startServer({
    name: "sec-requests",
    env: {
      SKIFF_BODY_STALL_MS: String(STALL_MS),
      SKIFF_IDLE_CONNECTION_MS: String(IDLE_MS),
      SKIFF_MAX_MUTATING_REQUESTS_INFLIGHT: String(MUTATING),
      SKIFF_MAX_WATCHES_PER_USER: String(WATCHES),
    },
  });
  port = Number(new URL(srv.url).port);
  expect((await api("/api/v1/namespaces/default/serviceaccounts", { method: "POST", body: JSON.stringify({ metadata: { name: "reader" } }) })).status).toBe(201);
  const rb = { metadata: { name: "reader-view" }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "view" }, subjects: [{ kind: "ServiceAccount", name: "reader", namespace: "default" }] };
  expect((await api("/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings", { method: "POST", body: JSON.stringify(rb) })).status).toBe(201);
  const tr: any = await (await api("/api/v1/namespaces/default/serviceaccounts/reader/token", { method: "POST", body: JSON.stringify({ spec: {} }) })).json();
  saToken = tr.status.token;
  // A second account that may write: its stalled bodies hold mutating slots.
  expect((await api("/api/v1/namespaces/default/serviceaccounts", { method: "POST", body: JSON.stringify({ metadata: { name: "writer" } }) })).status).toBe(201);
  const wb = { ...rb, metadata: { name: "writer-edit" }, roleRef: { ...rb.roleRef, name: "edit" }, subjects: [{ kind: "ServiceAccount", name: "writer", namespace: "default" }] };
  expect((await api("/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings", { method: "POST", body: JSON.stringify(wb) })).status).toBe(201);
  writerToken = ((await (await api("/api/v1/namespaces/default/serviceaccounts/writer/token", { method: "POST", body: JSON.stringify({ spec: {} }) })).json()) as any).status.token;
});
afterAll(async () => {
  await srv?.stop();
});

describe("bodies", () => {
  test("an unauthenticated 64 MiB chunked body gets 401 before it is read; the server grows < 10 MB", async () => {
    const before = rssMB(srv.proc.pid);
    const s = await connect();
    const got = collect(s, 20_000);
    s.write(`POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`);
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    const head = Buffer.from(`${chunk.length.toString(16)}\r\n`);
    for (let i = 0; i < 64 && !s.destroyed; i++) {
      const ok = s.write(Buffer.concat([head, chunk, Buffer.from("\r\n")]));
      if (!ok) await Promise.race([new Promise((r) => s.once("drain", r)), new Promise((r) => s.once("close", r)), Bun.sleep(2000)]);
    }
    const r = await got;
    s.destroy();
    expect(r.text).toStartWith("HTTP/1.1 401");
    expect(r.closed).toBe(true);
    Bun.gc(true);
    expect(rssMB(srv.proc.pid) - before).toBeLessThan(10);
  });

  test("an authenticated body over 3 MiB is a 413 Status", async () => {
    const big = JSON.stringify({ metadata: { name: "big" }, data: { x: "a".repeat(3 * 1024 * 1024 + 10) } });
    const r = await api("/api/v1/namespaces/default/configmaps", { method: "POST", body: big });
    expect(r.status).toBe(413);
    expect(((await r.json()) as any).reason).toBe("RequestEntityTooLarge");
  });

  test("a stalled body gets 408 and its connection is closed", async () => {
    const s = await connect();
    const got = collect(s, STALL_MS + 5000);
    s.write(`POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\nAuthorization: ${srv.creds.headers.authorization}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"metadata":`);
    const r = await got;
    expect(r.text).toStartWith("HTTP/1.1 408");
    expect(r.text).toContain("sent nothing");
    expect(r.closed).toBe(true);
  });

  // The times asserted here catch a blow-up (a parser that recurses or backtracks takes minutes on
  // these bodies); the figures themselves are printed: a test's wall time on this VM varies 5x with
  // the host's CPU steal (issue 6's "< 1 s" measured 114 ms median, 661 ms at worst in 34 runs).
  test("a 1 MB deeply nested JSON or YAML body is a 4xx at once (time printed), with or without roles; the server grows < 50 MB", async () => {
    const before = rssMB(srv.proc.pid);
    const depth = 200_000;
    const bodies = [
      ["application/json", '{"a":'.repeat(depth) + "1" + "}".repeat(depth)],
      ["application/yaml", "{a: ".repeat(depth) + "1" + "}".repeat(depth)],
      ["application/yaml", "- ".repeat(depth * 2) + "1\n"],
    ];
    const times: number[] = [];
    for (const [ct, body] of bodies) {
      for (const token of [undefined, saToken]) {
        const t0 = Date.now();
        const r = await api("/api/v1/namespaces/default/configmaps", { method: "POST", body, headers: { "content-type": ct! } }, token);
        expect({ ct, admin: !token, status: r.status }).toEqual({ ct, admin: !token, status: token ? 403 : 400 });
        await r.text();
        times.push(Date.now() - t0);
      }
    }
    console.log(`nested bodies: answered in ${times.join(", ")} ms`);
    expect(Math.max(...times)).toBeLessThan(10_000);
    Bun.gc(true);
    expect(rssMB(srv.proc.pid) - before).toBeLessThan(50);
  });

  test("20,000 unknown fields give < 16 KiB of Warning headers, at once (time printed)", async () => {
    const data: Record<string, string> = {};
    const obj: any = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "warned" }, data };
    for (let i = 0; i < 20_000; i++) obj[`unknown${i}`] = i;
    const t0 = Date.now();
    const r = await api("/api/v1/namespaces/default/configmaps?fieldValidation=Warn", { method: "POST", body: JSON.stringify(obj) });
    const ms = Date.now() - t0;
    expect(r.status).toBe(201);
    const w = r.headers.get("warning") ?? "";
    expect(w).toContain('unknown field \\"unknown0\\"');
    expect(w.length).toBeLessThan(16 * 1024);
    console.log(`20,000 unknown fields: answered in ${ms} ms`);
    expect(ms).toBeLessThan(15_000);
  });
});

describe("connections and requests in flight", () => {
  test("1,000 idle connections and 200 stalled bodies do not stop an authenticated client", async () => {
    const idle = await Promise.all(Array.from({ length: 1000 }, () => new Promise<import("node:net").Socket>((ok, fail) => {
      const s = require("node:net").connect(port, "127.0.0.1", () => ok(s));
      s.on("error", fail);
    })));
    const stalled = await Promise.all(Array.from({ length: 200 }, () => connect()));
    const answers = stalled.map((s) => collect(s, 10_000));
    for (const s of stalled)
      s.write(`POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${writerToken}\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{`);
    try {
      const t0 = Date.now();
      expect((await api("/api/v1/namespaces/default/configmaps")).status).toBe(200);
      expect((await api("/api/v1/namespaces/default/pods", {}, saToken)).status).toBe(200);
      const cm = await api("/api/v1/namespaces/default/configmaps", { method: "POST", body: JSON.stringify({ metadata: { name: "still-works" } }) });
      expect(cm.status).toBe(201);
      console.log(`three requests beside 1,000 idle connections and 200 stalled bodies: ${Date.now() - t0} ms`);
      expect(Date.now() - t0).toBeLessThan(20_000);
      // The writer's stalled posts hold the mutating slots; beyond them, refused at once.
      expect((await api("/api/v1/namespaces/default/configmaps", { method: "POST", body: JSON.stringify({ metadata: { name: "waits" } }) }, writerToken)).status).toBe(429);
      const refused = (await Promise.all(answers.slice(0, 200))).filter((a) => a.text.startsWith("HTTP/1.1 429"));
      expect(refused.length).toBeGreaterThanOrEqual(200 - MUTATING);
      expect(refused[0]!.text).toMatch(/Retry-After: 1/i);
    } finally {
      for (const s of [...idle, ...stalled]) s.destroy();
    }
  });

  test("an idle connection is closed after the idle timeout", async () => {
    const s = await connect();
    const r = await collect(s, IDLE_MS + 4000);
    expect(r.closed).toBe(true);
    expect(r.ms).toBeGreaterThanOrEqual(IDLE_MS - 500);
  });

  test("open watches per user are capped (429); closing one frees its slot", async () => {
    const ctrls = Array.from({ length: WATCHES }, () => new AbortController());
    const open = await Promise.all(ctrls.map((c) => api("/api/v1/namespaces/default/configmaps?watch=true", { signal: c.signal }, saToken)));
    for (const r of open) expect(r.status).toBe(200);
    const over = await api("/api/v1/namespaces/default/configmaps?watch=1", {}, saToken);
    expect(over.status).toBe(429);
    expect(over.headers.get("retry-after")).toBe("1");
    expect(((await over.json()) as any).message).toContain("too many open watches");
    // The admin is not counted against the service account.
    const c = new AbortController();
    expect((await api("/api/v1/namespaces/default/configmaps?watch=true", { signal: c.signal })).status).toBe(200);
    c.abort();
    ctrls[0]!.abort();
    let again = 0;
    for (let i = 0; i < 40 && again !== 200; i++) {
      const ac = new AbortController();
      const r = await api("/api/v1/namespaces/default/configmaps?watch=true", { signal: ac.signal }, saToken);
      again = r.status;
      ac.abort();
      if (again !== 200) await Bun.sleep(100);
    }
    expect(again).toBe(200);
    for (const x of ctrls) x.abort();
  });
});
