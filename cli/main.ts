#!/usr/bin/env bun
// The one entry point: `skiff server`, `skiff agent` and the kubectl-like verbs.
//
// Memory (issue 4: idle agent <= 60 MB): every mode is reached through import(), and the build
// (package.json) uses --splitting, so each import() is its own chunk inside dist/skiff and
// `skiff agent` never parses or evaluates the server's code or its node: imports (without
// splitting, Bun hoists every node: import of the bundle to start-up: bun:sqlite, http, ...).
import { parseArgs } from "node:util";
import pkg from "../package.json" with { type: "json" };
import { defaultDataDir } from "../lib/paths";

const VERBS: Record<string, string> = {
  apply: "Apply a configuration from files or stdin (server-side apply)",
  get: "Display one or many resources",
  describe: "Show details of a resource and its events",
  delete: "Delete resources by file, name or label selector",
  create: "Create a namespace or resources from a file",
  scale: "Set a new size for a Deployment, ReplicaSet or StatefulSet",
  logs: "Print the logs of a container in a pod (-f to follow, -p for the previous one)",
  exec: "Run a command in a container (-i for stdin, -t for a terminal): exec POD -- CMD",
  rollout: "Manage a rollout: status, history, undo, restart, pause, resume",
  top: "Show CPU and memory usage of nodes or pods (metrics.k8s.io)",
  images: "Import, list or remove images in this node's containerd (air-gap)",
  cluster: "List or remove control-plane servers (members, remove NAME)",
  token: "Rotate the server or agent join token: token rotate [--type server|agent] [--new-token T]",
  "secrets-encrypt": "Secrets encryption at rest: status, rotate-keys, prepare, rotate, reencrypt, enable, disable",
  install: "Install skiff as a systemd service: install [server|agent] [flags]",
  uninstall: "Remove the service, every pod, Skiff's network state and data (--keep-data)",
  killall: "Stop skiff, every pod container and shim, and its network state; keep the data",
  "check-config": "Check this host for Skiff: kernel, cgroups, iptables, disk, memory, clock",
  certificate: "Show certificate expiry (check) or re-issue them without a restart (rotate)",
  snapshot: "Save, list, delete or restore snapshots of the store: snapshot save|ls|delete|restore",
  upgrade: "Upgrade the installed server: upgrade --binary FILE (rolls back by itself if not ready)",
};

