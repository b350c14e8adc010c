// Service environment variables (kubelet's envvars.FromServices and its namespace rules), and
// how they sit under the container's own env and feed $(VAR) references.
import { expect, test } from "bun:test";
import { serviceEnvVars } from "../../agent/services/env.ts";
import { containerEnv } from "../../agent/pods/env.ts";

const svc = (ns: string, name: string, clusterIP: string, ports: any[]) => ({ metadata: { namespace: ns, name }, spec: { clusterIP, ports } });
const services = [
  svc("default", "kubernetes", "10.43.0.1", [{ name: "https", port: 443, protocol: "TCP" }]),
  svc("shop", "redis-main", "10.43.0.9", [{ port: 6379 }, { name: "metrics", port: 9121, protocol: "TCP" }, { name: "gossip", port: 7000, protocol: "UDP" }]),
  svc("shop", "headless", "None", [{ port: 80 }]),
  svc("other", "web", "10.43.0.7", [{ port: 80 }]),
];

test("the pod's namespace and default/kubernetes, with Docker link variables", () => {
  const env = serviceEnvVars(services, "shop");
  expect(env).toEqual({
    KUBERNETES_SERVICE_HOST: "10.43.0.1",
    KUBERNETES_SERVICE_PORT: "443",
    KUBERNETES_SERVICE_PORT_HTTPS: "443",
    KUBERNETES_PORT: "tcp://10.43.0.1:443",
    KUBERNETES_PORT_443_TCP: "tcp://10.43.0.1:443",
    KUBERNETES_PORT_443_TCP_PROTO: "tcp",
    KUBERNETES_PORT_443_TCP_PORT: "443",
    KUBERNETES_PORT_443_TCP_ADDR: "10.43.0.1",
    REDIS_MAIN_SERVICE_HOST: "10.43.0.9",
    REDIS_MAIN_SERVICE_PORT: "6379",
    REDIS_MAIN_SERVICE_PORT_METRICS: "9121",
    REDIS_MAIN_SERVICE_PORT_GOSSIP: "7000",
    REDIS_MAIN_PORT: "tcp://10.43.0.9:6379",
    REDIS_MAIN_PORT_6379_TCP: "tcp://10.43.0.9:6379",
    REDIS_MAIN_PORT_6379_TCP_PROTO: "tcp",
    REDIS_MAIN_PORT_6379_TCP_PORT: "6379",
    REDIS_MAIN_PORT_6379_TCP_ADDR: "10.43.0.9",
    REDIS_MAIN_PORT_9121_TCP: "tcp://10.43.0.9:9121",
    REDIS_MAIN_PORT_9121_TCP_PROTO: "tcp",
    REDIS_MAIN_PORT_9121_TCP_PORT: "9121",
    REDIS_MAIN_PORT_9121_TCP_ADDR: "10.43.0.9",
    REDIS_MAIN_PORT_7000_UDP: "udp://10.43.0.9:7000",
    REDIS_MAIN_PORT_7000_UDP_PROTO: "udp",
    REDIS_MAIN_PORT_7000_UDP_PORT: "7000",
    REDIS_MAIN_PORT_7000_UDP_ADDR: "10.43.0.9",
  });
  // enableServiceLinks: false keeps only the API server's
  expect(Object.keys(serviceEnvVars(services, "shop", false)).every((k) => k.startsWith("KUBERNETES_"))).toBe(true);
  // a service named kubernetes elsewhere does not replace default's in other namespaces
  expect(serviceEnvVars([...services, svc("other", "kubernetes", "10.43.0.99", [{ port: 1 }])], "shop").KUBERNETES_SERVICE_HOST).toBe("10.43.0.1");
});

test("the container's own variables win, and $(VAR) sees the service ones", async () => {
  const pod: any = { metadata: { name: "p", namespace: "shop", uid: "u" }, spec: { containers: [] } };
  const c: any = { name: "c", image: "x", env: [{ name: "REDIS_MAIN_SERVICE_HOST", value: "override" }, { name: "URL", value: "redis://$(REDIS_MAIN_SERVICE_HOST):$(REDIS_MAIN_SERVICE_PORT)" }] };
  const env = await containerEnv(pod, c, { objects: {} as never, ips: { podIPs: [], hostIPs: [] }, node: {} as never, services: serviceEnvVars(services, "shop") });
  const m = Object.fromEntries(env.map((e) => [e.key, e.value]));
  expect(m.REDIS_MAIN_SERVICE_HOST).toBe("override");
  expect(m.URL).toBe("redis://override:6379");
  expect(m.KUBERNETES_SERVICE_HOST).toBe("10.43.0.1");
});
