// The core/v1 kinds K3s serves that predate apps/v1 and the split control plane: top-level
// bindings, componentstatuses and replicationcontrollers, through the real kubectl and the API.
// Needs no agent: pods are bound by hand (a scheduler name nobody serves) and never run.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { describeResult, expectOk, kubectl } from "../harness/kubectl";
import { testDatastoreKind } from "../harness/datastore";
import { startServer, type SkiffServer } from "../harness/server";

setDefaultTimeout(60_000);

let srv: SkiffServer;
const admin = async (args: string[], stdin?: string) => expectOk(await kubectl(srv, args, stdin !== undefined ? { stdin } : {}), `kubectl ${args.join(" ")}`);
const post = (path: string, body: unknown) => srv.fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });

beforeAll(async () => {
  srv = await startServer({ name: "legacy-core" });
}, 90_000);

afterAll(async () => {
  await srv?.stop();
});

const unscheduledPod = (name: string) =>
  JSON.stringify({ apiVersion: "v1", kind: "Pod", metadata: { name, namespace: "default" }, spec: { schedulerName: "by-hand", containers: [{ name: "c", image: "busybox:1" }] } });

test("POST bindings assigns a pod to a node like pods/binding, and refuses what pods/binding refuses", async () => {
  await admin(["create", "-f", "-"], unscheduledPod("bound"));
  const binding = { apiVersion: "v1", kind: "Binding", metadata: { name: "bound" }, target: { kind: "Node", name: "edge-1" } };
  const r = await post("/api/v1/namespaces/default/bindings", binding);
  expect(r.status, await r.clone().text()).toBe(201);
  expect(((await r.json()) as any).status).toBe("Success");
  const pod = JSON.parse((await admin(["get", "pod", "bound", "-o", "json"])).stdout);
  expect(pod.spec.nodeName).toBe("edge-1");
  expect(pod.status.conditions.find((c: any) => c.type === "PodScheduled")?.status).toBe("True");
  // Binding again: the same 409 as pods/binding (one code path).
  const again = await post("/api/v1/namespaces/default/bindings", { ...binding, target: { kind: "Node", name: "edge-2" } });
  expect(again.status).toBe(409);
  expect(((await again.json()) as any).message).toContain('already assigned to node "edge-1"');
  // No name, no target, another namespace in the body, a missing pod: clear 4xx, nothing stored.
  const noName = await post("/api/v1/namespaces/default/bindings", { apiVersion: "v1", kind: "Binding", metadata: {}, target: { name: "edge-1" } });
  expect(noName.status).toBe(422);
  expect(((await noName.json()) as any).message).toContain("metadata.name");
  const noTarget = await post("/api/v1/namespaces/default/bindings", { apiVersion: "v1", kind: "Binding", metadata: { name: "bound" } });
  expect(noTarget.status).toBe(422);
  const otherNs = await post("/api/v1/namespaces/default/bindings", { ...binding, metadata: { name: "bound", namespace: "kube-system" } });
  expect(otherNs.status).toBe(400);
  const missing = await post("/api/v1/namespaces/default/bindings", { ...binding, metadata: { name: "nope" } });
  expect(missing.status).toBe(404);
  // Create-only and never stored: a read is refused.
  const list = await srv.fetch("/api/v1/namespaces/default/bindings");
  expect(list.status).toBe(405);
  const ar = await kubectl(srv, ["api-resources", "--no-headers"]);
  expect(ar.stdout, describeResult(ar)).toMatch(/^bindings\s+v1\s+true\s+Binding$/m);
});

