// Joining with the K10 token: the right token yields working node credentials, a wrong one a
// clear error, and a token for another CA is refused before any secret is sent.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { joinCluster } from "../../lib/join";
import { startServer, type SkiffServer } from "../harness/server";
import { rejection } from "../harness/rejection.ts";

let srv: SkiffServer;
let dir: string;
beforeAll(async () => {
  srv = await startServer({ name: "join" });
  dir = mkdtempSync(join(tmpdir(), "skiff-join-"));
});
afterAll(async () => {
  await srv?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("the printed token joins and the node credentials authenticate", async () => {
  const token = readFileSync(join(srv.dataDir, "server/token"), "utf8").trim();
  expect(token).toMatch(/^K10[0-9a-f]{64}::server:/);
  const creds = await joinCluster({ server: srv.creds.server, token, nodeName: "n1", credFile: join(dir, "n1.json"), nodePassword: "p".repeat(32) });
  const r = await fetch(`${creds.server}/api/v1/nodes`, { headers: { authorization: `Bearer ${creds.token}` }, tls: { ca: creds.caData } } as RequestInit);
  expect(r.status).toBe(200);
});

test("a wrong secret is rejected with a message that says so", async () => {
  const token = readFileSync(join(srv.dataDir, "server/token"), "utf8").trim();
  const bad = token.replace(/:[^:]+$/, ":not-the-secret");
  expect((await rejection(joinCluster({ server: srv.creds.server, token: bad, nodeName: "n2", credFile: join(dir, "n2.json"), nodePassword: "p".repeat(32) }))).message).toContain("rejected the join token");
});

test("a token pinning another CA is refused before the secret is sent", async () => {
  const token = readFileSync(join(srv.dataDir, "server/token"), "utf8").trim();
  const otherCa = token.replace(/^K10[0-9a-f]{64}/, `K10${"0".repeat(64)}`);
  expect((await rejection(joinCluster({ server: srv.creds.server, token: otherCa, nodeName: "n3", credFile: join(dir, "n3.json"), nodePassword: "p".repeat(32) }))).message).toContain("does not match the token");
});

test("API calls without a token are 401 Status", async () => {
  const r = await fetch(`${srv.creds.server}/api/v1/namespaces`, { tls: { rejectUnauthorized: false } } as RequestInit);
  expect(r.status).toBe(401);
  expect(((await r.json()) as any).reason).toBe("Unauthorized");
});
