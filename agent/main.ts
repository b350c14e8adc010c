// The node agent: registers the Node, keeps its Lease fresh, reports node status, and runs the
// pods bound to it on containerd through CRI (agent/pods), with a node-local cache so pods keep
// running and restarting while the server is unreachable.
//
//   const agent = await runAgent({ server, caData, token, dataDir, nodeName });
//   ...
//   await agent.stop();   // the agent stops; containerd's containers keep running
//
// The API is reached only through lib/client.ts's KubeClient built from { server, caData, token }.

import { podLogsRoot } from "./logs/logs";
import { startServerDiscovery } from "./servers";
import { startTunnel } from "./tunnel/client";
import { AgentApi, isUnreachable, makeClient } from "./api-client.ts";
import { PodCache } from "./cache/pod-cache.ts";
import { SecretStore } from "./cache/secret-store.ts";
import { startRuntime, type Runtime, type RuntimeEvent } from "./containerd/runtime.ts";
import type { RotationOptions } from "./logs/logs.ts";
import { NodeLease } from "./node/lease.ts";
import { CredentialKeeper, type Credential } from "./node/credentials.ts";
import { defaultNodeIp } from "./node/info.ts";
import { loadNodeState, NodeStatus, saveNodeState } from "./node/registration.ts";
import { Backoff } from "./pods/backoff.ts";
import { PodManager } from "./pods/manager.ts";
import { StatusManager } from "./pods/status-manager.ts";
import { ObjectStore } from "./volumes/objects.ts";
import { ServiceProxy } from "./services/proxy.ts";
import { RuleWriter } from "./services/iptables.ts";
import { inCidr } from "./services/ip.ts";
import { NetworkPolicies } from "./services/netpol/controller.ts";
import { announceIngress, INGRESS_USER, IngressController } from "./services/ingress/controller.ts";
import { IngressState } from "./services/ingress/state.ts";
import type { ClusterDns } from "./services/dns.ts";
import { DnsService } from "./services/dns-service.ts";
import { NodeEvents } from "./services/node-events.ts";
import { API_RELAY_PORT, ApiRelay } from "./services/api-relay.ts";
import { serviceEnvVars } from "./services/env.ts";
import { enableBridgeNetfilter, ensureBridge, gatewayOf } from "./services/bridge.ts";
import { NodeRoutes } from "./services/routes.ts";

export const DEFAULT_POD_CIDR = "10.42.0.0/24";
/** The cluster's pods (the server gives each node a /24 of it). */
export const DEFAULT_CLUSTER_CIDR = "10.42.0.0/16";

export interface AgentOptions {
  server: string;
  /** PEM of the cluster CA the server certificate must chain to. */
  caData?: string;
  token?: string;
  /** The token is a node credential that expires: renewed through `renew` before it does. */
  credentials?: { expires: number; renew: () => Promise<Credential> };
  dataDir: string;
  nodeName: string;
  nodeIp?: string;
  /** Use this CRI socket instead of starting containerd. */
  containerRuntimeEndpoint?: string;
  /** Used when the server assigns none (spec.podCIDR wins). */
  podCidr?: string;
  hollow?: false;
  /** Cluster DNS servers for dnsPolicy ClusterFirst pods (none: the host's resolv.conf). */
  clusterDns?: string[];
  clusterDomain?: string;
  log?: (msg: string) => void;
  /** The ingress proxy's ports (default 80 and 443); false: no ingress proxy on this node. */
  ingress?: { httpPort: number; httpsPort: number } | false;
  /** Called when a pod is gone from the node (`skiff agent` collects garbage a little later). */
  onPodGone?: () => void;
  /** Knobs for tests and benchmarks; the defaults are Kubernetes'. */
  tuning?: AgentTuning;
}

export interface AgentTuning {
  /** Linux bridge for pods (default skiff0). */
  bridge?: string;
  /** Use options.podCidr even if the server assigned another one (tests sharing a host). */
  forcePodCidr?: boolean;
  /** Container restart back-off (default 10 s doubling to 5 min). */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** CRI relist interval (default 1 s). */
  relistMs?: number;
  /** Lease renewal (default 10 s). */
  leaseRenewMs?: number;
  /** How often the cluster's servers are re-read from the `kubernetes` Endpoints (default 30 s). */
  serversRefreshMs?: number;
  /** Node condition checks (default 10 s) and forced status reports (default 5 min). */
  nodeStatusCheckMs?: number;
  nodeStatusReportMs?: number;
  /** Retry interval of failed pod steps (default 2 s). */
  retryMs?: number;
  /** cgroupfs parent of all pods (default /skiff). */
  cgroupRoot?: string;
  /** How long to wait for the server to assign spec.podCIDR (default 3 s). */
  podCidrWaitMs?: number;
  logRotation?: RotationOptions;
  logRotateMs?: number;
  /** false: no service proxy (a second agent in the same network namespace as another). */
  serviceProxy?: boolean;
  /** The cluster's pod CIDR (default 10.42.0.0/16, or the pod CIDR when outside it). */
  clusterCidr?: string;
  /** How often the proxy looks for its iptables rules having been flushed (default 60 s). */
  serviceCheckMs?: number;
}

