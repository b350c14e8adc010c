import { expect, test } from "bun:test";
import { checkObject } from "../../schemas/derive/check";
import { findByKind } from "../../schemas/registry";
import { applyPatch, serverSideApply } from "../../server/registry/patch/index";

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

test('no patch type lets a "__proto__" key reach Object.prototype (prototype pollution)', () => {
  const cm = findByKind("v1", "ConfigMap")!;
  const live = checkObject(cm.type, JSON.parse('{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","labels":{"a":"b"},"annotations":{"n":"1"}},"data":{"a":"b"}}'), { strict: true }).value;
  // A map field without its own "__proto__": reading it must not yield Object.prototype.
  const evil = '{"metadata":{"labels":{"__proto__":{"polluted":"yes"}},"annotations":{"__proto__":{"polluted2":"yes"}}}}';
  for (const type of ["merge", "strategic"] as const) {
    try {
      applyPatch(type, live, JSON.parse(evil), cm.type);
    } catch {
      /* a refusal is fine too */
    }
  }
  try {
    applyPatch("json", live, [{ op: "add", path: "/metadata/labels/__proto__", value: { polluted3: "yes" } }, { op: "add", path: "/metadata/labels/__proto__/polluted4", value: "yes" }], cm.type);
  } catch {
    /* refused */
  }
  try {
    serverSideApply(live, JSON.parse('{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","labels":{"__proto__":{"polluted5":"yes"}}}}'), { manager: "m", force: true, apiVersion: "v1", now: "2026-01-01T00:00:00Z", root: cm.type });
  } catch {
    /* refused */
  }
  const probe: Record<string, unknown> = {};
  for (const k of ["polluted", "polluted2", "polluted3", "polluted4", "polluted5"]) expect(probe[k]).toBeUndefined();
  expect(Object.keys(Object.prototype)).toEqual([]);
});
