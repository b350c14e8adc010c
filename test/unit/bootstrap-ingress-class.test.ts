// The `skiff` IngressClass and --disable ingress (server/bootstrap.ts): a start with the flag
// removes the class an earlier start made, but not one a user made or changed.
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findByKind } from "../../schemas/registry";
import { defaultPlugins } from "../../server/admission/index";
import { bootstrap } from "../../server/bootstrap";
import { APISERVER_USER, writeCtx } from "../../server/registry/ctx";
import { newRegistry } from "../../server/registry/index";
import { Store } from "../../server/store/store";

const dirs: string[] = [];
const stores: Store[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup() {
  const dir = mkdtempSync(join(tmpdir(), "skiff-boot-"));
  dirs.push(dir);
  const store = new Store({ dataDir: dir });
  stores.push(store);
  return { store, registry: newRegistry(store, defaultPlugins()) };
}
const classOf = (store: Store) => store.get("networking.k8s.io/ingressclasses", "", "skiff")?.obj;
const classRes = findByKind("networking.k8s.io/v1", "IngressClass")!;
const admin = writeCtx(APISERVER_USER, "kubectl-edit");

test("a start with --disable ingress removes the class an earlier start made; without it the class comes back", async () => {
  const { store, registry } = setup();
  await bootstrap(registry);
  expect(classOf(store)?.metadata.annotations["ingressclass.kubernetes.io/is-default-class"]).toBe("true");
  await bootstrap(registry, { ingressClass: false });
  expect(classOf(store)).toBeUndefined();
  await bootstrap(registry, { ingressClass: false });
  await bootstrap(registry);
  expect(classOf(store)?.spec.controller).toBe("skiff.io/ingress");
});

test("--disable ingress keeps a `skiff` class a user changed or made", async () => {
  const { store, registry } = setup();
  await bootstrap(registry);
  await registry.update(admin, classRes, "", "skiff", (cur: any) => ({ ...cur, metadata: { ...cur.metadata, annotations: { "ingressclass.kubernetes.io/is-default-class": "false" } } }));
  await bootstrap(registry, { ingressClass: false });
  expect(classOf(store)?.metadata.annotations["ingressclass.kubernetes.io/is-default-class"]).toBe("false");

  const other = setup();
  await bootstrap(other.registry, { ingressClass: false });
  await other.registry.create(admin, classRes, undefined, { apiVersion: "networking.k8s.io/v1", kind: "IngressClass", metadata: { name: "skiff" }, spec: { controller: "skiff.io/ingress" } });
  await bootstrap(other.registry, { ingressClass: false });
  expect(classOf(other.store)?.spec.controller).toBe("skiff.io/ingress");
});
