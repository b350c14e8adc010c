// Consensus for `skiff server`: the durable log, the Raft node, the gRPC peer transport and
// cluster membership (found a cluster, join one, list and remove members), behind the small
// surface the server needs: a Proposer for the Store, a ReadIndex barrier, leadership
// notifications for the controllers, and HTTPS routes for `skiff cluster` and joining.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { rootKeyPath } from "../../encryption/keyring";
import { ApiError } from "../../errors";
import type { AppliedState } from "../../store/applied-state";
import type { ApplyResult, Command } from "../../store/commands";
import type { Proposer } from "../../store/proposer";
import { bootstrapEntries } from "../core/config";
import type { NodeId } from "../core/types";
import { unavailable } from "../node/errors";
import { transferTarget } from "../node/membership";
import { RaftNode } from "../node/node";
import { SegmentLogStorage } from "../storage/segment-log";
import { FileSnapshotReceiver } from "../storage/snapshot-file";
import { GrpcTransport } from "../transport/grpc";
import { peerTls, postJoin, type BootstrapSecrets, type JoinRequest, type JoinResponse } from "./join";
import { MemberBook, memberCommand, memberDelete, type MemberRecord } from "./members";
import { storeApplication } from "./store-app";

/** The Raft node of `skiff server`: store commands, their results, state.db snapshot files. */
export type StoreRaftNode = RaftNode<Command, ApplyResult, string>;

export interface ConsensusOptions {
  /** <data-dir>/server: raft.db goes to <serverDir>/raft, the CA is read from <serverDir>/tls. */
  serverDir: string;
  /** This server's member name (unique in the cluster; default: the node name). */
  name: string;
  /** How other servers reach this server's API (https://host:port). */
  apiUrl: string;
  /** Address to bind the peer (gRPC) listener to. Default 0.0.0.0. */
  raftBindHost?: string;
  /** --raft-listen-port. Default 2380. */
  raftPort?: number;
  /** Host other servers use to reach the peer port. Default: the host of apiUrl. */
  advertiseHost?: string;
  /** --server URL --token T: join an existing cluster (ignored once this server is a member). */
  join?: { server: string; token: string };
  /** Plain-text gRPC instead of mutual TLS with the cluster CA (tests only). */
  insecureTransport?: boolean;
  tickMs?: number;
  electionTick?: number;
  heartbeatTick?: number;
  snapshotEntries?: number;
  keepEntries?: number;
}

export interface MemberStatus {
  id: string;
  name: string;
  address: string;
  apiUrl: string;
  role: "voter" | "learner" | "none";
  leader: boolean;
  term?: number;
  applied?: number;
  commit?: number;
  lag?: number;
  reachable: boolean;
  error?: string;
}

export interface Consensus {
  proposer: Proposer;
  /** Await before serving a resourceVersion="" read (linearizable via ReadIndex). */
  readBarrier(): Promise<void>;
  isLeader(): boolean;
  /** Called with true when this server becomes leader, false when it stops being leader. */
  onLeaderChange(cb: (leader: boolean) => void): () => void;
  /** Resolves with a message once this server has been removed from the cluster. */
  removed: Promise<string>;
  members(): Promise<MemberStatus[]>;
  remove(name: string): Promise<{ removed: string; id: string }>;
  /** Handle a join request (from the HTTPS route). */
  join(req: JoinRequest): Promise<JoinResponse>;
  /** Cluster secrets for a joining server (from the HTTPS route). */
  bootstrapSecrets(): BootstrapSecrets;
  /** Fault switch (tests): drop all peer traffic to and from these member names. */
  setBlocked(names: string[]): void;
  /** The member address book (by Raft id). */
  memberTable(): Map<number, MemberRecord>;
  readonly id: NodeId;
  readonly node: StoreRaftNode;
  readonly raftPort: number;
  stop(opts?: { transfer?: boolean }): Promise<void>;
}

const randomId = (): number => {
  const b = crypto.getRandomValues(new Uint32Array(2));
  return (b[0]! & 0xffff) * 2 ** 32 + b[1]! || 1;
};
const hex = (id: number) => id.toString(16);

function hostOf(url: string): string {
  try {
    return new URL(url).hostname.replace(/^\[|\]$/g, "");
  } catch {
    return "127.0.0.1";
  }
}

/** Written when this server's removal is applied: its Raft state must never serve again. */
export function removedMarker(serverDir: string): string {
  return join(serverDir, "raft", "REMOVED");
}

