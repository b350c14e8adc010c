// Resource arithmetic for scheduling: a pod's effective requests (max of the sum of app
// containers and the largest init container, plus overhead), node allocatable, and the
// "non-zero" requests used for scoring (100m CPU / 200Mi memory when a container asks none).
import { quantityValue } from "../../schemas/derive/quantity";

export interface Resources {
  /** millicores */
  cpu: number;
  /** bytes */
  memory: number;
  ephemeral: number;
  /** extended resources (nvidia.com/gpu, hugepages-2Mi...) */
  scalars?: Record<string, number>;
}

const DEFAULT_CPU = 100;
const DEFAULT_MEM = 200 * 1024 * 1024;

function q(v: unknown): number {
  if (v === undefined || v === null) return 0;
  try {
    return quantityValue(v as string);
  } catch {
    return 0;
  }
}

function addList(into: Resources, list: Record<string, unknown> | undefined, nonZero = false): void {
  const l = list ?? {};
  let cpu = 0, mem = 0;
  for (const [k, v] of Object.entries(l)) {
    if (k === "cpu") cpu = Math.round(q(v) * 1000);
    else if (k === "memory") mem = q(v);
    else if (k === "ephemeral-storage") into.ephemeral += q(v);
    else if (k !== "pods") {
      into.scalars ??= {};
      into.scalars[k] = (into.scalars[k] ?? 0) + q(v);
    }
  }
  if (nonZero) {
    if (!("cpu" in l)) cpu = DEFAULT_CPU;
    if (!("memory" in l)) mem = DEFAULT_MEM;
  }
  into.cpu += cpu;
  into.memory += mem;
}

function maxInto(into: Resources, r: Resources): void {
  into.cpu = Math.max(into.cpu, r.cpu);
  into.memory = Math.max(into.memory, r.memory);
  into.ephemeral = Math.max(into.ephemeral, r.ephemeral);
  for (const [k, v] of Object.entries(r.scalars ?? {})) {
    into.scalars ??= {};
    into.scalars[k] = Math.max(into.scalars[k] ?? 0, v);
  }
}

export function zero(): Resources {
  return { cpu: 0, memory: 0, ephemeral: 0 };
}

/** Effective requests of a pod spec; nonZero applies scoring defaults. */
export function podRequests(spec: any, nonZero = false): Resources {
  const sum = zero();
  if (spec?.resources?.requests) addList(sum, spec.resources.requests, nonZero);
  else for (const c of spec?.containers ?? []) addList(sum, c?.resources?.requests, nonZero);
  let sidecars = zero();
  for (const c of spec?.initContainers ?? []) {
    const r = zero();
    addList(r, c?.resources?.requests, nonZero);
    if (c?.restartPolicy === "Always") {
      // Sidecars run alongside the app containers.
      addInto(sidecars, r);
      continue;
    }
    const withSidecars = { ...r };
    addInto(withSidecars, sidecars);
    maxInto(sum, withSidecars);
  }
  addInto(sum, sidecars);
  if (spec?.overhead) addList(sum, spec.overhead);
  return sum;
}

function addInto(a: Resources, b: Resources): void {
  a.cpu += b.cpu;
  a.memory += b.memory;
  a.ephemeral += b.ephemeral;
  for (const [k, v] of Object.entries(b.scalars ?? {})) {
    a.scalars ??= {};
    a.scalars[k] = (a.scalars[k] ?? 0) + v;
  }
}

export function add(a: Resources, b: Resources, sign = 1): void {
  a.cpu += sign * b.cpu;
  a.memory += sign * b.memory;
  a.ephemeral += sign * b.ephemeral;
  for (const [k, v] of Object.entries(b.scalars ?? {})) {
    a.scalars ??= {};
    a.scalars[k] = (a.scalars[k] ?? 0) + sign * v;
  }
}

export interface Allocatable extends Resources {
  pods: number;
}

export function nodeAllocatable(node: any): Allocatable {
  const src = node?.status?.allocatable ?? node?.status?.capacity ?? {};
  const r = zero();
  addList(r, src);
  return { ...r, pods: Math.floor(q(src.pods ?? 110)) };
}
