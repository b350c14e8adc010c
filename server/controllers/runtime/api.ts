// Controller writes go through the same registry as API requests (defaulting, admission,
// validation, optimistic concurrency) as the controller's own user; these helpers name the
// resource by kind and shrug off NotFound.
import { findByKind, type RegisteredResource } from "../../../schemas/registry";
import type { UserInfo } from "../../auth/attributes";
import { ApiError } from "../../errors";
import { writeCtx, type WriteCtx } from "../../registry/ctx";
import type { DeleteOpts, Registry } from "../../registry/registry";

const KINDS: Record<string, [string, string]> = {
  Pod: ["v1", "Pod"],
  Node: ["v1", "Node"],
  Event: ["v1", "Event"],
  Endpoints: ["v1", "Endpoints"],
  Service: ["v1", "Service"],
  EndpointSlice: ["discovery.k8s.io/v1", "EndpointSlice"],
  Namespace: ["v1", "Namespace"],
  ServiceAccount: ["v1", "ServiceAccount"],
  ConfigMap: ["v1", "ConfigMap"],
  PersistentVolume: ["v1", "PersistentVolume"],
  PersistentVolumeClaim: ["v1", "PersistentVolumeClaim"],
  Deployment: ["apps/v1", "Deployment"],
  ReplicaSet: ["apps/v1", "ReplicaSet"],
  ReplicationController: ["v1", "ReplicationController"],
  StatefulSet: ["apps/v1", "StatefulSet"],
  DaemonSet: ["apps/v1", "DaemonSet"],
  ControllerRevision: ["apps/v1", "ControllerRevision"],
  Job: ["batch/v1", "Job"],
  CronJob: ["batch/v1", "CronJob"],
  Lease: ["coordination.k8s.io/v1", "Lease"],
  StorageClass: ["storage.k8s.io/v1", "StorageClass"],
  Ingress: ["networking.k8s.io/v1", "Ingress"],
  PodDisruptionBudget: ["policy/v1", "PodDisruptionBudget"],
  HorizontalPodAutoscaler: ["autoscaling/v2", "HorizontalPodAutoscaler"],
};

export type Kind = keyof typeof KINDS;

export function resource(kind: string): RegisteredResource {
  const k = KINDS[kind];
  const r = k ? findByKind(k[0], k[1]) : undefined;
  if (!r) throw new Error(`unknown kind ${kind}`);
  return r;
}

const resolve = (k: Kind | RegisteredResource) => (typeof k === "string" ? resource(k) : k);

export function isNotFound(e: unknown): boolean {
  return e instanceof ApiError && e.code === 404;
}
export function isConflict(e: unknown): boolean {
  return e instanceof ApiError && e.code === 409;
}
export function isAlreadyExists(e: unknown): boolean {
  return e instanceof ApiError && e.code === 409 && e.reason === "AlreadyExists";
}

/** The writer a controller uses: its user and field manager, Kubernetes write semantics. */
export class Api {
  constructor(
    readonly registry: Registry,
    readonly user: UserInfo,
    readonly manager: string,
  ) {}

  get store() {
    return this.registry.store;
  }

  /** A fresh context per write: warnings have no reader here, and a shared list would only grow. */
  ctx(): WriteCtx {
    return writeCtx(this.user, this.manager);
  }

  create(kind: Kind, ns: string | undefined, obj: any): Promise<any> {
    const r = resource(kind);
    obj.apiVersion = r.apiVersion;
    obj.kind = r.kind;
    return this.registry.create(this.ctx(), r, ns, obj);
  }

  /** Update via a function of the current object; undefined when it is gone. */
  async update(kind: Kind | RegisteredResource, ns: string, name: string, f: (cur: any) => any, opts: { status?: boolean; sub?: string } = {}): Promise<any | undefined> {
    try {
      const { obj } = await this.registry.update(this.ctx(), resolve(kind), ns, name, f, { sub: opts.status ? "status" : opts.sub, retries: 10 });
      return obj;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  updateStatus(kind: Kind, ns: string, name: string, f: (cur: any) => any): Promise<any | undefined> {
    return this.update(kind, ns, name, f, { status: true });
  }

  /** Delete; false when it was already gone. */
  async delete(kind: Kind | RegisteredResource, ns: string, name: string, opts: DeleteOpts = {}): Promise<boolean> {
    try {
      await this.registry.delete(this.ctx(), resolve(kind), ns, name, opts);
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
  }
}

export function controllerRef(owner: any, kind: Kind): any {
  const r = resource(kind);
  return { apiVersion: r.apiVersion, kind: r.kind, name: owner.metadata.name, uid: owner.metadata.uid, controller: true, blockOwnerDeletion: true };
}

export function controllerOf(obj: any): any | undefined {
  return (obj?.metadata?.ownerReferences ?? []).find((r: any) => r.controller);
}

