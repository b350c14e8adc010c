// `skiff server`: the API server (HTTPS with the cluster's own CA), its store and the
// leader's controllers in one process.
import { openAuditor, type AuditFlags } from "./audit";
import type { Database } from "bun:sqlite";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { hostname, networkInterfaces } from "node:os";
import { dirname, join } from "node:path";
import { createApp } from "./api/app";
import { registerClusterMetrics } from "./metrics/cluster";
import { limitsFromEnv } from "./api/limits";
import { createStreamServer } from "./api/streams/index";
import { listenNode } from "./api/streams/listen";
import { Authenticator } from "./auth/authn";
import { joinRoutes } from "./auth/join-routes";
import { JoinTokens } from "./auth/join-tokens";
import { NodeCredentialIssuer } from "./auth/node-credentials";
import { formatJoinToken, parseJoinToken, randomSecret } from "./auth/tokens";
import { bootstrap } from "./bootstrap";
import { findByKind } from "../schemas/registry";
import { loadOrCreateRootKey, rootKeyPath } from "./encryption/keyring";
import { SecretsEncryption } from "./encryption/manager";
import { purgeHistory } from "./encryption/purge";
import { secretsEncryptRoutes } from "./encryption/routes";
import { EncryptingStore } from "./encryption/store";
import { startControllers, type RunningControllers } from "./controllers/index";
import type { PodMetricsSource } from "./controllers/runtime/controller";
import { podUsage } from "./api/streams/metrics";
import { startConsensus, type Consensus } from "./raft/cluster/consensus";
import { prepareJoin } from "./raft/cluster/join";
import { clusterReset } from "./raft/cluster/reset";
import { clusterRoutes } from "./raft/cluster/routes";
import { snapshotRoutes } from "./store/backup/routes";
import { cronError, DEFAULT_CRON, defaultSnapshotDir, Snapshotter } from "./store/backup/snapshots";
import { APISERVER_USER, writeCtx } from "./registry/ctx";
import { newRegistry } from "./registry/index";
import { startApiServerLease, type ApiServerLeases } from "./election/apiservers";
import { startLeaseElection, type LeaseElection } from "./election/lease";
import { AppliedState } from "./store/applied-state";
import { StoreUnavailable, type Backend } from "./store/external/backend";
import { shareBootstrap } from "./store/external/bootstrap";
import { ExternalMirror, startCompactor } from "./store/external/mirror";
import { openBackend, redactEndpoint, type DatastoreFlags } from "./store/external/open";
import type { Replication } from "./store/store";
import { renewDueLeaves, servingChain } from "./tls/certs";
import { ensurePki } from "./tls/pki";
import { X509Authenticator } from "./auth/x509";

export interface ServerFlags {
  dataDir: string;
  bindAddress: string;
  /** --advertise-address: how other servers and agents reach this one (default from bindAddress). */
  advertiseAddress?: string;
  port: number;
  writeKubeconfig: string;
  disableAgent: boolean;
  nodeName: string;
  /** Extra names and IPs for the serving certificate. */
  tlsSans?: string[];
  /** Server token secret (or a full K10 token) to use instead of a generated one. */
  token?: string;
  /** --agent-token: the agent token of a new cluster (default generated, <data-dir>/server/agent-token). */
  agentToken?: string;
  /** --server URL: join the control plane this server belongs to (with --token). */
  joinServer?: string;
  /** --raft-listen-port (default 2380). */
  raftPort?: number;
  /** --cluster-reset: become a cluster of one with this server's data (after a lost quorum). */
  clusterReset?: boolean;
  /** --cluster-reset-restore-path FILE: ... with a snapshot's data instead. */
  clusterResetRestorePath?: string;
  /** --snapshot-cron (default every 12 hours), --snapshot-retention, --snapshot-dir, --disable-snapshots. */
  snapshotCron?: string;
  snapshotRetention?: number;
  snapshotDir?: string;
  disableSnapshots?: boolean;
  /** --disable: built-in components not to run ("ingress", "servicelb"). */
  disable?: string[];
  /** --datastore-endpoint (etcd or PostgreSQL) and its TLS files: no Raft, servers share the datastore. */
  datastore?: DatastoreFlags;
  /** --audit-log-path, --audit-policy-file and the rotation flags (kube-apiserver's names). */
  audit?: AuditFlags;
}

