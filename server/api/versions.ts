// Objects of a kind served at several versions are stored once. Custom resources use
// conversion strategy None: only apiVersion differs between versions, so an object read
// through a version is the stored object with that version's apiVersion.
import type { RegisteredResource } from "../../schemas/registry";

export function asServed(r: RegisteredResource, obj: any): any {
  if (!r.crd || !obj || typeof obj !== "object" || obj.apiVersion === r.apiVersion) return obj;
  return { ...obj, apiVersion: r.apiVersion };
}
