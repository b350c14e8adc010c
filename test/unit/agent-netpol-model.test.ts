// NetworkPolicy → chains and sets (agent/services/netpol/model.ts), upstream's semantics case by
// case: which pods are isolated, which peers and ports each rule lets in or out.
import { describe, expect, test } from "bun:test";
import { ipBlockEntries, ISO_IN, ISO_OUT, NP_EGRESS, NP_FORWARD, NP_INGRESS, podInfo, policyTypes, renderPolicies, type PodInfo } from "../../agent/services/netpol/model.ts";
import { chainHash } from "../../agent/services/rules.ts";

const NODE = "n1";
const pod = (ns: string, name: string, ip: string, labels: Record<string, string>, node = NODE, ports: PodInfo["ports"] = []): PodInfo => ({ ns, name, ip, labels, node, ports });
const np = (ns: string, name: string, spec: any) => ({ metadata: { namespace: ns, name }, spec });
const namespaces = new Map<string, Record<string, string>>([
  ["shop", { "kubernetes.io/metadata.name": "shop" }],
  ["ops", { "kubernetes.io/metadata.name": "ops", team: "ops" }],
]);
const pods = [
  pod("shop", "db", "10.42.0.10", { app: "db" }, NODE, [{ name: "pg", port: 5432, protocol: "TCP" }]),
  pod("shop", "web-1", "10.42.0.11", { app: "web" }, NODE, [{ name: "http", port: 8080, protocol: "TCP" }]),
  pod("shop", "web-2", "10.42.1.12", { app: "web" }, "n2", [{ name: "http", port: 9090, protocol: "TCP" }]),
  pod("shop", "other", "10.42.0.13", { app: "other" }),
  pod("ops", "probe", "10.42.1.20", { app: "probe" }, "n2"),
];
const render = (...policies: any[]) => renderPolicies({ policies, pods, namespaces, nodeName: NODE });
const set = (r: ReturnType<typeof render>, kind: string, key: string) => r.sets!.get(`SKIFF-${kind}-${chainHash(key)}`)?.entries;
const chain = (r: ReturnType<typeof render>, kind: string, id: string) => r.tables.filter!.get(`SKIFF-${kind}-${chainHash(id)}`);

