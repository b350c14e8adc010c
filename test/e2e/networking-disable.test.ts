// `--disable ingress` and `--disable servicelb` (K3s' `--disable traefik|servicelb`) on a real
// two-node cluster (issue 13): the server started with both makes no `skiff` IngressClass, sets
// no Ingress status and assigns no LoadBalancer address; agent a also runs with
// `--disable ingress`, agent b without (so b is the witness that an agent would have served).
import { containerdSkipReason } from "../harness/containerd.ts";
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { startCluster, type Cluster } from "../harness/net-cluster.ts";

setDefaultTimeout(240_000);

const IMAGE = "busybox:latest";
const reason = containerdSkipReason(import.meta.path, { bins: ["ip", "nsenter", "ctr", "ipset"], needs: "network namespaces and containerd" });

describe.skipIf(reason !== null)("--disable ingress and --disable servicelb", () => {
  let c: Cluster;
  const inNode = (n: string, cmd: string) => Bun.spawnSync([...c.agent(n).node.exec, "sh", "-c", cmd], { stdout: "pipe", stderr: "pipe" }).stdout.toString().trim();
  /** Listening TCP sockets on `port` in a node's namespace (the agent's proxies live there). */
  const listening = (n: string, port: number) => inNode(n, `ss -Hltn 'sport = :${port}'`);
  const curl = (ip: string, url: string, host?: string) => {
    const r = Bun.spawnSync(["curl", "-s", "--max-time", "3", "-w", "\n%{http_code}", ...(host ? ["--resolve", `${host}:80:${ip}`] : []), url], { stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0) return `exit ${r.exitCode}`;
    // "<body>\n<code>" (the body's own trailing newline dropped).
    const out = r.stdout.toString();
    const i = out.lastIndexOf("\n");
    return `${out.slice(0, i).trim()}\n${out.slice(i + 1).trim()}`;
  };

  beforeAll(async () => {
    c = await startCluster({
      tag: "nwd",
      nodes: ["a", "b"],
      subnet: "10.248.0",
      serverArgs: ["--disable", "ingress", "--disable", "servicelb"],
      agentArgs: (n) => (n === "a" ? ["--disable", "ingress"] : []),
    });
    await c.k(["apply", "-f", "-"], `
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: default, labels: {app: web}}
spec:
  nodeName: ${c.agent("a").name}
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: ${IMAGE}
    imagePullPolicy: IfNotPresent
    command: [sh, -c, "mkdir -p /www && echo web > /www/index.html && exec httpd -f -p 8080 -h /www"]
    ports: [{name: http, containerPort: 8080}]
    readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec: {selector: {app: web}, ports: [{port: 80, targetPort: http}]}
`);
    await c.until("web ready", async () => (await c.json(["get", "pod", "web"])).status?.conditions?.some((x: any) => x.type === "Ready" && x.status === "True") || undefined, 90_000);
  });
  afterAll(async () => {
    await c?.stop();
  });

  test("--disable ingress: no IngressClass, nothing on 80/443, no status; an agent's own --disable ingress holds once a class exists", async () => {
    expect((await c.json(["get", "ingressclasses"])).items).toEqual([]);
    await c.k(["apply", "-f", "-"], `
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: plain, namespace: default}
spec:
  rules: [{host: plain.example, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: named, namespace: default}
spec:
  ingressClassName: skiff
  rules: [{host: named.example, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}}]
`);
    // Agents see an Ingress within a watch event; give them ample time to (wrongly) open ports.
    await Bun.sleep(3000);
    for (const n of ["a", "b"]) for (const port of [80, 443]) expect(listening(n, port)).toBe("");
    for (const ip of c.agents.map((a) => a.node.ip)) expect(curl(ip, "http://plain.example/", "plain.example")).toMatch(/^exit /);
    // Agent a says it serves no ingress (the Node annotation the status and LB port checks read).
    expect((await c.json(["get", "node", c.agent("a").name])).metadata.annotations?.["ingress.skiff.io/ports"]).toBeUndefined();

    // A class of Skiff's controller made by hand: agent b, not disabled, serves it; agent a never.
    await c.k(["apply", "-f", "-"], `
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: skiff}
spec: {controller: skiff.io/ingress}
`);
    const ipB = c.agent("b").node.ip;
    await c.until("node b serves named.example", () => curl(ipB, "http://named.example/", "named.example") === "web\n200" || undefined, 30_000, 300);
    expect(listening("a", 80)).toBe("");
    expect(listening("a", 443)).toBe("");
    expect(curl(c.agent("a").node.ip, "http://named.example/", "named.example")).toMatch(/^exit /);
    // Not the default class: the Ingress without a class stays unserved; and the server's
    // Ingress status controller is off, so no addresses are written.
    expect(curl(ipB, "http://plain.example/", "plain.example")).toMatch(/404$/);
    await Bun.sleep(2000);
    for (const name of ["plain", "named"]) expect((await c.json(["get", "ingress", name])).status?.loadBalancer?.ingress).toBeUndefined();
    await c.k(["delete", "ingress", "plain", "named"]);
    await c.k(["delete", "ingressclass", "skiff"]);
  });

  test("--disable servicelb: a LoadBalancer Service stays pending, its port closed, its nodePort open", async () => {
    await c.k(["apply", "-f", "-"], `
apiVersion: v1
kind: Service
metadata: {name: lb, namespace: default}
spec: {type: LoadBalancer, selector: {app: web}, ports: [{port: 8088, targetPort: http}]}
`);
    const svc = await c.json(["get", "service", "lb"]);
    const nodePort = svc.spec.ports[0].nodePort;
    expect(nodePort).toBeGreaterThan(0);
    // The server's controllers run (the EndpointSlice one has handled the Service; the ServiceLB
    // one would have by now) and every node has its rules (the nodePort answers).
    await c.until("lb's EndpointSlice", async () => (await c.json(["get", "endpointslices", "-l", "kubernetes.io/service-name=lb"])).items[0]?.endpoints?.length || undefined, 30_000);
    for (const a of c.agents) await c.until(`nodePort on ${a.name}`, () => curl(a.node.ip, `http://${a.node.ip}:${nodePort}/`) === "web\n200" || undefined, 30_000, 300);
    await Bun.sleep(2000);
    expect((await c.json(["get", "service", "lb"])).status?.loadBalancer?.ingress).toBeUndefined();
    expect(await c.k(["get", "service", "lb", "--no-headers"])).toContain("<pending>");
    for (const a of c.agents) expect(curl(a.node.ip, `http://${a.node.ip}:8088/`)).toMatch(/^exit /);
    // Nor the ServiceLB's events (nobody looked at it).
    expect((await c.json(["get", "events"])).items.filter((e: any) => e.involvedObject?.name === "lb" && ["Pending", "PortConflict"].includes(e.reason))).toEqual([]);
    await c.k(["delete", "service", "lb"]);
  });
});
