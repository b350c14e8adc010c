import { describe, expect, test } from "bun:test";
import type { ObjTy, Ty } from "../../schemas/dsl";
import { typeAt } from "../../schemas/dsl";
import type { ResourceDef } from "../../schemas/registry";
import { resources as coreResources, ConfigMap, Secret, Service } from "../../schemas/types/core";
import { resources as podResources, Pod, PodSpec } from "../../schemas/types/pod";
import { Container } from "../../schemas/types/pod-container";
import { isDns1123Label, isDns1123Subdomain, parseQuantity, validateObjectMeta } from "../../schemas/validation";

const all: ResourceDef[] = [...coreResources, ...podResources];
const res = (kind: string) => {
  const r = all.find((x) => x.kind === kind);
  if (!r) throw new Error(`no ${kind}`);
  return r;
};
const fieldOf = (t: ObjTy, name: string) => t.fields()[name]!;
const objAt = (root: ObjTy, path: string[]) => typeAt(root, path) as ObjTy;

describe("defaults", () => {
  test("a minimal pod gets exactly Kubernetes' defaults", () => {
    const pod: any = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "web", namespace: "default" },
      spec: { containers: [{ name: "web", image: "nginx:1.25", ports: [{ containerPort: 80 }] }] },
    };
    res("Pod").defaults!(pod);
    expect(pod.spec).toEqual({
      containers: [
        {
          name: "web",
          image: "nginx:1.25",
          ports: [{ containerPort: 80, protocol: "TCP" }],
          imagePullPolicy: "IfNotPresent",
          terminationMessagePath: "/dev/termination-log",
          terminationMessagePolicy: "File",
          resources: {},
        },
      ],
      restartPolicy: "Always",
      dnsPolicy: "ClusterFirst",
      terminationGracePeriodSeconds: 30,
      schedulerName: "default-scheduler",
      securityContext: {},
      enableServiceLinks: true,
      priority: 0,
      preemptionPolicy: "PreemptLowerPriority",
    });
    expect(pod.status).toEqual({ phase: "Pending", qosClass: "BestEffort" });
  });

  test("imagePullPolicy follows the tag", () => {
    const pod: any = {
      metadata: { name: "p", namespace: "d" },
      spec: {
        containers: [
          { name: "a", image: "nginx" },
          { name: "b", image: "nginx:latest" },
          { name: "c", image: "registry:5000/nginx" },
          { name: "d", image: "nginx@sha256:abc" },
          { name: "e", image: "nginx:1" },
        ],
      },
    };
    res("Pod").defaults!(pod);
    expect(pod.spec.containers.map((c: any) => c.imagePullPolicy)).toEqual([
      "Always",
      "Always",
      "Always",
      "IfNotPresent",
      "IfNotPresent",
    ]);
  });

  test("probes, volumes and requests from limits", () => {
    const pod: any = {
      metadata: { name: "p", namespace: "d" },
      spec: {
        containers: [
          {
            name: "a",
            image: "x:1",
            readinessProbe: { httpGet: { port: 8080 } },
            resources: { limits: { cpu: "1", memory: "1Gi" } },
            env: [{ name: "N", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }],
          },
        ],
        volumes: [{ name: "s", secret: { secretName: "x" } }, { name: "e" }, { name: "h", hostPath: { path: "/x" } }],
      },
    };
    res("Pod").defaults!(pod);
    const c = pod.spec.containers[0];
    expect(c.readinessProbe).toEqual({
      httpGet: { port: 8080, path: "/", scheme: "HTTP" },
      timeoutSeconds: 1,
      periodSeconds: 10,
      successThreshold: 1,
      failureThreshold: 3,
    });
    expect(c.resources.requests).toEqual({ cpu: "1", memory: "1Gi" });
    expect(c.env[0].valueFrom.fieldRef.apiVersion).toBe("v1");
    expect(pod.spec.volumes).toEqual([
      { name: "s", secret: { secretName: "x", defaultMode: 420 } },
      { name: "e", emptyDir: {} },
      { name: "h", hostPath: { path: "/x", type: "" } },
    ]);
    expect(pod.status.qosClass).toBe("Guaranteed");
  });

  test("a minimal service gets exactly Kubernetes' defaults", () => {
    const svc: any = { metadata: { name: "web", namespace: "default" }, spec: { selector: { app: "web" }, ports: [{ port: 80 }] } };
    res("Service").defaults!(svc);
    expect(svc.spec).toEqual({
      selector: { app: "web" },
      ports: [{ port: 80, protocol: "TCP", targetPort: 80 }],
      type: "ClusterIP",
      sessionAffinity: "None",
      internalTrafficPolicy: "Cluster",
      ipFamilyPolicy: "SingleStack",
    });
  });

  test("namespace, secret, pvc, pv", () => {
    const ns: any = { metadata: { name: "team-a" } };
    res("Namespace").defaults!(ns);
    expect(ns).toEqual({
      metadata: { name: "team-a", labels: { "kubernetes.io/metadata.name": "team-a" } },
      spec: { finalizers: ["kubernetes"] },
      status: { phase: "Active" },
    });
    const secret: any = { metadata: { name: "s", namespace: "d" }, stringData: { user: "admin" } };
    res("Secret").defaults!(secret);
    expect(secret).toEqual({ metadata: { name: "s", namespace: "d" }, type: "Opaque", data: { user: "YWRtaW4=" } });
    const pvc: any = { metadata: { name: "c", namespace: "d" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } };
    res("PersistentVolumeClaim").defaults!(pvc);
    expect(pvc.spec.volumeMode).toBe("Filesystem");
    expect(pvc.status.phase).toBe("Pending");
    const pv: any = { metadata: { name: "v" }, spec: { capacity: { storage: "1Gi" }, accessModes: ["ReadWriteOnce"], hostPath: { path: "/d" } } };
    res("PersistentVolume").defaults!(pv);
    expect(pv.spec.persistentVolumeReclaimPolicy).toBe("Retain");
    expect(pv.spec.volumeMode).toBe("Filesystem");
    expect(res("PersistentVolume").validate!(pv)).toEqual([]);
  });
});

