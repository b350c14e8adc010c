// Who writes and how: every write through the registry carries one of these. API requests build
// it from the request (server/api/request.ts writeCtxOf); controllers, the scheduler and bootstrap
// act as their own system users, so admission applies to their writes as upstream (a quota
// counts the pods a ReplicaSet creates).
import type { UserInfo } from "../auth/attributes";

export type FieldValidation = "Strict" | "Warn" | "Ignore";

export interface WriteCtx {
  user: UserInfo;
  /** Field manager recorded in managedFields. */
  manager: string;
  dryRun: boolean;
  /** Unknown fields: refuse (Strict), warn (Warn) or drop silently (Ignore). */
  fieldValidation: FieldValidation;
  /** `Warning` headers for the response (admission and decoding add to it). */
  warnings: string[];
  /** The request's audit event, when it is audited: admission annotates it, the registry names the object of a create. */
  audit?: { annotations: Record<string, string>; name?: string };
}

export function writeCtx(user: UserInfo, manager: string, o: { dryRun?: boolean; fieldValidation?: FieldValidation } = {}): WriteCtx {
  return { user, manager, dryRun: o.dryRun ?? false, fieldValidation: o.fieldValidation ?? "Ignore", warnings: [] };
}

const AUTHENTICATED = "system:authenticated";

/** The API server's own writes (bootstrap): upstream's loopback client, a cluster admin. */
export const APISERVER_USER: UserInfo = { user: "system:apiserver", groups: ["system:masters", AUTHENTICATED] };
export const SCHEDULER_USER: UserInfo = { user: "system:kube-scheduler", groups: [AUTHENTICATED] };
/** Shared parts of the controller manager (the event recorder). */
export const CONTROLLER_MANAGER_USER: UserInfo = { user: "system:kube-controller-manager", groups: [AUTHENTICATED] };

/** A controller's own identity, as kube-controller-manager's --use-service-account-credentials gives it. */
export function controllerUser(name: string): UserInfo {
  return { user: `system:serviceaccount:kube-system:${name}`, groups: ["system:serviceaccounts", "system:serviceaccounts:kube-system", AUTHENTICATED] };
}