export interface RunningServer {
  url: string;
  /** Resolves (with what to tell the user) when this server is removed from its cluster. */
  removed: Promise<string>;
  /** The server token (K10<ca-hash>::server:<secret>), as in <data-dir>/server/token. */
  joinToken: string;
  caPem: string;
  /** Serve the certificate now in <data-dir>/server/tls (after `skiff certificate rotate`); true if it changed. */
  reloadCertificates(): Promise<boolean>;
  /** Credentials for an agent running in this process (the embedded agent), bound by its node password. */
  nodeCredentials(nodeName: string, nodePassword: string): Promise<{ server: string; caData: string; token: string; expires: number }>;
  stop(): Promise<void>;
}

export { defaultDataDir } from "../lib/paths";

function loadOrCreate(path: string, make: () => string | Uint8Array, mode = 0o600): string | Uint8Array {
  if (existsSync(path)) return path.endsWith("-key") ? new Uint8Array(readFileSync(path)) : readFileSync(path, "utf8").trim();
  const v = make();
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, v, { mode });
  return v;
}

export function kubeconfigYaml(server: string, caPem: string, token: string): string {
  return `apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority-data: ${Buffer.from(caPem).toString("base64")}
    server: ${server}
  name: default
contexts:
- context:
    cluster: default
    user: default
  name: default
current-context: default
preferences: {}
users:
- name: default
  user:
    token: ${token}
`;
}

