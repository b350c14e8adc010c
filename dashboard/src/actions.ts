// Writes the object page makes, each as one API call of the signed-in user (RBAC decides).
import { apiPath, request, type Res } from "./api";

const FIELD_MANAGER = "skiff-dashboard";

/** Server-side apply of an edited object (force: the editor's text is what the user wants). */
export function applyObject(res: Res, ns: string | undefined, name: string, obj: unknown): Promise<any> {
  return request("PATCH", `${apiPath(res, ns, name)}?fieldManager=${FIELD_MANAGER}&force=true`, { body: obj, contentType: "application/apply-patch+yaml" });
}

export function scale(res: Res, ns: string | undefined, name: string, replicas: number): Promise<any> {
  return request("PATCH", `${apiPath(res, ns, name, "scale")}?fieldManager=${FIELD_MANAGER}`, { body: { spec: { replicas } }, contentType: "application/merge-patch+json" });
}

/** `kubectl rollout restart`: a new template annotation makes the controller roll every pod. */
export function restart(res: Res, ns: string | undefined, name: string): Promise<any> {
  const body = { spec: { template: { metadata: { annotations: { "kubectl.kubernetes.io/restartedAt": new Date().toISOString() } } } } };
  return request("PATCH", `${apiPath(res, ns, name)}?fieldManager=${FIELD_MANAGER}`, { body, contentType: "application/merge-patch+json" });
}

const REVISION = "deployment.kubernetes.io/revision";

/** `kubectl rollout undo deployment/NAME`: the previous revision's ReplicaSet template back. */
export async function undo(res: Res, ns: string, deployment: any): Promise<number> {
  const rsRes = { group: "apps", version: "v1", plural: "replicasets", kind: "ReplicaSet", namespaced: true };
  const list = await request("GET", apiPath(rsRes, ns));
  const owned = (list.items ?? []).filter((rs: any) => (rs.metadata.ownerReferences ?? []).some((o: any) => o.uid === deployment.metadata.uid));
  const current = Number(deployment.metadata.annotations?.[REVISION] ?? 0);
  const previous = owned
    .map((rs: any) => ({ rs, rev: Number(rs.metadata.annotations?.[REVISION] ?? 0) }))
    .filter((x: any) => x.rev > 0 && x.rev < current)
    .sort((a: any, b: any) => b.rev - a.rev)[0];
  if (!previous) throw new Error(`deployment "${deployment.metadata.name}" has no previous revision to roll back to`);
  const template = structuredClone(previous.rs.spec.template);
  delete template.metadata?.labels?.["pod-template-hash"];
  await request("PATCH", `${apiPath(res, ns, deployment.metadata.name)}?fieldManager=${FIELD_MANAGER}`, {
    body: [{ op: "replace", path: "/spec/template", value: template }],
    contentType: "application/json-patch+json",
  });
  return previous.rev;
}

export function remove(res: Res, ns: string | undefined, name: string): Promise<any> {
  return request("DELETE", apiPath(res, ns, name), { body: { kind: "DeleteOptions", apiVersion: "v1", propagationPolicy: "Background" } });
}
