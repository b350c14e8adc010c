// Issue 15, acceptance 5: `skiff certificate rotate` while pods run and kubectl watches. The
// running server serves the new certificate at once (no restart): the pod keeps its container
// (no restart), the open `kubectl get pods -w` keeps streaming, new connections (kubectl, the
// agent) verify the new chain against the same CA, and `certificate check` shows the new expiry.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { X509Certificate } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import { containerdSkipReason } from "../harness/containerd.ts";
import { describeResult, KUBECTL, kubectl } from "../harness/kubectl.ts";
import { BUN, REPO, type SkiffServer } from "../harness/server.ts";
import { until } from "../harness/wait.ts";
import { BUSYBOX_IMAGE } from "../images/builder.ts";
import { cleanupLocalNode, startEmbeddedNode } from "../harness/local-node.ts";

setDefaultTimeout(180_000);

const NODE = "ops-certs";
const BRIDGE = "skiffoc0";
const reason = containerdSkipReason(import.meta.path);

/** The serial and issuer of the certificate a new TLS connection to the server gets. */
function servedCert(port: number, ca: string): Promise<{ serial: string; issuer: string; authorized: boolean }> {
  return new Promise((ok, bad) => {
    const s = tls.connect({ host: "127.0.0.1", port, ca, servername: "localhost" }, () => {
      const c = s.getPeerCertificate();
      ok({ serial: c.serialNumber, issuer: String(c.issuer?.CN ?? ""), authorized: s.authorized });
      s.end();
    });
    s.on("error", bad);
  });
}

