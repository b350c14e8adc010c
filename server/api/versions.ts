// Objects of a kind served at several versions are stored once. Custom resources use
// conversion strategy None: only apiVersion differs between versions, so an object read
// through a version is the stored object with that version's apiVersion. As upstream does on
// reads from storage, the version's schema defaults apply (a default added to the schema
// later shows on objects stored before it).
import type { RegisteredResource } from "../../schemas/registry";

export function asServed(r: RegisteredResource, obj: any): any {
  if (!r.crd || !obj || typeof obj !== "object") return obj;
  if (!r.defaults) return obj.apiVersion === r.apiVersion ? obj : { ...obj, apiVersion: r.apiVersion };
  const out = structuredClone(obj);
  out.apiVersion = r.apiVersion;
  r.defaults(out);
  return out;
}
