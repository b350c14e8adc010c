// Issue 14, `kubectl debug` on the API side, against a real `skiff server` process and the real
// kubectl (1.27, 1.32, 1.33): the pods/ephemeralcontainers subresource (GET, PUT, strategic merge
// PATCH as kubectl sends it), upstream's ValidatePodEphemeralContainersUpdate (422 with its
// messages), the pod's own update path refusing changes to spec.ephemeralContainers, RBAC on the
// subresource (not in the default edit role, as upstream), PodSecurity on ephemeral containers and
// NodeRestriction (a node adds none). No agent runs: the pods stay Pending.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml, stringify } from "yaml";
import { describeResult, expectOk, kubectl, type KubectlTarget } from "../harness/kubectl";
import { startServer, type SkiffServer } from "../harness/server";

setDefaultTimeout(60_000);

const NS = "debug-api";
const SA = `system:serviceaccount:${NS}:dev`;
let srv: SkiffServer;
let dev: KubectlTarget;

const admin = async (args: string[]) => expectOk(await kubectl(srv, args), `kubectl ${args.join(" ")}`);
const api = (path: string, init: RequestInit = {}) => srv.fetch(path, { ...init, headers: { "content-type": "application/json", ...(init.headers ?? {}) } });
const podPath = (name: string, sub = "") => `/api/v1/namespaces/${NS}/pods/${name}${sub ? `/${sub}` : ""}`;
const smp = (name: string, body: unknown) =>
  api(podPath(name, "ephemeralcontainers"), { method: "PATCH", headers: { "content-type": "application/strategic-merge-patch+json" }, body: JSON.stringify(body) });

async function applyPod(name: string, containers = ["c"]): Promise<void> {
  const pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: NS },
    spec: { initContainers: [{ name: "init", image: "busybox", command: ["true"] }], containers: containers.map((c) => ({ name: c, image: "busybox", command: ["sleep", "3600"] })) },
  };
  expectOk(await kubectl(srv, ["create", "-f", "-"], { stdin: JSON.stringify(pod) }), `create pod ${name}`);
}

/**
 * The pod as stored, without its resourceVersion: the scheduler may write the pod's status
 * (Unschedulable) at any moment, and a PUT with a stale resourceVersion would be a 409.
 */
async function current(name: string): Promise<any> {
  const pod: any = await (await api(podPath(name))).json();
  delete pod.metadata.resourceVersion;
  return pod;
}

async function ephemeral(name: string): Promise<any[]> {
  const r = await api(podPath(name));
  expect(r.status).toBe(200);
  return ((await r.json()) as any).spec.ephemeralContainers ?? [];
}

beforeAll(async () => {
  srv = await startServer({ name: "debug-api" });
  await admin(["create", "namespace", NS]);
  await admin(["create", "serviceaccount", "dev", "-n", NS]);
  await admin(["create", "rolebinding", "dev-edit", "--clusterrole=edit", `--serviceaccount=${NS}:dev`, "-n", NS]);
  const token = (await admin(["create", "token", "dev", "-n", NS])).stdout.trim();
  const kc = parseYaml(readFileSync(srv.kubeconfig, "utf8"));
  kc.users = [{ name: "default", user: { token } }];
  const dir = join(srv.runDir, "dev");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "kubeconfig.yaml"), stringify(kc));
  dev = { kubeconfig: join(dir, "kubeconfig.yaml"), runDir: dir };
}, 90_000);

afterAll(async () => {
  await srv?.stop();
});

