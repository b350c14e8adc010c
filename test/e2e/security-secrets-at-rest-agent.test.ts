// Issue 10, acceptance 9 on a machine running an agent (security-secrets-at-rest.test.ts covers
// the servers): a real `skiff server` and an agent (runAgent on a real containerd) run a pod whose
// container takes a Secret as env (secretKeyRef, envFrom.secretRef, a $(VAR) built from it) and as
// a volume, next to a container without secrets.
//   - no file on disk under the agent's data dir holds a secret value or its base64. Files on
//     memory-backed mounts (tmpfs: the secret volume, the agent's secret store) are not "on disk"
//     and are skipped; so is containerd's metadata DB, which holds every container's spec, env
//     included, exactly as with kubelet + containerd (see agent/README.md, "Secrets on the node");
//   - an agent restart with the server up keeps the container and its env; with the server down,
//     a container killed meanwhile is recreated with its env from the tmpfs store;
//   - after a "reboot" (the store's tmpfs gone, containers killed, server down) the container
//     without secrets starts offline, the one with secret env waits (CreateContainerConfigError,
//     said in the agent log) until the server is back, then starts with the right env.
//
// Skipped (with the reason printed) when not root or containerd/runc/CNI cannot be installed.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isMemoryBacked } from "../../agent/cache/secret-store.ts";
import { runAgent, type Agent, type AgentOptions } from "../../agent/main.ts";
import { isMountPoint, unmount, unmountAll } from "../../agent/volumes/mount.ts";
import { containerdSkipReason } from "../harness/containerd.ts";
import { cleanupLocalNode, stopInProcessAgent } from "../harness/local-node.ts";
import { startServer, type SkiffServer } from "../harness/server.ts";
import { until as waitUntil } from "../harness/wait.ts";
import { busyboxImage } from "../images/builder.ts";

setDefaultTimeout(180_000);

const NODE = "secenv-node";
const BRIDGE = "skiffse0";
const POD_CIDR = "10.79.0.0/24";
const CGROUP_ROOT = `/skiff-e2e-secenv-${process.pid}`;
const IMAGE = "busybox:latest";
const RUN = Math.random().toString(36).slice(2, 8);
const PW = `sk-${RUN}-password`;
const TOKEN = `sk-${RUN}-api-token`;
const b64 = (s: string) => Buffer.from(s).toString("base64");
/** Unique sleep lengths, to find each container's process on the host. */
const SLEEP_SECRET = 3_000_000 + Math.floor(Math.random() * 100_000);
const SLEEP_PLAIN = SLEEP_SECRET + 1;

const reason = containerdSkipReason(import.meta.path);

/** containerd's bolt metadata DB: container specs (env included) live there, as with kubelet. */
const CONTAINERD_META = "agent/containerd/root/io.containerd.metadata.v1.bolt/meta.db";

interface Scan {
  leaks: string[];
  skippedInMemory: string[];
  containerdMeta: string[];
}

/** Every regular file under dir, leaving out the contents of memory-backed mounts (listed apart). */
function scanDataDir(dataDir: string): Scan {
  const needles = [PW, TOKEN, b64(PW), b64(TOKEN)].map((n) => Buffer.from(n));
  const out: Scan = { leaks: [], skippedInMemory: [], containerdMeta: [] };
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        if (isMountPoint(p) && isMemoryBacked(p)) {
          out.skippedInMemory.push(p.slice(dataDir.length + 1));
          continue;
        }
        walk(p);
      } else if (e.isFile()) {
        let buf: Buffer;
        try {
          buf = readFileSync(p);
        } catch {
          continue; // removed meanwhile (a log rotated, a tmp file renamed)
        }
        const hit = needles.filter((n) => buf.includes(n)).map((n) => n.toString());
        if (!hit.length) continue;
        if (p === join(dataDir, CONTAINERD_META)) out.containerdMeta.push(...hit);
        else out.leaks.push(`${p.slice(dataDir.length + 1)}: ${hit.join(", ")}`);
      }
    }
  };
  walk(dataDir);
  return out;
}

/** Host pids of processes whose command line is exactly `sleep <n>`. */
function pidsOfSleep(n: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, "utf8") === `sleep\0${n}\0`) out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}

