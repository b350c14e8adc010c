// The ingress proxy: Kubernetes' host and path rules (routes.ts), and the proxy itself on
// loopback (server.ts): routing by Host and path, 404/503, a refused endpoint skipped (no 502
// while another is ready), X-Forwarded-*, HTTPS with SNI, a certificate change without a
// refused connection, and a WebSocket bridged both ways.
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildRoutes, certFor, endpointsOf, pathMatches, route, type Backend } from "../../agent/services/ingress/routes.ts";
import { IngressServer } from "../../agent/services/ingress/server.ts";

const ing = (name: string, spec: any, created = "2024-01-01T00:00:00Z", ns = "default") => ({ metadata: { name, namespace: ns, creationTimestamp: created }, spec });
const be = (service: string, port: number | string = 80) => ({ service: { name: service, port: typeof port === "number" ? { number: port } : { name: port } } });

describe("routes", () => {
  const t = buildRoutes([
    ing("a", {
      rules: [
        { host: "shop.example", http: { paths: [{ path: "/", pathType: "Prefix", backend: be("front") }, { path: "/api", pathType: "Prefix", backend: be("api") }, { path: "/api/health", pathType: "Exact", backend: be("health") }] } },
        { host: "*.example", http: { paths: [{ path: "/", pathType: "Prefix", backend: be("wild") }] } },
        { http: { paths: [{ path: "/static", pathType: "ImplementationSpecific", backend: be("static") }] } },
      ],
      tls: [{ hosts: ["shop.example"], secretName: "shop-tls" }, { hosts: ["*.example"], secretName: "wild-tls" }],
    }),
    ing("b", { defaultBackend: be("fallback"), rules: [{ host: "shop.example", http: { paths: [{ path: "/api", pathType: "Prefix", backend: be("newer") }] } }] }, "2024-02-01T00:00:00Z"),
  ]);
  const svc = (host: string, path: string) => route(t, host, path)?.service;

  test("Prefix matches whole path elements; Exact only itself; the longest path wins, then the oldest Ingress", () => {
    expect(pathMatches({ type: "Prefix", path: "/foo/" }, "/foo")).toBe(true);
    expect(pathMatches({ type: "Prefix", path: "/foo" }, "/foo/bar")).toBe(true);
    expect(pathMatches({ type: "Prefix", path: "/foo" }, "/foobar")).toBe(false);
    expect(pathMatches({ type: "Exact", path: "/foo" }, "/foo/")).toBe(false);
    expect(pathMatches({ type: "ImplementationSpecific", path: "/foo" }, "/foobar")).toBe(true);
    expect(svc("shop.example", "/")).toBe("front");
    expect(svc("shop.example:443", "/api/x")).toBe("api"); // a and b both have /api: a is older
    expect(svc("SHOP.example", "/api/health")).toBe("health");
    expect(svc("shop.example", "/api/health/x")).toBe("api");
    expect(svc("shop.example", "/apix")).toBe("front");
  });

  test("hosts: exact, then a one-label wildcard, then rules without host, then the default backend", () => {
    expect(svc("x.example", "/anything")).toBe("wild");
    expect(svc("a.b.example", "/static/x")).toBe("static");
    expect(svc("example", "/")).toBe("fallback");
    expect(svc("other.test", "/static")).toBe("static");
    expect(svc("other.test", "/nope")).toBe("fallback");
    expect(certFor(t, "shop.example")).toBe("default/shop-tls");
    expect(certFor(t, "x.example")).toBe("default/wild-tls");
    expect(certFor(t, "x.y.example")).toBeUndefined();
  });

  test("endpoints: the Service port by number or name, ready addresses of its slices only", () => {
    const service = { spec: { ports: [{ name: "web", port: 80, protocol: "TCP" }] } };
    const slices = [{ addressType: "IPv4", ports: [{ name: "web", port: 8080 }], endpoints: [{ addresses: ["10.0.0.2"], conditions: { ready: true } }, { addresses: ["10.0.0.3"], conditions: { ready: false, terminating: true, serving: true } }] }];
    const b = (port: number | string): Backend => ({ ns: "default", service: "s", port });
    expect(endpointsOf(b(80), service, slices)).toEqual(["10.0.0.2:8080"]);
    expect(endpointsOf(b("web"), service, slices)).toEqual(["10.0.0.2:8080"]);
    expect(endpointsOf(b(81), service, slices)).toEqual([]);
  });
});

