// The README's first command: one `skiff server` is a working single-node cluster. The server's
// embedded agent registers the node with its own node credentials (Node authorizer + RBAC),
// runs a pod on a real containerd, and kubectl logs / exec / top reach it through the tunnel.
//
// Skipped (with the reason printed) when not root or containerd/runc/CNI cannot be installed.
import { containerdSkipReason } from "../harness/containerd.ts";
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUSYBOX_IMAGE } from "../images/builder.ts";
import { describeResult, kubectl } from "../harness/kubectl.ts";
import { type SkiffServer } from "../harness/server.ts";
import { until } from "../harness/wait.ts";
import { cleanupLocalNode, startEmbeddedNode, type LocalNode } from "../harness/local-node.ts";

setDefaultTimeout(120_000);

const NODE = "single-e2e";
const BRIDGE = "skiffsn0";
const reason = containerdSkipReason(import.meta.path);

describe.skipIf(reason !== null)("skiff server alone is a single-node cluster", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "skiff-single-"));
  const cgroupRoot = `/skiff-single-${process.pid}`;
  const bridgeBefore = existsSync(`/sys/class/net/${BRIDGE}`);
  const node: LocalNode = { dataDir, bridge: BRIDGE, cgroupRoot, bridgeBefore };
  let srv: SkiffServer;

  const k = async (args: string[]) => {
    const r = await kubectl(srv, args);
    if (r.code !== 0) throw new Error(`${describeResult(r)}\n${srv.logTail(30)}`);
    return r.stdout;
  };
  const waitFor = <T>(what: string, f: () => Promise<T | undefined | false>, ms = 60_000) => until(what, f, ms, 250, () => srv.logTail(30));

  beforeAll(async () => {
    srv = await startEmbeddedNode(node, { name: "single", nodeName: NODE });
  });

  afterAll(async () => {
    try {
      // The agent removes the pod's sandbox (netns, IP, cgroups) once the pod is deleted.
      await kubectl(srv, ["delete", "pod", "--all", "--grace-period=1", "--timeout=30s"]).catch(() => {});
      await srv?.stop();
    } finally {
      await cleanupLocalNode(node);
    }
  });

  test("the node goes Ready, a pod runs, logs / exec / top work", async () => {
    await waitFor("node Ready", async () => {
      const n = JSON.parse(await k(["get", "node", NODE, "-o", "json"]));
      return n.status?.conditions?.find((c: any) => c.type === "Ready")?.status === "True";
    });
    await k(["run", "hello", `--image=${BUSYBOX_IMAGE}`, "--image-pull-policy=IfNotPresent", "--restart=Never", "--", "sh", "-c", "echo hello-from-single; exec sleep 3600"]);
    await waitFor("pod Running", async () => (await k(["get", "pod", "hello", "-o", "jsonpath={.status.phase}"])) === "Running");
    expect(await waitFor("logs", async () => (await k(["logs", "hello"])) || undefined)).toBe("hello-from-single\n");
    expect(await k(["exec", "hello", "--", "cat", "/proc/1/cmdline"])).toContain("sleep");
    const top = await waitFor("kubectl top pod", async () => {
      const r = await kubectl(srv, ["top", "pod", "hello", "--no-headers"]);
      return r.code === 0 && r.stdout;
    });
    expect(top).toMatch(/^hello\s+\d+m\s+\d+Mi/);
    // In-cluster credentials (ServiceAccount admission + the node's TokenRequest + the root CA
    // publisher): the pod's token is a real, bound token of system:serviceaccount:default:default.
    const sa = "/var/run/secrets/kubernetes.io/serviceaccount";
    expect(await k(["exec", "hello", "--", "cat", `${sa}/namespace`])).toBe("default");
    expect(await k(["exec", "hello", "--", "cat", `${sa}/ca.crt`])).toBe(srv.creds.tls?.ca ?? "no CA in the kubeconfig");
    const podToken = (await k(["exec", "hello", "--", "cat", `${sa}/token`])).trim();
    const asPod = (path: string) => fetch(`${srv.url}${path}`, { headers: { authorization: `Bearer ${podToken}` }, tls: { ca: srv.creds.tls!.ca } } as any);
    expect((await asPod("/api")).status).toBe(200);
    const denied = await asPod("/api/v1/namespaces/default/secrets");
    expect(denied.status).toBe(403);
    expect(((await denied.json()) as any).message).toContain('User "system:serviceaccount:default:default" cannot list resource "secrets"');
    // The node keeps its Lease (written under its own node credentials, which RBAC must allow).
    const lease = JSON.parse(await k(["get", "lease", NODE, "-n", "kube-node-lease", "-o", "json"]));
    expect(lease.spec.holderIdentity).toBe(NODE);
  });
});
