// Events about the Node itself (core/v1, namespace default, as kubelet records them), for what
// the node's networking cannot do: shown by `kubectl describe node`. Written on a change of
// state only, so a retry loop does not turn into a stream of writes; dropped while offline.

import type { AgentApi } from "../api-client.ts";

export class NodeEvents {
  private seq = 0;

  constructor(
    private readonly api: AgentApi,
    private readonly node: () => { name: string; uid?: string },
  ) {}

  record(type: "Normal" | "Warning", reason: string, message: string): void {
    const { name, uid } = this.node();
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
    void this.api
      .create("/api/v1/namespaces/default/events", {
        apiVersion: "v1",
        kind: "Event",
        metadata: { name: `${name}.${(Date.now() * 1000 + (this.seq++ % 1000)).toString(16)}`, namespace: "default" },
        involvedObject: { kind: "Node", apiVersion: "v1", name, ...(uid ? { uid } : {}) },
        reason,
        message,
        type,
        source: { component: "skiff-agent", host: name },
        reportingComponent: "skiff-agent",
        reportingInstance: name,
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      })
      .catch(() => {});
  }
}