describe("the proxy on loopback", () => {
  const backend = (name: string) =>
    Bun.serve<string, never>({
      hostname: "127.0.0.1",
      port: 0,
      fetch(req, srv) {
        if (srv.upgrade(req, { data: name })) return undefined;
        const u = new URL(req.url);
        return new Response(`${name} ${req.headers.get("host")} ${u.pathname}${u.search} xfp=${req.headers.get("x-forwarded-proto")} xff=${req.headers.get("x-forwarded-for")}`);
      },
      websocket: {
        message: (ws, m) => {
          ws.send(`${ws.data} echo ${m}`);
        },
      },
    });
  const one = backend("one");
  const two = backend("two");
  // A port nothing listens on: a pod that just went away.
  const dead = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const deadPort = dead.port;
  dead.stop(true);
  let eps: Record<string, string[]> = { one: [`127.0.0.1:${one.port}`], two: [`127.0.0.1:${deadPort}`, `127.0.0.1:${two.port}`], none: [] };
  const table = buildRoutes([
    ing("x", {
      rules: [
        { host: "one.test", http: { paths: [{ path: "/", pathType: "Prefix", backend: be("one") }] } },
        { host: "two.test", http: { paths: [{ path: "/", pathType: "Prefix", backend: be("two") }] } },
        { host: "none.test", http: { paths: [{ path: "/", pathType: "Prefix", backend: be("none") }] } },
      ],
    }),
  ]);
  const proxy = new IngressServer({ httpPort: 0, httpsPort: 0, hostname: "127.0.0.1", table: () => table, endpoints: (b) => eps[b.service] ?? [], log: () => {} });
  proxy.start();
  const get = async (host: string, path = "/") => {
    const r = await fetch(`http://127.0.0.1:${proxy.ports.http}${path}`, { headers: { host } });
    return `${r.status} ${await r.text()}`;
  };
  afterAll(() => {
    proxy.stop();
    one.stop(true);
    two.stop(true);
  });

  test("routes by Host and path, forwards headers, 404 and 503", async () => {
    expect(await get("one.test", "/a/b?c=1")).toBe("200 one one.test /a/b?c=1 xfp=http xff=127.0.0.1");
    expect(await get("nobody.test")).toStartWith("404 ");
    expect(await get("none.test")).toStartWith("503 ");
  });

  test("an endpoint that refuses connections is skipped: no 502 while another is ready", async () => {
    for (let i = 0; i < 6; i++) expect(await get("two.test", `/${i}`)).toStartWith("200 two");
    expect(proxy.retries).toBeGreaterThan(0);
    const before = eps;
    eps = { ...eps, two: [`127.0.0.1:${deadPort}`] };
    expect(await get("two.test")).toStartWith("502 ");
    eps = before;
  });

  test("WebSocket upgrade is bridged to the backend", async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${proxy.ports.http}/ws`, { headers: { host: "one.test" } } as any);
    const got = await new Promise<string>((resolve, reject) => {
      ws.onopen = () => ws.send("hi");
      ws.onmessage = (e) => resolve(String(e.data));
      ws.onerror = () => reject(new Error("websocket error"));
      setTimeout(() => reject(new Error("no answer")), 3000);
    });
    ws.close();
    expect(got).toBe("one echo hi");
  });

  const openssl = Bun.which("openssl");
  test.skipIf(!openssl)("HTTPS: the certificate by SNI; a new certificate without a refused connection", async () => {
    const dir = mkdtempSync(join(tmpdir(), "skiff-ingress-"));
    const cert = (cn: string) => {
      spawnSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", join(dir, `${cn}.key`), "-out", join(dir, `${cn}.crt`), "-days", "1", "-subj", `/CN=${cn}`, "-addext", `subjectAltName=DNS:${cn}`]);
      return { serverName: cn, cert: readFileSync(join(dir, `${cn}.crt`), "utf8"), key: readFileSync(join(dir, `${cn}.key`), "utf8") };
    };
    const a = cert("one.test");
    const b = cert("two.test");
    const free = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = free.port;
    free.stop(true);
    const proxy = new IngressServer({ httpPort: 0, httpsPort: port, hostname: "127.0.0.1", table: () => table, endpoints: (b) => eps[b.service] ?? [], log: () => {} });
    proxy.start();
    proxy.setCerts([a, b]);
    const subject = async (host: string) => {
      const p = Bun.spawn(["sh", "-c", `curl -sk -v --resolve ${host}:${proxy.ports.https}:127.0.0.1 https://${host}:${proxy.ports.https}/ 2>&1 | grep -E "subject:|^one|^two"`], { stdout: "pipe" });
      return (await new Response(p.stdout).text()).trim().replace(/\s+/g, " ");
    };
    expect(await subject("one.test")).toMatch(/subject: CN=one\.test one one\.test/);
    expect(await subject("two.test")).toMatch(/subject: CN=two\.test two two\.test/);
    // A new certificate for one.test: the listener is replaced while requests keep coming.
    // Requests keep coming on the port while the listener is replaced: none is refused.
    let refused = 0;
    let stop = false;
    const load = (async () => {
      while (!stop) {
        const r = await fetch(`https://127.0.0.1:${port}/`, { headers: { host: "two.test" }, tls: { rejectUnauthorized: false } } as RequestInit).catch(() => null);
        if (!r) refused++;
        else await r.text();
      }
    })();
    await Bun.sleep(100);
    const c2 = cert("one.test");
    proxy.setCerts([c2, b]);
    await Bun.sleep(200);
    stop = true;
    await load;
    expect(refused).toBe(0);
    expect(proxy.ports.https).toBe(port);
    expect(await subject("one.test")).toMatch(/subject: CN=one\.test one/);
    proxy.stop();
    rmSync(dir, { recursive: true, force: true });
  });
});
