// Peer transport over gRPC (@grpc/grpc-js): one long-lived client stream from this server to
// every peer carrying batches of Raft messages (binary protobuf, schemas/proto/raft.proto,
// embedded as text so `bun build --compile` works), plus a unary Forward call for requests
// that must run on the leader (writes, ReadIndex from a follower, joins, removals) or on one
// member (status). Mutual TLS with the cluster CA when certificates are given.
//
// Raft tolerates loss, so the transport never queues for long: while a peer's stream is down
// (back-off 50 ms → 1 s) its messages are dropped and the core is told it is unreachable.
// A fault switch (`blocked`) drops everything to and from chosen peers, for chaos tests.
import * as grpc from "@grpc/grpc-js";
import protobuf from "protobufjs";
import protoText from "../../../schemas/proto/raft.proto" with { type: "text" };
import type { Entry, Message, MessageType } from "../core/types";

const root = protobuf.parse(protoText, { keepCase: false }).root;
const PBatch = root.lookupType("skiff.raft.v1.Batch");
const PAck = root.lookupType("skiff.raft.v1.Ack");
const PFwdReq = root.lookupType("skiff.raft.v1.ForwardRequest");
const PFwdResp = root.lookupType("skiff.raft.v1.ForwardResponse");

const TYPES: MessageType[] = [
  "app",
  "appResp",
  "vote",
  "voteResp",
  "preVote",
  "preVoteResp",
  "heartbeat",
  "heartbeatResp",
  "snap",
  "snapResp",
  "timeoutNow",
  "readIndex",
  "readIndexResp",
  "transferLeader",
];
const TYPE_NUM = new Map(TYPES.map((t, i) => [t, i]));

const num = (v: any): number => (v == null ? 0 : typeof v === "number" ? v : Number(v));
const EMPTY = new Uint8Array();

function toProto(m: Message): any {
  return {
    type: TYPE_NUM.get(m.type),
    from: m.from,
    to: m.to,
    term: m.term,
    logTerm: m.logTerm,
    index: m.index,
    entries: m.entries.map((e) => ({ term: e.term, index: e.index, conf: e.type === "conf", data: e.data })),
    commit: m.commit,
    reject: m.reject,
    rejectHint: m.rejectHint,
    context: m.context,
    target: m.target,
    snapshot: m.snapshot ? { index: m.snapshot.index, term: m.snapshot.term, confState: { voters: m.snapshot.confState.voters, learners: m.snapshot.confState.learners } } : undefined,
    snapOffset: m.snapOffset,
    snapData: m.snapData,
    snapDone: m.snapDone,
  };
}

function fromProto(p: any): Message {
  const m: Message = {
    type: TYPES[p.type ?? 0]!,
    from: num(p.from),
    to: num(p.to),
    term: num(p.term),
    logTerm: num(p.logTerm),
    index: num(p.index),
    entries: (p.entries ?? []).map(
      (e: any): Entry => ({ term: num(e.term), index: num(e.index), type: e.conf ? "conf" : "normal", data: e.data ? new Uint8Array(e.data) : EMPTY }),
    ),
    commit: num(p.commit),
    reject: !!p.reject,
    rejectHint: num(p.rejectHint),
    context: p.context ?? "",
    target: num(p.target),
    snapOffset: num(p.snapOffset),
    snapDone: !!p.snapDone,
  };
  if (p.snapshot) {
    const cs = p.snapshot.confState ?? {};
    m.snapshot = { index: num(p.snapshot.index), term: num(p.snapshot.term), confState: { voters: (cs.voters ?? []).map(num), learners: (cs.learners ?? []).map(num) } };
  }
  if (p.snapData && p.snapData.length) m.snapData = new Uint8Array(p.snapData);
  else if (m.type === "snap") m.snapData = EMPTY;
  return m;
}

export function encodeBatch(from: number, cluster: string, msgs: Message[]): Uint8Array {
  return PBatch.encode(PBatch.fromObject({ from, cluster, messages: msgs.map(toProto) })).finish();
}
export function decodeBatch(b: Uint8Array): { from: number; cluster: string; messages: Message[] } {
  const p = PBatch.decode(b) as any;
  return { from: num(p.from), cluster: p.cluster ?? "", messages: (p.messages ?? []).map(fromProto) };
}

const raw = (b: Buffer | Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength);
const SERVICE: grpc.ServiceDefinition = {
  Stream: {
    path: "/skiff.raft.v1.RaftPeer/Stream",
    requestStream: true,
    responseStream: true,
    requestSerialize: raw,
    requestDeserialize: (b: Buffer) => b,
    responseSerialize: raw,
    responseDeserialize: (b: Buffer) => b,
  },
  Forward: {
    path: "/skiff.raft.v1.RaftPeer/Forward",
    requestStream: false,
    responseStream: false,
    requestSerialize: raw,
    requestDeserialize: (b: Buffer) => b,
    responseSerialize: raw,
    responseDeserialize: (b: Buffer) => b,
  },
};
const ACK = PAck.encode(PAck.create({})).finish();
const Client = grpc.makeGenericClientConstructor(SERVICE, "RaftPeer");

