// "Accepted but not enforced is a lie": what Skiff's ingress proxy and load balancer cannot do is
// refused with a 422 saying what to change; other classes' objects are left alone.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startTestCluster, type TestCluster } from "../harness/cluster";

let c: TestCluster;
beforeAll(async () => {
  c = await startTestCluster({ only: [] });
});
afterAll(() => c.close());

const refusal = async (f: () => Promise<unknown>) => {
  try {
    await f();
  } catch (e: any) {
    return { code: e.code, message: String(e.message) };
  }
  throw new Error("accepted");
};

const ingress = (name: string, spec: any) => ({ apiVersion: "networking.k8s.io/v1", kind: "Ingress", metadata: { name, namespace: "default" }, spec });
const resourceBackend = { resource: { apiGroup: "example.com", kind: "Bucket", name: "assets" } };

test("an Ingress of class skiff (or none: skiff is the default) with a resource backend is refused; another class's is not", async () => {
  for (const spec of [{ defaultBackend: resourceBackend }, { ingressClassName: "skiff", rules: [{ http: { paths: [{ path: "/", pathType: "Prefix", backend: resourceBackend }] } }] }]) {
    const r = await refusal(() => c.create("Ingress", ingress("res", spec)));
    expect(r.code).toBe(422);
    expect(r.message).toContain("resource backends are not supported by Skiff's ingress proxy");
  }
  await c.create("Ingress", ingress("other", { ingressClassName: "nginx", defaultBackend: resourceBackend }));
  await c.create("Ingress", ingress("svc", { defaultBackend: { service: { name: "web", port: { number: 80 } } } }));
});

const lb = (name: string, spec: any) => ({ apiVersion: "v1", kind: "Service", metadata: { name, namespace: "default" }, spec: { type: "LoadBalancer", ports: [{ port: 80 }], ...spec } });

test("a LoadBalancer Service of Skiff's with loadBalancerIP or loadBalancerSourceRanges is refused; another loadBalancerClass's is not", async () => {
  const ip = await refusal(() => c.create("Service", lb("lb-ip", { loadBalancerIP: "192.0.2.10" })));
  expect(ip.code).toBe(422);
  expect(ip.message).toContain("spec.loadBalancerIP");
  const ranges = await refusal(() => c.create("Service", lb("lb-ranges", { loadBalancerSourceRanges: ["192.0.2.0/24"] })));
  expect(ranges.code).toBe(422);
  expect(ranges.message).toContain("NetworkPolicy");
  await c.create("Service", lb("lb-other", { loadBalancerClass: "example.com/lb", loadBalancerSourceRanges: ["192.0.2.0/24"] }));
  await c.create("Service", lb("lb-plain", {}));
});