const HELP = `skiff — a Kubernetes-compatible orchestrator for edge machines

Usage:
  skiff server [flags]        Run a control-plane node (API server, store, controllers)
  skiff agent  [flags]        Run a node agent that joins a server with its token
  skiff <verb> [args]         Talk to a cluster like kubectl
  skiff version               Print the version

Verbs:
${Object.entries(VERBS)
  .map(([v, d]) => `  ${v.padEnd(12)} ${d}`)
  .join("\n")}

Server flags:
  --data-dir DIR              State directory (default /var/lib/skiff, or ~/.skiff when not root)
  --bind-address ADDR         Address to listen on (default 127.0.0.1)
  --advertise-address IP      Address other servers and agents reach this server on (default: the
                              bind address, or this host's first non-loopback IPv4 when it is 0.0.0.0)
  --https-listen-port PORT    API port (default 6443, HTTPS with the cluster's own CA)
  --tls-san NAME|IP           Extra name or IP for the serving certificate (repeatable)
  -t, --token SECRET          Server token: joins servers (and agents) (default: generated, in <data-dir>/server/token)
  --agent-token SECRET        Agent token of a new cluster: joins agents only (default: generated, in <data-dir>/server/agent-token)
  -s, --server URL            Join the control plane of this server (with --token): learner, then voter (alias --join)
  --raft-listen-port PORT     Port for control-plane peer traffic (gRPC, mutual TLS; default 2380)
  --datastore-endpoint URL    Keep the cluster in an external datastore instead of the embedded store (no
                              Raft; every server started with it shares it): http(s)://host:2379[,...] for
                              etcd 3.4+, postgres://user:password@host:5432/db for PostgreSQL 13+
  --datastore-cafile FILE     CA that signs the datastore's certificate (and --datastore-certfile FILE,
                              --datastore-keyfile FILE: this server's client certificate for it)
  --write-kubeconfig FILE     Where to write the admin kubeconfig (default <data-dir>/kubeconfig.yaml)
  --disable-agent             Do not run the embedded node agent (needs root, containerd, runc, CNI)
  --disable COMPONENT         Do not run a built-in component: ingress (alias traefik), servicelb (repeatable)
  --ingress-http-port PORT    Port of the embedded agent's ingress proxy for HTTP (default 80)
  --ingress-https-port PORT   ... and for HTTPS (default 443)
  --node-name NAME            Node name (default: the hostname)
  --cluster-reset             Lost quorum: make this server a cluster of one with all its data
                              (others then join it again from an empty data dir)
  --cluster-reset-restore-path FILE  With --cluster-reset: start from this snapshot instead
                              (on an empty data dir also give --token, the cluster's server token)
  --snapshot-cron EXPR        Scheduled snapshots (default "0 */12 * * *")
  --snapshot-retention N      Snapshots of each name kept, and pre-upgrade ones (default 5)
  --snapshot-dir DIR          Where snapshots go (default <data-dir>/server/db/snapshots)
  --disable-snapshots         No scheduled snapshots
  --upgrade-ready-timeout S   A start with a new version (which first snapshots the store) that is not
                              ready in S seconds restores the data dir and exits (default 300)
  --force-upgrade             Start a version whose upgrade failed and was rolled back before
  --audit-policy-file FILE    Audit policy (audit.k8s.io/v1 Policy): which requests are logged, at which level
  --audit-log-path FILE       Write the audit log (JSON lines of audit.k8s.io/v1 Event) here; "-" for stdout
  --audit-log-maxsize MB      Rotate the audit log at this size (and --audit-log-maxbackup N files kept,
                              --audit-log-maxage DAYS they are kept; 0 = no limit)

Agent flags:
  -s, --server URL            Server to join, e.g. https://10.0.0.1:6443
  -t, --token TOKEN           The agent token (<data-dir>/server/agent-token on the first server; the server token works too)
  --data-dir DIR              State directory (default as for the server)
  --node-name NAME            Node name (default: the hostname)
  --node-ip IP                Address other nodes reach this node on
  --container-runtime-endpoint SOCK  Use an existing containerd instead of starting one
  --disable ingress           Do not run the ingress proxy on this node
  --ingress-http-port PORT    Ingress proxy port for HTTP (default 80); --ingress-https-port PORT (default 443)

Client flags (every verb):
  --kubeconfig FILE           Kubeconfig to use (default $KUBECONFIG, ~/.kube/config, then <data-dir>/kubeconfig.yaml)
  -n, --namespace NS          Namespace
`;

