// The node's heartbeat: a coordination.k8s.io/v1 Lease named after the node in kube-node-lease,
// renewed every renewInterval (kubelet: 10 s, lease duration 40 s) with one PUT. A conflict or a
// missing lease costs one extra read/create; nothing else is written while idle.

import { isConflict, isNotFound, isUnreachable, type AgentApi } from "../api-client.ts";

export const LEASE_NAMESPACE = "kube-node-lease";

export function microTime(d = new Date()): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

export interface LeaseOptions {
  nodeName: string;
  nodeUid?: string;
  renewIntervalMs?: number;
  durationSeconds?: number;
  log?: (msg: string) => void;
}

export class NodeLease {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private lease: any = null;
  private stopped = false;
  renewals = 0;
  lastRenew = 0;

  constructor(
    private readonly api: AgentApi,
    private readonly o: LeaseOptions,
  ) {}

  private path(name?: string): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${LEASE_NAMESPACE}/leases${name ? "/" + encodeURIComponent(name) : ""}`;
  }

  start(): void {
    void this.tick();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  setNodeUid(uid: string): void {
    this.o.nodeUid = uid;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), ms);
  }

  private desired(base: any): any {
    const spec = {
      ...(base?.spec ?? {}),
      holderIdentity: this.o.nodeName,
      leaseDurationSeconds: this.o.durationSeconds ?? 40,
      renewTime: microTime(),
    };
    const metadata = { ...(base?.metadata ?? {}), name: this.o.nodeName, namespace: LEASE_NAMESPACE };
    if (this.o.nodeUid && !metadata.ownerReferences?.length)
      metadata.ownerReferences = [{ apiVersion: "v1", kind: "Node", name: this.o.nodeName, uid: this.o.nodeUid }];
    return { apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata, spec };
  }

  /** One renewal; returns true on success. */
  async renew(): Promise<boolean> {
    try {
      if (this.lease) {
        try {
          this.lease = await this.api.put(this.path(this.o.nodeName), this.desired(this.lease));
        } catch (e) {
          if (!isConflict(e) && !isNotFound(e)) throw e;
          this.lease = null;
        }
      }
      if (!this.lease) {
        let cur: any = null;
        try {
          cur = await this.api.get(this.path(this.o.nodeName));
        } catch (e) {
          if (!isNotFound(e)) throw e;
        }
        this.lease = cur ? await this.api.put(this.path(this.o.nodeName), this.desired(cur)) : await this.api.create(this.path(), this.desired(null));
      }
      this.renewals++;
      this.lastRenew = Date.now();
      return true;
    } catch (e) {
      if (!isUnreachable(e)) this.o.log?.(`lease renewal failed: ${(e as Error).message}`);
      return false;
    }
  }

  private async tick(): Promise<void> {
    const interval = this.o.renewIntervalMs ?? 10_000;
    const ok = await this.renew();
    // kubelet retries a failed renewal sooner (200 ms doubling up to 7 s)
    this.schedule(ok ? interval : Math.min(interval, 7000));
  }
}
