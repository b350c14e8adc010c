// The documents as the real kubectl reads them: a throwaway HTTP server serves minimal
// discovery plus the OpenAPI app over test kinds and records writes; kubectl (newest and
// oldest installed) runs `explain` and `apply -f` against it. Skipped without kubectl.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { F, int32, intOrString, keyedList, map, obj, quantity, str, strEnum, type ObjTy } from "../../schemas/dsl";
import { LabelSelector, typeMetaFields } from "../../schemas/types/meta";
import type { OpenAPIResource } from "../../schemas/derive/openapi";
import { OpenAPIDocuments, makeOpenapiApp } from "../../server/api/openapi";

const KUBECTLS = ["/usr/bin/kubectl", "/usr/lib/google-cloud-sdk/bin/kubectl.1.27", "/usr/lib/google-cloud-sdk/bin/kubectl.1.28", "/usr/lib/google-cloud-sdk/bin/kubectl.1.29", "/usr/lib/google-cloud-sdk/bin/kubectl.1.33"].filter(existsSync);

const Container = obj("io.k8s.api.core.v1.Container", () => ({
  name: F(str, 1, { required: true, desc: "Name of the container specified as a DNS_LABEL." }),
  image: F(str, 2, { desc: "Container image name." }),
  resources: F(obj("io.k8s.api.core.v1.ResourceRequirements", () => ({ limits: F(map(quantity), 1) })), 8),
}));
const PodSpec: ObjTy = obj("io.k8s.api.core.v1.PodSpec", () => ({ containers: F(keyedList(Container, "name"), 2, { required: true, desc: "List of containers belonging to the pod." }) }));
const Deployment = obj("io.k8s.api.apps.v1.Deployment", () => ({
  ...typeMetaFields(),
  spec: F(obj("io.k8s.api.apps.v1.DeploymentSpec", () => ({
    replicas: F(int32, 1, { desc: "Number of desired pods." }), selector: F(LabelSelector, 2, { required: true }),
    template: F(obj("io.k8s.api.core.v1.PodTemplateSpec", () => ({ metadata: typeMetaFields().metadata, spec: F(PodSpec, 2) })), 3, { required: true }),
    strategy: F(obj("io.k8s.api.apps.v1.DeploymentStrategy", () => ({
      type: F(strEnum(["Recreate", "RollingUpdate"]), 1, { desc: "Type of deployment. Can be \"Recreate\" or \"RollingUpdate\"." }),
      rollingUpdate: F(obj("io.k8s.api.apps.v1.RollingUpdateDeployment", () => ({ maxSurge: F(intOrString, 2, { desc: "The maximum number of pods that can be scheduled above the desired number of pods." }) })), 2),
    }), { desc: "DeploymentStrategy describes how to replace existing pods with new ones." }), 4, { desc: "The deployment strategy to use to replace existing pods with new ones." }),
  })), 2),
}), { desc: "Deployment enables declarative updates for Pods and ReplicaSets." });
const ConfigMap = obj("io.k8s.api.core.v1.ConfigMap", () => ({ ...typeMetaFields(), data: F(map(str), 2, { desc: "Data contains the configuration data." }) }), { desc: "ConfigMap holds configuration data for pods to consume." });

const resources: OpenAPIResource[] = [
  { group: "", version: "v1", kind: "ConfigMap", plural: "configmaps", namespaced: true, type: ConfigMap },
  { group: "apps", version: "v1", kind: "Deployment", plural: "deployments", namespaced: true, type: Deployment, subresources: { status: true, scale: {} } },
];
const docs = new OpenAPIDocuments(() => resources, () => [{ group: "", version: "v1" }, { group: "apps", version: "v1" }]);
const openapi = makeOpenapiApp(docs);

const apiRes = (r: OpenAPIResource) => ({ name: r.plural, singularName: r.kind.toLowerCase(), namespaced: r.namespaced, kind: r.kind, verbs: ["create", "delete", "get", "list", "patch", "update", "watch"] });
const requests: { method: string; url: string; body: string }[] = [];
let server: ReturnType<typeof Bun.serve>;
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(`${tmpdir()}/skiff-openapi-`);
  server = Bun.serve({
    port: 0,
    async fetch(req) {
      const u = new URL(req.url);
      const p = u.pathname;
      const j = (o: unknown, status = 200) => Response.json(o, { status });
      if (p.startsWith("/openapi") || p.startsWith("/swagger")) return openapi.fetch(req);
      if (p === "/version") return j({ major: "1", minor: "32", gitVersion: "v1.32.4+skiff" });
      if (p === "/api") return j({ kind: "APIVersions", versions: ["v1"] });
      if (p === "/apis") return j({ kind: "APIGroupList", apiVersion: "v1", groups: [{ name: "apps", versions: [{ groupVersion: "apps/v1", version: "v1" }], preferredVersion: { groupVersion: "apps/v1", version: "v1" } }] });
      if (p === "/api/v1") return j({ kind: "APIResourceList", groupVersion: "v1", resources: [apiRes(resources[0]!)] });
      if (p === "/apis/apps/v1") return j({ kind: "APIResourceList", groupVersion: "apps/v1", resources: [apiRes(resources[1]!)] });
      const body = await req.text();
      requests.push({ method: req.method, url: p + u.search, body });
      if (req.method === "GET") return j({ kind: "Status", apiVersion: "v1", status: "Failure", reason: "NotFound", code: 404, message: "not found" }, 404);
      return j({ ...JSON.parse(body || "{}") }, 201);
    },
  });
});
afterAll(() => {
  server?.stop(true);
  rmSync(dir, { recursive: true, force: true });
});

async function kubectl(bin: string, ...args: string[]) {
  const p = Bun.spawn([bin, "--server", `http://127.0.0.1:${server.port}`, "--cache-dir", `${dir}/cache-${bin.split(".").pop()}`, ...args], { stdout: "pipe", stderr: "pipe" });
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  return { code: await p.exited, out, err };
}

describe.skipIf(KUBECTLS.length === 0)("real kubectl against the derived documents", () => {
  for (const bin of KUBECTLS) {
    test(`${bin}: explain deployment.spec.strategy`, async () => {
      const r = await kubectl(bin, "explain", "deployment.spec.strategy");
      if (process.env.SHOW) console.log(r.out);
      expect(r.err).toBe("");
      expect(r.code).toBe(0);
      expect(r.out).toContain("KIND:");
      expect(r.out).toContain("Deployment");
      expect(r.out).toContain("The deployment strategy to use");
      expect(r.out).toContain("rollingUpdate");
      expect(r.out).toMatch(/type\s+<string>/);
    }, 20000);
    test(`${bin}: explain configmap, recursive`, async () => {
      const r = await kubectl(bin, "explain", "configmaps", "--recursive");
      expect(r.code).toBe(0);
      expect(r.out).toContain("data");
      expect(r.out).toContain("ConfigMap holds configuration data");
    }, 20000);
    test(`${bin}: apply -f goes to server-side validation`, async () => {
      requests.length = 0;
      const f = `${dir}/d.yaml`;
      writeFileSync(f, "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  foo: 1\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers: [{name: c, image: nginx}]\n");
      const r = await kubectl(bin, "apply", "-f", f, "-n", "default");
      expect(r.err).toBe("");
      expect(r.code).toBe(0);
      const post = requests.find((q) => q.method === "POST")!;
      expect(post.url).toContain("fieldValidation=Strict");
      expect(JSON.parse(post.body).spec.foo).toBe(1);
    }, 20000);
  }
});
