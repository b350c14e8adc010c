// The whole HTTP app over a real Store and registry in this process (no server, no TLS), for
// unit tests that call the API as a client would: one bootstrap, one admin token.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bootstrap } from "../../server/bootstrap";
import { newRegistry } from "../../server/registry/index";
import type { Registry } from "../../server/registry/registry";
import { Store } from "../../server/store/store";

export interface TestApp {
  store: Store;
  registry: Registry;
  /** The token key service-account tokens are signed with. */
  key: Uint8Array;
  fetch: (r: Request) => Response | Promise<Response>;
  /** A JSON request as `token` (default: the admin token); the body comes back parsed (or undefined). */
  call(method: string, path: string, body?: unknown, opts?: { token?: string; contentType?: string }): Promise<{ status: number; body: any }>;
  close(): void;
}

export const TEST_ADMIN_TOKEN = "admin";

export async function startTestApp(label: string): Promise<TestApp> {
  const { createApp } = await import("../../server/api/app");
  const { Authenticator } = await import("../../server/auth/authn");
  const dir = mkdtempSync(join(tmpdir(), `skiff-${label}-`));
  const store = new Store({ dataDir: dir });
  const registry = newRegistry(store);
  await bootstrap(registry);
  const key = new Uint8Array(32).fill(7);
  const auth = new Authenticator({ adminToken: TEST_ADMIN_TOKEN, tokenKey: key, localJoinSecrets: () => ({ server: "join-secret" }) });
  auth.attach(store);
  const app = createApp({ store, registry, tokenKey: key }, { serverAddress: () => "127.0.0.1:6443", auth, caPem: "" });
  return {
    store,
    registry,
    key,
    fetch: (r) => app.fetch(r),
    async call(method, path, body, opts = {}) {
      const headers = { authorization: `Bearer ${opts.token ?? TEST_ADMIN_TOKEN}`, "content-type": opts.contentType ?? "application/json" };
      const r = await app.fetch(new Request(`https://127.0.0.1:6443${path}`, { method, headers, body: body ? JSON.stringify(body) : undefined }));
      return { status: r.status, body: (await r.json().catch(() => undefined)) as any };
    },
    close() {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
