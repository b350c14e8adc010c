// RBAC is enforced: the real kubectl with a service-account token (`kubectl create token`) is
// refused with Kubernetes' own 403, `auth can-i` answers truthfully, and RoleBindings (to the
// default `view` ClusterRole, to a Role with resourceNames) grant exactly what they say.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml, stringify } from "yaml";
import { describeResult, expectOk, kubectl, type KubectlResult, type KubectlTarget } from "../harness/kubectl";
import { startServer, type SkiffServer } from "../harness/server";

setDefaultTimeout(60_000);

const NS = "rbac-e2e";
const OTHER = "rbac-other";
const SA = `system:serviceaccount:${NS}:bot`;

let srv: SkiffServer;
let bot: KubectlTarget;

const admin = async (args: string[], what = `kubectl ${args.join(" ")}`) => expectOk(await kubectl(srv, args), what);
const asBot = (args: string[]) => kubectl(bot, args);

function denied(r: KubectlResult, message: string): void {
  expect(r.code, describeResult(r)).not.toBe(0);
  expect(r.stderr, describeResult(r)).toContain(`Error from server (Forbidden): ${message}`);
}

beforeAll(async () => {
  srv = await startServer({ name: "rbac" });
  for (const ns of [NS, OTHER]) await admin(["create", "namespace", ns]);
  await admin(["create", "serviceaccount", "bot", "-n", NS]);
  const token = (await admin(["create", "token", "bot", "-n", NS])).stdout.trim();
  expect(token.split(".").length, "kubectl create token prints a JWT").toBe(3);
  // The admin kubeconfig with the user swapped for the service account's token.
  const kc = parseYaml(readFileSync(srv.kubeconfig, "utf8"));
  kc.users = [{ name: "default", user: { token } }];
  const dir = join(srv.runDir, "bot");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "kubeconfig.yaml"), stringify(kc));
  bot = { kubeconfig: join(dir, "kubeconfig.yaml"), runDir: dir };
}, 90_000);

afterAll(async () => {
  await srv?.stop();
});

describe("a service account without bindings", () => {
  test("get pods is forbidden with the Kubernetes message", async () => {
    denied(await asBot(["get", "pods", "-n", NS]), `pods is forbidden: User "${SA}" cannot list resource "pods" in API group "" in the namespace "${NS}"`);
    denied(await asBot(["get", "nodes"]), `nodes is forbidden: User "${SA}" cannot list resource "nodes" in API group "" at the cluster scope`);
    denied(await asBot(["get", "deployment", "web", "-n", NS]), `deployments.apps "web" is forbidden: User "${SA}" cannot get resource "deployments" in API group "apps" in the namespace "${NS}"`);
  });

  test("auth can-i answers no; whoami names the account", async () => {
    const r = await asBot(["auth", "can-i", "list", "pods", "-n", NS]);
    expect(r.stdout.trim(), describeResult(r)).toBe("no");
    expect(r.code, describeResult(r)).toBe(1);
    const w = await asBot(["auth", "whoami", "-o", "json"]);
    expect(w.code, describeResult(w)).toBe(0);
    expect(JSON.parse(w.stdout).status.userInfo.username, describeResult(w)).toBe(SA);
  });

  test("the admin still may do anything", async () => {
    const r = await admin(["auth", "can-i", "*", "*", "--all-namespaces"]);
    expect(r.stdout.trim()).toBe("yes");
  });
});

describe("after a RoleBinding to view", () => {
  beforeAll(async () => {
    await admin(["create", "rolebinding", "bot-view", "--clusterrole=view", `--serviceaccount=${NS}:bot`, "-n", NS]);
    await admin(["run", "web", "--image=busybox:1.36", "-n", NS, "--restart=Never", "--", "sleep", "3600"]);
  });

  test("reads are allowed in that namespace only", async () => {
    const r = await asBot(["get", "pods", "-n", NS]);
    expect(r.code, describeResult(r)).toBe(0);
    expect(r.stdout, describeResult(r)).toContain("web");
    expect((await asBot(["auth", "can-i", "list", "pods", "-n", NS])).stdout.trim()).toBe("yes");
    expect((await asBot(["auth", "can-i", "watch", "deployments.apps", "-n", NS])).stdout.trim()).toBe("yes");
    expect((await asBot(["auth", "can-i", "list", "pods", "-n", OTHER])).stdout.trim()).toBe("no");
    expect((await asBot(["auth", "can-i", "create", "pods", "-n", NS])).stdout.trim()).toBe("no");
    expect((await asBot(["auth", "can-i", "get", "secrets", "-n", NS])).stdout.trim()).toBe("no");
    denied(await asBot(["get", "pods", "-n", OTHER]), `pods is forbidden: User "${SA}" cannot list resource "pods" in API group "" in the namespace "${OTHER}"`);
    denied(await asBot(["delete", "pod", "web", "-n", NS]), `pods "web" is forbidden: User "${SA}" cannot delete resource "pods" in API group "" in the namespace "${NS}"`);
  });

  test("exec needs create on pods/exec", async () => {
    expect((await asBot(["auth", "can-i", "create", "pods/exec", "-n", NS])).stdout.trim()).toBe("no");
    const r = await asBot(["exec", "web", "-n", NS, "--", "true"]);
    expect(r.code, describeResult(r)).not.toBe(0);
    expect(r.stderr, describeResult(r)).toContain(`cannot create resource "pods/exec" in API group "" in the namespace "${NS}"`);
  });
});

