// node.k8s.io/v1 RuntimeClass and the RuntimeClass admission plugin: overhead and scheduling are
// copied onto pods naming the class; an unknown class is refused.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findByKind } from "../../schemas/registry";
import { checked, type Registry } from "../../server/registry/registry";
import { newRegistry } from "../../server/registry/index";
import { APISERVER_USER, writeCtx } from "../../server/registry/ctx";
import { bootstrap } from "../../server/bootstrap";
import { Store } from "../../server/store/store";

let dir: string;
let store: Store;
let reg: Registry;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "skiff-rc-"));
  store = new Store({ dataDir: dir });
  reg = newRegistry(store);
  await bootstrap(reg);
});
afterAll(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});
const create = (apiVersion: string, kind: string, ns: string | undefined, obj: any) => {
  const r = findByKind(apiVersion, kind)!;
  const ctx = writeCtx(APISERVER_USER, "t");
  return reg.create(ctx, r, ns, checked(ctx, r, { apiVersion, kind, ...obj }));
};
const pod = (name: string, extra: any = {}) => create("v1", "Pod", "default", { metadata: { name }, spec: { containers: [{ name: "c", image: "busybox" }], ...extra } });

test("a pod gets its RuntimeClass's overhead, node selector and tolerations", async () => {
  await create("node.k8s.io/v1", "RuntimeClass", undefined, {
    metadata: { name: "sandboxed" },
    handler: "kata",
    overhead: { podFixed: { cpu: "250m", memory: "120Mi" } },
    scheduling: { nodeSelector: { "runtime/kata": "true" }, tolerations: [{ key: "kata", operator: "Exists", effect: "NoSchedule" }] },
  });
  const p = await pod("sb", { runtimeClassName: "sandboxed", nodeSelector: { zone: "a" } });
  expect(p.spec.overhead).toEqual({ cpu: "250m", memory: "120Mi" });
  expect(p.spec.nodeSelector).toEqual({ zone: "a", "runtime/kata": "true" });
  expect(p.spec.tolerations).toContainEqual({ key: "kata", operator: "Exists", effect: "NoSchedule" });
});

test("unknown class, conflicting selector and a foreign overhead are refused with upstream's messages", async () => {
  const e1 = await pod("x1", { runtimeClassName: "nope" }).catch((e) => e);
  expect(e1.code).toBe(403);
  expect(e1.message).toBe('pod rejected: RuntimeClass "nope" not found');
  const e2 = await pod("x2", { runtimeClassName: "sandboxed", nodeSelector: { "runtime/kata": "false" } }).catch((e) => e);
  expect(e2.message).toBe("pod rejected: conflict: runtimeClass.scheduling.nodeSelector[runtime/kata] = true; pod.spec.nodeSelector[runtime/kata] = false");
  const e3 = await pod("x3", { runtimeClassName: "sandboxed", overhead: { cpu: "1" } }).catch((e) => e);
  expect(e3.message).toBe("pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead");
});

test("handler is required, a DNS label, and immutable", async () => {
  const bad = await create("node.k8s.io/v1", "RuntimeClass", undefined, { metadata: { name: "b" }, handler: "Not_A_Label" }).catch((e) => e);
  expect(bad.code).toBe(422);
  expect(bad.message).toContain("handler: Invalid value");
  const r = findByKind("node.k8s.io/v1", "RuntimeClass")!;
  const upd = await reg.update(writeCtx(APISERVER_USER, "t"), r, "", "sandboxed", (o) => ({ ...o, handler: "runc" })).catch((e) => e);
  expect(upd.code).toBe(422);
  expect(upd.message).toContain("handler: Invalid value: \"runc\": field is immutable");
});
