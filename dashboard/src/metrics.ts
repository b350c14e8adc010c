// CPU and memory from metrics.k8s.io. The metrics API has no watch (the server asks each agent
// when the request comes), so it is read again only when a watched change arrives (node
// heartbeats renew their Lease every 10 s), at most every 5 s, never on a timer of its own.
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, request } from "./api";
import { quantity } from "./format";

export interface Usage {
  cpu: number;
  memory: number;
}

export interface Metrics {
  usage: Map<string, Usage>;
  error?: ApiError;
}

const MIN_GAP_MS = 5_000;

/** Node (ns undefined, kind "nodes") or pod usage, keyed by name ("ns/name" for pods). */
export function useMetrics(kind: "nodes" | "pods", ns: string | undefined, trigger: number, enabled = true): Metrics {
  const [m, setM] = useState<Metrics>({ usage: new Map() });
  const r = useRef({ last: 0, timer: undefined as ReturnType<typeof setTimeout> | undefined, mounted: true });
  useEffect(() => {
    r.current.mounted = true;
    return () => {
      r.current.mounted = false;
      clearTimeout(r.current.timer);
    };
  }, []);
  useEffect(() => {
    const s = r.current;
    if (!enabled || s.timer !== undefined) return;
    const load = async () => {
      s.last = Date.now();
      const path = kind === "nodes" ? "/apis/metrics.k8s.io/v1beta1/nodes" : ns ? `/apis/metrics.k8s.io/v1beta1/namespaces/${encodeURIComponent(ns)}/pods` : "/apis/metrics.k8s.io/v1beta1/pods";
      try {
        const list = await request("GET", path);
        const usage = new Map<string, Usage>();
        for (const it of list.items ?? []) {
          const u = kind === "nodes" ? it.usage : sumContainers(it.containers);
          const key = kind === "nodes" ? it.metadata.name : `${it.metadata.namespace}/${it.metadata.name}`;
          usage.set(key, { cpu: quantity(u?.cpu), memory: quantity(u?.memory) });
        }
        if (s.mounted) setM({ usage });
      } catch (e) {
        if (s.mounted) setM((old) => ({ usage: old.usage, error: e as ApiError }));
      } finally {
        s.timer = undefined;
      }
    };
    // One read at a time, at most every MIN_GAP_MS; changes meanwhile are covered by it.
    s.timer = setTimeout(load, Math.max(0, s.last + MIN_GAP_MS - Date.now()));
  }, [kind, ns, trigger, enabled]);
  return m;
}

function sumContainers(cs: any[] = []): { cpu: number; memory: number } {
  return cs.reduce((s, c) => ({ cpu: s.cpu + quantity(c.usage?.cpu), memory: s.memory + quantity(c.usage?.memory) }), { cpu: 0, memory: 0 });
}
