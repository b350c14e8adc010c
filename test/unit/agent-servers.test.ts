import { expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serverUrls, serversFile, startServerDiscovery } from "../../agent/servers";
import { KubeClient } from "../../lib/client";
import { rejection } from "../harness/rejection.ts";

const client = (server: string) => new KubeClient({ server, namespace: "default", sources: [] });

test("Endpoints → server URLs (IPv6 in brackets)", () => {
  const eps = { subsets: [{ addresses: [{ ip: "10.0.0.1" }, { ip: "fd00::2" }], ports: [{ port: 6443 }] }, { addresses: [{ ip: "127.0.0.1" }], ports: [{ port: 7000 }] }] };
  expect(serverUrls(eps)).toEqual(["https://10.0.0.1:6443", "https://[fd00::2]:6443", "https://127.0.0.1:7000"]);
  expect(serverUrls({})).toEqual([]);
});

test("the client keeps its configured server first and moves on from a failed one", () => {
  const c = client("https://a:1/");
  c.setServers(["https://b:1", "https://a:1", "https://c:1/"]);
  expect(c.knownServers).toEqual(["https://a:1", "https://b:1", "https://c:1"]);
  expect(c.server).toBe("https://a:1");
  expect(c.failedOver("https://a:1")).toBe(true);
  expect(c.server).toBe("https://b:1");
  // A second request that failed on a already moved on: no double step.
  expect(c.failedOver("https://a:1")).toBe(false);
  expect(c.server).toBe("https://b:1");
  // A new list keeps the server in use.
  c.setServers(["https://c:1", "https://b:1"]);
  expect(c.server).toBe("https://b:1");
});

test("a request to an unreachable server is retried on the next one", async () => {
  const srv = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => Response.json({ ok: true }) });
  const dead = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("") });
  const deadUrl = `http://127.0.0.1:${dead.port}`;
  dead.stop(true);
  try {
    const c = client(deadUrl);
    c.setServers([`http://127.0.0.1:${srv.port}`]);
    expect(await c.get("/x")).toEqual({ ok: true });
    expect(c.server).toBe(`http://127.0.0.1:${srv.port}`);
  } finally {
    srv.stop(true);
  }
});

test("discovery reads the kubernetes Endpoints and saves the others for an offline restart", async () => {
  const dir = mkdtempSync(join(tmpdir(), "skiff-servers-"));
  let port = 0;
  const srv = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch: (): Response => Response.json({ subsets: [{ addresses: [{ ip: "127.0.0.1" }, { ip: "127.0.0.2" }], ports: [{ port }] }] }),
  });
  port = srv.port!;
  try {
    const url = `http://127.0.0.1:${port}`;
    const d = startServerDiscovery(client(url), dir, { everyMs: 1e9 });
    expect(await d.refresh()).toEqual([url, `http://127.0.0.2:${srv.port}`]);
    d.stop();
    expect(JSON.parse(readFileSync(serversFile(dir), "utf8"))).toEqual({ configured: url, servers: [`http://127.0.0.2:${srv.port}`] });
    // Restarted while nothing answers: the saved list is loaded at once.
    srv.stop(true);
    const c = client(url);
    startServerDiscovery(c, dir, { everyMs: 1e9 }).stop();
    expect(c.knownServers).toEqual([url, `http://127.0.0.2:${port}`]);
  } finally {
    srv.stop(true);
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a write cut off mid-way is not re-sent to another server; a read is; a 503 moves later requests on", async () => {
  let posts = 0;
  const good = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch: (req) => {
      if (req.method === "POST") posts++;
      return new URL(req.url).pathname === "/busy" ? new Response("{}", { status: 503 }) : Response.json({ ok: true });
    },
  });
  // Accepts the connection, reads the request, then drops it: the request may have been applied.
  const cut = Bun.listen<undefined>({ hostname: "127.0.0.1", port: 0, socket: { data: (s) => void s.end() } });
  try {
    const c = client(`http://127.0.0.1:${cut.port}`);
    c.setServers([`http://127.0.0.1:${good.port}`]);
    await rejection(c.create("/x", { a: 1 }));
    expect(posts).toBe(0);
    const c2 = client(`http://127.0.0.1:${cut.port}`);
    c2.setServers([`http://127.0.0.1:${good.port}`]);
    expect(await c2.get("/x")).toEqual({ ok: true });
    // 503: the answer is returned as is, the next request goes to the other server.
    const c3 = client(`http://127.0.0.1:${good.port}`);
    c3.setServers([`http://127.0.0.1:${cut.port}`]);
    let moved = 0;
    c3.onServerChange(() => moved++);
    await rejection(c3.get("/busy"));
    expect(moved).toBe(1);
    expect(c3.server).toBe(`http://127.0.0.1:${cut.port}`);
  } finally {
    good.stop(true);
    cut.stop(true);
  }
});