async function server(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      "data-dir": { type: "string" },
      "bind-address": { type: "string", default: "127.0.0.1" },
      "advertise-address": { type: "string" },
      "https-listen-port": { type: "string", default: "6443" },
      "write-kubeconfig": { type: "string" },
      "disable-agent": { type: "boolean", default: false },
      "node-name": { type: "string" },
      "tls-san": { type: "string", multiple: true },
      server: { type: "string", short: "s" },
      // DESIGN.md spells it --join; both work.
      join: { type: "string" },
      "raft-listen-port": { type: "string", default: "2380" },
      token: { type: "string", short: "t" },
      disable: { type: "string", multiple: true },
      "ingress-http-port": { type: "string", default: "80" },
      "ingress-https-port": { type: "string", default: "443" },
      "agent-token": { type: "string" },
      "cluster-reset": { type: "boolean", default: false },
      "cluster-reset-restore-path": { type: "string" },
      "snapshot-cron": { type: "string" },
      "snapshot-retention": { type: "string" },
      "audit-policy-file": { type: "string" },
      "audit-log-path": { type: "string" },
      "audit-log-maxsize": { type: "string" },
      "audit-log-maxbackup": { type: "string" },
      "audit-log-maxage": { type: "string" },
      "snapshot-dir": { type: "string" },
      "disable-snapshots": { type: "boolean", default: false },
      "upgrade-ready-timeout": { type: "string" },
      "force-upgrade": { type: "boolean", default: false },
      "datastore-endpoint": { type: "string" },
      "datastore-cafile": { type: "string" },
      "datastore-certfile": { type: "string" },
      "datastore-keyfile": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const retention = values["snapshot-retention"] === undefined ? undefined : Number(values["snapshot-retention"]);
  if (retention !== undefined && (!Number.isInteger(retention) || retention < 0)) {
    console.error(`error: --snapshot-retention must be a whole number (0 keeps every snapshot), got "${values["snapshot-retention"]}"`);
    return 1;
  }
  const disable = parseDisable(values.disable ?? [], ["ingress", "servicelb"]);
  const ingress = ingressPorts(values, disable);
  if (typeof disable === "string" || typeof ingress === "string") {
    console.error(`error: ${typeof disable === "string" ? disable : ingress}`);
    return 1;
  }
  // dist/skiff starts with the JIT held back (package.json: --compile-jit-policy) so that the
  // agent and one-shot verbs stay small; the control plane's request paths are hot and worth
  // compiling (this also covers the agent embedded in this process).
  Bun.unsafe.setJITPolicy(1);
  // reflect-metadata must load before @peculiar/x509 (server PKI), even when bundled.
  await import("reflect-metadata");
  const { runServer } = await import("../server/main");
  const dataDir = values["data-dir"] ?? defaultDataDir();
  const port = Number(values["https-listen-port"]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    console.error(`error: --https-listen-port must be a port number (1-65535), got "${values["https-listen-port"]}"`);
    return 1;
  }
  const raftPort = Number(values["raft-listen-port"]);
  if (!Number.isInteger(raftPort) || raftPort < 1 || raftPort > 65535) {
    console.error(`error: --raft-listen-port must be a port number (1-65535), got "${values["raft-listen-port"]}"`);
    return 1;
  }
  const endpoint = values["datastore-endpoint"] ?? process.env.SKIFF_DATASTORE_ENDPOINT;
  if (endpoint) {
    const { datastoreKind } = await import("../server/store/external/open");
    try {
      datastoreKind(endpoint);
    } catch (e) {
      console.error(`error: ${(e as Error).message}`);
      return 1;
    }
  } else if (values["datastore-cafile"] || values["datastore-certfile"] || values["datastore-keyfile"]) {
    console.error("error: --datastore-cafile/--datastore-certfile/--datastore-keyfile need --datastore-endpoint");
    return 1;
  }
  const { beginUpgrade, DEFAULT_READY_TIMEOUT_S, recordReady, UpgradeRefusedError } = await import("../server/store/backup/upgrade");
  const readyTimeout = Number(values["upgrade-ready-timeout"] ?? DEFAULT_READY_TIMEOUT_S);
  if (!(readyTimeout > 0)) {
    console.error(`error: --upgrade-ready-timeout must be a number of seconds, got "${values["upgrade-ready-timeout"]}"`);
    return 1;
  }
  const { hostname } = await import("node:os");
  // A board without a real-time clock: wait for time sync before certificates are used or made.
  const { guardClock, keepRecordingTime } = await import("../lib/clock");
  await guardClock({ dataDir, log: (m) => console.error(m) });
  keepRecordingTime(dataDir);
  // A new version on this data dir: a snapshot first, then a bounded wait for readiness
  // (server/store/backup/upgrade.ts). An external datastore keeps its own history.
  const { join } = await import("node:path");
  const serverDir = join(dataDir, "server");
  let upgrade: import("../server/store/backup/upgrade").Upgrade | undefined;
  if (!endpoint) {
    const { defaultSnapshotDir } = await import("../server/store/backup/snapshots");
    try {
      upgrade = await beginUpgrade({
        serverDir,
        version: skiffVersion(),
        node: values["node-name"] ?? hostname(),
        snapshotDir: values["snapshot-dir"] ?? defaultSnapshotDir(serverDir),
        force: values["force-upgrade"],
        retention,
        log: (m) => console.log(m),
      });
    } catch (e) {
      if (!(e instanceof UpgradeRefusedError)) throw e;
      console.error(`error: ${e.message}`);
      return 1;
    }
  }
  const starting = runServer({
    dataDir,
    bindAddress: values["bind-address"]!,
    advertiseAddress: values["advertise-address"],
    port,
    writeKubeconfig: values["write-kubeconfig"] ?? `${dataDir}/kubeconfig.yaml`,
    disableAgent: values["disable-agent"]!,
    nodeName: values["node-name"] ?? hostname(),
    tlsSans: values["tls-san"],
    joinServer: values.server ?? values.join ?? process.env.SKIFF_SERVER,
    raftPort,
    token: values.token ?? process.env.SKIFF_TOKEN,
    disable,
    agentToken: values["agent-token"] ?? process.env.SKIFF_AGENT_TOKEN,
    clusterReset: values["cluster-reset"],
    clusterResetRestorePath: values["cluster-reset-restore-path"],
    snapshotCron: values["snapshot-cron"],
    snapshotRetention: retention,
    snapshotDir: values["snapshot-dir"],
    disableSnapshots: values["disable-snapshots"],
    audit: {
      policyFile: values["audit-policy-file"],
      logPath: values["audit-log-path"],
      maxSize: optionalNumber(values["audit-log-maxsize"]),
      maxBackup: optionalNumber(values["audit-log-maxbackup"]),
      maxAge: optionalNumber(values["audit-log-maxage"]),
    },
    datastore: endpoint ? { endpoint, cafile: values["datastore-cafile"], certfile: values["datastore-certfile"], keyfile: values["datastore-keyfile"] } : undefined,
  });
  let srv: Awaited<typeof starting>;
  try {
    // Only an upgrade waits on the probe: any other start is ready as it always was.
    srv = upgrade ? await readyWithin(starting, readyTimeout * 1000) : await starting;
  } catch (e) {
    if (!upgrade) throw e;
    const reason = e instanceof NotReadyError ? e.message : `the server did not start: ${(e as Error).message}`;
    console.error(`error: ${await upgrade.rollback(reason)}`);
    // Exits now: the half-started store (if it opened) is stale and must not be used.
    process.exit(1);
  }
  if (upgrade) upgrade.ready();
  else if (!endpoint) recordReady(serverDir, skiffVersion());
  // The embedded agent makes this node a worker too (K3s style); it talks to the API like any agent.
  let agent: { stop(): Promise<void> } | undefined;
  if (!values["disable-agent"]) {
    const nodeName = values["node-name"] ?? hostname();
    try {
      const { runAgent } = await import("../agent/main");
      const { nodePassword } = await import("../lib/join");
      // Bound like any agent's: a second machine cannot take this node's name.
      const password = nodePassword(dataDir);
      const creds = await srv.nodeCredentials(nodeName, password);
      // The server's heap keeps the garbage of pods that came and went too (~15 MB after 100).
      agent = await runAgent({
        ...creds,
        credentials: { expires: creds.expires, renew: () => srv.nodeCredentials(nodeName, password) },
        dataDir,
        nodeName,
        ingress,
        onPodGone: gcWhenSettled(),
      });
      console.log(`agent: node ${nodeName} registered`);
    } catch (e) {
      console.error(`agent: not started: ${(e as Error).message}\n(the control plane keeps running; use --disable-agent to run without one)`);
    }
  }
  // As for `skiff agent`: start-up garbage and the idle heap's slow growth are collected (a full
  // collection of this heap takes a few milliseconds; idle RSS target 90 MB with the agent).
  Bun.gc(true);
  setTimeout(() => Bun.gc(true), 5_000).unref(); // after the controllers' and agent's first syncs
  setInterval(() => Bun.gc(true), 60_000).unref();
  const shutdown = async () => {
    await agent?.stop();
    await srv.stop();
    process.exit(0);
  };
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);
  // `skiff certificate rotate` (and `systemctl reload skiff`): serve the new certificate.
  process.on("SIGHUP", () => {
    srv.reloadCertificates().then(
      (changed) => console.log(changed ? "serving certificate reloaded" : "SIGHUP: serving certificate unchanged"),
      (e) => console.error(`reloading the serving certificate failed: ${(e as Error).message}`),
    );
  });
  // `skiff cluster remove` of this server: stop, like a removed etcd member.
  void srv.removed.then(async (msg) => {
    console.error(msg);
    await agent?.stop();
    await srv.stop();
    process.exit(1);
  });
  return await new Promise<number>(() => {});
}

