// Resource-list arithmetic shared by LimitRanger and ResourceQuota: quantities as exact nanos
// (BigInt, as resource.Quantity compares), printed in Kubernetes' canonical form.
import { formatQuantity, parseQuantity } from "../../schemas/derive/quantity";

export type Amounts = Map<string, bigint>;

/** Nanos of a quantity, or undefined for a missing or malformed one (validation reports those). */
export function nanos(v: unknown): bigint | undefined {
  if (typeof v !== "string" && typeof v !== "number") return undefined;
  try {
    return parseQuantity(v).nanos;
  } catch {
    return undefined;
  }
}

/** Canonical text of a quantity as written ("1000m" -> "1"), for messages. */
export function qstr(v: unknown): string {
  try {
    return formatQuantity(parseQuantity(v as string));
  } catch {
    return String(v);
  }
}

/** Canonical text of nanos in decimal SI ("500m", "2"), or binary SI for byte-like resources. */
export function nanosStr(n: bigint, binary = false): string {
  return formatQuantity({ nanos: n, format: binary ? "BinarySI" : "DecimalSI" });
}

export function amounts(list: Record<string, unknown> | undefined): Amounts {
  const m: Amounts = new Map();
  for (const [k, v] of Object.entries(list ?? {})) {
    const n = nanos(v);
    if (n !== undefined) m.set(k, n);
  }
  return m;
}

export function addInto(into: Amounts, from: Amounts): void {
  for (const [k, v] of from) into.set(k, (into.get(k) ?? 0n) + v);
}

function maxInto(into: Amounts, from: Amounts): void {
  for (const [k, v] of from) if (!into.has(k) || into.get(k)! < v) into.set(k, v);
}

/**
 * A pod's requests or limits as upstream's resource helpers sum them: app containers add up,
 * an init container counts at its maximum (sidecar init containers run alongside and add up).
 */
export function podAmounts(spec: any, which: "requests" | "limits"): Amounts {
  const sum: Amounts = new Map();
  for (const c of spec?.containers ?? []) addInto(sum, amounts(c?.resources?.[which]));
  const sidecars: Amounts = new Map();
  for (const c of spec?.initContainers ?? []) {
    const a = amounts(c?.resources?.[which]);
    if (c?.restartPolicy === "Always") {
      addInto(sidecars, a);
      continue;
    }
    const withSidecars = new Map(a);
    addInto(withSidecars, sidecars);
    maxInto(sum, withSidecars);
  }
  addInto(sum, sidecars);
  if (spec?.overhead) addInto(sum, amounts(spec.overhead));
  return sum;
}

/** Bytes are printed in binary SI (memory, storage, hugepages); everything else decimal. */
export function isBinary(resource: string): boolean {
  return /memory|storage|hugepages/.test(resource);
}
