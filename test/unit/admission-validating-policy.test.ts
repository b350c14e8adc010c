// ValidatingAdmissionPolicy through the registry: CEL validations with message and
// messageExpression, validationActions Deny / Warn / Audit, matchConstraints (rules,
// resourceNames, namespaceSelector, exclusions), binding matchResources, variables,
// matchConditions, paramKind + paramRef (name, selector, parameterNotFoundAction),
// failurePolicy, auditAnnotations, and policies that cannot compile refused with 422.
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findByKind } from "../../schemas/registry";
import { bootstrap } from "../../server/bootstrap";
import type { ApiError } from "../../server/errors";
import { APISERVER_USER, writeCtx, type WriteCtx } from "../../server/registry/ctx";
import { newRegistry } from "../../server/registry/index";
import type { Registry } from "../../server/registry/registry";
import { Store } from "../../server/store/store";

const kind = (apiVersion: string, k: string) => findByKind(apiVersion, k)!;
const VAP = kind("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy");
const VAPB = kind("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding");
const DEPLOY = kind("apps/v1", "Deployment");
const CM = kind("v1", "ConfigMap");
const NS = kind("v1", "Namespace");
let dir: string;
let store: Store;
let reg: Registry;
afterEach(() => {
  store?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function setup(): Promise<void> {
  dir = mkdtempSync(join(tmpdir(), "skiff-vap-"));
  store = new Store({ dataDir: dir });
  reg = newRegistry(store);
  await bootstrap(reg);
}

const ctx = (): WriteCtx => ({ ...writeCtx(APISERVER_USER, "t"), audit: { annotations: {} } });
const refusal = (p: Promise<unknown>) => p.then(() => undefined, (e: ApiError) => [e.code, e.message]);
const policy = (name: string, spec: any) => reg.create(ctx(), VAP, undefined, { metadata: { name }, spec });
const binding = (name: string, policyName: string, validationActions: string[], extra: any = {}) => reg.create(ctx(), VAPB, undefined, { metadata: { name }, spec: { policyName, validationActions, ...extra } });
const deployment = (name: string, replicas: number, ns = "default", labels: any = {}) => ({
  metadata: { name, namespace: ns, labels },
  spec: { replicas, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: "c", image: "x" }] } } },
});
const deployRules = { resourceRules: [{ apiGroups: ["apps"], apiVersions: ["v1"], operations: ["CREATE", "UPDATE"], resources: ["deployments"] }] };

test("Deny refuses with upstream's message (message, messageExpression, default), Warn warns, Audit annotates", async () => {
  await setup();
  await policy("max-replicas", {
    matchConstraints: deployRules,
    variables: [{ name: "limit", expression: "5" }],
    validations: [
      { expression: "object.spec.replicas <= variables.limit", messageExpression: "'replicas must be at most 5, got ' + string(object.spec.replicas)" },
      { expression: "!object.metadata.name.startsWith('bad')", message: "no bad names", reason: "Forbidden" },
      { expression: "object.metadata.name.size() < 20" },
    ],
    auditAnnotations: [{ key: "replicas", valueExpression: "string(object.spec.replicas)" }],
  });
  await binding("max-replicas-deny", "max-replicas", ["Deny"]);
  expect(await refusal(reg.create(ctx(), DEPLOY, "default", deployment("big", 6)))).toEqual([422, "ValidatingAdmissionPolicy 'max-replicas' with binding 'max-replicas-deny' denied request: replicas must be at most 5, got 6"]);
  expect(await refusal(reg.create(ctx(), DEPLOY, "default", deployment("bad-one", 1)))).toEqual([403, "ValidatingAdmissionPolicy 'max-replicas' with binding 'max-replicas-deny' denied request: no bad names"]);
  expect(await refusal(reg.create(ctx(), DEPLOY, "default", deployment("a-very-long-deployment-name", 1)))).toEqual([422, "ValidatingAdmissionPolicy 'max-replicas' with binding 'max-replicas-deny' denied request: failed expression: object.metadata.name.size() < 20"]);
  const c = ctx();
  await reg.create(c, DEPLOY, "default", deployment("ok", 5));
  expect(c.audit!.annotations["max-replicas/replicas"]).toBe("5");
  // Updates are judged too.
  const cur = store.get("apps/deployments", "default", "ok")!.obj;
  expect(await refusal(reg.update(ctx(), DEPLOY, "default", "ok", () => ({ ...cur, spec: { ...cur.spec, replicas: 9 } })))).toEqual([422, "ValidatingAdmissionPolicy 'max-replicas' with binding 'max-replicas-deny' denied request: replicas must be at most 5, got 9"]);

  await reg.delete(ctx(), VAPB, "", "max-replicas-deny", {});
  await binding("max-replicas-warn", "max-replicas", ["Warn", "Audit"]);
  const w = ctx();
  await reg.create(w, DEPLOY, "default", deployment("big", 7));
  expect(w.warnings).toEqual(["Validation failed for ValidatingAdmissionPolicy 'max-replicas' with binding 'max-replicas-warn': replicas must be at most 5, got 7"]);
  expect(JSON.parse(w.audit!.annotations["validation.policy.admission.k8s.io/validation_failure"]!)).toEqual([
    { message: "replicas must be at most 5, got 7", policy: "max-replicas", binding: "max-replicas-warn", expressionIndex: 0, validationActions: ["Warn", "Audit"] },
  ]);
});