class NotReadyError extends Error {}

/**
 * The started server, once it answers its own /readyz over HTTPS; NotReadyError after `ms`.
 * SKIFF_TEST_NEVER_READY (tests only) makes this wait fail: a new version that never becomes
 * ready, to test the rollback with the real binary.
 */
async function readyWithin<T extends { url: string; caPem: string }>(starting: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new NotReadyError(`not ready within ${ms / 1000} s (--upgrade-ready-timeout)`)), ms);
  });
  const probe = async (): Promise<T> => {
    const srv = await starting;
    for (;;) {
      if (!process.env.SKIFF_TEST_NEVER_READY) {
        try {
          const r = await fetch(`${srv.url}/readyz`, { tls: { ca: srv.caPem }, signal: AbortSignal.timeout(5_000) });
          if (r.ok) return srv;
        } catch {
          /* not yet */
        }
      }
      await Bun.sleep(500);
    }
  };
  try {
    return await Promise.race([probe(), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** This binary's version (SKIFF_TEST_VERSION stands in for it in upgrade tests only). */
export function skiffVersion(): string {
  return process.env.SKIFF_TEST_VERSION || pkg.version;
}

/** A full GC 5 s after the last call: once a burst of pod churn has settled. */
function gcWhenSettled(): () => void {
  let timer: ReturnType<typeof setTimeout> | null = null;
  return () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => Bun.gc(true), 5_000);
    timer.unref();
  };
}

async function agentCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      server: { type: "string", short: "s" },
      token: { type: "string", short: "t" },
      "data-dir": { type: "string" },
      "node-name": { type: "string" },
      "node-ip": { type: "string" },
      "container-runtime-endpoint": { type: "string" },
      disable: { type: "string", multiple: true },
      "ingress-http-port": { type: "string", default: "80" },
      "ingress-https-port": { type: "string", default: "443" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const disable = parseDisable(values.disable ?? [], ["ingress"]);
  const ingress = ingressPorts(values, disable);
  if (typeof disable === "string" || typeof ingress === "string") {
    console.error(`error: ${typeof disable === "string" ? disable : ingress}`);
    return 1;
  }
  const server = values.server ?? process.env.SKIFF_URL;
  const token = values.token ?? process.env.SKIFF_TOKEN;
  if (!server || !token) {
    console.error("error: skiff agent needs --server https://SERVER:6443 and --token TOKEN (the agent token, in <data-dir>/server/agent-token on the server)");
    return 1;
  }
  const { hostname } = await import("node:os");
  const { CredentialsRefused, joinCluster, nodePassword, renewCredentials } = await import("../lib/join");
  const { rmSync } = await import("node:fs");
  const dataDir = values["data-dir"] ?? defaultDataDir();
  const nodeName = values["node-name"] ?? hostname();
  const credFile = `${dataDir}/agent/credentials.json`;
  const { guardClock, keepRecordingTime } = await import("../lib/clock");
  await guardClock({ dataDir, log: (m) => console.error(m) });
  keepRecordingTime(dataDir);
  let creds;
  let password;
  try {
    password = nodePassword(dataDir);
    creds = await joinCluster({ server, token, nodeName, credFile, nodePassword: password });
  } catch (e) {
    console.error(`error: cannot join the cluster: ${(e as Error).message}`);
    return 1;
  }
  const pw = password;
  let cur = creds;
  // Renewed with the current credential; one no longer accepted (binding removed, expired
  // while offline) is replaced by joining again with the token.
  const renew = async () => {
    try {
      cur = await renewCredentials(cur, pw, credFile);
    } catch (e) {
      if (!(e instanceof CredentialsRefused)) throw e;
      rmSync(credFile, { force: true });
      cur = await joinCluster({ server, token, nodeName, credFile, nodePassword: pw });
    }
    return cur;
  };
  const { runAgent } = await import("../agent/main");
  // JSC collects when allocation outgrows the heap, which an idle agent rarely does, so the
  // garbage of start-up and of pods that came and went stays resident (~7 MB after 5 pods). A
  // full collection (milliseconds on this small heap) after start, a few seconds after pods
  // leave the node, and every minute keeps idle RSS down.
  const agent = await runAgent({
    server: creds.server,
    caData: creds.caData,
    token: creds.token,
    credentials: { expires: creds.expires, renew },
    dataDir,
    nodeName,
    nodeIp: values["node-ip"],
    containerRuntimeEndpoint: values["container-runtime-endpoint"],
    ingress,
    onPodGone: gcWhenSettled(),
  });
  console.log(`skiff agent: node ${nodeName} joined ${creds.server}`);
  Bun.gc(true);
  setTimeout(() => Bun.gc(true), 5_000).unref(); // after the first syncs (pods, services, routes)
  setInterval(() => Bun.gc(true), 60_000).unref();
  const shutdown = async () => {
    await agent.stop();
    process.exit(0);
  };
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);
  return await new Promise<number>(() => {});
}

