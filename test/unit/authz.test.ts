// Authorization: request attributes, RBAC rule matching, the RBAC and Node authorizers over a
// real store, the default policy and the 403 Status.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findByKind } from "../../schemas/registry";
import { writeCtx, APISERVER_USER, type WriteCtx } from "../../server/registry/ctx";
import { newRegistry } from "../../server/registry/index";
import type { Registry } from "../../server/registry/registry";
import { Authorizer, forbiddenError, requestAttributes } from "../../server/auth/authz";
import { nameFromFieldSelector, type Attributes } from "../../server/auth/attributes";
import { uncovered } from "../../server/auth/escalation";
import { podReferences } from "../../server/auth/node";
import { appliesTo, nonResourceURLMatches, resourceMatches, ruleAllows, type PolicyRule } from "../../server/auth/rules";
import { bootstrap } from "../../server/bootstrap";
import { Store } from "../../server/store/store";
import { startTestApp, TEST_ADMIN_TOKEN, type TestApp } from "../harness/api-app";

const attrs = (method: string, path: string) => requestAttributes(method, new URL(path, "https://x"));
const res = (verb: string, resource: string, o: Partial<Attributes> = {}): Attributes => ({
  verb,
  resourceRequest: true,
  path: "",
  apiGroup: "",
  apiVersion: "v1",
  resource,
  subresource: "",
  namespace: "",
  name: "",
  ...o,
});

describe("request attributes (RequestInfo)", () => {
  test("verbs from method and path", () => {
    expect(attrs("GET", "/api/v1/namespaces/default/pods")).toMatchObject({ verb: "list", resource: "pods", namespace: "default", name: "", resourceRequest: true });
    expect(attrs("GET", "/api/v1/namespaces/default/pods?watch=true")).toMatchObject({ verb: "watch" });
    expect(attrs("GET", "/api/v1/namespaces/default/pods?watch=1")).toMatchObject({ verb: "watch" });
    expect(attrs("GET", "/api/v1/watch/namespaces/default/pods")).toMatchObject({ verb: "watch", resource: "pods", namespace: "default" });
    expect(attrs("GET", "/api/v1/namespaces/default/pods/p")).toMatchObject({ verb: "get", name: "p" });
    expect(attrs("POST", "/api/v1/namespaces/default/pods")).toMatchObject({ verb: "create", name: "" });
    expect(attrs("PUT", "/api/v1/namespaces/default/pods/p/status")).toMatchObject({ verb: "update", name: "p", subresource: "status" });
    expect(attrs("PATCH", "/apis/apps/v1/namespaces/x/deployments/d/scale")).toMatchObject({ verb: "patch", apiGroup: "apps", resource: "deployments", subresource: "scale" });
    expect(attrs("DELETE", "/api/v1/namespaces/default/pods")).toMatchObject({ verb: "deletecollection" });
    expect(attrs("DELETE", "/api/v1/namespaces/default/pods/p")).toMatchObject({ verb: "delete" });
    expect(attrs("GET", "/api/v1/nodes")).toMatchObject({ verb: "list", resource: "nodes", namespace: "" });
  });
  test("namespaces address themselves", () => {
    expect(attrs("GET", "/api/v1/namespaces/foo")).toMatchObject({ resource: "namespaces", name: "foo", namespace: "foo" });
    expect(attrs("PUT", "/api/v1/namespaces/foo/finalize")).toMatchObject({ resource: "namespaces", name: "foo", subresource: "finalize", namespace: "foo" });
    expect(attrs("GET", "/api/v1/namespaces")).toMatchObject({ resource: "namespaces", verb: "list", namespace: "" });
  });
  test("non-resource paths", () => {
    for (const p of ["/api", "/api/v1", "/apis", "/apis/apps", "/apis/apps/v1", "/version", "/openapi/v3/api/v1", "/v1-skiff/raft/members"])
      expect(attrs("GET", p)).toMatchObject({ resourceRequest: false, verb: "get", path: p });
    expect(attrs("POST", "/v1-skiff/node-credentials")).toMatchObject({ resourceRequest: false, verb: "post" });
  });
  test("a list by metadata.name carries the name", () => {
    expect(attrs("GET", "/api/v1/namespaces/d/configmaps?fieldSelector=metadata.name%3Dcfg")).toMatchObject({ verb: "list", name: "cfg" });
    expect(attrs("GET", "/api/v1/namespaces/d/configmaps?watch=true&fieldSelector=metadata.name%3D%3Dcfg")).toMatchObject({ verb: "watch", name: "cfg" });
    expect(nameFromFieldSelector("metadata.name!=x")).toBeUndefined();
    expect(nameFromFieldSelector("spec.nodeName=n1,metadata.name=a")).toBe("a");
    expect(attrs("DELETE", "/api/v1/namespaces/d/configmaps?fieldSelector=metadata.name%3Dcfg")).toMatchObject({ verb: "deletecollection", name: "" });
  });
});

