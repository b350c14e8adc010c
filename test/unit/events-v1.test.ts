// events.k8s.io/v1 Event over HTTP: the same stored objects as core v1 Events, in the newer
// field names, with the group's field selectors.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startTestApp, type TestApp } from "../harness/api-app";

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp("events-v1");
});
afterAll(() => t.close());
const call = (method: string, path: string, body?: unknown) => t.call(method, path, body);
const CORE = "/api/v1/namespaces/default/events";
const NEW = "/apis/events.k8s.io/v1/namespaces/default/events";

test("a core event reads as events.k8s.io/v1 and back; field selectors use the group's names", async () => {
  const created = await call("POST", CORE, {
    apiVersion: "v1",
    kind: "Event",
    metadata: { name: "web.1" },
    involvedObject: { kind: "Pod", namespace: "default", name: "web", apiVersion: "v1" },
    reason: "Started",
    message: "Started container web",
    type: "Normal",
    source: { component: "kubelet", host: "n1" },
    firstTimestamp: "2026-01-01T00:00:00Z",
    lastTimestamp: "2026-01-01T00:00:05Z",
    count: 2,
  });
  expect(created.status).toBe(201);
  const v1 = await call("GET", `${NEW}/web.1`);
  expect(v1.status).toBe(200);
  expect(v1.body).toMatchObject({
    apiVersion: "events.k8s.io/v1",
    kind: "Event",
    eventTime: null,
    reason: "Started",
    note: "Started container web",
    type: "Normal",
    regarding: { kind: "Pod", namespace: "default", name: "web", apiVersion: "v1" },
    deprecatedSource: { component: "kubelet", host: "n1" },
    deprecatedFirstTimestamp: "2026-01-01T00:00:00Z",
    deprecatedLastTimestamp: "2026-01-01T00:00:05Z",
    deprecatedCount: 2,
  });
  expect(v1.body.involvedObject).toBeUndefined();
  const byName = await call("GET", `${NEW}?fieldSelector=regarding.name%3Dweb`);
  expect(byName.body.kind).toBe("EventList");
  expect(byName.body.apiVersion).toBe("events.k8s.io/v1");
  expect(byName.body.items.map((e: any) => e.metadata.name)).toEqual(["web.1"]);
  expect((await call("GET", `${NEW}?fieldSelector=regarding.name%3Dother`)).body.items).toEqual([]);
  const bad = await call("GET", `${NEW}?fieldSelector=involvedObject.name%3Dweb`);
  expect(bad.status).toBe(400);
});

test("an event written through events.k8s.io/v1 is a core event", async () => {
  const r = await call("POST", NEW, {
    apiVersion: "events.k8s.io/v1",
    kind: "Event",
    metadata: { name: "db.1" },
    eventTime: "2026-01-01T00:00:00.000000Z",
    reportingController: "example.com/operator",
    reportingInstance: "operator-0",
    action: "Reconcile",
    reason: "Synced",
    note: "synced the database",
    type: "Normal",
    regarding: { kind: "Pod", namespace: "default", name: "db", apiVersion: "v1" },
  });
  expect(r.status).toBe(201);
  expect(r.body.apiVersion).toBe("events.k8s.io/v1");
  const core = await call("GET", `${CORE}/db.1`);
  expect(core.body).toMatchObject({ apiVersion: "v1", kind: "Event", message: "synced the database", reportingComponent: "example.com/operator", reportingInstance: "operator-0", involvedObject: { name: "db" } });
  const listed = await call("GET", `${CORE}?fieldSelector=involvedObject.name%3Ddb`);
  expect(listed.body.items.length).toBe(1);
  const g = await call("GET", "/apis/events.k8s.io");
  expect(g.body.preferredVersion.version).toBe("v1");
});