/** --disable values, checked (a string: what is wrong). K3s's name traefik means ingress here. */
function parseDisable(values: string[], known: string[]): string[] | string {
  const out = values.flatMap((v) => v.split(",")).map((v) => v.trim()).filter(Boolean).map((v) => (v === "traefik" ? "ingress" : v));
  const bad = out.filter((v) => !known.includes(v));
  return bad.length ? `--disable ${bad.join(",")}: unknown component (known: ${known.join(", ")})` : out;
}

/** The ingress proxy's ports, or false with --disable ingress (a string: what is wrong). */
function ingressPorts(values: Record<string, unknown>, disable: string[] | string): { httpPort: number; httpsPort: number } | false | string {
  if (typeof disable === "string") return false;
  if (disable.includes("ingress")) return false;
  const port = (flag: string) => {
    const n = Number(values[flag]);
    return Number.isInteger(n) && n >= 1 && n <= 65535 ? n : undefined;
  };
  const httpPort = port("ingress-http-port");
  const httpsPort = port("ingress-https-port");
  if (httpPort === undefined || httpsPort === undefined) return `--ingress-http-port and --ingress-https-port must be port numbers (1-65535)`;
  if (httpPort === httpsPort) return `--ingress-http-port and --ingress-https-port must differ`;
  return { httpPort, httpsPort };
}

