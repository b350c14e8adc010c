import { describe, expect, test } from "bun:test";
import { customColumns, jsonpath } from "../../cli/commands/jsonpath";

const list = {
  kind: "List",
  items: [
    { metadata: { name: "a", labels: { "app.kubernetes.io/name": "x" } }, status: { conditions: [{ type: "Ready", status: "True" }, { type: "X", status: "False" }] }, spec: { containers: [{ image: "i1" }, { image: "i2" }] } },
    { metadata: { name: "b" }, status: { conditions: [{ type: "Ready", status: "False" }] }, spec: { containers: [{ image: "i3" }] } },
  ],
};

describe("jsonpath", () => {
  test("fields, wildcards, indexes, quoted keys", () => {
    expect(jsonpath("{.items[*].metadata.name}", list)).toBe("a b");
    expect(jsonpath("{.items[0].spec.containers[-1].image}", list)).toBe("i2");
    expect(jsonpath("{.items[0].metadata.labels['app.kubernetes.io/name']}", list)).toBe("x");
    expect(jsonpath(".items[1].metadata.name", list)).toBe("b");
    expect(jsonpath("{..image}", list)).toBe("i1 i2 i3");
  });
  test("filters, range and literals", () => {
    expect(jsonpath('{.items[0].status.conditions[?(@.type=="Ready")].status}', list)).toBe("True");
    expect(jsonpath('{range .items[*]}{.metadata.name}{"\\t"}{.status.conditions[0].status}{"\\n"}{end}', list)).toBe("a\tTrue\nb\tFalse\n");
  });
  test("custom columns", () => {
    expect(customColumns("NAME:.metadata.name,IMAGES:.spec.containers[*].image,X:.nope", list.items)).toEqual([
      ["NAME", "IMAGES", "X"],
      ["a", "i1,i2", "<none>"],
      ["b", "i3", "<none>"],
    ]);
  });
});
