// Issue 15, "install, stop, remove" and acceptance 3. `skiff install` writes a unit that
// systemd-analyze verifies (CI has no systemd as PID 1: the install goes to a --root, with a copy
// of this host's system units so that verify can resolve multi-user.target). Then, for real, a
// server with its agent and pods (hostPort, a memory emptyDir, a Service) runs from the installed
// binary; `skiff killall` leaves no process, mount, link, rule, ipset or cgroup of Skiff's but
// keeps the data (the pods come back on restart), and `skiff uninstall` leaves nothing at all.
import { removeDataDir } from "../harness/wait";
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { copyFileSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mountsUnder } from "../../cli/host/killall.ts";
import { alive, findOurProcesses, netnsInode } from "../../cli/host/processes.ts";
import { containerdSkipReason } from "../harness/containerd.ts";
import { describeResult, kubectl } from "../harness/kubectl.ts";
import { REPO, startServer, type SkiffServer } from "../harness/server.ts";
import { until } from "../harness/wait.ts";
import { BUSYBOX_IMAGE, busyboxImage } from "../images/builder.ts";

setDefaultTimeout(180_000);

const DIST = join(REPO, "dist/skiff");
const root = process.getuid?.() === 0;

function sh(argv: string[], env?: Record<string, string>) {
  const r = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString(), text: `$ ${argv.join(" ")}\nexit ${r.exitCode}\n${r.stdout}\n${r.stderr}` };
}

function ensureBuilt(): void {
  if (existsSync(DIST)) return;
  const b = sh([join(REPO, "node_modules/.bin/bun"), "run", "build:native"]);
  if (b.code !== 0) throw new Error(`build failed\n${b.text}`);
}

/** A root for `skiff install --root` with this host's system units, for systemd-analyze verify. */
function fakeRoot(): string {
  const r = mkdtempSync(join(tmpdir(), "skiff-ops-root-"));
  mkdirSync(join(r, "usr/lib/systemd"), { recursive: true });
  cpSync("/usr/lib/systemd/system", join(r, "usr/lib/systemd/system"), { recursive: true, verbatimSymlinks: true });
  // ExecReload's /bin/kill must exist in the root too (usrmerge layout, as on Debian).
  mkdirSync(join(r, "usr/bin"), { recursive: true });
  copyFileSync("/bin/kill", join(r, "usr/bin/kill"));
  symlinkSync("usr/bin", join(r, "bin"));
  return r;
}