/** Raft for `state` (this server's applied state): found or join a cluster, or resume. */
export async function startConsensus(state: AppliedState, o: ConsensusOptions): Promise<Consensus> {
  const raftDir = join(o.serverDir, "raft");
  // Like etcd, a removed member does not come back on its old state: it would hold an
  // outdated view of the cluster and answer 503 forever.
  if (existsSync(removedMarker(o.serverDir)))
    throw new Error(
      `this server was removed from the cluster (${readFileSync(removedMarker(o.serverDir), "utf8").trim()}); to join again, empty its data dir (${dirname(o.serverDir)}) and start it with --server URL --token TOKEN`,
    );
  const storage = new SegmentLogStorage(raftDir);
  const raftPort = o.raftPort ?? 2380;
  const advertise = o.advertiseHost ?? hostOf(o.apiUrl);
  const raftAddr = `${advertise.includes(":") ? `[${advertise}]` : advertise}:${raftPort}`;
  const tls = o.insecureTransport ? undefined : await peerTls(o.serverDir, o.name);

  let id = Number(storage.getMeta("id") ?? 0);
  let clusterId = storage.getMeta("cluster") ?? "";
  let seeds: MemberRecord[] = [];
  if (storage.isEmpty() && !id) {
    if (o.join) {
      if (state.appliedIndex > 0 || state.rev > 0) {
        throw new Error(`cannot join a cluster: this server already has state (${join(o.serverDir, "db")}); start it with an empty --data-dir`);
      }
      id = randomId();
      const caPem = readFileSync(join(o.serverDir, "tls", "ca.crt"), "utf8");
      console.log(`raft: joining the cluster through ${o.join.server} as ${o.name} (id ${hex(id)}, peer address ${raftAddr})`);
      const resp = await postJoin(o.join.server, o.join.token, caPem, { id, name: o.name, raftAddr, apiUrl: o.apiUrl });
      clusterId = resp.clusterId;
      seeds = resp.members;
    } else {
      id = randomId();
      clusterId = crypto.randomUUID();
      storage.bootstrap(bootstrapEntries([id]));
      console.log(`raft: founded a new cluster ${clusterId} as ${o.name} (id ${hex(id)})`);
    }
    storage.setMeta("id", String(id));
    storage.setMeta("cluster", clusterId);
  }
  storage.setMeta("name", o.name);

  const members = new MemberBook(state);
  const node: StoreRaftNode = new RaftNode({
    id,
    storage,
    app: storeApplication(state, raftDir),
    timing: { tickMs: o.tickMs ?? (Number(process.env.SKIFF_RAFT_TICK_MS) || 100) },
    electionTick: o.electionTick,
    heartbeatTick: o.heartbeatTick,
    snapshotEntries: o.snapshotEntries ?? (Number(process.env.SKIFF_RAFT_SNAPSHOT_ENTRIES) || undefined),
    keepEntries: o.keepEntries ?? (Number(process.env.SKIFF_RAFT_KEEP_ENTRIES) || undefined),
    trace: process.env.SKIFF_RAFT_TRACE === "1",
    // A snapshot from the leader goes to a file as it arrives, never whole into memory.
    raftConfig: { snapshotReceiver: new FileSnapshotReceiver(raftDir) },
    // Unknown or removed servers are not promoted.
    promotable: (peer) => members.all().has(peer),
  });
  const transport = new GrpcTransport({
    id,
    clusterId,
    host: o.raftBindHost ?? "0.0.0.0",
    port: raftPort,
    tls,
    onMessages: (msgs) => node.step(msgs),
    onProposals: (from, props) => node.onProposals(from, props),
    onProposalResults: (from, results) => node.onProposalResults(from, results),
    onForward: (from, req) => node.handleForward(from, req),
    onUnreachable: (peer) => node.reportUnreachable(peer),
    onPeerDown: (peer) => node.peerDown(peer),
  });
  node.transport = transport;

  const updatePeers = () => {
    const table = members.all();
    const addrs = new Map<number, string>();
    if (!table.has(id)) for (const m of seeds) addrs.set(m.id, m.raftAddr);
    for (const [mid, m] of table) addrs.set(mid, m.raftAddr);
    transport.setPeers(addrs);
  };
  members.onChange(updatePeers);
  updatePeers();
  await transport.start();


  /** Run a cluster-level request on the leader (here or forwarded). */
  const onLeader = async (req: any, timeoutMs = 20_000): Promise<any> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let resp: any;
      if (node.isLeader()) resp = await leaderHandle(req);
      else if (node.leaderId()) {
        try {
          resp = await transport.forward(node.leaderId(), req, Math.max(500, deadline - Date.now()));
        } catch (e) {
          resp = { err: "retry", msg: (e as Error).message };
        }
      } else resp = { err: "retry", msg: "no leader" };
      if (resp?.err === "retry" || resp?.err === "notLeader" || resp?.err === "noLeader") {
        if (Date.now() > deadline) throw unavailable(`quorum lost / no leader: ${resp.msg ?? resp.err}`);
        await Bun.sleep(100);
        continue;
      }
      if (resp?.err) throw new ApiError(resp.code ?? 500, resp.reason ?? "InternalError", resp.msg ?? String(resp.err));
      return resp;
    }
  };

  const leaderHandle = async (req: any): Promise<any> => {
    if (!node.isLeader()) return { err: "notLeader" };
    try {
      switch (req.k) {
        case "join": {
          const j = req.req as JoinRequest;
          const cs = node.raft.confState();
          const isMember = (x: number) => cs.voters.includes(x) || cs.learners.includes(x);
          const same = members.byName(j.name);
          if (same && same.id !== j.id && isMember(same.id)) {
            return { err: "conflict", code: 409, reason: "AlreadyExists", msg: `a server named ${j.name} is already a member (id ${hex(same.id)}): remove it first with \`skiff cluster remove ${j.name}\`` };
          }
          const cur = members.all().get(j.id);
          const rec: MemberRecord = { id: j.id, name: j.name, raftAddr: j.raftAddr, apiUrl: j.apiUrl };
          if (!cur || cur.raftAddr !== rec.raftAddr || cur.apiUrl !== rec.apiUrl || cur.name !== rec.name) {
            const o = await node.submit([memberCommand(rec, !!cur)], Date.now() + 10_000);
            if (!o.results[0]?.ok) return { err: "failed", code: 500, msg: `recording the member failed: ${JSON.stringify(o.results[0])}` };
          }
          if (!isMember(j.id)) {
            await node.confChange("addLearner", j.id);
            console.log(`raft: added ${j.name} (id ${hex(j.id)}, ${j.raftAddr}) as a learner; it is promoted once caught up`);
          }
          return { clusterId, members: [...members.all().values()] } satisfies JoinResponse;
        }
        case "remove": {
          const m = members.byName(req.name) ?? members.all().get(parseInt(req.name, 16));
          const cs = node.raft.confState();
          if (!m) return { err: "notFound", code: 404, reason: "NotFound", msg: `no cluster member named ${req.name}` };
          if (m.id === id) {
            // The leader cannot remove itself: hand leadership to the most up-to-date voter first.
            const to = transferTarget(node);
            if (!to) return { err: "invalid", code: 400, reason: "BadRequest", msg: "cannot remove the only voter" };
            node.transferLeadership(to);
            const until = Date.now() + 3000;
            while (Date.now() < until && node.isLeader()) await Bun.sleep(20);
            return { err: "retry", msg: "leadership transferred" };
          }
          if (cs.voters.includes(m.id) || cs.learners.includes(m.id)) await node.confChange("remove", m.id);
          // Tell it (while its address is still in the table): it will never apply its removal.
          await transport.forward(m.id, { k: "removed" }, 2000).catch(() => {});
          await node.submit([memberDelete(m.id)], Date.now() + 10_000);
          console.log(`raft: removed ${m.name} (id ${hex(m.id)}) from the cluster`);
          return { removed: m.name, id: hex(m.id) };
        }
        case "leaderStatus": {
          return { status: node.localStatus(), members: [...members.all().values()] };
        }
      }
      return { err: "unknown", code: 400, msg: `unknown request ${req.k}` };
    } catch (e) {
      const ae = e as ApiError;
      if (ae.code === 503) return { err: "retry", msg: ae.message };
      return { err: "failed", code: ae.code ?? 500, reason: ae.reason, msg: ae.message };
    }
  };
  node.extraForward = async (_from, req) => leaderHandle(req);

  // Keep this server's own address-book entry current (first start, changed ports).
  let stopped = false;
  const ensureSelf = async () => {
    while (!stopped && !node.removed) {
      const cur = members.all().get(id);
      const want: MemberRecord = { id, name: o.name, raftAddr, apiUrl: o.apiUrl };
      if (cur && cur.raftAddr === want.raftAddr && cur.apiUrl === want.apiUrl && cur.name === want.name) return;
      const cs = node.raft.confState();
      if (cs.voters.includes(id) || cs.learners.includes(id)) {
        try {
          await node.submit([memberCommand(want, !!cur)], Date.now() + 5000);
        } catch {
          /* retry */
        }
      }
      await Bun.sleep(500);
    }
  };

  const removed = new Promise<string>((resolve) =>
    node.onRemoved(() => {
      const why = `removed at ${new Date().toISOString()} with skiff cluster remove ${o.name}`;
      try {
        writeFileSync(removedMarker(o.serverDir), why + "\n");
      } catch {}
      resolve(`this server (${o.name}) was removed from the cluster: stopping`);
    }),
  );
  // A server removed while it was down never hears of it from the leader: when it has had no
  // leader for a while it asks the others, and the leader's own answer (its membership is the
  // latest) settles it.
  let leaderSince = Date.now();
  const leaderlessCheck = setInterval(async () => {
    if (node.raft.lead !== 0) leaderSince = Date.now();
    if (stopped || node.removed || Date.now() - leaderSince < 10_000) return;
    for (const m of members.all().values()) {
      if (m.id === id) continue;
      try {
        const st = await transport.forward(m.id, { k: "status" }, 1500);
        if (st?.lead === m.id && st.role === "leader" && ![...st.conf.voters, ...st.conf.learners].includes(id)) {
          node.markRemoved(`the leader ${m.name} no longer lists it`);
          return;
        }
      } catch {}
    }
  }, 5000);
  leaderlessCheck.unref?.();
  node.start();
  void ensureSelf();

  const consensus: Consensus = {
    id,
    node,
    raftPort: transport.port,
    proposer: { propose: (cmd) => node.propose(cmd) },
    readBarrier: () => node.readBarrier(),
    memberTable: () => members.all(),
    isLeader: () => node.isLeader(),
    onLeaderChange: (cb) => node.onLeaderChange(cb),
    removed,
    async members() {
      const ls = await onLeader({ k: "leaderStatus" }, 5000);
      const st = ls.status as ReturnType<StoreRaftNode["localStatus"]>;
      const table = new Map<number, MemberRecord>((ls.members as MemberRecord[]).map((m) => [m.id, m]));
      const ids = new Set<number>([...st.conf.voters, ...st.conf.learners, ...table.keys()]);
      const rows = await Promise.all(
        [...ids].map(async (mid): Promise<MemberStatus> => {
          const m = table.get(mid);
          const role = st.conf.voters.includes(mid) ? "voter" : st.conf.learners.includes(mid) ? "learner" : "none";
          const row: MemberStatus = { id: hex(mid), name: m?.name ?? "?", address: m?.raftAddr ?? "?", apiUrl: m?.apiUrl ?? "?", role, leader: mid === st.lead, reachable: false };
          try {
            const s = mid === id ? node.localStatus() : await transport.forward(mid, { k: "status" }, 1500);
            row.reachable = true;
            row.term = s.term;
            row.applied = s.appliedIndex;
            row.commit = s.commit;
            row.lag = Math.max(0, st.commit - s.appliedIndex);
          } catch (e) {
            row.error = (e as Error).message;
            const p = st.progress?.[mid];
            if (p) row.lag = Math.max(0, st.commit - p.match);
          }
          return row;
        }),
      );
      rows.sort((a, b) => Number(b.leader) - Number(a.leader) || a.name.localeCompare(b.name));
      return rows;
    },
    async remove(name: string) {
      return onLeader({ k: "remove", name });
    },
    async join(req: JoinRequest) {
      if (!Number.isInteger(req?.id) || req.id <= 0 || typeof req.name !== "string" || !req.name || typeof req.raftAddr !== "string") {
        throw new ApiError(400, "BadRequest", "send {id, name, raftAddr, apiUrl}");
      }
      return onLeader({ k: "join", req }, 60_000);
    },
    bootstrapSecrets() {
      const tlsDir = join(o.serverDir, "tls");
      return {
        caCert: readFileSync(join(tlsDir, "ca.crt"), "utf8"),
        caKey: readFileSync(join(tlsDir, "ca.key"), "utf8"),
        tokenKey: readFileSync(join(o.serverDir, "token-key")).toString("base64"),
        adminToken: readFileSync(join(o.serverDir, "admin-token"), "utf8").trim(),
        joinToken: readFileSync(join(o.serverDir, "token"), "utf8").trim(),
        encryptionRootKey: readFileSync(rootKeyPath(o.serverDir)).toString("base64"),
      };
    },
    setBlocked(names: string[]) {
      transport.blocked.clear();
      for (const n of names) {
        const m = members.byName(n);
        if (m) transport.blocked.add(m.id);
      }
    },
    async stop(opts) {
      stopped = true;
      clearInterval(leaderlessCheck);
      await node.stop(opts);
      transport.stop();
      storage.close();
    },
  };
  return consensus;
}
