// The patch engines against the real Pod/Deployment types of the registry.
import { describe, expect, test } from "bun:test";
import { PatchError, applyPatch, recordUpdate, serverSideApply } from "../../server/registry/patch/index";

// The registry is being filled in by other work; skip (rather than fail) while it does not load.
const reg = await import("../../schemas/registry").catch(() => undefined);
const DeployTy = reg?.findByKind("apps/v1", "Deployment")?.type;
const PodTy = reg?.findByKind("v1", "Pod")?.type;
const ready = !!DeployTy && !!PodTy;

const deploy = () => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "web", namespace: "default", labels: { app: "web" } },
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: "web" } },
    template: {
      metadata: { labels: { app: "web" } },
      spec: {
        containers: [
          { name: "a", image: "a:1", ports: [{ containerPort: 80 }], env: [{ name: "X", value: "1" }] },
          { name: "b", image: "b:1" },
        ],
      },
    },
  },
});

describe.skipIf(!ready)("real kinds", () => {
  test("kubectl apply 3-way patch removing a container from a Deployment", () => {
    const patch = { spec: { template: { spec: { "$setElementOrder/containers": [{ name: "a" }], containers: [{ $patch: "delete", name: "b" }] } } } };
    const out = applyPatch("strategic", deploy(), patch, DeployTy);
    expect(out.spec.template.spec.containers.map((c: any) => c.name)).toEqual(["a"]);
  });

  test("SMP merges ports and env of a real container; strategy retainKeys", () => {
    const out = applyPatch(
      "strategic",
      deploy(),
      {
        spec: {
          strategy: { $retainKeys: ["type"], type: "Recreate" },
          template: { spec: { containers: [{ name: "a", ports: [{ containerPort: 443 }], env: [{ name: "X", value: "2" }] }] } },
        },
      },
      DeployTy,
    );
    const a = out.spec.template.spec.containers[0];
    expect(a.ports.map((p: any) => p.containerPort).sort()).toEqual([443, 80]);
    expect(a.env).toEqual([{ name: "X", value: "2" }]);
    expect(out.spec.strategy).toEqual({ type: "Recreate" });
  });

  test("SMP on pod finalizers and labels", () => {
    const pod = { apiVersion: "v1", kind: "Pod", metadata: { name: "p", finalizers: ["a", "b"], labels: { x: "1" } }, spec: { containers: [{ name: "c" }] } };
    const out = applyPatch("strategic", pod, { metadata: { "$deleteFromPrimitiveList/finalizers": ["a"], labels: { x: null, y: "2" } } }, PodTy);
    expect(out.metadata.finalizers).toEqual(["b"]);
    expect(out.metadata.labels).toEqual({ y: "2" });
  });

  test("client-side apply (Update) then server-side apply conflicts like Kubernetes", () => {
    const created: any = deploy();
    created.metadata.managedFields = recordUpdate(undefined, created, {
      manager: "kubectl-client-side-apply",
      apiVersion: "apps/v1",
      now: "2024-01-01T00:00:00Z",
      root: DeployTy,
    });
    const cfg: any = deploy();
    cfg.spec.replicas = 3;
    try {
      serverSideApply(created, cfg, { manager: "kubectl", force: false, apiVersion: "apps/v1", now: "2024-01-02T00:00:00Z", root: DeployTy });
      throw new Error("expected conflict");
    } catch (e) {
      expect(e).toBeInstanceOf(PatchError);
      expect((e as PatchError).code).toBe(409);
      expect((e as PatchError).message).toBe('Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas');
    }
    const forced = serverSideApply(created, cfg, { manager: "kubectl", force: true, apiVersion: "apps/v1", now: "2024-01-02T00:00:00Z", root: DeployTy });
    expect(forced.spec.replicas).toBe(3);
    expect(forced.spec.template.spec.containers).toHaveLength(2);
  });

  test("SSA keyed ports with a defaulted protocol", () => {
    const live = serverSideApply(undefined, deploy(), { manager: "m", force: false, apiVersion: "apps/v1", now: "t", root: DeployTy });
    const c = live.metadata.managedFields[0].fieldsV1["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"a"}'];
    expect(c["f:ports"]).toEqual({ 'k:{"containerPort":80,"protocol":"TCP"}': { ".": {}, "f:containerPort": {} } });
    expect(c["f:env"]).toEqual({ 'k:{"name":"X"}': { ".": {}, "f:name": {}, "f:value": {} } });
  });
});