test("componentstatuses report the leader's scheduler and controllers and the store's quorum read", async () => {
  const r = await kubectl(srv, ["get", "componentstatuses"]);
  expect(r.code, describeResult(r)).toBe(0);
  // Deprecated upstream since v1.19 and still served: kubectl prints the server's warning.
  expect(r.stderr).toContain("v1 ComponentStatus is deprecated in v1.19+");
  const rows = r.stdout.trim().split("\n");
  expect(rows[0]).toMatch(/^NAME\s+STATUS\s+MESSAGE\s+ERROR$/);
  expect(rows.slice(1).map((l) => l.split(/\s+/).slice(0, 2).join(" "))).toEqual(["scheduler Healthy", "controller-manager Healthy", "etcd-0 Healthy"]);
  const cs = JSON.parse((await admin(["get", "cs", "etcd-0", "-o", "json"])).stdout);
  expect(cs.kind).toBe("ComponentStatus");
  // What was checked: a Raft quorum read, or a round trip to the external datastore.
  const store = testDatastoreKind();
  const checked = store === "embedded" ? "confirmed by a quorum of 1 voter" : `the ${store} datastore answered`;
  expect(cs.conditions).toEqual([{ type: "Healthy", status: "True", message: expect.stringContaining(checked) }]);
  const sched = JSON.parse((await admin(["get", "cs", "scheduler", "-o", "json"])).stdout);
  expect(sched.conditions[0].message).toContain("on this server");
  // Computed, not stored: writes and watches are refused with the reason.
  const del = await kubectl(srv, ["delete", "cs", "scheduler"]);
  expect(del.code).not.toBe(0);
  expect(del.stderr).toContain("computed when read");
  const w = await srv.fetch("/api/v1/componentstatuses?watch=true");
  expect(w.status).toBe(405);
  const missing = await kubectl(srv, ["get", "cs", "kube-proxy"]);
  expect(missing.code).not.toBe(0);
  expect(missing.stderr).toContain('componentstatuses "kube-proxy" not found');
});

async function waitFor<T>(f: () => Promise<T | undefined>, what: string, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(200);
  }
}

const rcPods = async () => JSON.parse((await admin(["get", "pods", "-l", "app=legacy", "-o", "json"])).stdout).items.filter((p: any) => !p.metadata.deletionTimestamp);

test("kubectl runs a ReplicationController: pods owned, `kubectl scale rc`, status, cascading delete", async () => {
  // `kubectl create` sends a protobuf body: the RC's map selector and template decode from it.
  await admin(
    ["create", "-f", "-"],
    JSON.stringify({ apiVersion: "v1", kind: "ReplicationController", metadata: { name: "legacy", namespace: "default" }, spec: { replicas: 2, template: { metadata: { labels: { app: "legacy" } }, spec: { containers: [{ name: "c", image: "busybox:1" }] } } } }),
  );
  const pods = await waitFor(async () => ((await rcPods()).length === 2 ? await rcPods() : undefined), "2 pods");
  for (const p of pods) expect(p.metadata.ownerReferences[0]).toMatchObject({ apiVersion: "v1", kind: "ReplicationController", name: "legacy", controller: true });
  await waitFor(async () => (JSON.parse((await admin(["get", "rc", "legacy", "-o", "json"])).stdout).status?.replicas === 2 ? true : undefined), "status.replicas 2");
  const get = await admin(["get", "rc", "legacy"]);
  expect(get.stdout).toMatch(/^NAME\s+DESIRED\s+CURRENT\s+READY\s+AGE$/m);
  expect(get.stdout).toMatch(/^legacy\s+2\s+2\s+0\s+/m);
  const desc = (await admin(["describe", "rc", "legacy"])).stdout;
  expect(desc).toMatch(/^Selector:\s+app=legacy$/m);
  expect(desc).toMatch(/^Replicas:\s+2 current \/ 2 desired$/m);
  expect(desc).toContain("SuccessfulCreate");
  expect((await admin(["scale", "rc", "legacy", "--replicas=1"])).stdout).toContain("replicationcontroller/legacy scaled");
  await waitFor(async () => ((await rcPods()).length === 1 ? true : undefined), "scaled to 1 pod");
  const scale = await srv.fetch("/api/v1/namespaces/default/replicationcontrollers/legacy/scale");
  const sc: any = await scale.json();
  expect(sc).toMatchObject({ kind: "Scale", apiVersion: "autoscaling/v1", spec: { replicas: 1 }, status: { selector: "app=legacy" } });
  await waitFor(async () => {
    const o = JSON.parse((await admin(["get", "rc", "legacy", "-o", "json"])).stdout);
    return o.status?.replicas === 1 && o.status.observedGeneration === o.metadata.generation ? true : undefined;
  }, "status after scale");
  await admin(["delete", "rc", "legacy", "--wait=true"]);
  await waitFor(async () => ((await rcPods()).length === 0 ? true : undefined), "pods collected with their controller");
});
