// The admission chain inside the registry's one write path: plugin order and phases, the
// request's user, operation, objects and dry-run, the moved special cases (NamespaceLifecycle,
// DefaultStorageClass), and controllers and the scheduler writing as their own users.
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findByKind } from "../../schemas/registry";
import { defaultPlugins } from "../../server/admission/index";
import type { AdmissionPlugin, AdmissionRequest } from "../../server/admission/types";
import { bootstrap } from "../../server/bootstrap";
import { evictPod } from "../../server/registry/kinds/eviction";
import { bindPod } from "../../server/registry/kinds/pods";
import { issueToken } from "../../server/registry/kinds/serviceaccounts";
import { startControllers } from "../../server/controllers/index";
import { ApiError } from "../../server/errors";
import { APISERVER_USER, writeCtx } from "../../server/registry/ctx";
import { newRegistry } from "../../server/registry/index";
import type { Registry } from "../../server/registry/registry";
import { Store } from "../../server/store/store";
import { until } from "../harness/wait.ts";

const kind = (apiVersion: string, k: string) => findByKind(apiVersion, k)!;
const pod = (name: string) => ({ metadata: { name }, spec: { containers: [{ name: "c", image: "busybox", resources: { requests: { cpu: "100m", memory: "64Mi" }, limits: { cpu: "100m", memory: "64Mi" } } }] } });
const alice = { user: "alice", groups: ["system:authenticated"] };
/** The ApiError a write was refused with; undefined when it succeeded. */
const err = (p: Promise<unknown>) => p.then(() => undefined, (e) => e as ApiError);

let dir: string;
let store: Store;
afterEach(() => {
  store?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function setup(extra: AdmissionPlugin[] = []): Promise<Registry> {
  dir = mkdtempSync(join(tmpdir(), "skiff-adm-"));
  store = new Store({ dataDir: dir });
  const registry = newRegistry(store, [...defaultPlugins(), ...extra]);
  await bootstrap(registry);
  return registry;
}

/** Records every request it handles (and what each phase saw). */
function recorder(filter: (r: AdmissionRequest) => boolean = () => true) {
  const seen: { phase: string; op: string; sub: string; user: string; dryRun: boolean; name: string; object?: any; old?: any }[] = [];
  const plugin: AdmissionPlugin = {
    name: "Recorder",
    handles: filter,
    admit: (r) => void seen.push({ phase: "admit", op: r.operation, sub: r.subresource, user: r.user.user, dryRun: r.dryRun, name: r.name, object: structuredClone(r.object), old: r.oldObject }),
    validate: (r) => void seen.push({ phase: "validate", op: r.operation, sub: r.subresource, user: r.user.user, dryRun: r.dryRun, name: r.name, object: structuredClone(r.object), old: r.oldObject }),
  };
  return { plugin, seen };
}

test("a claim without a class gets the default StorageClass; an explicit one is kept", async () => {
  const registry = await setup();
  const ctx = writeCtx(APISERVER_USER, "t");
  await registry.create(ctx, kind("storage.k8s.io/v1", "StorageClass"), undefined, { metadata: { name: "fast", annotations: { "storageclass.kubernetes.io/is-default-class": "true" } }, provisioner: "x" });
  const pvc = kind("v1", "PersistentVolumeClaim");
  const claim = (name: string, cls?: string) => ({ metadata: { name }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } }, ...(cls !== undefined ? { storageClassName: cls } : {}) } });
  expect((await registry.create(ctx, pvc, "default", claim("a"))).spec.storageClassName).toBe("fast");
  expect((await registry.create(ctx, pvc, "default", claim("b", ""))).spec.storageClassName).toBe("");
});

test("NamespaceLifecycle: no content in a missing or terminating namespace; system namespaces stay", async () => {
  const registry = await setup();
  const ctx = writeCtx(APISERVER_USER, "t");
  const missing = await err(registry.create(ctx, kind("v1", "ConfigMap"), "nope", { metadata: { name: "x" } }));
  expect([missing?.code, missing?.message]).toEqual([404, 'namespaces "nope" not found']);
  await registry.create(ctx, kind("v1", "Namespace"), undefined, { metadata: { name: "going" } });
  await registry.delete(ctx, kind("v1", "Namespace"), "", "going", {});
  const terminating = await err(registry.create(ctx, kind("v1", "ConfigMap"), "going", { metadata: { name: "x" } }));
  expect([terminating?.code, terminating?.message]).toEqual([403, 'configmaps "x" is forbidden: unable to create new content in namespace going because it is being terminated']);
  const immortal = await err(registry.delete(ctx, kind("v1", "Namespace"), "", "kube-system", {}));
  expect(immortal?.code).toBe(403);
  expect(store.get("namespaces", "", "kube-system")?.obj.metadata.deletionTimestamp).toBeUndefined();
});

