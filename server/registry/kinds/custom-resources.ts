// Write rules shared by every custom resource: metadata.generation moves with the spec, and
// nothing new is created while its CustomResourceDefinition is being deleted (its cleanup is
// emptying the kind).
import { findByKind } from "../../../schemas/registry";
import { ApiError } from "../../errors";
import type { Strategy } from "../strategy";

export const CRD_KEY = "apiextensions.k8s.io/customresourcedefinitions";

export const customResourceStrategy: Strategy = {
  tracksGeneration: true,
  validateWrite(ctx, obj, old) {
    if (old) return;
    const crd = findByKind(obj.apiVersion, obj.kind)?.crd;
    const def = crd ? ctx.store.get(CRD_KEY, "", crd)?.obj : undefined;
    if (def?.metadata?.deletionTimestamp) throw new ApiError(405, "MethodNotAllowed", "create not allowed while custom resource definition is terminating");
  },
};