/** SKIFF_AGENT_TUNING='{"bridge":"skiffb0","cgroupRoot":"/skiff-b"}' (JSON AgentTuning) lets
 *  tests give `skiff agent` processes sharing one host their own bridge, cgroup root, timings. */
function envTuning(): AgentTuning {
  const raw = process.env.SKIFF_AGENT_TUNING;
  if (!raw) return {};
  try {
    const v = JSON.parse(raw);
    if (v && typeof v === "object" && !Array.isArray(v)) return v as AgentTuning;
  } catch {}
  throw new Error(`SKIFF_AGENT_TUNING is not a JSON object of agent tuning fields: ${raw}`);
}

export interface Agent {
  stop(): Promise<void>;
  readonly nodeName: string;
  readonly podCidr: string;
  readonly runtime: Runtime;
  readonly pods: PodManager;
  readonly statuses: StatusManager;
  readonly lease: NodeLease;
  readonly nodeStatus: NodeStatus;
  /** The API connection (its client moves between the cluster's servers). */
  readonly api: AgentApi;
  /** Is the API server reachable (as of the last request)? */
  online(): boolean;
  /** The service proxy (absent when tuning.serviceProxy is false). */
  readonly proxy?: ServiceProxy;
  /** NetworkPolicy enforcement (absent without the proxy). */
  readonly policies?: NetworkPolicies;
  /** The ingress proxy's controller (absent without the proxy or with ingress disabled). */
  readonly ingress?: IngressController;
  /** The iptables/ipset writer the proxy and the policies share. */
  readonly writer: RuleWriter;
  /** The cluster DNS on the bridge gateway (absent without the proxy or with opts.clusterDns). */
  readonly dns?: ClusterDns;
}

