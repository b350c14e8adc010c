// Controller writes go through the same write path as API requests (defaulting, validation,
// optimistic concurrency); these helpers name the resource by kind and shrug off NotFound.
import { findByKind, type RegisteredResource } from "../../../schemas/registry";
import { ApiError } from "../../errors";
import { createObject, deleteObject, updateObject, type DeleteOpts, type WriteCtx } from "../../api/write";
import type { Store } from "../../store/store";

const KINDS: Record<string, [string, string]> = {
  Pod: ["v1", "Pod"],
  Node: ["v1", "Node"],
  Event: ["v1", "Event"],
  Endpoints: ["v1", "Endpoints"],
  Service: ["v1", "Service"],
  EndpointSlice: ["discovery.k8s.io/v1", "EndpointSlice"],
  Namespace: ["v1", "Namespace"],
  ServiceAccount: ["v1", "ServiceAccount"],
  PersistentVolume: ["v1", "PersistentVolume"],
  PersistentVolumeClaim: ["v1", "PersistentVolumeClaim"],
  Deployment: ["apps/v1", "Deployment"],
  ReplicaSet: ["apps/v1", "ReplicaSet"],
  StatefulSet: ["apps/v1", "StatefulSet"],
  DaemonSet: ["apps/v1", "DaemonSet"],
  ControllerRevision: ["apps/v1", "ControllerRevision"],
  Job: ["batch/v1", "Job"],
  CronJob: ["batch/v1", "CronJob"],
  Lease: ["coordination.k8s.io/v1", "Lease"],
  StorageClass: ["storage.k8s.io/v1", "StorageClass"],
  Ingress: ["networking.k8s.io/v1", "Ingress"],
};

export type Kind = keyof typeof KINDS;

export function resource(kind: string): RegisteredResource {
  const k = KINDS[kind];
  const r = k ? findByKind(k[0], k[1]) : undefined;
  if (!r) throw new Error(`unknown kind ${kind}`);
  return r;
}

export function isNotFound(e: unknown): boolean {
  return e instanceof ApiError && e.code === 404;
}
export function isConflict(e: unknown): boolean {
  return e instanceof ApiError && e.code === 409;
}
export function isAlreadyExists(e: unknown): boolean {
  return e instanceof ApiError && e.code === 409 && e.reason === "AlreadyExists";
}

/** The writer a controller uses: one field manager name, Kubernetes write semantics. */
export class Api {
  readonly ctx: WriteCtx;
  constructor(
    readonly store: Store,
    manager: string,
  ) {
    this.ctx = { store, manager, dryRun: false, fieldValidation: "Ignore", warnings: [] };
  }

  create(kind: Kind, ns: string | undefined, obj: any): Promise<any> {
    const r = resource(kind);
    obj.apiVersion = r.apiVersion;
    obj.kind = r.kind;
    return createObject(this.ctx, r, ns, obj);
  }

  /** Update via a function of the current object; undefined when it is gone. */
  async update(kind: Kind, ns: string, name: string, f: (cur: any) => any, opts: { status?: boolean; skipValidate?: boolean } = {}): Promise<any | undefined> {
    try {
      const { obj } = await updateObject(this.ctx, resource(kind), ns, name, f, { sub: opts.status ? "status" : undefined, retries: 10, skipValidate: opts.skipValidate });
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
  async delete(kind: Kind, ns: string, name: string, opts: DeleteOpts = {}): Promise<boolean> {
    try {
      await deleteObject(this.ctx, resource(kind), ns, name, opts);
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
