// Node registration and status. The Node object is created once (labels kubelet sets), its
// status is patched at start, when something changes (capacity, addresses, a condition) and
// otherwise every statusReportMs (kubelet: 5 min); liveness between those writes is the Lease.

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, join } from "node:path";
import { isNotFound, isUnreachable, type AgentApi } from "../api-client.ts";
import { nodeConditions, nodeFacts, pressure, type Condition, type NodeFacts } from "./info.ts";

export interface NodeOptions {
  nodeName: string;
  nodeIp: string;
  dataDir: string;
  runtimeVersion: string;
  runtimeReady: () => Promise<{ ok: boolean; message: string }>;
  /** How often conditions are re-evaluated (default 10 s). */
  checkIntervalMs?: number;
  /** Unchanged status is still written this often (default 5 min). */
  statusReportMs?: number;
  log?: (msg: string) => void;
  /** Conditions of other parts of the agent (cluster DNS), reported with kubelet's. */
  extraConditions?: () => Condition[];
}

const stable = (v: unknown) => JSON.stringify(v);

/** Local memory of the node (its pod CIDR), for starts while the server is unreachable. */
export function nodeStatePath(dataDir: string): string {
  return join(dataDir, "agent", "node.json");
}

export function loadNodeState(dataDir: string): { podCidr?: string; uid?: string } {
  try {
    return JSON.parse(readFileSync(nodeStatePath(dataDir), "utf8"));
  } catch {
    return {};
  }
}

export function saveNodeState(dataDir: string, s: { podCidr?: string; uid?: string }): void {
  const p = nodeStatePath(dataDir);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, JSON.stringify(s));
}

export class NodeStatus {
  node: any = null;
  facts: NodeFacts;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private lastWritten = "";
  private lastWriteAt = 0;
  private conditions: Condition[] = [];
  private stopped = false;
  writes = 0;

  constructor(
    private readonly api: AgentApi,
    private readonly o: NodeOptions,
  ) {
    this.facts = nodeFacts({ dataDir: o.dataDir, nodeIp: o.nodeIp, runtimeVersion: o.runtimeVersion });
  }

  private path(sub = ""): string {
    return `/api/v1/nodes/${encodeURIComponent(this.o.nodeName)}${sub}`;
  }

  /** Creates the Node if needed (throws when the server cannot be reached). */
  async register(): Promise<any> {
    try {
      this.node = await this.api.get(this.path());
    } catch (e) {
      if (!isNotFound(e)) throw e;
      const arch = this.facts.nodeInfo.architecture!;
      const body = {
        apiVersion: "v1",
        kind: "Node",
        metadata: {
          name: this.o.nodeName,
          labels: {
            "kubernetes.io/hostname": this.o.nodeName || hostname(),
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": arch,
            "beta.kubernetes.io/os": "linux",
            "beta.kubernetes.io/arch": arch,
          },
          annotations: { "node.alpha.kubernetes.io/ttl": "0" },
        },
        spec: {},
      };
      try {
        this.node = await this.api.create("/api/v1/nodes", body);
      } catch (e2) {
        if ((e2 as { code?: number }).code !== 409) throw e2;
        this.node = await this.api.get(this.path());
      }
    }
    await this.report(true);
    return this.node;
  }

  /** Waits up to timeoutMs for the server to set spec.podCIDR; returns it or undefined. */
  async waitPodCidr(timeoutMs: number): Promise<string | undefined> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const cidr = this.node?.spec?.podCIDR;
      if (cidr) return cidr;
      if (Date.now() >= end) return undefined;
      await Bun.sleep(200);
      try {
        this.node = await this.api.get(this.path());
      } catch {
        /* keep trying until the deadline */
      }
    }
  }

  start(): void {
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(async () => {
      await this.report(false).catch(() => {});
      this.schedule();
    }, this.o.checkIntervalMs ?? 10_000);
  }

  /** Writes the status when it changed, or when force / the report interval passed. */
  async report(force: boolean): Promise<boolean> {
    this.facts = nodeFacts({ dataDir: this.o.dataDir, nodeIp: this.o.nodeIp, runtimeVersion: this.o.runtimeVersion });
    const rt = await this.o.runtimeReady().catch((e) => ({ ok: false, message: `container runtime is down: ${(e as Error).message}` }));
    const conds = [...nodeConditions(pressure(this.o.dataDir), rt), ...(this.o.extraConditions?.() ?? [])];
    const key = stable({ f: { ...this.facts, nodeInfo: { ...this.facts.nodeInfo } }, c: conds.map((c) => [c.type, c.status, c.reason]) });
    const due = Date.now() - this.lastWriteAt >= (this.o.statusReportMs ?? 300_000);
    if (!force && !due && key === this.lastWritten) return false;
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
    const prev = this.conditions.length ? this.conditions : (this.node?.status?.conditions ?? []);
    const conditions = conds.map((c) => {
      const old = prev.find((p: Condition) => p.type === c.type);
      return { ...c, lastHeartbeatTime: now, lastTransitionTime: old && old.status === c.status && old.lastTransitionTime ? old.lastTransitionTime : now };
    });
    const status = {
      capacity: this.facts.capacity,
      allocatable: this.facts.allocatable,
      conditions,
      addresses: this.facts.addresses,
      nodeInfo: this.facts.nodeInfo,
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
    };
    try {
      this.node = await this.api.mergePatch(this.path("/status"), { status });
      this.conditions = conditions;
      this.lastWritten = key;
      this.lastWriteAt = Date.now();
      this.writes++;
      return true;
    } catch (e) {
      if (!isUnreachable(e)) this.o.log?.(`node status update failed: ${(e as Error).message}`);
      if (isNotFound(e)) {
        // Someone deleted the Node: register again.
        await this.register().catch(() => {});
      }
      return false;
    }
  }
}

