// NodeRestriction, called directly as the admission chain will call it: what a node may write
// about pods, its Node, its Lease, service-account tokens and PVC status.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findByKind } from "../../schemas/registry";
import { writeCtx, APISERVER_USER, type WriteCtx } from "../../server/registry/ctx";
import { newRegistry } from "../../server/registry/index";
import { AdmissionChain } from "../../server/admission/chain";
import { isRestrictedNodeLabel, NodeRestriction } from "../../server/admission/node-restriction";
import type { AdmissionRequest, Operation } from "../../server/admission/types";
import { bootstrap } from "../../server/bootstrap";
import { ApiError } from "../../server/errors";
import { Store } from "../../server/store/store";

let dir: string;
let store: Store;
let nodeA: any;
let podA: any;
let podB: any;
const chain = new AdmissionChain([new NodeRestriction()]);
const A = { user: "system:node:a", groups: ["system:nodes", "system:authenticated"] };
const kind = (apiVersion: string, k: string) => findByKind(apiVersion, k)!;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "skiff-noderestriction-"));
  store = new Store({ dataDir: dir });
  const registry = newRegistry(store);
  await bootstrap(registry);
  const ctx: WriteCtx = writeCtx(APISERVER_USER, "t");
  nodeA = await registry.create(ctx, kind("v1", "Node"), undefined, { metadata: { name: "a" } });
  await registry.create(ctx, kind("v1", "Node"), undefined, { metadata: { name: "b" } });
  await registry.create(ctx, kind("v1", "ServiceAccount"), "default", { metadata: { name: "app" } });
  const pod = (name: string, node: string) => ({ metadata: { name }, spec: { nodeName: node, serviceAccountName: "app", containers: [{ name: "c", image: "busybox" }] } });
  podA = await registry.create(ctx, kind("v1", "Pod"), "default", pod("on-a", "a"));
  podB = await registry.create(ctx, kind("v1", "Pod"), "default", pod("on-b", "b"));
});
afterAll(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

function req(r: [string, string], operation: Operation, o: Partial<AdmissionRequest> = {}): AdmissionRequest {
  return { operation, resource: kind(r[0], r[1]), subresource: "", namespace: "", name: "", user: A, dryRun: false, store, warn: () => {}, ...o };
}

async function verdict(r: AdmissionRequest): Promise<string> {
  try {
    await chain.run(r);
    return "allowed";
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    expect(e.code).toBe(403);
    return e.message;
  }
}

const POD: [string, string] = ["v1", "Pod"];
const mirror = (extra: any = {}) => ({
  metadata: { name: "static-web", namespace: "default", annotations: { "kubernetes.io/config.mirror": "hash" }, ownerReferences: [{ apiVersion: "v1", kind: "Node", name: "a", uid: nodeA.metadata.uid, controller: true }] },
  spec: { nodeName: "a", containers: [{ name: "c", image: "busybox" }], ...extra },
});

describe("pods", () => {
  test("a mirror pod bound to itself, owned by its Node, is allowed", async () => {
    expect(await verdict(req(POD, "CREATE", { namespace: "default", object: mirror() }))).toBe("allowed");
  });
  test("other pods are refused with upstream's reasons", async () => {
    const create = (obj: any) => verdict(req(POD, "CREATE", { namespace: "default", object: obj }));
    const plain: any = mirror();
    delete plain.metadata.annotations;
    expect(await create(plain)).toContain(`node "a" can only create mirror pods`);
    expect(await create({ ...mirror(), spec: { ...mirror().spec, nodeName: "b" } })).toContain(`can only create pods with spec.nodeName set to itself`);
    expect(await create(mirror({ serviceAccountName: "app" }))).toContain("can not create pods that reference a service account");
    expect(await create(mirror({ volumes: [{ name: "s", secret: { secretName: "other-ns-secret" } }] }))).toContain("reference secrets");
    expect(await create(mirror({ volumes: [{ name: "c", configMap: { name: "cm" } }] }))).toContain("reference configmaps");
    expect(await create(mirror({ volumes: [{ name: "p", persistentVolumeClaim: { claimName: "data" } }] }))).toContain("reference persistentvolumeclaims");
    expect(await create(mirror({ volumes: [{ name: "t", projected: { sources: [{ serviceAccountToken: { path: "t" } }] } }] }))).toContain("service account tokens");
    expect(await create(mirror({ containers: [{ name: "c", image: "x", env: [{ name: "P", valueFrom: { secretKeyRef: { name: "s", key: "k" } } }] }] }))).toContain("reference secrets");
    expect(await create(mirror({ containers: [{ name: "c", image: "x", envFrom: [{ configMapRef: { name: "cm" } }] }] }))).toContain("reference configmaps");
    expect(await create(mirror({ imagePullSecrets: [{ name: "reg" }] }))).toContain("reference secrets");
    const foreignOwner = mirror();
    foreignOwner.metadata.ownerReferences[0]!.name = "b";
    expect(await create(foreignOwner)).toContain("owner reference set to itself");
    const wrongUid = mirror();
    wrongUid.metadata.ownerReferences[0]!.uid = "not-the-uid";
    expect(await create(wrongUid)).toContain("UID mismatch");
  });
  test("status, delete and eviction only for pods bound to itself", async () => {
    const status = (pod: any) => verdict(req(POD, "UPDATE", { subresource: "status", namespace: "default", name: pod.metadata.name, object: pod, oldObject: pod }));
    expect(await status(podA)).toBe("allowed");
    expect(await status(podB)).toContain(`node "a" can only update pod status for pods with spec.nodeName set to itself`);
    expect(await verdict(req(POD, "DELETE", { namespace: "default", name: "on-b", oldObject: podB }))).toContain("can only delete pods with spec.nodeName set to itself");
    expect(await verdict(req(POD, "DELETE", { namespace: "default", name: "on-a", oldObject: podA }))).toBe("allowed");
    expect(await verdict(req(POD, "CREATE", { subresource: "eviction", namespace: "default", name: "on-b", object: {} }))).toContain("can only evict pods");
    expect(await verdict(req(POD, "UPDATE", { namespace: "default", name: "on-a", object: podA, oldObject: podA }))).toContain("can only create and delete pods");
  });
});

describe("nodes and leases", () => {
  const NODE: [string, string] = ["v1", "Node"];
  const LEASE: [string, string] = ["coordination.k8s.io/v1", "Lease"];
  test("only its own Node, without restricted labels or taint changes", async () => {
    expect(await verdict(req(NODE, "CREATE", { object: { metadata: { name: "a", labels: { "kubernetes.io/hostname": "a", "node.kubernetes.io/exclude-from-external-load-balancers": "" } } } }))).toBe("allowed");
    expect(await verdict(req(NODE, "CREATE", { object: { metadata: { name: "b" } } }))).toContain(`node "a" is not allowed to modify node "b"`);
    expect(await verdict(req(NODE, "UPDATE", { name: "b", object: { metadata: { name: "b" } }, oldObject: { metadata: { name: "b" } } }))).toContain(`is not allowed to modify node "b"`);
    expect(await verdict(req(NODE, "DELETE", { name: "b", oldObject: { metadata: { name: "b" } } }))).toContain(`is not allowed to modify node "b"`);
    expect(await verdict(req(NODE, "CREATE", { object: { metadata: { name: "a", labels: { "node-restriction.kubernetes.io/pci": "yes", "node-role.kubernetes.io/control-plane": "" } } } }))).toContain(
      "not allowed to set the following labels: node-restriction.kubernetes.io/pci, node-role.kubernetes.io/control-plane",
    );
    const old = { metadata: { name: "a", labels: { "node-restriction.kubernetes.io/pci": "yes", team: "x" } }, spec: { taints: [{ key: "k", effect: "NoSchedule" }] } };
    const upd = (object: any) => verdict(req(NODE, "UPDATE", { name: "a", object, oldObject: old }));
    expect(await upd({ ...old, metadata: { name: "a", labels: { "node-restriction.kubernetes.io/pci": "yes", team: "y" } } })).toBe("allowed");
    expect(await upd({ ...old, metadata: { name: "a", labels: { team: "x" } } })).toContain("is not allowed to modify labels: node-restriction.kubernetes.io/pci");
    expect(await upd({ ...old, spec: { taints: [] } })).toContain("not allowed to modify taints");
  });
  test("only its own Lease in kube-node-lease", async () => {
    expect(await verdict(req(LEASE, "CREATE", { namespace: "kube-node-lease", object: { metadata: { name: "a" } } }))).toBe("allowed");
    expect(await verdict(req(LEASE, "CREATE", { namespace: "kube-node-lease", object: { metadata: { name: "b" } } }))).toContain("same name as the requesting node");
    expect(await verdict(req(LEASE, "UPDATE", { namespace: "default", name: "a", object: { metadata: { name: "a" } } }))).toContain("only access leases in the kube-node-lease namespace");
  });
  test("restricted label keys", () => {
    for (const k of ["kubernetes.io/hostname", "kubelet.kubernetes.io/x", "node.kubernetes.io/instance-type", "example.com/x", "plain", "topology.kubernetes.io/zone"]) expect(isRestrictedNodeLabel(k)).toBe(false);
    for (const k of ["node-restriction.kubernetes.io/x", "foo.node-restriction.kubernetes.io/x", "kubernetes.io/role", "node-role.kubernetes.io/master", "k8s.io/x", "x.k8s.io/y"]) expect(isRestrictedNodeLabel(k)).toBe(true);
  });
});

describe("tokens and claims", () => {
  const SA: [string, string] = ["v1", "ServiceAccount"];
  const token = (ref: any) => verdict(req(SA, "CREATE", { subresource: "token", namespace: "default", name: "app", object: { spec: { boundObjectRef: ref } } }));
  test("only for pods bound to itself", async () => {
    expect(await token({ kind: "Pod", name: "on-a", uid: podA.metadata.uid })).toBe("allowed");
    expect(await token(undefined)).toContain("not bound to a pod");
    expect(await token({ kind: "Secret", name: "s", uid: "u" })).toContain("not bound to a pod");
    expect(await token({ kind: "Pod", name: "on-b", uid: podB.metadata.uid })).toContain("scheduled on a different node");
    expect(await token({ kind: "Pod", name: "on-a", uid: "stale" })).toContain("does not match");
  });
  test("PVC status: conditions and allocated resources only", async () => {
    const PVC: [string, string] = ["v1", "PersistentVolumeClaim"];
    const old = { status: { phase: "Bound", capacity: { storage: "1Gi" } } };
    const upd = (status: any) => verdict(req(PVC, "UPDATE", { subresource: "status", namespace: "default", name: "d", object: { status }, oldObject: old }));
    expect(await upd({ ...old.status, conditions: [{ type: "Resizing", status: "True" }] })).toBe("allowed");
    expect(await upd({ ...old.status, phase: "Lost" })).toContain("not allowed to update fields other than");
  });
  test("writes by anyone else are not this plugin's business", async () => {
    const admin = { user: "system:admin", groups: ["system:masters"] };
    expect(await verdict(req(POD, "CREATE", { namespace: "default", object: { metadata: { name: "x" }, spec: { nodeName: "b" } }, user: admin }))).toBe("allowed");
  });
});
