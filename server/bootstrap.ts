// First-start state: the system namespaces and the `kubernetes` Service, created through the
// normal write path so they are ordinary, replicated objects.
import { findByKind } from "../schemas/registry";
import { checkObject } from "../schemas/derive/check";
import type { Store } from "./store/store";
import { ApiError } from "./api/status";
import { createObject, type WriteCtx } from "./api/write";

export const SYSTEM_NAMESPACES = ["default", "kube-system", "kube-public", "kube-node-lease"];

export async function bootstrap(store: Store): Promise<void> {
  const ctx: WriteCtx = { store, manager: "skiff-bootstrap", dryRun: false, fieldValidation: "Ignore", warnings: [] };
  const nsRes = findByKind("v1", "Namespace")!;
  for (const name of SYSTEM_NAMESPACES) {
    if (store.get("namespaces", "", name)) continue;
    await createIgnoringExists(() => createObject(ctx, nsRes, undefined, { apiVersion: "v1", kind: "Namespace", metadata: { name } }));
  }
  const svcRes = findByKind("v1", "Service")!;
  if (!store.get("services", "default", "kubernetes")) {
    const svc = checkObject(svcRes.type, {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "kubernetes", namespace: "default", labels: { component: "apiserver", provider: "kubernetes" } },
      spec: { clusterIP: "10.43.0.1", ports: [{ name: "https", port: 443, protocol: "TCP", targetPort: 6443 }], sessionAffinity: "None", type: "ClusterIP" },
    }, { strict: false }).value;
    await createIgnoringExists(() => createObject(ctx, svcRes, "default", svc));
  }
}

async function createIgnoringExists(f: () => Promise<unknown>): Promise<void> {
  try {
    await f();
  } catch (e) {
    if (!(e instanceof ApiError && e.code === 409)) throw e;
  }
}
