import { expect, test } from "bun:test";
import { duplicateJsonFields } from "../../server/api/duplicate-fields";
import { parseText } from "../../server/api/body";

test("finds duplicate keys with their paths", () => {
  expect(duplicateJsonFields('{"a":1,"b":{"c":[{"d":1,"d":2}]},"a":3}')).toEqual(["b.c[0].d", "a"]);
  expect(duplicateJsonFields('{"a":"x\\"y","b":[1,2,{"e":{}}]}')).toEqual([]);
});

test("strict JSON and YAML bodies with duplicate keys are a 400 naming the field", () => {
  expect(() => parseText('{"spec":{"replicas":1,"replicas":2}}', false, true)).toThrow('duplicate field "spec.replicas"');
  expect(() => parseText("spec:\n  replicas: 1\n  replicas: 2\n", true, true)).toThrow("strict decoding error");
  // Not strict: last one wins, like Kubernetes' non-strict decoding.
  expect(parseText('{"a":1,"a":2}', false, false)).toEqual({ a: 2 });
});

test("bodies nested deeper than any Kubernetes object are a 400, not a stack overflow", () => {
  const deep = "[".repeat(5000) + "]".repeat(5000);
  expect(() => parseText(`{"a":${deep}}`, false, false)).toThrow("nested more than");
});
