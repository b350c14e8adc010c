import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findByKind } from "../../schemas/registry";
import { createObject, type WriteCtx } from "../../server/api/write";
import { bootstrap } from "../../server/bootstrap";
import { Store } from "../../server/store/store";

test("a claim without a class gets the default StorageClass; an explicit one is kept", async () => {
  const dir = mkdtempSync(join(tmpdir(), "skiff-adm-"));
  const store = new Store({ dataDir: dir });
  try {
    await bootstrap(store);
    const ctx: WriteCtx = { store, manager: "t", dryRun: false, fieldValidation: "Ignore", warnings: [] };
    const sc = findByKind("storage.k8s.io/v1", "StorageClass")!;
    await createObject(ctx, sc, undefined, { metadata: { name: "fast", annotations: { "storageclass.kubernetes.io/is-default-class": "true" } }, provisioner: "x" });
    const pvc = findByKind("v1", "PersistentVolumeClaim")!;
    const claim = (name: string, cls?: string) => ({ metadata: { name }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } }, ...(cls !== undefined ? { storageClassName: cls } : {}) } });
    expect((await createObject(ctx, pvc, "default", claim("a"))).spec.storageClassName).toBe("fast");
    expect((await createObject(ctx, pvc, "default", claim("b", ""))).spec.storageClassName).toBe("");
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
