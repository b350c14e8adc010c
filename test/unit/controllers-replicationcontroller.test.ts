// ReplicationControllers run by the ReplicaSet controller's code with an equality-based selector,
// against an in-process store, scheduler and fake kubelets (the hollow-node harness).
import { afterEach, beforeEach, expect, test } from "bun:test";
import { findByKind } from "../../schemas/registry";
import { APISERVER_USER, writeCtx } from "../../server/registry/ctx";
import { toScale, updateScale } from "../../server/registry/kinds/scale";
import { startTestCluster, type TestCluster } from "../harness/cluster";

let c: TestCluster;
beforeEach(async () => {
  c = await startTestCluster();
  await c.addNode("n1");
  await c.addNode("n2");
});
afterEach(async () => {
  await c.close();
});

const rcRes = findByKind("v1", "ReplicationController")!;
const tmpl = (labels: Record<string, string>) => ({
  metadata: { labels },
  spec: { containers: [{ name: "c", image: "busybox:1", resources: { requests: { cpu: "100m" } } }] },
});
const podsOf = (app: string) => c.list("Pod", "default").filter((p) => p.metadata.labels?.app === app);
const live = (app: string) => podsOf(app).filter((p) => !p.metadata.deletionTimestamp);
const rc = (name: string) => c.get("ReplicationController", "default", name);

test("a ReplicationController creates owned pods, replaces a deleted one, scales through /scale and reports status", async () => {
  // No selector: defaulted from the template's labels, as upstream does.
  await c.create("ReplicationController", { metadata: { name: "web", namespace: "default" }, spec: { replicas: 3, template: tmpl({ app: "web" }) } });
  expect(rc("web").spec.selector).toEqual({ app: "web" });
  expect(rc("web").metadata.labels).toEqual({ app: "web" });
  await c.until("3 running pods", () => live("web").filter((p) => p.status?.phase === "Running").length === 3);
  for (const p of live("web")) {
    expect(p.metadata.generateName).toBe("web-");
    expect(p.metadata.ownerReferences).toEqual([{ apiVersion: "v1", kind: "ReplicationController", name: "web", uid: rc("web").metadata.uid, controller: true, blockOwnerDeletion: true }]);
  }
  await c.until("status", () => {
    const s = rc("web")?.status ?? {};
    return s.replicas === 3 && s.readyReplicas === 3 && s.availableReplicas === 3 && s.fullyLabeledReplicas === 3 && s.observedGeneration === rc("web").metadata.generation;
  });
  const victim = live("web")[0]!;
  await c.api.delete("Pod", "default", victim.metadata.name, { gracePeriodSeconds: 0 });
  await c.until("replacement", () => live("web").length === 3 && !c.get("Pod", "default", victim.metadata.name));
  // The scale subresource, as `kubectl scale rc` writes it: selector in string form.
  expect(toScale(rc("web"), rcRes).status.selector).toBe("app=web");
  const sc = await updateScale(c.running.runtime.registry, writeCtx(APISERVER_USER, "test"), rcRes, "default", "web", () => 1);
  expect(sc.spec.replicas).toBe(1);
  await c.until("scaled down to 1", () => podsOf("web").length === 1);
  await c.until("status after scale", () => rc("web")?.status?.replicas === 1 && rc("web").status.observedGeneration === rc("web").metadata.generation);
});

test("a ReplicationController adopts matching orphans, releases pods that stop matching, and leaves ReplicaSet pods alone", async () => {
  await c.create("Pod", { metadata: { name: "orphan", namespace: "default", labels: { app: "db", tier: "x" } }, spec: tmpl({}).spec });
  await c.create("ReplicaSet", { metadata: { name: "rs", namespace: "default" }, spec: { replicas: 1, selector: { matchLabels: { app: "other" } }, template: tmpl({ app: "other" }) } });
  await c.until("rs pod", () => live("other").length === 1);
  await c.create("ReplicationController", { metadata: { name: "db", namespace: "default" }, spec: { replicas: 2, selector: { app: "db" }, template: tmpl({ app: "db" }) } });
  await c.until("2 db pods", () => live("db").length === 2);
  expect(c.get("Pod", "default", "orphan").metadata.ownerReferences?.[0]).toMatchObject({ kind: "ReplicationController", name: "db" });
  // Relabel the adopted pod: released, and a replacement made.
  await c.api.update("Pod", "default", "orphan", (p) => {
    p.metadata.labels = { app: "gone" };
    return p;
  });
  await c.until("released and replaced", () => !c.get("Pod", "default", "orphan").metadata.ownerReferences && live("db").length === 2);
  expect(live("other").length).toBe(1);
  expect(live("other")[0]!.metadata.ownerReferences?.[0]?.kind).toBe("ReplicaSet");
});

test("ReplicationController validation: selector must match the template, replicas non-negative", async () => {
  const bad = (spec: any) => c.create("ReplicationController", { metadata: { name: "bad", namespace: "default" }, spec }).then(() => "created", (e: Error) => e.message);
  expect(await bad({ replicas: 1, selector: { app: "a" }, template: tmpl({ app: "b" }) })).toContain("`selector` does not match template `labels`");
  expect(await bad({ replicas: -1, selector: { app: "a" }, template: tmpl({ app: "a" }) })).toContain("spec.replicas");
  expect(await bad({ replicas: 1 })).toContain("spec.selector: Required value");
  expect(await bad({ replicas: 1, selector: { app: "a" }, template: { ...tmpl({ app: "a" }), spec: { ...tmpl({}).spec, restartPolicy: "Never" } } })).toContain("spec.template.spec.restartPolicy");
});
