// Pod and container lookups shared by log/exec/attach/portforward, with Kubernetes' messages.
import { ApiError, badRequest } from "../../errors";

/** A percent-encoded path segment; bad encodings (%ZZ) are the client's 400, not a URIError. */
export function decodeSegment(seg: string): string {
  try {
    return decodeURIComponent(seg);
  } catch {
    throw badRequest(`the request path has an invalid percent-encoding: ${JSON.stringify(seg.slice(0, 100))}`);
  }
}

const GO_TRUE = new Set(["1", "t", "T", "TRUE", "true", "True"]);
const GO_FALSE = new Set(["0", "f", "F", "FALSE", "false", "False"]);

/** A boolean query parameter as Go's strconv.ParseBool reads it (absent or empty: false). */
export function goBoolParam(q: URLSearchParams, name: string): boolean {
  const v = q.get(name);
  if (v === null || v === "") return false;
  if (GO_TRUE.has(v)) return true;
  if (GO_FALSE.has(v)) return false;
  throw badRequest(`${name}: Invalid value: ${JSON.stringify(v.slice(0, 50))}: strconv.ParseBool: parsing ${JSON.stringify(v.slice(0, 50))}: invalid syntax`);
}

/** An int64 query parameter (absent or empty: undefined), at least `min`. */
export function intParam(q: URLSearchParams, name: string, min: number, what = "PodLogOptions"): number | undefined {
  const v = q.get(name);
  if (v === null || v === "") return undefined;
  if (!/^[+-]?\d+$/.test(v)) throw badRequest(`${name}: Invalid value: ${JSON.stringify(v.slice(0, 50))}: must be an integer`);
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw badRequest(`${name}: Invalid value: ${JSON.stringify(v.slice(0, 50))}: value out of range`);
  if (n < min) throw badRequest(`${what} "" is invalid: ${name}: Invalid value: ${n}: must be greater than or equal to ${min}`);
  return n;
}

/** Reads a pod (the store in `skiff server`; tests may read it over the API). */
export type PodGetter = (ns: string, name: string) => any | Promise<any>;

export async function getPod(get: PodGetter, ns: string, name: string): Promise<any> {
  const pod = await get(ns, name);
  if (!pod) throw new ApiError(404, "NotFound", `pods "${name}" not found`, { name, kind: "pods" });
  return pod;
}

export function nodeOf(pod: any): string {
  const node = pod.spec?.nodeName;
  if (!node) throw badRequest(`pod ${pod.metadata.name} does not have a host assigned`);
  return node;
}

/** The container a request means: the named one, or the only one, like the apiserver. */
export function pickContainer(pod: any, name: string | undefined | null, allowInit = true): string {
  const names: string[] = (pod.spec?.containers ?? []).map((c: any) => c.name);
  const inits: string[] = (pod.spec?.initContainers ?? []).map((c: any) => c.name);
  const ephemeral: string[] = (pod.spec?.ephemeralContainers ?? []).map((c: any) => c.name);
  if (!name) {
    if (names.length === 1) return names[0]!;
    let msg = `a container name must be specified for pod ${pod.metadata.name}, choose one of: [${names.join(" ")}]`;
    if (inits.length) msg += ` or one of the init containers: [${inits.join(" ")}]`;
    if (ephemeral.length) msg += ` or one of the ephemeral containers: [${ephemeral.join(" ")}]`;
    throw badRequest(msg);
  }
  if (names.includes(name) || (allowInit && inits.includes(name)) || ephemeral.includes(name)) return name;
  throw badRequest(`container ${name} is not valid for pod ${pod.metadata.name}`);
}

export interface ContainerFacts {
  containerId?: string;
  restartCount: number;
  running: boolean;
  waitingReason?: string;
  lastTerminatedId?: string;
  hasLastState: boolean;
}

export function containerFacts(pod: any, name: string): ContainerFacts {
  const all = [...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.ephemeralContainerStatuses ?? [])];
  const st = all.find((s: any) => s.name === name);
  if (!st) return { restartCount: 0, running: false, hasLastState: false };
  return {
    containerId: st.containerID || undefined,
    restartCount: st.restartCount ?? 0,
    running: !!st.state?.running,
    waitingReason: st.state?.waiting?.reason,
    lastTerminatedId: st.lastState?.terminated?.containerID || undefined,
    hasLastState: !!st.lastState?.terminated,
  };
}

/** Exec/attach/portforward need a running pod. */
export function requireRunning(pod: any, verb: string): void {
  const phase = pod.status?.phase;
  if (phase === "Succeeded" || phase === "Failed") throw badRequest(`cannot ${verb} into a container in a completed pod; current phase is ${phase}`);
}
