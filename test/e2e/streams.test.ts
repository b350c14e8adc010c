// pods/log, exec, attach and port-forward through the agent tunnel, with the real kubectl:
// a real `skiff server` process, a real agent (runAgent, which opens the tunnel) on a real
// containerd, a busybox pod with httpd. kubectl 1.32 uses WebSocket (v5 exec, SPDY-in-WebSocket
// port-forward); kubectl 1.27 uses SPDY/3.1 upgrades for both.
//
// Skipped (with the reason printed) when not root or containerd/runc/CNI cannot be installed.
import { containerdSkipReason } from "../harness/containerd.ts";
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runAgent, type Agent } from "../../agent/main.ts";
import { BUSYBOX_IMAGE } from "../images/builder.ts";
import { REPO, BUN, startServer, freePort, type SkiffServer } from "../harness/server.ts";
import { describeResult, kubectl, spawnKubectl, type KubectlOptions } from "../harness/kubectl.ts";
import { cleanupLocalNode, startInProcessAgent, stopInProcessAgent, type LocalNode } from "../harness/local-node.ts";

setDefaultTimeout(120_000);

const NODE = "streams-node";
const BRIDGE = "skiffst0";
const POD_CIDR = "10.87.0.0/24";
const NS = "default";

const reason = containerdSkipReason(import.meta.path);

function podYaml(name: string, containers: string): string {
  return `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: ${NS}
spec:
  nodeName: ${NODE}
  terminationGracePeriodSeconds: 1
  containers:
${containers}`;
}

