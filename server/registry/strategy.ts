// A kind's write rules, like kube-apiserver's registry/<kind>/strategy.go: what the generic
// create/update/delete in registry.ts asks of the kind. Every hook is optional; a kind with no
// special rules has no strategy file. Register one in server/registry/index.ts.
import type { FieldError } from "../../schemas/registry";
import type { UserInfo } from "../auth/attributes";
import type { Store } from "../store/store";
import type { DeleteOpts } from "./registry";

export interface StrategyCtx {
  store: Store;
  user: UserInfo;
  dryRun: boolean;
  warn(message: string): void;
}

export interface Strategy {
  /** How metadata.name is validated (default: a DNS subdomain). */
  nameValidation?: "label" | "path" | "subdomain";
  /** metadata.generation starts at 1 and grows with every change outside metadata and status. */
  tracksGeneration?: boolean;
  /** PUT of a missing object creates it (AllowCreateOnUpdate). */
  allowCreateOnUpdate?: boolean;
  /** Clear status on create (default: kinds outside the core group with a status subresource). */
  resetStatusOnCreate?: boolean;
  /** Server-decided fields on create (status, allocated values), after mutating admission. */
  prepareForCreate?(ctx: StrategyCtx, obj: any): void;
  /** Rules on update (fields only a subresource may change), after mutating admission. */
  prepareForUpdate?(ctx: StrategyCtx, obj: any, old: any, subresource: string): void;
  /**
   * Update validation of a subresource that writes part of the object under its own rules
   * (pods/ephemeralcontainers); returning errors (or []) replaces the kind's update validation.
   */
  validateSubresourceUpdate?(subresource: string, obj: any, old: any): FieldError[] | undefined;
  /** Checks that need the writer or the store (RBAC escalation); throw an ApiError to refuse. */
  validateWrite?(ctx: StrategyCtx, obj: any, old: any | undefined, subresource: string): void | Promise<void>;
  /**
   * Graceful deletion: seconds the object stays marked before it may go (0 = at once), or
   * undefined when this object is not deleted gracefully.
   */
  gracePeriodSeconds?(obj: any, opts: DeleteOpts): number | undefined;
  /** Deletion always marks the object first (a namespace empties itself); called on the marked copy. */
  markOnDelete?(obj: any): void;
}
