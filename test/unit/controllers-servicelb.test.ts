// LoadBalancer Services (server/controllers/servicelb.ts) and the Ingress status
// (ingress-status.ts): which nodes serve, port conflicts by age, the node label, classes.
import { expect, test } from "bun:test";
import { ingressAddresses } from "../../server/controllers/ingress-status";
import { planLoadBalancers } from "../../server/controllers/servicelb";
import { isOurIngress, ourClasses } from "../../lib/networking";

const node = (name: string, ip: string, o: { ready?: boolean; labels?: Record<string, string>; ingress?: string } = {}) => ({
  metadata: { name, labels: o.labels ?? {}, annotations: o.ingress ? { "ingress.skiff.io/ports": o.ingress } : {} },
  status: { addresses: [{ type: "InternalIP", address: ip }], conditions: [{ type: "Ready", status: o.ready === false ? "False" : "True" }] },
});
const lb = (name: string, ports: number[], created: string, extra: any = {}) => ({
  metadata: { name, namespace: "default", creationTimestamp: created },
  spec: { type: "LoadBalancer", ports: ports.map((port) => ({ port, protocol: "TCP" })), ...extra },
});

test("every Ready node serves; the oldest Service keeps a port; the ingress proxy's ports come first", () => {
  const nodes = [node("a", "10.0.0.2", { ingress: "80,443" }), node("b", "10.0.0.3"), node("c", "10.0.0.4", { ready: false })];
  const p = planLoadBalancers(nodes, [lb("second", [8080], "2024-02-01T00:00:00Z"), lb("first", [8080, 9000], "2024-01-01T00:00:00Z"), lb("web", [80], "2024-01-01T00:00:00Z")]);
  expect(p.eligible).toEqual(["a", "b"]);
  expect(p.serving.get("default/first")).toEqual(["10.0.0.2", "10.0.0.3"]);
  expect(p.serving.get("default/second")).toEqual([]);
  expect(p.conflicts.get("default/second")).toEqual([
    { node: "a", port: "8080/TCP", holder: "default/first" },
    { node: "b", port: "8080/TCP", holder: "default/first" },
  ]);
  expect(p.serving.get("default/web")).toEqual(["10.0.0.3"]); // not on a: the ingress proxy has 80 there
  expect(p.conflicts.get("default/web")).toEqual([{ node: "a", port: "80/TCP", holder: "the ingress proxy" }]);
});

test("the enablelb label chooses nodes; another loadBalancerClass is left alone", () => {
  const nodes = [node("a", "10.0.0.2", { labels: { "svccontroller.skiff.io/enablelb": "true" } }), node("b", "10.0.0.3"), node("c", "10.0.0.4", { labels: { "svccontroller.skiff.io/enablelb": "false" } })];
  const p = planLoadBalancers(nodes, [lb("x", [80], "t"), lb("other", [81], "t", { loadBalancerClass: "example.com/lb" }), lb("mine", [82], "t", { loadBalancerClass: "skiff.io/servicelb" })]);
  expect(p.serving.get("default/x")).toEqual(["10.0.0.2"]);
  expect(p.serving.has("default/other")).toBe(false);
  expect(p.serving.get("default/mine")).toEqual(["10.0.0.2"]);
  expect(planLoadBalancers([node("b", "10.0.0.3"), node("c", "10.0.0.4", { labels: { "svccontroller.skiff.io/enablelb": "false" } })], [lb("x", [80], "t")]).serving.get("default/x")).toEqual(["10.0.0.3"]);
});

test("Ingress: ours by class, by the old annotation, or by default; addresses of Ready nodes running the proxy", () => {
  const ours = ourClasses([
    { metadata: { name: "skiff", annotations: { "ingressclass.kubernetes.io/is-default-class": "true" } }, spec: { controller: "skiff.io/ingress" } },
    { metadata: { name: "nginx" }, spec: { controller: "k8s.io/ingress-nginx" } },
  ]);
  expect(isOurIngress({ spec: { ingressClassName: "skiff" } }, ours)).toBe(true);
  expect(isOurIngress({ spec: { ingressClassName: "nginx" } }, ours)).toBe(false);
  expect(isOurIngress({ metadata: { annotations: { "kubernetes.io/ingress.class": "skiff" } }, spec: {} }, ours)).toBe(true);
  expect(isOurIngress({ spec: {} }, ours)).toBe(true);
  expect(isOurIngress({ spec: {} }, { names: ours.names, isDefault: false })).toBe(false);
  expect(ingressAddresses([node("a", "10.0.0.2", { ingress: "80,443" }), node("b", "10.0.0.3"), node("c", "10.0.0.4", { ingress: "80,443", ready: false })])).toEqual(["10.0.0.2"]);
});

test("externalTrafficPolicy Local: only nodes with a ready endpoint serve, and only there is the port claimed", () => {
  const nodes = [node("a", "10.0.0.2"), node("b", "10.0.0.3"), node("c", "10.0.0.4")];
  const local = lb("local", [8080], "2024-01-01T00:00:00Z", { externalTrafficPolicy: "Local" });
  const later = lb("later", [8080], "2024-02-01T00:00:00Z");
  const p = planLoadBalancers(nodes, [local, later], new Map([["default/local", new Set(["b"])]]));
  expect(p.serving.get("default/local")).toEqual(["10.0.0.3"]);
  expect(p.serving.get("default/later")).toEqual(["10.0.0.2", "10.0.0.4"]);
  expect(planLoadBalancers(nodes, [local]).serving.get("default/local")).toEqual([]);
});
