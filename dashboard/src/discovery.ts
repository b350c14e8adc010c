// Every listable resource the server serves (discovery), built-in and custom alike.
import { useEffect, useState } from "preact/hooks";
import { ApiError, request, type Res } from "./api";
import { learn } from "./resources";

export interface Discovered extends Res {
  /** Not a built-in group (e.g. a CustomResourceDefinition's). */
  custom: boolean;
}

const BUILTIN = /(^|\.)k8s\.io$|^(apps|batch|autoscaling|policy|extensions)$/;

let cache: Promise<Discovered[]> | undefined;

async function resourcesOf(path: string, group: string, version: string): Promise<Discovered[]> {
  const list = await request("GET", path);
  return (list.resources ?? [])
    .filter((r: any) => !r.name.includes("/") && (r.verbs ?? []).includes("list"))
    .map((r: any) => ({ group, version, plural: r.name, kind: r.kind, namespaced: !!r.namespaced, custom: group !== "" && !BUILTIN.test(group) }));
}

export function discover(): Promise<Discovered[]> {
  cache ??= (async () => {
    const core = await resourcesOf("/api/v1", "", "v1");
    const groups = await request("GET", "/apis");
    const rest = await Promise.all(
      (groups.groups ?? []).map((g: any) => {
        const v = g.preferredVersion ?? g.versions?.[0];
        return resourcesOf(`/apis/${v.groupVersion}`, g.name, v.version).catch(() => [] as Discovered[]);
      }),
    );
    const all = [...core, ...rest.flat()];
    for (const r of all) learn(r);
    return all;
  })();
  cache.catch(() => (cache = undefined));
  return cache;
}

export function useDiscovery(): { resources?: Discovered[]; error?: ApiError } {
  const [s, setS] = useState<{ resources?: Discovered[]; error?: ApiError }>({});
  useEffect(() => {
    discover().then(
      (resources) => setS({ resources }),
      (error) => setS({ error }),
    );
  }, []);
  return s;
}
