// The store seam: what the API, the registry, controllers and the scheduler use to read
// and write objects (KubeStore). The embedded implementation (Store) reads this server's
// applied state (applied-state.ts: state.db and the watch window) and writes through a
// proposer — Raft's (server/raft), or a local one for a store of one; both are given at
// construction. An external datastore (etcd, PostgreSQL) would implement KubeStore itself.
import type { ApplyResult, Command, ResKey } from "./commands";
import { AppliedState, deliver, type StoreOptions } from "./applied-state";
import { LocalProposer, type Proposer } from "./proposer";
import type { StateMachine } from "./state-machine";
import type { ChangeEvent, EventType, WatchWindow } from "./watch-window";

export interface Watcher {
  res: ResKey;
  ns?: string;
  match: (obj: any) => boolean;
  send: (type: EventType, obj: any, rev: number) => void;
  /** Called when the store can no longer continue this watch (state replaced by a snapshot). */
  close?: () => void;
}

export class ExpiredError extends Error {
  constructor(
    readonly requested: number,
    readonly oldest: number,
  ) {
    super(`too old resource version: ${requested} (${oldest})`);
  }
}

export interface ListPage {
  items: any[];
  rev: number;
  /** Key of the last item returned when more remain. */
  more?: { ns: string; name: string };
  /** With `more` and no `match`: how many objects follow (upstream's remainingItemCount). */
  remaining?: number;
}

export interface ListOptions {
  match?: (obj: any) => boolean;
  limit?: number;
  /** Continue after this key (namespace, name). */
  after?: { ns: string; name: string };
  /** List as of this (older) revision. */
  atRev?: number;
}

/** The narrow interface everything above the store uses; backends implement it. */
export interface KubeStore {
  /** The latest applied revision. */
  readonly rev: number;
  /** Revisions below this are compacted: a watch or list from older is 410 Gone. */
  compactedRev(): number;
  get(res: ResKey, ns: string, name: string): { obj: any; rev: number } | undefined;
  /** Objects in key order (namespace, name), at the current or an older revision. */
  list(res: ResKey, ns: string | undefined, o?: ListOptions): ListPage;
  /** Events after `fromRev`, then live ones; throws ExpiredError if `fromRev` is compacted. */
  watch(w: Watcher, fromRev: number): () => void;
  propose(cmd: Command): Promise<ApplyResult>;
  /** Resolves once this server has seen every write committed before the call (linearizable reads). */
  readBarrier(): Promise<void>;
}

export interface Replication {
  state: AppliedState;
  proposer: Proposer;
  /** Default: none needed (a store of one is always up to date). */
  readBarrier?: () => Promise<void>;
}

export class Store implements KubeStore {
  readonly state: AppliedState;
  readonly proposer: Proposer;
  /**
   * Linearizable-read hook: resolves once this replica has applied everything committed
   * before the call (Raft ReadIndex). The API awaits it for resourceVersion="" reads.
   */
  readonly readBarrier: () => Promise<void>;

  /** `new Store(options)`: a store of one, committing locally; `new Store({state, proposer, readBarrier})`: replicated. */
  constructor(o: StoreOptions | Replication) {
    if ("state" in o) {
      this.state = o.state;
      this.proposer = o.proposer;
      this.readBarrier = o.readBarrier ?? (async () => {});
    } else {
      const state = new AppliedState(o);
      this.state = state;
      this.proposer = new LocalProposer(
        (index, cmds) => state.applyEntry(index, cmds),
        () => state.appliedIndex + 1,
      );
      this.readBarrier = async () => {};
    }
  }

  get rev(): number {
    return this.state.rev;
  }

  compactedRev(): number {
    return this.state.window.floor;
  }

  /** The state machine (replaced when a snapshot is installed; auth caches compare it). */
  get sm(): StateMachine {
    return this.state.sm;
  }

  get window(): WatchWindow {
    return this.state.window;
  }

  propose(cmd: Command): Promise<ApplyResult> {
    return this.proposer.propose(cmd);
  }

  onApplied(listener: (events: ChangeEvent[]) => void): () => void {
    return this.state.onApplied(listener);
  }

  get(res: ResKey, ns: string, name: string): { obj: any; rev: number } | undefined {
    const row = this.sm.getRow(res, ns, name);
    return row ? { obj: JSON.parse(row.value), rev: row.rev } : undefined;
  }

  /**
   * get, except that "not found" is answered only after a read barrier. A write or an admission
   * check that depends on an object must not refuse one another server created a moment ago and
   * this one has not applied yet (kube-apiserver reads etcd, not its cache, for those).
   */
  async getFresh(res: ResKey, ns: string, name: string): Promise<{ obj: any; rev: number } | undefined> {
    const local = this.get(res, ns, name);
    if (local) return local;
    await this.readBarrier();
    return this.get(res, ns, name);
  }

  /**
   * List objects in key order (namespace, name) after `after`, at the current revision or,
   * when `atRev` is older, as they were at that revision (from the history on disk).
   */
  list(res: ResKey, ns: string | undefined, o: ListOptions = {}): ListPage {
    const sm = this.sm;
    const rev = o.atRev ?? sm.rev;
    const match = o.match ?? (() => true);
    const limit = o.limit && o.limit > 0 ? o.limit : Infinity;
    if (rev > sm.rev) throw new Error("future revision");
    if (rev < sm.compacted) throw new ExpiredError(rev, sm.compacted);
    const scan = rev < sm.rev ? (a: typeof o.after, n: number) => sm.scanAt(res, ns, rev, a, n) : (a: typeof o.after, n: number) => sm.scan(res, ns, a, n);
    const items: any[] = [];
    let after = o.after;
    const chunk = limit === Infinity ? 1000 : Math.min(1000, Math.max(limit + 1, 50));
    for (;;) {
      const rows = scan(after, chunk);
      for (const r of rows) {
        const obj = JSON.parse(r.value);
        if (!match(obj)) continue;
        if (items.length === limit) {
          const more = keyOf(items[items.length - 1]);
          // Like etcd's count of the remaining keys: only exact without a selector.
          if (o.match) return { items, rev, more };
          // At an older revision, counted as of that revision (from the history).
          return { items, rev, more, remaining: rev < sm.rev ? sm.scanAt(res, ns, rev, more, Infinity).length : sm.countAfter(res, ns, more) };
        }
        items.push(obj);
      }
      if (rows.length < chunk) return { items, rev };
      const last = rows[rows.length - 1]!;
      after = { ns: last.ns, name: last.name };
    }
  }

  /** Live objects per resource key (apiserver_storage_objects). */
  countByResource(): { res: string; n: number }[] {
    return this.sm.countByResource();
  }

  /**
   * Start a watch. Events after `fromRev` are replayed from the window first. Throws
   * ExpiredError when `fromRev` is older than the window.
   */
  watch(w: Watcher, fromRev: number): () => void {
    const backlog = this.window.since(fromRev);
    if (!backlog) throw new ExpiredError(fromRev, this.window.floor);
    const stop = this.state.addWatcher(w);
    for (const e of backlog) if (e.res === w.res) deliver(w, e);
    return stop;
  }

  close(): void {
    this.state.close();
  }
}

function keyOf(obj: any): { ns: string; name: string } {
  return { ns: obj?.metadata?.namespace ?? "", name: obj?.metadata?.name ?? "" };
}