describe("kubectl debug adds an ephemeral container through pods/ephemeralcontainers", () => {
  for (const minor of [27, 32, 33]) {
    test(`kubectl 1.${minor}: debug --target adds one, defaulted; a second one keeps the first`, async () => {
      const pod = `web${minor}`;
      await applyPod(pod);
      const r = await kubectl(srv, ["debug", pod, "-n", NS, "--image=busybox", "-c", "dbg", "--target=c", "--", "sh", "-c", "ps"], { minor });
      expect(r.code, describeResult(r)).toBe(0);
      let eph = await ephemeral(pod);
      expect(eph.length).toBe(1);
      expect(eph[0]).toMatchObject({ name: "dbg", image: "busybox", targetContainerName: "c", command: ["sh", "-c", "ps"], terminationMessagePath: "/dev/termination-log", terminationMessagePolicy: "File" });
      expect(eph[0].imagePullPolicy).toBe("Always"); // defaulted for an untagged image
      const second = await kubectl(srv, ["debug", pod, "-n", NS, "--image=busybox", "-c", "dbg2", "--", "true"], { minor });
      expect(second.code, describeResult(second)).toBe(0);
      eph = await ephemeral(pod);
      expect(eph.map((c) => c.name)).toEqual(["dbg", "dbg2"]);
      // Reading the subresource gives the whole Pod.
      const g = await api(podPath(pod, "ephemeralcontainers"));
      expect(g.status).toBe(200);
      const got: any = await g.json();
      expect(got.kind).toBe("Pod");
      expect(got.spec.ephemeralContainers.length).toBe(2);
      // kubectl get -o jsonpath sees the list.
      const jp = await admin(["get", "pod", pod, "-n", NS, "-o", "jsonpath={.spec.ephemeralContainers[*].name}"]);
      expect(jp.stdout).toBe("dbg dbg2");
    });
  }

  test("discovery lists pods/ephemeralcontainers (kind Pod, get/patch/update)", async () => {
    const j: any = await (await api("/api/v1")).json();
    const sub = j.resources.find((r: any) => r.name === "pods/ephemeralcontainers");
    expect(sub).toMatchObject({ kind: "Pod", verbs: ["get", "patch", "update"], namespaced: true });
  });

  test("the subresource writes only spec.ephemeralContainers (labels and containers sent along are dropped)", async () => {
    await applyPod("drop");
    const cur = await current("drop");
    cur.metadata.labels = { sneaky: "yes" };
    cur.spec.containers[0].image = "other";
    cur.spec.ephemeralContainers = [{ name: "e1", image: "busybox" }];
    const r = await api(podPath("drop", "ephemeralcontainers"), { method: "PUT", body: JSON.stringify(cur) });
    expect(r.status, await r.clone().text()).toBe(200);
    const out: any = await r.json();
    expect(out.metadata.labels?.sneaky).toBeUndefined();
    expect(out.spec.containers[0].image).toBe("busybox");
    expect(out.spec.ephemeralContainers.map((c: any) => c.name)).toEqual(["e1"]);
  });
});

