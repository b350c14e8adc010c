// remainingItemCount (issue 14): how many objects follow a page, at the current revision and
// at an older one (a continue token after writes), and never with a selector (as upstream).
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Store } from "../../server/store/store";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const cm = (ns: string, name: string) => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: ns, uid: `u-${ns}-${name}` }, data: {} });

test("list pages say how many objects remain", async () => {
  const dir = mkdtempSync(join(tmpdir(), "skiff-remaining-"));
  dirs.push(dir);
  const store = new Store({ dataDir: dir, windowSize: 100 });
  for (const ns of ["a", "b"]) for (let i = 0; i < 5; i++) await store.propose({ op: "create", res: "configmaps", ns, name: `c${i}`, obj: cm(ns, `c${i}`) });
  const p1 = store.list("configmaps", "a", { limit: 2 });
  expect(p1.items.map((o) => o.metadata.name)).toEqual(["c0", "c1"]);
  expect(p1.remaining).toBe(3);
  // All namespaces: keys order by (namespace, name).
  const all = store.list("configmaps", undefined, { limit: 7 });
  expect(all.remaining).toBe(3);
  // Writes after the first page: the next page is read at the first page's revision.
  await store.propose({ op: "create", res: "configmaps", ns: "a", name: "c9", obj: cm("a", "c9") });
  const p2 = store.list("configmaps", "a", { limit: 2, after: p1.more, atRev: p1.rev });
  expect(p2.items.map((o) => o.metadata.name)).toEqual(["c2", "c3"]);
  expect(p2.remaining).toBe(1);
  const p3 = store.list("configmaps", "a", { limit: 2, after: p2.more, atRev: p1.rev });
  expect(p3.items.map((o) => o.metadata.name)).toEqual(["c4"]);
  expect(p3.more).toBeUndefined();
  expect(p3.remaining).toBeUndefined();
  // With a selector the count is unknown without reading everything: left out.
  const sel = store.list("configmaps", "a", { limit: 2, match: () => true });
  expect(sel.more).toBeDefined();
  expect(sel.remaining).toBeUndefined();
  store.close();
});
