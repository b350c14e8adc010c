import { describe, expect, test } from "bun:test";
import { PatchError, recordUpdate, serverSideApply } from "../../server/registry/patch/index";
import { Deploy, Pod } from "./patch-fixtures";

const T1 = "2024-01-01T00:00:00Z";
const T2 = "2024-01-02T00:00:00Z";
const apply = (live: any, cfg: any, manager = "kubectl", force = false, root = Deploy) =>
  serverSideApply(live, cfg, { manager, force, apiVersion: "apps/v1", now: T2, root });

const deploy = (extra: any = {}) => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "web", namespace: "default", labels: { app: "web" }, ...extra.metadata },
  spec: {
    replicas: 2,
    template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "nginx", image: "nginx:1" }] } },
    ...extra.spec,
  },
});

function conflict(f: () => unknown): PatchError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(PatchError);
    return e as PatchError;
  }
  throw new Error("expected a conflict");
}

describe("server-side apply", () => {
  test("create records the applied fields", () => {
    const out = serverSideApply(undefined, deploy(), { manager: "kubectl", force: false, apiVersion: "apps/v1", now: T1, root: Deploy });
    expect(out.spec.replicas).toBe(2);
    expect(out.metadata.managedFields).toEqual([
      {
        manager: "kubectl",
        operation: "Apply",
        apiVersion: "apps/v1",
        time: T1,
        fieldsType: "FieldsV1",
        fieldsV1: {
          "f:metadata": { "f:labels": { "f:app": {} } },
          "f:spec": {
            "f:replicas": {},
            "f:template": {
              "f:metadata": { "f:labels": { "f:app": {} } },
              "f:spec": { "f:containers": { 'k:{"name":"nginx"}': { ".": {}, "f:image": {}, "f:name": {} } } },
            },
          },
        },
      },
    ]);
  });

  test("re-applying the same configuration changes nothing (not even the time)", () => {
    const live = serverSideApply(undefined, deploy(), { manager: "kubectl", force: false, apiVersion: "apps/v1", now: T1, root: Deploy });
    const again = apply(live, deploy());
    expect(again).toEqual(live);
  });

  test("removing a label from the configuration removes it from the object", () => {
    const live = apply(undefined, deploy({ metadata: { labels: { app: "web", tier: "fe" } } }));
    expect(live.metadata.labels).toEqual({ app: "web", tier: "fe" });
    const out = apply(live, deploy());
    expect(out.metadata.labels).toEqual({ app: "web" });
    expect(out.metadata.managedFields[0].fieldsV1["f:metadata"]).toEqual({ "f:labels": { "f:app": {} } });
  });

  test("removing a container from the configuration removes it; fields others own stay", () => {
    const two = deploy();
    two.spec.template.spec.containers.push({ name: "side", image: "side:1" });
    const live = apply(undefined, two);
    const out = apply(live, deploy());
    expect(out.spec.template.spec.containers).toEqual([{ name: "nginx", image: "nginx:1" }]);

    // another manager also sets the label: dropping it from kubectl's config keeps it
    const withLabel = apply(undefined, deploy({ metadata: { labels: { app: "web", tier: "fe" } } }));
    const other = apply(withLabel, { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web", labels: { tier: "fe" } } }, "helm");
    const dropped = apply(other, deploy());
    expect(dropped.metadata.labels).toEqual({ app: "web", tier: "fe" });
  });

  test("two appliers setting different values conflict (409) with the Kubernetes message", () => {
    const live = apply(undefined, deploy());
    const e = conflict(() => apply(live, deploy({ spec: { replicas: 5 } }), "other"));
    expect(e.code).toBe(409);
    expect(e.reason).toBe("Conflict");
    expect(e.message).toBe('Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas');
    expect(e.causes).toEqual([{ type: "FieldManagerConflict", message: 'conflict with "kubectl"', field: ".spec.replicas" }]);
    // the same value is no conflict: ownership becomes shared
    const shared = apply(live, deploy(), "other");
    expect(shared.metadata.managedFields.map((m: any) => m.manager).sort()).toEqual(["kubectl", "other"]);
  });

  test("several conflicts are listed per manager", () => {
    const live = apply(undefined, deploy());
    const cfg = deploy({ spec: { replicas: 5 } });
    cfg.spec.template.spec.containers[0]!.image = "nginx:2";
    const e = conflict(() => apply(live, cfg, "other"));
    expect(e.message).toBe(
      'Apply failed with 2 conflicts: conflicts with "kubectl":\n- .spec.replicas\n- .spec.template.spec.containers[name="nginx"].image',
    );
  });

  test("force takes ownership", () => {
    const live = apply(undefined, deploy());
    const out = apply(live, deploy({ spec: { replicas: 5 } }), "other", true);
    expect(out.spec.replicas).toBe(5);
    const kubectl = out.metadata.managedFields.find((m: any) => m.manager === "kubectl");
    const other = out.metadata.managedFields.find((m: any) => m.manager === "other");
    expect(kubectl.fieldsV1["f:spec"]["f:replicas"]).toBeUndefined();
    expect(other.fieldsV1["f:spec"]["f:replicas"]).toEqual({});
    // kubectl now no longer owns replicas: re-applying its old value conflicts with "other"
    const e = conflict(() => apply(out, deploy()));
    expect(e.message).toBe('Apply failed with 1 conflict: conflict with "other": .spec.replicas');
  });

  test("an Update manager owns what it changed; apply then conflicts with it", () => {
    const live = apply(undefined, deploy());
    const scaled = structuredClone(live);
    scaled.spec.replicas = 3;
    scaled.metadata.managedFields = recordUpdate(live, scaled, { manager: "kubectl-scale", apiVersion: "apps/v1", now: T2, root: Deploy });
    const mf = scaled.metadata.managedFields;
    expect(mf.map((m: any) => [m.manager, m.operation])).toEqual([
      ["kubectl", "Apply"],
      ["kubectl-scale", "Update"],
    ]);
    expect(mf[1].fieldsV1).toEqual({ "f:spec": { "f:replicas": {} } });
    expect(mf[0].fieldsV1["f:spec"]["f:replicas"]).toBeUndefined();
    const e = conflict(() => apply(scaled, deploy()));
    expect(e.message).toBe('Apply failed with 1 conflict: conflict with "kubectl-scale" using apps/v1: .spec.replicas');
    // leaving replicas out of the configuration gives way to the other manager
    const cfg = deploy();
    delete (cfg.spec as any).replicas;
    const out = apply(scaled, cfg);
    expect(out.spec.replicas).toBe(3);
  });

  test("objects without managedFields belong to before-first-apply", () => {
    const e = conflict(() => apply(deploy(), deploy({ spec: { replicas: 9 } })));
    expect(e.message).toBe('Apply failed with 1 conflict: conflict with "before-first-apply" using apps/v1: .spec.replicas');
  });

  test("status is ignored by a main-resource apply", () => {
    const out = serverSideApply(undefined, { apiVersion: "v1", kind: "Pod", metadata: { name: "p" }, status: { phase: "Running" } }, {
      manager: "m",
      force: false,
      apiVersion: "v1",
      now: T1,
      root: Pod,
    });
    expect(out.status).toBeUndefined();
    const st = serverSideApply(out, { apiVersion: "v1", kind: "Pod", metadata: { name: "p" }, status: { phase: "Running" } }, {
      manager: "kubelet",
      force: false,
      apiVersion: "v1",
      now: T1,
      root: Pod,
      subresource: "status",
    });
    expect(st.status).toEqual({ phase: "Running" });
    expect(st.metadata.managedFields.find((m: any) => m.manager === "kubelet").subresource).toBe("status");
  });

  test("list-map keys use defaults, sets use v:, atomic lists are leaves", () => {
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "p", finalizers: ["a/b"] },
      spec: { containers: [{ name: "c", args: ["x"], ports: [{ containerPort: 80 }] }] },
    };
    const out = serverSideApply(undefined, pod, { manager: "m", force: false, apiVersion: "v1", now: T1, root: Pod });
    expect(out.metadata.managedFields[0].fieldsV1).toEqual({
      "f:metadata": { "f:finalizers": { 'v:"a/b"': {} } },
      "f:spec": {
        "f:containers": {
          'k:{"name":"c"}': {
            ".": {},
            "f:args": {},
            "f:name": {},
            "f:ports": { 'k:{"containerPort":80,"protocol":"TCP"}': { ".": {}, "f:containerPort": {} } },
          },
        },
      },
    });
    // the live object got defaulted; applying the undefaulted config again matches the same item
    out.spec.containers[0].ports[0].protocol = "TCP";
    const again = serverSideApply(out, pod, { manager: "m", force: false, apiVersion: "v1", now: T2, root: Pod });
    expect(again.spec.containers[0].ports).toEqual([{ containerPort: 80, protocol: "TCP" }]);
  });

  test("merged list order follows the configuration, live-only items stay in place", () => {
    const live = apply(undefined, deploy());
    const withSide = structuredClone(live);
    withSide.spec.template.spec.containers.push({ name: "injected", image: "i" });
    withSide.metadata.managedFields = recordUpdate(live, withSide, { manager: "injector", apiVersion: "apps/v1", now: T2, root: Deploy });
    const cfg = deploy();
    cfg.spec.template.spec.containers.unshift({ name: "first", image: "f" });
    const out = apply(withSide, cfg);
    expect(out.spec.template.spec.containers.map((c: any) => c.name)).toEqual(["first", "nginx", "injected"]);
  });

  test("unknown kinds (no schema): maps merge, lists are atomic", () => {
    const cr = { apiVersion: "x.io/v1", kind: "Thing", metadata: { name: "t" }, spec: { a: 1, list: [1, 2], nested: { b: 1 } } };
    const live = serverSideApply(undefined, cr, { manager: "m", force: false, apiVersion: "x.io/v1", now: T1, root: undefined });
    const out = serverSideApply(live, { ...cr, spec: { list: [3], nested: { c: 2 } } }, { manager: "m", force: false, apiVersion: "x.io/v1", now: T1, root: undefined });
    expect(out.spec).toEqual({ list: [3], nested: { c: 2 } });
  });

  test("rejects managedFields in the configuration", () => {
    expect(() => apply(undefined, { ...deploy(), metadata: { name: "x", managedFields: [] } })).toThrow(PatchError);
  });
});

