// Container environment as kubelet builds it (makeEnvironmentVariables): envFrom sources in
// order, then env entries (later wins), values with $(VAR) references expanded against what is
// already defined, valueFrom from ConfigMaps, Secrets, the pod's fields and resources.

import type { ObjectStore } from "../volumes/objects.ts";
import type { NodeResources } from "../volumes/manager.ts";
import { fieldRefValue, type RuntimeIps } from "./fieldref.ts";
import { resourceFieldValue } from "./resources.ts";
import type { ConfigMapLike, Container, Pod } from "./types.ts";

/** A missing non-optional reference: the container waits with CreateContainerConfigError. */
export class EnvConfigError extends Error {
  override name = "EnvConfigError";
}

/** $(VAR) expansion (k8s.io/kubernetes/third_party/forked/golang/expansion). */
export function expand(input: string, lookup: (name: string) => string | undefined): string {
  let out = "";
  for (let i = 0; i < input.length; i++) {
    const ch = input[i]!;
    if (ch !== "$" || i + 1 >= input.length) {
      out += ch;
      continue;
    }
    const next = input[i + 1]!;
    if (next === "$") {
      out += "$";
      i++;
      continue;
    }
    if (next === "(") {
      const end = input.indexOf(")", i + 2);
      if (end < 0) {
        out += input.slice(i);
        break;
      }
      const name = input.slice(i + 2, end);
      const v = lookup(name);
      out += v === undefined ? `$(${name})` : v;
      i = end;
      continue;
    }
    out += ch;
  }
  return out;
}

const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

function decoded(obj: ConfigMapLike, secret: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  if (secret) for (const [k, v] of Object.entries(obj.data ?? {})) out[k] = Buffer.from(v, "base64").toString("utf8");
  else {
    for (const [k, v] of Object.entries(obj.data ?? {})) out[k] = v;
  }
  return out;
}

export interface EnvContext {
  objects: ObjectStore;
  ips: RuntimeIps;
  node: NodeResources;
  /** Service variables (services/env.ts): under the container's own, and for $(VAR). */
  services?: Record<string, string>;
}

export async function containerEnv(pod: Pod, c: Container, ctx: EnvContext): Promise<{ key: string; value: string }[]> {
  const ns = pod.metadata.namespace ?? "default";
  const env = new Map<string, string>();
  const get = async (kind: "configmaps" | "secrets", name: string, optional?: boolean): Promise<ConfigMapLike | null> => {
    const o = await ctx.objects.get(kind, ns, name);
    if (!o && !optional) throw new EnvConfigError(`${kind === "secrets" ? "secret" : "configmap"} ${JSON.stringify(name)} not found`);
    return o;
  };
  for (const src of c.envFrom ?? []) {
    const secret = !!src.secretRef;
    const ref = src.configMapRef ?? src.secretRef;
    if (!ref?.name) continue;
    const obj = await get(secret ? "secrets" : "configmaps", ref.name, ref.optional);
    if (!obj) continue;
    for (const [k, v] of Object.entries(decoded(obj, secret))) {
      const key = (src.prefix ?? "") + k;
      if (!ENV_NAME.test(key)) continue; // kubelet skips invalid names (with an event)
      env.set(key, v);
    }
  }
  const services = ctx.services ?? {};
  const lookup = (n: string) => env.get(n) ?? services[n];
  for (const e of c.env ?? []) {
    let value = "";
    const vf = e.valueFrom;
    if (!vf) value = expand(e.value ?? "", lookup);
    else if (vf.fieldRef) value = fieldRefValue(pod, vf.fieldRef.fieldPath, ctx.ips);
    else if (vf.resourceFieldRef) {
      const target = vf.resourceFieldRef.containerName
        ? [...(pod.spec.initContainers ?? []), ...pod.spec.containers].find((x) => x.name === vf.resourceFieldRef!.containerName)
        : c;
      value = resourceFieldValue(target, vf.resourceFieldRef.resource, vf.resourceFieldRef.divisor, ctx.node);
    } else if (vf.configMapKeyRef || vf.secretKeyRef) {
      const secret = !!vf.secretKeyRef;
      const ref = (vf.configMapKeyRef ?? vf.secretKeyRef)!;
      const obj = await get(secret ? "secrets" : "configmaps", ref.name ?? "", ref.optional);
      if (!obj) continue;
      const data = decoded(obj, secret);
      if (!(ref.key in data)) {
        if (ref.optional) continue;
        throw new EnvConfigError(`couldn't find key ${ref.key} in ${secret ? "Secret" : "ConfigMap"} ${ns}/${ref.name}`);
      }
      value = data[ref.key]!;
    }
    env.set(e.name, value);
  }
  // kubelet appends the service variables the container does not define itself
  for (const [k, v] of Object.entries(services)) if (!env.has(k)) env.set(k, v);
  return [...env].map(([key, value]) => ({ key, value }));
}

/** command/args with $(VAR) references expanded against the container's environment. */
export function expandCommand(list: string[] | undefined, env: { key: string; value: string }[]): string[] | undefined {
  if (!list) return undefined;
  const m = new Map(env.map((e) => [e.key, e.value]));
  return list.map((s) => expand(s, (n) => m.get(n)));
}

/** Whether any env value of the container comes from a Secret (so it must stay off the disk). */
export function usesSecretEnv(c: Container): boolean {
  return (c.envFrom ?? []).some((s) => !!s.secretRef) || (c.env ?? []).some((e) => !!e.valueFrom?.secretKeyRef);
}
