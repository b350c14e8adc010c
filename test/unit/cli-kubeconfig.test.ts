import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { kubeconfigPaths, loadKubeconfig, KubeconfigError } from "../../lib/kubeconfig";
import { KubeClient } from "../../lib/client";
import { rejection } from "../harness/rejection.ts";

const dir = mkdtempSync(join(tmpdir(), "skiff-kc-"));
const homes: string[] = [];
afterAll(() => {
  for (const d of [dir, ...homes]) rmSync(d, { recursive: true, force: true });
});
const b64 = (s: string) => Buffer.from(s).toString("base64");

function write(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

const main = write(
  "main.yaml",
  `apiVersion: v1
kind: Config
current-context: skiff
clusters:
- name: skiff
  cluster:
    server: https://127.0.0.1:6443/
    certificate-authority-data: ${b64("CA-PEM")}
- name: other
  cluster:
    server: http://10.0.0.1:8080
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    client-certificate-data: ${b64("CERT-PEM")}
    client-key: key.pem
- name: tok
  user:
    token: abc
contexts:
- name: skiff
  context: {cluster: skiff, user: admin}
- name: other
  context: {cluster: other, user: tok, namespace: kube-system}
`,
);
write("key.pem", "KEY-PEM");

describe("kubeconfig", () => {
  test("current context: server, CA data, cert data, key file relative to the kubeconfig", () => {
    const c = loadKubeconfig({ path: main });
    expect(c.server).toBe("https://127.0.0.1:6443");
    expect(c.ca).toBe("CA-PEM");
    expect(c.cert).toBe("CERT-PEM");
    expect(c.key).toBe("KEY-PEM");
    expect(c.namespace).toBe("default");
    expect(c.contextName).toBe("skiff");
  });
  test("--context, token, namespace, insecure", () => {
    const c = loadKubeconfig({ path: main, context: "other" });
    expect(c).toMatchObject({ server: "http://10.0.0.1:8080", token: "abc", namespace: "kube-system", insecureSkipTLSVerify: true });
    expect(() => loadKubeconfig({ path: main, context: "nope" })).toThrow(KubeconfigError);
    expect(() => loadKubeconfig({ path: join(dir, "missing") })).toThrow(KubeconfigError);
  });
  test("KUBECONFIG list merges, first file wins", () => {
    const second = write(
      "second.yaml",
      `current-context: other
clusters:
- name: skiff
  cluster: {server: https://ignored:1}
- name: extra
  cluster: {server: https://extra:6443}
users: [{name: u, user: {token: t}}]
contexts: [{name: extra, context: {cluster: extra, user: u}}]
`,
    );
    const env = { KUBECONFIG: `${main}:${join(dir, "absent")}:${second}`, HOME: dir };
    expect(kubeconfigPaths({ env })).toEqual([main, second]);
    expect(loadKubeconfig({ env }).server).toBe("https://127.0.0.1:6443");
    expect(loadKubeconfig({ env, context: "extra" })).toMatchObject({ server: "https://extra:6443", token: "t" });
  });
  test("fallbacks: ~/.kube/config, then ~/.skiff/kubeconfig.yaml", () => {
    const home = mkdtempSync(join(tmpdir(), "skiff-home-"));
    homes.push(home);
    mkdirSync(join(home, ".skiff"));
    writeFileSync(join(home, ".skiff", "kubeconfig.yaml"), "clusters: []");
    const paths = kubeconfigPaths({ env: { HOME: home }, home });
    // /var/lib/skiff/kubeconfig.yaml wins when it exists on this machine.
    expect([join(home, ".skiff", "kubeconfig.yaml"), "/var/lib/skiff/kubeconfig.yaml"]).toContain(paths[0]!);
    mkdirSync(join(home, ".kube"));
    writeFileSync(join(home, ".kube", "config"), "clusters: []");
    expect(kubeconfigPaths({ env: { HOME: home }, home })).toEqual([join(home, ".kube", "config")]);
  });
  test("client sends bearer token and builds URLs", async () => {
    const seen: Record<string, string | null> = {};
    const srv = Bun.serve({
      port: 0,
      fetch(req) {
        seen.auth = req.headers.get("authorization");
        seen.url = new URL(req.url).pathname + new URL(req.url).search;
        if (new URL(req.url).searchParams.get("watch")) {
          return new Response('{"type":"ADDED","object":{"metadata":{"name":"a"}}}\n{"type":"DELETED","obj' + 'ect":{"metadata":{"name":"a"}}}\n');
        }
        return new Response(JSON.stringify({ kind: "Status", code: 404, reason: "NotFound", message: 'pods "x" not found' }), { status: 404 });
      },
    });
    try {
      const c = new KubeClient({ server: `http://127.0.0.1:${srv.port}`, token: "abc", namespace: "default", sources: [] });
      expect(await rejection(c.get("/api/v1/namespaces/default/pods/x"))).toMatchObject({ code: 404, reason: "NotFound" });
      expect(seen.auth).toBe("Bearer abc");
      const evs: string[] = [];
      await c.watch("/api/v1/pods", { labelSelector: "a=b" }, (e) => void evs.push(`${e.type}:${e.object.metadata.name}`));
      expect(evs).toEqual(["ADDED:a", "DELETED:a"]);
      expect(seen.url).toBe("/api/v1/pods?labelSelector=a%3Db&watch=true");
    } finally {
      srv.stop(true);
    }
  });
});