describe.skipIf(reason !== null)("streams through the agent tunnel (skiff server's node:http listener)", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "skiff-streams-agent-"));
  const runDir = mkdtempSync(join(tmpdir(), "skiff-streams-run-"));
  const cgroupRoot = `/skiff-streams-${process.pid}`;
  const bridgeBefore = existsSync(`/sys/class/net/${BRIDGE}`);
  const node: LocalNode = { dataDir, bridge: BRIDGE, cgroupRoot, bridgeBefore };
  let srv: SkiffServer;
  let agent: Agent | undefined;
  let podIP = "";

  const k = (args: string[], opts?: KubectlOptions) => kubectl(srv, args, opts);

  /** The skiff CLI as a child process (exit code, stdout, stderr). */
  async function skiff(args: string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }> {
    // The verb first, then --kubeconfig (after "--" it would be part of an exec command).
    const p = Bun.spawn([BUN, join(REPO, "cli/main.ts"), args[0]!, "--kubeconfig", srv.kubeconfig, ...args.slice(1)], {
      cwd: REPO,
      stdin: stdin !== undefined ? new TextEncoder().encode(stdin) : "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    const timer = setTimeout(() => p.kill(9), 30_000);
    const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    clearTimeout(timer);
    return { code, stdout, stderr };
  }
  const shown = (r: { code: number; stdout: string; stderr: string }) => `exit ${r.code}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;

  async function waitRunning(name: string, timeoutMs = 60_000): Promise<any> {
    const end = Date.now() + timeoutMs;
    let last: any;
    while (Date.now() < end) {
      const r = await srv.fetch(`/api/v1/namespaces/${NS}/pods/${name}`);
      if (r.ok) {
        last = await r.json();
        const ready = (last.status?.containerStatuses ?? []).every((c: any) => c.state?.running);
        if (last.status?.phase === "Running" && ready && last.status.containerStatuses?.length) return last;
      }
      await Bun.sleep(250);
    }
    throw new Error(`pod ${name} not Running after ${timeoutMs} ms: ${JSON.stringify(last?.status)}`);
  }

  async function waitTunnel(): Promise<void> {
    const end = Date.now() + 30_000;
    while (Date.now() < end) {
      // runAgent opens the node's tunnel itself: logs answer once the server can route to it.
      const r = await srv.fetch(`/api/v1/namespaces/${NS}/pods/web/log?container=web&limitBytes=10`);
      if (r.status === 200) return;
      await Bun.sleep(200);
    }
  }

  beforeAll(async () => {
    srv = await startServer({ name: "streams" });
    agent = await startInProcessAgent(srv, node, { nodeName: NODE, podCidr: POD_CIDR });
    const web = podYaml(
      "web",
      `  - name: web
    image: ${BUSYBOX_IMAGE}
    command: ["sh", "-c", "mkdir -p /www && echo hello-from-pod > /www/index.html && echo line-1 && echo line-2 && echo to-stderr >&2 && httpd -p 80 -h /www && i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.3; done"]
  - name: side
    image: ${BUSYBOX_IMAGE}
    command: ["sh", "-c", "echo side-started; exec sleep 3600"]
`,
    );
    const solo = podYaml(
      "solo",
      `  - name: main
    image: ${BUSYBOX_IMAGE}
    command: ["sh", "-c", "echo run-$(cat /proc/uptime | cut -d' ' -f1); sleep 1; exit 1"]
`,
    );
    const ap = await k(["apply", "-f", "-"], { stdin: web + "---\n" + solo });
    expect(ap.code, describeResult(ap)).toBe(0);
    const pod = await waitRunning("web");
    podIP = pod.status.podIP;
    await waitTunnel();
  });

  afterAll(async () => {
    try {
      // Deleted through the API and waited for: the agent then removes the sandboxes itself
      // (a CRI sweep under a running agent races with it and left containers behind).
      await k(["delete", "pod", "--all", "--grace-period=1", "--timeout=30s"], { timeoutMs: 40_000 }).catch(() => {});
      await stopInProcessAgent(agent);
      await srv?.stop();
    } finally {
      await cleanupLocalNode(node);
      rmSync(runDir, { recursive: true, force: true });
    }
  });

  // kubectl 1.27 upgrades to SPDY/3.1, which the server's node:http listener accepts.
  for (const minor of [undefined, 27] as const) {
    const v = minor ? `kubectl 1.${minor}` : "kubectl 1.32";
    test(`${v} exec: stdout, stderr and the exit code`, async () => {
      const r = await k(["exec", "web", "-c", "web", "--", "sh", "-c", "echo out; echo err >&2; exit 3"], { minor });
      expect(r.code, describeResult(r)).toBe(3);
      expect(r.stdout, describeResult(r)).toBe("out\n");
      expect(r.stderr, describeResult(r)).toContain("err\n");
      const ok = await k(["exec", "web", "-c", "web", "--", "cat", "/www/index.html"], { minor });
      expect(ok.code, describeResult(ok)).toBe(0);
      expect(ok.stdout).toBe("hello-from-pod\n");
    });

    test(`${v} exec -i: stdin reaches the command and EOF ends it`, async () => {
      const input = Array.from({ length: 2000 }, (_, i) => `row ${i}`).join("\n") + "\n";
      const r = await k(["exec", "-i", "web", "-c", "web", "--", "sh", "-c", "wc -l; echo done"], { minor, stdin: input });
      expect(r.code, describeResult(r)).toBe(0);
      expect(r.stdout.trim().split(/\s+/)).toEqual(["2000", "done"]);
    });

    test(`${v} port-forward reaches busybox httpd in the pod`, async () => {
      const port = await freePort();
      const pf = spawnKubectl(srv, ["port-forward", "pod/web", `${port}:80`], { minor });
      try {
        let body = "";
        const end = Date.now() + 20_000;
        while (Date.now() < end) {
          try {
            const r = await fetch(`http://127.0.0.1:${port}/index.html`);
            body = await r.text();
            break;
          } catch {
            await Bun.sleep(200);
          }
        }
        expect(body).toBe("hello-from-pod\n");
        // several connections, in parallel
        const many = await Promise.all(Array.from({ length: 5 }, () => fetch(`http://127.0.0.1:${port}/index.html`).then((r) => r.text())));
        expect(many).toEqual(Array(5).fill("hello-from-pod\n"));
      } finally {
        await pf.kill();
      }
    });
  }

  test("kubectl logs: -c, --tail, --timestamps, the container-name error", async () => {
    const noC = await k(["logs", "web"]);
    // kubectl picks the first container itself (with a notice) in recent versions
    expect(noC.code, describeResult(noC)).toBe(0);
    const side = await k(["logs", "web", "-c", "side"]);
    expect(side.stdout, describeResult(side)).toBe("side-started\n");
    const all = await k(["logs", "web", "-c", "web"]);
    // stdout and stderr are separate pipes: only the order within one of them is certain
    expect(all.stdout.split("\n").filter((l) => !l.startsWith("tick-")), describeResult(all)).toEqual(expect.arrayContaining(["line-1", "line-2", "to-stderr"]));
    expect(all.stdout.indexOf("line-1")).toBeLessThan(all.stdout.indexOf("line-2"));
    const tail = await k(["logs", "web", "-c", "web", "--tail=2"]);
    expect(tail.stdout.trim().split("\n").length, describeResult(tail)).toBe(2);
    expect(tail.stdout).toMatch(/^tick-\d+\ntick-\d+\n$/);
    const ts = await k(["logs", "web", "-c", "side", "--timestamps"]);
    expect(ts.stdout, describeResult(ts)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z side-started\n$/);
    const lim = await k(["logs", "web", "-c", "side", "--limit-bytes=4"]);
    expect(lim.stdout).toBe("side");
    // the raw API without a container: Kubernetes' message
    const raw = await srv.fetch(`/api/v1/namespaces/${NS}/pods/web/log`);
    expect(raw.status).toBe(400);
    expect(((await raw.json()) as any).message).toBe("a container name must be specified for pod web, choose one of: [web side]");
    const since = await k(["logs", "web", "-c", "web", "--since=1s"]);
    expect(since.stdout).not.toContain("line-1");
  });

  test("kubectl logs -f streams new lines", async () => {
    const p = spawnKubectl(srv, ["logs", "-f", "web", "-c", "web", "--tail=1"]);
    try {
      await p.waitForLine((l) => /tick-/.test(l), 10_000);
      const first = p.lines.length;
      await p.waitForLine(() => true, 10_000, first + 3);
      const ticks = p.lines.map((l) => Number(/tick-(\d+)/.exec(l)?.[1])).filter((n) => !Number.isNaN(n));
      expect(ticks.length, p.lines.join("\n")).toBeGreaterThanOrEqual(4);
      for (let i = 1; i < ticks.length; i++) expect(ticks[i]).toBe(ticks[i - 1]! + 1);
    } finally {
      await p.kill();
    }
  });

  test("kubectl logs --previous shows the last terminated container", async () => {
    const end = Date.now() + 40_000;
    let pod: any;
    while (Date.now() < end) {
      pod = await (await srv.fetch(`/api/v1/namespaces/${NS}/pods/solo`)).json();
      if ((pod.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 1) break;
      await Bun.sleep(300);
    }
    const prev = await k(["logs", "solo", "--previous"]);
    expect(prev.code, describeResult(prev)).toBe(0);
    expect(prev.stdout).toMatch(/^run-[\d.]+\n$/);
    const noPrev = await k(["logs", "web", "-c", "side", "--previous"]);
    expect(noPrev.code).not.toBe(0);
    expect(noPrev.stderr).toContain('previous terminated container "side" in pod "web" not found');
  });

  test("kubectl top and skiff top: usage read from the node over the tunnel, busy vs idle container", async () => {
    // One core's busy loop in "side" (an exec joins the container's cgroup) for a few seconds.
    const busy = spawnKubectl(srv, ["exec", "web", "-c", "side", "--", "sh", "-c", "timeout 7 sh -c 'while :; do :; done'"]);
    try {
      await Bun.sleep(1500);
      const pod = await k(["top", "pod", "web", "--containers"]);
      expect(pod.code, describeResult(pod)).toBe(0);
      const rows = pod.stdout.trim().split("\n");
      expect(rows[0]!.split(/\s+/).filter(Boolean)).toEqual(["POD", "NAME", "CPU(cores)", "MEMORY(bytes)"]);
      const usage = (c: string) => {
        const m = new RegExp(`^web\\s+${c}\\s+(\\d+)m\\s+(\\d+)Mi\\s*$`, "m").exec(pod.stdout);
        if (!m) throw new Error(`no row for ${c}:\n${pod.stdout}`);
        return { cpu: Number(m[1]), mem: Number(m[2]) };
      };
      // A loop gets close to a core, less when the test's own processes compete for the 2 CPUs.
      expect(usage("side").cpu, pod.stdout).toBeGreaterThan(200);
      expect(usage("web").cpu * 3, pod.stdout).toBeLessThan(usage("side").cpu);
      // Exact bytes from the API: every container has a working set.
      const pm: any = await (await srv.fetch(`/apis/metrics.k8s.io/v1beta1/namespaces/${NS}/pods/web`)).json();
      expect(pm.kind).toBe("PodMetrics");
      expect(pm.containers.map((c: any) => c.name)).toEqual(["web", "side"]);
      for (const c of pm.containers) expect(c.usage.memory, JSON.stringify(pm)).toMatch(/^[1-9]\d*(Ki|Mi)?$/);
      expect(pm.window).toMatch(/^\d+(\.\d+)?(ms|s)$/);
      expect(pm.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

      const node = await k(["top", "node"]);
      expect(node.code, describeResult(node)).toBe(0);
      const nm = new RegExp(`^${NODE}\\s+(\\d+)m\\s+(\\d+)%\\s+(\\d+)Mi\\s+(\\d+)%`, "m").exec(node.stdout);
      expect(nm, describeResult(node)).not.toBeNull();
      expect(Number(nm![1])).toBeGreaterThan(200);
      expect(Number(nm![3])).toBeGreaterThan(0);

      const sn = await skiff(["top", "nodes"]);
      expect(sn.code, shown(sn)).toBe(0);
      expect(sn.stdout.split("\n")[0]!.split(/\s+/).filter(Boolean)).toEqual(["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"]);
      expect(sn.stdout).toMatch(new RegExp(`^${NODE}\\s+\\d+m\\s+\\d+%\\s+\\d+Mi\\s+\\d+%`, "m"));
      const sp = await skiff(["top", "pods", "-A", "--containers"]);
      expect(sp.code, shown(sp)).toBe(0);
      expect(sp.stdout.split("\n")[0]!.split(/\s+/).filter(Boolean)).toEqual(["NAMESPACE", "POD", "NAME", "CPU(cores)", "MEMORY(bytes)"]);
      const cpuOf = (c: string) => Number(new RegExp(`^${NS}\\s+web\\s+${c}\\s+(\\d+)m`, "m").exec(sp.stdout)?.[1]);
      expect(cpuOf("side"), sp.stdout).toBeGreaterThan(200);
      expect(cpuOf("web") * 3, sp.stdout).toBeLessThan(cpuOf("side"));
    } finally {
      await busy.kill();
    }
    // A node without a tunnel is left out (kubectl prints <unknown>); its pods have no metrics yet.
    const ghost = `apiVersion: v1
kind: Node
metadata: {name: ghost-node}
---
apiVersion: v1
kind: Pod
metadata: {name: ghost, namespace: ${NS}, labels: {app: ghost}}
spec:
  nodeName: ghost-node
  containers: [{name: c, image: ${BUSYBOX_IMAGE}}]
`;
    expect((await k(["apply", "-f", "-"], { stdin: ghost })).code).toBe(0);
    try {
      const node = await k(["top", "node"]);
      expect(node.stdout, describeResult(node)).toMatch(/^ghost-node\s+<unknown>\s+<unknown>\s+<unknown>\s+<unknown>/m);
      const gp = await k(["top", "pod", "-l", "app=ghost"]);
      expect(gp.code).not.toBe(0);
      expect(gp.stderr, describeResult(gp)).toContain("metrics not available yet");
      const sg = await skiff(["top", "pod", "ghost"]);
      expect(sg.stderr, shown(sg)).toBe(`Error from server (NotFound): podmetrics.metrics.k8s.io "${NS}/ghost" not found\n`);
    } finally {
      await k(["delete", "pod", "ghost", "--force", "--grace-period=0"]);
      await k(["delete", "node", "ghost-node", "--wait=false"]);
    }
  });

  test("skiff logs and skiff exec (exit code, stdin, errors)", async () => {
    const side = await skiff(["logs", "web", "-c", "side"]);
    expect(side.stdout, shown(side)).toBe("side-started\n");
    const def = await skiff(["logs", "pod/web", "--tail=1"]);
    expect(def.stderr, shown(def)).toBe('Defaulted container "web" out of: web, side\n');
    const tail = await skiff(["logs", "web", "-c", "web", "--tail=2"]);
    expect(tail.stdout, shown(tail)).toMatch(/^tick-\d+\ntick-\d+\n$/);
    const ts = await skiff(["logs", "web", "-c", "side", "--timestamps"]);
    expect(ts.stdout, shown(ts)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z side-started\n$/);
    const prev = await skiff(["logs", "solo", "-p"]);
    expect(prev.stdout, shown(prev)).toMatch(/^run-[\d.]+\n$/);
    const follow = Bun.spawn([BUN, join(REPO, "cli/main.ts"), "logs", "-f", "web", "-c", "web", "--tail=1", "--kubeconfig", srv.kubeconfig], { stdout: "pipe", stderr: "pipe" });
    try {
      let text = "";
      const dec = new TextDecoder();
      const reader = (follow.stdout as ReadableStream<Uint8Array>).getReader();
      const end = Date.now() + 10_000;
      while ((text.match(/tick-/g) ?? []).length < 3 && Date.now() < end) {
        const { value, done } = await reader.read();
        if (done) break;
        text += dec.decode(value, { stream: true });
      }
      const ticks = [...text.matchAll(/tick-(\d+)/g)].map((m) => Number(m[1]));
      expect(ticks.length, text).toBeGreaterThanOrEqual(3);
      for (let i = 1; i < ticks.length; i++) expect(ticks[i]).toBe(ticks[i - 1]! + 1);
    } finally {
      follow.kill();
    }

    const ex = await skiff(["exec", "web", "-c", "web", "--", "sh", "-c", "echo out; echo err >&2; exit 3"]);
    expect(ex.code, shown(ex)).toBe(3);
    expect(ex.stdout).toBe("out\n");
    expect(ex.stderr).toBe("err\ncommand terminated with exit code 3\n");
    const input = Array.from({ length: 3000 }, (_, i) => `row ${i}`).join("\n") + "\n";
    const wc = await skiff(["exec", "-i", "web", "-c", "web", "--", "sh", "-c", "wc -l; echo done"], input);
    expect(wc.code, shown(wc)).toBe(0);
    expect(wc.stdout.trim().split(/\s+/)).toEqual(["3000", "done"]);
    // -t without a terminal on stdin: kubectl's notice, and the command runs without one.
    const tty = await skiff(["exec", "-it", "web", "-c", "web", "--", "sh", "-c", "test -t 0 && echo tty || echo notty"], "");
    expect(tty.stdout, shown(tty)).toBe("notty\n");
    expect(tty.stderr).toBe("Unable to use a TTY - input is not a terminal or the right kind of file\n");
    // -it in a real terminal (script(1) gives skiff a pty): raw mode, a tty in the container and
    // the exit code.
    const inPty = Bun.spawn(
      ["script", "-qec", `${BUN} ${join(REPO, "cli/main.ts")} exec -it --kubeconfig ${srv.kubeconfig} web -c web -- sh -c 'test -t 0 && echo in-a-tty; exit 5'`, "/dev/null"],
      { stdin: "pipe", stdout: "pipe", stderr: "pipe" },
    );
    const ptyOut = await new Response(inPty.stdout).text();
    expect(await inPty.exited, ptyOut).toBe(5);
    expect(ptyOut).toMatch(/^in-a-tty\r?$/m);
    expect(ptyOut).toContain("command terminated with exit code 5");
    const nf = await skiff(["exec", "nope", "--", "true"]);
    expect(nf.code).toBe(1);
    expect(nf.stderr).toBe('Error from server (NotFound): pods "nope" not found\n');
    const nc = await skiff(["exec", "web", "-c", "nope", "--", "true"]);
    expect(nc.stderr).toBe("error: container nope is not valid for pod web\n");
  });

  test("errors: unknown pod, unknown container", async () => {
    const r = await k(["exec", "nope", "--", "true"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('pods "nope" not found');
    const c = await k(["exec", "web", "-c", "nope", "--", "true"]);
    expect(c.code).not.toBe(0);
    expect(c.stderr, describeResult(c)).toContain("container nope is not valid for pod web");
    void podIP;
  });

  // Issue 10: the container comes from the node's runtime (pod UID + container name), not from
  // the containerID in pod status, which anyone who may write pods/status controls.
  test("exec and logs ignore a containerID written into pod status", async () => {
    const pod: any = await (await srv.fetch(`/api/v1/namespaces/${NS}/pods/web`)).json();
    const side = pod.status.containerStatuses.find((c: any) => c.name === "side").containerID;
    const statuses = pod.status.containerStatuses.map((c: any) => (c.name === "web" ? { ...c, containerID: side } : c));
    const r = await srv.fetch(`/api/v1/namespaces/${NS}/pods/web/status`, {
      method: "PATCH",
      headers: { "content-type": "application/merge-patch+json" },
      body: JSON.stringify({ status: { containerStatuses: statuses } }),
    });
    expect(r.status).toBe(200);
    const forged: any = await r.json();
    expect(forged.status.containerStatuses.find((c: any) => c.name === "web").containerID).toBe(side);
    // Only the web container has /www/index.html and prints line-1.
    const e = await k(["exec", "web", "-c", "web", "--", "cat", "/www/index.html"]);
    expect(e.stdout, describeResult(e)).toBe("hello-from-pod\n");
    const l = await k(["logs", "web", "-c", "web", "--tail=-1"]);
    expect(l.stdout, describeResult(l)).toContain("line-1");
    expect(l.stdout).not.toContain("side-started");
  });

  // Any server of a cluster serves every call: a second server (joined with the token) has no
  // tunnel from this node, so it relays the streams through the server that has.
  test("a second server of the cluster relays exec, logs and port-forward to the tunnel's server", async () => {
    const token = readFileSync(join(srv.dataDir, "server", "token"), "utf8").trim();
    const srv2 = await startServer({ name: "streams-2", extraArgs: ["--server", srv.url, "--token", token, "--node-name", "streams-server-2"] });
    try {
      const k2 = (args: string[], opts?: KubectlOptions) => kubectl(srv2, args, opts);
      // The joined server applies the pod from the replicated log before it can resolve it.
      const end = Date.now() + 20_000;
      while (Date.now() < end && (await srv2.fetch(`/api/v1/namespaces/${NS}/pods/web`)).status !== 200) await Bun.sleep(100);
      for (const minor of [undefined, 27] as const) {
        const r = await k2(["exec", "web", "-c", "web", "--", "sh", "-c", "cat /www/index.html; echo err >&2; exit 4"], { minor });
        expect(r.code, describeResult(r)).toBe(4);
        expect(r.stdout, describeResult(r)).toBe("hello-from-pod\n");
        expect(r.stderr, describeResult(r)).toContain("err\n");
      }
      const input = Array.from({ length: 5000 }, (_, i) => `row ${i}`).join("\n") + "\n";
      const wc = await k2(["exec", "-i", "web", "-c", "web", "--", "wc", "-l"], { stdin: input });
      expect(wc.stdout.trim(), describeResult(wc)).toBe("5000");
      // metrics.k8s.io: the stats request is relayed like any other tunnel request.
      const top = await k2(["top", "pod", "web", "--containers"]);
      expect(top.code, describeResult(top)).toBe(0);
      expect(top.stdout).toMatch(/^web\s+side\s+\d+m\s+\d+Mi/m);
      const logs = await k2(["logs", "web", "-c", "web", "--tail=-1"]);
      expect(logs.code, describeResult(logs)).toBe(0);
      // stdout and stderr are separate pipes: "to-stderr" may come first.
      expect(logs.stdout.replace("to-stderr\n", "")).toStartWith("line-1\nline-2\n");
      const port = await freePort();
      const pf = spawnKubectl(srv2, ["port-forward", "pod/web", `${port}:80`]);
      try {
        let body = "";
        for (const stop = Date.now() + 20_000; Date.now() < stop; ) {
          try {
            body = await (await fetch(`http://127.0.0.1:${port}/index.html`)).text();
            break;
          } catch {
            await Bun.sleep(200);
          }
        }
        expect(body).toBe("hello-from-pod\n");
      } finally {
        await pf.kill();
      }
    } finally {
      await srv2.stop();
    }
  });
});
