// The service proxy's iptables rules as text: ClusterIP and NodePort chains, random endpoint
// choice, masquerade marks, REJECT without endpoints, terminating fallback, what gets no rules,
// and that iptables-restore accepts them (`iptables-restore --test`, when iptables is here).
import { describe, expect, test } from "bun:test";
import { chainsOf, ourChains, tableScript } from "../../agent/services/iptables.ts";
import { chainHash, endpointsFor, renderRules } from "../../agent/services/rules.ts";

const svc = (name: string, spec: any, ns = "default") => ({ metadata: { name, namespace: ns }, spec });
const slice = (svcName: string, ports: any[], endpoints: any[], ns = "default") => ({
  metadata: { name: `${svcName}-x`, namespace: ns, labels: { "kubernetes.io/service-name": svcName } },
  addressType: "IPv4",
  ports,
  endpoints,
});
const ep = (ip: string, conditions: any = { ready: true }) => ({ addresses: [ip], conditions });

describe("renderRules", () => {
  const web = svc("web", { clusterIP: "10.43.0.20", type: "NodePort", ports: [{ name: "http", port: 80, nodePort: 30080, protocol: "TCP" }] });
  const webSlice = slice("web", [{ name: "http", port: 8080, protocol: "TCP" }], [ep("10.42.0.7"), ep("10.42.0.5"), ep("10.42.0.6", { ready: false })]);
  const r = renderRules({ services: [web], slices: [webSlice], podCidr: "10.42.0.0/24" });
  const nat = r.nat.split("\n");
  const svcChain = `SKIFF-SVC-${chainHash("default/web:http/TCP")}`;

  test("ClusterIP → service chain → one of the ready endpoints at random → DNAT", () => {
    expect(nat).toContain(`-A SKIFF-SERVICES -d 10.43.0.20/32 -p tcp -m tcp --dport 80 -m comment --comment "default/web:http" -j ${svcChain}`);
    const picks = nat.filter((l) => l.startsWith(`-A ${svcChain} -m comment`));
    expect(picks).toHaveLength(2); // the not-ready endpoint is left out
    expect(picks[0]).toContain("-m statistic --mode random --probability 0.5000000000");
    expect(picks[1]).not.toContain("statistic");
    const dnat = nat.filter((l) => l.includes("-j DNAT"));
    expect(dnat.map((l) => l.split("--to-destination ")[1])).toEqual(["10.42.0.5:8080", "10.42.0.7:8080"]);
    expect(r.services).toBe(1);
    expect(r.endpoints).toBe(2);
  });

  test("masquerade: traffic from outside the cluster's pods, hairpin, every nodePort; pods leaving the cluster", () => {
    const ext = `SKIFF-EXT-${chainHash("default/web:http/TCP")}`;
    expect(nat).toContain(`-A SKIFF-SERVICES ! -s 10.42.0.0/24 -d 10.43.0.20/32 -p tcp -m tcp --dport 80 -m comment --comment "default/web:http" -j SKIFF-MARK-MASQ`);
    expect(nat.filter((l) => /-A SKIFF-SEP-\w+ -s 10\.42\.0\.5\/32 .* -j SKIFF-MARK-HAIRPIN/.test(l))).toHaveLength(1);
    expect(nat).toContain(`-A SKIFF-NODEPORTS -p tcp -m tcp --dport 30080 -m comment --comment "default/web:http" -j ${ext}`);
    expect(nat).toContain(`-A ${ext} -m comment --comment "default/web:http" -j SKIFF-MARK-MASQ`);
    expect(nat).toContain(`-A ${ext} -m comment --comment "default/web:http" -j ${svcChain}`);
    expect(nat.at(-3)).toBe("-A SKIFF-SERVICES -m addrtype --dst-type LOCAL -j SKIFF-NODEPORTS");
    expect(nat).toContain("-A SKIFF-POSTROUTING -j MASQUERADE --random-fully");
    expect(nat).toContain(`-A SKIFF-POSTROUTING -s 10.42.0.0/24 ! -d 10.42.0.0/24 -m comment --comment "pods leaving the cluster" -j MASQUERADE --random-fully`);
  });

  test("no endpoints: REJECT in filter; terminating endpoints serve when none is ready", () => {
    const empty = renderRules({ services: [web], slices: [], podCidr: "10.42.0.0/24" });
    expect(empty.filter).toContain(`-A SKIFF-SERVICES -d 10.43.0.20/32 -p tcp -m tcp --dport 80 -m comment --comment "default/web:http" -j REJECT`);
    expect(empty.filter).toContain(`-A SKIFF-SERVICES -m addrtype --dst-type LOCAL -p tcp -m tcp --dport 30080 -m comment --comment "default/web:http" -j REJECT`);
    expect(empty.nat).not.toContain("SKIFF-SVC-");
    const term = slice("web", [{ name: "http", port: 8080 }], [ep("10.42.0.9", { ready: false, serving: true, terminating: true }), ep("10.42.0.8", { ready: false, serving: false, terminating: true })]);
    expect(endpointsFor(web, "http", "TCP", [term])).toEqual([{ ip: "10.42.0.9", port: 8080 }]);
  });

  test("headless, ExternalName, other namespaces' slices and other protocols' ports get nothing", () => {
    const none = renderRules({
      services: [svc("h", { clusterIP: "None", ports: [{ port: 80 }] }), svc("x", { type: "ExternalName", externalName: "example.com" })],
      slices: [slice("h", [{ name: "", port: 80 }], [ep("10.42.0.2")])],
      podCidr: "10.42.0.0/24",
    });
    expect(none.services).toBe(0);
    expect(none.nat).not.toContain("SKIFF-SVC-");
    expect(endpointsFor(web, "http", "TCP", [slice("web", [{ name: "http", port: 8080 }], [ep("10.42.0.2")], "other")])).toEqual([]);
    expect(endpointsFor(web, "http", "UDP", [webSlice])).toEqual([]);
    const dns = renderRules({
      services: [svc("dns", { clusterIP: "10.43.0.10", ports: [{ name: "dns", port: 53, protocol: "UDP" }, { name: "dns-tcp", port: 53, protocol: "TCP" }] })],
      slices: [slice("dns", [{ name: "dns", port: 5353, protocol: "UDP" }, { name: "dns-tcp", port: 5353, protocol: "TCP" }], [ep("10.42.0.3")])],
      podCidr: "10.42.0.0/24",
    });
    expect(dns.nat).toContain("-p udp -m udp --dport 53");
    expect(dns.nat).toContain("-p tcp -m tcp --dport 53");
    expect(dns.endpoints).toBe(2);
  });

  test("stale chains are found in iptables-save output and deleted on the first write", () => {
    const save = "*nat\n:PREROUTING ACCEPT [0:0]\n:SKIFF-SERVICES - [0:0]\n:SKIFF-SVC-OLD - [0:0]\n:KUBE-X - [0:0]\nCOMMIT\n";
    expect(ourChains(save)).toEqual(["SKIFF-SERVICES", "SKIFF-SVC-OLD"]);
    const script = tableScript("nat", chainsOf(r.nat), null, ourChains(save));
    expect(script).toContain("-X SKIFF-SVC-OLD");
    expect(script).not.toContain("KUBE-X");
  });

  const iptables = Bun.which("iptables-restore");
  test.skipIf(!iptables || process.getuid?.() !== 0)("iptables-restore --test accepts the rules", () => {
    const p = Bun.spawnSync(["iptables-restore", "-w", "5", "--test", "--noflush"], { stdin: new TextEncoder().encode(r.nat + r.filter), stderr: "pipe" });
    expect(p.stderr.toString()).toBe("");
    expect(p.exitCode).toBe(0);
  });
});