describe("recordUpdate", () => {
  const cm = (data: Record<string, string>) => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", namespace: "d", resourceVersion: "1", uid: "u" }, data });

  test("create gives every field to the creator", () => {
    const mf = recordUpdate(undefined, cm({ a: "1" }), { manager: "kubectl-create", apiVersion: "v1", now: T1, root: undefined });
    expect(mf).toEqual([
      { manager: "kubectl-create", operation: "Update", apiVersion: "v1", time: T1, fieldsType: "FieldsV1", fieldsV1: { "f:data": { ".": {}, "f:a": {} } } },
    ]);
  });

  test("changes move ownership; removed fields leave every set; empty entries vanish", () => {
    const v1 = cm({ a: "1", b: "2" });
    (v1.metadata as any).managedFields = recordUpdate(undefined, v1, { manager: "alice", apiVersion: "v1", now: T1, root: undefined });
    const v2 = structuredClone(v1);
    v2.data.a = "changed";
    (v2.metadata as any).managedFields = recordUpdate(v1, v2, { manager: "bob", apiVersion: "v1", now: T2, root: undefined });
    expect((v2.metadata as any).managedFields.map((m: any) => [m.manager, m.fieldsV1])).toEqual([
      ["alice", { "f:data": { ".": {}, "f:b": {} } }],
      ["bob", { "f:data": { "f:a": {} } }],
    ]);
    const v3 = structuredClone(v2);
    delete (v3.data as any).a;
    const mf3 = recordUpdate(v2, v3, { manager: "carol", apiVersion: "v1", now: T2, root: undefined });
    expect(mf3.map((m: any) => m.manager)).toEqual(["alice"]);
  });

  test("a write that changes nothing leaves managedFields as they were", () => {
    const v1 = cm({ a: "1" });
    const mf = recordUpdate(undefined, v1, { manager: "alice", apiVersion: "v1", now: T1, root: undefined });
    (v1.metadata as any).managedFields = mf;
    const v2 = structuredClone(v1);
    v2.metadata.resourceVersion = "2";
    expect(recordUpdate(v1, v2, { manager: "bob", apiVersion: "v1", now: T2, root: undefined })).toEqual(mf);
  });

  test("a request may reset managedFields with [{}]", () => {
    const v1 = cm({ a: "1" });
    (v1.metadata as any).managedFields = recordUpdate(undefined, v1, { manager: "alice", apiVersion: "v1", now: T1, root: undefined });
    const v2: any = structuredClone(v1);
    v2.metadata.managedFields = [{}];
    expect(recordUpdate(v1, v2, { manager: "bob", apiVersion: "v1", now: T2, root: undefined })).toEqual([]);
  });
});

