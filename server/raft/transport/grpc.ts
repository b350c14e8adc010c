// Peer transport over gRPC: a @grpc/grpc-js server; one long-lived client stream (sent by a lean
// node:http2 client, h2-stream.ts, for its CPU per message) from this server to
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
import type { Message } from "../core/types";
import { decodeBatch, encodeBatch as encodeCodecBatch, type Proposal, type ProposalResult } from "./codec";
import { H2ClientStream } from "./h2-stream";

const root = protobuf.parse(protoText, { keepCase: false }).root;
const PAck = root.lookupType("skiff.raft.v1.Ack");
const PFwdReq = root.lookupType("skiff.raft.v1.ForwardRequest");
const PFwdResp = root.lookupType("skiff.raft.v1.ForwardResponse");

const num = (v: any): number => (v == null ? 0 : typeof v === "number" ? v : Number(v));

export { decodeBatch } from "./codec";
/** One frame of Raft messages (the batch codec is hand-written: see codec.ts). */
export function encodeBatch(from: number, cluster: string, msgs: Message[]): Uint8Array {
  return encodeCodecBatch({ from, cluster, messages: msgs });
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
  /** Writes forwarded by a follower (this server should be the leader). */
  onProposals?: (from: number, props: Proposal[]) => void;
  /** The leader's answers to our forwarded writes. */
  onProposalResults?: (from: number, results: ProposalResult[]) => void;
  onForward: (from: number, req: any) => Promise<any>;
  onUnreachable: (id: number) => void;
  /** A stream that had been up (the peer answered) broke: the peer died or the link reset. */
  onPeerDown?: (id: number) => void;
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
  // Per-message bookkeeping we don't use, on the hot path of every frame: channelz call
  // statistics, and the retry layer's message buffering (Raft resends on its own; writes that
  // certainly were not sent are retried by the node).
  "grpc.enable_channelz": 0,
  "grpc.enable_retries": 0,
};

class Peer {
  client: grpc.Client | undefined;
  stream: H2ClientStream | undefined;
  nextDialAt = 0;
  backoff = 50;
  /** The current stream got the peer's first frame: it is really connected. */
  up = false;
  /** Proposals / results queued this turn, written as one frame (see flushOutbox). */
  outProps: Proposal[] = [];
  outResults: ProposalResult[] = [];
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
  private readonly clusterBytes: Uint8Array;
  private outboxScheduled = false;

  constructor(private readonly o: TransportOptions) {
    this.clusterBytes = new TextEncoder().encode(o.clusterId);
  }

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
      "grpc.enable_channelz": 0,
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
          // Results first: they announce entries the messages of the same frame may carry.
          if (batch.results.length) this.o.onProposalResults?.(batch.from, batch.results);
          if (batch.messages.length) this.o.onMessages(batch.messages);
          if (batch.proposals.length) this.o.onProposals?.(batch.from, batch.proposals);
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
    // Detached first: closing it here is not the peer going down.
    const s = p.stream;
    p.stream = undefined;
    s?.end();
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

  private streamFor(p: Peer): H2ClientStream | undefined {
    if (p.stream) return p.stream;
    const now = Date.now();
    if (now < p.nextDialAt) return undefined;
    const t = this.o.tls;
    const s = new H2ClientStream({
      addr: p.addr,
      path: SERVICE.Stream!.path,
      tls: t ? { caPem: t.caPem, certPem: t.certPem, keyPem: t.keyPem, serverName: PEER_TLS_NAME } : undefined,
      keepaliveMs: CHANNEL_OPTS["grpc.keepalive_time_ms"],
      keepaliveTimeoutMs: CHANNEL_OPTS["grpc.keepalive_timeout_ms"],
    });
    p.stream = s;
    p.up = false;
    const down = () => {
      if (p.stream !== s) return;
      const wasUp = p.up;
      p.stream = undefined;
      p.up = false;
      p.nextDialAt = Date.now() + p.backoff;
      p.backoff = Math.min(p.backoff * 2, 1000);
      if (this.stopped) return;
      this.o.onUnreachable(p.id);
      if (wasUp) this.o.onPeerDown?.(p.id);
    };
    s.on("data", () => {
      p.backoff = 50;
      if (p.stream === s) p.up = true;
    });
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
      if (s.writableLength > 64 << 20) {
        this.o.onUnreachable(to);
        continue;
      }
      // Anything queued for this peer rides along in the same frame.
      const props = p.outProps.length ? p.outProps : undefined;
      const results = p.outResults.length ? p.outResults : undefined;
      if (props) p.outProps = [];
      if (results) p.outResults = [];
      s.write(encodeCodecBatch({ from: this.o.id, cluster: this.clusterBytes, messages: list, proposals: props, results }));
    }
  }

  /**
   * Forward a write to the leader over the peer stream (no unary call per write). Returns
   * false if it certainly was not sent: no stream to that peer that it has answered on (a
   * stream just dialed to a dead leader would swallow the write and leave its fate unknown
   * until a timeout). The caller may retry.
   */
  propose(to: number, p: Proposal): boolean {
    if (this.stopped || this.blocked.has(to)) return false;
    const peer = this.peers.get(to);
    if (!peer || !this.streamFor(peer) || !peer.up) return false;
    peer.outProps.push(p);
    this.scheduleOutbox();
    return true;
  }

  /**
   * Answer a forwarded write (on the stream that also carries our appends to that peer).
   * `hold`: the caller's next send() carries it in the same frame as the entry's append (one
   * frame less per forwarded batch); the caller then calls flushOutbox() for what is left.
   */
  proposalResult(to: number, r: ProposalResult, hold = false): void {
    if (this.stopped || this.blocked.has(to)) return;
    const peer = this.peers.get(to);
    if (!peer) return;
    peer.outResults.push(r);
    if (!hold) this.scheduleOutbox();
  }

  private scheduleOutbox(): void {
    if (this.outboxScheduled) return;
    this.outboxScheduled = true;
    // A microtask: everything queued in this turn (and the Ready's messages, if send() runs
    // first) leaves in one frame per peer, without waiting for another event-loop turn.
    queueMicrotask(() => {
      this.outboxScheduled = false;
      this.flushOutbox();
    });
  }

  /** Send whatever is queued for any peer now. */
  flushOutbox(): void {
    if (this.stopped) return;
    for (const p of this.peers.values()) {
      if (!p.outProps.length && !p.outResults.length) continue;
      const props = p.outProps;
      const results = p.outResults;
      p.outProps = [];
      p.outResults = [];
      const s = this.streamFor(p);
      if (!s || s.writableLength > 64 << 20) continue; // dropped: callers time out
      s.write(encodeCodecBatch({ from: this.o.id, cluster: this.clusterBytes, proposals: props, results }));
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
