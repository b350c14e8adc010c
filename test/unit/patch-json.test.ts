import { describe, expect, test } from "bun:test";
import { PatchError, applyPatch, patchTypeFromContentType } from "../../server/registry/patch/index";

const jp = (doc: any, patch: any) => applyPatch("json", doc, patch, undefined);
const mp = (doc: any, patch: any) => applyPatch("merge", doc, patch, undefined);

function err(f: () => unknown): PatchError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(PatchError);
    return e as PatchError;
  }
  throw new Error("expected a PatchError");
}

describe("patchTypeFromContentType", () => {
  test("maps media types", () => {
    expect(patchTypeFromContentType("application/json-patch+json")).toBe("json");
    expect(patchTypeFromContentType("application/merge-patch+json; charset=utf-8")).toBe("merge");
    expect(patchTypeFromContentType("application/strategic-merge-patch+json")).toBe("strategic");
    expect(patchTypeFromContentType("application/apply-patch+yaml")).toBe("apply");
    expect(patchTypeFromContentType("application/json")).toBeUndefined();
  });
});

describe("JSON patch (RFC 6902 appendix A)", () => {
  test("A.1 add an object member", () => expect(jp({ foo: "bar" }, [{ op: "add", path: "/baz", value: "qux" }])).toEqual({ foo: "bar", baz: "qux" }));
  test("A.2 add an array element", () =>
    expect(jp({ foo: ["bar", "baz"] }, [{ op: "add", path: "/foo/1", value: "qux" }])).toEqual({ foo: ["bar", "qux", "baz"] }));
  test("A.3 remove an object member", () => expect(jp({ baz: "qux", foo: "bar" }, [{ op: "remove", path: "/baz" }])).toEqual({ foo: "bar" }));
  test("A.4 remove an array element", () => expect(jp({ foo: ["bar", "qux", "baz"] }, [{ op: "remove", path: "/foo/1" }])).toEqual({ foo: ["bar", "baz"] }));
  test("A.5 replace", () => expect(jp({ baz: "qux", foo: "bar" }, [{ op: "replace", path: "/baz", value: "boo" }])).toEqual({ baz: "boo", foo: "bar" }));
  test("A.6 move a value", () =>
    expect(jp({ foo: { bar: "baz", waldo: "fred" }, qux: { corge: "grault" } }, [{ op: "move", from: "/foo/waldo", path: "/qux/thud" }])).toEqual({
      foo: { bar: "baz" },
      qux: { corge: "grault", thud: "fred" },
    }));
  test("A.7 move an array element", () =>
    expect(jp({ foo: ["all", "grass", "cows", "eat"] }, [{ op: "move", from: "/foo/1", path: "/foo/3" }])).toEqual({ foo: ["all", "cows", "eat", "grass"] }));
  test("A.8 test success", () =>
    expect(jp({ baz: "qux", foo: ["a", 2, "c"] }, [{ op: "test", path: "/baz", value: "qux" }, { op: "test", path: "/foo/1", value: 2 }])).toEqual({
      baz: "qux",
      foo: ["a", 2, "c"],
    }));
  test("A.9 test failure is 422", () => {
    const e = err(() => jp({ baz: "qux" }, [{ op: "test", path: "/baz", value: "bar" }]));
    expect(e.code).toBe(422);
  });
  test("A.10 add nested member", () => expect(jp({ foo: "bar" }, [{ op: "add", path: "/child", value: { grandchild: {} } }])).toEqual({ foo: "bar", child: { grandchild: {} } }));
  test("A.12 add to nonexistent target is 422", () => expect(err(() => jp({ foo: "bar" }, [{ op: "add", path: "/baz/bat", value: "qux" }])).code).toBe(422));
  test("A.14 ~ escaping", () => {
    expect(jp({ "/": 9, "~1": 10 }, [{ op: "test", path: "/~01", value: 10 }])).toEqual({ "/": 9, "~1": 10 });
    expect(jp({ metadata: { labels: {} } }, [{ op: "add", path: "/metadata/labels/app.kubernetes.io~1name", value: "x" }])).toEqual({
      metadata: { labels: { "app.kubernetes.io/name": "x" } },
    });
  });
  test("A.15 comparing strings and numbers", () => expect(err(() => jp({ "/": 9, "~1": 10 }, [{ op: "test", path: "/~01", value: "10" }])).code).toBe(422));
  test("A.16 add an array value", () => expect(jp({ foo: ["bar"] }, [{ op: "add", path: "/foo/-", value: ["abc", "def"] }])).toEqual({ foo: ["bar", ["abc", "def"]] }));
  test("copy, root replace, out of range", () => {
    expect(jp({ a: { b: 1 } }, [{ op: "copy", from: "/a", path: "/c" }])).toEqual({ a: { b: 1 }, c: { b: 1 } });
    expect(jp({ a: 1 }, [{ op: "replace", path: "", value: { b: 2 } }])).toEqual({ b: 2 });
    expect(err(() => jp({ a: [1] }, [{ op: "remove", path: "/a/1" }])).code).toBe(422);
    expect(err(() => jp({ a: [1] }, [{ op: "add", path: "/a/01", value: 1 }])).code).toBe(422);
    expect(err(() => jp({ a: 1 }, [{ op: "remove", path: "/b" }])).code).toBe(422);
    expect(err(() => jp({ a: 1 }, [{ op: "replace", path: "/b", value: 1 }])).code).toBe(422);
  });
  test("malformed patches are 400", () => {
    expect(err(() => jp({}, { op: "add" })).code).toBe(400);
    expect(err(() => jp({}, [{ op: "frob", path: "/a" }])).code).toBe(400);
    expect(err(() => jp({}, [{ op: "add", value: 1 }])).code).toBe(400);
  });
  test("atomic and does not mutate live", () => {
    const live = { a: [1, 2], b: { c: 1 } };
    expect(err(() => jp(live, [{ op: "remove", path: "/a/0" }, { op: "add", path: "/b/c", value: 2 }, { op: "test", path: "/x", value: 1 }])).code).toBe(422);
    const out = jp(live, [{ op: "remove", path: "/a/0" }, { op: "replace", path: "/b/c", value: 2 }]);
    expect(out).toEqual({ a: [2], b: { c: 2 } });
    expect(live).toEqual({ a: [1, 2], b: { c: 1 } });
  });
});