test("a server that has not applied an object yet reads it through a read barrier before it refuses a write for its absence", async () => {
  const registry = await setup();
  const ctx = writeCtx(APISERVER_USER, "t");
  await registry.create(ctx, kind("v1", "Namespace"), undefined, { metadata: { name: "late" } });
  await registry.create(ctx, kind("scheduling.k8s.io/v1", "PriorityClass"), undefined, { metadata: { name: "late-class" }, value: 5 });
  await registry.create(ctx, kind("v1", "ConfigMap"), "default", { metadata: { name: "late-cm" } });
  await registry.create(ctx, kind("v1", "ServiceAccount"), "default", { metadata: { name: "late-sa" } });
  // This server lags: what another server just created appears here only once a read barrier
  // has caught it up (as a Raft follower's ReadIndex or an external datastore mirror's does).
  let caughtUp = false;
  let barriers = 0;
  const get = store.get.bind(store);
  const hidden = new Set(["namespaces//late", "scheduling.k8s.io/priorityclasses//late-class", "configmaps/default/late-cm"]);
  (store as any).get = (res: string, ns: string, name: string) => (!caughtUp && hidden.has(`${res}/${ns}/${name}`) ? undefined : get(res as any, ns, name));
  (store as any).readBarrier = async () => {
    barriers++;
    caughtUp = true;
  };
  const lagging = async <T>(f: () => Promise<T>) => {
    caughtUp = false;
    const before = barriers;
    const out = await f();
    expect(barriers - before).toBe(1);
    return out;
  };
  // NamespaceLifecycle (upstream does a live lookup), Priority, update, CONNECT, TokenRequest, eviction, delete.
  await lagging(() => registry.create(ctx, kind("v1", "ConfigMap"), "late", { metadata: { name: "x" } }));
  const p = await lagging(() => registry.create(ctx, kind("v1", "Pod"), "default", { metadata: { name: "p" }, spec: { priorityClassName: "late-class", containers: [{ name: "c", image: "busybox" }] } }));
  expect(p.spec.priority).toBe(5);
  const up = await lagging(() => registry.update(ctx, kind("v1", "ConfigMap"), "default", "late-cm", (cm) => ({ ...cm, data: { a: "1" } })));
  expect(up.obj.data).toEqual({ a: "1" });
  hidden.add("pods/default/p");
  await lagging(() => registry.connect(ctx, kind("v1", "Pod"), "default", "p", "exec", { kind: "PodExecOptions", apiVersion: "v1", command: ["true"], stdout: true }));
  hidden.add("serviceaccounts/default/late-sa");
  const tok = await lagging(() => issueToken(registry, ctx, new Uint8Array(32), "default", "late-sa", { spec: { audiences: ["x"] } }));
  expect(typeof tok.status.token).toBe("string");
  await lagging(() => evictPod(registry, ctx, "default", "p", { metadata: { name: "p" } }));
  await lagging(() => registry.delete(ctx, kind("v1", "ConfigMap"), "default", "late-cm", {}));
  // Still missing after the barrier: refused as before.
  const missing = await lagging(() => err(registry.create(ctx, kind("v1", "ConfigMap"), "nowhere", { metadata: { name: "x" } })));
  expect([missing?.code, missing?.message]).toEqual([404, 'namespaces "nowhere" not found']);
  const gone = await lagging(() => err(registry.delete(ctx, kind("v1", "ConfigMap"), "default", "late-cm", {})));
  expect(gone?.code).toBe(404);
});

test("mutating plugins run before the strategy and validation, validating plugins after, with user, objects and dry-run", async () => {
  const order: string[] = [];
  const { plugin, seen } = recorder((r) => r.resource.plural === "pods");
  const labeler: AdmissionPlugin = {
    name: "Labeler",
    handles: (r) => r.resource.plural === "pods" && r.operation === "CREATE",
    admit: (r) => {
      order.push("admit");
      r.object.metadata.labels = { ...(r.object.metadata.labels ?? {}), admitted: "yes" };
    },
    validate: (r) => {
      order.push("validate");
      // The strategy has run: a new pod is Pending with its QoS class.
      expect(r.object.status).toEqual({ phase: "Pending", qosClass: "Guaranteed" });
      r.warn("looked at it");
    },
  };
  const registry = await setup([labeler, plugin]);
  const ctx = writeCtx(alice, "t", { dryRun: true });
  const created = await registry.create(ctx, kind("v1", "Pod"), "default", pod("p"));
  expect(order).toEqual(["admit", "validate"]);
  expect(created.metadata.labels.admitted).toBe("yes");
  expect(ctx.warnings).toEqual(["looked at it"]);
  expect(store.get("pods", "default", "p")).toBeUndefined(); // dry run
  expect(seen.map((s) => [s.phase, s.op, s.user, s.dryRun])).toEqual([
    ["admit", "CREATE", "alice", true],
    ["validate", "CREATE", "alice", true],
  ]);

  seen.length = 0;
  const real = writeCtx(alice, "t");
  await registry.create(real, kind("v1", "Pod"), "default", pod("q"));
  await registry.update(real, kind("v1", "Pod"), "default", "q", (p) => ((p.metadata.annotations = { a: "b" }), p));
  await registry.delete(real, kind("v1", "Pod"), "default", "q", {});
  const upd = seen.find((s) => s.op === "UPDATE" && s.phase === "validate")!;
  expect(upd.object.metadata.annotations).toEqual({ a: "b" });
  expect(upd.old.metadata.annotations).toBeUndefined();
  const del = seen.find((s) => s.op === "DELETE")!;
  expect([del.name, del.object.metadata.name, del.user]).toEqual(["q", "q", "alice"]);
});

