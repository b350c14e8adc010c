// `skiff server`: the API server (HTTPS with the cluster's own CA), its store and the
// leader's controllers in one process.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { hostname, networkInterfaces } from "node:os";
import { dirname, join } from "node:path";
import { createApp } from "./api/app";
import { createStreamServer } from "./api/streams/index";
import { listenNode } from "./api/streams/listen";
import { Authenticator } from "./auth/authn";
import { formatJoinToken, parseJoinToken, randomSecret } from "./auth/tokens";
import { bootstrap } from "./bootstrap";
import { startControllers } from "./controllers/index";
import { prepareJoin, startConsensus } from "./raft/cluster/consensus";
import { clusterRoutes } from "./raft/cluster/routes";
import { Store } from "./store/store";
import { ensurePki } from "./tls/pki";

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
  /** Join secret (or a full K10 token) to use instead of a generated one. */
  token?: string;
  /** --server URL: join the control plane this server belongs to (with --token). */
  joinServer?: string;
  /** --raft-listen-port (default 2380). */
  raftPort?: number;
  /** --disable: built-in components not to run ("ingress", "servicelb"). */
  disable?: string[];
}

export interface RunningServer {
  url: string;
  /** Resolves (with what to tell the user) when this server is removed from its cluster. */
  removed: Promise<string>;
  /** The join token agents use (K10<ca-hash>::server:<secret>). */
  joinToken: string;
  caPem: string;
  /** Credentials for an agent running in this process (the embedded agent). */
  nodeCredentials(nodeName: string): Promise<{ server: string; caData: string; token: string }>;
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
  if (flags.joinServer) {
    if (!flags.token) throw new Error("--server needs --token (the token printed by the first server)");
    // Shares the cluster CA and token keys so every server issues and accepts the same credentials.
    await prepareJoin({ serverDir, server: flags.joinServer, token: flags.token });
  }
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
  // The join token is stored whole (K3s keeps <data-dir>/server/token); --token may set the secret.
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
  const auth = new Authenticator(adminToken, joinSecret, tokenKey);

  const windowSize = Number(process.env.SKIFF_WATCH_WINDOW) > 0 ? Number(process.env.SKIFF_WATCH_WINDOW) : undefined;
  // The Raft log is the durable record, so state.db need not fsync every apply: after a power
  // loss it is restored from the last snapshot and the log replayed.
  const store = new Store({ dataDir: join(serverDir, "db"), windowSize, synchronous: "NORMAL" });
  const urlOf = (h: string) => `https://${h.includes(":") ? `[${h}]` : h}:${flags.port}`;
  const url = urlOf(host);
  const consensus = await startConsensus(store, {
    serverDir,
    name: flags.nodeName,
    apiUrl: urlOf(advertise),
    raftBindHost: flags.bindAddress,
    raftPort: flags.raftPort ?? 2380,
    join: flags.joinServer ? { server: flags.joinServer, token: flags.token! } : undefined,
  });
  store.proposer = consensus.proposer;
  store.readBarrier = consensus.readBarrier;
  const disabled = new Set(flags.disable ?? []);
  await bootstrap(store, { ingressClass: !disabled.has("ingress") });
  // Servers the leader heard from recently: the `default/kubernetes` Endpoints agents fail over by.
  const liveApiServers = () => {
    const st = consensus.node.localStatus();
    return [...consensus.node.memberTable().values()]
      .filter((m) => m.apiUrl && st.conf.voters.includes(m.id) && (m.id === consensus.id || st.progress?.[m.id]?.recentActive))
      .map((m) => m.apiUrl!);
  };
  // Controllers and the scheduler run only on the Raft leader and move with leadership.
  let controllers: { stop(): Promise<void> } | undefined;
  let leaderChain = Promise.resolve();
  const onLeadership = (leader: boolean) => {
    leaderChain = leaderChain.then(async () => {
      if (leader && !controllers) controllers = startControllers(store, { apiServers: liveApiServers, skip: [...(disabled.has("ingress") ? ["ingressstatus"] : []), ...(disabled.has("servicelb") ? ["servicelb"] : [])] });
      else if (!leader && controllers) {
        const c = controllers;
        controllers = undefined;
        await c.stop();
      }
    });
  };
  consensus.onLeaderChange(onLeadership);
  onLeadership(consensus.isLeader());

  const app = createApp({ store, tokenKey }, { serverAddress: () => `${host}:${flags.port}`, auth, caPem: pki.ca.cert, extraRoutes: clusterRoutes(consensus) });
  // logs/exec/attach/port-forward go through each node's outbound tunnel (agents may sit behind NAT).
  const streams = createStreamServer({
    store,
    authenticate: (h) => auth.authenticate(h),
    // An agent tunnels to one server; the others relay its streams through that one.
    peers: {
      peers: () => [...consensus.node.memberTable().values()].filter((m) => m.id !== consensus.id && m.apiUrl).map((m) => m.apiUrl!),
      token: adminToken,
      caPem: pki.ca.cert,
    },
  });
  // A node:http listener, because older kubectl (1.27-1.29 exec, <= 1.30 port-forward) upgrade
  // to SPDY and only node:http hands over the raw socket; Bun.serve cannot.
  const listener = await listenNode({
    hostname: flags.bindAddress,
    port: flags.port,
    tls: { cert: pki.serving.cert, key: pki.serving.key },
    fetch: (r) => app.fetch(r),
    streams,
    maxRequestBodySize: 16 * 1024 * 1024,
  });
  mkdirSync(dirname(flags.writeKubeconfig), { recursive: true });
  writeFileSync(flags.writeKubeconfig, kubeconfigYaml(url, pki.ca.cert, adminToken), { mode: 0o600 });
  console.log(`skiff server listening on ${url} (data dir ${flags.dataDir})`);
  console.log(`kubeconfig written to ${flags.writeKubeconfig}: kubectl --kubeconfig ${flags.writeKubeconfig} get nodes`);
  console.log(`join token (also in ${tokenPath}): ${joinToken}`);
  return {
    url,
    removed: consensus.removed,
    joinToken,
    caPem: pki.ca.cert,
    nodeCredentials: async (nodeName) => ({ server: url, caData: pki.ca.cert, token: await auth.nodeToken(nodeName) }),
    stop: async () => {
      onLeadership(false);
      await leaderChain;
      await consensus.stop({ transfer: true });
      streams.stop();
      await listener.stop();
      store.close();
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
