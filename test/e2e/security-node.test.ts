// Issue 10 on a real node: an agent joined with the agent token and its node password (a real,
// expiring node credential renewed while the test runs), on a real containerd. A second machine
// taking the node's name is refused and the first keeps serving logs and exec; the node's
// credential reads only its pods' secrets and cannot touch another node's Node or Lease; a
// subPath through a symlink planted by an init container (`ln -s / vol/evil`) fails the
// container with a clear event and mounts nothing of the host; subPathExpr works.
//
// Skipped (with the reason printed) when not root or containerd/runc/CNI cannot be installed.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runAgent, type Agent } from "../../agent/main.ts";
import { mountsUnder } from "../../agent/volumes/mount.ts";
import { joinCluster, nodePassword, renewCredentials, type NodeCredentials } from "../../lib/join.ts";
import { containerdSkipReason } from "../harness/containerd.ts";
import { describeResult, kubectl } from "../harness/kubectl.ts";
import { startServer, type SkiffServer } from "../harness/server.ts";
import { BUSYBOX_IMAGE, busyboxImage } from "../images/builder.ts";
import { cleanupLocalNode, stopInProcessAgent, type LocalNode } from "../harness/local-node.ts";
import { rejection } from "../harness/rejection.ts";

setDefaultTimeout(120_000);

const NODE = "sec-node";
const BRIDGE = "skiffsc0";
const POD_CIDR = "10.93.0.0/24";
const TTL = 15;
const reason = containerdSkipReason(import.meta.path);