export async function runServer(flags: ServerFlags): Promise<RunningServer> {
  const serverDir = join(flags.dataDir, "server");
  mkdirSync(serverDir, { recursive: true, mode: 0o700 });
  // An external datastore: no Raft; the cluster's secrets come from (or go to) the datastore.
  const backend = flags.datastore ? await openBackend(flags.datastore) : undefined;
  if (backend) {
    if (flags.joinServer) throw new Error("--server joins a Raft control plane; servers sharing --datastore-endpoint need only the same endpoint and --token");
    console.log(`datastore: ${backend.kind} at ${redactEndpoint(flags.datastore!.endpoint)}`);
    flags = { ...flags, token: await withDatastore(backend, () => shareBootstrap(backend, serverDir, flags.token)) };
  }
  if (flags.joinServer) {
    if (!flags.token) throw new Error("--server needs --token (the token printed by the first server)");
    // Shares the cluster CA and token keys so every server issues and accepts the same credentials.
    await prepareJoin({ serverDir, server: flags.joinServer, token: flags.token });
  }
  // Checked before anything starts: a bad policy file stops the server with what to fix.
  const auditor = openAuditor(flags.audit ?? {});
  if (flags.audit?.logPath && !flags.audit.policyFile) console.log("audit: --audit-log-path without --audit-policy-file: nothing is audited (kube-apiserver needs a policy too)");
  if (flags.clusterResetRestorePath && !flags.clusterReset) throw new Error("--cluster-reset-restore-path needs --cluster-reset");
  if (flags.clusterReset && backend) throw new Error("--cluster-reset is for the embedded store (Raft): with --datastore-endpoint, recover the datastore itself");
  if (flags.clusterReset) {
    // A joined server's unit keeps its --server: the reset makes a cluster of one regardless.
    if (flags.joinServer) console.log(`--cluster-reset: --server ${flags.joinServer} is ignored (this server becomes a cluster of one)`);
    flags = { ...flags, joinServer: undefined };
    // Before the PKI: a restore on an empty data dir brings back the cluster's own CA.
    await clusterReset({ serverDir, restorePath: flags.clusterResetRestorePath, token: flags.token });
  }
  const snapshotCron = flags.disableSnapshots ? undefined : (flags.snapshotCron ?? DEFAULT_CRON);
  const badCron = snapshotCron ? cronError(snapshotCron) : undefined;
  if (badCron) throw new Error(`--snapshot-cron "${snapshotCron}": ${badCron} (a cron expression such as "0 */12 * * *")`);
  const wildcard = flags.bindAddress === "0.0.0.0" || flags.bindAddress === "::";
  const host = wildcard ? "127.0.0.1" : flags.bindAddress;
  // Peers and agents need an address that reaches this host, not loopback.
  const advertise = flags.advertiseAddress ?? (wildcard ? (firstHostIPv4() ?? host) : host);
  const sans = flags.tlsSans ?? [];
  const isIp = (s: string) => /^[0-9.]+$/.test(s) || s.includes(":");
  const pki = await ensurePki(join(serverDir, "tls"), {
    dnsNames: ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", hostname(), flags.nodeName, ...[advertise, ...sans].filter((s) => !isIp(s))],
    ips: [...new Set(["127.0.0.1", "10.43.0.1", ...[host, advertise].filter(isIp), ...sans.filter(isIp)])],
  });
  const tokenKey = loadOrCreate(join(serverDir, "token-key"), () => crypto.getRandomValues(new Uint8Array(32))) as Uint8Array;
  const adminToken = loadOrCreate(join(serverDir, "admin-token"), () => randomSecret()) as string;
  // The server token is stored whole (K3s keeps <data-dir>/server/token); --token may set the
  // secret. The agent token is made with the cluster's hashes (JoinTokens.reconcile).
  const tokenPath = join(serverDir, "token");
  let joinSecret: string;
  if (flags.token) {
    const t = parseJoinToken(flags.token);
    if (t.caHash && t.caHash !== pki.caHash) throw new Error("--token pins a different CA than this server's: use the token this cluster printed, or only its secret part");
    joinSecret = t.secret;
    writeFileSync(tokenPath, formatJoinToken(pki.caHash, joinSecret), { mode: 0o600 });
  } else {
    joinSecret = parseJoinToken(loadOrCreate(tokenPath, () => formatJoinToken(pki.caHash, randomSecret())) as string).secret;
  }
  const joinToken = formatJoinToken(pki.caHash, joinSecret);

  const windowSize = Number(process.env.SKIFF_WATCH_WINDOW) > 0 ? Number(process.env.SKIFF_WATCH_WINDOW) : undefined;
  const urlOf = (h: string) => `https://${h.includes(":") ? `[${h}]` : h}:${flags.port}`;
  const url = urlOf(host);
  // Secrets are sealed before they are proposed (Raft log, state.db, snapshots, the datastore hold envelopes).
  const rootKey = loadOrCreateRootKey(serverDir, !flags.joinServer);
  if (!rootKey) throw new Error(`secrets encryption: ${rootKeyPath(serverDir)} is missing: copy it from another server of the cluster (0600)`);
  let encryption!: SecretsEncryption;
  // The store exists before the manager that needs it: the keyring is looked up when used.
  const keys = { current: () => encryption?.current(), ready: () => encryption.ready() };
  const makeStore = (r: Replication) => new EncryptingStore(r, keys);
  const plane = backend
    ? await externalPlane(backend, { dir: join(serverDir, "datastore-mirror"), windowSize, identity: `${flags.nodeName}_${randomSecret(4)}`, name: flags.nodeName, apiUrl: urlOf(advertise), makeStore })
    : await raftPlane(flags, serverDir, windowSize, urlOf(advertise), makeStore);
  const store = plane.store;
  encryption = new SecretsEncryption({ serverDir, serverName: flags.nodeName, root: rootKey, servers: plane.serverNames, purge: plane.purge });
  encryption.attach(store);
  // Another server may have made the keyring already: see it before deciding to make one.
  if (backend) await store.readBarrier().catch(() => {});
  await encryption.init({ create: !flags.joinServer });
  const registry = newRegistry(store);
  // Node passwords and the join-token hashes are Secrets written through the registry.
  const secretRes = findByKind("v1", "Secret")!;
  const podRes = findByKind("v1", "Pod")!;
  const ctx = () => writeCtx(APISERVER_USER, "skiff-server");
  const secrets = {
    create: (obj: any) => registry.create(ctx(), secretRes, obj.metadata.namespace, obj),
    update: async (ns: string, name: string, mutate: (cur: any) => any) => (await registry.update(ctx(), secretRes, ns, name, mutate)).obj,
  };
  const joinTokens = new JoinTokens(store, () => secrets, { server: tokenPath, agent: join(serverDir, "agent-token") }, pki.caHash);
  const auth = new Authenticator({ adminToken, tokenKey, localJoinSecrets: () => joinTokens.local() });
  auth.attach(store);
  const nodeIssuer = new NodeCredentialIssuer(auth, store, secrets);
  const disabled = new Set(flags.disable ?? []);
  await bootstrap(registry, { ingressClass: !disabled.has("ingress") });
  // A joined server first catches up, so it finds the cluster's token hashes instead of making its own.
  await store.readBarrier().catch(() => {});
  await joinTokens.reconcile(flags.agentToken);
  // Servers heard from recently: the `default/kubernetes` Endpoints agents fail over by.
  const liveApiServers = plane.apiServers;
  // Controllers and the scheduler run only on the leader and move with leadership.
  let controllers: RunningControllers | undefined;
  // The HPA reads pod usage over the agents' tunnels, which exist once the stream server does (below).
  let podMetrics: PodMetricsSource | undefined;
  let leaderChain = Promise.resolve();
  const onLeadership = (leader: boolean) => {
    leaderChain = leaderChain.then(async () => {
      if (leader && !controllers) controllers = startControllers(registry, { apiServers: liveApiServers, rootCaPem: pki.ca.cert, signingCa: pki.ca, podMetrics: (pods) => podMetrics?.(pods) ?? Promise.resolve(new Map()), skip: [...(disabled.has("ingress") ? ["ingressstatus"] : []), ...(disabled.has("servicelb") ? ["servicelb"] : [])] });
      else if (!leader && controllers) {
        const c = controllers;
        controllers = undefined;
        await c.stop();
      }
    });
  };
  plane.lead(registry, onLeadership);

  // `kubectl get componentstatuses`: the scheduler and controllers run on the leader, so they are
  // healthy when this server leads and started them, or when it follows a leader it hears from.
  const leaderRun = (what: "scheduler" | "controllers") => async () => {
    const here = controllers;
    if (here) {
      if (what === "scheduler" && !here.scheduler) throw new Error("this server leads but its scheduler is not running");
      return `ok: the ${what} run${what === "scheduler" ? "s" : ""} on this server (${flags.nodeName}), the leader`;
    }
    const leader = plane.leader();
    if (!leader || leader === flags.nodeName) throw new Error(`no running ${what}: this server is not leading and heard from no leader within its election timeout`);
    return `ok: the ${what} run${what === "scheduler" ? "s" : ""} on the leader ${leader}, which this server hears from`;
  };
  const componentChecks = { scheduler: leaderRun("scheduler"), "controller-manager": leaderRun("controllers"), "etcd-0": () => plane.checkStore() };

  const limits = limitsFromEnv();
  const app = createApp({ store, registry, tokenKey, componentChecks }, { limits, audit: auditor, serverAddress: () => `${host}:${flags.port}`, auth, caPem: pki.ca.cert, extraRoutes: [joinRoutes({ issuer: nodeIssuer, tokens: joinTokens, caPem: pki.ca.cert }), ...plane.routes, secretsEncryptRoutes(encryption)] });
  registerClusterMetrics(store, plane.consensus);
  // logs/exec/attach/port-forward go through each node's outbound tunnel (agents may sit behind NAT).
  const streamCerts = new X509Authenticator(pki.ca.cert);
  const streams = createStreamServer({
    store,
    // As the app: a cluster-CA client certificate first, then tokens (exec/logs/top with a CSR-issued certificate).
    authenticate: async (h, cert) => (await streamCerts.authenticate(cert)) ?? (await auth.authenticate(h)),
    admitConnect: (id, ns, name, sub, options) => registry.connect(writeCtx(id, "skiff-streams"), podRes, ns, name, sub, options),
    // An agent tunnels to one server; the others relay its streams through that one.
    peers: {
      peers: plane.peers,
      token: adminToken,
      caPem: pki.ca.cert,
    },
  });
  podMetrics = (pods) => podUsage({ store, tunnels: streams.tunnels }, pods);
  // A node:http listener, because older kubectl (1.27-1.29 exec, <= 1.30 port-forward) upgrade
  // to SPDY and only node:http hands over the raw socket; Bun.serve cannot.
  const listener = await listenNode({
    hostname: flags.bindAddress,
    port: flags.port,
    tls: { cert: servingChain(join(serverDir, "tls"), pki.serving.cert), key: pki.serving.key, ca: pki.ca.cert },
    fetch: (r, env) => app.fetch(r, env),
    streams,
    limits,
  });
  // Leaf certificates are renewed well before they expire (checked hourly: a stat and a parse, no
  // write) and a rotated serving certificate is picked up without a restart; pods never notice.
  const tlsDir = join(serverDir, "tls");
  let servingPem = pki.serving.cert;
  const reloadCertificates = async (): Promise<boolean> => {
    // `skiff certificate rotate` writes the key, then the certificate: read until both agree.
    for (let i = 0; i < 5; i++) {
      const cert = readFileSync(join(tlsDir, "serving.crt"), "utf8");
      const key = readFileSync(join(tlsDir, "serving.key"), "utf8");
      if (cert !== readFileSync(join(tlsDir, "serving.crt"), "utf8")) continue;
      if (cert === servingPem) return false;
      await listener.setTls({ cert: servingChain(tlsDir, cert), key, ca: pki.ca.cert });
      servingPem = cert;
      return true;
    }
    return false;
  };
  const certTimer = setInterval(() => {
    void (async () => {
      const renewed = await renewDueLeaves(tlsDir);
      if (renewed.length) console.log(`certificates renewed before they expire: ${renewed.join(", ")}`);
      if (await reloadCertificates()) console.log("serving certificate reloaded");
    })().catch((e) => console.error(`certificate renewal: ${(e as Error).message}`));
  }, 3600_000);
  certTimer.unref();
  mkdirSync(dirname(flags.writeKubeconfig), { recursive: true });
  writeFileSync(flags.writeKubeconfig, kubeconfigYaml(url, pki.ca.cert, adminToken), { mode: 0o600 });
  console.log(`skiff server listening on ${url} (data dir ${flags.dataDir})`);
  console.log(`kubeconfig written to ${flags.writeKubeconfig}: kubectl --kubeconfig ${flags.writeKubeconfig} get nodes`);
  // Tokens are never printed (logs are collected and shared); only where they are.
  console.log(`server token (joins servers and agents): ${tokenPath}`);
  console.log(existsSync(joinTokens.paths.agent) ? `agent token (joins agents only): ${joinTokens.paths.agent}` : "agent token: in <data-dir>/server/agent-token of the cluster's first server (or make a new one: skiff token rotate --type agent)");
  return {
    url,
    removed: plane.removed,
    joinToken,
    caPem: pki.ca.cert,
    reloadCertificates,
    nodeCredentials: async (nodeName, nodePassword) => {
      const c = await nodeIssuer.issue({ user: "system:admin", groups: ["system:masters"] }, { nodeName, nodePassword });
      return { server: url, caData: pki.ca.cert, token: c.token, expires: c.expires };
    },
    stop: async () => {
      clearInterval(certTimer);
      await plane.stopLeading();
      onLeadership(false);
      await leaderChain;
      await plane.stop();
      streams.stop();
      await listener.stop();
      await auditor?.shutdown();
      await plane.close();
    },
  };
}