describe.skipIf(reason !== null)("secret env on an agent stays off the disk", () => {
  let srv: SkiffServer;
  let agent: Agent | null = null;
  const dataDir = mkdtempSync(join(tmpdir(), "skiff-secenv-e2e-"));
  const storeDir = join(dataDir, "agent", "secrets");
  const logs: string[] = [];
  let agentOpts: AgentOptions;

  const api = async (path: string, init: RequestInit = {}) => {
    const r = await srv.fetch(path, { ...init, headers: { "content-type": "application/json", ...(init.headers ?? {}) } });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : undefined };
  };
  const until = <T>(what: string, fn: () => Promise<T | undefined | false | null>, timeoutMs = 30_000, stepMs = 250) =>
    waitUntil(what, fn, timeoutMs, stepMs, () => `agent log:\n${logs.slice(-25).join("\n")}`);
  const getPod = async () => (await api(`/api/v1/namespaces/default/pods/app`)).body;
  const cs = (p: any, name: string) => (p?.status?.containerStatuses ?? []).find((c: any) => c.name === name);
  const containers = async (name: string) =>
    (await agent!.runtime.cri.listContainers({ labelSelector: { "io.kubernetes.pod.name": "app", "io.kubernetes.container.name": name } })).sort((a, b) => b.createdAt - a.createdAt);
  const running = async (name: string) => (await containers(name)).find((c) => c.state === "CONTAINER_RUNNING");
  const envOf = async (id: string) => {
    const r = await agent!.runtime.cri.execSync(id, ["env"], 5);
    return Object.fromEntries(r.stdout.toString().split("\n").filter(Boolean).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
  };
  const expectSecretEnv = (env: Record<string, string>) => {
    expect(env.PW).toBe(PW);
    expect(env.DB_token).toBe(TOKEN);
    expect(env.DB_pw).toBe(PW);
    expect(env.DSN).toBe(`user:${PW}@db`);
  };

  beforeAll(async () => {
    srv = await startServer({ name: "secenv" });
    mkdirSync(join(dataDir, "agent", "images"), { recursive: true });
    copyFileSync(busyboxImage(), join(dataDir, "agent", "images", "busybox.tar"));
    agentOpts = {
      server: srv.url,
      caData: srv.creds.tls?.ca,
      token: srv.creds.headers.authorization?.replace(/^Bearer /, ""),
      dataDir,
      nodeName: NODE,
      podCidr: POD_CIDR,
      log: (m) => logs.push(m),
      tuning: { bridge: BRIDGE, forcePodCidr: true, cgroupRoot: CGROUP_ROOT, backoffInitialMs: 500, backoffMaxMs: 2000, leaseRenewMs: 1000, retryMs: 500, relistMs: 500 },
    };
    agent = await runAgent(agentOpts);
    const sec = await api("/api/v1/namespaces/default/secrets", {
      method: "POST",
      body: JSON.stringify({ metadata: { name: "db" }, stringData: { pw: PW, token: TOKEN } }),
    });
    expect(sec.status, JSON.stringify(sec.body)).toBe(201);
    const cm = await api("/api/v1/namespaces/default/configmaps", { method: "POST", body: JSON.stringify({ metadata: { name: "plain" }, data: { mode: "offline-ok" } }) });
    expect(cm.status).toBe(201);
    const pod = {
      metadata: { name: "app", namespace: "default" },
      spec: {
        nodeName: NODE,
        terminationGracePeriodSeconds: 1,
        containers: [
          {
            name: "app",
            image: IMAGE,
            imagePullPolicy: "IfNotPresent",
            command: ["sleep", String(SLEEP_SECRET)],
            env: [
              { name: "PW", valueFrom: { secretKeyRef: { name: "db", key: "pw" } } },
              { name: "DSN", value: "user:$(PW)@db" },
            ],
            envFrom: [{ secretRef: { name: "db" }, prefix: "DB_" }],
            volumeMounts: [{ name: "creds", mountPath: "/creds" }],
          },
          {
            name: "plain",
            image: IMAGE,
            imagePullPolicy: "IfNotPresent",
            command: ["sleep", String(SLEEP_PLAIN)],
            env: [{ name: "MODE", valueFrom: { configMapKeyRef: { name: "plain", key: "mode" } } }],
          },
        ],
        volumes: [{ name: "creds", secret: { secretName: "db" } }],
      },
    };
    const r = await api("/api/v1/namespaces/default/pods", { method: "POST", body: JSON.stringify(pod) });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
  });

  afterAll(async () => {
    try {
      await stopInProcessAgent(agent);
    } finally {
      unmountAll(dataDir);
      await cleanupLocalNode({ dataDir, bridge: BRIDGE, cgroupRoot: CGROUP_ROOT });
      await srv?.stop();
    }
  });

  test("the container has the secret as env and volume; no file on disk under the data dir holds a value or its base64", async () => {
    await until("app running", async () => cs(await getPod(), "app")?.state?.running && cs(await getPod(), "plain")?.state?.running, 60_000);
    const app = (await running("app"))!;
    expectSecretEnv(await envOf(app.id));
    const file = await agent!.runtime.cri.execSync(app.id, ["cat", "/creds/pw"], 5);
    expect(file.stdout.toString()).toBe(PW);
    expect((await envOf((await running("plain"))!.id)).MODE).toBe("offline-ok");

    expect(isMountPoint(storeDir) && isMemoryBacked(storeDir)).toBe(true);
    const scan = scanDataDir(dataDir);
    expect(scan.leaks).toEqual([]);
    // what the scan left out, and why: memory-backed mounts (the store, the secret volume)...
    expect(scan.skippedInMemory).toContain("agent/secrets");
    // containerd's state (task bundles: config.json with the env), as /run/containerd is
    expect(scan.skippedInMemory).toContain("agent/containerd/state");
    expect(scan.skippedInMemory.some((p) => p.startsWith("agent/pods/") && p.endsWith("/creds"))).toBe(true);
    // ...whose files do hold the values (so the scan looks in the right places)
    const uid = (await getPod()).metadata.uid;
    expect(readFileSync(join(storeDir, "pods", uid, "env", "app.json"), "utf8")).toContain(PW);
    expect(existsSync(join(dataDir, "agent", "pods", uid, "env", "app.json"))).toBe(false);
    expect(readFileSync(join(dataDir, "agent", "pods", uid, "env", "plain.json"), "utf8")).toContain("offline-ok");
    // ...and containerd's metadata DB, which has the container spec with its env (as kubelet's).
    expect(scan.containerdMeta).toContain(PW);
  });

  test("an agent restart with the server up keeps the container and its env", async () => {
    const before = (await running("app"))!.id;
    await agent!.stop();
    agent = await runAgent(agentOpts);
    await until("agent online", async () => agent!.online());
    await Bun.sleep(1500);
    const after = (await running("app"))!;
    expect(after.id).toBe(before);
    expectSecretEnv(await envOf(after.id));
    expect(scanDataDir(dataDir).leaks).toEqual([]);
  });

  test("server down, agent restarted, container killed meanwhile: recreated with its env from the tmpfs store", async () => {
    const before = (await running("app"))!.id;
    await agent!.stop();
    await srv.kill("SIGKILL");
    for (const pid of pidsOfSleep(SLEEP_SECRET)) process.kill(pid, "SIGKILL");
    agent = await runAgent(agentOpts);
    expect(agent.online()).toBe(false);
    const again = await until("app recreated offline", async () => {
      const c = await running("app");
      return c && c.id !== before && c;
    }, 60_000);
    expectSecretEnv(await envOf(again.id));
    expect(scanDataDir(dataDir).leaks).toEqual([]);
    await srv.restart();
    await until("agent online", async () => agent!.online());
    // back online, the worker keeps the container it made offline (no second one)
    await Bun.sleep(1500);
    const runningApps = (await containers("app")).filter((c) => c.state === "CONTAINER_RUNNING");
    expect(runningApps.map((c) => c.id), `agent log:\n${logs.slice(-25).join("\n")}`).toEqual([again.id]);
  });

  test("after a reboot (store gone) the secret env container waits for the server, the other one starts offline", async () => {
    // every container that existed before the "reboot": what runs afterwards must be new
    const before = new Set([...(await containers("app")), ...(await containers("plain"))].map((c) => c.id));
    await agent!.stop();
    await srv.kill("SIGKILL");
    // a reboot: tmpfs contents are gone and so are the containers
    unmount(storeDir);
    for (const pid of [...pidsOfSleep(SLEEP_SECRET), ...pidsOfSleep(SLEEP_PLAIN)]) process.kill(pid, "SIGKILL");
    const mark = logs.length;
    agent = await runAgent(agentOpts);
    expect(agent.online()).toBe(false);
    expect(isMountPoint(storeDir) && isMemoryBacked(storeDir)).toBe(true);
    const fresh = async (name: string) => (await containers(name)).find((c) => !before.has(c.id) && c.state === "CONTAINER_RUNNING");
    const plain = await until("plain recreated offline", () => fresh("plain"), 60_000);
    const plainEnv = await envOf(plain.id);
    expect(plainEnv.MODE, JSON.stringify(plainEnv)).toBe("offline-ok");
    await until("the wait is logged", async () =>
      logs.slice(mark).find((l) => l.includes("the environment of container app uses Secrets, which the node keeps in memory only (gone after a reboot): waiting for the API server")),
    );
    await Bun.sleep(1500);
    const started = await fresh("app");
    expect(started, `app started offline: ${JSON.stringify(await containers("app"))}\nagent log:\n${logs.slice(mark).join("\n")}`).toBeUndefined();

    await srv.restart();
    const app = await until("app started once the server is back", () => fresh("app"), 60_000);
    expectSecretEnv(await envOf(app.id));
    await until("status caught up", async () => {
      const p = await getPod();
      return cs(p, "app")?.state?.running && cs(p, "app")?.containerID === `containerd://${app.id}`;
    }, 30_000);
    expect(scanDataDir(dataDir).leaks).toEqual([]);
  });
});
