// CustomResourceDefinitions in a three-server cluster: a CRD written through one server is
// served by every server (each follows its own applied state), custom resources written
// through a follower are validated and stored, and deleting the CRD stops every server
// serving the kind.
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { REPO } from "../harness/server";
import { until } from "../harness/wait";
import { Cluster } from "./raft-harness";

setDefaultTimeout(240_000);

let cluster: Cluster | undefined;
afterAll(async () => {
  await cluster?.stop();
  cluster?.cleanup();
});

const [widgetsCrd] = parseAllDocuments(readFileSync(join(REPO, "test/fixtures/crd-widgets.yaml"), "utf8")).map((d) => d.toJS());
const WIDGETS = "/apis/example.com/v1/namespaces/default/widgets";

test("3 servers: a CRD is served everywhere, its resources are written through any server, and its deletion reaches every server", async () => {
  cluster = new Cluster(3, { label: "crd" });
  await cluster.start();
  const [s1, s2, s3] = cluster.servers as [any, any, any];
  const created = await s1.fetch("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", { method: "POST", body: JSON.stringify(widgetsCrd) });
  expect(created.status).toBe(201);
  for (const s of [s1, s2, s3])
    await until(`${s.name} serves widgets`, async () => (await s.fetch(WIDGETS)).status === 200, 30_000, 200, () => "");

  const w = { apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "via-s3" }, spec: { image: "busybox", bogus: 1 } };
  const r = await s3.fetch(WIDGETS, { method: "POST", body: JSON.stringify(w) });
  expect(r.status).toBe(201);
  const got: any = await (await s2.fetch(`${WIDGETS}/via-s3`)).json();
  expect(got.spec).toEqual({ image: "busybox", replicas: 1, size: "small" });
  const bad = await s2.fetch(WIDGETS, { method: "POST", body: JSON.stringify({ ...w, metadata: { name: "bad" }, spec: { image: "busybox", replicas: 99 } }) });
  expect(bad.status).toBe(422);
  const disc: any = await (await s3.fetch("/apis/example.com/v1")).json();
  expect(disc.resources.map((x: any) => x.name)).toContain("widgets");

  const del = await s2.fetch("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com", { method: "DELETE" });
  expect([200, 202]).toContain(del.status);
  for (const s of [s1, s2, s3])
    await until(`${s.name} stops serving widgets`, async () => (await s.fetch(WIDGETS)).status === 404, 60_000, 200, () => "");
});
