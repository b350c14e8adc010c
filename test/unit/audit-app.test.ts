// The audit filter in the whole HTTP app (in process): stages per request (RequestReceived,
// ResponseComplete; ResponseStarted then ResponseComplete when a watch ends), request and
// response bodies at RequestResponse, the object's name on a create, the Audit-Id header,
// unauthenticated requests as system:anonymous, and nothing for requests at level None.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp } from "../../server/api/app";
import { BatchBackend } from "../../server/audit/backend";
import { parsePolicy } from "../../server/audit/policy";
import { Authenticator } from "../../server/auth/authn";
import { bootstrap } from "../../server/bootstrap";
import { newRegistry } from "../../server/registry/index";
import { Store } from "../../server/store/store";

const POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
rules:
  - level: None
    nonResourceURLs: ["/version"]
  - level: RequestResponse
    resources: [{ group: "", resources: ["configmaps"] }]
  - level: Metadata
`;

let dir: string;
let store: Store;
let fetch: (r: Request) => Promise<Response>;
const lines: any[] = [];
const backend = new BatchBackend({ write: async (c) => void lines.push(...c.trim().split("\n").map((l) => JSON.parse(l))), close: async () => {} }, { batchMaxWaitMs: 1 });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "skiff-audit-app-"));
  store = new Store({ dataDir: dir });
  const registry = newRegistry(store);
  await bootstrap(registry);
  const key = new Uint8Array(32).fill(7);
  const auth = new Authenticator({ adminToken: "admin", tokenKey: key, localJoinSecrets: () => ({ server: "join-secret" }) });
  auth.attach(store);
  const app = createApp({ store, registry, tokenKey: key }, { serverAddress: () => "127.0.0.1:6443", auth, caPem: "", audit: { policy: parsePolicy(POLICY), backend } });
  fetch = async (r) => app.fetch(r, { remoteAddress: "::ffff:10.1.2.3" });
});
afterAll(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

const req = (method: string, path: string, body?: unknown, token = "admin") =>
  fetch(new Request(`https://127.0.0.1:6443${path}`, { method, headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "user-agent": "unit/1.0" }, body: body ? JSON.stringify(body) : undefined }));
const eventsOf = async (id: string, n: number) => {
  for (let i = 0; i < 200 && lines.filter((l) => l.auditID === id).length < n; i++) await Bun.sleep(5);
  return lines.filter((l) => l.auditID === id);
};

test("a create at RequestResponse: both stages, bodies, the name from the object, Audit-Id", async () => {
  const r = await req("POST", "/api/v1/namespaces/default/configmaps", { metadata: { name: "cm1" }, data: { k: "v" } });
  expect(r.status).toBe(201);
  const id = r.headers.get("audit-id")!;
  expect(id).toMatch(/^[0-9a-f-]{36}$/);
  const [a, b] = await eventsOf(id, 2);
  expect(a.stage).toBe("RequestReceived");
  expect(a.requestObject).toBeUndefined();
  expect(b.stage).toBe("ResponseComplete");
  expect(b.objectRef).toEqual({ resource: "configmaps", namespace: "default", name: "cm1", apiVersion: "v1" });
  expect(b.requestObject).toEqual({ metadata: { name: "cm1" }, data: { k: "v" } });
  expect(b.responseObject.metadata.uid).toBeString();
  expect(b.responseStatus).toEqual({ metadata: {}, code: 201 });
  expect(b.sourceIPs).toEqual(["10.1.2.3"]);
  expect(b.userAgent).toBe("unit/1.0");
  expect(b.user).toEqual({ username: "system:admin", groups: ["system:masters", "system:authenticated"] });
});

test("a watch: ResponseStarted when it opens, ResponseComplete when it ends", async () => {
  const r = await req("GET", "/api/v1/namespaces/default/pods?watch=true&timeoutSeconds=1");
  const id = r.headers.get("audit-id")!;
  expect((await eventsOf(id, 2)).map((e) => e.stage)).toEqual(["RequestReceived", "ResponseStarted"]);
  await r.text();
  const all = await eventsOf(id, 3);
  expect(all.map((e) => e.stage)).toEqual(["RequestReceived", "ResponseStarted", "ResponseComplete"]);
  expect(all[2].verb).toBe("watch");
  expect(all[2].level).toBe("Metadata");
});

test("a bad token is audited as system:anonymous with its 401; level None writes nothing", async () => {
  const r = await req("GET", "/api/v1/namespaces", undefined, "wrong");
  expect(r.status).toBe(401);
  const [, done] = await eventsOf(r.headers.get("audit-id")!, 2);
  expect(done.user).toEqual({ username: "system:anonymous", groups: ["system:unauthenticated"] });
  expect(done.responseStatus).toMatchObject({ code: 401, status: "Failure", reason: "Unauthorized" });
  const v = await req("GET", "/version");
  expect(v.status).toBe(200);
  await Bun.sleep(30);
  expect(lines.some((l) => l.auditID === v.headers.get("audit-id"))).toBe(false);
});