/**
 * The IPv4 address of the interface that holds the default route (what K3s advertises), else
 * the first non-loopback one: not a docker0 or CNI bridge that happens to come first.
 */
function firstHostIPv4(): string | undefined {
  const ifs = networkInterfaces();
  const v4 = (name: string) => ifs[name]?.find((a) => a.family === "IPv4" && !a.internal)?.address;
  try {
    for (const line of readFileSync("/proc/net/route", "utf8").split("\n").slice(1)) {
      const [iface, dest] = line.trim().split(/\s+/);
      if (iface && dest === "00000000" && v4(iface)) return v4(iface);
    }
  } catch {
    /* not Linux */
  }
  for (const name of Object.keys(ifs)) if (v4(name)) return v4(name);
  return undefined;
}

/** What the server runs on: Raft over the embedded store, or an external datastore. */
interface ControlPlane {
  store: EncryptingStore;
  /** Raft (absent on an external datastore): its state is exported in /metrics. */
  consensus?: Consensus;
  /** The servers of the cluster by name (secrets encryption checks each one's keyring). */
  serverNames(): string[];
  /** Erase this server's on-disk history of old Secret forms after a re-encryption. */
  purge?: () => Promise<void>;
  /** The leader's name as this server knows it now (undefined: none heard from within an election timeout). */
  leader(): string | undefined;
  /** Checks the store answers as a quorum/the datastore would: resolves with what it verified. */
  checkStore(): Promise<string>;
  /** Start electing (the Raft leader, or a Lease in the datastore); calls onLeader on every change. */
  lead(registry: ReturnType<typeof newRegistry>, onLeader: (leader: boolean) => void): void;
  /** Give up leadership (shutdown), so another server takes over at once. */
  stopLeading(): Promise<void>;
  /** API URLs of the servers that are up, this one included. */
  apiServers(): string[];
  /** API URLs of the other servers (stream relays). */
  peers(): string[];
  routes: ReturnType<typeof clusterRoutes>[];
  removed: Promise<string>;
  /** Leave (Raft: transfer leadership and stop), before the API stops. */
  stop(): Promise<void>;
  /** Close the store, after the API stopped. */
  close(): Promise<void>;
}