export interface TlsMaterial {
  caPem: string;
  certPem: string;
  keyPem: string;
}

/** Every peer certificate carries this DNS name, so addresses may be any IP or host name. */
export const PEER_TLS_NAME = "skiff-raft-peer";

export interface TransportOptions {
  id: number;
  clusterId: string;
  host: string;
  port: number;
  tls?: TlsMaterial;
  onMessages: (msgs: Message[]) => void;
  onForward: (from: number, req: any) => Promise<any>;
  onUnreachable: (id: number) => void;
}

const CHANNEL_OPTS: grpc.ChannelOptions = {
  "grpc.max_receive_message_length": 512 << 20,
  "grpc.max_send_message_length": 512 << 20,
  "grpc.keepalive_time_ms": 2000,
  "grpc.keepalive_timeout_ms": 3000,
  "grpc.keepalive_permit_without_calls": 1,
  "grpc.initial_reconnect_backoff_ms": 100,
  "grpc.max_reconnect_backoff_ms": 1000,
  "grpc.min_reconnect_backoff_ms": 100,
};

class Peer {
  client: grpc.Client | undefined;
  stream: grpc.ClientDuplexStream<Uint8Array, Buffer> | undefined;
  nextDialAt = 0;
  backoff = 50;
  constructor(
    readonly id: number,
    public addr: string,
  ) {}
}

export class GrpcTransport {
  private server: grpc.Server | undefined;
  private peers = new Map<number, Peer>();
  /** Fault switch: peers whose traffic (both ways, including Forward) is dropped. */
  readonly blocked = new Set<number>();
  private stopped = false;
  port = 0;

  constructor(private readonly o: TransportOptions) {}

  private creds(): grpc.ChannelCredentials {
    const t = this.o.tls;
    if (!t) return grpc.credentials.createInsecure();
    return grpc.credentials.createSsl(Buffer.from(t.caPem), Buffer.from(t.keyPem), Buffer.from(t.certPem));
  }

  async start(): Promise<number> {
    const server = new grpc.Server({
      "grpc.max_receive_message_length": 512 << 20,
      "grpc.max_send_message_length": 512 << 20,
      "grpc.keepalive_permit_without_calls": 1,
      "grpc.http2.min_ping_interval_without_data_ms": 500,
      "grpc.keepalive_time_ms": 2000,
      "grpc.keepalive_timeout_ms": 3000,
    } as any);
    server.addService(SERVICE, {
      Stream: (call: grpc.ServerDuplexStream<Buffer, Uint8Array>) => {
        call.write(ACK);
        call.on("data", (b: Buffer) => {
          if (this.stopped) return;
          let batch;
          try {
            batch = decodeBatch(b);
          } catch (e) {
            console.error(`raft transport: undecodable batch: ${(e as Error).message}`);
            return;
          }
          if (batch.cluster !== this.o.clusterId || this.blocked.has(batch.from)) return;
          this.o.onMessages(batch.messages);
        });
        call.on("error", () => {});
        call.on("end", () => call.end());
      },
      Forward: (call: grpc.ServerUnaryCall<Buffer, Uint8Array>, cb: grpc.sendUnaryData<Uint8Array>) => {
        const p = PFwdReq.decode(call.request) as any;
        const from = num(p.from);
        if (p.cluster !== this.o.clusterId) return cb({ code: grpc.status.PERMISSION_DENIED, details: "wrong cluster" } as any);
        if (this.blocked.has(from)) return; // partitioned: let the caller time out
        let req: any;
        try {
          req = JSON.parse(new TextDecoder().decode(p.json));
        } catch {
          return cb({ code: grpc.status.INVALID_ARGUMENT, details: "bad json" } as any);
        }
        this.o.onForward(from, req).then(
          (resp) => cb(null, PFwdResp.encode({ json: new TextEncoder().encode(JSON.stringify(resp ?? null)) }).finish()),
          (e) => cb({ code: grpc.status.INTERNAL, details: String((e as Error)?.message ?? e) } as any),
        );
      },
    });
    const creds = this.o.tls
      ? grpc.ServerCredentials.createSsl(Buffer.from(this.o.tls.caPem), [{ cert_chain: Buffer.from(this.o.tls.certPem), private_key: Buffer.from(this.o.tls.keyPem) }], true)
      : grpc.ServerCredentials.createInsecure();
    const hostPort = this.o.host.includes(":") ? `[${this.o.host}]:${this.o.port}` : `${this.o.host}:${this.o.port}`;
    this.port = await new Promise<number>((resolve, reject) => server.bindAsync(hostPort, creds, (err, port) => (err ? reject(err) : resolve(port))));
    this.server = server;
    return this.port;
  }

