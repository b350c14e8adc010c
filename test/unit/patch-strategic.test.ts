import { describe, expect, test } from "bun:test";
import { PatchError, applyPatch } from "../../server/registry/patch/index";
import { Deploy, Pod } from "./patch-fixtures";

const smp = (live: any, patch: any, root = Pod) => applyPatch("strategic", live, patch, root);

const pod = () => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "p", labels: { app: "a", tier: "web" }, finalizers: ["x", "y"] },
  spec: {
    containers: [
      { name: "a", image: "a:1", ports: [{ containerPort: 80 }], env: [{ name: "E1", value: "1" }] },
      { name: "b", image: "b:1" },
    ],
  },
});

describe("strategic merge patch", () => {
  test("merges containers by name and keeps the others", () => {
    const out = smp(pod(), { spec: { containers: [{ name: "b", image: "b:2" }] } });
    expect(out.spec.containers).toEqual([
      { name: "a", image: "a:1", ports: [{ containerPort: 80 }], env: [{ name: "E1", value: "1" }] },
      { name: "b", image: "b:2" },
    ]);
  });
  test("appends new items, merges nested keyed lists", () => {
    const out = smp(pod(), {
      spec: { containers: [{ name: "a", env: [{ name: "E2", value: "2" }], ports: [{ containerPort: 443 }] }, { name: "c", image: "c:1" }] },
    });
    // Kubernetes' normalizeElementOrder puts new patch items before the remaining server-only ones.
    expect(out.spec.containers.map((c: any) => c.name)).toEqual(["a", "c", "b"]);
    expect(out.spec.containers[0].env).toEqual([{ name: "E2", value: "2" }, { name: "E1", value: "1" }]);
    expect(out.spec.containers[0].ports).toEqual([{ containerPort: 443 }, { containerPort: 80 }]);
  });
  test("non-merge lists replace", () => {
    const live = pod();
    (live.spec.containers[0] as any).args = ["1", "2"];
    const out = smp(live, { spec: { containers: [{ name: "a", args: ["3"] }] } });
    expect(out.spec.containers[0].args).toEqual(["3"]);
  });
  test("null deletes map keys and fields", () => {
    const out = smp(pod(), { metadata: { labels: { tier: null, new: "1" } }, spec: { containers: [{ name: "a", ports: null }] } });
    expect(out.metadata.labels).toEqual({ app: "a", new: "1" });
    expect(out.spec.containers[0].ports).toBeUndefined();
  });
  test("$patch: delete in a list removes the item", () => {
    const out = smp(pod(), { spec: { containers: [{ name: "a", $patch: "delete" }] } });
    expect(out.spec.containers).toEqual([{ name: "b", image: "b:1" }]);
  });
  test("$patch: replace in a list replaces the list", () => {
    const out = smp(pod(), { spec: { containers: [{ name: "z", image: "z" }, { $patch: "replace" }] } });
    expect(out.spec.containers).toEqual([{ name: "z", image: "z" }]);
  });
  test("$patch: replace / delete in a map", () => {
    expect(smp(pod(), { metadata: { labels: { $patch: "replace", only: "me" } } }).metadata.labels).toEqual({ only: "me" });
    expect(smp(pod(), { metadata: { labels: { $patch: "delete" } } }).metadata.labels).toEqual({});
  });
  test("primitive merge lists merge as sets", () => {
    expect(smp(pod(), { metadata: { finalizers: ["y", "z"] } }).metadata.finalizers).toEqual(["x", "y", "z"]);
  });
  test("$deleteFromPrimitiveList/finalizers", () => {
    expect(smp(pod(), { metadata: { "$deleteFromPrimitiveList/finalizers": ["x"] } }).metadata.finalizers).toEqual(["y"]);
    expect(smp(pod(), { metadata: { "$deleteFromPrimitiveList/nothere": ["x"] } }).metadata).not.toHaveProperty("nothere");
  });
  test("$setElementOrder orders merged lists", () => {
    const out = smp(pod(), {
      spec: { "$setElementOrder/containers": [{ name: "b" }, { name: "c" }, { name: "a" }], containers: [{ name: "c", image: "c:1" }] },
    });
    expect(out.spec.containers.map((c: any) => c.name)).toEqual(["b", "c", "a"]);
    const fin = smp(pod(), { metadata: { "$setElementOrder/finalizers": ["y", "x"] } });
    expect(fin.metadata.finalizers).toEqual(["y", "x"]);
  });
  test("server-only items keep their place relative to patch items", () => {
    const live = { spec: { containers: [{ name: "a" }, { name: "s" }, { name: "b" }] } };
    const out = smp(live, { spec: { "$setElementOrder/containers": [{ name: "b" }, { name: "a" }] } });
    // Kubernetes' mergeSortedSlice: s came before b on the server, so it stays in front of it.
    expect(out.spec.containers.map((c: any) => c.name)).toEqual(["s", "b", "a"]);
  });
  test("kubectl apply 3-way patch removing a container", () => {
    const live = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "d" },
      spec: { replicas: 1, template: { spec: { containers: [{ name: "a", image: "a" }, { name: "b", image: "b" }] } } },
    };
    const patch = { spec: { template: { spec: { $setElementOrder$: undefined, "$setElementOrder/containers": [{ name: "a" }], containers: [{ $patch: "delete", name: "b" }] } } } };
    delete (patch.spec.template.spec as any).$setElementOrder$;
    const out = smp(live, patch, Deploy);
    expect(out.spec.template.spec.containers).toEqual([{ name: "a", image: "a" }]);
    expect(out.spec.replicas).toBe(1);
  });
  test("kubectl apply 3-way patch changing an image and adding a container", () => {
    const live = { spec: { template: { spec: { containers: [{ name: "a", image: "a:1" }] } } } };
    const patch = {
      spec: { template: { spec: { "$setElementOrder/containers": [{ name: "n" }, { name: "a" }], containers: [{ name: "n", image: "n" }, { name: "a", image: "a:2" }] } } },
    };
    expect(smp(live, patch, Deploy).spec.template.spec.containers).toEqual([{ name: "n", image: "n" }, { name: "a", image: "a:2" }]);
  });
  test("$retainKeys clears keys not listed (volume source switch)", () => {
    const live = { spec: { volumes: [{ name: "v", hostPath: { path: "/x" } }] } };
    const out = smp(live, { spec: { volumes: [{ name: "v", $retainKeys: ["emptyDir", "name"], emptyDir: {} }] } });
    expect(out.spec.volumes).toEqual([{ name: "v", emptyDir: {} }]);
    const strat = smp({ spec: { strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "1" } } } }, { spec: { strategy: { $retainKeys: ["type"], type: "Recreate" } } });
    expect(strat.spec.strategy).toEqual({ type: "Recreate" });
    expect(() => smp(live, { spec: { strategy: { $retainKeys: ["type"], rollingUpdate: {} } } })).toThrow(PatchError);
  });
  test("rollout restart annotation patch", () => {
    const live = { spec: { template: { metadata: { labels: { app: "x" } }, spec: { containers: [{ name: "a" }] } } } };
    const out = smp(live, { spec: { template: { metadata: { annotations: { "kubectl.kubernetes.io/restartedAt": "now" } } } } }, Deploy);
    expect(out.spec.template.metadata).toEqual({ labels: { app: "x" }, annotations: { "kubectl.kubernetes.io/restartedAt": "now" } });
  });
  test("directives never land in the object for new fields", () => {
    const out = smp({ spec: {} }, { spec: { containers: [{ name: "a", env: [{ name: "x", $patch: "delete" }] }], "$setElementOrder/containers": [{ name: "a" }] } });
    expect(out.spec.containers).toEqual([{ name: "a", env: [] }]);
  });
  test("list item without merge key is 422; unknown kinds are 415", () => {
    expect(() => smp(pod(), { spec: { containers: [{ image: "x" }] } })).toThrow(PatchError);
    try {
      applyPatch("strategic", pod(), { spec: {} }, undefined);
      throw new Error("no");
    } catch (e) {
      expect((e as PatchError).code).toBe(415);
      expect((e as PatchError).reason).toBe("UnsupportedMediaType");
    }
  });
  test("does not mutate live or patch", () => {
    const live = pod();
    const patch = { spec: { containers: [{ name: "a", $patch: "delete" }] } };
    smp(live, patch);
    expect(live).toEqual(pod());
    expect(patch).toEqual({ spec: { containers: [{ name: "a", $patch: "delete" }] } });
  });
});

import fc from "fast-check";

describe("strategic merge patch robustness", () => {
  test("arbitrary patches give an object or a PatchError", () => {
    const json = fc.jsonValue({ maxDepth: 3 });
    const key = fc.constantFrom("metadata", "spec", "containers", "name", "image", "labels", "finalizers", "$patch", "$retainKeys", "$setElementOrder/containers", "$deleteFromPrimitiveList/finalizers", "ports", "x");
    const tree: fc.Arbitrary<any> = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: "small" }, json, fc.dictionary(key, tie("node"), { maxKeys: 4 }), fc.array(tie("node"), { maxLength: 3 })),
    })).node;
    fc.assert(
      fc.property(tree, tree, (live, patch) => {
        try {
          const out = applyPatch("strategic", live, patch, Pod);
          expect(typeof out).toBe("object");
        } catch (e) {
          if (!(e instanceof PatchError)) throw e;
        }
      }),
      { numRuns: 1000 },
    );
  });
});