async function raftPlane(flags: ServerFlags, serverDir: string, windowSize: number | undefined, apiUrl: string, makeStore: (r: Replication) => EncryptingStore): Promise<ControlPlane> {
  // The Raft log is the durable record, so state.db need not fsync every apply: after a power
  // loss it is restored from the last snapshot and the log replayed.
  const state = new AppliedState({ dataDir: join(serverDir, "db"), windowSize, synchronous: "NORMAL" });
  const consensus = await startConsensus(state, {
    serverDir,
    name: flags.nodeName,
    apiUrl,
    raftBindHost: flags.bindAddress,
    raftPort: flags.raftPort ?? 2380,
    join: flags.joinServer ? { server: flags.joinServer, token: flags.token! } : undefined,
  });
  const store = makeStore({ state, proposer: consensus.proposer, readBarrier: consensus.readBarrier });
  // `skiff snapshot` and scheduled snapshots are the embedded store's (an external datastore has its own backups).
  const snapshots = new Snapshotter({
    state,
    serverDir,
    dir: flags.snapshotDir ?? defaultSnapshotDir(serverDir),
    node: flags.nodeName,
    retention: flags.snapshotRetention,
    log: (m) => console.log(m),
  });
  if (!flags.disableSnapshots) snapshots.schedule(flags.snapshotCron ?? DEFAULT_CRON);
  return {
    store,
    consensus,
    serverNames() {
      const st = consensus.node.localStatus();
      const table = consensus.memberTable();
      return [...st.conf.voters, ...st.conf.learners].map((id) => table.get(id)?.name).filter((n): n is string => !!n);
    },
    purge: (): Promise<void> => purgeHistory({ store, snapshot: (keep) => consensus.node.snapshotNow(keep), logDb: (consensus.node.storage as { db?: Database }).db, rollLog: () => consensus.node.rollLog() }),
    leader() {
      // The Raft core forgets its leader when an election timeout passes without hearing from it.
      const id = consensus.node.leaderId();
      return id ? (consensus.memberTable().get(id)?.name ?? `Raft member ${id}`) : undefined;
    },
    async checkStore() {
      await consensus.readBarrier();
      const voters = consensus.node.localStatus().conf.voters.length;
      return `ok: embedded Raft store, a linearizable read was confirmed by a quorum of ${voters} voter${voters === 1 ? "" : "s"}`;
    },
    lead(_registry, onLeader) {
      consensus.onLeaderChange(onLeader);
      onLeader(consensus.isLeader());
    },
    stopLeading: async () => {},
    // Servers the leader heard from recently.
    apiServers() {
      const st = consensus.node.localStatus();
      return [...consensus.memberTable().values()]
        .filter((m) => m.apiUrl && st.conf.voters.includes(m.id) && (m.id === consensus.id || st.progress?.[m.id]?.recentActive))
        .map((m) => m.apiUrl!);
    },
    peers: () => [...consensus.memberTable().values()].filter((m) => m.id !== consensus.id && m.apiUrl).map((m) => m.apiUrl!),
    routes: [clusterRoutes(consensus), snapshotRoutes(snapshots)],
    removed: consensus.removed,
    stop: () => {
      snapshots.stop();
      return consensus.stop({ transfer: true });
    },
    async close() {
      store.close();
    },
  };
}