export async function runAgent(opts: AgentOptions): Promise<Agent> {
  const log = opts.log ?? ((m: string) => console.error(`agent: ${m}`));
  const t = opts.tuning ?? envTuning();
  const api = new AgentApi(makeClient({ server: opts.server, caData: opts.caData, token: opts.token }));
  const keeper =
    opts.credentials && opts.token
      ? new CredentialKeeper({ token: opts.token, expires: opts.credentials.expires, renew: opts.credentials.renew, onToken: (t) => api.client.setToken(t), log })
      : undefined;
  const runtime = await startRuntime({
    dataDir: opts.dataDir,
    containerRuntimeEndpoint: opts.containerRuntimeEndpoint,
    bridge: t.bridge,
    onEvent: (e: RuntimeEvent) => {
      if (e.type === "airgap" && e.result.errors.length) for (const er of e.result.errors) log(`image import ${er.file}: ${er.error}`);
      else if (e.type === "exited" || e.type === "restarting" || e.type === "warning") log(`containerd: ${JSON.stringify(e)}`);
    },
  });
  const stoppers: (() => unknown)[] = [];
  if (keeper) {
    keeper.start();
    stoppers.push(() => keeper.stop());
  }
  try {
    // The other servers of the cluster, to move to when this one goes away.
    const discovery = startServerDiscovery(api.client, opts.dataDir, { everyMs: t.serversRefreshMs, log });
    stoppers.push(() => discovery.stop());
    const nodeIp = opts.nodeIp ?? defaultNodeIp();
    const v = await runtime.cri.version();
    let dnsService: DnsService | undefined;
    const nodeStatus = new NodeStatus(api, {
      nodeName: opts.nodeName,
      nodeIp,
      dataDir: opts.dataDir,
      runtimeVersion: `${v.runtimeName}://${v.runtimeVersion}`,
      runtimeReady: async () => {
        const c = await runtime.cri.conditions({ timeoutMs: 5000 });
        const bad = ["RuntimeReady", "NetworkReady"].filter((k) => !c[k]?.status);
        return bad.length ? { ok: false, message: `container runtime not ready: ${bad.map((k) => `${k}=false: ${c[k]?.message ?? ""}`).join("; ")}` } : { ok: true, message: "" };
      },
      checkIntervalMs: t.nodeStatusCheckMs,
      extraConditions: () => (dnsService ? [dnsService.condition()] : []),
      statusReportMs: t.nodeStatusReportMs,
      log,
    });
    const events = new NodeEvents(api, () => ({ name: opts.nodeName, uid: nodeStatus.node?.metadata?.uid }));
    const lease = new NodeLease(api, { nodeName: opts.nodeName, renewIntervalMs: t.leaseRenewMs, log });
    const state = loadNodeState(opts.dataDir);

    // Registration; an unreachable server is not fatal when the node ran before (offline start).
    let registered = false;
    try {
      const node = await nodeStatus.register();
      lease.setNodeUid(node?.metadata?.uid);
      registered = true;
    } catch (e) {
      if (!isUnreachable(e)) throw e;
      log(`server ${opts.server} unreachable (${(e as Error).message}); starting from the local cache`);
    }
    let podCidr: string;
    if (t.forcePodCidr && opts.podCidr) podCidr = opts.podCidr;
    else if (registered) podCidr = (await nodeStatus.waitPodCidr(t.podCidrWaitMs ?? 3000)) ?? opts.podCidr ?? state.podCidr ?? DEFAULT_POD_CIDR;
    else podCidr = state.podCidr ?? opts.podCidr ?? DEFAULT_POD_CIDR;
    if (registered && !nodeStatus.node?.spec?.podCIDR) {
      // Nobody assigned one: record ours so other components (routes, proxies) can see it.
      await api.mergePatch(`/api/v1/nodes/${encodeURIComponent(opts.nodeName)}`, { spec: { podCIDR: podCidr, podCIDRs: [podCidr] } }).catch(() => {});
    }
    saveNodeState(opts.dataDir, { podCidr, uid: nodeStatus.node?.metadata?.uid ?? state.uid });
    await runtime.setPodCidr(podCidr);
    if (registered) await nodeStatus.report(false); // NetworkReady flipped: the node is Ready now

    const startHeartbeats = () => {
      lease.start();
      nodeStatus.start();
    };
    let stopping = false;
    if (registered) startHeartbeats();
    else {
      void (async () => {
        while (!stopping) {
          await Bun.sleep(2000);
          try {
            const node = await nodeStatus.register();
            lease.setNodeUid(node?.metadata?.uid);
            startHeartbeats();
            log("registered with the server");
            return;
          } catch {
            /* still offline */
          }
        }
      })();
    }
    stoppers.push(() => lease.stop(), () => nodeStatus.stop());

    const statuses = new StatusManager(api, { log });
    let pods!: PodManager;
    let ingress: IngressController | undefined;
    const objects = new ObjectStore(api, (_kind, _ns, _name, users) => {
      for (const uid of users) pods?.workers.get(uid)?.kick();
      if (users.includes(INGRESS_USER)) void ingress?.secretsChanged();
    });
    stoppers.push(() => objects.close(), () => statuses.close());
    // ClusterIP and NodePort traffic: iptables rules from Services and EndpointSlices; the same
    // watch cache answers the cluster DNS on the bridge gateway, every pod's nameserver.
    let relay: ApiRelay | undefined;
    // One writer for every rule and set (services, NetworkPolicy, LoadBalancer ports): a change
    // writes only the chains and set members it touches, in one iptables-restore.
    const writer = new RuleWriter({ log, checkMs: t.serviceCheckMs });
    const proxy = t.serviceProxy === false ? undefined : new ServiceProxy({
            api,
            podCidr: () => podCidr,
            clusterCidr: () => t.clusterCidr ?? (inCidr(podCidr.split("/")[0]!, DEFAULT_CLUSTER_CIDR) ? DEFAULT_CLUSTER_CIDR : podCidr),
            log,
            writer,
            retryMs: t.retryMs ?? 2000,
            apiRelay: () => relay?.address,
            nodeDns: () => (dnsService ? gatewayOf(podCidr) : undefined),
          });
    if (proxy) {
      writer.start();
      stoppers.push(() => proxy.stop(), () => writer.stop());
      enableBridgeNetfilter(log);
    }
    let clusterDns = opts.clusterDns;
    if (proxy) {
      const gw = gatewayOf(podCidr);
      const bridge = t.bridge ?? "skiff0";
      const prefix = Number(podCidr.split("/")[1]);
      if (!clusterDns?.length) {
        // ClusterFirst pods get the gateway even while DNS cannot serve there yet: it retries,
        // and the Node's ClusterDNSUnavailable condition and events say why.
        dnsService = new DnsService({ bridge, gateway: gw, prefix, domain: opts.clusterDomain ?? "cluster.local", lookup: proxy, events, log, onChange: () => void nodeStatus.report(false) });
        await dnsService.start();
        clusterDns = [gw];
        stoppers.push(() => dnsService?.stop());
      }
      // kubernetes.default.svc:443 from pods: through this node's relay to the server in use.
      try {
        ensureBridge(bridge, gw, prefix);
        const r = new ApiRelay({ address: gw, podCidr, server: () => api.client.server, log });
        await r.start();
        relay = r;
        stoppers.push(() => r.stop());
      } catch (e) {
        log(`API relay: cannot listen on ${gw}:${API_RELAY_PORT} (${(e as Error).message}); pods reach the API by the kubernetes Endpoints instead`);
      }
    }
    // Secret-derived env lives on a tmpfs (root only can mount it; others keep it in memory).
    const secretStore = SecretStore.forDataDir(opts.dataDir, { mount: process.getuid?.() === 0, log });
    const cache = PodCache.forDataDir(opts.dataDir, secretStore);
    pods = new PodManager(
      {
        cri: runtime.cri,
        api,
        objects,
        statuses,
        cache,
        dataDir: opts.dataDir,
        hostIPs: () => [nodeIp],
        node: nodeStatus.facts.resources,
        backoff: new Backoff({ initialMs: t.backoffInitialMs, maxMs: t.backoffMaxMs }),
        cgroupRoot: t.cgroupRoot ?? "/skiff",
        clusterDns,
        serviceEnv: proxy ? (ns, links) => (proxy.synced() ? serviceEnvVars(proxy.allServices(), ns, links) : null) : undefined,
        clusterDomain: opts.clusterDomain,
        tmpfs: process.getuid?.() === 0,
        log,
        retryMs: t.retryMs ?? 2000,
      },
      cache,
      { nodeName: opts.nodeName, relistMs: t.relistMs, logRotateMs: t.logRotateMs, logRotation: t.logRotation, onPodGone: opts.onPodGone },
    );
    pods.start();
    // logs/exec/attach/port-forward arrive over this outbound connection (the node may be behind NAT).
    const tunnel = startTunnel({
      // Dialled to the server the API client uses now; a dropped tunnel moves both on.
      config: { server: () => api.client.server, caData: opts.caData, token: () => keeper?.token ?? opts.token ?? "" },
      failedOver: (s) => api.client.failedOver(s),
      nodeName: opts.nodeName,
      cri: runtime.cri,
      podLogsDir: podLogsRoot(opts.dataDir),
    });
    stoppers.push(() => tunnel.stop());

    proxy?.start();
    // NetworkPolicy, from the same kind of watch cache (so enforced offline too).
    const policies = proxy ? new NetworkPolicies({ api, nodeName: opts.nodeName, writer, log, retryMs: t.retryMs ?? 2000 }) : undefined;
    policies?.start();
    if (policies) stoppers.push(() => policies.stop());
    // Ingress: the proxy on ports 80/443 is loaded only once an Ingress of Skiff's class exists.
    const ingressPorts = opts.ingress ?? { httpPort: 80, httpsPort: 443 };
    if (proxy && ingressPorts) {
      // What it serves is saved for a restart while the server is away; the TLS keys only on the
      // tmpfs secret store (root only can mount it; others keep the keys in memory).
      const state = new IngressState(opts.dataDir, secretStore, log);
      const ing = new IngressController({ api, nodeName: opts.nodeName, proxy, objects, ...ingressPorts, log, retryMs: t.retryMs ?? 2000, state });
      ingress = ing;
      ing.start();
      stoppers.push(() => ing.stop());
    } else if (proxy) {
      const quit = new AbortController();
      void announceIngress(api, opts.nodeName, null, quit.signal, t.retryMs ?? 2000);
      stoppers.push(() => quit.abort());
    }
    // Pods on other nodes: a route to each node's pod CIDR via its address (host-gw).
    const routes = proxy ? new NodeRoutes({ api, nodeName: opts.nodeName, log, retryMs: t.retryMs ?? 2000 }) : undefined;
    routes?.start();
    if (routes) stoppers.push(() => routes.stop());

    let stopped = false;
    return {
      nodeName: opts.nodeName,
      podCidr,
      runtime,
      pods,
      statuses,
      lease,
      nodeStatus,
      api,
      proxy,
      policies,
      writer,
      get ingress() {
        return ingress;
      },
      get dns() {
        return dnsService?.dns;
      },
      online: () => pods.online,
      async stop() {
        if (stopped) return;
        stopped = true;
        stopping = true;
        await pods.stop();
        for (const s of stoppers) s();
        await runtime.stop();
      },
    };
  } catch (e) {
    for (const s of stoppers) s();
    await runtime.stop();
    throw e;
  }
}
