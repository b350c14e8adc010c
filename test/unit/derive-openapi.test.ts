import { describe, expect, test } from "bun:test";
import { F, bool, int32, intOrString, keyedList, list, map, obj, quantity, str, strEnum, time, type ObjTy } from "../../schemas/dsl";
import { LabelSelector, typeMetaFields } from "../../schemas/types/meta";
import { openapiV2, openapiV3, type OpenAPIResource } from "../../schemas/derive/openapi";
import { decodeOpenAPIv2, encodeOpenAPIv2 } from "../../schemas/derive/gnostic";
import { OpenAPIDocuments, OPENAPI_V2_PROTOBUF, makeOpenapiApp } from "../../server/api/openapi";

const Container = obj("io.k8s.api.core.v1.Container", () => ({
  name: F(str, 1, { required: true, desc: "Name of the container." }),
  image: F(str, 2),
  ports: F(keyedList(obj("io.k8s.api.core.v1.ContainerPort", () => ({ containerPort: F(int32, 3, { required: true }) })), "containerPort"), 6),
  resources: F(obj("io.k8s.api.core.v1.ResourceRequirements", () => ({ limits: F(map(quantity), 1) })), 8),
  imagePullPolicy: F(strEnum(["Always", "IfNotPresent", "Never"]), 14),
}));
const PodSpec: ObjTy = obj("io.k8s.api.core.v1.PodSpec", () => ({ containers: F(keyedList(Container, "name"), 2, { required: true }), hostNetwork: F(bool, 11) }));
const Pod = obj("io.k8s.api.core.v1.Pod", () => ({ ...typeMetaFields(), spec: F(PodSpec, 2) }), { desc: "Pod is a collection of containers." });
const Deployment = obj("io.k8s.api.apps.v1.Deployment", () => ({
  ...typeMetaFields(),
  spec: F(obj("io.k8s.api.apps.v1.DeploymentSpec", () => ({
    replicas: F(int32, 1), selector: F(LabelSelector, 2, { required: true }),
    template: F(obj("io.k8s.api.core.v1.PodTemplateSpec", () => ({ metadata: typeMetaFields().metadata, spec: F(PodSpec, 2) })), 3, { required: true }),
    strategy: F(obj("io.k8s.api.apps.v1.DeploymentStrategy", () => ({
      type: F(strEnum(["Recreate", "RollingUpdate"]), 1, { desc: "Type of deployment." }),
      rollingUpdate: F(obj("io.k8s.api.apps.v1.RollingUpdateDeployment", () => ({ maxSurge: F(intOrString, 2), maxUnavailable: F(intOrString, 1) })), 2),
    })), 4, { patchStrategy: "retainKeys" }),
  })), 2),
  status: F(obj("io.k8s.api.apps.v1.DeploymentStatus", () => ({ replicas: F(int32, 2), conditions: F(list(obj("io.k8s.api.apps.v1.DeploymentCondition", () => ({ type: F(str, 1), lastUpdateTime: F(time, 6) }))), 6) })), 3),
}));
const Namespace = obj("io.k8s.api.core.v1.Namespace", () => ({ ...typeMetaFields() }));

const resources: OpenAPIResource[] = [
  { group: "", version: "v1", kind: "Pod", plural: "pods", namespaced: true, type: Pod, subresources: { status: true } },
  { group: "", version: "v1", kind: "Namespace", plural: "namespaces", namespaced: false, type: Namespace },
  { group: "apps", version: "v1", kind: "Deployment", plural: "deployments", namespaced: true, type: Deployment, subresources: { status: true, scale: {} } },
];

describe("openapi v3", () => {
  const apps = openapiV3(resources, "apps", "v1");
  const core = openapiV3(resources, "", "v1");
  test("schemas reachable from the kinds, with GVK on the root", () => {
    const s = apps.components.schemas;
    expect(s["io.k8s.api.apps.v1.Deployment"]["x-kubernetes-group-version-kind"]).toEqual([{ group: "apps", kind: "Deployment", version: "v1" }]);
    expect(s["io.k8s.api.apps.v1.DeploymentList"]["x-kubernetes-group-version-kind"]).toEqual([{ group: "apps", kind: "DeploymentList", version: "v1" }]);
    expect(s["io.k8s.api.core.v1.Container"].required).toEqual(["name"]);
    expect(s["io.k8s.api.core.v1.PodSpec"].properties.containers).toMatchObject({
      type: "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"], "x-kubernetes-patch-merge-key": "name", "x-kubernetes-patch-strategy": "merge",
      items: { allOf: [{ $ref: "#/components/schemas/io.k8s.api.core.v1.Container" }], default: {} },
    });
    expect(s["io.k8s.api.apps.v1.DeploymentSpec"].properties.strategy).toEqual({ allOf: [{ $ref: "#/components/schemas/io.k8s.api.apps.v1.DeploymentStrategy" }], default: {}, "x-kubernetes-patch-strategy": "retainKeys" });
    expect(s["io.k8s.api.apps.v1.DeploymentSpec"].properties.replicas).toEqual({ type: "integer", format: "int32" });
    expect(s["io.k8s.api.apps.v1.DeploymentStrategy"].properties.type).toEqual({ type: "string", enum: ["Recreate", "RollingUpdate"], description: "Type of deployment." });
    expect(s["io.k8s.apimachinery.pkg.util.intstr.IntOrString"].format).toBe("int-or-string");
    expect(s["io.k8s.apimachinery.pkg.api.resource.Quantity"].oneOf).toEqual([{ type: "string" }, { type: "number" }]);
    expect(s["io.k8s.apimachinery.pkg.apis.meta.v1.Time"]).toMatchObject({ type: "string", format: "date-time" });
    expect(s["io.k8s.api.autoscaling.v1.Scale"]).toBeDefined();
    expect(s["io.k8s.api.core.v1.Pod"]).toBeUndefined(); // only apps kinds (and what they reach)
    // every $ref resolves
    const refs = JSON.stringify(apps).match(/"\$ref":"[^"]+"/g)!;
    for (const r of refs) expect(s[r.slice(8, -1).replace("#/components/schemas/", "")]).toBeDefined();
  });
  test("paths: PATCH with GVK and fieldValidation", () => {
    const p = apps.paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"].patch;
    expect(p["x-kubernetes-group-version-kind"]).toEqual({ group: "apps", kind: "Deployment", version: "v1" });
    expect(p["x-kubernetes-action"]).toBe("patch");
    expect(p.parameters.map((x: any) => x.name)).toEqual(["name", "namespace", "pretty", "dryRun", "fieldManager", "fieldValidation", "force"]);
    expect(p.parameters.find((x: any) => x.name === "fieldValidation").in).toBe("query");
    expect(Object.keys(p.requestBody.content)).toContain("application/strategic-merge-patch+json");
    expect(apps.paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"].patch["x-kubernetes-group-version-kind"].kind).toBe("Scale");
    expect(apps.paths["/apis/apps/v1/deployments"].get["x-kubernetes-action"]).toBe("list");
    expect(core.paths["/api/v1/namespaces/{name}"].put.operationId).toBe("replaceCoreV1Namespace");
    expect(core.paths["/api/v1/namespaces/{namespace}/pods"].post.parameters.map((x: any) => x.name)).toContain("fieldValidation");
  });
});

