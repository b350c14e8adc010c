import { expect, test } from "bun:test";
import { checkObject } from "../../schemas/derive/check";
import { findByKind } from "../../schemas/registry";
import { applyPatch } from "../../server/api/patch/index";

test('a "__proto__" map key survives type checking and patches', () => {
  const cm = findByKind("v1", "ConfigMap")!;
  const raw = JSON.parse('{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"},"data":{"__proto__":"v","a":"b"}}');
  const { value } = checkObject(cm.type, raw, { strict: true });
  expect(Object.keys(value.data)).toEqual(["__proto__", "a"]);
  expect(JSON.stringify(value.data)).toBe('{"__proto__":"v","a":"b"}');
  for (const type of ["merge", "strategic"] as const) {
    const patched = applyPatch(type, value, JSON.parse('{"data":{"__proto__":"w"}}'), cm.type);
    expect(JSON.stringify(patched.data)).toBe('{"__proto__":"w","a":"b"}');
  }
});