describe.skipIf(!root)("skiff install writes a unit systemd accepts", () => {
  let r = "";
  beforeAll(() => {
    ensureBuilt();
    r = fakeRoot();
  });
  afterAll(() => rmSync(r, { recursive: true, force: true }));

  test("server and agent units: flags in ExecStart, secrets in a 0600 env file, enabled, verified", () => {
    const s = sh([DIST, "install", "server", "--root", r, "--data-dir", "/var/lib/skiff-x", "--tls-san", "10.0.0.9", "--token", "s3cret$%"]);
    expect(s.code, s.text).toBe(0);
    const a = sh([DIST, "install", "agent", "--root", r, "--server", "https://10.0.0.9:6443", "--token=K10abc::server:xyz", "--node-name", "edge 1"]);
    expect(a.code, a.text).toBe(0);
    const sys = join(r, "etc/systemd/system");
    const unit = readFileSync(join(sys, "skiff.service"), "utf8");
    expect(unit).toContain("ExecReload=/bin/kill -HUP $MAINPID");
    for (const line of ["KillMode=process", "Delegate=yes", "Restart=always", "LimitNOFILE=1048576", "TasksMax=infinity", "WantedBy=multi-user.target", "EnvironmentFile=-/etc/systemd/system/skiff.service.env"])
      expect(unit, line).toContain(line);
    expect(unit).toMatch(/ExecStart=\/usr\/local\/bin\/skiff server \\\n\s+--data-dir \/var\/lib\/skiff-x \\\n\s+--tls-san 10\.0\.0\.9\n/);
    expect(unit, "the token must not be in the world-readable unit").not.toContain("s3cret");
    const agentUnit = readFileSync(join(sys, "skiff-agent.service"), "utf8");
    expect(agentUnit).toContain('--node-name "edge 1"');
    expect(agentUnit).not.toContain("K10abc");
    for (const [f, want] of [
      ["skiff.service.env", 'SKIFF_TOKEN="s3cret\\$%"'],
      ["skiff-agent.service.env", 'SKIFF_URL="https://10.0.0.9:6443"\nSKIFF_TOKEN="K10abc::server:xyz"'],
    ] as const) {
      const p = join(sys, f);
      expect(statSync(p).mode & 0o777, `${f} mode`).toBe(0o600);
      expect(readFileSync(p, "utf8")).toContain(want);
    }
    for (const u of ["skiff.service", "skiff-agent.service"]) expect(lstatSync(join(sys, "multi-user.target.wants", u)).isSymbolicLink(), `${u} enabled`).toBe(true);
    expect(statSync(join(r, "usr/local/bin/skiff")).mode & 0o111).not.toBe(0);
    for (const u of ["skiff.service", "skiff-agent.service"]) {
      const v = sh(["systemd-analyze", "verify", `--root=${r}`, u]);
      expect(v.code, v.text).toBe(0);
      expect(v.err.trim(), `systemd-analyze verify ${u} warns:\n${v.text}`).toBe("");
    }
  });

  test("bad flags and an agent without a token are refused with what to fix", () => {
    const bad = sh([DIST, "install", "server", "--root", r, "--no-such-flag"]);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain("--no-such-flag");
    const noTok = sh([DIST, "install", "agent", "--root", r, "--server", "https://a:6443"], { SKIFF_TOKEN: "" });
    expect(noTok.code).toBe(1);
    expect(noTok.err).toContain("--token");
  });

  test("uninstall --keep-data removes units, env files and the binary but keeps the data dir", () => {
    const dd = mkdtempSync(join(tmpdir(), "skiff-ops-keep-"));
    try {
      writeFileSync(join(dd, "marker"), "x");
      const i = sh([DIST, "install", "server", "--root", r, "--data-dir", dd]);
      expect(i.code, i.text).toBe(0);
      const u = sh([DIST, "uninstall", "--root", r, "--keep-data"]);
      expect(u.code, u.text).toBe(0);
      const sys = join(r, "etc/systemd/system");
      expect(readdirSync(sys).filter((f) => f.startsWith("skiff"))).toEqual([]);
      expect(existsSync(join(sys, "multi-user.target.wants/skiff.service"))).toBe(false);
      expect(existsSync(join(r, "usr/local/bin/skiff"))).toBe(false);
      expect(readFileSync(join(dd, "marker"), "utf8")).toBe("x");
    } finally {
      rmSync(dd, { recursive: true, force: true });
    }
  });
});

// ---- killall and uninstall for real -------------------------------------------------------

const reason = containerdSkipReason(import.meta.path);
const FAKE_CHAIN = "SKIFF-OPS-TEST";
const FAKE_SET = "skiff-ops-test";

