// Admission webhooks in the registry's write path, against real HTTPS servers on loopback:
// AdmissionReview v1 requests, denials with the webhook's message and code, JSONPatch
// mutations (and reinvocation), warnings, rules/namespaceSelector/objectSelector/matchConditions,
// url and Service references with caBundle, timeouts and failurePolicy.
import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findByKind, findByPlural, setCustomResources } from "../../schemas/registry";
import { bootstrap } from "../../server/bootstrap";
import { ApiError } from "../../server/errors";
import { APISERVER_USER, writeCtx } from "../../server/registry/ctx";
import { newRegistry } from "../../server/registry/index";
import type { Registry } from "../../server/registry/registry";
import { Store } from "../../server/store/store";
import { issue, makeCa, type KeyPairPem } from "../../server/tls/pki";

const kind = (apiVersion: string, k: string) => findByKind(apiVersion, k)!;
const CM = () => kind("v1", "ConfigMap");
const VWC = () => kind("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration");
const MWC = () => kind("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration");

let ca: KeyPairPem;
let otherCa: KeyPairPem;
let server: ReturnType<typeof Bun.serve>;
/** Every AdmissionReview the test server received, by path. */
const received: { path: string; review: any }[] = [];

const b64 = (s: string) => Buffer.from(s).toString("base64");
const patch = (ops: unknown[]) => ({ patchType: "JSONPatch", patch: b64(JSON.stringify(ops)) });

beforeAll(async () => {
  ca = await makeCa();
  otherCa = await makeCa();
  const leaf = await issue(ca, { cn: "hooks", dnsNames: ["localhost", "hooks.webhooks.svc"], ips: ["127.0.0.1"], server: true });
  server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    tls: { cert: leaf.cert, key: leaf.key },
    async fetch(r) {
      const url = new URL(r.url);
      const review: any = await r.json();
      received.push({ path: url.pathname, review });
      const req = review.request;
      const answer = (response: any) => Response.json({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response: { uid: req.uid, ...response } });
      switch (url.pathname) {
        case "/validate": {
          const labels = req.object?.metadata?.labels ?? {};
          if (labels.deny === "true") return answer({ allowed: false, status: { code: 422, reason: "Invalid", message: "configmaps labelled deny=true are not welcome" } });
          return answer({ allowed: true, warnings: ["checked by the test webhook"] });
        }
        case "/label":
          return answer({ allowed: true, ...patch([{ op: "add", path: "/metadata/labels", value: { ...(req.object.metadata.labels ?? {}), "webhook.test/mutated": "yes" } }]) });
        case "/second":
          // Changes the object only after /label has run (for reinvocation).
          if (req.object.metadata.labels?.["webhook.test/mutated"] && !req.object.metadata.labels?.second)
            return answer({ allowed: true, ...patch([{ op: "add", path: "/metadata/labels/second", value: "1" }]) });
          return answer({ allowed: true });
        case "/slow":
          await Bun.sleep(2500);
          return answer({ allowed: true });
        case "/baduid":
          return Response.json({ response: { uid: "other", allowed: true } });
        case "/junk":
          return answer({ allowed: true, ...patch([{ op: "add", path: "/spec/junk", value: 1 }, { op: "add", path: "/spec/kept", value: "k" }]) });
        case "/deny-plain":
          return answer({ allowed: false });
      }
      return new Response("no", { status: 404 });
    },
  });
});
afterAll(() => server?.stop(true));

let dir: string;
let store: Store;
afterEach(() => {
  store?.close();
  rmSync(dir, { recursive: true, force: true });
  received.length = 0;
});

async function setup(): Promise<Registry> {
  dir = mkdtempSync(join(tmpdir(), "skiff-hooks-"));
  store = new Store({ dataDir: dir });
  const registry = newRegistry(store);
  await bootstrap(registry);
  return registry;
}

const ctx = () => writeCtx({ user: "alice", groups: ["system:authenticated"] }, "test");
const admin = () => writeCtx(APISERVER_USER, "test");
function hook(name: string, path: string, extra: Record<string, unknown> = {}): any {
  return {
    name,
    clientConfig: { url: `https://127.0.0.1:${server.port}${path}`, caBundle: b64(ca.cert) },
    rules: [{ operations: ["CREATE", "UPDATE"], apiGroups: [""], apiVersions: ["v1"], resources: ["configmaps"] }],
    sideEffects: "None",
    admissionReviewVersions: ["v1"],
    ...extra,
  };
}
async function validating(reg: Registry, ...webhooks: any[]) {
  await reg.create(admin(), VWC(), undefined, { metadata: { name: `v-${webhooks[0].name.split(".")[0]}` }, webhooks });
}
async function mutating(reg: Registry, ...webhooks: any[]) {
  await reg.create(admin(), MWC(), undefined, { metadata: { name: `m-${webhooks[0].name.split(".")[0]}` }, webhooks });
}
async function refused(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw e;
  }
  throw new Error("expected the write to be refused");
}
const cm = (name: string, labels?: Record<string, string>) => ({ metadata: { name, ...(labels ? { labels } : {}) }, data: { a: "1" } });

