// fieldRef values (env and downwardAPI volumes), like kubelet's podFieldSelectorRuntimeValue and
// fieldpath.ExtractFieldPathAsString.

import type { Pod } from "./types.ts";

export interface RuntimeIps {
  podIPs: string[];
  hostIPs: string[];
}

function formatMap(m: Record<string, string> | undefined): string {
  return Object.keys(m ?? {})
    .sort()
    .map((k) => `${k}=${JSON.stringify(m![k])}`)
    .join("\n");
}

export function fieldRefValue(pod: Pod, fieldPath: string, ips: RuntimeIps): string {
  const md = pod.metadata;
  const sub = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath);
  if (sub) return (sub[1] === "labels" ? md.labels : md.annotations)?.[sub[2]!] ?? "";
  switch (fieldPath) {
    case "metadata.name":
      return md.name;
    case "metadata.namespace":
      return md.namespace ?? "default";
    case "metadata.uid":
      return md.uid;
    case "metadata.labels":
      return formatMap(md.labels);
    case "metadata.annotations":
      return formatMap(md.annotations);
    case "spec.nodeName":
      return pod.spec.nodeName ?? "";
    case "spec.serviceAccountName":
      return pod.spec.serviceAccountName ?? "";
    case "status.podIP":
      return ips.podIPs[0] ?? "";
    case "status.podIPs":
      return ips.podIPs.join(",");
    case "status.hostIP":
      return ips.hostIPs[0] ?? "";
    case "status.hostIPs":
      return ips.hostIPs.join(",");
    default:
      throw new Error(`unsupported fieldRef ${JSON.stringify(fieldPath)}`);
  }
}
