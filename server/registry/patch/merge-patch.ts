// JSON Merge Patch (RFC 7386): objects merge recursively, null deletes, everything else replaces.
import { getOwn, setOwn } from "../../../schemas/json";
import { badRequest } from "./errors";
import { clone } from "./util";
import { isObj } from "../../../schemas/helpers/json";

function mergeValue(target: any, patch: any): any {
  if (!isObj(patch)) return clone(patch);
  const out: Record<string, any> = isObj(target) ? { ...target } : {};
  for (const k in patch) {
    const v = patch[k];
    if (v === null) delete out[k];
    else setOwn(out, k, mergeValue(getOwn(out, k), v));
  }
  return out;
}

export function applyMergePatch(live: any, patch: unknown): any {
  // Kubernetes decodes the result into an object, so a non-object patch is a bad request.
  if (!isObj(patch)) throw badRequest("merge patch must be a JSON object");
  return mergeValue(clone(live), patch);
}