  /** Set the address of every peer (id → host:port); unknown peers are closed. */
  setPeers(addrs: Map<number, string>): void {
    for (const [id, addr] of addrs) {
      if (id === this.o.id) continue;
      const p = this.peers.get(id);
      if (!p) this.peers.set(id, new Peer(id, addr));
      else if (p.addr !== addr) {
        this.closePeer(p);
        p.addr = addr;
      }
    }
    for (const [id, p] of this.peers) {
      if (!addrs.has(id)) {
        this.closePeer(p);
        this.peers.delete(id);
      }
    }
  }

  peerAddr(id: number): string | undefined {
    return this.peers.get(id)?.addr;
  }

  private closePeer(p: Peer): void {
    try {
      p.stream?.end();
    } catch {}
    p.stream = undefined;
    p.client?.close();
    p.client = undefined;
  }

  private clientFor(p: Peer): grpc.Client {
    if (!p.client) {
      const opts: grpc.ChannelOptions = { ...CHANNEL_OPTS };
      if (this.o.tls) opts["grpc.ssl_target_name_override"] = PEER_TLS_NAME;
      p.client = new Client(p.addr, this.creds(), opts);
    }
    return p.client;
  }

  private streamFor(p: Peer): grpc.ClientDuplexStream<Uint8Array, Buffer> | undefined {
    if (p.stream) return p.stream;
    const now = Date.now();
    if (now < p.nextDialAt) return undefined;
    const client = this.clientFor(p) as any;
    const s: grpc.ClientDuplexStream<Uint8Array, Buffer> = client.Stream();
    p.stream = s;
    const down = () => {
      if (p.stream !== s) return;
      p.stream = undefined;
      p.nextDialAt = Date.now() + p.backoff;
      p.backoff = Math.min(p.backoff * 2, 1000);
      if (!this.stopped) this.o.onUnreachable(p.id);
    };
    s.on("data", () => {
      p.backoff = 50;
    });
    s.on("error", down);
    s.on("end", down);
    s.on("close", down);
    return s;
  }

  send(msgs: Message[]): void {
    if (this.stopped || msgs.length === 0) return;
    const byPeer = new Map<number, Message[]>();
    for (const m of msgs) {
      let l = byPeer.get(m.to);
      if (!l) byPeer.set(m.to, (l = []));
      l.push(m);
    }
    for (const [to, list] of byPeer) {
      if (this.blocked.has(to)) continue;
      const p = this.peers.get(to);
      if (!p) {
        this.o.onUnreachable(to);
        continue;
      }
      const s = this.streamFor(p);
      if (!s) {
        this.o.onUnreachable(to);
        continue;
      }
      // A peer that does not read (SIGSTOPped): stop buffering, Raft will resend.
      if ((s as any).writableLength > 64 << 20) {
        this.o.onUnreachable(to);
        continue;
      }
      s.write(encodeBatch(this.o.id, this.o.clusterId, list));
    }
  }

  /** A request for peer `to`; rejects on transport errors, timeouts and blocked peers. */
  forward(to: number, req: any, timeoutMs: number): Promise<any> {
    if (this.blocked.has(to)) return Bun.sleep(timeoutMs).then(() => Promise.reject(new Error(`peer ${to} unreachable (timeout)`)));
    let p = this.peers.get(to);
    if (!p) return Promise.reject(new Error(`no address known for peer ${to}`));
    const client = this.clientFor(p) as any;
    const body = PFwdReq.encode({ from: this.o.id, cluster: this.o.clusterId, json: new TextEncoder().encode(JSON.stringify(req)) }).finish();
    return new Promise((resolve, reject) => {
      client.Forward(body, { deadline: Date.now() + timeoutMs }, (err: grpc.ServiceError | null, resp: Buffer) => {
        if (err) return reject(new Error(`peer ${to}: ${err.details || err.message}`));
        try {
          const r = PFwdResp.decode(resp) as any;
          resolve(JSON.parse(new TextDecoder().decode(r.json)));
        } catch (e) {
          reject(e);
        }
      });
    });
  }

  /** Forward to an address not (yet) in the peer table (joining). */
  static async call(addr: string, clusterId: string, from: number, req: any, timeoutMs: number, tls?: TlsMaterial): Promise<any> {
    const t = new GrpcTransport({ id: from, clusterId, host: "", port: 0, tls, onMessages: () => {}, onForward: async () => null, onUnreachable: () => {} });
    t.peers.set(-1, new Peer(-1, addr));
    try {
      return await t.forward(-1, req, timeoutMs);
    } finally {
      t.stop();
    }
  }

  stop(): void {
    this.stopped = true;
    for (const p of this.peers.values()) this.closePeer(p);
    this.server?.forceShutdown();
  }
}