describe.skipIf(reason !== null)("a node joined with the agent token (real agent and containerd)", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "skiff-sec-node-"));
  const cgroupRoot = `/skiff-sec-node-${process.pid}`;
  const bridgeBefore = existsSync(`/sys/class/net/${BRIDGE}`);
  const node: LocalNode = { dataDir, bridge: BRIDGE, cgroupRoot, bridgeBefore };
  let srv: SkiffServer;
  let agent: Agent | undefined;
  let creds: NodeCredentials;
  let renewals = 0;
  let original: NodeCredentials;

  const api = (path: string, init: RequestInit = {}) => srv.fetch(path, { ...init, headers: { "content-type": "application/json", ...(init.headers ?? {}) } });
  const asNode = (path: string, init: RequestInit = {}) =>
    fetch(`${srv.url}${path}`, { ...init, headers: { authorization: `Bearer ${creds.token}`, "content-type": "application/json", ...(init.headers ?? {}) }, tls: srv.creds.tls } as RequestInit);

  async function waitFor<T>(what: string, f: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      const v = await f().catch(() => undefined);
      if (v !== undefined) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await Bun.sleep(250);
    }
  }

  const pod = (name: string, spec: string) => `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: default}
spec:
  nodeName: ${NODE}
  terminationGracePeriodSeconds: 1
${spec}`;

  beforeAll(async () => {
    srv = await startServer({ name: "sec-node", env: { SKIFF_NODE_TOKEN_TTL_SECONDS: String(TTL) } });
    mkdirSync(join(dataDir, "agent", "images"), { recursive: true });
    spawnSync("cp", [busyboxImage(), join(dataDir, "agent", "images", "busybox.tar")]);
    const agentToken = readFileSync(join(srv.dataDir, "server", "agent-token"), "utf8").trim();
    const password = nodePassword(dataDir);
    const credFile = join(dataDir, "agent", "credentials.json");
    creds = await joinCluster({ server: srv.url, token: agentToken, nodeName: NODE, credFile, nodePassword: password });
    original = creds;
    agent = await runAgent({
      server: creds.server,
      caData: creds.caData,
      token: creds.token,
      credentials: {
        expires: creds.expires,
        renew: async () => {
          creds = await renewCredentials(creds, password, credFile);
          renewals++;
          return creds;
        },
      },
      dataDir,
      nodeName: NODE,
      podCidr: POD_CIDR,
      nodeIp: "127.0.0.1",
      log: () => {},
      tuning: { bridge: BRIDGE, forcePodCidr: true, cgroupRoot, backoffInitialMs: 200, backoffMaxMs: 1000, relistMs: 200, serviceProxy: false },
    });
    // The secret the web pod uses, and one no pod on this node uses.
    for (const name of ["used", "unused"]) expect((await api("/api/v1/namespaces/default/secrets", { method: "POST", body: JSON.stringify({ metadata: { name }, stringData: { k: name } }) })).status).toBe(201);
    const manifests = [
      pod(
        "web",
        `  containers:
  - name: web
    image: ${BUSYBOX_IMAGE}
    command: ["sh", "-c", "echo started; while true; do echo tick; sleep 1; done"]
    env: [{name: S, valueFrom: {secretKeyRef: {name: used, key: k}}}]`,
      ),
      pod(
        "escape",
        `  volumes: [{name: vol, emptyDir: {}}]
  initContainers:
  - name: plant
    image: ${BUSYBOX_IMAGE}
    command: ["sh", "-c", "ln -s / /vol/evil"]
    volumeMounts: [{name: vol, mountPath: /vol}]
  containers:
  - name: main
    image: ${BUSYBOX_IMAGE}
    command: ["sh", "-c", "ls /host; sleep 3600"]
    volumeMounts: [{name: vol, mountPath: /host, subPath: evil}]`,
      ),
      pod(
        "expr",
        `  volumes: [{name: vol, emptyDir: {}}]
  containers:
  - name: main
    image: ${BUSYBOX_IMAGE}
    command: ["sh", "-c", "echo hi > /mine/file; sleep 3600"]
    env: [{name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]
    volumeMounts: [{name: vol, mountPath: /mine, subPathExpr: "logs/$(POD_NAME)"}, {name: vol, mountPath: /all}]`,
      ),
    ];
    const ap = await kubectl(srv, ["apply", "-f", "-"], { stdin: manifests.join("\n---\n") + "\n" });
    expect(ap.code, describeResult(ap)).toBe(0);
    for (const name of ["web", "expr"])
      await waitFor(`pod ${name} running`, async () => {
        const p: any = await (await api(`/api/v1/namespaces/default/pods/${name}`)).json();
        return p.status?.containerStatuses?.every((c: any) => c.state?.running) && p.status.containerStatuses.length ? p : undefined;
      });
  });

  afterAll(async () => {
    try {
      await kubectl(srv, ["delete", "pod", "--all", "--grace-period=1", "--timeout=30s"], { timeoutMs: 40_000 }).catch(() => {});
      await stopInProcessAgent(agent);
      await srv?.stop();
    } finally {
      await cleanupLocalNode(node);
    }
  });

  test("subPath through a planted symlink to / fails the container with a clear event; nothing of the host is mounted", async () => {
    const ev = await waitFor("the subPath failure event", async () => {
      const list: any = await (await api("/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Descape")).json();
      return list.items.find((e: any) => e.reason === "Failed" && /subPath/.test(e.message));
    });
    expect(ev.message).toMatch(/failed to prepare subPath for volumeMount "vol" of container "main": subpath "\/" not within volume path/);
    const p: any = await (await api("/api/v1/namespaces/default/pods/escape")).json();
    const main = p.status.containerStatuses.find((c: any) => c.name === "main");
    expect(main.state.waiting?.reason).toBe("CreateContainerConfigError");
    const subMounts = mountsUnder(join(dataDir, "agent")).filter((m) => m.includes(p.metadata.uid) && m.includes("volume-subpaths"));
    expect(subMounts).toEqual([]);
  });

  test("subPathExpr is expanded from the container's env", async () => {
    const r = await kubectl(srv, ["exec", "expr", "--", "cat", "/all/logs/expr/file"]);
    expect(r.stdout, describeResult(r)).toBe("hi\n");
  });

  test("the node's credential reads its pods' secrets only and touches no other node's Node or Lease", async () => {
    expect((await asNode("/api/v1/namespaces/default/secrets/used")).status).toBe(200);
    expect((await asNode("/api/v1/namespaces/default/secrets/unused")).status).toBe(403);
    expect((await asNode("/api/v1/namespaces/default/secrets")).status).toBe(403);
    expect((await api("/api/v1/nodes", { method: "POST", body: JSON.stringify({ metadata: { name: "other-node" } }) })).status).toBe(201);
    const lease = { apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name: "other-node", namespace: "kube-node-lease" }, spec: { holderIdentity: "other-node" } };
    expect((await api("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", { method: "POST", body: JSON.stringify(lease) })).status).toBe(201);
    const patch = { method: "PATCH", headers: { "content-type": "application/merge-patch+json" }, body: JSON.stringify({ metadata: { labels: { x: "y" } } }) };
    expect((await asNode("/api/v1/nodes/other-node", patch)).status).toBe(403);
    expect((await asNode("/api/v1/nodes/other-node/status", patch)).status).toBe(403);
    expect((await asNode("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/other-node", patch)).status).toBe(403);
    expect((await asNode(`/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${NODE}`)).status).toBe(200);
    // kubectl impersonating the node gets the same answers.
    const as = ["--as", `system:node:${NODE}`, "--as-group", "system:nodes"];
    const denied = await kubectl(srv, ["get", "secret", "unused", ...as]);
    expect(denied.stderr, describeResult(denied)).toContain(`secrets "unused" is forbidden: User "system:node:${NODE}" cannot get resource "secrets"`);
    const lbl = await kubectl(srv, ["label", "node", "other-node", "x=y", ...as]);
    expect(lbl.stderr, describeResult(lbl)).toContain("Forbidden");
    expect((await kubectl(srv, ["get", "secret", "used", ...as])).code).toBe(0);
  });

  test("a second machine with the node's name is refused; the first keeps serving logs and exec", async () => {
    const intruder = mkdtempSync(join(tmpdir(), "skiff-sec-intruder-"));
    try {
      const agentToken = readFileSync(join(srv.dataDir, "server", "agent-token"), "utf8").trim();
      const refused = await rejection(joinCluster({ server: srv.url, token: agentToken, nodeName: NODE, credFile: join(intruder, "c.json"), nodePassword: nodePassword(intruder) }));
      expect(refused.message).toContain(`Node password rejected for node "${NODE}"`);
    } finally {
      rmSync(intruder, { recursive: true, force: true });
    }
    const e = await kubectl(srv, ["exec", "web", "--", "echo", "still-mine"]);
    expect(e.stdout, describeResult(e)).toBe("still-mine\n");
    const l = await kubectl(srv, ["logs", "web", "--tail=-1"]);
    expect(l.stdout, describeResult(l)).toContain("started");
  });

  test("the agent renews its expiring credential and keeps working past the first one's expiry", async () => {
    await waitFor("a renewal", async () => (renewals > 0 ? true : undefined), (TTL + 5) * 1000);
    expect(creds.token).not.toBe(original.token);
    // Past the first credential's expiry, the node still reports and serves.
    await Bun.sleep(Math.max(0, original.expires * 1000 - Date.now()) + 2000);
    const lease: any = await (await api(`/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${NODE}`)).json();
    expect(Date.now() - Date.parse(lease.spec.renewTime)).toBeLessThan(15_000);
    const e = await kubectl(srv, ["exec", "web", "--", "echo", "renewed"]);
    expect(e.stdout, describeResult(e)).toBe("renewed\n");
    const r = await fetch(`${srv.url}/api/v1/nodes`, { headers: { authorization: `Bearer ${original.token}` }, tls: srv.creds.tls } as RequestInit);
    expect(r.status).toBe(401);
  });
});