describe("server-side apply system metadata", () => {
  test("creationTimestamp: null in the configuration does not erase the live value", () => {
    const live = serverSideApply(undefined, deploy(), { manager: "kubectl", force: false, apiVersion: "apps/v1", now: T1, root: Deploy });
    live.metadata.creationTimestamp = T1;
    live.metadata.uid = "u1";
    const cfg: any = deploy();
    cfg.metadata.creationTimestamp = null;
    const out = apply(live, cfg);
    expect(out.metadata.creationTimestamp).toBe(T1);
    expect(out.metadata.uid).toBe("u1");
    expect(out).toEqual(live);
  });
});

import fc from "fast-check";

describe("server-side apply robustness", () => {
  test("arbitrary objects: apply and recordUpdate never crash and keep sets consistent", () => {
    const json = fc.jsonValue({ maxDepth: 2 });
    const key = fc.constantFrom("metadata", "spec", "containers", "name", "image", "labels", "finalizers", "ports", "containerPort", "args", "x", "status");
    const tree: fc.Arbitrary<any> = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: "small" }, json, fc.dictionary(key, tie("node"), { maxKeys: 4 }), fc.array(tie("node"), { maxLength: 3 })),
    })).node;
    const obj = fc.dictionary(key, tree, { maxKeys: 4 });
    fc.assert(
      fc.property(obj, obj, obj, fc.boolean(), (a, b, c, force) => {
        for (const root of [Pod, undefined]) {
          try {
            const live = serverSideApply(undefined, a, { manager: "m1", force, apiVersion: "v1", now: T1, root });
            const l2 = serverSideApply(live, b, { manager: "m2", force, apiVersion: "v1", now: T1, root });
            const l3: any = structuredClone(l2);
            l3.c = c;
            recordUpdate(l2, l3, { manager: "m3", apiVersion: "v1", now: T2, root });
            serverSideApply(l2, a, { manager: "m1", force: true, apiVersion: "v1", now: T2, root });
          } catch (e) {
            if (!(e instanceof PatchError)) throw e;
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
