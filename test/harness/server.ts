// Start and stop a real `skiff server` child process for end-to-end tests: a free loopback
// port, a temp data dir, wait for /readyz, and the admin kubeconfig it writes.
// The server is a separate process on purpose: these tests must see what a user sees
// (crashes, kill -9, restarts), not an in-process shortcut.
import { mkdtempSync, rmSync, existsSync, readFileSync, mkdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { parse as parseYaml } from "yaml";
import { endpointForTest, testDatastoreKind, type DatastoreKind } from "./datastore";

export const REPO = resolve(import.meta.dir, "../..");
export const BUN = join(REPO, "node_modules/.bin/bun");

export interface StartOptions {
  /** Command prefix that runs skiff; `server` and flags are appended.
   *  Default: `bun cli/main.ts` (or `$SKIFF_E2E_BIN` if set, e.g. dist/skiff). */
  command?: string[];
  /** Extra environment for the server (e.g. SKIFF_WATCH_WINDOW). */
  env?: Record<string, string>;
  /** Reuse an existing data dir (default: a fresh temp dir). */
  dataDir?: string;
  port?: number;
  extraArgs?: string[];
  /** How long to wait for /readyz (default 60 s). */
  readyTimeoutMs?: number;
  /** Short label used in temp dir names and error messages. */
  name?: string;
  /** Run the embedded agent (default: --disable-agent; the agent needs root and containerd). */
  embeddedAgent?: boolean;
  /**
   * The store: "embedded", "etcd" or "postgres" (a datastore of its own, started here and stopped
   * with the server), or the endpoint of one the test started. Default: $SKIFF_TEST_DATASTORE.
   */
  datastore?: DatastoreKind | { endpoint: string };
}

export interface Credentials {
  server: string;
  headers: Record<string, string>;
  tls?: { cert?: string; key?: string; ca?: string; rejectUnauthorized?: boolean };
}

export interface SkiffServer {
  /** Base URL, e.g. http://127.0.0.1:41234 (from the kubeconfig once it exists). */
  url: string;
  port: number;
  kubeconfig: string;
  dataDir: string;
  /** Directory for logs, kubectl cache and scratch files (outside the data dir). */
  runDir: string;
  /** The current child process (changes after restart()). */
  readonly proc: Subprocess;
  creds: Credentials;
  /** Send a signal and wait for the process to exit; returns the exit code (null if signalled). */
  kill(signal?: NodeJS.Signals | number): Promise<number | null>;
  /** Start a new process on the same data dir and port; resolves when ready. */
  restart(): Promise<void>;
  /** SIGTERM (then SIGKILL after 5 s) and remove temp dirs (unless SKIFF_E2E_KEEP=1). */
  stop(): Promise<void>;
  /** Last lines of the current server log, for error messages. */
  logTail(lines?: number): string;
  /** fetch() against the API with the kubeconfig's credentials. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** True while the current process has not exited. */
  alive(): boolean;
}

export async function freePort(): Promise<number> {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}

function defaultCommand(): string[] {
  const bin = process.env.SKIFF_E2E_BIN;
  if (bin) return [resolve(REPO, bin)];
  return [BUN, join(REPO, "cli/main.ts")];
}

/** Read server URL and credentials from an admin kubeconfig (token, basic, client cert). */
export function loadCredentials(kubeconfigPath: string): Credentials {
  const kc = parseYaml(readFileSync(kubeconfigPath, "utf8")) as any;
  const ctxName = kc?.["current-context"];
  const ctx = (kc?.contexts ?? []).find((c: any) => c.name === ctxName)?.context ?? kc?.contexts?.[0]?.context;
  if (!ctx) throw new Error(`kubeconfig ${kubeconfigPath}: no current context`);
  const cluster = (kc.clusters ?? []).find((c: any) => c.name === ctx.cluster)?.cluster;
  if (!cluster?.server) throw new Error(`kubeconfig ${kubeconfigPath}: cluster ${ctx.cluster} has no server`);
  const user = (kc.users ?? []).find((u: any) => u.name === ctx.user)?.user ?? {};
  const headers: Record<string, string> = {};
  if (user.token) headers.authorization = `Bearer ${user.token}`;
  else if (user["token-file"]) headers.authorization = `Bearer ${readFileSync(user["token-file"], "utf8").trim()}`;
  else if (user.username) headers.authorization = `Basic ${Buffer.from(`${user.username}:${user.password ?? ""}`).toString("base64")}`;
  const b64 = (s?: string) => (s ? Buffer.from(s, "base64").toString("utf8") : undefined);
  const file = (p?: string) => (p ? readFileSync(p, "utf8") : undefined);
  let tls: Credentials["tls"];
  if (String(cluster.server).startsWith("https:")) {
    tls = {
      cert: b64(user["client-certificate-data"]) ?? file(user["client-certificate"]),
      key: b64(user["client-key-data"]) ?? file(user["client-key"]),
      ca: b64(cluster["certificate-authority-data"]) ?? file(cluster["certificate-authority"]),
      rejectUnauthorized: !cluster["insecure-skip-tls-verify"],
    };
  }
  return { server: String(cluster.server).replace(/\/$/, ""), headers, tls };
}

/** fetch with kubeconfig credentials; `path` is absolute ("/api/v1/...") or a full URL. */
export function credFetch(creds: Credentials, path: string, init: RequestInit = {}): Promise<Response> {
  const url = path.startsWith("http") ? path : creds.server + path;
  const headers = new Headers(init.headers);
  for (const [k, v] of Object.entries(creds.headers)) if (!headers.has(k)) headers.set(k, v);
  const opts: any = { ...init, headers };
  if (creds.tls) opts.tls = creds.tls;
  return fetch(url, opts);
}

function tail(path: string, n: number): string {
  try {
    const lines = readFileSync(path, "utf8").split("\n");
    return lines.slice(-n).join("\n");
  } catch {
    return "(no log)";
  }
}

export async function startServer(opts: StartOptions = {}): Promise<SkiffServer> {
  const label = opts.name ?? "skiff";
  const runDir = mkdtempSync(join(tmpdir(), `skiff-e2e-${label}-`));
  const ownDataDir = !opts.dataDir;
  const dataDir = opts.dataDir ?? join(runDir, "data");
  mkdirSync(dataDir, { recursive: true });
  const port = opts.port ?? (await freePort());
  const raftPort = await freePort();
  const kubeconfig = join(dataDir, "kubeconfig.yaml");
  const command = opts.command ?? defaultCommand();
  const readyTimeoutMs = opts.readyTimeoutMs ?? 60_000;
  let generation = 0;
  let proc!: Subprocess;
  let logPath = "";
  let creds: Credentials = { server: `http://127.0.0.1:${port}`, headers: {} };
  // The parameterised suites: the same tests over the embedded store, etcd or PostgreSQL.
  let datastoreArgs: string[] = [];
  let stopDatastore = async () => {};
  if (!opts.extraArgs?.includes("--datastore-endpoint")) {
    const ds = opts.datastore ?? testDatastoreKind();
    if (typeof ds === "object") datastoreArgs = ["--datastore-endpoint", ds.endpoint];
    else if (ds !== "embedded") {
      const d = await endpointForTest(ds);
      datastoreArgs = ["--datastore-endpoint", d.endpoint];
      stopDatastore = d.stop;
    }
  }

  const args = [
    ...command,
    "server",
    "--data-dir",
    dataDir,
    "--https-listen-port",
    String(port),
    "--bind-address",
    "127.0.0.1",
    ...(opts.embeddedAgent ? [] : ["--disable-agent"]),
    // Peer port too: several test servers may run at once.
    ...(opts.extraArgs?.includes("--raft-listen-port") ? [] : ["--raft-listen-port", String(raftPort)]),
    ...datastoreArgs,
    ...(opts.extraArgs ?? []),
  ];

  const spawnOnce = () => {
    generation++;
    logPath = join(runDir, `server-${generation}.log`);
    proc = Bun.spawn(args, {
      cwd: REPO,
      env: { ...process.env, ...opts.env },
      stdout: Bun.file(logPath),
      stderr: Bun.file(logPath + ".err"),
      stdin: "ignore",
    });
  };

  const logTail = (n = 40) =>
    `--- server log (${logPath}) ---\n${tail(logPath, n)}\n--- stderr ---\n${tail(logPath + ".err", n)}`;

  const waitReady = async () => {
    const deadline = Date.now() + readyTimeoutMs;
    let last = "no answer";
    while (Date.now() < deadline) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        throw new Error(
          `skiff server (${args.join(" ")}) exited before ready: code=${proc.exitCode} signal=${proc.signalCode}\n${logTail()}`,
        );
      }
      if (existsSync(kubeconfig) && statSync(kubeconfig).size > 0) {
        try {
          creds = loadCredentials(kubeconfig);
        } catch (e) {
          last = `kubeconfig unreadable: ${(e as Error).message}`;
        }
      }
      try {
        const r = await credFetch(creds, "/readyz", { signal: AbortSignal.timeout(2000) });
        last = `GET /readyz -> ${r.status} ${(await r.text()).slice(0, 200)}`;
        if (r.status === 200 && existsSync(kubeconfig)) {
          creds = loadCredentials(kubeconfig);
          return;
        }
      } catch (e) {
        last = `GET ${creds.server}/readyz failed: ${(e as Error).message}`;
      }
      await Bun.sleep(100);
    }
    throw new Error(
      `skiff server not ready within ${readyTimeoutMs} ms (kubeconfig ${existsSync(kubeconfig) ? "present" : "MISSING"} at ${kubeconfig}; last: ${last})\n${logTail()}`,
    );
  };

  const exited = async (ms: number) => {
    const t = Bun.sleep(ms).then(() => "timeout" as const);
    return (await Promise.race([proc.exited.then(() => "exited" as const), t])) === "exited";
  };

  spawnOnce();
  try {
    await waitReady();
  } catch (e) {
    try {
      proc.kill(9);
    } catch {}
    await stopDatastore();
    // The error carries the log's tail; the run dir would only pile up (one per refused start).
    if (process.env.SKIFF_E2E_KEEP !== "1") {
      await proc.exited.catch(() => {});
      rmSync(runDir, { recursive: true, force: true });
    }
    throw e;
  }

  const server: SkiffServer = {
    get url() {
      return creds.server;
    },
    port,
    kubeconfig,
    dataDir,
    runDir,
    get proc() {
      return proc;
    },
    get creds() {
      return creds;
    },
    async kill(signal: NodeJS.Signals | number = "SIGTERM") {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal as any);
      await proc.exited;
      return proc.exitCode;
    },
    async restart() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill("SIGTERM");
        if (!(await exited(5000))) proc.kill(9);
        await proc.exited;
      }
      spawnOnce();
      await waitReady();
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill("SIGTERM");
        if (!(await exited(5000))) {
          proc.kill(9);
          await proc.exited;
        }
      }
      await stopDatastore();
      if (process.env.SKIFF_E2E_KEEP !== "1") {
        rmSync(runDir, { recursive: true, force: true });
        if (ownDataDir) rmSync(dataDir, { recursive: true, force: true });
      }
    },
    logTail,
    fetch(path: string, init?: RequestInit) {
      return credFetch(creds, path, init);
    },
    alive() {
      return proc.exitCode === null && proc.signalCode === null;
    },
  } as SkiffServer;
  return server;
}

/** Is `bun cli/main.ts server` (or $SKIFF_E2E_BIN) runnable at all? Used for early, clear failures. */
export function serverEntryExists(): boolean {
  return process.env.SKIFF_E2E_BIN ? existsSync(resolve(REPO, process.env.SKIFF_E2E_BIN)) : existsSync(join(REPO, "cli/main.ts"));
}