export async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (!verb || verb === "--help" || verb === "-h" || verb === "help") {
    console.log(HELP);
    return 0;
  }
  if (verb === "version" || verb === "--version") {
    const { KUBE_VERSION } = await import("../schemas/version");
    console.log(`skiff version v${skiffVersion()} (Kubernetes API ${KUBE_VERSION.gitVersion}, bun ${Bun.version})`);
    return 0;
  }
  if (verb === "server") return server(rest);
  if (verb === "agent") return agentCommand(rest);
  if (verb in VERBS) {
    const mod = await loadVerb(verb);
    return mod.run(rest);
  }
  console.error(`error: unknown command "${verb}" for "skiff"\nRun 'skiff --help' for usage.`);
  return 1;
}

// Static imports per verb so `bun build --compile` bundles them all.
async function loadVerb(verb: string): Promise<{ run: (args: string[]) => Promise<number> }> {
  switch (verb) {
    case "apply":
      return import("./commands/apply");
    case "get":
      return import("./commands/get");
    case "describe":
      return import("./commands/describe");
    case "delete":
      return import("./commands/delete");
    case "create":
      return import("./commands/create");
    case "images":
      return import("./commands/images");
    case "cluster":
      return import("./commands/cluster");
    case "logs":
      return import("./commands/logs");
    case "exec":
      return import("./commands/exec");
    case "rollout":
      return import("./commands/rollout");
    case "top":
      return import("./commands/top");
    case "token":
      return import("./commands/token");
    case "secrets-encrypt":
      return import("./commands/secrets-encrypt");
    case "install":
      return import("./commands/install");
    case "uninstall":
      return import("./commands/uninstall");
    case "killall":
      return import("./commands/killall");
    case "check-config":
      return import("./commands/check-config");
    case "certificate":
      return import("./commands/certificate");
    case "snapshot":
      return import("./commands/snapshot");
    case "upgrade":
      return import("./commands/upgrade");
    default:
      return import("./commands/scale");
  }
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    // Let buffered output reach a pipe before exiting.
    (code) => process.stdout.write("", () => process.exit(code)),
    (e) => {
      console.error(`error: ${(e as Error)?.message ?? e}`);
      process.exit(1);
    },
  );
}

/** A numeric flag's value; NaN (refused by the server with the flag's name) when it is not a number. */
function optionalNumber(v: string | undefined): number | undefined {
  return v === undefined ? undefined : v.trim() === "" ? NaN : Number(v);
}