describe("rule matching", () => {
  test("resources, subresources and wildcards", () => {
    const r: PolicyRule = { verbs: ["get"], apiGroups: [""], resources: ["pods", "*/scale"] };
    expect(resourceMatches(r, "pods", "")).toBe(true);
    expect(resourceMatches(r, "pods/log", "log")).toBe(false);
    expect(resourceMatches(r, "deployments/scale", "scale")).toBe(true);
    expect(resourceMatches({ verbs: ["*"], resources: ["*"] }, "pods/exec", "exec")).toBe(true);
    expect(ruleAllows(res("get", "pods"), r)).toBe(true);
    expect(ruleAllows(res("list", "pods"), r)).toBe(false);
    expect(ruleAllows(res("get", "pods", { apiGroup: "apps" }), r)).toBe(false);
    expect(ruleAllows(res("get", "deployments", { apiGroup: "apps" }), { verbs: ["*"], apiGroups: ["*"], resources: ["*"] })).toBe(true);
  });
  test("resourceNames", () => {
    const r: PolicyRule = { verbs: ["get", "list", "create"], apiGroups: [""], resources: ["configmaps"], resourceNames: ["a"] };
    expect(ruleAllows(res("get", "configmaps", { name: "a" }), r)).toBe(true);
    expect(ruleAllows(res("get", "configmaps", { name: "b" }), r)).toBe(false);
    expect(ruleAllows(res("list", "configmaps"), r)).toBe(false);
    expect(ruleAllows(res("list", "configmaps", { name: "a" }), r)).toBe(true);
    // create never has a name in the request, so resourceNames never allow it
    expect(ruleAllows(res("create", "configmaps"), r)).toBe(false);
  });
  test("non-resource URLs", () => {
    const r: PolicyRule = { verbs: ["get"], nonResourceURLs: ["/healthz", "/apis/*"] };
    expect(nonResourceURLMatches(r, "/healthz")).toBe(true);
    expect(nonResourceURLMatches(r, "/healthz/etcd")).toBe(false);
    expect(nonResourceURLMatches(r, "/apis/apps/v1")).toBe(true);
    const nr = (verb: string, path: string): Attributes => ({ ...res(verb, ""), resourceRequest: false, path });
    expect(ruleAllows(nr("get", "/apis"), r)).toBe(false);
    expect(ruleAllows(nr("post", "/healthz"), r)).toBe(false);
    // a resource rule never matches a non-resource request and vice versa
    expect(ruleAllows(nr("get", "/api"), { verbs: ["*"], apiGroups: ["*"], resources: ["*"] })).toBe(false);
    expect(ruleAllows(res("get", "pods"), { verbs: ["*"], nonResourceURLs: ["*"] })).toBe(false);
  });
  test("subjects", () => {
    const sa = { user: "system:serviceaccount:ns1:bot", groups: ["system:serviceaccounts", "system:authenticated"] };
    expect(appliesTo(sa, { kind: "ServiceAccount", name: "bot" }, "ns1")).toBe(true);
    expect(appliesTo(sa, { kind: "ServiceAccount", name: "bot" }, "ns2")).toBe(false);
    expect(appliesTo(sa, { kind: "ServiceAccount", name: "bot" }, "")).toBe(false);
    expect(appliesTo(sa, { kind: "ServiceAccount", name: "bot", namespace: "ns1" }, "ns2")).toBe(true);
    expect(appliesTo(sa, { kind: "Group", name: "system:serviceaccounts" }, "")).toBe(true);
    expect(appliesTo(sa, { kind: "User", name: "system:serviceaccount:ns1:bot" }, "")).toBe(true);
    expect(appliesTo(sa, { kind: "User", name: "bot" }, "")).toBe(false);
  });
});