describe("NetworkPolicy model", () => {
  test("the shop: the database only from app=web on its port; only the db is isolated", () => {
    const r = render(np("shop", "db", { podSelector: { matchLabels: { app: "db" } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: "web" } } }], ports: [{ protocol: "TCP", port: 5432 }] }] }));
    expect(r.sets!.get(ISO_IN)!.entries).toEqual(["10.42.0.10"]);
    expect(r.sets!.get(ISO_OUT)!.entries).toEqual([]);
    expect(set(r, "NPT", "shop/db")).toEqual(["10.42.0.10"]);
    // peers anywhere in the cluster (web-2 runs on another node)
    expect(set(r, "NPP", "shop/db/ingress/0")).toEqual(["10.42.0.11", "10.42.1.12"]);
    const ppSet = `SKIFF-NPP-${chainHash("shop/db/ingress/0")}`;
    expect(chain(r, "NPI", "shop/db")).toEqual([`-A SKIFF-NPI-${chainHash("shop/db")} -p tcp -m tcp --dport 5432 -m set --match-set ${ppSet} src -m comment --comment "shop/db ingress 0" -j MARK --set-xmark 0x10000/0x10000`]);
    expect(r.tables.filter!.get(NP_INGRESS)).toContain(`-A ${NP_INGRESS} -m set --match-set SKIFF-NPT-${chainHash("shop/db")} dst -m comment --comment "shop/db" -j SKIFF-NPI-${chainHash("shop/db")}`);
    expect(r.tables.filter!.get(NP_INGRESS)!.at(-1)).toContain("-j DROP");
    const fwd = r.tables.filter!.get(NP_FORWARD)!;
    expect(fwd[1]).toContain("--ctstate ESTABLISHED --ctdir REPLY -j RETURN");
    expect(fwd.some((l) => l.includes(`--match-set ${ISO_OUT} src -j ${NP_EGRESS}`))).toBe(true);
  });

  test("policyTypes: Ingress by default, Egress too when there are egress rules; default deny; allow all", () => {
    expect(policyTypes(np("a", "b", { podSelector: {} }))).toEqual({ ingress: true, egress: false });
    expect(policyTypes(np("a", "b", { podSelector: {}, egress: [{}] }))).toEqual({ ingress: true, egress: true });
    expect(policyTypes(np("a", "b", { podSelector: {}, policyTypes: ["Egress"] }))).toEqual({ ingress: false, egress: true });
    const deny = render(np("shop", "deny", { podSelector: {}, policyTypes: ["Ingress", "Egress"] }));
    expect(deny.sets!.get(ISO_IN)!.entries).toEqual(["10.42.0.10", "10.42.0.11", "10.42.0.13"]); // this node's shop pods
    expect(deny.sets!.get(ISO_OUT)!.entries).toEqual(["10.42.0.10", "10.42.0.11", "10.42.0.13"]);
    expect(chain(deny, "NPI", "shop/deny")).toEqual([]);
    expect(chain(deny, "NPE", "shop/deny")).toEqual([]);
    const all = render(np("shop", "all", { podSelector: {}, ingress: [{}] }));
    expect(chain(all, "NPI", "shop/all")).toEqual([`-A SKIFF-NPI-${chainHash("shop/all")} -m comment --comment "shop/all ingress 0" -j MARK --set-xmark 0x10000/0x10000`]);
  });

  test("namespaceSelector alone, and with a podSelector", () => {
    const r = render(
      np("shop", "ns", { podSelector: { matchLabels: { app: "db" } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: "ops" } } }] }, { from: [{ namespaceSelector: {}, podSelector: { matchLabels: { app: "web" } } }] }] }),
    );
    expect(set(r, "NPP", "shop/ns/ingress/0")).toEqual(["10.42.1.20"]);
    expect(set(r, "NPP", "shop/ns/ingress/1")).toEqual(["10.42.0.11", "10.42.1.12"]);
    const none = render(np("shop", "x", { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: "nobody" } } }] }] }));
    expect(set(none, "NPP", "shop/x/ingress/0")).toEqual([]); // made empty: a pod that comes is one add
  });

  test("ipBlock with except (0.0.0.0/0 as two halves), egress, UDP, SCTP, endPort", () => {
    expect(ipBlockEntries({ cidr: "0.0.0.0/0", except: ["10.0.0.0/8"] })).toEqual(["0.0.0.0/1", "128.0.0.0/1", "10.0.0.0/8 nomatch"]);
    expect(ipBlockEntries({ cidr: "fd00::/8" })).toEqual([]);
    const r = render(
      np("shop", "out", {
        podSelector: { matchLabels: { app: "web" } },
        policyTypes: ["Egress"],
        egress: [{ to: [{ ipBlock: { cidr: "192.168.0.0/16", except: ["192.168.1.0/24"] } }], ports: [{ protocol: "UDP", port: 53 }, { protocol: "SCTP", port: 3868 }, { protocol: "TCP", port: 8000, endPort: 8100 }] }],
      }),
    );
    expect(set(r, "NPB", "shop/out/egress/0/0")).toEqual(["192.168.0.0/16", "192.168.1.0/24 nomatch"]);
    const lines = chain(r, "NPE", "shop/out")!;
    expect(lines.map((l) => l.split(" -m set")[0]!.replace(/^-A \S+ /, ""))).toEqual(["-p udp -m udp --dport 53", "-p sctp -m sctp --dport 3868", "-p tcp -m tcp --dport 8000:8100"]);
    expect(lines.every((l) => l.includes(" dst -m comment"))).toBe(true);
    expect(r.sets!.get(ISO_OUT)!.entries).toEqual(["10.42.0.11"]);
    expect(r.sets!.get(ISO_IN)!.entries).toEqual([]);
  });

  test("named ports: resolved per destination pod (ingress on this node's targets, egress anywhere)", () => {
    const r = render(
      np("shop", "named", { podSelector: { matchLabels: { app: "web" } }, ingress: [{ ports: [{ port: "http" }] }] }),
      np("shop", "eg", { podSelector: { matchLabels: { app: "db" } }, policyTypes: ["Egress"], egress: [{ ports: [{ port: "http" }] }] }),
    );
    expect(set(r, "NPN", "shop/named/ingress/0/0/8080")).toEqual(["10.42.0.11"]);
    expect(set(r, "NPN", "shop/named/ingress/0/0/9090")).toBeUndefined(); // web-2 is not on this node
    expect(set(r, "NPN", "shop/eg/egress/0/0/8080")).toEqual(["10.42.0.11"]);
    expect(set(r, "NPN", "shop/eg/egress/0/0/9090")).toEqual(["10.42.1.12"]);
    expect(chain(r, "NPE", "shop/eg")!.map((l) => / --dport (\d+)/.exec(l)![1])).toEqual(["8080", "9090"]);
  });

  test("no policy selecting this node's pods: nothing but an empty chain; pods without an address of their own are left out", () => {
    const r = render(np("ops", "p", { podSelector: {} }));
    expect([...r.tables.filter!.keys()]).toEqual([NP_FORWARD]);
    expect(r.sets!.size).toBe(0);
    expect(podInfo({ metadata: { namespace: "a", name: "h" }, spec: { hostNetwork: true }, status: { podIP: "10.0.0.1" } })).toBeNull();
    expect(podInfo({ metadata: { namespace: "a", name: "d" }, spec: {}, status: { podIP: "10.42.0.9", phase: "Succeeded" } })).toBeNull();
    expect(podInfo({ metadata: { namespace: "a", name: "x", labels: { k: "v" } }, spec: { nodeName: "n", containers: [{ ports: [{ name: "http", containerPort: 80 }] }] }, status: { podIP: "10.42.0.9" } })).toEqual({
      ns: "a", name: "x", labels: { k: "v" }, ip: "10.42.0.9", node: "n", ports: [{ name: "http", port: 80, protocol: "TCP" }],
    });
  });
});

test("label selectors: matchLabels and every matchExpressions operator; empty matches all, missing none", async () => {
  const { selectorMatches } = await import("../../agent/services/netpol/selector.ts");
  const l = { app: "web", tier: "front" };
  expect(selectorMatches({}, l)).toBe(true);
  expect(selectorMatches(undefined, l)).toBe(false);
  expect(selectorMatches({ matchLabels: { app: "web" }, matchExpressions: [{ key: "tier", operator: "In", values: ["front", "x"] }] }, l)).toBe(true);
  expect(selectorMatches({ matchExpressions: [{ key: "tier", operator: "NotIn", values: ["front"] }] }, l)).toBe(false);
  expect(selectorMatches({ matchExpressions: [{ key: "zone", operator: "NotIn", values: ["a"] }] }, l)).toBe(true);
  expect(selectorMatches({ matchExpressions: [{ key: "app", operator: "Exists" }, { key: "zone", operator: "DoesNotExist" }] }, l)).toBe(true);
  expect(selectorMatches({ matchExpressions: [{ key: "app", operator: "Bogus" }] }, l)).toBe(false);
});