describe("validation (upstream's ValidatePodEphemeralContainersUpdate)", () => {
  beforeAll(async () => {
    await applyPod("val");
    const r = await smp("val", { spec: { ephemeralContainers: [{ name: "first", image: "busybox" }] } });
    expect(r.status, await r.clone().text()).toBe(200);
  });

  const invalid = async (body: unknown, message: string) => {
    const before = (await ephemeral("val")).map((c) => c.name);
    const r = await smp("val", body);
    const text = await r.text();
    expect(r.status, text).toBe(422);
    const s = JSON.parse(text);
    expect(s.reason).toBe("Invalid");
    expect(s.message).toContain(message);
    expect((await ephemeral("val")).map((c) => c.name)).toEqual(before);
  };

  // A strategic merge patch without $setElementOrder puts new list items first, as upstream's does.
  test("a target that is not a container of the pod: Not found", () =>
    invalid({ spec: { ephemeralContainers: [{ name: "t", image: "busybox", targetContainerName: "nope" }] } }, `Pod "val" is invalid: spec.ephemeralContainers[0].targetContainerName: Not found: "nope"`));

  test("a target may be an init container, not another ephemeral one", async () => {
    await invalid({ spec: { ephemeralContainers: [{ name: "t", image: "busybox", targetContainerName: "first" }] } }, `spec.ephemeralContainers[0].targetContainerName: Not found: "first"`);
    const r = await smp("val", { spec: { ephemeralContainers: [{ name: "ti", image: "busybox", targetContainerName: "init" }] } });
    expect(r.status, await r.clone().text()).toBe(200);
  });

  test("ports, probes, resources, lifecycle and restartPolicy are forbidden", async () => {
    await invalid({ spec: { ephemeralContainers: [{ name: "p", image: "busybox", ports: [{ containerPort: 80 }] }] } }, "ports: Forbidden: cannot be set for an Ephemeral Container");
    await invalid({ spec: { ephemeralContainers: [{ name: "p", image: "busybox", readinessProbe: { exec: { command: ["true"] } } }] } }, "readinessProbe: Forbidden: cannot be set for an Ephemeral Container");
    await invalid({ spec: { ephemeralContainers: [{ name: "p", image: "busybox", resources: { limits: { cpu: "1" } } }] } }, "resources: Forbidden: cannot be set for an Ephemeral Container");
    await invalid({ spec: { ephemeralContainers: [{ name: "p", image: "busybox", lifecycle: { preStop: { exec: { command: ["true"] } } } }] } }, "lifecycle: Forbidden: cannot be set for an Ephemeral Container");
    await invalid({ spec: { ephemeralContainers: [{ name: "p", image: "busybox", restartPolicy: "Always" }] } }, "restartPolicy: Forbidden: cannot be set for an Ephemeral Container");
  });

  test("names are unique across containers, init containers and ephemeral containers", async () => {
    await invalid({ spec: { ephemeralContainers: [{ name: "c", image: "busybox" }] } }, `spec.ephemeralContainers[0].name: Duplicate value: "c"`);
    await invalid({ spec: { ephemeralContainers: [{ name: "init", image: "busybox" }] } }, `name: Duplicate value: "init"`);
  });

  test("an existing one may not be changed or removed", async () => {
    const cur = await current("val");
    const changed = structuredClone(cur);
    changed.spec.ephemeralContainers.find((c: any) => c.name === "first").image = "busybox:2";
    let r = await api(podPath("val", "ephemeralcontainers"), { method: "PUT", body: JSON.stringify(changed) });
    let t = await r.text();
    expect(r.status, t).toBe(422);
    expect(JSON.parse(t).message).toContain(`spec.ephemeralContainers[first]: Forbidden: existing ephemeral containers "first" may not be changed`);
    const removed = structuredClone(cur);
    removed.spec.ephemeralContainers = removed.spec.ephemeralContainers.filter((c: any) => c.name !== "first");
    r = await api(podPath("val", "ephemeralcontainers"), { method: "PUT", body: JSON.stringify(removed) });
    t = await r.text();
    expect(r.status, t).toBe(422);
    expect(JSON.parse(t).message).toContain(`spec.ephemeralContainers: Forbidden: existing ephemeral containers "first" may not be removed`);
  });

  test("kubectl debug with a target that does not exist gets the 422 (kubectl keeps the order: it is last)", async () => {
    const r = await kubectl(srv, ["debug", "val", "-n", NS, "--image=busybox", "-c", "bad", "--target=nope", "--", "true"]);
    expect(r.code, describeResult(r)).not.toBe(0);
    expect(r.stderr).toContain(`spec.ephemeralContainers[2].targetContainerName: Not found: "nope"`);
  });

  test("the pod's own update path may not add, change or remove ephemeral containers", async () => {
    const add = await kubectl(srv, ["patch", "pod", "val", "-n", NS, "--type=json", "-p", JSON.stringify([{ op: "add", path: "/spec/ephemeralContainers/-", value: { name: "x", image: "busybox" } }])]);
    expect(add.code, describeResult(add)).not.toBe(0);
    expect(add.stderr).toContain("pod updates may not change fields other than");
    expect(add.stderr).toContain("ephemeralContainers: changed");
    const cur = await current("val");
    const before = cur.spec.ephemeralContainers.length;
    cur.spec.ephemeralContainers = [];
    const r = await api(podPath("val"), { method: "PUT", body: JSON.stringify(cur) });
    expect(r.status, await r.clone().text()).toBe(422);
    // An update that leaves them alone goes through.
    const label = await kubectl(srv, ["label", "pod", "val", "-n", NS, "x=y"]);
    expect(label.code, describeResult(label)).toBe(0);
    expect((await ephemeral("val")).length).toBe(before);
  });

  test("DELETE and POST on the subresource are 405, not a pod deletion", async () => {
    expect((await api(podPath("val", "ephemeralcontainers"), { method: "DELETE" })).status).toBe(405);
    expect((await api(podPath("val"))).status).toBe(200);
  });

  test("a new pod may not carry ephemeral containers", async () => {
    const pod = { apiVersion: "v1", kind: "Pod", metadata: { name: "born-with" }, spec: { containers: [{ name: "c", image: "busybox" }], ephemeralContainers: [{ name: "e", image: "busybox" }] } };
    const r = await api(`/api/v1/namespaces/${NS}/pods`, { method: "POST", body: JSON.stringify(pod) });
    const t = await r.text();
    expect(r.status, t).toBe(422);
    expect(JSON.parse(t).message).toContain("spec.ephemeralContainers: Forbidden: cannot be set on create");
  });

  test("a pod template may not carry ephemeral containers", async () => {
    const dep = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "tpl", namespace: NS },
      spec: { selector: { matchLabels: { a: "b" } }, template: { metadata: { labels: { a: "b" } }, spec: { containers: [{ name: "c", image: "busybox" }], ephemeralContainers: [{ name: "e", image: "busybox" }] } } },
    };
    const r = await api(`/apis/apps/v1/namespaces/${NS}/deployments`, { method: "POST", body: JSON.stringify(dep) });
    expect(r.status).toBe(422);
  });
});