describe("a Role with resourceNames", () => {
  beforeAll(async () => {
    for (const n of ["one", "two"]) await admin(["create", "secret", "generic", n, `--from-literal=k=${n}`, "-n", NS]);
    await admin(["create", "role", "secret-one", "--verb=get", "--resource=secrets", "--resource-name=one", "-n", NS]);
    await admin(["create", "rolebinding", "bot-secret-one", "--role=secret-one", `--serviceaccount=${NS}:bot`, "-n", NS]);
  });

  test("allows that object and no other", async () => {
    const r = await asBot(["get", "secret", "one", "-n", NS, "-o", "jsonpath={.data.k}"]);
    expect(r.code, describeResult(r)).toBe(0);
    expect(Buffer.from(r.stdout, "base64").toString(), describeResult(r)).toBe("one");
    denied(await asBot(["get", "secret", "two", "-n", NS]), `secrets "two" is forbidden: User "${SA}" cannot get resource "secrets" in API group "" in the namespace "${NS}"`);
    denied(await asBot(["get", "secrets", "-n", NS]), `secrets is forbidden: User "${SA}" cannot list resource "secrets" in API group "" in the namespace "${NS}"`);
    expect((await asBot(["auth", "can-i", "get", "secret/one", "-n", NS])).stdout.trim()).toBe("yes");
    expect((await asBot(["auth", "can-i", "get", "secret/two", "-n", NS])).stdout.trim()).toBe("no");
  });

  test("auth can-i --list shows the rules", async () => {
    const r = await asBot(["auth", "can-i", "--list", "-n", NS]);
    expect(r.code, describeResult(r)).toBe(0);
    const lines = r.stdout.split("\n").map((l) => l.trim().split(/\s{2,}/));
    const row = (res: string) => lines.find((c) => c[0] === res);
    expect(row("secrets"), describeResult(r)).toEqual(["secrets", "[]", "[one]", "[get]"]);
    expect(row("pods"), describeResult(r)).toEqual(["pods", "[]", "[]", "[get list watch]"]);
    expect(row("selfsubjectaccessreviews.authorization.k8s.io")?.[3], describeResult(r)).toBe("[create]");
  });

  test("the binding's removal takes effect at once", async () => {
    await admin(["delete", "rolebinding", "bot-secret-one", "-n", NS]);
    denied(await asBot(["get", "secret", "one", "-n", NS]), `secrets "one" is forbidden: User "${SA}" cannot get resource "secrets" in API group "" in the namespace "${NS}"`);
  });
});

describe("escalation prevention", () => {
  beforeAll(async () => {
    // The namespace admin role: may manage roles and bindings in NS, holds no cluster power.
    await admin(["create", "rolebinding", "bot-admin", "--clusterrole=admin", `--serviceaccount=${NS}:bot`, "-n", NS]);
  });

  test("a namespace admin cannot bind cluster-admin or write a role granting what it lacks", async () => {
    // kubectl's typed create prints "error: failed to create …: <the Status message>".
    const r = await asBot(["create", "rolebinding", "grab", "--clusterrole=cluster-admin", `--serviceaccount=${NS}:bot`, "-n", NS]);
    expect(r.code, describeResult(r)).not.toBe(0);
    expect(r.stderr, describeResult(r)).toContain(`rolebindings.rbac.authorization.k8s.io "grab" is forbidden: user "${SA}"`);
    expect(r.stderr, describeResult(r)).toContain(`is attempting to grant RBAC permissions not currently held:\n{APIGroups:["*"], Resources:["*"], Verbs:["*"]}`);
    const role = await asBot(["create", "role", "quota-maker", "--verb=create", "--resource=resourcequotas", "-n", NS]);
    expect(role.code, describeResult(role)).not.toBe(0);
    expect(role.stderr, describeResult(role)).toContain(`roles.rbac.authorization.k8s.io "quota-maker" is forbidden`);
    expect(role.stderr, describeResult(role)).toContain(`{APIGroups:[""], Resources:["resourcequotas"], Verbs:["create"]}`);
    expect((await admin(["get", "rolebindings,roles", "-n", NS, "-o", "name"])).stdout).not.toMatch(/grab|quota-maker/);
    expect((await asBot(["auth", "can-i", "get", "pods", "-n", OTHER])).stdout.trim()).toBe("no");
  });

  test("what it holds it may grant: a Role of its own rules and a binding to view", async () => {
    const r = await asBot(["create", "role", "pod-reader", "--verb=get,list", "--resource=pods", "-n", NS]);
    expect(r.code, describeResult(r)).toBe(0);
    const b = await asBot(["create", "rolebinding", "reader", "--clusterrole=view", "--user=alice", "-n", NS]);
    expect(b.code, describeResult(b)).toBe(0);
  });
});

describe("impersonation (kubectl --as)", () => {
  test("the admin acts as the service account and gets its answers", async () => {
    const r = await kubectl(srv, ["auth", "can-i", "list", "pods", "-n", OTHER, `--as=${SA}`]);
    expect(r.stdout.trim(), describeResult(r)).toBe("no");
    const who = await kubectl(srv, ["auth", "whoami", "-o", "json", `--as=${SA}`]);
    expect(JSON.parse(who.stdout).status.userInfo, describeResult(who)).toMatchObject({ username: SA, groups: expect.arrayContaining(["system:serviceaccounts", `system:serviceaccounts:${NS}`, "system:authenticated"]) });
    denied(await kubectl(srv, ["get", "pods", "-n", OTHER, `--as=${SA}`]), `pods is forbidden: User "${SA}" cannot list resource "pods" in API group "" in the namespace "${OTHER}"`);
  });

  test("a user without the impersonate verb is refused", async () => {
    denied(await asBot(["get", "pods", "-n", NS, "--as=alice"]), `users "alice" is forbidden: User "${SA}" cannot impersonate resource "users" in API group "" at the cluster scope`);
  });
});
