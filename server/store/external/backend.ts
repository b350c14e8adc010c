// What an external datastore (etcd, PostgreSQL) gives the store seam. The datastore holds the
// objects and assigns revisions; each Skiff server keeps a mirror of it (mirror.ts) fed by the
// datastore's own change stream, so reads and watches are served locally, as kube-apiserver's
// watch cache does, and writes are compare-and-swap operations on the datastore.
import { ApiError } from "../../errors";
import type { ApplyError, ApplyResult, Command } from "../commands";

/** One change as the datastore reports it, at its revision. */
export interface RawEvent {
  rev: number;
  type: "put" | "delete";
  res: string;
  ns: string;
  name: string;
  /** The object's JSON (put; for delete, the last state when known). */
  value?: string;
  /** A put that created the key (history only: ADDED rather than MODIFIED). */
  created?: boolean;
}

/** Every live object at one revision. */
export interface Snapshot {
  rev: number;
  rows: { rev: number; res: string; ns: string; name: string; value: string }[];
}

export interface Current {
  rev: number;
  obj: any;
}

/** The mirror's view of a key: a guess the backend confirms with a compare on the datastore. */
export type Guess = (res: string, ns: string, name: string) => Current | undefined;

export interface Backend {
  readonly kind: "etcd" | "postgres";
  /** Every live object at the latest revision. */
  snapshot(): Promise<Snapshot>;
  /**
   * Every change in (fromRev, toRev] with `created` and delete values, to refill the watch
   * window at start; undefined when the datastore cannot give all of them (compacted).
   */
  history(fromRev: number, toRev: number): Promise<RawEvent[] | undefined>;
  /**
   * Deliver every change after `fromRev`, in revision order, until stopped; `lost` when the
   * changes after `fromRev` can no longer be delivered (compacted): the caller resyncs.
   * `progress` reports a revision up to which nothing else is pending (etcd progress notifications).
   */
  follow(fromRev: number, h: { events(evs: RawEvent[]): void; lost(why: string): void; progress?(rev: number): void }): () => void;
  /** Apply commands, each atomically, in order; one result each. Throws StoreUnavailable. */
  commit(cmds: Command[], guess: Guess): Promise<ApplyResult[]>;
  /** The datastore's latest revision (for linearizable reads). */
  currentRev(): Promise<number>;
  /** Drop history at or below `rev` (watches from there get 410 Gone). */
  compact(rev: number): Promise<void>;
  /** Ask the follower to look for new changes now (PostgreSQL polls; etcd pushes). */
  kick?(): void;
  /** Opaque cluster bootstrap data (encrypted by the caller): read, or create once (first wins). */
  bootstrap(create: string): Promise<string>;
  close(): Promise<void>;
}

/** The datastore cannot be reached: the API answers 503 with Retry-After, never 500. */
export class StoreUnavailable extends ApiError {
  constructor(why: string) {
    super(503, "ServiceUnavailable", `the datastore is unavailable: ${why}`, { retryAfterSeconds: 1 });
  }
}

/** Time-box a datastore call: a datastore that does not answer is unavailable, not hung. */
export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, rej) => (t = setTimeout(() => rej(new StoreUnavailable(`${what} timed out after ${ms} ms`)), ms)))]);
  } catch (e) {
    if (e instanceof ApiError) throw e;
    throw new StoreUnavailable(`${what}: ${(e as Error)?.message ?? String(e)}`);
  } finally {
    clearTimeout(t);
  }
}

/** What a command does to the datastore, decided from the key's current state. */
export type Plan =
  | { kind: "error"; error: ApplyError }
  | { kind: "put"; obj: any; expectRev: number }
  | { kind: "delete"; last: any; expectRev: number };

/**
 * The embedded state machine's rules (server/store/state-machine.ts), decided before the
 * compare-and-swap instead of inside the apply: create needs no object, update and delete
 * check the preconditions, and an update that drops the last finalizer of an object being
 * deleted deletes it.
 */
export function plan(cmd: Exclude<Command, { op: "txn" }>, cur: Current | undefined): Plan {
  if (cmd.op === "create") return cur ? { kind: "error", error: { code: "AlreadyExists" } } : { kind: "put", obj: cmd.obj, expectRev: 0 };
  if (!cur) return { kind: "error", error: { code: "NotFound" } };
  if (cmd.pre?.rev !== undefined && cmd.pre.rev !== cur.rev) return { kind: "error", error: { code: "Conflict", currentRev: cur.rev } };
  if (cmd.pre?.uid !== undefined && cmd.pre.uid !== cur.obj?.metadata?.uid) return { kind: "error", error: { code: "UidMismatch" } };
  if (cmd.op === "update") {
    const m = cmd.obj?.metadata ?? {};
    const nsFinalizers = cmd.res === "namespaces" ? cmd.obj?.spec?.finalizers?.length : 0;
    if (m.deletionTimestamp && !m.finalizers?.length && !nsFinalizers && !(m.deletionGracePeriodSeconds > 0)) return { kind: "delete", last: cmd.obj, expectRev: cur.rev };
    return { kind: "put", obj: cmd.obj, expectRev: cur.rev };
  }
  return { kind: "delete", last: cur.obj, expectRev: cur.rev };
}

/** The stored form: the object without its resourceVersion, which is the datastore's revision. */
export function encode(obj: any): string {
  const rv = obj?.metadata?.resourceVersion;
  if (rv === undefined) return JSON.stringify(obj);
  delete obj.metadata.resourceVersion;
  try {
    return JSON.stringify(obj);
  } finally {
    obj.metadata.resourceVersion = rv;
  }
}

export function decode(value: string, rev: number): any {
  const obj = JSON.parse(value);
  if (obj && typeof obj === "object") (obj.metadata ??= {}).resourceVersion = String(rev);
  return obj;
}

/** The result of a plan that committed at `rev`: the object as the store now has it. */
export function committed(p: Extract<Plan, { kind: "put" | "delete" }>, rev: number): ApplyResult {
  if (p.kind === "put") {
    (p.obj.metadata ??= {}).resourceVersion = String(rev);
    return { ok: true, rev, obj: p.obj };
  }
  const obj = structuredClone(p.last);
  (obj.metadata ??= {}).resourceVersion = String(rev);
  return { ok: true, rev, obj, deleted: true };
}
