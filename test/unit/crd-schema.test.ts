// Structural schemas of CustomResourceDefinitions: CRD validation (structural rules, names,
// versions), pruning, defaulting, value validation with upstream's messages, CEL rules,
// printer-column JSONPath, the registered kinds (columns, scale, versions in priority order),
// the published OpenAPI (v3, v2 and its protobuf form), and the server-decided CRD status.
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeOpenAPIv2 } from "../../schemas/derive/gnostic";
import { openapiV2, openapiV3 } from "../../schemas/derive/openapi";
import { findByKind, findByPlural, registry, setCustomResources } from "../../schemas/registry";
import { celSupport, evaluateRules } from "../../schemas/structural/cel";
import { validateCrd } from "../../schemas/structural/crd-validation";
import { evalJsonPath, parseJsonPath } from "../../schemas/structural/jsonpath";
import { customResources, versionPriority } from "../../schemas/structural/resources";
import { applyDefaults, prune, validateValue, type Schema } from "../../schemas/structural/schema";
import { bootstrap } from "../../server/bootstrap";
import { ApiError } from "../../server/errors";
import { APISERVER_USER, writeCtx } from "../../server/registry/ctx";
import { newRegistry } from "../../server/registry/index";
import { Store } from "../../server/store/store";

const schema: Schema = {
  type: "object",
  properties: {
    spec: {
      type: "object",
      required: ["image"],
      properties: {
        image: { type: "string", pattern: "^[a-z]+$", maxLength: 10 },
        replicas: { type: "integer", minimum: 1, maximum: 5, default: 1 },
        mode: { type: "string", enum: ["a", "b"] },
        ratio: { type: "number", exclusiveMaximum: true, maximum: 1 },
        port: { "x-kubernetes-int-or-string": true, anyOf: [{ type: "integer" }, { type: "string" }] },
        when: { type: "string", format: "date-time" },
        tags: { type: "array", items: { type: "string" }, "x-kubernetes-list-type": "set", maxItems: 3 },
        env: { type: "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"], items: { type: "object", required: ["name"], properties: { name: { type: "string" }, value: { type: "string", default: "x" } } } },
        free: { type: "object", "x-kubernetes-preserve-unknown-fields": true, properties: { known: { type: "object", properties: { a: { type: "string" } } } } },
        labels: { type: "object", additionalProperties: { type: "string" } },
        maybe: { type: "string", nullable: true },
        tmpl: { type: "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true },
      },
    },
  },
};

