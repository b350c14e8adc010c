// Issue 10, acceptance 2 through NodeRestriction and the Node authorizer, against a real
// `skiff server` process: a real node credential (joined with the agent token) and kubectl
// impersonating the node. No agent runs: every answer here is the API server's.
//   - pods: only mirror pods bound to itself, which may not use secrets (of any namespace);
//   - secrets: only those of pods bound to it, never another namespace's secret of the same name;
//   - Node and Lease: only its own;
//   - CONNECT (exec/attach/port-forward): admission sees it; even with a role granting pods/exec,
//     a node reaches only the pods bound to it.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { joinCluster, type NodeCredentials } from "../../lib/join";
import { startServer, type SkiffServer } from "../harness/server";
import { describeResult, kubectl } from "../harness/kubectl";

setDefaultTimeout(60_000);

const A = "nr-a";
const B = "nr-b";
let srv: SkiffServer;
let dir: string;
let creds: NodeCredentials;

const api = (path: string, init: RequestInit = {}) => srv.fetch(path, { ...init, headers: { "content-type": "application/json", ...(init.headers ?? {}) } });
const asNode = (path: string, init: RequestInit = {}) =>
  fetch(`${srv.url}${path}`, { ...init, headers: { authorization: `Bearer ${creds.token}`, "content-type": "application/json", ...(init.headers ?? {}) }, tls: srv.creds.tls } as RequestInit);
const AS = ["--as", `system:node:${A}`, "--as-group", "system:nodes"];

async function created(path: string, obj: unknown): Promise<void> {
  const r = await api(path, { method: "POST", body: JSON.stringify(obj) });
  expect(r.status, `${path}: ${await r.clone().text()}`).toBe(201);
}

const podOn = (name: string, node: string, ns: string, secret: string) => ({
  metadata: { name, namespace: ns },
  spec: { nodeName: node, containers: [{ name: "c", image: "busybox", env: [{ name: "S", valueFrom: { secretKeyRef: { name: secret, key: "k" } } }] }] },
});