describe("validation", () => {
  const pod = (spec: any, name = "web") => {
    const p: any = { metadata: { name, namespace: "default" }, spec };
    res("Pod").defaults!(p);
    return res("Pod").validate!(p);
  };

  test("a good pod passes", () => {
    expect(pod({ containers: [{ name: "web", image: "nginx" }] })).toEqual([]);
  });

  test("missing image", () => {
    expect(pod({ containers: [{ name: "web" }] })).toEqual([
      { field: "spec.containers[0].image", type: "FieldValueRequired", message: "Required value" },
    ]);
  });

  test("bad name", () => {
    const errs = pod({ containers: [{ name: "web", image: "nginx" }] }, "Foo_Bar");
    expect(errs).toHaveLength(1);
    expect(errs[0]!.field).toBe("metadata.name");
    expect(errs[0]!.type).toBe("FieldValueInvalid");
    expect(errs[0]!.message).toStartWith('Invalid value: "Foo_Bar": a lowercase RFC 1123 subdomain must consist of');
  });

  test("bad container name and duplicates across init and regular containers", () => {
    const errs = pod({
      initContainers: [{ name: "setup", image: "busybox" }],
      containers: [
        { name: "setup", image: "nginx" },
        { name: "Web", image: "nginx" },
      ],
    });
    expect(errs.map((e) => [e.field, e.type])).toEqual([
      ["spec.containers[0].name", "FieldValueDuplicate"],
      ["spec.containers[1].name", "FieldValueInvalid"],
    ]);
    expect(errs[0]!.message).toBe('Duplicate value: "setup"');
    expect(errs[1]!.message).toStartWith('Invalid value: "Web": a lowercase RFC 1123 label must consist of');
  });

  test("no containers, bad ports, unknown volume, bad restartPolicy", () => {
    expect(pod({ containers: [] })).toEqual([{ field: "spec.containers", type: "FieldValueRequired", message: "Required value" }]);
    const errs = pod({
      restartPolicy: "Sometimes",
      containers: [{ name: "a", image: "x", ports: [{ containerPort: 70000 }], volumeMounts: [{ name: "nope", mountPath: "/x" }] }],
    });
    expect(errs).toContainEqual({
      field: "spec.containers[0].ports[0].containerPort",
      type: "FieldValueInvalid",
      message: "Invalid value: 70000: must be between 1 and 65535, inclusive",
    });
    expect(errs.find((e) => e.field === "spec.containers[0].volumeMounts[0].name")?.message).toBe('Not found: "nope"');
    expect(errs).toContainEqual({
      field: "spec.restartPolicy",
      type: "FieldValueNotSupported",
      message: 'Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
    });
  });

  test("duplicate volume names", () => {
    const errs = pod({ containers: [{ name: "a", image: "x" }], volumes: [{ name: "v" }, { name: "v" }] });
    expect(errs).toEqual([{ field: "spec.volumes[1].name", type: "FieldValueDuplicate", message: 'Duplicate value: "v"' }]);
  });

  test("pod updates: image may change, other spec fields may not", () => {
    const mk = (image: string, extra: any = {}) => {
      const p: any = { metadata: { name: "p", namespace: "d" }, spec: { containers: [{ name: "a", image }], ...extra } };
      res("Pod").defaults!(p);
      return p;
    };
    const old = mk("nginx:1");
    expect(res("Pod").validate!(mk("nginx:2"), old)).toEqual([]);
    const errs = res("Pod").validate!(mk("nginx:1", { hostname: "other" }), old);
    expect(errs).toHaveLength(1);
    expect(errs[0]!.type).toBe("FieldValueForbidden");
    expect(errs[0]!.field).toBe("spec");
    expect(errs[0]!.message).toStartWith("Forbidden: pod updates may not change fields other than `spec.containers[*].image`");
  });

  test("service needs ports unless headless or ExternalName; names unique", () => {
    const svc = (spec: any) => {
      const s: any = { metadata: { name: "web", namespace: "d" }, spec };
      res("Service").defaults!(s);
      return res("Service").validate!(s);
    };
    expect(svc({})).toEqual([{ field: "spec.ports", type: "FieldValueRequired", message: "Required value" }]);
    expect(svc({ clusterIP: "None" })).toEqual([]);
    expect(svc({ type: "ExternalName", externalName: "example.com" })).toEqual([]);
    expect(svc({ ports: [{ port: 80 }, { port: 81 }] }).map((e) => e.field)).toEqual(["spec.ports[0].name", "spec.ports[1].name"]);
    expect(svc({ ports: [{ name: "a", port: 80 }, { name: "a", port: 81 }] })).toEqual([
      { field: "spec.ports[1].name", type: "FieldValueDuplicate", message: 'Duplicate value: "a"' },
    ]);
  });

  test("configmap keys and secret data", () => {
    const cm: any = { metadata: { name: "c", namespace: "d" }, data: { "ok.key": "1", "bad key": "2" } };
    const errs = res("ConfigMap").validate!(cm);
    expect(errs.map((e) => e.field)).toEqual(["data[bad key]"]);
    const secret: any = { metadata: { name: "s", namespace: "d" }, type: "Opaque", data: { a: "not base64!" } };
    expect(res("Secret").validate!(secret).map((e) => e.field)).toEqual(["data[a]"]);
    const tls: any = { metadata: { name: "s", namespace: "d" }, type: "kubernetes.io/tls", data: {} };
    expect(res("Secret").validate!(tls).map((e) => e.field)).toEqual(["data[tls.crt]", "data[tls.key]"]);
  });

  test("namespace names are DNS labels", () => {
    expect(res("Namespace").validate!({ metadata: { name: "a.b" }, spec: {}, status: {} })[0]!.message).toStartWith(
      'Invalid value: "a.b": a lowercase RFC 1123 label must consist of',
    );
  });

  test("name helpers", () => {
    expect(isDns1123Label("abc-1")).toBe(true);
    expect(isDns1123Label("a.b")).toBe(false);
    expect(isDns1123Subdomain("a.b")).toBe(true);
    expect(validateObjectMeta({ generateName: "web-" }, true)).toEqual([
      { field: "metadata.namespace", type: "FieldValueRequired", message: "Required value" },
    ]);
    expect(validateObjectMeta({}, false)).toEqual([
      { field: "metadata.name", type: "FieldValueRequired", message: "Required value: name or generateName is required" },
    ]);
    expect(parseQuantity("100m")).toBeCloseTo(0.1);
    expect(parseQuantity("1Gi")).toBe(2 ** 30);
  });
});

