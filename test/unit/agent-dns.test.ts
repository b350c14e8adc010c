// The agent's cluster DNS: records for Services (ClusterIP, headless, ExternalName), endpoint
// hostnames, SRV, pod names; NXDOMAIN and NODATA; and the UDP server on 127.0.0.1 answering
// real queries, relaying other names to an upstream resolver (a second server here).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as packet from "dns-packet";
import { resolve, type ServiceLookup } from "../../agent/services/dns-records.ts";
import { ClusterDns, resolvConfServers } from "../../agent/services/dns.ts";
import { gatewayOf } from "../../agent/services/bridge.ts";

const services: Record<string, any> = {
  "default/web": { metadata: { name: "web", namespace: "default" }, spec: { clusterIP: "10.43.0.20", ports: [{ name: "http", port: 80, protocol: "TCP" }] } },
  "db/pg": { metadata: { name: "pg", namespace: "db" }, spec: { clusterIP: "None", ports: [{ name: "pg", port: 5432 }] } },
  "default/ext": { metadata: { name: "ext", namespace: "default" }, spec: { type: "ExternalName", externalName: "example.org." } },
  "default/site": { metadata: { name: "site", namespace: "default" }, spec: { type: "ExternalName", externalName: "site.www.svc.example.org" } },
  "default/alias": { metadata: { name: "alias", namespace: "default" }, spec: { type: "ExternalName", externalName: "web.default.svc.cluster.local" } },
};
const slices: Record<string, any[]> = {
  "db/pg": [
    {
      addressType: "IPv4",
      ports: [{ name: "pg", port: 5432, protocol: "TCP" }],
      endpoints: [
        { addresses: ["10.42.0.8"], hostname: "pg-1", conditions: { ready: true } },
        { addresses: ["10.42.0.7"], hostname: "pg-0", conditions: { ready: true } },
        { addresses: ["10.42.0.9"], hostname: "pg-2", conditions: { ready: false } },
      ],
    },
  ],
};
services["db/big"] = { metadata: { name: "big", namespace: "db" }, spec: { clusterIP: "None", ports: [{ port: 80 }] } };
slices["db/big"] = [{ addressType: "IPv4", ports: [{ name: "", port: 80 }], endpoints: Array.from({ length: 60 }, (_, i) => ({ addresses: [`10.42.1.${i + 1}`], conditions: { ready: true } })) }];
const lookup: ServiceLookup = { service: (ns, n) => services[`${ns}/${n}`], slicesOf: (ns, n) => slices[`${ns}/${n}`] ?? [] };
const r = (name: string, type = "A") => resolve(name, type, "cluster.local", lookup);
const data = (x: ReturnType<typeof resolve>) => (x.forward ? "forward" : x.answers.map((a) => a.data));

describe("records", () => {
  test("services, headless endpoints, hostnames, ExternalName, pods", () => {
    expect(data(r("web.default.svc.cluster.local"))).toEqual(["10.43.0.20"]);
    expect(data(r("WEB.default.svc.cluster.local."))).toEqual(["10.43.0.20"]);
    expect(data(r("pg.db.svc.cluster.local"))).toEqual(["10.42.0.7", "10.42.0.8"]); // not-ready left out
    expect(data(r("pg-1.pg.db.svc.cluster.local"))).toEqual(["10.42.0.8"]);
    expect(data(r("ext.default.svc.cluster.local"))).toEqual(["example.org"]);
    const ext = r("ext.default.svc.cluster.local");
    expect(ext.forward ? "forward" : ext.answers[0]!.type).toBe("CNAME");
    expect(data(r("10-42-0-5.default.pod.cluster.local"))).toEqual(["10.42.0.5"]);
  });

  test("SRV for ClusterIP and headless services", () => {
    const s = r("_http._tcp.web.default.svc.cluster.local", "SRV");
    expect(data(s)).toEqual([{ priority: 0, weight: 100, port: 80, target: "web.default.svc.cluster.local" }]);
    expect(s.forward ? [] : s.additionals.map((a) => a.data)).toEqual(["10.43.0.20"]);
    expect(data(r("_pg._tcp.pg.db.svc.cluster.local", "SRV"))).toEqual([
      { priority: 0, weight: 100, port: 5432, target: "pg-0.pg.db.svc.cluster.local" },
      { priority: 0, weight: 100, port: 5432, target: "pg-1.pg.db.svc.cluster.local" },
    ]);
  });

  test("NXDOMAIN inside the domain, NODATA for other types, other names forwarded", () => {
    for (const n of ["999-1-1-1.default.pod.cluster.local", "nope.default.svc.cluster.local", "pg-9.pg.db.svc.cluster.local", "x.y.cluster.local", "_nope._tcp.web.default.svc.cluster.local", "bad.default.pod.cluster.local"]) {
      const x = r(n, n.startsWith("_") ? "SRV" : "A");
      expect(x.forward ? "forward" : x.rcode).toBe("NXDOMAIN");
    }
    const aaaa = r("web.default.svc.cluster.local", "AAAA");
    expect(aaaa.forward ? "forward" : [aaaa.rcode, aaaa.answers.length]).toEqual(["NOERROR", 0]);
    expect(r("example.org").forward).toBe(true);
    expect(r("cluster.local.example.org").forward).toBe(true);
  });

  test("resolv.conf nameservers and the bridge gateway", () => {
    expect(resolvConfServers("search x\nnameserver 192.0.2.53\n# nameserver 1.1.1.1\nnameserver ::1\n nameserver 10.0.0.2 \n")).toEqual(["192.0.2.53", "10.0.0.2"]);
    expect(gatewayOf("10.42.0.0/24")).toBe("10.42.0.1");
    expect(gatewayOf("10.89.3.0/24")).toBe("10.89.3.1");
    expect(gatewayOf("172.16.0.0/12")).toBe("172.16.0.1");
  });
});