test("the 403 Status reads like Kubernetes'", () => {
  const u = { user: "system:serviceaccount:default:x", groups: [] };
  const e = forbiddenError(u, attrs("GET", "/api/v1/namespaces/default/pods"), "");
  expect(e.code).toBe(403);
  expect(e.reason).toBe("Forbidden");
  expect(e.message).toBe('pods is forbidden: User "system:serviceaccount:default:x" cannot list resource "pods" in API group "" in the namespace "default"');
  expect(e.details).toEqual({ kind: "pods", group: undefined, name: undefined });
  expect(forbiddenError(u, attrs("GET", "/apis/apps/v1/namespaces/d/deployments/web"), "").message).toBe(
    'deployments.apps "web" is forbidden: User "system:serviceaccount:default:x" cannot get resource "deployments" in API group "apps" in the namespace "d"',
  );
  expect(forbiddenError(u, attrs("GET", "/api/v1/nodes"), "").message).toBe('nodes is forbidden: User "system:serviceaccount:default:x" cannot list resource "nodes" in API group "" at the cluster scope');
  expect(forbiddenError(u, attrs("GET", "/logs"), "").message).toBe('forbidden: User "system:serviceaccount:default:x" cannot get path "/logs"');
  expect(forbiddenError(u, attrs("POST", "/api/v1/namespaces/d/pods/p/exec"), "why").message).toBe(
    'pods "p" is forbidden: User "system:serviceaccount:default:x" cannot create resource "pods/exec" in API group "" in the namespace "d": why',
  );
});

test("pod references", () => {
  const refs = podReferences({
    metadata: { namespace: "n", name: "p" },
    spec: {
      serviceAccountName: "sa",
      imagePullSecrets: [{ name: "pull" }],
      volumes: [{ name: "v1", configMap: { name: "cm" } }, { name: "v2", secret: { secretName: "s" } }, { name: "v3", projected: { sources: [{ configMap: { name: "pcm" } }] } }, { name: "v4", persistentVolumeClaim: { claimName: "c" } }],
      containers: [{ name: "c", env: [{ name: "A", valueFrom: { secretKeyRef: { name: "es", key: "k" } } }], envFrom: [{ configMapRef: { name: "ecm" } }] }],
    },
  });
  expect(refs.sort()).toEqual(["configmaps/n/cm", "configmaps/n/ecm", "configmaps/n/pcm", "persistentvolumeclaims/n/c", "secrets/n/es", "secrets/n/pull", "secrets/n/s", "serviceaccounts/n/sa"]);
});