describe("field selectors", () => {
  test("pods and events", () => {
    const fs = res("Pod").fieldSelectors!;
    const p = { spec: { nodeName: "n1", hostNetwork: true }, status: { phase: "Running", podIPs: [{ ip: "10.0.0.1" }] } };
    expect(fs["spec.nodeName"]!(p)).toBe("n1");
    expect(fs["spec.hostNetwork"]!(p)).toBe("true");
    expect(fs["spec.hostNetwork"]!({ spec: {} })).toBe("false");
    expect(fs["status.podIP"]!(p)).toBe("10.0.0.1");
    expect(fs["spec.nodeName"]!({ spec: {} })).toBe("");
    const ev = res("Event").fieldSelectors!;
    expect(ev["involvedObject.name"]!({ involvedObject: { name: "x" } })).toBe("x");
    expect(ev["source"]!({ reportingComponent: "kubelet" })).toBe("kubelet");
  });
});

describe("wire facts", () => {
  test("well-known protobuf field numbers", () => {
    expect(fieldOf(Pod, "metadata").pb).toBe(1);
    expect(fieldOf(Pod, "spec").pb).toBe(2);
    expect(fieldOf(Pod, "status").pb).toBe(3);
    expect(fieldOf(PodSpec, "containers").pb).toBe(2);
    expect(fieldOf(PodSpec, "initContainers").pb).toBe(20);
    expect(fieldOf(PodSpec, "volumes").pb).toBe(1);
    expect(fieldOf(Container, "image").pb).toBe(2);
    expect(fieldOf(Container, "env").pb).toBe(7);
    expect(fieldOf(ConfigMap, "data").pb).toBe(2);
    expect(fieldOf(ConfigMap, "binaryData").pb).toBe(3);
    expect(fieldOf(Secret, "data").pb).toBe(2);
    expect(fieldOf(Secret, "type").pb).toBe(3);
    expect(fieldOf(Service, "spec").pb).toBe(2);
    expect(fieldOf(objAt(Service, ["spec", "ports", "0"]), "targetPort").pb).toBe(4);
    expect(fieldOf(objAt(Service, ["spec"]), "clusterIPs").pb).toBe(18);
  });

  test("strategic merge metadata", () => {
    const list = (t: ObjTy, f: string) => fieldOf(t, f).t as any;
    expect(list(PodSpec, "containers")).toMatchObject({ patchStrategy: "merge", patchMergeKey: "name" });
    expect(list(PodSpec, "volumes")).toMatchObject({ patchStrategy: "merge,retainKeys", patchMergeKey: "name" });
    expect(list(PodSpec, "tolerations")).toMatchObject({ listType: "atomic" });
    expect(list(Container, "ports")).toMatchObject({ patchMergeKey: "containerPort", listMapKeys: ["containerPort", "protocol"] });
    expect(list(Container, "volumeMounts")).toMatchObject({ patchMergeKey: "mountPath" });
    expect(list(Container, "env")).toMatchObject({ patchMergeKey: "name" });
  });

  test("no object type reachable from a resource repeats a protobuf field number", () => {
    const seen = new Set<ObjTy>();
    const problems: string[] = [];
    const walk = (t: Ty) => {
      if (t.kind === "list" || t.kind === "map") return walk(t.of);
      if (t.kind !== "obj" || seen.has(t)) return;
      seen.add(t);
      const byNum = new Map<number, string>();
      for (const [name, f] of Object.entries(t.fields())) {
        if (f.pb !== undefined) {
          const prev = byNum.get(f.pb);
          if (prev) problems.push(`${t.name}: ${prev} and ${name} both use ${f.pb}`);
          byNum.set(f.pb, name);
        }
        walk(f.t);
      }
    };
    for (const r of all) walk(r.type);
    expect(problems).toEqual([]);
    expect(seen.size).toBeGreaterThan(150);
  });

  test("resource names as kubectl api-resources shows them", () => {
    const row = (k: string) => {
      const r = res(k);
      return [r.plural, r.shortNames ?? [], r.namespaced, r.categories ?? []];
    };
    expect(row("Pod")).toEqual(["pods", ["po"], true, ["all"]]);
    expect(row("Service")).toEqual(["services", ["svc"], true, ["all"]]);
    expect(row("Namespace")).toEqual(["namespaces", ["ns"], false, []]);
    expect(row("Node")).toEqual(["nodes", ["no"], false, []]);
    expect(row("PersistentVolume")).toEqual(["persistentvolumes", ["pv"], false, []]);
    expect(row("ResourceQuota")).toEqual(["resourcequotas", ["quota"], true, []]);
    expect(row("LimitRange")).toEqual(["limitranges", ["limits"], true, []]);
  });
});
