// The node's NetworkPolicy enforcement: watches NetworkPolicies, and, only while at least one
// exists, every pod and namespace of the cluster (their labels and addresses: what selectors
// look at), and hands model.ts's chains and sets to the shared RuleWriter. The watch caches
// outlive the server connection, so policies stay enforced, and keep following local pods,
// while the agent is offline; the kernel's rules stay when the agent stops.

import type { AgentApi } from "../../api-client.ts";
import type { Jump, Rendered, RuleSource, RuleWriter } from "../iptables.ts";
import { Mirror } from "../mirror.ts";
import { NP_FORWARD, podInfo, renderPolicies, type PodInfo } from "./model.ts";

export const POLICY_JUMPS: Jump[] = [{ table: "filter", chain: "FORWARD", rule: ["-m", "comment", "--comment", "skiff network policy", "-j", NP_FORWARD] }];

export interface NetworkPolicyOptions {
  api: AgentApi;
  nodeName: string;
  writer: RuleWriter;
  log: (msg: string) => void;
  retryMs?: number;
}

export class NetworkPolicies implements RuleSource {
  private readonly abort = new AbortController();
  private readonly policies: Mirror;
  /** Pods and namespaces, watched only while a policy exists. */
  private selected: { pods: Mirror; namespaces: Mirror; abort: AbortController } | null = null;
  /** Renders, and the time of the last (for benchmarks). */
  renders = 0;
  lastRenderMs = 0;

  constructor(private readonly o: NetworkPolicyOptions) {
    this.policies = this.mirror("/apis/networking.k8s.io/v1/networkpolicies", this.abort.signal, (np) => ({ metadata: { namespace: np.metadata.namespace, name: np.metadata.name }, spec: np.spec }));
    o.writer.add("networkpolicy", this, POLICY_JUMPS);
  }

  private mirror(path: string, signal: AbortSignal, keep: (o: any) => any): Mirror {
    return new Mirror({ api: this.o.api, path, signal, keep, retryMs: this.o.retryMs, log: (m) => this.o.log(`network policy: ${m}`), onChange: () => this.changed() });
  }

  start(): void {
    void this.policies.run();
  }

  stop(): void {
    this.abort.abort();
    this.selected?.abort.abort();
  }

  private changed(): void {
    if (this.policies.objs.size && !this.selected) {
      const abort = new AbortController();
      this.abort.signal.addEventListener("abort", () => abort.abort());
      const pods = this.mirror("/api/v1/pods", abort.signal, (p) => podInfo(p) ?? { none: true });
      const namespaces = this.mirror("/api/v1/namespaces", abort.signal, (n) => ({ metadata: { name: n.metadata.name }, labels: n.metadata.labels ?? {} }));
      this.selected = { pods, namespaces, abort };
      void pods.run();
      void namespaces.run();
    } else if (!this.policies.objs.size && this.selected && this.policies.synced) {
      // No policy left: stop watching every pod of the cluster (memory, and API load).
      this.selected.abort.abort();
      this.selected = null;
    }
    this.o.writer.schedule();
  }

  owns(name: string): boolean {
    return name.startsWith("SKIFF-NP");
  }

  render(): Rendered | null {
    if (!this.policies.synced) return null;
    if (!this.policies.objs.size) return renderPolicies({ policies: [], pods: [], namespaces: new Map(), nodeName: this.o.nodeName });
    const sel = this.selected;
    if (!sel?.pods.synced || !sel.namespaces.synced) return null;
    const started = performance.now();
    const pods: PodInfo[] = [];
    for (const p of sel.pods.objs.values()) if (!p.none) pods.push(p);
    const namespaces = new Map<string, Record<string, string>>();
    for (const n of sel.namespaces.objs.values()) namespaces.set(n.metadata.name, n.labels);
    const r = renderPolicies({ policies: [...this.policies.objs.values()], pods, namespaces, nodeName: this.o.nodeName });
    this.renders++;
    this.lastRenderMs = performance.now() - started;
    return r;
  }
}
