import { describe, expect, test } from "bun:test";
import { readFileSync, readdirSync } from "node:fs";
import { F, bool, bytes, int32, int64, intOrString, list, map, obj, quantity, str, time, type ObjTy } from "../../schemas/dsl";
import { LabelSelector, typeMetaFields } from "../../schemas/types/meta";
import { decodeK8sProtobuf, ProtobufDecodeError } from "../../server/api/protobuf";

const fixture = (name: string) => new Uint8Array(readFileSync(`${import.meta.dir}/../fixtures/protobuf/${name}.bin`));

// Minimal local types with the upstream field numbers, independent of schemas/types/*.
const ConfigMap = obj("io.k8s.api.core.v1.ConfigMap", () => ({ ...typeMetaFields(), data: F(map(str), 2), binaryData: F(map(bytes), 3), immutable: F(bool, 4) }));
const Secret = obj("io.k8s.api.core.v1.Secret", () => ({ ...typeMetaFields(), data: F(map(bytes), 2), type: F(str, 3), stringData: F(map(str), 4), immutable: F(bool, 5) }));
const Namespace = obj("io.k8s.api.core.v1.Namespace", () => ({
  ...typeMetaFields(),
  spec: F(obj("io.k8s.api.core.v1.NamespaceSpec", () => ({ finalizers: F(list(str), 1) })), 2),
  status: F(obj("io.k8s.api.core.v1.NamespaceStatus", () => ({ phase: F(str, 1) })), 3),
}));
const ServiceAccount = obj("io.k8s.api.core.v1.ServiceAccount", () => ({ ...typeMetaFields(), automountServiceAccountToken: F(bool, 4) }));
const TokenRequest = obj("io.k8s.api.authentication.v1.TokenRequest", () => ({
  ...typeMetaFields(),
  spec: F(obj("io.k8s.api.authentication.v1.TokenRequestSpec", () => ({ audiences: F(list(str), 1), expirationSeconds: F(int64, 4) })), 2),
  status: F(obj("io.k8s.api.authentication.v1.TokenRequestStatus", () => ({ token: F(str, 1), expirationTimestamp: F(time, 2) })), 3),
}));
const SSAR = obj("io.k8s.api.authorization.v1.SelfSubjectAccessReview", () => ({
  ...typeMetaFields(),
  spec: F(obj("io.k8s.api.authorization.v1.SelfSubjectAccessReviewSpec", () => ({
    resourceAttributes: F(obj("io.k8s.api.authorization.v1.ResourceAttributes", () => ({
      namespace: F(str, 1), verb: F(str, 2), group: F(str, 3), version: F(str, 4), resource: F(str, 5), subresource: F(str, 6), name: F(str, 7),
    })), 1),
  })), 2),
  status: F(obj("io.k8s.api.authorization.v1.SubjectAccessReviewStatus", () => ({ allowed: F(bool, 1) })), 3),
}));
const Container = obj("io.k8s.api.core.v1.Container", () => ({
  name: F(str, 1), image: F(str, 2),
  ports: F(list(obj("io.k8s.api.core.v1.ContainerPort", () => ({ containerPort: F(int32, 3), protocol: F(str, 4) }))), 6),
  resources: F(obj("io.k8s.api.core.v1.ResourceRequirements", () => ({ limits: F(map(quantity), 1) })), 8),
  terminationMessagePath: F(str, 13), imagePullPolicy: F(str, 14),
}));
const Deployment = obj("io.k8s.api.apps.v1.Deployment", () => ({
  ...typeMetaFields(),
  spec: F(obj("io.k8s.api.apps.v1.DeploymentSpec", () => ({
    replicas: F(int32, 1), selector: F(LabelSelector, 2),
    template: F(obj("io.k8s.api.core.v1.PodTemplateSpec", () => ({ metadata: F(typeMetaFields().metadata.t, 1), spec: F(obj("io.k8s.api.core.v1.PodSpec", () => ({ containers: F(list(Container), 2) })), 2) })), 3),
    strategy: F(obj("io.k8s.api.apps.v1.DeploymentStrategy", () => ({ type: F(str, 1) })), 4),
  })), 2),
  status: F(obj("io.k8s.api.apps.v1.DeploymentStatus", () => ({ replicas: F(int32, 2) })), 3),
}));
const Service = obj("io.k8s.api.core.v1.Service", () => ({
  ...typeMetaFields(),
  spec: F(obj("io.k8s.api.core.v1.ServiceSpec", () => ({
    ports: F(list(obj("io.k8s.api.core.v1.ServicePort", () => ({ name: F(str, 1), protocol: F(str, 2), port: F(int32, 3), targetPort: F(intOrString, 4), nodePort: F(int32, 5) }))), 1),
    selector: F(map(str), 2), clusterIP: F(str, 3), type: F(str, 4),
  })), 2),
}));
const Quota = obj("io.k8s.api.core.v1.ResourceQuota", () => ({
  ...typeMetaFields(),
  spec: F(obj("io.k8s.api.core.v1.ResourceQuotaSpec", () => ({ hard: F(map(quantity), 1), scopes: F(list(str), 2) })), 2),
}));