describe("JSON merge patch (RFC 7386 appendix A)", () => {
  const cases: [any, any, any][] = [
    [{ a: "b" }, { a: "c" }, { a: "c" }],
    [{ a: "b" }, { b: "c" }, { a: "b", b: "c" }],
    [{ a: "b" }, { a: null }, {}],
    [{ a: "b", b: "c" }, { a: null }, { b: "c" }],
    [{ a: ["b"] }, { a: "c" }, { a: "c" }],
    [{ a: "c" }, { a: ["b"] }, { a: ["b"] }],
    [{ a: { b: "c" } }, { a: { b: "d", c: null } }, { a: { b: "d" } }],
    [{ a: [{ b: "c" }] }, { a: [1] }, { a: [1] }],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ];
  for (const [doc, patch, want] of cases) test(`${JSON.stringify(doc)} + ${JSON.stringify(patch)}`, () => expect(mp(doc, patch)).toEqual(want));
  test("non-object patch is 400; live untouched", () => {
    expect(err(() => mp({ a: 1 }, ["c"])).code).toBe(400);
    const live = { a: { b: 1 } };
    mp(live, { a: { b: 2 } });
    expect(live.a.b).toBe(1);
  });
});

import fc from "fast-check";

describe("patch engines never fail with anything but PatchError", () => {
  const json = fc.jsonValue({ maxDepth: 3 });
  const path = fc.array(fc.constantFrom("a", "b", "0", "1", "-", "~0", "~1", ""), { maxLength: 3 }).map((p) => (p.length ? "/" + p.join("/") : ""));
  const op = fc.record({ op: fc.constantFrom("add", "remove", "replace", "move", "copy", "test", "bad"), path, from: path, value: json });
  test("json patch", () => {
    fc.assert(
      fc.property(json, fc.array(op, { maxLength: 4 }), (doc, ops) => {
        try {
          applyPatch("json", doc, ops, undefined);
        } catch (e) {
          if (!(e instanceof PatchError)) throw e;
        }
      }),
      { numRuns: 500 },
    );
  });
  test("merge patch", () => {
    fc.assert(
      fc.property(json, json, (doc, patch) => {
        try {
          applyPatch("merge", doc, patch, undefined);
        } catch (e) {
          if (!(e instanceof PatchError)) throw e;
        }
      }),
      { numRuns: 500 },
    );
  });
});
