// "__proto__" is a legal map key in Kubernetes (a ConfigMap key, a label value…). Plain
// assignment would set the prototype instead of a key, silently losing it.
export function setOwn(o: Record<string, unknown>, k: string, v: unknown): void {
  if (k === "__proto__") Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  else o[k] = v;
}
