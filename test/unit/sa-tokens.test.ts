// Bound service-account tokens: TokenRequest validation (every malformed field a 400/422, never
// a crash, fuzzed with a fixed seed), audiences, and the account/pod/secret bindings checked on
// every use, dropped from the cache the moment the object is deleted.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findByKind } from "../../schemas/registry";
import { writeCtx, APISERVER_USER, type WriteCtx } from "../../server/registry/ctx";
import { newRegistry } from "../../server/registry/index";
import type { Registry } from "../../server/registry/registry";
import { Authenticator } from "../../server/auth/authn";
import { issueServiceAccountToken, reviewToken, validateTokenRequest } from "../../server/auth/sa-tokens";
import { bootstrap } from "../../server/bootstrap";
import { ApiError } from "../../server/errors";
import { Store } from "../../server/store/store";
import { rejection } from "../harness/rejection.ts";

const key = new Uint8Array(32).fill(3);
let dir: string;
let store: Store;
let ctx: WriteCtx;
let registry: Registry;
let auth: Authenticator;
const kind = (k: string) => findByKind("v1", k)!;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "skiff-satokens-"));
  store = new Store({ dataDir: dir });
  registry = newRegistry(store);
  await bootstrap(registry);
  ctx = writeCtx(APISERVER_USER, "t");
  auth = new Authenticator({ adminToken: "admin", tokenKey: key, localJoinSecrets: () => ({}) });
  auth.attach(store);
  await registry.create(ctx, kind("ServiceAccount"), "default", { metadata: { name: "app" } });
  await registry.create(ctx, kind("ServiceAccount"), "default", { metadata: { name: "other" } });
});
afterAll(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

const bearer = (t: string) => `Bearer ${t}`;
const issue = async (name: string, spec: any) => (await issueServiceAccountToken(store, key, "default", name, { spec })).status.token as string;

describe("TokenRequest validation", () => {
  test("upstream's answers for bad fields", () => {
    const code = (spec: any) => {
      try {
        validateTokenRequest({ spec }, "app");
        return 0;
      } catch (e) {
        return (e as ApiError).code;
      }
    };
    expect(code({ expirationSeconds: "abc" })).toBe(400);
    expect(code({ expirationSeconds: 1.5 })).toBe(400);
    expect(code({ expirationSeconds: 599 })).toBe(422);
    expect(code({ expirationSeconds: 2 ** 32 + 1 })).toBe(422);
    expect(code({ expirationSeconds: 600 })).toBe(0);
    expect(code({ audiences: "vault" })).toBe(400);
    expect(code({ audiences: [1] })).toBe(400);
    expect(code({ boundObjectRef: { kind: "Deployment", name: "x" } })).toBe(400);
    expect(code({ boundObjectRef: { kind: "Pod" } })).toBe(422);
    expect(code({ boundObjectRef: { kind: "Pod", name: "x", apiVersion: "apps/v1" } })).toBe(400);
    expect(code({ audiences: null, expirationSeconds: null, boundObjectRef: null })).toBe(0);
  });

  test("fuzzed bodies (seed 20261207): a token or a 4xx ApiError, nothing else", async () => {
    const anyJson = fc.oneof(fc.string({ maxLength: 10 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 2 }));
    const spec = fc.record(
      {
        audiences: fc.oneof(anyJson, fc.array(fc.string({ maxLength: 20 }), { maxLength: 3 })),
        expirationSeconds: fc.oneof(anyJson, fc.constantFrom("abc", 599, 600, 3600, 2 ** 32, 2 ** 32 + 1, -1, 1.5, 1e300)),
        boundObjectRef: fc.oneof(anyJson, fc.record({ kind: fc.constantFrom("Pod", "Secret", "Node", "Deployment", 7), apiVersion: fc.constantFrom("v1", "apps/v1", 3), name: fc.string({ maxLength: 10 }), uid: fc.string({ maxLength: 10 }) }, { requiredKeys: [] })),
      },
      { requiredKeys: [] },
    );
    let issued = 0;
    await fc.assert(
      fc.asyncProperty(fc.oneof(spec.map((s) => ({ spec: s })), anyJson), async (body) => {
        try {
          const tr = await issueServiceAccountToken(store, key, "default", "app", body);
          expect(typeof tr.status.token).toBe("string");
          issued++;
        } catch (e) {
          if (!(e instanceof ApiError) || e.code < 400 || e.code >= 500) throw e;
        }
      }),
      { numRuns: 500, seed: 20261207 },
    );
    expect(issued).toBeGreaterThan(0);
  });
});

describe("authentication of signed tokens", () => {
  test("a token for another audience is refused; TokenReview for that audience accepts it", async () => {
    const vault = await issue("app", { audiences: ["vault"] });
    expect(await auth.authenticate(bearer(vault))).toBeUndefined();
    expect(await reviewToken(auth, { token: vault, audiences: ["vault"] })).toMatchObject({ authenticated: true, audiences: ["vault"], user: { username: "system:serviceaccount:default:app" } });
    const api = await issue("app", {});
    expect((await auth.authenticate(bearer(api)))?.user).toBe("system:serviceaccount:default:app");
    expect(await reviewToken(auth, { token: api, audiences: ["vault"] })).toMatchObject({ authenticated: false });
  });

  test("deleting the account, or re-creating it, ends its tokens at once", async () => {
    await registry.create(ctx, kind("ServiceAccount"), "default", { metadata: { name: "gone" } });
    const t = await issue("gone", {});
    expect(await auth.authenticate(bearer(t))).toBeDefined();
    await registry.delete(ctx, kind("ServiceAccount"), "default", "gone", {});
    expect(await auth.authenticate(bearer(t))).toBeUndefined();
    await registry.create(ctx, kind("ServiceAccount"), "default", { metadata: { name: "gone" } });
    expect(await auth.authenticate(bearer(t))).toBeUndefined();
    expect((await reviewToken(auth, { token: t })).error).toContain("does not match claim");
  });

  test("pod- and secret-bound tokens end with their object; bad references are refused at issue", async () => {
    const pod = await registry.create(ctx, kind("Pod"), "default", { metadata: { name: "web" }, spec: { serviceAccountName: "app", containers: [{ name: "c", image: "x" }] } });
    const sec = await registry.create(ctx, kind("Secret"), "default", { metadata: { name: "s" }, data: {} });
    const tp = await issue("app", { boundObjectRef: { kind: "Pod", apiVersion: "v1", name: "web", uid: pod.metadata.uid } });
    const ts = await issue("app", { boundObjectRef: { kind: "Secret", name: "s" } });
    const id = await auth.authenticate(bearer(tp));
    expect(id?.extra?.["authentication.kubernetes.io/pod-name"]).toEqual(["web"]);
    expect(await auth.authenticate(bearer(ts))).toBeDefined();
    expect((await rejection(issue("other", { boundObjectRef: { kind: "Pod", name: "web" } }))).message).toContain("different serviceaccount name");
    expect((await rejection(issue("app", { boundObjectRef: { kind: "Pod", name: "web", uid: "stale" } }))).message).toContain("does not match the UID in record");
    expect((await rejection(issue("app", { boundObjectRef: { kind: "Pod", name: "nope" } }))).message).toContain('pods "nope" not found');
    await registry.delete(ctx, kind("Pod"), "default", "web", { gracePeriodSeconds: 0 });
    await registry.delete(ctx, kind("Secret"), "default", "s", {});
    expect(await auth.authenticate(bearer(tp))).toBeUndefined();
    expect(await auth.authenticate(bearer(ts))).toBeUndefined();
  });

  test("join tokens authenticate as join-only identities, from the cluster's hashes once stored", async () => {
    const a = new Authenticator({ adminToken: "admin", tokenKey: key, localJoinSecrets: () => ({ server: "s".repeat(20), agent: "a".repeat(20) }) });
    expect((await a.authenticate(bearer("a".repeat(20))))?.join).toBe("agent");
    expect((await a.authenticate(bearer(`K10${"0".repeat(64)}::server:${"s".repeat(20)}`)))?.join).toBe("server");
    expect(await a.authenticate(bearer("x".repeat(20)))).toBeUndefined();
    expect((await reviewToken(a, { token: "s".repeat(20) })).authenticated).toBe(false);
  });
});