/** Everything of Skiff's this host can show: each list must be empty after killall/uninstall. */
function leftovers(dataDir: string, veths: string[], netns: string[], bridge: string): Record<string, string[]> {
  const ours = findOurProcesses(dataDir);
  const fw: string[] = [];
  for (const fam of ["iptables-save", "ip6tables-save"]) {
    const s = sh([fam]);
    fw.push(...s.out.split("\n").filter((l) => /SKIFF-|name: \\"skiff\\"|CNI-HOSTPORT/.test(l)).map((l) => `${fam}: ${l}`));
  }
  const sets = sh(["ipset", "list", "-n"]).out.split("\n").filter((n) => /^skiff/i.test(n));
  const cg: string[] = [];
  for (const h of readdirSync("/sys/fs/cgroup")) if (existsSync(join("/sys/fs/cgroup", h, "skiff"))) cg.push(join("/sys/fs/cgroup", h, "skiff"));
  const ns = existsSync("/run/netns") ? readdirSync("/run/netns").filter((n) => netns.includes(String(statSync(join("/run/netns", n)).ino))) : [];
  return {
    processes: [...ours.skiff, ...ours.others].map((p) => `${p.pid} ${p.args.join(" ")}`),
    mounts: mountsUnder(dataDir),
    links: [bridge, ...veths].filter((l) => existsSync(`/sys/class/net/${l}`)),
    netns: ns,
    firewall: fw,
    ipsets: sets,
    cgroups: cg,
    routes: sh(["ip", "route", "show", "proto", "214"]).out.split("\n").filter(Boolean),
  };
}

const nothing = (l: Record<string, string[]>) => Object.fromEntries(Object.keys(l).map((k) => [k, []]));

