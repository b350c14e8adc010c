// Kinds that travel in request bodies but are not stored resources (subresource payloads).
import type { ObjTy } from "../../schemas/dsl";
import * as misc from "../../schemas/types/misc";
import * as pod from "../../schemas/types/pod";
import { DeleteOptions } from "../../schemas/types/meta";
import { Eviction } from "../../schemas/types/policy";

const m = misc as Record<string, unknown>;
const p = pod as Record<string, unknown>;

export const extraKinds: Record<string, ObjTy | undefined> = {
  "v1/DeleteOptions": DeleteOptions,
  "meta.k8s.io/v1/DeleteOptions": DeleteOptions,
  "authentication.k8s.io/v1/TokenRequest": m.TokenRequest as ObjTy | undefined,
  "autoscaling/v1/Scale": m.Scale as ObjTy | undefined,
  "v1/Binding": p.Binding as ObjTy | undefined,
  "policy/v1/Eviction": Eviction,
};
