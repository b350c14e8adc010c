// Issue 14 acceptance 1: CustomResourceDefinitions through the real kubectl against a fresh
// `skiff server`: apply/get/explain/edit of custom resources, defaults, pruning, 422 with
// field paths, printer columns, status and scale subresources, two versions, conditions, and
// deleting the CRD removing its resources.
import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO, startServer, type SkiffServer } from "../harness/server";
import { describeResult, expectOk, kubectl, parseTable, type KubectlOptions, type KubectlResult } from "../harness/kubectl";

setDefaultTimeout(120_000);

const FIXTURE = join(REPO, "test/fixtures/crd-widgets.yaml");
let srv: SkiffServer;
const k = (args: string[], opts?: KubectlOptions) => kubectl(srv, args, opts);
const ok = async (args: string[], opts?: KubectlOptions): Promise<KubectlResult> => expectOk(await k(args, opts), args.join(" "));
const fail = async (args: string[], opts?: KubectlOptions): Promise<KubectlResult> => {
  const r = await k(args, opts);
  if (r.code === 0) throw new Error(`expected failure: ${describeResult(r)}`);
  return r;
};
const json = async (args: string[]) => JSON.parse((await ok([...args, "-o", "json"])).stdout);
function manifest(name: string, body: string): string {
  const p = join(srv.runDir, `${name}.yaml`);
  writeFileSync(p, body);
  return p;
}

beforeAll(async () => {
  srv = await startServer({ name: "crd" });
  await ok(["apply", "-f", FIXTURE]);
});
afterAll(async () => {
  await srv?.stop();
});