test("a validating webhook gets an AdmissionReview v1, denies with its message and code, and warns", async () => {
  const reg = await setup();
  await validating(reg, hook("deny.webhook.test", "/validate"));
  const c = ctx();
  await reg.create(c, CM(), "default", cm("fine"));
  expect(c.warnings).toEqual(["checked by the test webhook"]);
  const e = await refused(reg.create(ctx(), CM(), "default", cm("bad", { deny: "true" })));
  expect(e.code).toBe(422);
  expect(e.message).toBe('admission webhook "deny.webhook.test" denied the request: configmaps labelled deny=true are not welcome');
  const req = received[0]!.review.request;
  expect(received[0]!.review).toMatchObject({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview" });
  expect(req).toMatchObject({
    kind: { group: "", version: "v1", kind: "ConfigMap" },
    resource: { group: "", version: "v1", resource: "configmaps" },
    namespace: "default",
    name: "fine",
    operation: "CREATE",
    userInfo: { username: "alice", groups: ["system:authenticated"] },
    oldObject: null,
    dryRun: false,
    options: { kind: "CreateOptions", apiVersion: "meta.k8s.io/v1" },
  });
  expect(req.object.data).toEqual({ a: "1" });
  // Updates carry the old object; other kinds and operations are not sent.
  await reg.update(ctx(), CM(), "default", "fine", (o) => ({ ...o, data: { a: "2" } }));
  expect(received.at(-1)!.review.request).toMatchObject({ operation: "UPDATE", oldObject: { data: { a: "1" } }, object: { data: { a: "2" } } });
  const n = received.length;
  await reg.create(ctx(), kind("v1", "Secret"), "default", { metadata: { name: "s" } });
  await reg.delete(ctx(), CM(), "default", "fine", {});
  expect(received.length).toBe(n);
  const plain = await refused(reg.create(ctx(), CM(), "default", cm("x")).then(() => validating(reg, hook("plain.webhook.test", "/deny-plain"))).then(() => reg.create(ctx(), CM(), "default", cm("y"))));
  expect(plain.code).toBe(403);
  expect(plain.message).toBe('admission webhook "plain.webhook.test" denied the request without explanation');
});

test("a mutating webhook's JSONPatch is stored, and IfNeeded webhooks are called again after later changes", async () => {
  const reg = await setup();
  await mutating(reg, hook("a-label.webhook.test", "/label"), hook("b-second.webhook.test", "/second", { reinvocationPolicy: "IfNeeded" }));
  const out = await reg.create(ctx(), CM(), "default", cm("m", { mine: "x" }));
  // /label runs first, so /second sees its change at once: one call each.
  expect(out.metadata.labels).toEqual({ mine: "x", "webhook.test/mutated": "yes", second: "1" });
  expect(store.get("configmaps", "default", "m")!.obj.metadata.labels["webhook.test/mutated"]).toBe("yes");
  expect(received.filter((r) => r.path === "/second").length).toBe(1);
  // /second first: it changes nothing, /label changes the object, so /second (IfNeeded) runs again.
  await reg.delete(admin(), MWC(), "", "m-a-label", {});
  await mutating(reg, hook("a-second.webhook.test", "/second", { reinvocationPolicy: "IfNeeded" }), hook("b-label.webhook.test", "/label"));
  const again = await reg.create(ctx(), CM(), "default", cm("n"));
  expect(again.metadata.labels).toEqual({ "webhook.test/mutated": "yes", second: "1" });
  expect(received.filter((r) => r.path === "/second" && r.review.request.name === "n").length).toBe(2);
});

test("namespaceSelector, objectSelector, rules scope and matchConditions choose the requests", async () => {
  const reg = await setup();
  await reg.create(admin(), kind("v1", "Namespace"), undefined, { metadata: { name: "watched", labels: { hooks: "on" } } });
  await validating(
    reg,
    hook("ns.webhook.test", "/validate", { namespaceSelector: { matchLabels: { hooks: "on" } } }),
    hook("obj.webhook.test", "/validate", { objectSelector: { matchExpressions: [{ key: "check", operator: "Exists" }] } }),
    hook("cel.webhook.test", "/validate", { matchConditions: [{ name: "big", expression: "has(object.data) && size(object.data) > 1" }] }),
  );
  const seen = () => received.map((r) => r.review.request.name);
  await reg.create(ctx(), CM(), "default", cm("plain"));
  expect(seen()).toEqual([]);
  await reg.create(ctx(), CM(), "watched", cm("in-watched"));
  await reg.create(ctx(), CM(), "default", cm("labelled", { check: "1" }));
  await reg.create(ctx(), CM(), "default", { metadata: { name: "big" }, data: { a: "1", b: "2" } });
  expect(seen().sort()).toEqual(["big", "in-watched", "labelled"]);
  // Webhook configurations themselves are never sent to webhooks.
  await validating(reg, { ...hook("all.webhook.test", "/validate"), rules: [{ operations: ["*"], apiGroups: ["*"], apiVersions: ["*"], resources: ["*"] }] });
  received.length = 0;
  await reg.delete(admin(), VWC(), "", "v-ns", {});
  expect(received.length).toBe(0);
});

test("failurePolicy: Fail refuses when the webhook is down, slow or answers wrongly; Ignore admits", async () => {
  const reg = await setup();
  const closed = { url: "https://127.0.0.1:1/validate", caBundle: b64(ca.cert) };
  await validating(reg, { ...hook("down.webhook.test", "/validate"), clientConfig: closed, failurePolicy: "Ignore" });
  await reg.create(ctx(), CM(), "default", cm("admitted"));
  await reg.delete(admin(), VWC(), "", "v-down", {});

  await validating(reg, { ...hook("down.webhook.test", "/validate"), clientConfig: closed });
  const down = await refused(reg.create(ctx(), CM(), "default", cm("a")));
  expect(down.code).toBe(500);
  expect(down.message).toContain('Internal error occurred: failed calling webhook "down.webhook.test": failed to call webhook: Post "https://127.0.0.1:1/validate?timeout=10s"');
  await reg.delete(admin(), VWC(), "", "v-down", {});

  await validating(reg, hook("slow.webhook.test", "/slow", { timeoutSeconds: 1 }));
  const t0 = Date.now();
  const slow = await refused(reg.create(ctx(), CM(), "default", cm("b")));
  expect(slow.message).toContain("context deadline exceeded");
  expect(Date.now() - t0).toBeLessThan(2400);
  await reg.delete(admin(), VWC(), "", "v-slow", {});

  await validating(reg, { ...hook("ca.webhook.test", "/validate"), clientConfig: { url: `https://127.0.0.1:${server.port}/validate`, caBundle: b64(otherCa.cert) } });
  expect((await refused(reg.create(ctx(), CM(), "default", cm("c")))).message).toContain("failed to call webhook");
  await reg.delete(admin(), VWC(), "", "v-ca", {});

  await validating(reg, { ...hook("pem.webhook.test", "/validate"), clientConfig: { url: `https://127.0.0.1:${server.port}/validate`, caBundle: b64("not a certificate") } });
  const pem = await refused(reg.create(ctx(), CM(), "default", cm("e")));
  expect(pem.code).toBe(500);
  expect(pem.message).toContain('failed calling webhook "pem.webhook.test"');
  await reg.delete(admin(), VWC(), "", "v-pem", {});

  await validating(reg, hook("uid.webhook.test", "/baduid"));
  expect((await refused(reg.create(ctx(), CM(), "default", cm("d")))).message).toContain('expected response.uid=');
});

test("a Service reference reaches a ready endpoint and checks the certificate for <service>.<namespace>.svc", async () => {
  const reg = await setup();
  await reg.create(admin(), kind("v1", "Namespace"), undefined, { metadata: { name: "webhooks" } });
  await reg.create(admin(), kind("v1", "Service"), "webhooks", { metadata: { name: "hooks" }, spec: { ports: [{ name: "https", port: 443, targetPort: 9443 }] } });
  await reg.create(admin(), kind("v1", "Endpoints"), "webhooks", {
    metadata: { name: "hooks" },
    subsets: [{ addresses: [{ ip: "127.0.0.1" }], ports: [{ name: "https", port: server.port }] }],
  });
  await mutating(reg, { ...hook("svc.webhook.test", "/label"), clientConfig: { service: { namespace: "webhooks", name: "hooks", path: "/label" }, caBundle: b64(ca.cert) } });
  expect((await reg.create(ctx(), CM(), "default", cm("via-service"))).metadata.labels).toEqual({ "webhook.test/mutated": "yes" });
  // A service without endpoints fails the call.
  await reg.create(admin(), kind("v1", "Service"), "webhooks", { metadata: { name: "empty" }, spec: { ports: [{ port: 443 }] } });
  await mutating(reg, { ...hook("empty.webhook.test", "/label"), clientConfig: { service: { namespace: "webhooks", name: "empty" }, caBundle: b64(ca.cert) } });
  expect((await refused(reg.create(ctx(), CM(), "default", cm("z")))).message).toContain('no endpoints available for service "empty"');
});

test("dry-run writes reach webhooks with dryRun set, and store nothing", async () => {
  const reg = await setup();
  await mutating(reg, hook("dry.webhook.test", "/label", { sideEffects: "NoneOnDryRun" }));
  const c = writeCtx({ user: "alice", groups: ["system:authenticated"] }, "test", { dryRun: true });
  const out = await reg.create(c, CM(), "default", cm("dry"));
  expect(out.metadata.labels).toEqual({ "webhook.test/mutated": "yes" });
  expect(received[0]!.review.request.dryRun).toBe(true);
  expect(store.get("configmaps", "default", "dry")).toBeUndefined();
});

test("a custom resource patched by a webhook is pruned and defaulted by its schema", async () => {
  const reg = await setup();
  const CRD = findByKind("apiextensions.k8s.io/v1", "CustomResourceDefinition")!;
  const schema = { type: "object", properties: { spec: { type: "object", properties: { kept: { type: "string" }, size: { type: "string", default: "s" } } } } };
  await reg.create(admin(), CRD, undefined, {
    metadata: { name: "gizmos.hooks.test" },
    spec: { group: "hooks.test", scope: "Namespaced", names: { plural: "gizmos", kind: "Gizmo" }, versions: [{ name: "v1", served: true, storage: true, schema: { openAPIV3Schema: schema } }] },
  });
  try {
    await mutating(reg, { ...hook("junk.webhook.test", "/junk"), rules: [{ operations: ["CREATE"], apiGroups: ["hooks.test"], apiVersions: ["v1"], resources: ["gizmos"] }] });
    const out = await reg.create(ctx(), findByPlural("hooks.test", "v1", "gizmos")!, "default", { metadata: { name: "g" }, spec: {} });
    expect(out.spec).toEqual({ kept: "k", size: "s" });
    // The scale subresource of a Deployment is sent as the Scale it writes.
    await validating(reg, { ...hook("scale.webhook.test", "/validate"), rules: [{ operations: ["UPDATE"], apiGroups: ["apps"], apiVersions: ["v1"], resources: ["deployments/scale"] }] });
    const dep = findByKind("apps/v1", "Deployment")!;
    await reg.create(admin(), dep, "default", { metadata: { name: "d" }, spec: { replicas: 1, selector: { matchLabels: { a: "b" } }, template: { metadata: { labels: { a: "b" } }, spec: { containers: [{ name: "c", image: "i" }] } } } });
    const { updateScale } = await import("../../server/registry/kinds/scale");
    await updateScale(reg, ctx(), dep, "default", "d", () => 3);
    const sc = received.find((r) => r.review.request.subResource === "scale")!.review.request;
    expect(sc.kind).toEqual({ group: "autoscaling", version: "v1", kind: "Scale" });
    expect(sc.object).toMatchObject({ kind: "Scale", spec: { replicas: 3 } });
    expect(sc.oldObject).toMatchObject({ kind: "Scale", spec: { replicas: 1 } });
    expect(received[0]!.review.request.kind).toEqual({ group: "hooks.test", version: "v1", kind: "Gizmo" });
  } finally {
    setCustomResources("gizmos.hooks.test", []);
  }
});

test("webhook configurations are validated", async () => {
  const reg = await setup();
  const e = await refused(
    reg.create(admin(), VWC(), undefined, {
      metadata: { name: "bad" },
      webhooks: [{ name: "short", clientConfig: { url: "http://x/y" }, sideEffects: "Some", admissionReviewVersions: ["v2"], timeoutSeconds: 60, rules: [{ operations: ["PATCH"], apiGroups: [""], apiVersions: ["v1"], resources: ["pods"] }] }],
    }),
  );
  expect(e.code).toBe(422);
  const fields = (e.details?.causes ?? []).map((c: any) => c.field);
  expect(fields).toEqual(expect.arrayContaining(["webhooks[0].name", "webhooks[0].clientConfig.url", "webhooks[0].sideEffects", "webhooks[0].admissionReviewVersions", "webhooks[0].timeoutSeconds", "webhooks[0].rules[0].operations[0]"]));
  const ok = await reg.create(admin(), VWC(), undefined, { metadata: { name: "good" }, webhooks: [hook("good.webhook.test", "/validate")] });
  expect(ok.webhooks[0]).toMatchObject({ failurePolicy: "Fail", matchPolicy: "Equivalent", namespaceSelector: {}, objectSelector: {}, timeoutSeconds: 10 });
});