describe("ClusterDns over UDP", () => {
  let upstream: ClusterDns;
  let dns: ClusterDns;
  // The "internet": answers example.org itself (a ClusterDns whose domain is example.org).
  const worldLookup: ServiceLookup = { service: (ns, n) => (ns === "www" && n === "site" ? { metadata: { name: n, namespace: ns }, spec: { clusterIP: "192.0.2.80" } } : undefined), slicesOf: () => [] };

  beforeAll(async () => {
    upstream = new ClusterDns({ address: "127.0.0.1", port: 0, domain: "example.org", lookup: worldLookup, upstream: [], log: () => {} });
    await upstream.start();
    dns = new ClusterDns({ address: "127.0.0.1", port: 0, domain: "cluster.local", lookup, upstream: [`127.0.0.1:${upstream.port}`], log: () => {}, forwardTimeoutMs: 500 });
    await dns.start();
  });
  afterAll(() => {
    dns?.stop();
    upstream?.stop();
  });

  const query = async (name: string, type: packet.RecordType = "A"): Promise<any> => {
    let got!: (p: any) => void;
    const res = new Promise<any>((r) => (got = r));
    const s = await Bun.udpSocket({ socket: { data: (_s, buf) => got(packet.decode(Buffer.from(buf))) } });
    s.send(packet.encode({ id: 4242, type: "query", flags: packet.RECURSION_DESIRED, questions: [{ name, type, class: "IN" }] }), dns.port, "127.0.0.1");
    try {
      return await Promise.race([res, Bun.sleep(3000).then(() => Promise.reject(new Error(`no answer for ${name}`)))]);
    } finally {
      s.close();
    }
  };

  test("answers the cluster domain, NXDOMAIN, and relays the rest", async () => {
    const a = await query("web.default.svc.cluster.local");
    expect(a.id).toBe(4242);
    expect(a.rcode).toBe("NOERROR");
    expect(a.answers?.map((x: any) => [x.type, x.data, x.ttl])).toEqual([["A", "10.43.0.20", 5]]);
    expect(a.flag_aa).toBe(true);
    expect((await query("nope.default.svc.cluster.local")).rcode).toBe("NXDOMAIN");
    const srv = await query("_pg._tcp.pg.db.svc.cluster.local", "SRV");
    expect(srv.answers?.map((x: any) => x.data.target)).toEqual(["pg-0.pg.db.svc.cluster.local", "pg-1.pg.db.svc.cluster.local"]);
    const fwd = await query("site.www.svc.example.org");
    expect(fwd.answers?.map((x: any) => x.data)).toEqual(["192.0.2.80"]);
    expect(dns.forwarded).toBe(1);
  });

  test("a UDP answer too big for the client is truncated; over TCP it comes whole", async () => {
    const udp = await query("big.db.svc.cluster.local");
    expect(udp.flag_tc).toBe(true);
    expect(udp.answers).toEqual([]);
    const body = Buffer.from(packet.encode({ id: 9, type: "query", flags: packet.RECURSION_DESIRED, questions: [{ name: "big.db.svc.cluster.local", type: "A", class: "IN" }] }));
    let got!: (b: Buffer) => void;
    const res = new Promise<Buffer>((r) => (got = r));
    let acc = Buffer.alloc(0);
    const conn = await Bun.connect({
      hostname: "127.0.0.1",
      port: dns.port,
      socket: {
        data: (_s, d) => {
          acc = Buffer.concat([acc, Buffer.from(d)]);
          if (acc.length >= 2 && acc.length >= 2 + acc.readUInt16BE(0)) got(acc.subarray(2, 2 + acc.readUInt16BE(0)));
        },
      },
    });
    const len = Buffer.alloc(2);
    len.writeUInt16BE(body.length);
    conn.write(Buffer.concat([len, body])); // length and message may arrive apart: both are handled
    const tcp: any = packet.decode(await Promise.race([res, Bun.sleep(3000).then(() => Promise.reject(new Error("no TCP answer")))]));
    conn.end();
    expect(tcp.flag_tc).toBe(false);
    expect(tcp.answers).toHaveLength(60);
  });

  test("an ExternalName's CNAME comes with the target's addresses, from upstream or the cluster", async () => {
    const up = await query("site.default.svc.cluster.local");
    expect(up.answers?.map((x: any) => [x.type, x.data])).toEqual([["CNAME", "site.www.svc.example.org"], ["A", "192.0.2.80"]]);
    const local = await query("alias.default.svc.cluster.local");
    expect(local.answers?.map((x: any) => [x.type, x.data])).toEqual([["CNAME", "web.default.svc.cluster.local"], ["A", "10.43.0.20"]]);
  });

  test("SERVFAIL when no upstream answers", async () => {
    const lone = new ClusterDns({ address: "127.0.0.1", port: 0, domain: "cluster.local", lookup, upstream: ["127.0.0.1:9"], log: () => {}, forwardTimeoutMs: 200 });
    const res = await lone.handle(Buffer.from(packet.encode({ id: 7, type: "query", questions: [{ name: "example.com", type: "A" }] })));
    expect((packet.decode(res!) as any).rcode).toBe("SERVFAIL");
  });
});
