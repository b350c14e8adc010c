// Issue 14 acceptance 2: admission webhooks served by a pod behind a Service. A validating
// webhook denies and a mutating webhook labels ConfigMaps; with the webhook down,
// failurePolicy Fail refuses and failurePolicy Ignore admits. The webhook server is the host's
// bun (and the libraries it links) mounted into a busybox pod; the API server reaches the pod
// over the node network and checks its certificate against caBundle for hooks.webhooks.svc.
import { containerdSkipReason } from "../harness/containerd.ts";
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { stringify } from "yaml";
import { BUSYBOX_IMAGE } from "../images/builder.ts";
import { describeResult, kubectl } from "../harness/kubectl.ts";
import { BUN, REPO, type SkiffServer } from "../harness/server.ts";
import { until } from "../harness/wait.ts";
import { issue, makeCa } from "../../server/tls/pki.ts";
import { cleanupLocalNode, startEmbeddedNode, type LocalNode } from "../harness/local-node.ts";

setDefaultTimeout(180_000);

const NODE = "hooks-e2e";
const BRIDGE = "skiffwh0";
const reason = containerdSkipReason(import.meta.path);

/** Directories holding bun's dynamic loader and libraries, as ldd names them. */
function libraryDirs(bin: string): string[] {
  const out = spawnSync("ldd", [bin], { encoding: "utf8" }).stdout;
  const dirs = new Set<string>();
  for (const m of out.matchAll(/(\/\S+)\s+\(0x/g)) dirs.add(dirname(m[1]!));
  return [...dirs];
}

describe.skipIf(reason !== null)("admission webhooks served by a pod", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "skiff-hooks-"));
  const hookDir = mkdtempSync(join(tmpdir(), "skiff-hookpod-"));
  const cgroupRoot = `/skiff-hooks-${process.pid}`;
  const bridgeBefore = existsSync(`/sys/class/net/${BRIDGE}`);
  const node: LocalNode = { dataDir, bridge: BRIDGE, cgroupRoot, bridgeBefore };
  let srv: SkiffServer;
  let caBundle = "";

  const k = async (args: string[], stdin?: string) => {
    const r = await kubectl(srv, args, { stdin });
    if (r.code !== 0) throw new Error(`${describeResult(r)}\n${srv.logTail(30)}`);
    return r;
  };
  const apply = (docs: any[]) => k(["apply", "-f", "-"], docs.map((d) => stringify(d)).join("---\n"));
  const waitFor = <T>(what: string, f: () => Promise<T | undefined | false>, ms = 90_000) => until(what, f, ms, 250, () => srv.logTail(30));

  const webhooks = (failurePolicy: "Fail" | "Ignore") => {
    const base = (path: string) => ({
      clientConfig: { service: { namespace: "webhooks", name: "hooks", path, port: 443 }, caBundle },
      rules: [{ operations: ["CREATE", "UPDATE"], apiGroups: [""], apiVersions: ["v1"], resources: ["configmaps"], scope: "Namespaced" }],
      namespaceSelector: { matchLabels: { "webhook-test": "enabled" } },
      failurePolicy,
      sideEffects: "None",
      admissionReviewVersions: ["v1"],
      timeoutSeconds: 5,
    });
    return [
      { apiVersion: "admissionregistration.k8s.io/v1", kind: "ValidatingWebhookConfiguration", metadata: { name: "deny-configmaps" }, webhooks: [{ name: "deny.hooks.test", ...base("/validate") }] },
      { apiVersion: "admissionregistration.k8s.io/v1", kind: "MutatingWebhookConfiguration", metadata: { name: "label-configmaps" }, webhooks: [{ name: "label.hooks.test", ...base("/mutate") }] },
    ];
  };

  beforeAll(async () => {
    const ca = await makeCa();
    const leaf = await issue(ca, { cn: "hooks.webhooks.svc", dnsNames: ["hooks.webhooks.svc"], server: true });
    writeFileSync(join(hookDir, "tls.crt"), leaf.cert);
    writeFileSync(join(hookDir, "tls.key"), leaf.key);
    copyFileSync(join(REPO, "test/fixtures/webhook-server.ts"), join(hookDir, "server.ts"));
    caBundle = Buffer.from(ca.cert).toString("base64");
    srv = await startEmbeddedNode(node, { name: "hooks", nodeName: NODE });
  });

  afterAll(async () => {
    try {
      await kubectl(srv, ["delete", "pod", "--all", "-n", "webhooks", "--grace-period=1", "--timeout=30s"]).catch(() => {});
      await srv?.stop();
    } finally {
      await cleanupLocalNode(node);
      rmSync(hookDir, { recursive: true, force: true });
    }
  });

  test("a validating webhook denies and a mutating webhook labels ConfigMaps, through a Service backed by a pod", async () => {
    await waitFor("node Ready", async () => {
      const n = JSON.parse((await k(["get", "node", NODE, "-o", "json"])).stdout);
      return n.status?.conditions?.find((c: any) => c.type === "Ready")?.status === "True";
    });
    const bun = realpathSync(BUN);
    const mounts = [
      { name: "bun", host: dirname(bun), at: "/opt/bun" },
      { name: "hook", host: hookDir, at: "/opt/hook" },
      ...libraryDirs(bun).map((d, i) => ({ name: `lib${i}`, host: d, at: d })),
    ];
    await apply([
      { apiVersion: "v1", kind: "Namespace", metadata: { name: "webhooks" } },
      { apiVersion: "v1", kind: "Namespace", metadata: { name: "target", labels: { "webhook-test": "enabled" } } },
      { apiVersion: "v1", kind: "Service", metadata: { name: "hooks", namespace: "webhooks" }, spec: { selector: { app: "hooks" }, ports: [{ name: "https", port: 443, targetPort: 8443 }] } },
      {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "hooks", namespace: "webhooks", labels: { app: "hooks" } },
        spec: {
          containers: [
            {
              name: "hooks",
              image: BUSYBOX_IMAGE,
              imagePullPolicy: "IfNotPresent",
              command: [`/opt/bun/${bun.split("/").pop()}`, "/opt/hook/server.ts", "/opt/hook/tls.crt", "/opt/hook/tls.key", "8443"],
              env: [{ name: "HOME", value: "/tmp" }],
              readinessProbe: { tcpSocket: { port: 8443 }, periodSeconds: 1 },
              volumeMounts: mounts.map((m) => ({ name: m.name, mountPath: m.at, readOnly: true })),
            },
          ],
          volumes: mounts.map((m) => ({ name: m.name, hostPath: { path: m.host, type: "Directory" } })),
        },
      },
    ]);
    await waitFor("webhook endpoint ready", async () => {
      const ep = JSON.parse((await k(["get", "endpoints", "hooks", "-n", "webhooks", "-o", "json"])).stdout);
      return (ep.subsets ?? []).some((s: any) => (s.addresses ?? []).length > 0);
    });
    await apply(webhooks("Fail"));

    const created = await k(["create", "configmap", "plain", "-n", "target", "--from-literal=a=1"]);
    expect(created.stderr).toContain("validated by the pod webhook");
    const cm = JSON.parse((await k(["get", "configmap", "plain", "-n", "target", "-o", "json"])).stdout);
    expect(cm.metadata.labels).toEqual({ "webhook.test/mutated": "yes" });

    const denied = await kubectl(srv, ["apply", "-f", "-"], { stdin: stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "denied", namespace: "target", labels: { deny: "true" } }, data: { a: "1" } }) });
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toContain('admission webhook "deny.hooks.test" denied the request: configmap denied carries deny=true');
    expect((await kubectl(srv, ["get", "configmap", "denied", "-n", "target"])).code).not.toBe(0);

    // Outside the selected namespaces nothing is sent.
    await k(["create", "configmap", "elsewhere", "-n", "default", "--from-literal=a=1"]);
    const other = JSON.parse((await k(["get", "configmap", "elsewhere", "-n", "default", "-o", "json"])).stdout);
    expect(other.metadata.labels).toBeUndefined();
  });

  test("with the webhook down, failurePolicy Fail refuses and Ignore admits", async () => {
    await k(["delete", "pod", "hooks", "-n", "webhooks", "--grace-period=1", "--timeout=60s"]);
    await waitFor("endpoint gone", async () => {
      const ep = JSON.parse((await k(["get", "endpoints", "hooks", "-n", "webhooks", "-o", "json"])).stdout);
      return !(ep.subsets ?? []).some((s: any) => (s.addresses ?? []).length > 0);
    });
    const refused = await kubectl(srv, ["create", "configmap", "while-down", "-n", "target", "--from-literal=a=1"]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('failed calling webhook "label.hooks.test"');

    await apply(webhooks("Ignore"));
    await k(["create", "configmap", "while-down", "-n", "target", "--from-literal=a=1"]);
    const cm = JSON.parse((await k(["get", "configmap", "while-down", "-n", "target", "-o", "json"])).stdout);
    expect(cm.metadata.labels).toBeUndefined();
  });
});
