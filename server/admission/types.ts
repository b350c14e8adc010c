// The admission contract, as kube-apiserver orders it: after a write is decoded and defaulted,
// every mutating plugin may change the object; then the kind's strategy prepares it (status,
// allocations, generation) and it is validated; then every validating plugin may refuse it. A plugin refuses by throwing an ApiError (usually 403
// Forbidden or 422 Invalid, with upstream's message) and warns through `warn`.
import type { RegisteredResource } from "../../schemas/registry";
import type { UserInfo } from "../auth/attributes";
import type { Registry } from "../registry/registry";
import type { Store } from "../store/store";

export type Operation = "CREATE" | "UPDATE" | "DELETE" | "CONNECT";

export interface AdmissionRequest {
  operation: Operation;
  resource: RegisteredResource;
  /** "" for the main resource; "status", "scale", "binding", "eviction", "exec", ... */
  subresource: string;
  /** "" for cluster-scoped objects. */
  namespace: string;
  name: string;
  /**
   * The object as it will be stored (CREATE, UPDATE; for DELETE the stored object, as upstream
   * passes it to validating plugins). Mutating plugins change it in place.
   */
  object?: any;
  /** The stored object before this write (UPDATE, DELETE). */
  oldObject?: any;
  /** CreateOptions / UpdateOptions / DeleteOptions / PodExecOptions the client sent, when any. */
  options?: any;
  /** Who writes: the authenticated (or impersonated) user, or the controller's own identity. */
  user: UserInfo;
  dryRun: boolean;
  /** Reads for plugins (namespaces, quotas, limit ranges, ...): the local applied state. */
  store: Store;
  /** Writes a plugin makes itself (ResourceQuota charges the quota's status), through the one write path. */
  registry?: Registry;
  /** Adds a `Warning` header to the response (upstream: warning.AddWarning). */
  warn(message: string): void;
  /** Adds an annotation to the request's audit event (upstream: admission.Attributes.AddAnnotation); a no-op when the request is not audited. */
  annotate?(key: string, value: string): void;
}

export interface AdmissionPlugin {
  /** Upstream's plugin name where one exists ("NamespaceLifecycle", "LimitRanger", ...). */
  readonly name: string;
  /** A cheap filter: the chain calls admit/validate only for requests this returns true for. */
  handles(req: AdmissionRequest): boolean;
  /** Mutating phase (runs before every validating plugin). */
  admit?(req: AdmissionRequest): void | Promise<void>;
  /** Validating phase: may not change req.object. */
  validate?(req: AdmissionRequest): void | Promise<void>;
}