const local: Record<string, ObjTy> = {
  "v1/ConfigMap": ConfigMap, "v1/Secret": Secret, "v1/Namespace": Namespace, "v1/ServiceAccount": ServiceAccount,
  "authentication.k8s.io/v1/TokenRequest": TokenRequest, "authorization.k8s.io/v1/SelfSubjectAccessReview": SSAR,
  "apps/v1/Deployment": Deployment, "v1/Service": Service, "v1/ResourceQuota": Quota,
};
const lookup = (av: string, k: string) => local[`${av}/${k}`];

describe("decodeK8sProtobuf with kubectl's bodies (local types)", () => {
  test("configmap", () => {
    const d = decodeK8sProtobuf(fixture("configmap"), lookup);
    expect(d.apiVersion).toBe("v1");
    expect(d.kind).toBe("ConfigMap");
    expect(d.object).toEqual({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "cm1" }, data: { a: "b", c: "d", "f.txt": "hello-file" } });
  });
  test("secret generic", () => {
    const d = decodeK8sProtobuf(fixture("secret-generic"), lookup);
    expect(d.object.metadata).toEqual({ name: "s1" });
    expect(d.object.data).toEqual({ user: btoa("admin"), pw: btoa("s3cr3t") });
    // kubectl sends type "" for generic: dropped like JSON omitempty would
    expect(d.object.type).toBeUndefined();
  });
  test("secret tls and docker-registry", () => {
    const tls = decodeK8sProtobuf(fixture("secret-tls"), lookup).object as any;
    expect(tls.type).toBe("kubernetes.io/tls");
    expect(atob(tls.data["tls.crt"])).toContain("BEGIN CERTIFICATE");
    const dr = decodeK8sProtobuf(fixture("secret-docker"), lookup).object as any;
    expect(dr.type).toBe("kubernetes.io/dockerconfigjson");
    expect(JSON.parse(atob(dr.data[".dockerconfigjson"])).auths["r.example"].username).toBe("u");
  });
  test("namespace, serviceaccount", () => {
    expect(decodeK8sProtobuf(fixture("namespace"), lookup).object).toEqual({ apiVersion: "v1", kind: "Namespace", metadata: { name: "ns1" }, spec: {}, status: {} });
    expect((decodeK8sProtobuf(fixture("serviceaccount"), lookup).object as any).metadata.name).toBe("sa1");
  });
  test("deployment", () => {
    const o = decodeK8sProtobuf(fixture("deployment"), lookup).object as any;
    expect(o.metadata).toEqual({ name: "web", labels: { app: "web" } });
    expect(o.spec.replicas).toBe(3);
    expect(o.spec.selector).toEqual({ matchLabels: { app: "web" } });
    expect(o.spec.template.metadata.labels).toEqual({ app: "web" });
    expect(o.spec.template.spec.containers).toEqual([{ name: "nginx", image: "nginx:1.25", ports: [{ containerPort: 80 }], resources: {} }]);
    expect(o.spec.strategy).toEqual({});
  });
  test("service clusterip: intOrString targetPort", () => {
    const o = decodeK8sProtobuf(fixture("service-clusterip"), lookup).object as any;
    expect(o.spec.type).toBe("ClusterIP");
    expect(o.spec.ports.map((p: any) => [p.name, p.port, p.targetPort])).toEqual([["80-8080", 80, 8080], ["443-8443", 443, 8443]]);
  });
  test("quota: quantities", () => {
    const o = decodeK8sProtobuf(fixture("quota"), lookup).object as any;
    expect(o.spec.hard).toEqual({ cpu: "1", memory: "1Gi", pods: "10", "requests.storage": "500Mi" });
    expect(o.spec.scopes).toEqual(["BestEffort"]);
  });
  test("token request", () => {
    const o = decodeK8sProtobuf(fixture("tokenrequest"), lookup).object as any;
    expect(o.apiVersion).toBe("authentication.k8s.io/v1");
    expect(o.spec.audiences).toEqual(["aud1"]);
    expect(o.spec.expirationSeconds).toBe(3600);
  });
  test("selfsubjectaccessreview", () => {
    const o = decodeK8sProtobuf(fixture("selfsubjectaccessreview"), lookup).object as any;
    expect(o.spec.resourceAttributes).toEqual({ namespace: "ns1", verb: "create", resource: "pods", subresource: "log" });
    expect(o.status).toEqual({});
  });
});

describe("errors", () => {
  test("bad magic", () => {
    expect(() => decodeK8sProtobuf(new Uint8Array([1, 2, 3, 4, 5]), lookup)).toThrow(ProtobufDecodeError);
    expect(() => decodeK8sProtobuf(new TextEncoder().encode('{"a":1}'), lookup)).toThrow(/magic/);
  });
  test("truncated", () => {
    const b = fixture("deployment");
    expect(() => decodeK8sProtobuf(b.subarray(0, b.length - 20), lookup)).toThrow(ProtobufDecodeError);
  });
  test("unknown kind", () => {
    expect(() => decodeK8sProtobuf(fixture("configmap"), () => undefined)).toThrow(/no kind "ConfigMap" is registered for version "v1"/);
  });
  test("unknown field numbers are skipped", () => {
    const Tiny = obj("t.v1.Tiny", () => ({ ...typeMetaFields() }));
    expect(decodeK8sProtobuf(fixture("deployment"), () => Tiny).object.metadata).toEqual({ name: "web", labels: { app: "web" } });
  });
});

