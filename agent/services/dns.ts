// The node's cluster DNS: a UDP and TCP server on the pod bridge's gateway address (every pod's next
// hop, so a pod's nameserver is always on its own node, like NodeLocal DNSCache), answering the
// cluster domain from the service proxy's watch cache (dns-records.ts) and relaying other names
// to the host's resolvers. The cache outlives the server connection, so names keep resolving on
// an agent that is offline. A UDP answer larger than the client takes (512 bytes, or its EDNS
// size) is sent truncated (TC), and the client asks again over TCP.

import { readFileSync } from "node:fs";
import * as packet from "dns-packet";
import { resolve, type DnsRecord, type ServiceLookup } from "./dns-records.ts";

export interface ClusterDnsOptions {
  /** Address to listen on (the bridge gateway). */
  address: string;
  port?: number;
  domain: string;
  lookup: ServiceLookup;
  /** Upstream resolvers, "ip" or "ip:port" (default: the nameservers of /etc/resolv.conf). */
  upstream?: string[];
  log: (msg: string) => void;
  forwardTimeoutMs?: number;
}

/** Nameservers of a resolv.conf. */
export function resolvConfServers(text: string): string[] {
  return text
    .split("\n")
    .map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1])
    .filter((s): s is string => !!s && !s.includes(":"));
}

function hostUpstream(): string[] {
  try {
    return resolvConfServers(readFileSync("/etc/resolv.conf", "utf8"));
  } catch {
    return [];
  }
}

type UdpSocket = { port: number; close(): void };

/** Response codes live in the low 4 bits of the flags (dns-packet encodes no `rcode` field). */
const RCODE = { NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3 } as const;

export class ClusterDns {
  private sock: UdpSocket | null = null;
  private tcp: { stop(closeActive?: boolean): void } | null = null;
  private readonly upstream: string[];
  queries = 0;
  forwarded = 0;

  constructor(private readonly o: ClusterDnsOptions) {
    this.upstream = (o.upstream ?? hostUpstream()).filter((s) => s !== o.address);
  }