beforeAll(async () => {
  srv = await startServer({ name: "sec-nr" });
  dir = mkdtempSync(join(tmpdir(), "skiff-sec-nr-"));
  const agentToken = readFileSync(join(srv.dataDir, "server/agent-token"), "utf8").trim();
  creds = await joinCluster({ server: srv.url, token: agentToken, nodeName: A, credFile: join(dir, "a.json"), nodePassword: "a".repeat(32) });
  for (const n of [A, B]) await created("/api/v1/nodes", { metadata: { name: n } });
  await created("/api/v1/namespaces", { metadata: { name: "nr-other" } });
  // "mine" is used by a pod on A; "theirs" by a pod on B; nr-other/mine has the name of A's secret.
  for (const [ns, name] of [["default", "mine"], ["default", "theirs"], ["nr-other", "mine"]]) await created(`/api/v1/namespaces/${ns}/secrets`, { metadata: { name }, stringData: { k: `${ns}/${name}` } });
  await created("/api/v1/namespaces/default/pods", podOn("on-a", A, "default", "mine"));
  await created("/api/v1/namespaces/default/pods", podOn("on-b", B, "default", "theirs"));
});
afterAll(async () => {
  await srv?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("a node credential (system:node:nr-a)", () => {
  test("is a real node identity", async () => {
    const r = await asNode("/apis/authentication.k8s.io/v1/selfsubjectreviews", { method: "POST", body: JSON.stringify({ apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" }) });
    const j: any = await r.json();
    expect(j.status?.userInfo?.username, JSON.stringify(j)).toBe(`system:node:${A}`);
    expect(j.status.userInfo.groups).toContain("system:nodes");
  });

  test("reads the secret of its own pod only: not another node's pod's, not the same name in another namespace", async () => {
    expect((await asNode("/api/v1/namespaces/default/secrets/mine")).status).toBe(200);
    const theirs = await asNode("/api/v1/namespaces/default/secrets/theirs");
    expect(theirs.status).toBe(403);
    expect(((await theirs.json()) as any).message).toContain(`User "system:node:${A}" cannot get resource "secrets"`);
    expect((await asNode("/api/v1/namespaces/nr-other/secrets/mine")).status).toBe(403);
    expect((await asNode("/api/v1/namespaces/nr-other/secrets")).status).toBe(403);
    expect((await asNode("/api/v1/secrets")).status).toBe(403);
    // A watch is a read too: refused for the other namespace's secret.
    expect((await asNode("/api/v1/namespaces/nr-other/secrets?watch=1&fieldSelector=metadata.name%3Dmine")).status).toBe(403);
    for (const [ns, name] of [["default", "theirs"], ["nr-other", "mine"]]) {
      const k = await kubectl(srv, ["get", "secret", name, "-n", ns, ...AS]);
      expect(k.code, describeResult(k)).not.toBe(0);
      expect(k.stderr, describeResult(k)).toContain("Forbidden");
    }
    expect((await kubectl(srv, ["get", "secret", "mine", ...AS])).code).toBe(0);
  });

  test("cannot create a pod bound to another node, nor a mirror pod that uses a secret (another namespace's or its own)", async () => {
    const mirror = (name: string, node: string, ns: string, spec: any = {}) => ({
      metadata: { name, namespace: ns, annotations: { "kubernetes.io/config.mirror": "x" } },
      spec: { nodeName: node, containers: [{ name: "c", image: "busybox" }], ...spec },
    });
    const post = (ns: string, obj: unknown) => asNode(`/api/v1/namespaces/${ns}/pods`, { method: "POST", body: JSON.stringify(obj) });
    const cases: [string, string, unknown, RegExp][] = [
      ["a mirror pod bound to another node", "default", mirror("m-b", B, "default"), /can only create pods with spec.nodeName set to itself/],
      ["a plain (non-mirror) pod bound to itself", "default", { metadata: { name: "plain" }, spec: { nodeName: A, containers: [{ name: "c", image: "busybox" }] } }, /can only create mirror pods/],
      ["a mirror pod mounting another namespace's secret", "nr-other", mirror("m-sec", A, "nr-other", { volumes: [{ name: "s", secret: { secretName: "mine" } }] }), /secrets/],
      ["a mirror pod with an env secretKeyRef", "default", mirror("m-env", A, "default", { containers: [{ name: "c", image: "busybox", env: [{ name: "S", valueFrom: { secretKeyRef: { name: "theirs", key: "k" } } }] }] }), /secrets/],
    ];
    for (const [what, ns, obj, msg] of cases) {
      const r = await post(ns, obj);
      const body: any = await r.json();
      expect(r.status, `${what}: ${JSON.stringify(body)}`).toBe(403);
      expect(body.message, what).toMatch(msg);
    }
    // The allowed case, so the refusals above are NodeRestriction's and not a blanket 403.
    const ok = await post("default", mirror("m-ok", A, "default"));
    expect(ok.status, await ok.clone().text()).toBe(201);
    const k = await kubectl(srv, ["run", "k-b", "--image=busybox", "--overrides", JSON.stringify({ spec: { nodeName: B } }), ...AS]);
    expect(k.stderr, describeResult(k)).toContain("Forbidden");
  });

  test("cannot touch another node's Node or Lease", async () => {
    const lease = { apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name: B, namespace: "kube-node-lease" }, spec: { holderIdentity: B } };
    await created("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", lease);
    const patch = { method: "PATCH", headers: { "content-type": "application/merge-patch+json" }, body: JSON.stringify({ metadata: { labels: { x: "y" } } }) };
    expect((await asNode(`/api/v1/nodes/${B}`, patch)).status).toBe(403);
    expect((await asNode(`/api/v1/nodes/${B}/status`, patch)).status).toBe(403);
    expect((await asNode(`/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${B}`, patch)).status).toBe(403);
    expect((await asNode(`/api/v1/nodes/${A}`, patch)).status).toBe(200);
  });

  test("exec, attach and port-forward: refused by authorization, and by CONNECT admission for another node's pod even when a role grants them", async () => {
    const exec = (pod: string, sub = "exec", q = "command=sh&stdout=1") => asNode(`/api/v1/namespaces/default/pods/${pod}/${sub}?${q}`, { method: "POST" });
    // No role: the Node authorizer and RBAC refuse before admission.
    const r0 = await exec("on-b");
    expect(r0.status).toBe(403);
    expect(((await r0.json()) as any).message).toContain("cannot create resource \"pods/exec\"");
    // A role granting the node exec/attach/port-forward (as a careless admin might).
    await created("/apis/rbac.authorization.k8s.io/v1/clusterroles", { metadata: { name: "nr-exec" }, rules: [{ apiGroups: [""], resources: ["pods/exec", "pods/attach", "pods/portforward"], verbs: ["create", "get"] }] });
    await created("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
      metadata: { name: "nr-exec" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "nr-exec" },
      subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: `system:node:${A}` }],
    });
    for (const [sub, q] of [["exec", "command=sh&stdout=1"], ["attach", "stdout=1"], ["portforward", "ports=80"]] as const) {
      const other = await exec("on-b", sub, q);
      const body: any = await other.json();
      expect(other.status, `${sub} into another node's pod: ${JSON.stringify(body)}`).toBe(403);
      expect(body.message).toContain(`node "${A}" can only ${sub} into pods with spec.nodeName set to itself`);
      // Its own pod passes admission: the answer is the stream handler's (no upgrade sent), not a 403.
      const own = await exec("on-a", sub, q);
      expect(own.status, `${sub} into its own pod: ${await own.clone().text()}`).toBe(400);
      expect(((await own.json()) as any).message).toContain("Upgrade request required");
    }
    // kubectl (a real WebSocket/SPDY upgrade) impersonating the node gets the admission refusal too.
    const k = await kubectl(srv, ["exec", "on-b", ...AS, "--", "true"]);
    expect(k.code, describeResult(k)).not.toBe(0);
    expect(k.stderr, describeResult(k)).toContain(`can only exec into pods with spec.nodeName set to itself`);
  });
});
