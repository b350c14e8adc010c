// The Endpoints and EndpointSlice controllers, in-process: which pods back a Service (selector,
// IP, phase, readiness, terminating), named target ports, subsets and slices by port set,
// 100 endpoints per slice, Services without a selector left alone, clean-up, and no writes
// when nothing changed.
import { afterEach, expect, test } from "bun:test";
import { startTestCluster, type TestCluster } from "../harness/cluster";
import { timestamp } from "../../server/registry/meta";

let c: TestCluster;
afterEach(async () => {
  await c?.close();
});

const start = async () => {
  c = await startTestCluster({ scheduler: false });
  c.kubelet.enabled = false; // pods get their IPs and readiness from the test
  await c.addNode("n1");
};

async function pod(name: string, labels: Record<string, string>, ip: string | null, ready: boolean, ports: { name: string; containerPort: number }[] = [{ name: "http", containerPort: 8080 }]) {
  await c.create("Pod", { metadata: { name, namespace: "default", labels }, spec: { nodeName: "n1", containers: [{ name: "c", image: "x", ports }] } });
  if (ip === null) return;
  await setStatus(name, ip, ready);
}

async function setStatus(name: string, ip: string, ready: boolean) {
  const ts = timestamp();
  await c.api.updateStatus("Pod", "default", name, (p) => {
    p.status = { phase: "Running", podIP: ip, podIPs: [{ ip }], conditions: [{ type: "Ready", status: ready ? "True" : "False", lastTransitionTime: ts, lastProbeTime: null }] };
    return p;
  });
}

const svc = (name: string, spec: any) => c.create("Service", { metadata: { name, namespace: "default", labels: { team: "a" } }, spec });
const eps = (name: string) => c.get("Endpoints", "default", name);
const slices = (name: string) => c.list("EndpointSlice", "default").filter((s) => s.metadata.labels?.["kubernetes.io/service-name"] === name);
const ips = (list: any[] | undefined) => (list ?? []).map((a) => a.ip);

test("Endpoints and an EndpointSlice list the selected pods, ready or not, with resolved ports", async () => {
  await start();
  await pod("a", { app: "web" }, "10.42.0.12", true);
  await pod("b", { app: "web" }, "10.42.0.11", true);
  await pod("c", { app: "web" }, "10.42.0.13", false);
  await pod("d", { app: "db" }, "10.42.0.14", true);
  await pod("e", { app: "web" }, null, false); // no IP yet
  const s = await svc("web", { selector: { app: "web" }, ports: [{ name: "http", port: 80, targetPort: "http" }, { name: "metrics", port: 9100, targetPort: 9100 }] });
  const e = await c.until("endpoints", () => eps("web")?.subsets?.[0]?.notReadyAddresses && eps("web"));
  expect(e.metadata.labels).toEqual({ team: "a" });
  expect(e.subsets).toHaveLength(1);
  expect(ips(e.subsets[0].addresses)).toEqual(["10.42.0.11", "10.42.0.12"]); // sorted by IP
  expect(ips(e.subsets[0].notReadyAddresses)).toEqual(["10.42.0.13"]);
  expect(e.subsets[0].addresses[0]).toMatchObject({ nodeName: "n1", targetRef: { kind: "Pod", namespace: "default", name: "b" } });
  expect(e.subsets[0].ports).toEqual([{ name: "http", port: 8080, protocol: "TCP" }, { name: "metrics", port: 9100, protocol: "TCP" }]);

  const [sl] = await c.until("slice", () => slices("web").length === 1 && slices("web")[0].endpoints?.length === 3 && slices("web"));
  expect(sl.metadata.name).toStartWith("web-");
  expect(sl.metadata.labels).toMatchObject({ team: "a", "kubernetes.io/service-name": "web", "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io" });
  expect(sl.metadata.ownerReferences).toEqual([{ apiVersion: "v1", kind: "Service", name: "web", uid: s.metadata.uid, controller: true, blockOwnerDeletion: true }]);
  expect(sl.addressType).toBe("IPv4");
  expect(sl.endpoints.map((x: any) => [x.targetRef.name, x.addresses[0], x.conditions])).toEqual([
    ["a", "10.42.0.12", { ready: true, serving: true, terminating: false }],
    ["b", "10.42.0.11", { ready: true, serving: true, terminating: false }],
    ["c", "10.42.0.13", { ready: false, serving: false, terminating: false }],
  ]);

  // readiness flips, an IP arrives, a pod terminates
  await setStatus("c", "10.42.0.13", true);
  await setStatus("e", "10.42.0.15", true);
  await c.until("c and e ready", () => ips(eps("web")?.subsets?.[0]?.addresses).length === 4);
  expect(eps("web").subsets[0].notReadyAddresses).toBeUndefined();
  await c.api.delete("Pod", "default", "a", { gracePeriodSeconds: 30 });
  await c.until("terminating pod leaves Endpoints", () => !ips(eps("web")?.subsets?.[0]?.addresses).includes("10.42.0.12"));
  const term = await c.until("terminating in the slice", () => slices("web")[0].endpoints.find((x: any) => x.targetRef.name === "a" && x.conditions.terminating));
  expect(term.conditions).toEqual({ ready: false, serving: true, terminating: true });
});

