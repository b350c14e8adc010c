// The node's cluster DNS: a UDP server on the pod bridge's gateway address (every pod's next
// hop, so a pod's nameserver is always on its own node, like NodeLocal DNSCache), answering the
// cluster domain from the service proxy's watch cache (dns-records.ts) and relaying other names
// to the host's resolvers. The cache outlives the server connection, so names keep resolving on
// an agent that is offline. Not done: DNS over TCP (a truncated answer cannot be retried).

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
  private readonly upstream: string[];
  queries = 0;
  forwarded = 0;

  constructor(private readonly o: ClusterDnsOptions) {
    this.upstream = (o.upstream ?? hostUpstream()).filter((s) => s !== o.address);
  }

  async start(): Promise<void> {
    this.sock = await Bun.udpSocket({
      hostname: this.o.address,
      port: this.o.port ?? 53,
      socket: {
        data: (s, buf, port, addr) => {
          void this.handle(Buffer.from(buf))
            .then((out) => {
              if (out) s.send(out, port, addr);
            })
            .catch((e) => this.o.log(`cluster DNS: ${(e as Error).message}`));
        },
        error: (_s, e) => this.o.log(`cluster DNS: ${e.message}`),
      },
    });
  }

  get port(): number {
    return this.sock?.port ?? 0;
  }

  stop(): void {
    this.sock?.close();
    this.sock = null;
  }

  /** The answer to one query message (null: drop it). */
  async handle(msg: Buffer): Promise<Buffer | null> {
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
    return packet.encode({
      id: q.id,
      type: "response",
      flags: packet.AUTHORITATIVE_ANSWER | ((q.flags ?? 0) & packet.RECURSION_DESIRED) | packet.RECURSION_AVAILABLE | RCODE[r.rcode],
      questions: [question],
      answers,
      additionals: r.additionals.map(toAnswer),
    } as packet.Packet);
  }

  /** The records of a CNAME target (one level; an ExternalName naming another is rare). */
  private async chase(target: string, type: packet.RecordType): Promise<packet.Answer[]> {
    const inner = resolve(target, type, this.o.domain, this.o.lookup);
    if (!inner.forward) return inner.answers.filter((a) => a.type !== "CNAME").map(toAnswer);
    const id = Math.floor(Math.random() * 65536);
    const query = Buffer.from(packet.encode({ id, type: "query", flags: packet.RECURSION_DESIRED, questions: [{ name: target, type, class: "IN" }] }));
    for (const server of this.upstream) {
      const res = await this.ask(server, query).catch(() => null);
      if (!res) continue;
      try {
        return (packet.decode(res).answers ?? []) as packet.Answer[];
      } catch {
        return [];
      }
    }
    return [];
  }

  /** Relays the query to the upstream resolvers in turn; SERVFAIL when none answers. */
  private async forward(msg: Buffer, q: packet.Packet): Promise<Buffer> {
    this.forwarded++;
    for (const server of this.upstream) {
      const res = await this.ask(server, msg).catch(() => null);
      if (res) return res;
    }
    return packet.encode({ id: q.id, type: "response", flags: packet.RECURSION_AVAILABLE | RCODE.SERVFAIL, questions: q.questions } as packet.Packet);
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

function toAnswer(r: DnsRecord): packet.Answer {
  return { name: r.name, type: r.type, ttl: r.ttl, class: "IN", data: r.data } as packet.Answer;
}
