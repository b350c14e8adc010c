// Issue 10, tokens and node identity (K3s semantics), against a real `skiff server` process:
// the agent token joins agents only (never a server, never the bootstrap or Raft endpoints),
// no token reaches the logs, a node name is bound to its first machine by its node password,
// node credentials expire and are renewed, `skiff token rotate` works without touching joined
// agents, and deleting a node's binding revokes its credentials at once.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { joinCluster, renewCredentials, type NodeCredentials } from "../../lib/join";
import { BUN, REPO, startServer, type SkiffServer } from "../harness/server";
import { describeResult, expectOk, kubectl } from "../harness/kubectl";
import { rejection } from "../harness/rejection.ts";

setDefaultTimeout(60_000);

/** Node credentials live this long here, so expiry and renewal are seen within the test. */
const TTL = 12;

let srv: SkiffServer;
let dir: string;
let serverToken: string;
let agentToken: string;

const secretOf = (t: string) => t.split(":").pop()!;
const asBearer = (token: string, path: string, init: RequestInit = {}) =>
  fetch(`${srv.url}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...(init.headers ?? {}) }, tls: srv.creds.tls } as RequestInit);

async function skiff(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const p = Bun.spawn([BUN, join(REPO, "cli/main.ts"), args[0]!, "--kubeconfig", srv.kubeconfig, ...args.slice(1)], { cwd: REPO, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

beforeAll(async () => {
  srv = await startServer({ name: "sec-tokens", env: { SKIFF_NODE_TOKEN_TTL_SECONDS: String(TTL) } });
  dir = mkdtempSync(join(tmpdir(), "skiff-sec-tokens-"));
  serverToken = readFileSync(join(srv.dataDir, "server/token"), "utf8").trim();
  agentToken = readFileSync(join(srv.dataDir, "server/agent-token"), "utf8").trim();
});
afterAll(async () => {
  await srv?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("the two join tokens", () => {
  test("two different K10 tokens pinning the same CA, 0600, and neither is in the server's output", async () => {
    expect(serverToken).toMatch(/^K10[0-9a-f]{64}::server:[0-9a-f]+$/);
    expect(agentToken).toMatch(/^K10[0-9a-f]{64}::node:[0-9a-f]+$/);
    expect(serverToken.slice(0, 67)).toBe(agentToken.slice(0, 67));
    expect(secretOf(serverToken)).not.toBe(secretOf(agentToken));
    for (const f of ["server/token", "server/agent-token"]) expect(Bun.file(join(srv.dataDir, f)).size).toBeGreaterThan(0);
    const { statSync } = await import("node:fs");
    expect(statSync(join(srv.dataDir, "server/agent-token")).mode & 0o777).toBe(0o600);
    const logs = readdirText(srv.runDir);
    expect(logs).toContain(join(srv.dataDir, "server/agent-token"));
    for (const t of [serverToken, agentToken]) expect(logs).not.toContain(secretOf(t));
  });

  test("the agent token gets 403 on every bootstrap and Raft endpoint, and on the API", async () => {
    for (const [method, path] of [
      ["POST", "/v1-skiff/raft/bootstrap"],
      ["POST", "/v1-skiff/raft/join"],
      ["GET", "/v1-skiff/raft/members"],
      ["POST", "/v1-skiff/raft/remove"],
      ["POST", "/v1-skiff/tokens/rotate"],
      ["GET", "/api/v1/namespaces/kube-system/secrets"],
      ["GET", "/api/v1/nodes"],
    ] as const) {
      const r = await asBearer(agentToken, path, { method, body: method === "POST" ? "{}" : undefined });
      expect({ path, status: r.status }).toEqual({ path, status: 403 });
    }
    // Only as a bare secret too (lib/join sends the secret part).
    expect((await asBearer(secretOf(agentToken), "/v1-skiff/raft/bootstrap", { method: "POST", body: "{}" })).status).toBe(403);
    // The server token may fetch the bootstrap data (that is how servers join).
    expect((await asBearer(secretOf(serverToken), "/v1-skiff/raft/bootstrap", { method: "POST", body: "{}" })).status).toBe(200);
  });

  test("a server started with the agent token is refused and never becomes a member", async () => {
    let err = "";
    try {
      const s2 = await startServer({ name: "sec-intruder", extraArgs: ["--server", srv.url, "--token", agentToken, "--node-name", "intruder"], readyTimeoutMs: 30_000 });
      await s2.stop();
    } catch (e) {
      err = (e as Error).message;
    }
    expect(err).toContain("rejected the join token");
    const members = await skiff(["cluster", "members", "-o", "json"]);
    expect(members.code, members.stderr).toBe(0);
    expect(JSON.parse(members.stdout).members.map((m: any) => m.name)).not.toContain("intruder");
  });
});

describe("node identity", () => {
  let first: NodeCredentials;
  const pwA = "a".repeat(40);
  const pwB = "b".repeat(40);

  test("the agent token joins a node; its credential is short-lived and bound to the node password", async () => {
    first = await joinCluster({ server: srv.url, token: agentToken, nodeName: "edge-1", credFile: join(dir, "edge-1.json"), nodePassword: pwA });
    expect(first.expires - Date.now() / 1000).toBeLessThanOrEqual(TTL + 1);
    expect((await asBearer(first.token, "/api/v1/nodes")).status).toBe(200);
    const binding: any = await (await srv.fetch("/api/v1/namespaces/kube-system/secrets/edge-1.node-password.skiff")).json();
    expect(binding.type).toBe("skiff.io/node-password");
    expect(Buffer.from(binding.data.hash, "base64").toString()).not.toContain(pwA);
  });

  test("a second machine with the same name and another password is refused, clearly", async () => {
    const other = joinCluster({ server: srv.url, token: agentToken, nodeName: "edge-1", credFile: join(dir, "edge-1-b.json"), nodePassword: pwB });
    expect((await rejection(other)).message).toMatch(/Node password rejected for node "edge-1".*unique --node-name/);
    // Nor with the server token, nor by renewing (it has no credential to renew with).
    expect((await rejection(joinCluster({ server: srv.url, token: serverToken, nodeName: "edge-1", credFile: join(dir, "edge-1-c.json"), nodePassword: pwB }))).message).toContain("Node password rejected");
  });

  test("a node cannot mint credentials for another node, nor open its tunnel; a join token opens no tunnel", async () => {
    const r = await asBearer(first.token, "/v1-skiff/node-credentials", { method: "POST", body: JSON.stringify({ nodeName: "edge-2", nodePassword: pwA }) });
    expect(r.status).toBe(403);
    for (const t of [first.token, agentToken]) {
      const t2 = await asBearer(t, "/v1-skiff/tunnel?node=edge-2");
      expect(t2.status).toBe(403);
    }
  });

  test("credentials expire and renewal (own credential + password) keeps the node working", async () => {
    const renewed = await renewCredentials(first, pwA);
    expect(renewed.token).not.toBe(first.token);
    expect((await rejection(renewCredentials(first, pwB))).message).toContain("Node password rejected");
    // Renewed again half-way, then past the first credential's expiry: it is refused, the
    // latest works (what the agent's CredentialKeeper does at two thirds of the lifetime).
    await Bun.sleep((TTL / 2) * 1000);
    const again = await renewCredentials(renewed, pwA);
    await Bun.sleep(Math.max(0, first.expires * 1000 - Date.now()) + 1500);
    expect((await asBearer(first.token, "/api/v1/nodes")).status).toBe(401);
    expect((await asBearer(again.token, "/api/v1/nodes")).status).toBe(200);
    first = again;
  });

  test("skiff token rotate: new tokens in force at once, joined nodes keep working, nothing printed", async () => {
    for (const type of ["agent", "server"] as const) {
      const before = readFileSync(join(srv.dataDir, type === "agent" ? "server/agent-token" : "server/token"), "utf8").trim();
      const r = await skiff(["token", "rotate", "--type", type]);
      expect(r.code, r.stderr).toBe(0);
      const file = join(srv.dataDir, type === "agent" ? "server/agent-token" : "server/token");
      expect(r.stdout).toContain(file);
      const after = readFileSync(file, "utf8").trim();
      expect(after).not.toBe(before);
      expect(r.stdout + r.stderr).not.toContain(secretOf(after));
      // The old token no longer joins; the new one does.
      expect((await rejection(joinCluster({ server: srv.url, token: before, nodeName: `rot-${type}`, credFile: join(dir, `rot-${type}-old.json`), nodePassword: pwA }))).message).toContain("rejected the join token");
      const j = await joinCluster({ server: srv.url, token: after, nodeName: `rot-${type}`, credFile: join(dir, `rot-${type}.json`), nodePassword: pwA });
      expect((await asBearer(j.token, "/api/v1/nodes")).status).toBe(200);
    }
    agentToken = readFileSync(join(srv.dataDir, "server/agent-token"), "utf8").trim();
    // The node joined before both rotations still renews and works, unrestarted.
    first = await renewCredentials(first, pwA);
    expect((await asBearer(first.token, "/api/v1/nodes")).status).toBe(200);
    const same = await skiff(["token", "rotate", "--type", "agent", "--new-token", secretOf(readFileSync(join(srv.dataDir, "server/token"), "utf8").trim())]);
    expect(same.code).not.toBe(0);
    expect(same.stderr).toContain("must differ from the server token");
  });

  test("deleting the node's binding revokes its credentials within a second", async () => {
    const del = await srv.fetch("/api/v1/namespaces/kube-system/secrets/edge-1.node-password.skiff", { method: "DELETE" });
    expect(del.status).toBe(200);
    const end = Date.now() + 1000;
    let status = 0;
    while (Date.now() < end && (status = (await asBearer(first.token, "/api/v1/nodes")).status) !== 401) await Bun.sleep(50);
    expect(status).toBe(401);
  });
});

describe("service-account tokens (kubectl create token)", () => {
  test("a token for audience vault gets 401; one of a deleted or re-created account gets 401 within a second", async () => {
    const k = async (args: string[]) => expectOk(await kubectl(srv, args), `kubectl ${args.join(" ")}`);
    await k(["create", "serviceaccount", "bot"]);
    const vault = (await k(["create", "token", "bot", "--audience", "vault"])).stdout.trim();
    const api = (await k(["create", "token", "bot", "--duration", "10m"])).stdout.trim();
    expect((await asBearer(vault, "/api/v1/namespaces/default/pods")).status).toBe(401);
    const me = await asBearer(api, "/apis/authentication.k8s.io/v1/selfsubjectreviews", { method: "POST", body: JSON.stringify({ apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" }) });
    expect(me.status).toBe(201);
    expect(((await me.json()) as any).status.userInfo.username).toBe("system:serviceaccount:default:bot");
    const within = async (token: string) => {
      const end = Date.now() + 1000;
      let st = 0;
      while (Date.now() < end && (st = (await asBearer(token, "/apis")).status) !== 401) await Bun.sleep(25);
      return st;
    };
    await k(["delete", "serviceaccount", "bot"]);
    expect(await within(api)).toBe(401);
    await k(["create", "serviceaccount", "bot"]);
    expect(await within(api)).toBe(401);
    const fresh = (await k(["create", "token", "bot"])).stdout.trim();
    const r = await kubectl(srv, ["auth", "whoami", "--token", fresh, "-o", "jsonpath={.status.userInfo.username}"]);
    expect(r.stdout, describeResult(r)).toBe("system:serviceaccount:default:bot");
  });
});

/** Every file in the server's run dir (its stdout and stderr logs), concatenated. */
function readdirText(d: string): string {
  const { readdirSync, statSync } = require("node:fs") as typeof import("node:fs");
  let out = "";
  for (const f of readdirSync(d)) {
    const p = join(d, f);
    if (statSync(p).isFile()) out += readFileSync(p, "utf8");
  }
  return out;
}