describe.skipIf(reason !== null || !root)("skiff killall and uninstall leave nothing of Skiff's", () => {
  // Made in beforeAll: a filtered-out describe must leave nothing behind.
  let r = "";
  let dataDir = "";
  let BIN = "";
  const BRIDGE = "skiff0";
  let srv: SkiffServer | undefined;
  const veths: string[] = [];
  const netns: string[] = [];

  const k = async (args: string[], input?: string) => {
    const res = await kubectl(srv!, args, input === undefined ? {} : { stdin: input });
    if (res.code !== 0) throw new Error(`${describeResult(res)}\n${srv!.logTail(30)}`);
    return res.stdout;
  };
  const running = async () => {
    const pods = JSON.parse(await k(["get", "pods", "-o", "json"])).items;
    return pods.length === 2 && pods.every((p: any) => p.status?.phase === "Running" && p.status?.containerStatuses?.every((c: any) => c.ready));
  };

  beforeAll(async () => {
    ensureBuilt();
    r = fakeRoot();
    dataDir = mkdtempSync(join(tmpdir(), "skiff-ops-dd-"));
    BIN = join(r, "usr/local/bin/skiff");
    // The units run the installed binary with this data dir, as systemd would.
    const i = sh([DIST, "install", "server", "--root", r, "--data-dir", dataDir]);
    if (i.code !== 0) throw new Error(i.text);
    mkdirSync(join(dataDir, "agent", "images"), { recursive: true });
    copyFileSync(busyboxImage(), join(dataDir, "agent", "images", "busybox.tar"));
  });

  afterAll(async () => {
    if (!dataDir) return;
    await srv?.stop().catch(() => {});
    // If a check failed, do not leave the host dirty for the next test.
    sh([DIST, "killall", "--data-dir", dataDir]);
    sh(["iptables", "-D", "FORWARD", "-m", "set", "--match-set", FAKE_SET, "src", "-j", FAKE_CHAIN]);
    sh(["iptables", "-X", FAKE_CHAIN]);
    sh(["ipset", "destroy", FAKE_SET]);
    removeDataDir(dataDir);
    rmSync(r, { recursive: true, force: true });
  });

  test("a server with pods (hostPort, memory emptyDir, Service) runs from the installed binary", async () => {
    srv = await startServer({ name: "ops-install", dataDir, command: [BIN], embeddedAgent: true, extraArgs: ["--node-name", "ops-node"], env: { SKIFF_AGENT_TUNING: JSON.stringify({ relistMs: 200, retryMs: 500 }) } });
    const pod = (name: string, extra: string) => `apiVersion: v1
kind: Pod
metadata: {name: ${name}, labels: {app: ${name}}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: ${BUSYBOX_IMAGE}
    imagePullPolicy: IfNotPresent
    command: [sh, -c, "exec sleep 3600"]
${extra}`;
    await k(
      ["apply", "-f", "-"],
      [
        pod("web", "    ports: [{containerPort: 80, hostPort: 18089}]\n    volumeMounts: [{name: mem, mountPath: /mem}]\n  volumes: [{name: mem, emptyDir: {medium: Memory}}]\n"),
        pod("idle", ""),
        "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  selector: {app: web}\n  ports: [{port: 80}]\n",
      ].join("---\n"),
    );
    await until("both pods Running", running, 120_000, 500, () => srv!.logTail(30));
    // What the pods made on the host, to look for after killall.
    const ours = findOurProcesses(dataDir);
    expect(ours.skiff.length, "the skiff server is found by its data dir").toBe(1);
    expect(ours.others.some((p) => p.args[0]?.includes("containerd-shim")), "shims are found").toBe(true);
    for (const p of ours.others) {
      const n = netnsInode(p.pid);
      if (n && !netns.includes(n) && n !== netnsInode(process.pid)) netns.push(n);
    }
    veths.push(...JSON.parse(sh(["ip", "-j", "link", "show", "master", BRIDGE]).out || "[]").map((l: any) => l.ifname));
    expect(veths.length, "one veth per pod on the bridge").toBe(2);
    expect(netns.length, "each pod has its network namespace").toBeGreaterThanOrEqual(2);
    expect(mountsUnder(dataDir).some((m) => m.includes("/mem")) || mountsUnder(dataDir).length > 2, "pods mounted things under the data dir").toBe(true);
    await until("the Service's rules", () => sh(["iptables-save", "-t", "nat"]).out.includes("SKIFF-SVC-"), 30_000);
    expect(sh(["iptables-save", "-t", "nat"]).out).toContain("CNI-HOSTPORT-DNAT");
    // What NetworkPolicy/ingress add (chains of their own, ipsets): found by prefix too.
    expect(sh(["ipset", "create", FAKE_SET, "hash:ip"]).code).toBe(0);
    expect(sh(["iptables", "-N", FAKE_CHAIN]).code).toBe(0);
    expect(sh(["iptables", "-A", "FORWARD", "-m", "set", "--match-set", FAKE_SET, "src", "-j", FAKE_CHAIN]).code).toBe(0);
  });

  test("killall stops every process, mount, link, rule and cgroup, and keeps the data", async () => {
    const kill = sh([BIN, "killall", "--data-dir", dataDir]);
    expect(kill.code, kill.text).toBe(0);
    expect(alive(srv!.proc.pid), "the server process is gone").toBe(false);
    const left = leftovers(dataDir, veths, netns, BRIDGE);
    expect(left, `killall left:\n${kill.text}`).toEqual(nothing(left));
    expect(existsSync(join(dataDir, "server", "db")), "the data is kept").toBe(true);
    expect(existsSync(join(dataDir, "agent", "containerd", "root")), "images are kept").toBe(true);
  });

  test("after killall the same data dir starts again and the pods come back", async () => {
    await srv!.restart();
    await until("both pods Running again", running, 120_000, 500, () => srv!.logTail(30));
  });

  test("uninstall removes the units, the binary, the data and everything killall removes", async () => {
    veths.length = 0;
    veths.push(...JSON.parse(sh(["ip", "-j", "link", "show", "master", BRIDGE]).out || "[]").map((l: any) => l.ifname));
    const u = sh([BIN, "uninstall", "--root", r]);
    expect(u.code, u.text).toBe(0);
    expect(alive(srv!.proc.pid)).toBe(false);
    const left = leftovers(dataDir, veths, netns, BRIDGE);
    expect(left, `uninstall left:\n${u.text}`).toEqual(nothing(left));
    expect(existsSync(dataDir), "data dir removed").toBe(false);
    const sys = join(r, "etc/systemd/system");
    expect(readdirSync(sys).filter((f) => f.startsWith("skiff"))).toEqual([]);
    expect(existsSync(join(sys, "multi-user.target.wants", "skiff.service"))).toBe(false);
    expect(existsSync(BIN)).toBe(false);
  });
});