describe("who may add them", () => {
  test("the default edit role may not (as upstream); a role granting pods/ephemeralcontainers may", async () => {
    await applyPod("rbac");
    const r = await kubectl(dev, ["debug", "rbac", "-n", NS, "--image=busybox", "-c", "d1", "--", "true"]);
    expect(r.code, describeResult(r)).not.toBe(0);
    expect(r.stderr).toContain(`pods "rbac" is forbidden: User "${SA}" cannot patch resource "pods/ephemeralcontainers" in API group "" in the namespace "${NS}"`);
    await admin(["create", "role", "debugger", "--verb=get,patch,update", "--resource=pods/ephemeralcontainers", "-n", NS]);
    await admin(["create", "rolebinding", "dev-debugger", "--role=debugger", `--serviceaccount=${NS}:dev`, "-n", NS]);
    const ok = await kubectl(dev, ["debug", "rbac", "-n", NS, "--image=busybox", "-c", "d1", "--", "true"]);
    expect(ok.code, describeResult(ok)).toBe(0);
    expect((await ephemeral("rbac")).map((c) => c.name)).toEqual(["d1"]);
  });

  test("a node may not, even with a role that grants it (NodeRestriction)", async () => {
    await applyPod("noded");
    const AS = ["--as", "system:node:n1", "--as-group", "system:nodes"];
    let r = await kubectl(srv, ["debug", "noded", "-n", NS, "--image=busybox", "-c", "n", ...AS, "--", "true"]);
    expect(r.code, describeResult(r)).not.toBe(0);
    expect(r.stderr).toContain("Forbidden");
    await admin(["create", "clusterrole", "node-debug", "--verb=get,patch", "--resource=pods,pods/ephemeralcontainers"]);
    await admin(["create", "clusterrolebinding", "node-debug", "--clusterrole=node-debug", "--group=system:nodes"]);
    r = await kubectl(srv, ["debug", "noded", "-n", NS, "--image=busybox", "-c", "n", ...AS, "--", "true"]);
    expect(r.code, describeResult(r)).not.toBe(0);
    expect(r.stderr).toContain(`node "n1" is not allowed to modify ephemeral containers`);
    expect(await ephemeral("noded")).toEqual([]);
  });

  test("PodSecurity judges ephemeral containers: a privileged one is refused under baseline", async () => {
    await admin(["create", "namespace", "debug-psa"]);
    await admin(["label", "namespace", "debug-psa", "pod-security.kubernetes.io/enforce=baseline"]);
    expectOk(await kubectl(srv, ["run", "p", "-n", "debug-psa", "--image=busybox", "--", "sleep", "3600"]), "run p");
    const r = await srv.fetch("/api/v1/namespaces/debug-psa/pods/p/ephemeralcontainers", {
      method: "PATCH",
      headers: { "content-type": "application/strategic-merge-patch+json" },
      body: JSON.stringify({ spec: { ephemeralContainers: [{ name: "root", image: "busybox", securityContext: { privileged: true } }] } }),
    });
    const t = await r.text();
    expect(r.status, t).toBe(403);
    expect(JSON.parse(t).message).toContain(`violates PodSecurity "baseline:latest": privileged (container "root" must not set securityContext.privileged=true)`);
    // kubectl debug's default profile passes baseline.
    const ok = await kubectl(srv, ["debug", "p", "-n", "debug-psa", "--image=busybox", "-c", "fine", "--", "true"]);
    expect(ok.code, describeResult(ok)).toBe(0);
  });
});