describe("authorizer over a store", () => {
  let dir: string;
  let store: Store;
  let authz: Authorizer;
  let ctx: WriteCtx;
  let registry: Registry;
  const kind = (apiVersion: string, k: string) => findByKind(apiVersion, k)!;
  const rbac = (k: string) => kind("rbac.authorization.k8s.io/v1", k);
  const sa = (ns: string, name: string) => ({ user: `system:serviceaccount:${ns}:${name}`, groups: ["system:serviceaccounts", `system:serviceaccounts:${ns}`, "system:authenticated"] });
  const node = (name: string) => ({ user: `system:node:${name}`, groups: ["system:nodes", "system:authenticated"] });
  const can = async (u: { user: string; groups: string[] }, method: string, path: string) => (await authz.authorize(u, attrs(method, path))).allowed;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "skiff-authz-"));
    store = new Store({ dataDir: dir });
    registry = newRegistry(store);
    await bootstrap(registry);
    ctx = writeCtx(APISERVER_USER, "t");
    authz = new Authorizer(store);
    await registry.create(ctx, kind("v1", "Namespace"), undefined, { metadata: { name: "team" } });
  });
  afterAll(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("the default policy is stored, labelled, and a second bootstrap changes nothing", async () => {
    const crb = store.get("rbac.authorization.k8s.io/clusterrolebindings", "", "cluster-admin")?.obj;
    expect(crb.subjects).toEqual([{ kind: "Group", apiGroup: "rbac.authorization.k8s.io", name: "system:masters" }]);
    expect(crb.metadata.labels["kubernetes.io/bootstrapping"]).toBe("rbac-defaults");
    for (const n of ["admin", "edit", "view", "system:discovery", "system:basic-user", "system:public-info-viewer", "system:node"])
      expect(store.get("rbac.authorization.k8s.io/clusterroles", "", n), n).toBeDefined();
    const rev = store.rev;
    await bootstrap(registry);
    expect(store.rev).toBe(rev);
  });

  test("a missing default is re-created and a trimmed one topped up", async () => {
    await registry.delete(ctx, rbac("ClusterRoleBinding"), "", "system:basic-user", {});
    await registry.update(ctx, rbac("ClusterRole"), "", "system:discovery", (cur) => ({ ...cur, rules: [{ verbs: ["get"], nonResourceURLs: ["/extra"] }] }));
    await bootstrap(registry);
    expect(store.get("rbac.authorization.k8s.io/clusterrolebindings", "", "system:basic-user")).toBeDefined();
    const disc = store.get("rbac.authorization.k8s.io/clusterroles", "", "system:discovery")!.obj;
    expect(disc.rules[0].nonResourceURLs).toEqual(["/extra"]);
    expect(disc.rules.length).toBe(2);
  });

  test("system:masters may do anything; an unbound service account only discovery and self reviews", async () => {
    const admin = { user: "system:admin", groups: ["system:masters", "system:authenticated"] };
    expect(await can(admin, "DELETE", "/api/v1/nodes/x")).toBe(true);
    const bot = sa("team", "bot");
    expect(await can(bot, "GET", "/api/v1/namespaces/team/pods")).toBe(false);
    expect(await can(bot, "GET", "/apis")).toBe(true);
    expect(await can(bot, "GET", "/openapi/v3/apis/apps/v1")).toBe(true);
    expect(await can(bot, "GET", "/version")).toBe(true);
    expect(await can(bot, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews")).toBe(true);
    expect(await can(bot, "GET", "/v1-skiff/raft/members")).toBe(false);
  });

  test("a RoleBinding to view allows reads in its namespace only; the index follows changes", async () => {
    const bot = sa("team", "viewer");
    await registry.create(ctx, rbac("RoleBinding"), "team", {
      metadata: { name: "viewer-view" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "view" },
      subjects: [{ kind: "ServiceAccount", name: "viewer" }],
    });
    const d = await authz.authorize(bot, attrs("GET", "/api/v1/namespaces/team/pods"));
    expect(d).toEqual({ allowed: true, reason: 'RBAC: allowed by RoleBinding "viewer-view/team" of ClusterRole "view" to ServiceAccount "viewer/team"' });
    expect(await can(bot, "GET", "/apis/apps/v1/namespaces/team/deployments?watch=true")).toBe(true);
    expect(await can(bot, "GET", "/api/v1/namespaces/team")).toBe(true);
    expect(await can(bot, "GET", "/api/v1/namespaces/other/pods")).toBe(false);
    expect(await can(bot, "GET", "/api/v1/pods")).toBe(false);
    expect(await can(bot, "GET", "/api/v1/namespaces/team/secrets")).toBe(false);
    expect(await can(bot, "POST", "/api/v1/namespaces/team/pods")).toBe(false);
    expect(await can(bot, "GET", "/api/v1/namespaces/team/pods/p/log")).toBe(true);
    await registry.delete(ctx, rbac("RoleBinding"), "team", "viewer-view", {});
    expect(await can(bot, "GET", "/api/v1/namespaces/team/pods")).toBe(false);
  });

  test("edit and admin aggregate view; a new aggregated role flows in", async () => {
    const u = { user: "alice", groups: ["system:authenticated"] };
    await registry.create(ctx, rbac("RoleBinding"), "team", {
      metadata: { name: "alice-edit" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "edit" },
      subjects: [{ kind: "User", name: "alice", apiGroup: "rbac.authorization.k8s.io" }],
    });
    expect(await can(u, "GET", "/api/v1/namespaces/team/pods")).toBe(true);
    expect(await can(u, "POST", "/apis/apps/v1/namespaces/team/deployments")).toBe(true);
    expect(await can(u, "POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/team/roles")).toBe(false);
    expect(await can(u, "GET", "/apis/example.com/v1/namespaces/team/widgets")).toBe(false);
    await registry.create(ctx, rbac("ClusterRole"), undefined, {
      metadata: { name: "widgets-view", labels: { "rbac.authorization.k8s.io/aggregate-to-view": "true" } },
      rules: [{ verbs: ["get", "list"], apiGroups: ["example.com"], resources: ["widgets"] }],
    });
    expect(await can(u, "GET", "/apis/example.com/v1/namespaces/team/widgets")).toBe(true);
  });

  test("a Role with resourceNames", async () => {
    const u = sa("team", "one");
    await registry.create(ctx, rbac("Role"), "team", { metadata: { name: "one-cm" }, rules: [{ verbs: ["get", "update"], apiGroups: [""], resources: ["configmaps"], resourceNames: ["allowed"] }] });
    await registry.create(ctx, rbac("RoleBinding"), "team", {
      metadata: { name: "one-cm" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "one-cm" },
      subjects: [{ kind: "ServiceAccount", name: "one", namespace: "team" }],
    });
    expect(await can(u, "GET", "/api/v1/namespaces/team/configmaps/allowed")).toBe(true);
    expect(await can(u, "PUT", "/api/v1/namespaces/team/configmaps/allowed")).toBe(true);
    expect(await can(u, "GET", "/api/v1/namespaces/team/configmaps/other")).toBe(false);
    expect(await can(u, "GET", "/api/v1/namespaces/team/configmaps")).toBe(false);
    expect(await can(u, "DELETE", "/api/v1/namespaces/team/configmaps/allowed")).toBe(false);
    const rules = authz.rulesFor(u, "team");
    expect(rules.resourceRules).toContainEqual({ verbs: ["get", "update"], apiGroups: [""], resources: ["configmaps"], resourceNames: ["allowed"] });
    expect(rules.nonResourceRules.some((r) => r.nonResourceURLs!.includes("/api"))).toBe(true);
  });

  test("a binding to a missing role says so", async () => {
    await registry.create(ctx, rbac("RoleBinding"), "team", {
      metadata: { name: "ghost" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "ghost" },
      subjects: [{ kind: "ServiceAccount", name: "g" }],
    });
    const d = await authz.authorize(sa("team", "g"), attrs("GET", "/api/v1/namespaces/team/pods"));
    expect(d).toEqual({ allowed: false, reason: 'RBAC: role.rbac.authorization.k8s.io "ghost" not found' });
  });

  test("a node reads only what its pods use and writes only its own lease", async () => {
    const n1 = node("n1");
    const pod = kind("v1", "Pod");
    await registry.create(ctx, pod, "team", {
      metadata: { name: "web" },
      spec: { nodeName: "n1", containers: [{ name: "c", image: "busybox", envFrom: [{ configMapRef: { name: "cfg" } }] }], volumes: [{ name: "s", secret: { secretName: "tls" } }] },
    });
    expect(await can(n1, "GET", "/api/v1/namespaces/team/configmaps?fieldSelector=metadata.name%3Dcfg")).toBe(true);
    expect(await can(n1, "GET", "/api/v1/namespaces/team/configmaps?watch=true&fieldSelector=metadata.name%3Dcfg")).toBe(true);
    expect(await can(n1, "GET", "/api/v1/namespaces/team/secrets/tls")).toBe(true);
    expect(await can(n1, "GET", "/api/v1/namespaces/team/secrets/other")).toBe(false);
    expect(await can(n1, "GET", "/api/v1/namespaces/team/secrets")).toBe(false);
    expect(await can(node("n2"), "GET", "/api/v1/namespaces/team/secrets/tls")).toBe(false);
    expect(await can(n1, "POST", "/api/v1/namespaces/team/serviceaccounts/default/token")).toBe(true);
    expect(await can(n1, "POST", "/api/v1/namespaces/team/serviceaccounts/admin/token")).toBe(false);
    // pods, nodes, events, leases
    expect(await can(n1, "GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Dn1")).toBe(true);
    expect(await can(n1, "GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Dn1&watch=true")).toBe(true);
    expect(await can(n1, "PATCH", "/api/v1/namespaces/team/pods/web/status")).toBe(true);
    expect(await can(n1, "DELETE", "/api/v1/namespaces/team/pods/web")).toBe(true);
    expect(await can(n1, "POST", "/api/v1/nodes")).toBe(true);
    expect(await can(n1, "PATCH", "/api/v1/nodes/n1/status")).toBe(true);
    expect(await can(n1, "POST", "/api/v1/namespaces/team/events")).toBe(true);
    expect(await can(n1, "GET", "/api/v1/namespaces/default/endpoints/kubernetes")).toBe(true);
    expect(await can(n1, "PUT", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1")).toBe(true);
    expect(await can(n1, "POST", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases")).toBe(true);
    expect(await can(n1, "PUT", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n2")).toBe(false);
    expect(await can(n1, "DELETE", "/api/v1/namespaces/team/secrets/tls")).toBe(false);
    expect(await can(n1, "POST", "/apis/apps/v1/namespaces/team/deployments")).toBe(false);
    // only its own Node and its own pods
    expect(await can(n1, "PATCH", "/api/v1/nodes/n2/status")).toBe(false);
    expect(await can(n1, "PATCH", "/api/v1/nodes/n2")).toBe(false);
    expect(await can(n1, "GET", "/api/v1/nodes/n2")).toBe(true);
    expect(await can(node("n2"), "PATCH", "/api/v1/namespaces/team/pods/web/status")).toBe(false);
    expect(await can(node("n2"), "DELETE", "/api/v1/namespaces/team/pods/web")).toBe(false);
    expect(await can(node("n2"), "DELETE", "/api/v1/namespaces/team/pods/gone")).toBe(true);
    // the relationship ends with the pod
    await registry.delete(ctx, pod, "team", "web", { gracePeriodSeconds: 0 });
    if (store.get("pods", "team", "web")) await registry.delete(ctx, pod, "team", "web", { gracePeriodSeconds: 0 });
    const d = await authz.authorize(n1, attrs("GET", "/api/v1/namespaces/team/secrets/tls"));
    expect(d.allowed).toBe(false);
    expect(forbiddenError(n1, attrs("GET", "/api/v1/namespaces/team/secrets/tls"), d.reason).message).toBe(
      `secrets "tls" is forbidden: User "system:node:n1" cannot get resource "secrets" in API group "" in the namespace "team": no relationship found between node 'n1' and this object`,
    );
  });

  test("a node's reach follows every kind of reference of its pods, and only its pods", async () => {
    const pod = kind("v1", "Pod");
    const n3 = node("n3");
    await registry.create(ctx, kind("v1", "PersistentVolumeClaim"), "team", { metadata: { name: "data" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } }, volumeName: "pv-1" } });
    await registry.create(ctx, pod, "team", {
      metadata: { name: "refs" },
      spec: {
        nodeName: "n3",
        serviceAccountName: "robot",
        imagePullSecrets: [{ name: "pull" }],
        containers: [{ name: "c", image: "busybox", env: [{ name: "P", valueFrom: { secretKeyRef: { name: "env-secret", key: "k" } } }] }],
        volumes: [
          { name: "d", persistentVolumeClaim: { claimName: "data" } },
          { name: "p", projected: { sources: [{ configMap: { name: "proj-cm" } }, { secret: { name: "proj-secret" } }] } },
        ],
      },
    });
    // The same names used by a pod on another node grant n3 nothing.
    await registry.create(ctx, pod, "team", { metadata: { name: "elsewhere" }, spec: { nodeName: "n4", containers: [{ name: "c", image: "busybox" }], volumes: [{ name: "s", secret: { secretName: "n4-only" } }] } });
    for (const [path, want] of [
      ["/api/v1/namespaces/team/secrets/pull", true],
      ["/api/v1/namespaces/team/secrets/env-secret", true],
      ["/api/v1/namespaces/team/secrets/proj-secret", true],
      ["/api/v1/namespaces/team/configmaps/proj-cm", true],
      ["/api/v1/namespaces/team/persistentvolumeclaims/data", true],
      ["/api/v1/persistentvolumes/pv-1", true],
      ["/api/v1/persistentvolumes/pv-2", false],
      ["/api/v1/namespaces/team/secrets/n4-only", false],
      ["/api/v1/namespaces/other/secrets/pull", false],
      ["/api/v1/namespaces/team/configmaps", false],
    ] as const)
      expect({ path, allowed: await can(n3, "GET", path) }).toEqual({ path, allowed: want });
    expect(await can(n3, "POST", "/api/v1/namespaces/team/serviceaccounts/robot/token")).toBe(true);
    expect(await can(n3, "GET", "/api/v1/namespaces/team/serviceaccounts/robot")).toBe(false);
    expect(await can(n3, "PUT", "/api/v1/namespaces/team/persistentvolumeclaims/data/status")).toBe(true);
    expect(await can(n3, "PUT", "/api/v1/namespaces/team/persistentvolumeclaims/data")).toBe(false);
    expect(await can(n3, "PUT", "/api/v1/namespaces/team/secrets/pull")).toBe(false);
    expect(await can(n3, "PATCH", "/api/v1/namespaces/team/pods/elsewhere/status")).toBe(false);
    expect(await can(n3, "POST", "/api/v1/namespaces/team/pods/elsewhere/eviction")).toBe(false);
  });
});

describe("through the API app", () => {
  let t: TestApp;
  let saToken = "";

  beforeAll(async () => {
    const { issueServiceAccountToken } = await import("../../server/auth/sa-tokens");
    t = await startTestApp("authz-app");
    const ctx: WriteCtx = writeCtx(APISERVER_USER, "t");
    await t.registry.create(ctx, findByKind("v1", "ServiceAccount")!, "default", { metadata: { name: "x" } });
    saToken = (await issueServiceAccountToken(t.store, t.key, "default", "x", { spec: {} })).status.token;
  });
  afterAll(() => t.close());
  const call = (token: string, method: string, path: string, body?: unknown) => t.call(method, path, body, { token });

  test("a denied list is a Kubernetes 403 Status", async () => {
    const r = await call(saToken, "GET", "/api/v1/namespaces/default/pods");
    expect(r.status).toBe(403);
    expect(r.body).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: 'pods is forbidden: User "system:serviceaccount:default:x" cannot list resource "pods" in API group "" in the namespace "default"',
      reason: "Forbidden",
      details: { kind: "pods" },
      code: 403,
    });
    expect((await call(saToken, "GET", "/apis")).status).toBe(200);
    expect((await call(TEST_ADMIN_TOKEN, "GET", "/api/v1/namespaces/default/pods")).status).toBe(200);
  });

  test("TokenReview answers through the authenticator (bound service-account tokens, not any signed JWT)", async () => {
    const review = (token: string) => call(TEST_ADMIN_TOKEN, "POST", "/apis/authentication.k8s.io/v1/tokenreviews", { apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec: { token } });
    const ok = await review(saToken);
    expect(ok.status).toBe(201);
    expect([ok.body.status.authenticated, ok.body.status.user.username]).toEqual([true, "system:serviceaccount:default:x"]);
    const bad = await review("not-a-token");
    expect(bad.body.status.authenticated).toBe(false);
  });

  test("SubjectAccessReview and SelfSubjectAccessReview answer truthfully", async () => {
    const sar = (user: string, groups: string[], verb: string) => ({
      apiVersion: "authorization.k8s.io/v1",
      kind: "SubjectAccessReview",
      spec: { user, groups, resourceAttributes: { verb, resource: "pods", namespace: "default" } },
    });
    const a = await call(TEST_ADMIN_TOKEN, "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", sar("system:serviceaccount:default:x", ["system:authenticated"], "list"));
    expect(a.status).toBe(201);
    expect(a.body.status).toEqual({ allowed: false });
    const b = await call(TEST_ADMIN_TOKEN, "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", sar("bob", ["system:masters"], "delete"));
    expect(b.body.status.allowed).toBe(true);
    // a service account may not ask about others (RBAC), but may ask about itself
    expect((await call(saToken, "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", sar("bob", [], "list"))).status).toBe(403);
    const self = await call(saToken, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", {
      apiVersion: "authorization.k8s.io/v1",
      kind: "SelfSubjectAccessReview",
      spec: { nonResourceAttributes: { path: "/version", verb: "get" } },
    });
    expect(self.status).toBe(201);
    expect(self.body.status.allowed).toBe(true);
    expect(self.body.status.reason).toBe('RBAC: allowed by ClusterRoleBinding "system:discovery" of ClusterRole "system:discovery" to Group "system:authenticated"');
    const bad = await call(saToken, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", { apiVersion: "authorization.k8s.io/v1", kind: "SelfSubjectAccessReview", spec: {} });
    expect(bad.status).toBe(422);
    const who = await call(saToken, "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" });
    expect(who.body.status.userInfo.username).toBe("system:serviceaccount:default:x");
  });
});

describe("escalation: uncovered rules", () => {
  test("wildcards cover everything; a servant wildcard needs an owner wildcard; names and subresources", () => {
    const all = [{ verbs: ["*"], apiGroups: ["*"], resources: ["*"] }];
    expect(uncovered(all, [{ verbs: ["get"], apiGroups: [""], resources: ["pods", "pods/log"] }])).toEqual([]);
    const reader = [{ verbs: ["get", "list"], apiGroups: [""], resources: ["pods"] }];
    expect(uncovered(reader, [{ verbs: ["get"], apiGroups: [""], resources: ["pods"], resourceNames: ["a"] }])).toEqual([]);
    expect(uncovered(reader, [{ verbs: ["*"], apiGroups: [""], resources: ["pods"] }])).toEqual([{ verbs: ["*"], apiGroups: [""], resources: ["pods"] }]);
    expect(uncovered(reader, [{ verbs: ["get"], apiGroups: [""], resources: ["pods/log"] }])).toEqual([{ verbs: ["get"], apiGroups: [""], resources: ["pods/log"] }]);
    const one = [{ verbs: ["get"], apiGroups: [""], resources: ["secrets"], resourceNames: ["one"] }];
    expect(uncovered(one, [{ verbs: ["get"], apiGroups: [""], resources: ["secrets"] }])).toHaveLength(1);
    expect(uncovered([{ verbs: ["get"], nonResourceURLs: ["/healthz", "/api/*"] }], [{ verbs: ["get"], nonResourceURLs: ["/api/v1", "/metrics"] }])).toEqual([{ verbs: ["get"], nonResourceURLs: ["/metrics"] }]);
  });
});
