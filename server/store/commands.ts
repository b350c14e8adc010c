// Commands are the only way state changes. Everything non-deterministic (uid, timestamps,
// generated names) is decided before a command is proposed, so applying one is a pure
// function of (state, command) on every replica.

/** Version-independent resource key: "pods", "apps/deployments". */
export type ResKey = string;

export interface Preconditions {
  /** The write only applies if the stored object is at exactly this revision. */
  rev?: number;
  /** The write only applies if the stored object has this uid. */
  uid?: string;
}

export type Command =
  | { op: "create"; res: ResKey; ns: string; name: string; obj: any }
  | { op: "update"; res: ResKey; ns: string; name: string; obj: any; pre?: Preconditions }
  | { op: "delete"; res: ResKey; ns: string; name: string; pre?: Preconditions }
  /** Several commands applied atomically (all or nothing), e.g. a namespace and its defaults. */
  | { op: "txn"; cmds: Command[] };

export type ApplyError =
  | { code: "AlreadyExists" }
  | { code: "NotFound" }
  | { code: "Conflict"; currentRev: number }
  | { code: "UidMismatch" };

export type ApplyResult =
  | { ok: true; rev: number; obj: any; deleted?: boolean }
  | { ok: false; error: ApplyError; index?: number };

export function resKeyOf(group: string, plural: string): ResKey {
  return group ? `${group}/${plural}` : plural;
}
