import { describe, expect, test } from "bun:test";
import { F, anyJson, bytes, int32, int64, intOrString, keyedList, list, map, obj, quantity, str, time, type ObjTy } from "../../schemas/dsl";
import { typeMetaFields } from "../../schemas/types/meta";
import { canonicalQuantity, checkObject } from "../../schemas/derive/check";

const Port = obj("io.k8s.api.core.v1.ContainerPort", () => ({ containerPort: F(int32, 3, { required: true }), name: F(str, 1) }));
const Container = obj("io.k8s.api.core.v1.Container", () => ({
  name: F(str, 1),
  image: F(str, 2),
  ports: F(keyedList(Port, "containerPort"), 6),
  resources: F(obj("io.k8s.api.core.v1.ResourceRequirements", () => ({ limits: F(map(quantity), 1), requests: F(map(quantity), 2) })), 8),
  targetPort: F(intOrString, 9),
}));
const Node: ObjTy = obj("test.v1.Node", () => ({ name: F(str, 1), children: F(list(Node), 2) }));
const Pod = obj("io.k8s.api.core.v1.Pod", () => ({
  ...typeMetaFields(),
  spec: F(obj("io.k8s.api.core.v1.PodSpec", () => ({ containers: F(list(Container), 2), secret: F(bytes, 3), big: F(int64, 4), free: F(map(anyJson), 5), tree: F(Node, 6) })), 2),
  status: F(obj("io.k8s.api.core.v1.PodStatus", () => ({ startTime: F(time, 7) })), 3),
}));
const Open = obj("test.v1.Open", () => ({ a: F(str) }), { open: true });

describe("canonicalQuantity", () => {
  const cases: [string | number, string][] = [
    ["1000m", "1"], ["0.5", "500m"], ["1Gi", "1Gi"], ["1024Mi", "1Gi"], [2, "2"], ["1e3", "1e3"], [1e3, "1k"],
    ["1500m", "1500m"], ["1.5Gi", "1536Mi"], ["0.5Ki", "512"], ["1.5Ki", "1536"], ["100M", "100M"], ["0", "0"],
    ["0.0000000001", "1n"], ["-1.5", "-1500m"], ["1k", "1k"], ["1000", "1k"], ["2048Ki", "2Mi"], ["12e6", "12e6"],
    ["0.1", "100m"], ["128974848", "128974848"], ["129e6", "129e6"], ["129M", "129M"], ["123Mi", "123Mi"], ["5G", "5G"], [0.5, "500m"],
  ];
  for (const [i, o] of cases) test(`${i} -> ${o}`, () => expect(canonicalQuantity(i)).toBe(o));
  test("invalid", () => {
    for (const bad of ["abc", "1Qi", "", "1.2.3", "--1", "1 Gi", "."]) expect(() => canonicalQuantity(bad)).toThrow();
  });
});

describe("checkObject", () => {
  test("clean object passes, quantities canonicalized, nulls dropped", () => {
    const r = checkObject(Pod, {
      apiVersion: "v1", kind: "Pod", metadata: { name: "p", labels: { a: "b" }, annotations: null },
      spec: { containers: [{ name: "c", image: "i", ports: [{ containerPort: 80 }], resources: { limits: { cpu: "1000m", memory: 1024 } }, targetPort: "http" }] },
      status: null,
    }, { strict: true });
    expect(r.errors).toEqual([]);
    expect(r.unknownFields).toEqual([]);
    expect(r.value.spec.containers[0].resources.limits).toEqual({ cpu: "1", memory: "1024" });
    expect("annotations" in r.value.metadata).toBe(false);
    expect("status" in r.value).toBe(false);
  });
  test("unknown fields reported with paths and removed", () => {
    const r = checkObject(Pod, {
      apiVersion: "v1", kind: "Pod", metadata: { name: "p", foo: 1 }, bar: 2,
      spec: { containers: [{ name: "c" }, { name: "d", imagePullPolicyy: "x" }], free: { k: { anything: [1] } }, tree: { children: [{ name: "x", zz: 1 }] } },
    }, { strict: true });
    expect(r.unknownFields).toEqual(["metadata.foo", "bar", "spec.containers[1].imagePullPolicyy", "spec.tree.children[0].zz"]);
    expect(r.value.spec.containers[1]).toEqual({ name: "d" });
    expect(r.value.spec.free).toEqual({ k: { anything: [1] } });
    expect(r.errors).toEqual([]);
  });
  test("open objects keep everything", () => {
    const r = checkObject(Open, { a: "x", b: { c: 1 } }, { strict: true });
    expect(r.unknownFields).toEqual([]);
    expect(r.value).toEqual({ a: "x", b: { c: 1 } });
  });
  test("type errors", () => {
    const r = checkObject(Pod, {
      metadata: { name: 5 },
      spec: { containers: [{ ports: [{ containerPort: "80" }], resources: { limits: { cpu: "abc" } }, targetPort: 1.5 }, { ports: "x" }], secret: "@@@", big: 1.5 },
      status: { startTime: "yesterday" },
    }, { strict: false });
    const byField = Object.fromEntries(r.errors.map((e) => [e.field, e.message]));
    expect(byField["metadata.name"]).toBe("json: cannot unmarshal number into Go struct field ObjectMeta.metadata.name of type string");
    expect(byField["spec.containers[0].ports[0].containerPort"]).toBe("json: cannot unmarshal string into Go struct field ContainerPort.spec.containers.ports.containerPort of type int32");
    expect(byField["spec.containers[1].ports"]).toBe("json: cannot unmarshal string into Go struct field Container.spec.containers.ports of type []v1.ContainerPort");
    expect(byField["spec.containers[0].resources.limits.cpu"]).toContain("quantities must match the regular expression");
    expect(byField["spec.secret"]).toContain("illegal base64 data at input byte 0");
    expect(byField["spec.big"]).toContain("cannot unmarshal number 1.5 into Go struct field PodSpec.spec.big of type int64");
    expect(byField["spec.containers[0].targetPort"]).toBeDefined();
    expect(byField["status.startTime"]).toContain('parsing time "yesterday"');
    expect(r.errors.every((e) => e.type === "FieldValueInvalid")).toBe(true);
  });
  test("int32 range, non-object root", () => {
    const r = checkObject(Pod, { spec: { containers: [{ ports: [{ containerPort: 2 ** 31 }] }] } }, { strict: true });
    expect(r.errors.length).toBe(1);
    expect(checkObject(Pod, [], { strict: true }).errors[0]!.message).toContain("cannot unmarshal array");
  });
});

test("map values: Go names the struct field, not the key", () => {
  const CM = obj("io.k8s.api.core.v1.ConfigMap", () => ({ ...typeMetaFields(), data: F(map(str), 2) }));
  const r = checkObject(CM, { data: { a: 1 } }, { strict: true });
  expect(r.errors).toEqual([{ field: "data.a", type: "FieldValueInvalid", message: "json: cannot unmarshal number into Go struct field ConfigMap.data of type string" }]);
});
