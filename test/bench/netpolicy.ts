// NetworkPolicy at scale on one node (issue 13, acceptance 6): 200 pods and 50 policies, then
// the time from a change written to the API until the kernel enforces it, per change.
//
//   bun run bench netpolicy [--pods 200] [--policies 50] [--changes 20]
//
// What runs: a real `skiff server --disable-agent`, and in this process the agent's NetworkPolicy
// controller (agent/services/netpol) with the shared RuleWriter, watching the server like an
// agent does and writing real iptables rules and ipsets. Everything runs inside a network
// namespace of its own (skiff-npb), which is deleted afterwards with all its rules and sets.
// The 200 pods are Pod objects bound to the node "bench-node" with addresses of its pod CIDR
// (10.42.0.0/24), spread over 10 namespaces and 8 apps; two of them are real: network
// namespaces on a bridge (client 10.42.0.2, server 10.42.0.3 with `busybox httpd`), so the
// enforcement is observed by connecting, not by reading rules. No containers run: pod start is
// not what this measures, and 200 real containers would not fit the machine's budget.
//
// A prober in the client's namespace connects to the server every 10 ms (50 ms timeout) and
// prints when the answer flips; a change's time is that flip minus the moment the write was
// sent. Two kinds of change, alternating allow and deny:
//   label   the client pod's label that a policy allows is set or removed (ipset members)
//   policy  the policy allowing the client is created or deleted (its chains)
// Printed per kind: p50/p95/max of the end-to-end time, and the writer's own figures for the
// change (render ms, kernel write ms, chains rewritten, set operations).
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AgentApi, makeClient } from "../../agent/api-client.ts";
import { RuleWriter } from "../../agent/services/iptables.ts";
import { NetworkPolicies } from "../../agent/services/netpol/controller.ts";
import { enableBridgeNetfilter } from "../../agent/services/bridge.ts";
import { BUN, REPO, startServer } from "../harness/server.ts";

const NS = "skiff-npb";
const sh = (cmd: string[], allowFail = false) => {
  const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: "utf8" });
  if (r.status !== 0 && !allowFail) throw new Error(`${cmd.join(" ")}: ${r.stderr}`);
  return r.stdout;
};
const arg = (args: string[], name: string, d: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : d;
};

export async function main(args: string[]): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("netpolicy bench needs root (network namespaces, iptables)");
  if (!args.includes("--inner")) {
    // Re-run inside a network namespace of its own: its iptables rules and ipsets go with it.
    for (const n of [NS, `${NS}-c`, `${NS}-s`]) sh(["ip", "netns", "del", n], true);
    sh(["ip", "netns", "add", NS]);
    try {
      const p = Bun.spawn(["nsenter", `--net=/run/netns/${NS}`, "--", BUN, join(REPO, "test/bench/run.ts"), "netpolicy", "--inner", ...args], { stdio: ["inherit", "inherit", "inherit"] });
      if ((await p.exited) !== 0) throw new Error(`bench exited with ${p.exitCode}`);
    } finally {
      for (const n of [`${NS}-c`, `${NS}-s`, NS]) sh(["ip", "netns", "del", n], true);
    }
    return;
  }
  await inner(arg(args, "pods", 200), arg(args, "policies", 50), arg(args, "changes", 20));
}