test("matchConstraints, resourceNames, exclusions, namespaceSelector, binding matchResources and matchConditions narrow what is judged", async () => {
  await setup();
  await reg.create(ctx(), NS, undefined, { metadata: { name: "prod", labels: { env: "prod" } } });
  await policy("no-data", {
    matchConstraints: {
      resourceRules: [{ apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["configmaps"] }],
      excludeResourceRules: [{ apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["configmaps"], resourceNames: ["allowed"] }],
    },
    matchConditions: [{ name: "not-exempt", expression: "!has(object.metadata.labels) || !('exempt' in object.metadata.labels)" }],
    validations: [{ expression: "!has(object.data)", message: "no data here" }],
  });
  await binding("no-data-prod", "no-data", ["Deny"], { matchResources: { namespaceSelector: { matchLabels: { env: "prod" } } } });
  const cm = (name: string, ns: string, labels: any = {}) => reg.create(ctx(), CM, ns, { metadata: { name, namespace: ns, labels }, data: { a: "b" } });
  expect((await refusal(cm("x", "prod")))?.[1]).toBe("ValidatingAdmissionPolicy 'no-data' with binding 'no-data-prod' denied request: no data here");
  await cm("x", "default");
  await cm("allowed", "prod");
  await cm("labelled", "prod", { exempt: "yes" });
  // Deployments are not in the rules.
  await reg.create(ctx(), DEPLOY, "prod", deployment("d", 1, "prod"));
});

test("params: by name, by selector, parameterNotFoundAction, and failurePolicy on a broken expression", async () => {
  await setup();
  await reg.create(ctx(), CM, "default", { metadata: { name: "limits", namespace: "default", labels: { kind: "limit" } }, data: { max: "3" } });
  await policy("replica-param", {
    paramKind: { apiVersion: "v1", kind: "ConfigMap" },
    matchConstraints: deployRules,
    validations: [{ expression: "object.spec.replicas <= int(params.data.max)", messageExpression: "'at most ' + params.data.max" }],
  });
  await binding("by-name", "replica-param", ["Deny"], { paramRef: { name: "limits", namespace: "default", parameterNotFoundAction: "Deny" } });
  expect((await refusal(reg.create(ctx(), DEPLOY, "default", deployment("four", 4))))?.[1]).toBe("ValidatingAdmissionPolicy 'replica-param' with binding 'by-name' denied request: at most 3");
  await reg.create(ctx(), DEPLOY, "default", deployment("three", 3));
  await reg.delete(ctx(), VAPB, "", "by-name", {});
  await binding("missing", "replica-param", ["Deny"], { paramRef: { name: "nope", namespace: "default", parameterNotFoundAction: "Deny" } });
  expect((await refusal(reg.create(ctx(), DEPLOY, "default", deployment("one", 1))))?.[1]).toBe("ValidatingAdmissionPolicy 'replica-param' with binding 'missing' denied request: no params found for policy binding with `Deny` parameterNotFoundAction");
  await reg.delete(ctx(), VAPB, "", "missing", {});
  await binding("missing-allow", "replica-param", ["Deny"], { paramRef: { selector: { matchLabels: { kind: "other" } }, parameterNotFoundAction: "Allow" } });
  await reg.create(ctx(), DEPLOY, "default", deployment("one", 1));
  await reg.delete(ctx(), VAPB, "", "missing-allow", {});
  await binding("by-selector", "replica-param", ["Deny"], { paramRef: { selector: { matchLabels: { kind: "limit" } }, parameterNotFoundAction: "Deny" } });
  expect((await refusal(reg.create(ctx(), DEPLOY, "default", deployment("five", 5))))?.[0]).toBe(422);

  // An expression that fails at run time: Fail refuses, Ignore admits.
  await policy("broken", { matchConstraints: { resourceRules: [{ apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["configmaps"] }] }, validations: [{ expression: "object.data.missing == 'x'" }] });
  await binding("broken", "broken", ["Deny"]);
  expect((await refusal(reg.create(ctx(), CM, "default", { metadata: { name: "c1", namespace: "default" }, data: { a: "b" } })))?.[1]).toStartWith("ValidatingAdmissionPolicy 'broken' with binding 'broken' denied request: expression 'object.data.missing == 'x'' resulted in error: ");
  const cur = store.get("admissionregistration.k8s.io/validatingadmissionpolicies", "", "broken")!.obj;
  await reg.update(ctx(), VAP, "", "broken", () => ({ ...cur, spec: { ...cur.spec, failurePolicy: "Ignore" } }));
  await reg.create(ctx(), CM, "default", { metadata: { name: "c1", namespace: "default" }, data: { a: "b" } });
});

test("policies and bindings are validated: CEL that does not compile, missing rules, Deny with Warn", async () => {
  await setup();
  const e = (await refusal(policy("bad", { matchConstraints: deployRules, validations: [{ expression: "object.spec.replicas <=" }] }))) as [number, string];
  expect(e[0]).toBe(422);
  expect(e[1]).toContain("spec.validations[0].expression: Invalid value");
  expect(e[1]).toContain("compilation failed");
  expect(((await refusal(policy("norules", { validations: [{ expression: "true" }] }))) as [number, string])[1]).toContain("spec.matchConstraints: Required value");
  expect(((await refusal(policy("nothing", { matchConstraints: deployRules }))) as [number, string])[1]).toContain("spec.validations: Required value");
  expect(((await refusal(binding("b", "p", ["Deny", "Warn"]))) as [number, string])[1]).toContain("must not contain both Deny and Warn");
  expect(((await refusal(binding("b", "p", []))) as [number, string])[1]).toContain("spec.validationActions: Required value");
  // Defaults as upstream.
  const p = await policy("ok", { matchConstraints: deployRules, validations: [{ expression: "true" }] });
  expect(p.spec.failurePolicy).toBe("Fail");
  expect(p.spec.matchConstraints).toMatchObject({ matchPolicy: "Equivalent", namespaceSelector: {}, objectSelector: {} });
});
