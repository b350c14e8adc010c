// Victim selection and node choice of preemption with PodDisruptionBudgets (upstream's
// filterPodsWithPDBViolation and pickOneNodeForPreemption), on plain PodInfos.
import { expect, test } from "bun:test";
import type { PodInfo } from "../../server/scheduler/cache";
import { pickCandidate, splitByPdbViolation } from "../../server/scheduler/preemption";

const v = (name: string, priority: number, labels?: Record<string, string>, startTime = "2026-01-01T00:00:00Z", namespace = "default") =>
  ({ key: `${namespace}/${name}`, pod: { metadata: { name, namespace, labels }, spec: { priority }, status: { startTime } } }) as unknown as PodInfo;
const pdb = (selector: any, allowed: number | undefined, extra: any = {}) => ({ metadata: { name: "b", namespace: "default" }, spec: { selector }, status: { ...(allowed === undefined ? {} : { disruptionsAllowed: allowed }), ...extra } });
const names = (xs: PodInfo[]) => xs.map((x) => x.pod.metadata.name);

test("a budget's allowed disruptions are used up in order; later matching victims violate it", () => {
  const pods = [v("a", 5, { app: "x" }), v("b", 4, { app: "x" }), v("c", 3, { app: "y" }), v("d", 2, { app: "x" })];
  const r = splitByPdbViolation(pods, [pdb({ matchLabels: { app: "x" } }, 1)]);
  expect(names(r.ok)).toEqual(["a", "c"]);
  expect(names(r.violating)).toEqual(["b", "d"]);
});

test("no labels, other namespace, empty or absent selector, and disruptedPods never violate", () => {
  const pods = [v("nolabels", 1), v("other", 1, { app: "x" }, undefined, "kube-system"), v("listed", 1, { app: "x" })];
  expect(splitByPdbViolation(pods, [pdb({ matchLabels: { app: "x" } }, 0, { disruptedPods: { listed: "2026-01-01T00:00:00Z" } })]).violating).toEqual([]);
  expect(splitByPdbViolation([v("p", 1, { app: "x" })], [pdb({}, 0)]).violating).toEqual([]);
  expect(splitByPdbViolation([v("p", 1, { app: "x" })], [pdb(undefined, 0)]).violating).toEqual([]);
  // A budget whose status is not computed yet allows nothing.
  expect(names(splitByPdbViolation([v("p", 1, { app: "x" })], [pdb({ matchExpressions: [{ key: "app", operator: "In", values: ["x"] }] }, undefined)]).violating)).toEqual(["p"]);
});

test("node order: PDB violations, then highest victim priority, sum, count, youngest", () => {
  const c = (node: string, victims: PodInfo[], pdbViolations = 0) => ({ node, victims, pdbViolations });
  const pick = (...cs: ReturnType<typeof c>[]) => pickCandidate(cs)?.node;
  expect(pick(c("a", [v("1", 1)], 1), c("b", [v("2", 900)], 0))).toBe("b");
  expect(pick(c("a", [v("1", 50)]), c("b", [v("2", 10), v("3", 10), v("4", 10)]))).toBe("b");
  expect(pick(c("a", [v("1", 10), v("2", 9)]), c("b", [v("3", 10), v("4", 1)]))).toBe("b");
  // Negative priorities: two victims still sum to more than one.
  expect(pick(c("a", [v("1", -5), v("2", -5)]), c("b", [v("3", -5)]))).toBe("b");
  expect(pick(c("a", [v("1", 10), v("2", 1)]), c("b", [v("3", 10), v("4", 0), v("5", 1)]))).toBe("a");
  expect(pick(c("a", [v("1", 10, {}, "2026-01-01T00:00:00Z")]), c("b", [v("2", 10, {}, "2026-01-02T00:00:00Z")]))).toBe("b");
  expect(pick(c("a", [v("1", 10)]), c("b", [v("2", 10)]))).toBe("a");
  expect(pick(c("a", [v("1", 1)]), c("b", []))).toBe("b");
  expect(pick()).toBeUndefined();
});
