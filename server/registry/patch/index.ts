// PATCH bodies and server-side apply. The API layer picks the PatchType from the request's
// Content-Type, applies it to the live object, and records field ownership on every write.
import type { ObjTy } from "../../../schemas/dsl";
import { PatchError } from "./errors";
import { applyJsonPatch } from "./json-patch";
import { applyMergePatch } from "./merge-patch";
import { applyStrategicPatch } from "./strategic";

export { PatchError } from "./errors";
export type { PatchCause } from "./errors";
export { serverSideApply } from "./apply";
export { recordUpdate } from "./managed-fields";
export type { ManagedFieldsEntry } from "./managed-fields";

type PatchType = "json" | "merge" | "strategic" | "apply";

const CONTENT_TYPES: Record<string, PatchType> = {
  "application/json-patch+json": "json",
  "application/merge-patch+json": "merge",
  "application/strategic-merge-patch+json": "strategic",
  "application/apply-patch+yaml": "apply",
};

/** Media type (parameters such as `; charset=utf-8` ignored) to patch type; undefined = 415. */
export function patchTypeFromContentType(contentType: string): PatchType | undefined {
  const mt = contentType.split(";")[0]!.trim().toLowerCase();
  return CONTENT_TYPES[mt];
}

/** Apply a json/merge/strategic patch (already parsed JSON) to the live object; returns a new object, never mutates live. */
export function applyPatch(type: "json" | "merge" | "strategic", live: any, patch: unknown, root: ObjTy | undefined): any {
  switch (type) {
    case "json":
      return applyJsonPatch(live, patch);
    case "merge":
      return applyMergePatch(live, patch);
    case "strategic":
      return applyStrategicPatch(live, patch, root);
    default:
      throw new PatchError(415, "UnsupportedMediaType", `unsupported patch type ${String(type)}`);
  }
}