// Against the real registry (schemas/types/*): every fixture decodes, passes the JSON type
// check without unknown fields, and gives what kubectl set.
describe("fixtures through the registry", async () => {
  const { findByKind } = await import("../../schemas/registry");
  const { TokenRequest: TokenRequestTy } = await import("../../schemas/types/misc");
  const { checkObject } = await import("../../schemas/derive/check");
  const reg = (av: string, k: string) => findByKind(av, k)?.type ?? (k === "TokenRequest" ? TokenRequestTy : undefined);
  const expected: Record<string, (o: any) => void> = {
    configmap: (o) => expect(o.data).toEqual({ a: "b", c: "d", "f.txt": "hello-file" }),
    "secret-generic": (o) => expect(o.data.user).toBe(btoa("admin")),
    "secret-tls": (o) => expect(o.type).toBe("kubernetes.io/tls"),
    "secret-docker": (o) => expect(o.type).toBe("kubernetes.io/dockerconfigjson"),
    namespace: (o) => expect(o.metadata).toEqual({ name: "ns1" }),
    serviceaccount: (o) => expect(o.metadata).toEqual({ name: "sa1" }),
    deployment: (o) => {
      expect(o.spec.replicas).toBe(3);
      expect(o.spec.selector.matchLabels).toEqual({ app: "web" });
      expect(o.spec.template.spec.containers).toEqual([{ name: "nginx", image: "nginx:1.25", ports: [{ containerPort: 80 }], resources: {} }]);
    },
    "service-clusterip": (o) => {
      expect(o.spec.type).toBe("ClusterIP");
      expect(o.spec.ports).toEqual([
        { name: "80-8080", protocol: "TCP", port: 80, targetPort: 8080 },
        { name: "443-8443", protocol: "TCP", port: 443, targetPort: 8443 },
      ]);
      expect(o.spec.selector).toEqual({ app: "svc1" });
    },
    "service-nodeport": (o) => expect(o.spec.ports[0].nodePort).toBe(30080),
    job: (o) => {
      expect(o.spec.template.spec.restartPolicy).toBe("Never");
      expect(o.spec.template.spec.containers[0].command).toEqual(["sh", "-c", "echo hi"]);
    },
    cronjob: (o) => {
      expect(o.spec.schedule).toBe("*/5 * * * *");
      expect(o.spec.jobTemplate.spec.template.spec.containers[0].command).toEqual(["echo", "hi"]);
    },
    role: (o) => expect(o.rules[1]).toEqual({ verbs: ["get", "list"], apiGroups: ["apps"], resources: ["deployments"], resourceNames: ["a"] }),
    clusterrole: (o) => expect(o.rules).toEqual([{ verbs: ["get"], nonResourceURLs: ["/healthz"] }]),
    rolebinding: (o) => {
      expect(o.roleRef).toEqual({ apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "r1" });
      expect(o.subjects[1]).toEqual({ kind: "ServiceAccount", name: "sa1", namespace: "default" });
    },
    quota: (o) => expect(o.spec.hard).toEqual({ cpu: "1", memory: "1Gi", pods: "10", "requests.storage": "500Mi" }),
    tokenrequest: (o) => expect(o.spec).toEqual({ audiences: ["aud1"], expirationSeconds: 3600 }),
    selfsubjectaccessreview: (o) => expect(o.spec.resourceAttributes).toEqual({ namespace: "ns1", verb: "create", resource: "pods", subresource: "log" }),
    ingress: (o) => {
      expect(o.spec.tls).toEqual([{ hosts: ["foo.com"], secretName: "my-cert" }]);
      // http comes from the embedded IngressRuleValue message (pb 2.1)
      expect(o.spec.rules[0].http.paths[0]).toEqual({ path: "/bar", pathType: "Exact", backend: { service: { name: "svc1", port: { number: 8080 } } } });
    },
  };
  const files = readdirSync(`${import.meta.dir}/../fixtures/protobuf`).filter((f) => f.endsWith(".bin"));
  for (const f of files) {
    const name = f.replace(/\.bin$/, "");
    test(name, () => {
      let d;
      try {
        d = decodeK8sProtobuf(fixture(name), reg);
      } catch (e) {
        if (String(e).includes("is registered")) return; // kind not served (policy/v1 PodDisruptionBudget)
        throw e;
      }
      const t = reg(d.apiVersion, d.kind)!;
      const c = checkObject(t, d.object, { strict: true });
      expect(c.errors).toEqual([]);
      expect(c.unknownFields).toEqual([]);
      expected[name]?.(d.object);
    });
  }
});