test("pods that lack a named port form their own subset and slice; 101 pods make two slices", async () => {
  await start();
  await pod("full", { app: "x" }, "10.42.0.2", true);
  await pod("bare", { app: "x" }, "10.42.0.3", true, [{ name: "other", containerPort: 1 }]);
  await svc("x", { selector: { app: "x" }, ports: [{ name: "http", port: 80, targetPort: "http" }, { name: "raw", port: 81, targetPort: 81 }] });
  const e = await c.until("two subsets", () => eps("x")?.subsets?.length === 2 && eps("x"));
  const byPorts = Object.fromEntries(e.subsets.map((s: any) => [s.ports.map((p: any) => p.port).join(","), ips(s.addresses)]));
  expect(byPorts).toEqual({ "8080,81": ["10.42.0.2"], "81": ["10.42.0.3"] });
  await c.until("two slices", () => slices("x").length === 2);

  await svc("many", { selector: { app: "many" }, ports: [{ port: 80 }] });
  for (let i = 0; i < 101; i++) await pod(`m${i}`, { app: "many" }, `10.42.1.${i + 1}`, true);
  await c.until("100 + 1", () => slices("many").map((s) => s.endpoints?.length ?? 0).sort((a, b) => a - b).join() === "1,100");
  expect(ips(eps("many").subsets[0].addresses)).toHaveLength(101);
});

test("a Service without a selector keeps its own Endpoints, mirrored into a slice; a deleted Service takes its Endpoints and slices along", async () => {
  await start();
  await svc("ext", { ports: [{ port: 5432 }] });
  await c.create("Endpoints", { metadata: { name: "ext", namespace: "default" }, subsets: [{ addresses: [{ ip: "192.0.2.10" }], ports: [{ port: 5432 }] }] });
  await pod("p", { app: "gone" }, "10.42.0.4", true);
  await svc("gone", { selector: { app: "gone" }, ports: [{ port: 80 }] });
  await c.until("gone's endpoints", () => eps("gone")?.subsets?.length === 1 && slices("gone").length === 1);
  expect(ips(eps("ext").subsets[0].addresses)).toEqual(["192.0.2.10"]);
  // ... which are mirrored into a slice (what the agents' service proxy reads)
  const [m] = await c.until("mirrored slice", () => slices("ext").length === 1 && slices("ext"));
  expect(m.metadata.labels["endpointslice.kubernetes.io/managed-by"]).toBe("endpointslicemirroring-controller.k8s.io");
  expect(m.endpoints).toEqual([{ addresses: ["192.0.2.10"], conditions: { ready: true } }]);
  expect(m.ports).toEqual([{ name: "", port: 5432, protocol: "TCP" }]);
  await c.api.update("Endpoints", "default", "ext", (e) => ({ ...e, subsets: [{ addresses: [{ ip: "192.0.2.11" }], ports: [{ port: 5432 }] }] }));
  await c.until("mirror follows the Endpoints", () => slices("ext")[0]?.endpoints?.[0]?.addresses?.[0] === "192.0.2.11");
  await c.api.delete("Service", "default", "gone");
  await c.until("endpoints and slices removed", () => !eps("gone") && slices("gone").length === 0);
  expect(ips(eps("ext").subsets[0].addresses)).toEqual(["192.0.2.11"]);
});

test("nothing is written when nothing the Service depends on changed", async () => {
  await start();
  await pod("a", { app: "q" }, "10.42.0.5", true);
  await pod("z", { app: "other" }, "10.42.0.6", true);
  await svc("q", { selector: { app: "q" }, ports: [{ port: 80 }] });
  await c.until("endpoints", () => eps("q")?.subsets?.length === 1 && slices("q")[0]?.endpoints?.length === 1);
  await Bun.sleep(100);
  const epsRv = eps("q").metadata.resourceVersion;
  const sliceRv = slices("q")[0].metadata.resourceVersion;
  // an annotation on a selected pod, and anything on an unselected one
  await c.api.update("Pod", "default", "a", (p) => ({ ...p, metadata: { ...p.metadata, annotations: { note: "x" } } }));
  await c.api.update("Pod", "default", "z", (p) => ({ ...p, metadata: { ...p.metadata, annotations: { note: "y" } } }));
  await Bun.sleep(200);
  expect(eps("q").metadata.resourceVersion).toBe(epsRv);
  expect(slices("q")[0].metadata.resourceVersion).toBe(sliceRv);
  // a user edit of a managed object is put back
  await c.api.update("Endpoints", "default", "q", (e) => ({ ...e, subsets: [] }));
  await c.until("Endpoints restored", () => eps("q")?.subsets?.length === 1);
});
