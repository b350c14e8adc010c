// The scale subresource of Deployments, ReplicaSets and StatefulSets: an autoscaling/v1 Scale
// view of spec.replicas, written back as an update of the parent.
import { labelSelectorString } from "../../../schemas/helpers/selectors";
import type { RegisteredResource } from "../../../schemas/registry";
import { ApiError } from "../../errors";
import type { WriteCtx } from "../ctx";
import type { Registry } from "../registry";

export function toScale(o: any): any {
  return {
    kind: "Scale",
    apiVersion: "autoscaling/v1",
    metadata: { name: o.metadata.name, namespace: o.metadata.namespace, uid: o.metadata.uid, resourceVersion: o.metadata.resourceVersion, creationTimestamp: o.metadata.creationTimestamp },
    spec: { replicas: o.spec?.replicas ?? 0 },
    status: { replicas: o.status?.replicas ?? 0, selector: labelSelectorString(o?.spec?.selector) ?? "" },
  };
}

/** Set spec.replicas to what `replicasFrom` answers for the current object; returns the new Scale. */
export async function updateScale(reg: Registry, ctx: WriteCtx, r: RegisteredResource, ns: string, name: string, replicasFrom: (cur: number, curScale: any) => unknown, userRev?: string): Promise<any> {
  const { obj } = await reg.update(
    ctx,
    r,
    ns,
    name,
    (cur) => {
      const want = replicasFrom(cur.spec?.replicas ?? 0, toScale(cur));
      if (typeof want !== "number" || !Number.isInteger(want) || want < 0) throw new ApiError(422, "Invalid", `Scale "${name}" is invalid: spec.replicas: Invalid value: ${JSON.stringify(want)}: must be greater than or equal to 0`);
      cur.spec = { ...(cur.spec ?? {}), replicas: want };
      return cur;
    },
    { sub: "scale", userRev },
  );
  return toScale(obj);
}