  async start(): Promise<void> {
    // Port 0 (tests): UDP picks a free port, and TCP must then get the same number, which another
    // socket may hold (seen under load: EADDRINUSE): pick again a few times.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.bind();
      } catch (e) {
        this.stop();
        if ((this.o.port ?? 53) !== 0 || attempt >= 10) throw e;
      }
    }
  }

  private async bind(): Promise<void> {
    this.sock = await Bun.udpSocket({
      hostname: this.o.address,
      port: this.o.port ?? 53,
      socket: {
        data: (s, buf, port, addr) => {
          void this.handle(Buffer.from(buf), true)
            .then((out) => {
              if (out) s.send(out, port, addr);
            })
            .catch((e) => this.o.log(`cluster DNS: ${(e as Error).message}`));
        },
        error: (_s, e) => this.o.log(`cluster DNS: ${e.message}`),
      },
    });
    // DNS over TCP: each message carries a 2-byte length; a connection may pipeline several.
    const pending = new WeakMap<object, Buffer>();
    this.tcp = Bun.listen({
      hostname: this.o.address,
      port: this.sock.port,
      socket: {
        data: (sock, data) => {
          let buf = Buffer.concat([pending.get(sock) ?? Buffer.alloc(0), Buffer.from(data)]);
          while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
            const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
            buf = buf.subarray(2 + msg.length);
            void this.handle(Buffer.from(msg), false)
              .then((out) => {
                if (!out) return;
                const len = Buffer.alloc(2);
                len.writeUInt16BE(out.length);
                sock.write(Buffer.concat([len, out]));
              })
              .catch((e) => this.o.log(`cluster DNS: ${(e as Error).message}`));
          }
          pending.set(sock, buf);
        },
        error: (_s, e) => this.o.log(`cluster DNS (tcp): ${e.message}`),
      },
    });
  }

  get port(): number {
    return this.sock?.port ?? 0;
  }

  stop(): void {
    this.sock?.close();
    this.sock = null;
    this.tcp?.stop(true);
    this.tcp = null;
  }

  /** The answer to one query message (null: drop it). */
  async handle(msg: Buffer, udp = false): Promise<Buffer | null> {
    let q: packet.Packet;
    try {
      q = packet.decode(msg);
    } catch {
      return null; // not DNS
    }
    const question = q.questions?.[0];
    if (q.type !== "query" || !question) return null;
    this.queries++;
    const r = resolve(question.name, question.type, this.o.domain, this.o.lookup);
    if (r.forward) return this.forward(msg, q);
    const answers: packet.Answer[] = r.answers.map(toAnswer);
    // An ExternalName's CNAME: resolvers in pods do not chase it, so the target's records come
    // along (as CoreDNS does), from the cluster or from upstream.
    const cname = r.answers.find((a) => a.type === "CNAME");
    if (cname && question.type !== "CNAME") answers.push(...(await this.chase(String(cname.data), question.type)));
    const flags = packet.AUTHORITATIVE_ANSWER | ((q.flags ?? 0) & packet.RECURSION_DESIRED) | packet.RECURSION_AVAILABLE | RCODE[r.rcode];
    const out = packet.encode({ id: q.id, type: "response", flags, questions: [question], answers, additionals: r.additionals.map(toAnswer) } as packet.Packet);
    if (!udp || out.length <= udpLimit(q)) return out;
    // Too big for this client over UDP: the header and question with TC set; it retries on TCP.
    return packet.encode({ id: q.id, type: "response", flags: flags | packet.TRUNCATED_RESPONSE, questions: [question] } as packet.Packet);
  }

  /** The records of a CNAME target (one level; an ExternalName naming another is rare). */
  private async chase(target: string, type: packet.RecordType): Promise<packet.Answer[]> {
    const inner = resolve(target, type, this.o.domain, this.o.lookup);
    if (!inner.forward) return inner.answers.filter((a) => a.type !== "CNAME").map(toAnswer);
    const id = Math.floor(Math.random() * 65536);
    const query = Buffer.from(packet.encode({ id, type: "query", flags: packet.RECURSION_DESIRED, questions: [{ name: target, type, class: "IN" }] }));
    const res = await this.askUpstream(query);
    try {
      return res ? ((packet.decode(res).answers ?? []) as packet.Answer[]) : [];
    } catch {
      return [];
    }
  }

  /** Relays the query to the upstream resolvers in turn; SERVFAIL when none answers. */
  private async forward(msg: Buffer, q: packet.Packet): Promise<Buffer> {
    this.forwarded++;
    const res = await this.askUpstream(msg);
    if (res) return res;
    return packet.encode({ id: q.id, type: "response", flags: packet.RECURSION_AVAILABLE | RCODE.SERVFAIL, questions: q.questions } as packet.Packet);
  }

  /** The first upstream resolver's answer, trying them in turn (null: none answered). */
  private async askUpstream(msg: Buffer): Promise<Buffer | null> {
    for (const server of this.upstream) {
      const res = await this.ask(server, msg).catch(() => null);
      if (res) return res;
    }
    return null;
  }

  private async ask(server: string, msg: Buffer): Promise<Buffer | null> {
    let done!: (b: Buffer | null) => void;
    const answer = new Promise<Buffer | null>((r) => (done = r));
    const id = msg.readUInt16BE(0);
    const [hostname = server, port = "53"] = server.split(":");
    const s = await Bun.udpSocket({
      connect: { hostname, port: Number(port) },
      socket: {
        data: (_s, buf) => {
          const b = Buffer.from(buf);
          if (b.length >= 2 && b.readUInt16BE(0) === id) done(b);
        },
        // ICMP port unreachable and the like: this resolver is out, try the next one
        error: () => done(null),
      },
    });
    const timer = setTimeout(() => done(null), this.o.forwardTimeoutMs ?? 2000);
    try {
      s.send(msg);
      return await answer;
    } finally {
      clearTimeout(timer);
      s.close();
    }
  }
}

/** The largest UDP answer the client takes: its EDNS payload size, else 512 bytes. */
function udpLimit(q: packet.Packet): number {
  const opt = (q.additionals ?? []).find((a) => a.type === "OPT") as { udpPayloadSize?: number } | undefined;
  return Math.max(512, Math.min(opt?.udpPayloadSize ?? 512, 4096));
}

function toAnswer(r: DnsRecord): packet.Answer {
  return { name: r.name, type: r.type, ttl: r.ttl, class: "IN", data: r.data } as packet.Answer;
}
