// The scale subresource of Deployments, ReplicaSets, StatefulSets and ReplicationControllers: an autoscaling/v1 Scale
// view of spec.replicas, written back as an update of the parent.
import { labelSelectorString } from "../../../schemas/helpers/selectors";
import type { RegisteredResource } from "../../../schemas/registry";
import { ApiError } from "../../errors";
import type { WriteCtx } from "../ctx";
import type { Registry } from "../registry";

/** ".spec.replicas" → ["spec", "replicas"] (the paths a CRD's scale subresource names). */
const segs = (path: string) => path.split(".").filter(Boolean);
const at = (o: any, path: string) => segs(path).reduce((x, k) => (x && typeof x === "object" ? x[k] : undefined), o);

export function toScale(o: any, r?: RegisteredResource): any {
  const def = r?.crd ? r.subresources?.scale : undefined;
  const replicas = def ? at(o, def.specReplicasPath) : o.spec?.replicas;
  const status = def ? at(o, def.statusReplicasPath) : o.status?.replicas;
  // A ReplicationController's selector is a plain label map (a LabelSelector's matchLabels).
  const sel = r?.group === "" && r.kind === "ReplicationController" ? { matchLabels: o?.spec?.selector } : o?.spec?.selector;
  const selector = def ? (def.labelSelectorPath ? at(o, def.labelSelectorPath) : undefined) : labelSelectorString(sel);
  const s: any = {
    kind: "Scale",
    apiVersion: "autoscaling/v1",
    metadata: { name: o.metadata.name, namespace: o.metadata.namespace, uid: o.metadata.uid, resourceVersion: o.metadata.resourceVersion, creationTimestamp: o.metadata.creationTimestamp },
    spec: { replicas: typeof replicas === "number" ? replicas : 0 },
    status: { replicas: typeof status === "number" ? status : 0, selector: typeof selector === "string" ? selector : "" },
  };
  if (def && !s.status.selector) delete s.status.selector;
  return s;
}

/** Set the replicas a Scale writes: spec.replicas, or the CRD's specReplicasPath. */
function setReplicas(r: RegisteredResource, o: any, n: number): void {
  const path = r.crd && r.subresources?.scale ? segs(r.subresources.scale.specReplicasPath) : ["spec", "replicas"];
  let x = o;
  for (const k of path.slice(0, -1)) x = x[k] && typeof x[k] === "object" ? x[k] : (x[k] = {});
  x[path[path.length - 1]!] = n;
}

/** Set spec.replicas to what `replicasFrom` answers for the current object; returns the new Scale. */
export async function updateScale(reg: Registry, ctx: WriteCtx, r: RegisteredResource, ns: string, name: string, replicasFrom: (cur: number, curScale: any) => unknown, userRev?: string): Promise<any> {
  const { obj } = await reg.update(
    ctx,
    r,
    ns,
    name,
    (cur) => {
      const sc = toScale(cur, r);
      const want = replicasFrom(sc.spec.replicas, sc);
      if (typeof want !== "number" || !Number.isInteger(want) || want < 0) throw new ApiError(422, "Invalid", `Scale "${name}" is invalid: spec.replicas: Invalid value: ${JSON.stringify(want)}: must be greater than or equal to 0`);
      setReplicas(r, cur, want);
      return cur;
    },
    { sub: "scale", userRev },
  );
  return toScale(obj, r);
}