/** A datastore call at start-up that fails names the datastore, not a stack trace. */
async function withDatastore<T>(backend: Backend, f: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await f();
    } catch (e) {
      if (!(e instanceof StoreUnavailable) || i >= 60) throw e;
      if (i === 0) console.log(`waiting for the ${backend.kind} datastore: ${e.message}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

async function externalPlane(backend: Backend, o: { dir: string; windowSize?: number; identity: string; name: string; apiUrl: string; makeStore: (r: Replication) => EncryptingStore }): Promise<ControlPlane> {
  const mirror = await ExternalMirror.open(backend, { dir: o.dir, windowSize: o.windowSize, makeStore: o.makeStore });
  const store = mirror.store as EncryptingStore;
  let election: LeaseElection | undefined;
  let stopCompactor: (() => void) | undefined;
  let servers: ApiServerLeases | undefined;
  const compactEvery = Number(process.env.SKIFF_DATASTORE_COMPACT_SECONDS) > 0 ? Number(process.env.SKIFF_DATASTORE_COMPACT_SECONDS) * 1000 : 300_000;
  return {
    store,
    leader: () => election?.holder(),
    async checkStore() {
      await mirror.readBarrier();
      return `ok: the ${backend.kind} datastore answered and this server's copy is current`;
    },
    lead(registry, onLeader) {
      servers = startApiServerLease({ registry, store, identity: o.identity, name: o.name, apiUrl: o.apiUrl });
      election = startLeaseElection({
        registry,
        store,
        identity: o.identity,
        log: (m) => console.log(m),
        onChange: (leader) => {
          // The leader also compacts the datastore's history, as kube-apiserver schedules it.
          stopCompactor?.();
          stopCompactor = leader ? startCompactor(mirror, compactEvery) : undefined;
          onLeader(leader);
        },
      });
    },
    async stopLeading() {
      await election?.stop();
      await servers?.stop();
    },
    apiServers: () => servers?.live().map((s) => s.url) ?? [o.apiUrl],
    peers: () => (servers?.live() ?? []).map((s) => s.url).filter((u) => u !== o.apiUrl),
    // Old Secret forms leave the datastore's history with its compaction (every few minutes).
    serverNames: () => servers?.live().map((s) => s.name) ?? [o.name],
    routes: [],
    removed: new Promise<string>(() => {}),
    async stop() {
      stopCompactor?.();
    },
    close: () => mirror.close(),
  };
}