describe.skipIf(reason !== null)("certificate rotation while pods run and kubectl watches", () => {
  let dataDir = "";
  const cgroupRoot = `/skiff-ops-certs-${process.pid}`;
  let srv: SkiffServer;
  let watch: ReturnType<typeof Bun.spawn> | undefined;
  let watched = "";
  const k = async (args: string[]) => {
    const r = await kubectl(srv, args);
    if (r.code !== 0) throw new Error(`${describeResult(r)}\n${srv.logTail(30)}`);
    return r.stdout;
  };
  const skiff = (args: string[]) => spawnSync(BUN, [join(REPO, "cli/main.ts"), ...args], { encoding: "utf8" });

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "skiff-ops-certs-"));
    srv = await startEmbeddedNode({ dataDir, bridge: BRIDGE, cgroupRoot }, { name: "ops-certs", nodeName: NODE });
  });

  afterAll(async () => {
    if (!dataDir) return;
    watch?.kill();
    try {
      await kubectl(srv, ["delete", "pod", "--all", "--grace-period=1", "--timeout=30s"]).catch(() => {});
      await srv?.stop();
    } finally {
      await cleanupLocalNode({ dataDir, bridge: BRIDGE, cgroupRoot });
    }
  });

  const runPod = async (name: string) => {
    await k(["run", name, `--image=${BUSYBOX_IMAGE}`, "--image-pull-policy=IfNotPresent", "--restart=Never", "--", "sh", "-c", "exec sleep 3600"]);
    await until(`${name} Running`, async () => (await k(["get", "pod", name, "-o", "jsonpath={.status.phase}"])) === "Running", 90_000, 250, () => srv.logTail(30));
    return JSON.parse(await k(["get", "pod", name, "-o", "json"]));
  };

  test("rotate: new serving certificate served without a restart, pods and the watch carry on", async () => {
    const ca = readFileSync(join(dataDir, "server", "tls", "ca.crt"), "utf8");
    const before = await runPod("steady");
    const containerId = before.status.containerStatuses[0].containerID;
    const served0 = await servedCert(srv.port, ca);
    const pid0 = srv.proc.pid;

    // kubectl watches across the rotation (its connection was made with the old certificate).
    watch = Bun.spawn([KUBECTL, "--kubeconfig", srv.kubeconfig, "get", "pods", "-w", "-o", "name"], { stdout: "pipe", stderr: "pipe" });
    void (async () => {
      for await (const chunk of watch!.stdout as ReadableStream<Uint8Array>) watched += new TextDecoder().decode(chunk);
    })();
    await until("the watch lists the pod", () => watched.includes("pod/steady"), 20_000);

    const r = skiff(["certificate", "rotate", "--data-dir", dataDir]);
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain("re-issued admin, raft-peer, serving");
    expect(r.stdout).toContain(`asked the running server (pid ${pid0})`);
    const onDisk = new X509Certificate(readFileSync(join(dataDir, "server", "tls", "serving.crt")));
    // The server reloads on SIGHUP: new connections get the new certificate, same CA, verified.
    const served1 = await until("the new certificate is served", async () => {
      const s = await servedCert(srv.port, ca);
      return s.serial !== served0.serial && s;
    }, 15_000);
    expect(served1.serial.toLowerCase()).toBe(onDisk.serialNumber.toLowerCase());
    expect(served1.authorized).toBe(true);
    expect(served1.issuer).toBe(served0.issuer);
    expect(srv.proc.pid, "the server was not restarted").toBe(pid0);
    expect(srv.alive()).toBe(true);
    expect(srv.logTail(100)).toContain("serving certificate reloaded");

    // kubectl (a new connection, verifying against the kubeconfig's CA) and the agent still work.
    expect(await k(["get", "ns", "default", "-o", "name"])).toBe("namespace/default\n");
    await runPod("after");
    await until("the open watch saw the pod created after the rotation", () => watched.includes("pod/after"), 20_000);
    expect(watch.exitCode, "kubectl get -w is still running").toBeNull();

    // No pod restarted: same container, restart count 0, node still Ready.
    const steady = JSON.parse(await k(["get", "pod", "steady", "-o", "json"]));
    expect(steady.status.containerStatuses[0].containerID).toBe(containerId);
    expect(steady.status.containerStatuses[0].restartCount).toBe(0);
    const node = JSON.parse(await k(["get", "node", NODE, "-o", "json"]));
    expect(node.status.conditions.find((c: any) => c.type === "Ready").status).toBe("True");

    const check = skiff(["certificate", "check", "--data-dir", dataDir]);
    expect(check.status, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).toMatch(/\nserving\s+leaf\s+CN=skiff-apiserver\s+\S+\s+36\d\s+OK/);
  });

  test("rotate-ca: clients holding the old CA and the new one both verify; after a restart the new token joins", async () => {
    const tlsDir = join(dataDir, "server", "tls");
    const oldCa = readFileSync(join(tlsDir, "ca.crt"), "utf8");
    const oldToken = readFileSync(join(dataDir, "server", "token"), "utf8").trim();
    const containerId = JSON.parse(await k(["get", "pod", "steady", "-o", "json"])).status.containerStatuses[0].containerID;
    const before = await servedCert(srv.port, oldCa);
    const r = skiff(["certificate", "rotate-ca", "--data-dir", dataDir]);
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    const newCa = readFileSync(join(tlsDir, "ca.crt"), "utf8");
    expect(newCa).not.toBe(oldCa);
    expect(readFileSync(join(tlsDir, "ca-previous.crt"), "utf8")).toBe(oldCa);
    const newToken = readFileSync(join(dataDir, "server", "token"), "utf8").trim();
    expect(newToken).not.toBe(oldToken);
    expect(newToken.split("::")[1]).toBe(oldToken.split("::")[1]); // same secret, new CA hash
    // New connections get a certificate of the new CA that verifies with either CA alone.
    const viaOld = await until("the new chain is served", async () => {
      const s = await servedCert(srv.port, oldCa);
      return s.serial !== before.serial && s;
    }, 15_000);
    expect(viaOld.authorized, "a client holding only the old CA (agents, copied kubeconfigs)").toBe(true);
    expect((await servedCert(srv.port, newCa)).authorized, "a client holding only the new CA").toBe(true);
    // kubectl with the kubeconfig written before the rotation (old CA) still works.
    expect(await k(["get", "ns", "default", "-o", "name"])).toBe("namespace/default\n");

    // A restart (pods keep running) serves /cacerts with the new CA: the new token pins it.
    await srv.restart();
    expect(await k(["get", "ns", "default", "-o", "name"])).toBe("namespace/default\n");
    const { fetchPinnedCa } = await import("../../lib/join.ts");
    const hash = newToken.slice(3).split("::")[0]!;
    expect((await fetchPinnedCa(srv.url, hash)).trim()).toBe(newCa.trim());
    await until("pods Running after the restart", async () => JSON.parse(await k(["get", "pod", "steady", "-o", "json"])).status?.containerStatuses?.[0]?.ready, 60_000);
    const steady = JSON.parse(await k(["get", "pod", "steady", "-o", "json"]));
    expect(steady.status.containerStatuses[0].containerID, "the container survived the CA rotation and the restart").toBe(containerId);
    const check = skiff(["certificate", "check", "--data-dir", dataDir]);
    expect(check.status, check.stdout).toBe(0);
    expect(check.stdout).toMatch(/\nca-cross\s+CA\s/);
  });

  test("rotate refuses unknown names and a data dir without certificates", () => {
    const bad = skiff(["certificate", "rotate", "--data-dir", dataDir, "--service", "nope"]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain("no certificate named nope");
    const none = skiff(["certificate", "check", "--data-dir", join(dataDir, "nowhere")]);
    expect(none.status).toBe(1);
    expect(none.stderr).toContain("agents authenticate with tokens");
  });
});
