// Small JSON helpers shared by the patch engines. Objects here are plain parsed JSON.
import { setOwn } from "../../../schemas/json";
import type { Field, Ty } from "../../../schemas/dsl";
import { isObj } from "../../../schemas/helpers/json";

/** Deep copy of parsed JSON (faster than structuredClone for small trees). */
export function clone<T>(v: T): T {
  if (Array.isArray(v)) return v.map(clone) as any;
  if (isObj(v)) {
    const out: Record<string, any> = {};
    for (const k of Object.keys(v)) setOwn(out, k, clone((v as any)[k]));
    return out as T;
  }
  return v;
}

/** The type of field `key` inside an object of type t (map values for MapTy). */
export function childType(t: Ty | undefined, key: string): Ty | undefined {
  if (!t) return undefined;
  if (t.kind === "obj") return Object.hasOwn(t.fields(), key) ? t.fields()[key]?.t : undefined;
  if (t.kind === "map") return t.of;
  return undefined;
}

export function fieldOf(t: Ty | undefined, key: string): Field | undefined {
  return t?.kind === "obj" && Object.hasOwn(t.fields(), key) ? t.fields()[key] : undefined;
}

/** True when `key` is a field the struct type declares (as opposed to a map entry or unknown field). */
export function isDeclared(t: Ty | undefined, key: string): boolean {
  return t?.kind === "obj" && Object.hasOwn(t.fields(), key);
}