async function inner(podCount: number, policyCount: number, changes: number): Promise<void> {
  sh(["ip", "link", "set", "lo", "up"]);
  sh(["ip", "link", "add", "npb0", "type", "bridge"]);
  sh(["ip", "addr", "add", "10.42.0.1/24", "dev", "npb0"]);
  sh(["ip", "link", "set", "npb0", "up"]);
  sh(["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
  enableBridgeNetfilter(console.error);
  for (const [n, ip] of [["c", "10.42.0.2"], ["s", "10.42.0.3"]] as const) {
    sh(["ip", "netns", "add", `${NS}-${n}`]);
    sh(["ip", "link", "add", `npb-${n}`, "type", "veth", "peer", "name", "eth0", "netns", `${NS}-${n}`]);
    sh(["ip", "link", "set", `npb-${n}`, "master", "npb0"]);
    sh(["ip", "link", "set", `npb-${n}`, "up"]);
    sh(["ip", "-n", `${NS}-${n}`, "addr", "add", `${ip}/24`, "dev", "eth0"]);
    sh(["ip", "-n", `${NS}-${n}`, "link", "set", "eth0", "up"]);
    sh(["ip", "-n", `${NS}-${n}`, "link", "set", "lo", "up"]);
    sh(["ip", "-n", `${NS}-${n}`, "route", "add", "default", "via", "10.42.0.1"]);
  }
  const www = mkdtempSync(join(tmpdir(), "skiff-npb-"));
  writeFileSync(join(www, "index.html"), "ok\n");
  const httpd = Bun.spawn(["nsenter", `--net=/run/netns/${NS}-s`, "--", "busybox", "httpd", "-f", "-p", "8080", "-h", www], { stdout: "ignore", stderr: "ignore" });
  const srv = await startServer({ name: "npb", env: { SKIFF_DEFAULT_TOLERATION_SECONDS: "100000", SKIFF_NODE_MONITOR_GRACE_SECONDS: "100000" } });
  let prober: ReturnType<typeof Bun.spawn> | undefined;
  // The agent's own coalescing delay (100 ms), so the figures are what a node does.
  const writer = new RuleWriter({ log: (m) => console.error(m) });
  let policies: NetworkPolicies | undefined;
  try {
    const call = async (method: string, path: string, body?: unknown, type = "application/json") => {
      const r = await srv.fetch(path, { method, headers: { "content-type": type }, body: body === undefined ? undefined : JSON.stringify(body) });
      if (r.status >= 300 && !(method === "DELETE" && r.status === 404)) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
      return r.json().catch(() => undefined);
    };
    await call("POST", "/api/v1/nodes", { apiVersion: "v1", kind: "Node", metadata: { name: "bench-node" }, spec: { podCIDR: "10.42.0.0/24" } });
    const namespaces = Array.from({ length: 10 }, (_, i) => `team-${i}`);
    for (const [i, ns] of namespaces.entries()) await call("POST", "/api/v1/namespaces", { metadata: { name: ns, labels: { tier: i % 2 ? "back" : "front", group: `g${i % 3}` } } });
    // Pods: the two real ones first, in team-0, then the rest spread over namespaces and apps.
    const created: { ns: string; name: string; ip: string }[] = [];
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: podCount }, async (_, i) => {
        const ns = i < 2 ? "team-0" : namespaces[i % namespaces.length]!;
        const name = i === 0 ? "client" : i === 1 ? "server" : `pod-${i}`;
        const ip = `10.42.0.${i + 2}`;
        const app = i === 0 ? "client" : i === 1 ? "server" : `app-${i % 8}`;
        await call("POST", `/api/v1/namespaces/${ns}/pods`, {
          metadata: { name, labels: { app, role: i % 4 === 0 ? "db" : "web" } },
          spec: { nodeName: "bench-node", containers: [{ name: "c", image: "busybox:latest", ports: [{ name: "http", containerPort: 8080 }, { name: "metrics", containerPort: 9000 + (i % 5) }] }] },
        });
        await call("PATCH", `/api/v1/namespaces/${ns}/pods/${name}/status`, { status: { phase: "Running", podIP: ip, podIPs: [{ ip }] } }, "application/merge-patch+json");
        created.push({ ns, name, ip });
      }),
    );
    const podsMs = performance.now() - t0;
    // Policies: every namespace's pods isolated one way or another, with every peer kind.
    for (let i = 0; i < policyCount; i++) {
      const ns = namespaces[i % namespaces.length]!;
      const kind = i % 5;
      const spec =
        kind === 0
          ? { podSelector: { matchLabels: { app: `app-${i % 8}` } }, ingress: [{ from: [{ podSelector: { matchLabels: { role: "web" } } }], ports: [{ port: "http" }] }] }
          : kind === 1
            ? { podSelector: { matchLabels: { role: "db" } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { tier: "front" } }, podSelector: { matchLabels: { role: "web" } } }], ports: [{ protocol: "TCP", port: 5432 }] }] }
            : kind === 2
              ? { podSelector: { matchLabels: { app: `app-${(i + 3) % 8}` } }, policyTypes: ["Egress"], egress: [{ to: [{ ipBlock: { cidr: "10.0.0.0/8", except: ["10.42.0.0/28"] } }] }, { ports: [{ protocol: "UDP", port: 53 }] }] }
              : kind === 3
                ? { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { group: `g${i % 3}` } } }] }] }
                : { podSelector: { matchLabels: { role: "web" } }, ingress: [{ ports: [{ protocol: "TCP", port: 8000, endPort: 8100 }, { port: "metrics" }] }] };
      await call("POST", `/apis/networking.k8s.io/v1/namespaces/${ns}/networkpolicies`, { metadata: { name: `np-${i}` }, spec });
    }
    // The server: only pods labelled allowed=yes may connect (team-0's kind-3 policy lets in
    // same-group namespaces, team-0 is g0 so the client is allowed by it; narrow it down).
    await call("POST", "/apis/networking.k8s.io/v1/namespaces/team-0/networkpolicies", {
      metadata: { name: "server-deny" },
      spec: { podSelector: { matchLabels: { app: "server" } }, ingress: [{ from: [{ podSelector: { matchLabels: { allowed: "yes" } } }] }] },
    });
    const kernelBefore = Date.now();
    const api = new AgentApi(makeClient({ server: srv.creds.server, caData: srv.creds.tls?.ca, token: srv.creds.headers.authorization!.replace(/^Bearer /, "") }));
    policies = new NetworkPolicies({ api, nodeName: "bench-node", writer, log: (m) => console.error(m) });
    policies.start();
    // First full write (pods and namespaces are listed once a policy exists).
    const firstDeadline = Date.now() + 60_000;
    while (!sh(["ipset", "list", "-n"], true).includes("SKIFF-NP-ISO-IN") && Date.now() < firstDeadline) await Bun.sleep(20);
    await writer.settled();
    const initialMs = Date.now() - kernelBefore;
    const sets = sh(["ipset", "list", "-n"]).split("\n").filter((n) => n.startsWith("SKIFF-"));
    const members = sh(["ipset", "list"]).split("\n").filter((l) => /^\d+\.\d+\.\d+\.\d+/.test(l)).length;
    const rules = sh(["iptables-save", "-t", "filter"]).split("\n").filter((l) => l.startsWith("-A SKIFF-NP")).length;

    // The prober: state flips of client → server:8080, with timestamps.
    const probe = `
      let last = "";
      for (;;) {
        const ok = await new Promise((res) => {
          const t = setTimeout(() => { res(false); s?.end(); }, 50);
          let s;
          Bun.connect({ hostname: "10.42.0.3", port: 8080, socket: { open(sock) { clearTimeout(t); res(true); sock.end(); }, data() {}, error() {}, connectError() { clearTimeout(t); res(false); } } }).then((x) => (s = x), () => {});
        });
        const st = ok ? "open" : "blocked";
        if (st !== last) { console.log(Date.now() + " " + st); last = st; }
        await Bun.sleep(10);
      }`;
    const probing = Bun.spawn(["nsenter", `--net=/run/netns/${NS}-c`, "--", BUN, "-e", probe], { stdout: "pipe", stderr: "inherit" });
    prober = probing;
    const flips: { at: number; state: string }[] = [];
    void (async () => {
      const reader = probing.stdout.getReader();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buf += new TextDecoder().decode(value);
        let i;
        while ((i = buf.indexOf("\n")) >= 0) {
          const [at, state] = buf.slice(0, i).split(" ");
          flips.push({ at: Number(at), state: state! });
          buf = buf.slice(i + 1);
        }
      }
    })();
    const waitState = async (state: string, since: number) => {
      const end = Date.now() + 10_000;
      while (Date.now() < end) {
        const f = flips.find((x) => x.at >= since && x.state === state);
        if (f) return f.at;
        if (flips.at(-1)?.state === state && flips.at(-1)!.at < since) return since; // already
        await Bun.sleep(5);
      }
      throw new Error(`client → server never became ${state}`);
    };
    await waitState("blocked", 0);

    const results: Record<string, { e2e: number[]; render: number[]; write: number[]; chains: number[]; setOps: number[] }> = {};
    const record = (kind: string, e2e: number) => {
      const r = (results[kind] ??= { e2e: [], render: [], write: [], chains: [], setOps: [] });
      r.e2e.push(e2e);
      r.render.push(policies!.lastRenderMs);
      r.write.push(writer.lastWrite.ms);
      r.chains.push(writer.lastWrite.chains);
      r.setOps.push(writer.lastWrite.setOps);
    };
    for (let i = 0; i < changes; i++) {
      // label: allow by labelling the client, deny by removing the label
      let t = Date.now();
      await call("PATCH", "/api/v1/namespaces/team-0/pods/client", { metadata: { labels: { allowed: "yes" } } }, "application/merge-patch+json");
      record("label (allow)", (await waitState("open", t)) - t);
      await Bun.sleep(100);
      t = Date.now();
      await call("PATCH", "/api/v1/namespaces/team-0/pods/client", { metadata: { labels: { allowed: null } } }, "application/merge-patch+json");
      record("label (deny)", (await waitState("blocked", t)) - t);
      await Bun.sleep(100);
      // policy: a policy letting app=client in is created, then deleted
      t = Date.now();
      await call("POST", "/apis/networking.k8s.io/v1/namespaces/team-0/networkpolicies", { metadata: { name: "let-client" }, spec: { podSelector: { matchLabels: { app: "server" } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: "client" } } }], ports: [{ port: 8080 }] }] } });
      record("policy (create)", (await waitState("open", t)) - t);
      await Bun.sleep(100);
      t = Date.now();
      await call("DELETE", "/apis/networking.k8s.io/v1/namespaces/team-0/networkpolicies/let-client");
      record("policy (delete)", (await waitState("blocked", t)) - t);
      await Bun.sleep(100);
    }
    const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
    const f = (n: number) => n.toFixed(n < 10 ? 1 : 0);
    console.log(`\nNetworkPolicy on one node: ${podCount} pods (${created.length} created in ${f(podsMs)} ms), ${policyCount + 1} policies, ${changes} rounds`);
    console.log(`initial: ${initialMs} ms from controller start to rules in the kernel; ${sets.length} ipsets, ${members} members, ${rules} filter rules`);
    console.log("");
    console.log("change            n   end-to-end ms p50 / p95 / max   render ms p50   kernel write ms p50   chains   set ops");
    for (const [kind, r] of Object.entries(results))
      console.log(
        `${kind.padEnd(17)} ${String(r.e2e.length).padStart(2)}   ${`${f(pct(r.e2e, 50))} / ${f(pct(r.e2e, 95))} / ${f(Math.max(...r.e2e))}`.padEnd(31)} ${f(pct(r.render, 50)).padStart(13)}   ${f(pct(r.write, 50)).padStart(19)}   ${String(pct(r.chains, 50)).padStart(6)}   ${String(pct(r.setOps, 50)).padStart(7)}`,
      );
    console.log("\nend-to-end: API write sent → the client's connection attempt flips (prober every 10 ms, 50 ms timeout: ±60 ms on allow)");
  } finally {
    prober?.kill(9);
    policies?.stop();
    writer.stop();
    httpd.kill(9);
    await srv.stop();
    rmSync(www, { recursive: true, force: true });
  }
}
