// The service proxy's iptables rules as text: ClusterIP and NodePort chains, random endpoint
// choice, masquerade marks, REJECT without endpoints, terminating fallback, what gets no rules,
// and that iptables-restore accepts them (`iptables-restore --test`, when iptables is here).
import { describe, expect, test } from "bun:test";
import { chainHash, chainsIn, endpointsFor, renderRules, staleChains } from "../../agent/services/rules.ts";

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

  test("masquerade: traffic from outside the node's pods, hairpin, every nodePort", () => {
    expect(nat).toContain(`-A ${svcChain} ! -s 10.42.0.0/24 -d 10.43.0.20/32 -p tcp -m tcp --dport 80 -m comment --comment "default/web:http" -j SKIFF-MARK-MASQ`);
    expect(nat.filter((l) => /-A SKIFF-SEP-\w+ -s 10\.42\.0\.5\/32 .* -j SKIFF-MARK-MASQ/.test(l))).toHaveLength(1);
    expect(nat).toContain(`-A SKIFF-NODEPORTS -p tcp -m tcp --dport 30080 -m comment --comment "default/web:http" -j SKIFF-MARK-MASQ`);
    expect(nat).toContain(`-A SKIFF-NODEPORTS -p tcp -m tcp --dport 30080 -m comment --comment "default/web:http" -j ${svcChain}`);
    expect(nat.at(-3)).toBe("-A SKIFF-SERVICES -m addrtype --dst-type LOCAL -j SKIFF-NODEPORTS");
    expect(nat).toContain("-A SKIFF-POSTROUTING -j MASQUERADE --random-fully");
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

  test("stale chains are found in iptables-save output", () => {
    const save = "*nat\n:PREROUTING ACCEPT [0:0]\n:SKIFF-SERVICES - [0:0]\n:SKIFF-SVC-OLD - [0:0]\n:KUBE-X - [0:0]\nCOMMIT\n";
    expect(chainsIn(save)).toEqual(["SKIFF-SERVICES", "SKIFF-SVC-OLD"]);
    expect(staleChains(chainsIn(save), r.natChains)).toEqual(["SKIFF-SVC-OLD"]);
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