const crd = (over: Record<string, any> = {}): any => ({
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: "things.test.io" },
  spec: {
    group: "test.io",
    scope: "Namespaced",
    names: { plural: "things", singular: "thing", kind: "Thing", listKind: "ThingList", shortNames: ["th"] },
    versions: [
      { name: "v1beta1", served: true, storage: false, schema: { openAPIV3Schema: schema } },
      {
        name: "v1",
        served: true,
        storage: true,
        schema: { openAPIV3Schema: schema },
        subresources: { status: {}, scale: { specReplicasPath: ".spec.replicas", statusReplicasPath: ".status.replicas" } },
        additionalPrinterColumns: [
          { name: "Image", type: "string", jsonPath: ".spec.image" },
          { name: "Ready", type: "string", jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
          { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
        ],
      },
    ],
    ...over,
  },
});

test("pruning drops undeclared fields, keeps preserved ones, and prunes embedded metadata", () => {
  const o: any = {
    apiVersion: "test.io/v1",
    kind: "Thing",
    metadata: { name: "x" },
    spec: { image: "a", bogus: 1, env: [{ name: "n", extra: true }], free: { any: { thing: 1 }, known: { a: "1", b: "2" } }, labels: { k: "v" }, tmpl: { apiVersion: "v1", kind: "Pod", metadata: { name: "p", junk: 1 }, spec: { x: 1 } } },
    top: 1,
  };
  const unknown = prune(schema, o);
  expect(unknown.sort()).toEqual(["spec.bogus", "spec.env[0].extra", "spec.free.known.b", "spec.tmpl.metadata.junk", "top"]);
  expect(o.spec).toEqual({ image: "a", env: [{ name: "n" }], free: { any: { thing: 1 }, known: { a: "1" } }, labels: { k: "v" }, tmpl: { apiVersion: "v1", kind: "Pod", metadata: { name: "p" }, spec: { x: 1 } } });
});

test("defaults fill missing fields at every level, including list items", () => {
  const o: any = { spec: { image: "a", env: [{ name: "n" }, { name: "m", value: "y" }] } };
  applyDefaults(schema, o);
  expect(o.spec).toEqual({ image: "a", replicas: 1, env: [{ name: "n", value: "x" }, { name: "m", value: "y" }] });
});

test("value validation speaks upstream's messages with field paths", () => {
  const errs = (spec: any) => validateValue(schema, { spec }, []).map((e) => `${e.field}: ${e.message}`);
  expect(errs({ image: "ok" })).toEqual([]);
  expect(errs({})).toEqual(["spec.image: Required value"]);
  expect(errs({ image: "ok", replicas: "two" })).toEqual(['spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"']);
  expect(errs({ image: "ok", replicas: 9 })).toEqual(["spec.replicas: Invalid value: 9: spec.replicas in body should be less than or equal to 5"]);
  expect(errs({ image: "ok", replicas: 0 })).toEqual(["spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1"]);
  expect(errs({ image: "BAD" })).toEqual(["spec.image: Invalid value: \"BAD\": spec.image in body should match '^[a-z]+$'"]);
  expect(errs({ image: "abcdefghijkl" })).toEqual(["spec.image: Too long: may not be more than 10 bytes"]);
  expect(errs({ image: "ok", mode: "c" })).toEqual(['spec.mode: Unsupported value: "c": supported values: "a", "b"']);
  expect(errs({ image: "ok", ratio: 1 })).toEqual(["spec.ratio: Invalid value: 1: spec.ratio in body should be less than 1"]);
  expect(errs({ image: "ok", port: 80 })).toEqual([]);
  expect(errs({ image: "ok", port: "http" })).toEqual([]);
  expect(errs({ image: "ok", port: true })).toHaveLength(2);
  expect(errs({ image: "ok", when: "yesterday" })).toEqual(['spec.when: Invalid value: "yesterday": spec.when in body must be of type date-time: "yesterday"']);
  expect(errs({ image: "ok", tags: ["a", "a"] })).toEqual(['spec.tags[1]: Duplicate value: "a"']);
  expect(errs({ image: "ok", tags: ["a", "b", "c", "d"] })).toEqual(["spec.tags: Too many: 4: must have at most 3 items"]);
  expect(errs({ image: "ok", env: [{ name: "a" }, { name: "a" }] })).toEqual(['spec.env[1]: Duplicate value: {"name":"a"}']);
  expect(errs({ image: "ok", maybe: null })).toEqual([]);
  expect(errs({ image: "ok", labels: { a: 1 } })).toEqual(['spec.labels.a: Invalid value: "integer": spec.labels.a in body must be of type string: "integer"']);
  expect(errs({ image: "ok", tmpl: { metadata: {} } })).toEqual(["spec.tmpl.apiVersion: Required value: must not be empty", "spec.tmpl.kind: Required value: must not be empty"]);
});

test("CEL rules: self, oldSelf on updates, messages, fieldPath and reason; bad rules are refused", () => {
  const s: Schema = {
    type: "object",
    "x-kubernetes-validations": [
      { rule: "self.min <= self.max", message: "min must not exceed max" },
      { rule: "self.max == oldSelf.max || self.max > oldSelf.max", message: "max may only grow", fieldPath: ".max", reason: "FieldValueForbidden" },
      { rule: "self.name.startsWith('x')" },
    ],
    properties: { min: { type: "integer" }, max: { type: "integer" }, name: { type: "string" } },
  };
  const run = (v: any, old?: any) => {
    const errs: any[] = [];
    evaluateRules(s, v, old, ["spec"], errs);
    return errs.map((e) => `${e.type} ${e.field}: ${e.message}`);
  };
  expect(run({ min: 1, max: 2, name: "xa" })).toEqual([]);
  expect(run({ min: 3, max: 2, name: "xa" })).toEqual(['FieldValueInvalid spec: Invalid value: "object": min must not exceed max']);
  expect(run({ min: 1, max: 2, name: "xa" }, { min: 1, max: 5, name: "xa" })).toEqual(['FieldValueForbidden spec.max: Invalid value: "object": max may only grow']);
  expect(run({ min: 1, max: 2, name: "a" })).toEqual(["FieldValueInvalid spec: Invalid value: \"object\": failed rule: self.name.startsWith('x')"]);
  expect(run({ min: 1, name: "xa" })[0]).toContain("rule evaluation failed");
  expect(celSupport([{ rule: "self.a <=" }])?.field).toBe("[0].rule");
  expect(celSupport([{ rule: "self.a > 1" }])).toBeUndefined();
  // Functions the library lacks are refused when the CRD is written, not at every object.
  expect(celSupport([{ rule: "quantity(self.q).isGreaterThan(quantity('1'))" }])?.message).toContain("not provided by this server's CEL library");
  const listRules: Schema = { type: "object", "x-kubernetes-validations": [{ rule: "self.l.isSorted() && self.l.sum() == 6 && self.l.max() == 3" }], properties: { l: { type: "array", items: { type: "integer" } } } };
  const errs: any[] = [];
  evaluateRules(listRules, { l: [1, 2, 3] }, undefined, [], errs);
  evaluateRules(listRules, { l: [3, 2, 1] }, undefined, [], errs);
  expect(errs).toHaveLength(1);
});

test("printer-column JSONPath", () => {
  const o = { status: { conditions: [{ type: "A", status: "False" }, { type: "Ready", status: "True" }] }, spec: { list: [{ n: 1 }, { n: 2 }], "dotted.key": "v" } };
  expect(evalJsonPath(parseJsonPath('.status.conditions[?(@.type=="Ready")].status'), o)).toEqual(["True"]);
  expect(evalJsonPath(parseJsonPath(".spec.list[*].n"), o)).toEqual([1, 2]);
  expect(evalJsonPath(parseJsonPath(".spec.list[-1].n"), o)).toEqual([2]);
  expect(evalJsonPath(parseJsonPath(".spec['dotted.key']"), o)).toEqual(["v"]);
  expect(evalJsonPath(parseJsonPath(".spec.missing"), o)).toEqual([]);
  expect(() => parseJsonPath(".spec[?(@.a ~ 1)]")).toThrow();
});

test("CRD validation: names, versions, structural schema, defaults, columns", () => {
  const fields = (o: any) => validateCrd(o).map((e) => e.field);
  expect(validateCrd(crd())).toEqual([]);
  expect(fields({ ...crd(), metadata: { name: "wrong.test.io" } })).toEqual(["metadata.name"]);
  expect(fields(crd({ group: "nodots" }))).toContain("spec.group");
  expect(fields(crd({ versions: [{ name: "v1", served: true, storage: false, schema: { openAPIV3Schema: { type: "object" } } }] }))).toEqual(["spec.versions"]);
  const unstructural = { type: "object", properties: { spec: { properties: { a: { type: "string" } } }, b: { type: "array" }, c: { type: "integer", default: "x" } } };
  expect(fields(crd({ versions: [{ name: "v1", served: true, storage: true, schema: { openAPIV3Schema: unstructural } }] }))).toEqual([
    "spec.versions[0].schema.openAPIV3Schema.properties[spec].type",
    "spec.versions[0].schema.openAPIV3Schema.properties[b].items",
    "spec.versions[0].schema.openAPIV3Schema.properties[c].default",
  ]);
  const badCel = { type: "object", "x-kubernetes-validations": [{ rule: "self.x >" }] };
  expect(fields(crd({ versions: [{ name: "v1", served: true, storage: true, schema: { openAPIV3Schema: badCel } }] }))).toEqual(["spec.versions[0].schema.openAPIV3Schema.x-kubernetes-validations[0].rule"]);
  const badCol = { name: "v1", served: true, storage: true, schema: { openAPIV3Schema: { type: "object" } }, additionalPrinterColumns: [{ name: "X", type: "float", jsonPath: ".a" }] };
  expect(fields(crd({ versions: [badCol] }))).toEqual(["spec.versions[0].additionalPrinterColumns[0].type"]);
  const badPath = { ...badCol, additionalPrinterColumns: [{ name: "X", type: "string", jsonPath: ".a[?(@.b ~ 1)]" }] };
  expect(fields(crd({ versions: [badPath] }))).toEqual(["spec.versions[0].additionalPrinterColumns[0].jsonPath"]);
  expect(fields(crd({ conversion: { strategy: "Webhook" } }))).toEqual(["spec.conversion.strategy"]);
  const dropped = { ...crd({ versions: [{ name: "v2", served: true, storage: true, schema: { openAPIV3Schema: { type: "object" } } }] }), status: { storedVersions: ["v1", "v2"] } };
  expect(fields(dropped)).toEqual(["status.storedVersions[0]"]);
});

test("a CRD becomes kinds: versions by priority, columns, scale, definition names", () => {
  expect(["v1alpha1", "v2", "v1beta1", "v1", "v10beta2", "foo"].sort(versionPriority)).toEqual(["v2", "v1", "v10beta2", "v1beta1", "v1alpha1", "foo"]);
  const rs = customResources(crd());
  expect(rs.map((r) => r.apiVersion)).toEqual(["test.io/v1", "test.io/v1beta1"]);
  const [v1, beta] = rs as [any, any];
  expect(v1.columns.map((c: any) => c.name)).toEqual(["Name", "Image", "Ready", "Age"]);
  expect(beta.columns.map((c: any) => c.name)).toEqual(["Name", "Age"]);
  expect(v1.subresources.scale.specReplicasPath).toBe(".spec.replicas");
  expect(beta.subresources).toBeUndefined();
  expect(v1.type.name).toBe("io.test.v1.Thing");
  const sel = customResources(crd({ versions: [{ name: "v1", served: true, storage: true, schema: { openAPIV3Schema: schema }, selectableFields: [{ jsonPath: ".spec.image" }] }] }))[0]!;
  expect(sel.fieldSelectors?.["spec.image"]?.({ spec: { image: "i" } })).toBe("i");
  const cells = v1.columns.map((c: any) => c.cell({ metadata: { name: "t", creationTimestamp: new Date(Date.now() - 120_000).toISOString() }, spec: { image: "img" }, status: { conditions: [{ type: "Ready", status: "True" }] } }, Date.now()));
  expect(cells).toEqual(["t", "img", "True", "2m"]);
  // Decoding type-checks metadata (400 material) and prunes by the schema.
  expect(v1.decode({ metadata: { name: 5 } }).errors).toHaveLength(1);
  const named = customResources(crd({ versions: [{ name: "v1", served: true, storage: true, schema: { openAPIV3Schema: { type: "object", properties: { metadata: { type: "object", properties: { name: { type: "string", maxLength: 3 } } } } } } }] }))[0]!;
  expect(named.validate!({ metadata: { name: "long" } }).map((e) => e.field)).toEqual(["metadata.name"]);
  const d = v1.decode({ metadata: { name: "t" }, spec: { image: "a", nope: 1 } });
  expect(d.unknownFields).toEqual(["spec.nope"]);
});

test("OpenAPI: the schema is published in v3, v2 and v2 protobuf, without strategic merge patch", () => {
  const rs = customResources(crd());
  const v3 = openapiV3(rs, "test.io", "v1");
  const def = v3.components.schemas["io.test.v1.Thing"];
  expect(def["x-kubernetes-group-version-kind"]).toEqual([{ group: "test.io", kind: "Thing", version: "v1" }]);
  expect(def.properties.metadata.allOf[0].$ref).toBe("#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");
  expect(def.properties.spec.properties.port.anyOf).toHaveLength(2);
  const patch = v3.paths["/apis/test.io/v1/namespaces/{namespace}/things/{name}"].patch;
  expect(Object.keys(patch.requestBody.content)).not.toContain("application/strategic-merge-patch+json");
  const v2 = openapiV2([...registry, ...rs]);
  expect(v2.definitions["io.test.v1.Thing"].properties.spec.properties.port.anyOf).toBeUndefined();
  expect(v2.definitions["io.test.v1.Thing"].properties.metadata.$ref).toBe("#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");
  expect(encodeOpenAPIv2(v2).byteLength).toBeGreaterThan(1000);
});

let dir: string | undefined;
let store: Store | undefined;
afterEach(() => {
  for (const n of ["things.test.io", "others.test.io", "pods.test.io"]) setCustomResources(n, []);
  store?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  store = dir = undefined;
});

test("the server decides CRD status: names accepted or in conflict, Established, stored versions; kinds are served once established", async () => {
  dir = mkdtempSync(join(tmpdir(), "skiff-crd-"));
  store = new Store({ dataDir: dir });
  const reg = newRegistry(store);
  await bootstrap(reg);
  const ctx = () => writeCtx(APISERVER_USER, "test");
  const CRD = findByKind("apiextensions.k8s.io/v1", "CustomResourceDefinition")!;
  const made = await reg.create(ctx(), CRD, undefined, crd());
  const cond = (o: any) => Object.fromEntries(o.status.conditions.map((c: any) => [c.type, c.status]));
  expect(cond(made)).toEqual({ NamesAccepted: "True", Established: "True" });
  expect(made.status.storedVersions).toEqual(["v1"]);
  expect(made.metadata.generation).toBe(1);
  await Bun.sleep(10);
  expect(findByPlural("test.io", "v1", "things")?.crd).toBe("things.test.io");
  // Another CRD claiming the same kind in the group is not accepted and not served.
  const clash = crd({ names: { plural: "others", singular: "other", kind: "Thing" } });
  clash.metadata.name = "others.test.io";
  const other = await reg.create(ctx(), CRD, undefined, clash);
  expect(cond(other)).toEqual({ NamesAccepted: "False", Established: "False" });
  expect(other.status.conditions.find((c: any) => c.type === "NamesAccepted")).toMatchObject({ reason: "KindConflict", message: '"Thing" is already in use' });
  expect(findByPlural("test.io", "v1", "others")).toBeUndefined();
  // Invalid custom resources are 422 through the registry too.
  const thing = findByPlural("test.io", "v1", "things")!;
  try {
    await reg.create(ctx(), thing, "default", { metadata: { name: "t" }, spec: { image: "UPPER" } });
    throw new Error("expected 422");
  } catch (e) {
    expect(e).toBeInstanceOf(ApiError);
    expect((e as ApiError).code).toBe(422);
  }
  const t = await reg.create(ctx(), thing, "default", { metadata: { name: "t" }, spec: { image: "ok" } });
  expect(t.spec.replicas).toBe(1);
});

test("schema patterns in Go syntax: escapes unicode mode refuses, (?i)", () => {
  const s: Schema = { type: "object", properties: { a: { type: "string", pattern: "^[a-z]+\\-[0-9]+$" }, b: { type: "string", pattern: "(?i)^abc$" } } };
  expect(validateValue(s, { a: "x-1", b: "ABC" }, [])).toEqual([]);
  expect(validateValue(s, { a: "x_1", b: "abd" }, []).map((e) => e.field)).toEqual(["a", "b"]);
  expect(validateCrd(crd({ versions: [{ name: "v1", served: true, storage: true, schema: { openAPIV3Schema: { type: "object", properties: { a: { type: "string", pattern: "([" } } } } }] })).map((e) => e.field)).toEqual([
    "spec.versions[0].schema.openAPIV3Schema.properties[a].pattern",
  ]);
});

test("after a snapshot install the served kinds follow the new state", async () => {
  dir = mkdtempSync(join(tmpdir(), "skiff-crd-"));
  store = new Store({ dataDir: dir });
  const reg = newRegistry(store);
  await bootstrap(reg);
  const before = join(dir, "before.db");
  store.state.snapshotTo(before);
  await reg.create(writeCtx(APISERVER_USER, "test"), findByKind("apiextensions.k8s.io/v1", "CustomResourceDefinition")!, undefined, crd());
  const after = join(dir, "after.db");
  store.state.snapshotTo(after);
  expect(findByPlural("test.io", "v1", "things")).toBeDefined();
  store.state.restoreFrom(before);
  await Bun.sleep(10);
  expect(findByPlural("test.io", "v1", "things")).toBeUndefined();
  store.state.restoreFrom(after);
  await Bun.sleep(10);
  expect(findByPlural("test.io", "v1", "things")).toBeDefined();
});

test("fuzzed custom resources (seed 20261207): stored or a 4xx ApiError, nothing else", async () => {
  const fc = await import("fast-check");
  dir = mkdtempSync(join(tmpdir(), "skiff-crd-"));
  store = new Store({ dataDir: dir });
  const reg = newRegistry(store);
  await bootstrap(reg);
  const ctx = () => writeCtx(APISERVER_USER, "test");
  await reg.create(ctx(), findByKind("apiextensions.k8s.io/v1", "CustomResourceDefinition")!, undefined, crd());
  const thing = findByPlural("test.io", "v1", "things")!;
  const { checked } = await import("../../server/registry/registry");
  let i = 0;
  const specs = fc.record({ image: fc.oneof(fc.string(), fc.integer(), fc.constant(null)), replicas: fc.jsonValue(), port: fc.jsonValue(), env: fc.jsonValue(), tags: fc.jsonValue(), free: fc.jsonValue(), tmpl: fc.jsonValue(), labels: fc.jsonValue() }, { requiredKeys: [] });
  await fc.assert(
    fc.asyncProperty(fc.oneof(specs, fc.jsonValue()), async (spec) => {
      try {
        const obj = checked(ctx(), thing, { apiVersion: "test.io/v1", kind: "Thing", metadata: { name: `f${i++}` }, spec });
        await reg.create(ctx(), thing, "default", obj);
      } catch (e) {
        if (!(e instanceof ApiError) || e.code < 400 || e.code >= 500) throw e;
      }
    }),
    { seed: 20261207, numRuns: 300 },
  );
});