test("a refusing plugin stops the write with its Status; CONNECT and subresources are admitted as themselves", async () => {
  const { plugin, seen } = recorder((r) => r.resource.plural === "pods" && r.subresource !== "");
  const deny: AdmissionPlugin = {
    name: "DenyExec",
    handles: (r) => r.operation === "CONNECT" && r.subresource === "exec",
    validate: () => {
      throw new ApiError(403, "Forbidden", "no exec here");
    },
  };
  const registry = await setup([plugin, deny]);
  const ctx = writeCtx(alice, "t");
  await registry.create(ctx, kind("v1", "Pod"), "default", pod("p"));
  const e = await registry.connect(ctx, kind("v1", "Pod"), "default", "p", "exec", { kind: "PodExecOptions", command: ["sh"] }).catch((x) => x);
  expect([e.code, e.message]).toEqual([403, "no exec here"]);
  await registry.connect(ctx, kind("v1", "Pod"), "default", "p", "portforward", { kind: "PodPortForwardOptions", ports: [80] });
  const { bindPod } = await import("../../server/registry/kinds/pods");
  await bindPod(registry, ctx, "default", "p", { metadata: { name: "p" }, target: { kind: "Node", name: "n1" } });
  expect(store.get("pods", "default", "p")!.obj.spec.nodeName).toBe("n1");
  expect(seen.filter((s) => s.phase === "admit").map((s) => `${s.op} ${s.sub} ${s.object?.kind ?? ""}`)).toEqual([
    "CONNECT exec PodExecOptions",
    "CONNECT portforward PodPortForwardOptions",
    "CREATE binding ",
  ]);
});

test("controllers and the scheduler write as their own users, through admission", async () => {
  const { plugin, seen } = recorder((r) => r.resource.plural === "pods" && (r.operation === "CREATE" || r.operation === "DELETE"));
  const registry = await setup([plugin]);
  const ctx = writeCtx(APISERVER_USER, "t");
  const cap = { cpu: "4", memory: "8Gi", pods: "10" };
  await registry.create(ctx, kind("v1", "Node"), undefined, { metadata: { name: "n1" }, status: { capacity: cap, allocatable: cap, conditions: [{ type: "Ready", status: "True" }] } });
  const running = startControllers(registry, { only: ["replicaset", "scheduler"] });
  try {
    await registry.create(ctx, kind("apps/v1", "ReplicaSet"), "default", {
      metadata: { name: "rs" },
      spec: { replicas: 1, selector: { matchLabels: { a: "b" } }, template: { metadata: { labels: { a: "b" } }, spec: pod("x").spec } },
    });
    await until("the ReplicaSet's pod bound", () => store.list("pods", "default").items.some((p) => p.spec.nodeName), 15_000, 10);
  } finally {
    await running.stop();
  }
  const users = new Set(seen.map((s) => `${s.op} ${s.sub} ${s.user}`));
  expect(users.has("CREATE  system:serviceaccount:kube-system:replicaset-controller")).toBe(true);
  expect(users.has("CREATE binding system:kube-scheduler")).toBe(true);
});

test("a Binding is admitted as CREATE pods/binding, or as CREATE bindings when posted to the top-level resource", async () => {
  const seen: string[] = [];
  const registry = await setup([{ name: "Seen", handles: (r) => r.operation === "CREATE" && !!r.object?.target, admit: (r) => void seen.push(`${r.resource.plural}/${r.subresource}:${r.object?.target?.name}`) }]);
  const ctx = writeCtx(APISERVER_USER, "t");
  for (const n of ["a", "b"]) await registry.create(ctx, kind("v1", "Pod"), "default", pod(n));
  await bindPod(registry, ctx, "default", "a", { metadata: { name: "a" }, target: { name: "n1" } });
  await bindPod(registry, ctx, "default", "b", { metadata: { name: "b" }, target: { name: "n2" } }, "bindings");
  expect(seen).toEqual(["pods/binding:n1", "bindings/:n2"]);
  expect(store.get("pods", "default", "b")?.obj.spec.nodeName).toBe("n2");
});