test("default/kubernetes goes to the node's API relay, whatever its Endpoints say, and is not masqueraded", () => {
  const k8s = svc("kubernetes", { clusterIP: "10.43.0.1", ports: [{ name: "https", port: 443, protocol: "TCP", targetPort: 6443 }] });
  const r = renderRules({ services: [k8s], slices: [], podCidr: "10.42.0.0/24", apiRelay: { ip: "10.42.0.1", port: 6444 } });
  const nat = r.nat.split("\n");
  expect(nat.filter((l) => l.includes("-j DNAT")).map((l) => l.split("--to-destination ")[1])).toEqual(["10.42.0.1:6444"]);
  expect(nat.filter((l) => l.includes("-j SKIFF-MARK-MASQ"))).toEqual([]);
  expect(r.filter).not.toContain("REJECT");
  // Without a relay, the Endpoints as for any Service (none here: rejected).
  expect(renderRules({ services: [k8s], slices: [], podCidr: "10.42.0.0/24" }).filter).toContain("-d 10.43.0.1/32 -p tcp -m tcp --dport 443");
});

describe("Service details", () => {
  const slices = (name: string, ips: string[]) => [slice(name, [{ name: "http", port: 8080, protocol: "TCP" }], ips.map((ip) => ({ ...ep(ip), nodeName: "x" })))];
  const base = { clusterIP: "10.43.0.30", ports: [{ name: "http", port: 80, nodePort: 30090, protocol: "TCP" }] };
  const lines = (s: any, ips = ["10.42.0.5", "10.42.1.6"]) => renderRules({ services: [svc("s", s)], slices: slices("s", ips), podCidr: "10.42.0.0/24", clusterCidr: "10.42.0.0/16" });
  const h = chainHash("default/s:http/TCP");

  test("sessionAffinity ClientIP: the endpoint a client had first (xt_recent), remembered at DNAT", () => {
    const r = lines({ ...base, sessionAffinity: "ClientIP", sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } } }).nat.split("\n");
    const sticky = r.filter((l) => l.startsWith(`-A SKIFF-SVC-${h}`) && l.includes("--rcheck --seconds 60 --reap"));
    expect(sticky).toHaveLength(2);
    expect(r.filter((l) => l.includes("--set -j DNAT"))).toHaveLength(2);
  });

  test("externalTrafficPolicy Local: outside clients only to this node's endpoints, unmasqueraded; pods and the node to all", () => {
    const r = lines({ ...base, type: "NodePort", externalTrafficPolicy: "Local" }).nat.split("\n");
    const ext = r.filter((l) => l.startsWith(`-A SKIFF-EXT-${h}`));
    expect(ext).toEqual([
      `-A SKIFF-EXT-${h} -s 10.42.0.0/16 -m comment --comment "default/s:http" -j SKIFF-SVC-${h}`,
      `-A SKIFF-EXT-${h} -m addrtype --src-type LOCAL -m comment --comment "default/s:http" -j SKIFF-MARK-MASQ`,
      `-A SKIFF-EXT-${h} -m addrtype --src-type LOCAL -m comment --comment "default/s:http" -j SKIFF-SVC-${h}`,
      `-A SKIFF-EXT-${h} -m comment --comment "default/s:http" -j SKIFF-SVL-${h}`,
    ]);
    expect(r.filter((l) => l.startsWith(`-A SKIFF-SVL-${h}`)).map((l) => l.split(" -j ")[1])).toHaveLength(1); // 10.42.0.5 only
    // No local endpoint: nothing DNATed for outside clients.
    const none = lines({ ...base, type: "NodePort", externalTrafficPolicy: "Local" }, ["10.42.1.6"]).nat;
    expect(none).not.toContain(`SKIFF-SVL-${h}`);
  });

  test("internalTrafficPolicy Local: the ClusterIP only to this node's endpoints; none here is a REJECT", () => {
    const r = lines({ ...base, internalTrafficPolicy: "Local" });
    expect(r.nat).toContain(`-A SKIFF-SERVICES -d 10.43.0.30/32 -p tcp -m tcp --dport 80 -m comment --comment "default/s:http" -j SKIFF-SVL-${h}`);
    const none = lines({ ...base, internalTrafficPolicy: "Local" }, ["10.42.1.6"]);
    expect(none.filter).toContain(`-A SKIFF-SERVICES -d 10.43.0.30/32 -p tcp -m tcp --dport 80 -m comment --comment "default/s:http" -j REJECT`);
    expect(none.nat).toContain(`-A SKIFF-NODEPORTS -p tcp -m tcp --dport 30090 -m comment --comment "default/s:http" -j SKIFF-EXT-${h}`); // externally: all
  });

  test("externalIPs and LoadBalancer addresses go through the external chain", () => {
    const r = lines({ ...base, type: "LoadBalancer", externalIPs: ["192.0.2.7"] });
    const lb = renderRules({ services: [{ ...svc("s", { ...base, type: "LoadBalancer" }), status: { loadBalancer: { ingress: [{ ip: "10.251.0.2" }] } } }], slices: slices("s", ["10.42.0.5"]), podCidr: "10.42.0.0/24" });
    expect(r.nat).toContain(`-A SKIFF-SERVICES -d 192.0.2.7/32 -p tcp -m tcp --dport 80 -m comment --comment "default/s:http" -j SKIFF-EXT-${h}`);
    expect(lb.nat).toContain(`-A SKIFF-SERVICES -d 10.251.0.2/32 -p tcp -m tcp --dport 80 -m comment --comment "default/s:http" -j SKIFF-EXT-${h}`);
  });

  test("kube-system/kube-dns answers at the node's DNS; 127.0.0.0/8 from outside is dropped", () => {
    const dns = svc("kube-dns", { clusterIP: "10.43.0.10", ports: [{ name: "dns", port: 53, protocol: "UDP" }, { name: "dns-tcp", port: 53, protocol: "TCP" }] }, "kube-system");
    const r = renderRules({ services: [dns], slices: [], podCidr: "10.42.0.0/24", nodeDns: "10.42.0.1" });
    expect(r.nat.split("\n").filter((l) => l.includes("-j DNAT")).map((l) => l.split(" --to-destination ")[1])).toEqual(["10.42.0.1:53", "10.42.0.1:53"]);
    expect(r.filter).toContain("! -s 127.0.0.0/8 -d 127.0.0.0/8");
  });

  const iptables = Bun.which("iptables-restore");
  test.skipIf(!iptables || process.getuid?.() !== 0)("iptables-restore --test accepts all of them", () => {
    const r = lines({ ...base, type: "LoadBalancer", externalIPs: ["192.0.2.7"], externalTrafficPolicy: "Local", internalTrafficPolicy: "Local", sessionAffinity: "ClientIP" });
    const p = Bun.spawnSync(["iptables-restore", "-w", "5", "--test", "--noflush"], { stdin: new TextEncoder().encode(r.nat + r.filter), stderr: "pipe" });
    expect(p.stderr.toString()).toBe("");
    expect(p.exitCode).toBe(0);
  });
});