describe("CustomResourceDefinition", () => {
  test("is Established with its names accepted", async () => {
    await ok(["wait", "--for=condition=Established", "crd/widgets.example.com", "crd/gadgets.example.com", "--timeout=30s"]);
    const crd = await json(["get", "crd", "widgets.example.com"]);
    const conds = Object.fromEntries(crd.status.conditions.map((c: any) => [c.type, c.status]));
    expect(conds).toEqual({ NamesAccepted: "True", Established: "True" });
    expect(crd.status.acceptedNames.kind).toBe("Widget");
    expect(crd.status.storedVersions).toEqual(["v1"]);
    // Applying the same CRDs again changes nothing.
    const again = await ok(["apply", "-f", FIXTURE]);
    expect(again.stdout).toContain("customresourcedefinition.apiextensions.k8s.io/widgets.example.com unchanged");
    const same = await json(["get", "crd", "widgets.example.com"]);
    expect(same.metadata.resourceVersion).toBe(crd.metadata.resourceVersion);
    expect(same.metadata.generation).toBe(1);
    const res = await ok(["api-resources", "--api-group=example.com"]);
    expect(res.stdout).toMatch(/widgets\s+wd\s+example\.com\/v1\s+true\s+Widget/);
    expect(res.stdout).toMatch(/gadgets\s+example\.com\/v1\s+false\s+Gadget/);
  });

  test("apply defaults, prunes unknown fields and keeps preserved ones", async () => {
    const p = manifest("w1", `apiVersion: example.com/v1
kind: Widget
metadata: {name: w1, namespace: default}
spec:
  image: nginx:1.27
  bogus: dropped
  port: http
  config: {anything: {goes: [1, 2]}}
  ports: [{name: web, port: 80, extra: dropped}]
`);
    // kubectl's default (strict) refuses the unknown fields; --validate=false drops them.
    const strict = await fail(["apply", "-f", p]);
    expect(strict.stderr).toContain('unknown field "spec.bogus"');
    await ok(["apply", "--validate=false", "-f", p]);
    const w = await json(["get", "widget", "w1"]);
    expect(w.spec).toEqual({ image: "nginx:1.27", replicas: 1, size: "small", port: "http", config: { anything: { goes: [1, 2] } }, ports: [{ name: "web", port: 80 }] });
    expect(w.metadata.generation).toBe(1);
    expect(w.apiVersion).toBe("example.com/v1");
  });

  test("invalid custom resources are refused with 422 and field paths", async () => {
    const cases: [string, string[]][] = [
      ["replicas: 20", ["spec.replicas", "should be less than or equal to 10"]],
      ["replicas: many", ["spec.replicas", "must be of type integer"]],
      ["size: huge", ["spec.size", 'Unsupported value: "huge"']],
      ["image: BAD IMAGE", ["spec.image", "should match"]],
      ["replicas: 7", ["more than 5 replicas need size large"]],
    ];
    for (const [line, want] of cases) {
      const p = manifest("bad", `apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: bad, namespace: default}\nspec:\n  image: x\n  ${line}\n`);
      const r = await fail(["apply", "-f", p]);
      expect(r.stderr).toContain("is invalid");
      for (const w of want) expect(r.stderr).toContain(w);
    }
    const p = manifest("noimage", `apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: bad, namespace: default}\nspec: {replicas: 2}\n`);
    const raw = await srv.fetch("/apis/example.com/v1/namespaces/default/widgets", { method: "POST", headers: { "Content-Type": "application/yaml" }, body: Bun.file(p) });
    expect(raw.status).toBe(422);
    const st: any = await raw.json();
    expect(st.reason).toBe("Invalid");
    expect(st.details.causes).toContainEqual({ reason: "FieldValueRequired", message: "Required value", field: "spec.image" });
  });

  test("kubectl get prints the printer columns", async () => {
    const t = parseTable((await ok(["get", "wd"])).stdout);
    expect(t.columns).toEqual(["NAME", "REPLICAS", "SIZE", "READY", "AGE"]);
    expect(t.rows[0]).toMatchObject({ NAME: "w1", REPLICAS: "1", SIZE: "small", READY: "" });
    expect((await ok(["get", "all"])).stdout).toContain("widget.example.com/w1");
  });

  test("the status subresource is written apart from the spec", async () => {
    await ok(["patch", "widget", "w1", "--subresource=status", "--type=merge", "-p", '{"status":{"replicas":1,"conditions":[{"type":"Ready","status":"True"}]}}']);
    // A main-resource write cannot change status.
    await ok(["patch", "widget", "w1", "--type=merge", "-p", '{"status":{"replicas":9}}']);
    const w = await json(["get", "widget", "w1"]);
    expect(w.status.replicas).toBe(1);
    expect(w.metadata.generation).toBe(1);
    const t = parseTable((await ok(["get", "widgets"])).stdout);
    expect(t.rows[0]!.READY).toBe("True");
  });

  test("the scale subresource follows the CRD's replica paths", async () => {
    await ok(["scale", "widget", "w1", "--replicas=3"]);
    const w = await json(["get", "widget", "w1"]);
    expect(w.spec.replicas).toBe(3);
    expect(w.metadata.generation).toBe(2);
    const sc: any = await (await srv.fetch("/apis/example.com/v1/namespaces/default/widgets/w1/scale")).json();
    expect(sc).toMatchObject({ kind: "Scale", apiVersion: "autoscaling/v1", spec: { replicas: 3 }, status: { replicas: 1 } });
  });

  test("kubectl edit changes a custom resource", async () => {
    const editor = join(srv.runDir, "editor.sh");
    writeFileSync(editor, `#!/bin/sh\nsed -i 's/size: small/size: large/' "$1"\n`);
    chmodSync(editor, 0o755);
    await ok(["edit", "widget", "w1"], { env: { EDITOR: editor, KUBE_EDITOR: editor } });
    expect((await json(["get", "widget", "w1"])).spec.size).toBe("large");
  });

  test("kubectl describe, label and strategic-merge patch of a custom resource", async () => {
    const d = await ok(["describe", "widget", "w1"]);
    expect(d.stdout).toMatch(/Image:\s+nginx:1\.27/);
    await ok(["label", "widget", "w1", "tier=gold"]);
    expect((await json(["get", "widget", "w1"])).metadata.labels).toEqual({ tier: "gold" });
    // As upstream: custom resources take JSON, merge and apply patches, not strategic merge.
    const smp = await fail(["patch", "widget", "w1", "--type=strategic", "-p", '{"spec":{"size":"large"}}']);
    expect(smp.stderr).toContain("application/strategic-merge-patch+json is not supported by example.com/v1, Kind=Widget");
  });

  test("both versions serve the same objects", async () => {
    const v1b = await json(["get", "widgets.v1beta1.example.com", "w1"]);
    expect(v1b.apiVersion).toBe("example.com/v1beta1");
    expect(v1b.spec.image).toBe("nginx:1.27");
    const p = manifest("w2", `apiVersion: example.com/v1beta1\nkind: Widget\nmetadata: {name: w2, namespace: default}\nspec: {image: busybox}\n`);
    await ok(["apply", "-f", p]);
    expect((await json(["get", "widgets.v1.example.com", "w2"])).apiVersion).toBe("example.com/v1");
  });

  test("a schema change is served at once; a new default shows on objects stored before it", async () => {
    await ok(["patch", "crd", "widgets.example.com", "--type=json", "-p", JSON.stringify([{ op: "add", path: "/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/color", value: { type: "string", default: "red" } }])]);
    await Bun.sleep(200);
    expect((await json(["get", "widget", "w1"])).spec.color).toBe("red");
    const crd = await json(["get", "crd", "widgets.example.com"]);
    expect(crd.metadata.generation).toBe(2);
  });

  test("a watch through either version sees that version's objects", async () => {
    const ac = new AbortController();
    const res = await srv.fetch("/apis/example.com/v1beta1/namespaces/default/widgets?watch=true&resourceVersion=0", { signal: ac.signal });
    const reader = res.body!.getReader();
    let buf = "";
    const events: any[] = [];
    await ok(["apply", "-f", manifest("watched", `apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: watched, namespace: default}\nspec: {image: busybox}\n`)]);
    while (!events.some((e) => e.object?.metadata?.name === "watched")) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += new TextDecoder().decode(value);
      const lines = buf.split("\n");
      buf = lines.pop()!;
      for (const l of lines) if (l.trim()) events.push(JSON.parse(l));
    }
    ac.abort();
    const ev = events.find((e) => e.object?.metadata?.name === "watched");
    expect(ev.type).toBe("ADDED");
    expect(ev.object.apiVersion).toBe("example.com/v1beta1");
    expect(ev.object.spec.replicas).toBe(1);
  });

  test("kubectl explain reads the published schema", async () => {
    const r = await ok(["explain", "widgets.spec"]);
    expect(r.stdout).toContain("WidgetSpec is what the user wants.");
    expect(r.stdout).toMatch(/replicas\s+<integer>/);
    expect(r.stdout).toContain("Number of widget replicas.");
    expect(r.stdout).toMatch(/image\s+<string> -required-/);
    const v2: any = await (await srv.fetch("/openapi/v2")).json();
    expect(v2.definitions["com.example.v1.Widget"].properties.spec.properties.replicas.type).toBe("integer");
  });

  test("kubectl 1.27 to 1.33 apply (client- and server-side), get and explain custom resources", async () => {
    for (const minor of [27, 28, 29, 30, 31, 32, 33]) {
      const name = `m${minor}`;
      const p = manifest(name, `apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: ${name}, namespace: default}\nspec: {image: busybox, replicas: 2}\n`);
      await ok(["apply", "-f", p], { minor });
      await ok(["apply", "--server-side", "--field-manager=ssa-test", "-f", p], { minor });
      const bad = await k(["apply", "-f", manifest(`${name}-bad`, `apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: ${name}, namespace: default}\nspec: {image: busybox, replicas: 0}\n`)], { minor });
      expect(bad.code, `kubectl 1.${minor}: ${describeResult(bad)}`).not.toBe(0);
      expect(bad.stderr).toContain("spec.replicas");
      const t = parseTable((await ok(["get", "widget", name], { minor })).stdout);
      expect(t.rows[0]).toMatchObject({ NAME: name, REPLICAS: "2" });
      const ex = await ok(["explain", "widget.spec.replicas"], { minor });
      expect(ex.stdout).toContain("Number of widget replicas.");
    }
    // An object created by server-side apply records its manager's fields.
    await ok(["apply", "--server-side", "--field-manager=ssa-test", "-f", manifest("ssa", `apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: ssa, namespace: default}\nspec: {image: busybox}\n`)]);
    const w = await json(["get", "widget", "ssa", "--show-managed-fields"]);
    expect(w.metadata.managedFields.map((f: any) => f.manager)).toEqual(["ssa-test"]);
    expect(w.spec.replicas).toBe(1);
  });

  test("a deprecated version warns its clients", async () => {
    const r = await ok(["get", "widgets.v1beta1.example.com"]);
    expect(r.stderr).toContain("Warning: example.com/v1beta1 Widget is deprecated");
  });

  test("cluster-scoped custom resources", async () => {
    const p = manifest("g1", `apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g1}\nspec: {}\n`);
    await ok(["apply", "-f", p]);
    const g = await json(["get", "gadget", "g1"]);
    expect(g.spec.color).toBe("blue");
    expect(g.metadata.namespace).toBeUndefined();
  });

  test("custom resources own dependents and go with their namespace", async () => {
    await ok(["create", "namespace", "crd-ns"]);
    await ok(["apply", "-f", manifest("w3", `apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w3, namespace: crd-ns}\nspec: {image: busybox}\n`)]);
    const w3 = await json(["get", "widget", "w3", "-n", "crd-ns"]);
    const owned = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "owned", namespace: "crd-ns", ownerReferences: [{ apiVersion: "example.com/v1", kind: "Widget", name: "w3", uid: w3.metadata.uid }] }, data: { a: "1" } };
    await ok(["apply", "-f", manifest("owned", JSON.stringify(owned))]);
    // The garbage collector knows the owner: the dependent stays while it lives...
    await Bun.sleep(1500);
    await ok(["get", "configmap", "owned", "-n", "crd-ns"]);
    // ...and goes with it.
    await ok(["delete", "widget", "w3", "-n", "crd-ns"]);
    await ok(["wait", "--for=delete", "configmap/owned", "-n", "crd-ns", "--timeout=30s"]);
    await ok(["apply", "-f", manifest("w4", `apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w4, namespace: crd-ns}\nspec: {image: busybox}\n`)]);
    await ok(["delete", "namespace", "crd-ns", "--timeout=60s"]);
    const left: any = await (await srv.fetch("/apis/example.com/v1/widgets")).json();
    expect(left.items.map((o: any) => o.metadata.namespace)).not.toContain("crd-ns");
  });

  test("deleting the CRD removes its resources and stops serving the kind", async () => {
    await ok(["delete", "crd", "widgets.example.com", "--timeout=60s"]);
    const r = await srv.fetch("/apis/example.com/v1/namespaces/default/widgets");
    expect(r.status).toBe(404);
    // Re-created, the kind starts empty: the old objects are gone from the store.
    await ok(["apply", "-f", FIXTURE]);
    await ok(["wait", "--for=condition=Established", "crd/widgets.example.com", "--timeout=30s"]);
    const list: any = await (await srv.fetch("/apis/example.com/v1/widgets")).json();
    expect(list.items).toEqual([]);
  });
});
