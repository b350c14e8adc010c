// The dashboard's pure parts: where a server field error sits in the YAML text, what the editor
// shows, the sign-in's token extraction, and how the server serves the built assets.
import { beforeAll, describe, expect, test } from "bun:test";
import type { IncomingMessage } from "node:http";
import { tokenFrom } from "../../dashboard/src/kubeconfig";
import { forEdit, parseFieldPath, parseYaml, toYaml } from "../../dashboard/src/yaml";
import { buildDashboard, dashboardFresh } from "../../server/dashboard/build";
import { isDashboardPath, serveDashboard } from "../../server/dashboard";
import { isWatchUpgrade } from "../../server/dashboard/watch-socket";

describe("field paths in YAML", () => {
  test("Kubernetes field paths split into keys and indexes; bracketed keys may hold dots", () => {
    expect(parseFieldPath("spec.template.spec.containers[0].name")).toEqual(["spec", "template", "spec", "containers", 0, "name"]);
    expect(parseFieldPath("metadata.labels[app.kubernetes.io/name]")).toEqual(["metadata", "labels", "app.kubernetes.io/name"]);
    expect(parseFieldPath("spec.ports[1]")).toEqual(["spec", "ports", 1]);
  });

  const text = toYaml({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web", labels: { "app.kubernetes.io/name": "web" } },
    spec: { replicas: -1, template: { spec: { containers: [{ name: "a", image: "x" }, { name: "b" }] } } },
  });
  const lines = text.split("\n");
  const p = parseYaml(text);

  test("a field's own line when it is in the text", () => {
    expect(lines[p.lineOf("spec.replicas")!.line]).toBe("  replicas: -1");
    expect(p.lineOf("spec.replicas")!.exact).toBe(true);
    expect(lines[p.lineOf("spec.template.spec.containers[0].image")!.line]!.trim()).toBe("image: x");
    expect(lines[p.lineOf("metadata.labels[app.kubernetes.io/name]")!.line]!.trim()).toBe("app.kubernetes.io/name: web");
  });

  test("a missing field (Required value) points at its nearest ancestor in the text", () => {
    const at = p.lineOf("spec.template.spec.containers[1].image")!;
    expect(at.exact).toBe(false);
    expect(lines[at.line]!.trim()).toBe("- name: b");
    expect(p.lineOf("status.replicas")).toBeUndefined();
  });

  test("syntax errors are reported with their line, and no value", () => {
    const bad = parseYaml("a: 1\nb: [1, 2\nc: 3\n");
    expect(bad.value).toBeUndefined();
    expect(bad.errors.length).toBeGreaterThan(0);
    expect(bad.errors[0]!.line).toBeGreaterThanOrEqual(1);
  });

  test("the editable text drops status and server bookkeeping but keeps resourceVersion (a stale edit is refused)", () => {
    const o = forEdit({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "c", uid: "u", resourceVersion: "7", generation: 2, creationTimestamp: "t", managedFields: [{}] },
      data: { a: "b" },
      status: { x: 1 },
    });
    expect(o).toEqual({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", resourceVersion: "7" }, data: { a: "b" } });
  });
});

describe("sign-in token", () => {
  test("a bare token, with or without 'Bearer '", () => {
    expect(tokenFrom("  abc.def  ")).toBe("abc.def");
    expect(tokenFrom("Bearer abc")).toBe("abc");
  });

  test("a kubeconfig gives its current context's user token", () => {
    const kc = `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://x:6443"}}]
contexts:
- {name: one, context: {cluster: c, user: u1}}
- {name: two, context: {cluster: c, user: u2}}
current-context: two
users:
- {name: u1, user: {token: first}}
- {name: u2, user: {token: second}}
`;
    expect(tokenFrom(kc)).toBe("second");
  });

  test("a certificate-only kubeconfig is refused with what to do instead", () => {
    const kc = `apiVersion: v1
clusters: []
contexts: [{name: a, context: {user: u}}]
current-context: a
users: [{name: u, user: {client-certificate-data: AAAA, client-key-data: BBBB}}]
`;
    expect(() => tokenFrom(kc)).toThrow(/no token/);
  });
});

describe("serving the dashboard", () => {
  beforeAll(async () => {
    if (!dashboardFresh()) await buildDashboard();
  });
  const get = (path: string, headers: Record<string, string> = {}) => serveDashboard(new Request(`https://node:6443${path}`, { headers }));

  test("only /dashboard and below are the dashboard's", () => {
    expect(isDashboardPath("/dashboard")).toBe(true);
    expect(isDashboardPath("/dashboard/app.js")).toBe(true);
    expect(isDashboardPath("/dashboards")).toBe(false);
    expect(isDashboardPath("/api/v1/pods")).toBe(false);
  });

  test("/dashboard redirects to /dashboard/, which is the page, gzipped when asked, with a strict CSP", async () => {
    const r = await get("/dashboard");
    expect(r.status).toBe(301);
    expect(r.headers.get("location")).toBe("/dashboard/");
    const gz = await get("/dashboard/", { "accept-encoding": "gzip, deflate" });
    expect(gz.status).toBe(200);
    expect(gz.headers.get("content-encoding")).toBe("gzip");
    expect(gz.headers.get("content-security-policy")).toContain("script-src 'self'");
    const html = new TextDecoder().decode(Bun.gunzipSync(new Uint8Array(await gz.arrayBuffer())));
    expect(html).toContain('src="app.js"');
    const plain = await get("/dashboard/");
    expect(plain.headers.get("content-encoding")).toBeNull();
    expect(await plain.text()).toBe(html);
  });

  test("assets revalidate with their ETag; unknown names are 404", async () => {
    const r = await get("/dashboard/app.js", { "accept-encoding": "gzip" });
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toStartWith("text/javascript");
    const etag = r.headers.get("etag")!;
    expect((await get("/dashboard/app.js", { "if-none-match": etag })).status).toBe(304);
    expect((await get("/dashboard/secret.txt")).status).toBe(404);
    expect((await get("/dashboard/../server/token")).status).toBe(404);
  });

  test("watch upgrades are told apart from other WebSocket upgrades", () => {
    const req = (url: string, upgrade = "websocket", method = "GET") => ({ url, method, headers: { upgrade } }) as unknown as IncomingMessage;
    expect(isWatchUpgrade(req("/api/v1/pods?watch=1"))).toBe(true);
    expect(isWatchUpgrade(req("/apis/apps/v1/namespaces/a/deployments?watch=true&resourceVersion=5"))).toBe(true);
    expect(isWatchUpgrade(req("/api/v1/pods"))).toBe(false);
    expect(isWatchUpgrade(req("/api/v1/pods?watch=1", "spdy/3.1"))).toBe(false);
    expect(isWatchUpgrade(req("/dashboard/?watch=1"))).toBe(false);
    expect(isWatchUpgrade(req("/api/v1/pods?watch=1", "websocket", "POST"))).toBe(false);
  });
});
