// "__proto__" is a legal map key in Kubernetes (a ConfigMap key, a label value…). Plain
// assignment would set the prototype instead of a key, silently losing it.
/** o[k] when o has its own k: never an inherited value (o["__proto__"] is Object.prototype,
 *  and merging a patch into that would change every object in the process). */
export function getOwn(o: unknown, k: string): any {
  return o !== null && typeof o === "object" && Object.hasOwn(o, k) ? (o as Record<string, unknown>)[k] : undefined;
}

export function setOwn(o: Record<string, unknown>, k: string, v: unknown): void {
  if (k === "__proto__") Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  else o[k] = v;
}