describe("openapi v2", () => {
  const doc = openapiV2(resources);
  test("definitions and paths", () => {
    expect(doc.swagger).toBe("2.0");
    expect(doc.definitions["io.k8s.api.core.v1.PodSpec"].properties.containers.items).toEqual({ $ref: "#/definitions/io.k8s.api.core.v1.Container" });
    expect(doc.definitions["io.k8s.apimachinery.pkg.api.resource.Quantity"].type).toBe("string");
    const patch = doc.paths["/api/v1/namespaces/{namespace}/pods/{name}"].patch;
    expect(patch["x-kubernetes-group-version-kind"]).toEqual({ group: "", kind: "Pod", version: "v1" });
    expect(patch.parameters[0]).toMatchObject({ name: "body", in: "body" });
  });
  test("gnostic protobuf round trip", () => {
    const d = decodeOpenAPIv2(encodeOpenAPIv2(doc));
    expect(d.swagger).toBe("2.0");
    const path = d.paths.path.find((p: any) => p.name === "/api/v1/namespaces/{namespace}/pods/{name}");
    const patch = path.value.patch;
    expect(JSON.parse(patch.vendor_extension.find((e: any) => e.name === "x-kubernetes-group-version-kind").value.yaml)).toEqual({ group: "", kind: "Pod", version: "v1" });
    expect(patch.parameters.some((p: any) => p.parameter?.non_body_parameter?.query_parameter_sub_schema?.name === "fieldValidation")).toBe(true);
    const def = d.definitions.additional_properties.find((x: any) => x.name === "io.k8s.api.core.v1.Container").value;
    expect(def.type.value).toEqual(["object"]);
    expect(def.required).toEqual(["name"]);
    expect(def.properties.additional_properties.find((x: any) => x.name === "imagePullPolicy").value.enum.map((e: any) => JSON.parse(e.yaml))).toEqual(["Always", "IfNotPresent", "Never"]);
  });
});

describe("openapi app", () => {
  const docs = new OpenAPIDocuments(() => resources, () => [{ group: "", version: "v1" }, { group: "apps", version: "v1" }]);
  const app = makeOpenapiApp(docs);
  test("index, documents, caching", async () => {
    const idx: any = await (await app.request("/openapi/v3")).json();
    expect(Object.keys(idx.paths)).toEqual(["api/v1", "apis/apps/v1"]);
    const url = idx.paths["apis/apps/v1"].serverRelativeURL as string;
    expect(url).toMatch(/^\/openapi\/v3\/apis\/apps\/v1\?hash=[0-9A-F]{128}$/);
    const r = await app.request(url);
    expect(r.status).toBe(200);
    expect(r.headers.get("cache-control")).toBe("public, immutable");
    const etag = r.headers.get("etag")!;
    expect(((await r.json()) as any).openapi).toBe("3.0.0");
    expect((await app.request(url, { headers: { "If-None-Match": etag } })).status).toBe(304);
    expect((await app.request("/openapi/v3/apis/nope/v1")).status).toBe(404);
    // the hash is stable
    const again: any = await (await app.request("/openapi/v3")).json();
    expect(again).toEqual(idx);
  });
  test("v2 json and protobuf", async () => {
    const j = await app.request("/openapi/v2");
    expect(j.headers.get("content-type")).toBe("application/json");
    expect(((await j.json()) as any).swagger).toBe("2.0");
    const p = await app.request("/openapi/v2", { headers: { Accept: OPENAPI_V2_PROTOBUF } });
    expect(p.headers.get("content-type")).toBe(OPENAPI_V2_PROTOBUF);
    expect(decodeOpenAPIv2(new Uint8Array(await p.arrayBuffer())).swagger).toBe("2.0");
  });
});
