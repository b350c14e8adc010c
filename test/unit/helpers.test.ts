// The shared helpers' rules (schemas/helpers/): one definition each, used by the server, the
// CLI and the printers.
import { expect, test } from "bun:test";
import { deepEqual, isObj } from "../../schemas/helpers/json";
import { formatLabelSelector, labelSelectorMatches, labelSelectorString, labelSelectorToRequirements, matchLabels } from "../../schemas/helpers/selectors";

test("deepEqual: undefined is absent, null is not, arrays keep their order", () => {
  expect(deepEqual({ a: 1, b: undefined }, { a: 1 })).toBe(true);
  expect(deepEqual({ a: null }, {})).toBe(false);
  expect(deepEqual([1, 2], [2, 1])).toBe(false);
  expect(deepEqual({ a: [{ b: "c" }] }, { a: [{ b: "c" }] })).toBe(true);
  expect(deepEqual({}, [])).toBe(false);
  expect(isObj([])).toBe(false);
  expect(isObj(null)).toBe(false);
});

test("label selector objects: printed sorted by key, invalid ones match nothing, a missing one nothing, an empty one everything", () => {
  const sel = { matchLabels: { tier: "web", app: "x" }, matchExpressions: [{ key: "b", operator: "NotIn", values: ["z", "y"] }, { key: "a", operator: "Exists" }] };
  expect(labelSelectorString(sel)).toBe("a,app=x,b notin (y,z),tier=web");
  expect(formatLabelSelector({})).toBe("<none>");
  expect(formatLabelSelector({ matchExpressions: [{ key: "a", operator: "In", values: [] }] })).toBe("<error>");
  const labels = { app: "x", tier: "web", a: "1" };
  expect(labelSelectorMatches(sel, labels)).toBe(true);
  expect(labelSelectorMatches(sel, { ...labels, b: "y" })).toBe(false);
  expect(labelSelectorMatches({}, labels)).toBe(true);
  expect(labelSelectorMatches(undefined, labels)).toBe(false);
  expect(matchLabels(labelSelectorToRequirements({ matchExpressions: [{ key: "a", operator: "Bogus" }] }), labels)).toBe(false);
  expect(matchLabels(labelSelectorToRequirements({ matchExpressions: [{ key: "a", operator: "Exists", values: ["x"] }] }), labels)).toBe(false);
});
