// The store: applied state (SQLite), the watch window, and watchers. Reads are local; writes go
// through the proposer seam.
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { ApplyResult, Command, ResKey } from "./commands";
import { LocalProposer, type Proposer } from "./proposer";
import { StateMachine } from "./state-machine";
import { WatchWindow, type ChangeEvent, type EventType } from "./watch-window";

export interface StoreOptions {
  dataDir: string;
  /** Recent events kept for watch resume (memory and disk). */
  windowSize?: number;
  synchronous?: "FULL" | "NORMAL" | "OFF";
}

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
}

export class Store {
  /** Replaced (not mutated) when a Raft snapshot is installed: see restoreFrom. */
  sm: StateMachine;
  window: WatchWindow;
  proposer: Proposer;
  /**
   * Linearizable-read hook: resolves once this replica has applied everything committed
   * before the call (Raft ReadIndex). The API awaits it for resourceVersion="" reads. A
   * lone local store is always up to date.
   */
  readBarrier: () => Promise<void> = async () => {};
  private watchers = new Map<ResKey, Set<Watcher>>();
  private appliedListeners: ((events: ChangeEvent[]) => void)[] = [];
  private compactTimer: ReturnType<typeof setInterval>;

  constructor(readonly opts: StoreOptions) {
    mkdirSync(opts.dataDir, { recursive: true });
    this.sm = new StateMachine(join(opts.dataDir, "state.db"), { synchronous: opts.synchronous });
    const cap = opts.windowSize ?? 8192;
    const loaded = this.sm.loadEvents(cap);
    // Every event after `floor` is known; the window starts where the loaded history begins.
    const floor = loaded.length ? loaded[0]!.rev - 1 : this.sm.rev;
    this.window = new WatchWindow(cap, Math.max(floor, this.sm.compacted));
    for (const e of loaded) this.window.push(e);
    this.proposer = new LocalProposer(
      (index, cmds) => this.applyEntry(index, cmds),
      () => this.sm.appliedIndex + 1,
    );
    this.compactTimer = setInterval(() => this.compact(), 30_000);
    this.compactTimer.unref?.();
  }

  get rev(): number {
    return this.sm.rev;
  }

  propose(cmd: Command): Promise<ApplyResult> {
    return this.proposer.propose(cmd);
  }

  /** Apply one committed entry and publish its events. Called by the proposer (or Raft). */
  applyEntry(index: number, cmds: Command[]): ApplyResult[] {
    const { results, events } = this.sm.apply(index, cmds);
    for (const e of events) {
      this.window.push(e);
      this.publish(e);
    }
    if (events.length) for (const l of this.appliedListeners) l(events);
    return results;
  }

  onApplied(listener: (events: ChangeEvent[]) => void): () => void {
    this.appliedListeners.push(listener);
    return () => {
      this.appliedListeners = this.appliedListeners.filter((l) => l !== listener);
    };
  }

  get(res: ResKey, ns: string, name: string): { obj: any; rev: number } | undefined {
    const row = this.sm.getRow(res, ns, name);
    return row ? { obj: JSON.parse(row.value), rev: row.rev } : undefined;
  }

  /**
   * List objects in key order (namespace, name) after `after`, at the current revision or,
   * when `atRev` is older, as they were at that revision (rebuilt from the watch window).
   */
  list(res: ResKey, ns: string | undefined, o: { match?: (obj: any) => boolean; limit?: number; after?: { ns: string; name: string }; atRev?: number } = {}): ListPage {
    const rev = o.atRev ?? this.sm.rev;
    const match = o.match ?? (() => true);
    const limit = o.limit && o.limit > 0 ? o.limit : Infinity;
    if (rev > this.sm.rev) throw new Error("future revision");
    if (rev < this.sm.rev) return this.listAt(res, ns, rev, match, limit, o.after);
    const items: any[] = [];
    let after = o.after;
    const chunk = limit === Infinity ? 1000 : Math.min(1000, Math.max(limit + 1, 50));
    for (;;) {
      const rows = this.scan(res, ns, after, chunk);
      for (const r of rows) {
        const obj = JSON.parse(r.value);
        if (!match(obj)) continue;
        if (items.length === limit) return { items, rev, more: keyOf(items[items.length - 1]) };
        items.push(obj);
      }
      if (rows.length < chunk) return { items, rev };
      const last = rows[rows.length - 1]!;
      after = { ns: last.ns, name: last.name };
    }
  }

  private scan(res: ResKey, ns: string | undefined, after: { ns: string; name: string } | undefined, n: number) {
    type Row = { ns: string; name: string; value: string };
    const db = this.sm.db;
    if (ns !== undefined) {
      return db
        .query<Row, [string, string, string, number]>("SELECT ns, name, value FROM objects WHERE res = ? AND ns = ? AND name > ? ORDER BY name LIMIT ?")
        .all(res, ns, after?.name ?? "", n);
    }
    if (!after) return db.query<Row, [string, number]>("SELECT ns, name, value FROM objects WHERE res = ? ORDER BY ns, name LIMIT ?").all(res, n);
    return db
      .query<Row, [string, string, string, number]>("SELECT ns, name, value FROM objects WHERE res = ? AND (ns, name) > (?, ?) ORDER BY ns, name LIMIT ?")
      .all(res, after.ns, after.name, n);
  }

  private listAt(res: ResKey, ns: string | undefined, rev: number, match: (o: any) => boolean, limit: number, after?: { ns: string; name: string }): ListPage {
    const floor = this.window.prevFloor();
    if (rev < floor) throw new ExpiredError(rev, floor);
    const events = this.window.since(rev) ?? [];
    // Undo newer changes: walking newest-first, the last write wins = the state at `rev`.
    const overlay = new Map<string, any>();
    for (let i = events.length - 1; i >= 0; i--) {
      const e = events[i]!;
      if (e.res !== res || (ns !== undefined && e.ns !== ns)) continue;
      overlay.set(`${e.ns}\u0000${e.name}`, e.type === "ADDED" ? null : e.prev);
    }
    const all = new Map<string, any>();
    for (const r of this.scan(res, ns, after, 1e9)) all.set(`${r.ns}\u0000${r.name}`, r.value);
    for (const [k, v] of overlay) {
      if (v === null) all.delete(k);
      else all.set(k, v);
    }
    const afterKey = after ? `${after.ns}\u0000${after.name}` : "";
    const keys = [...all.keys()].filter((k) => k > afterKey).sort();
    const items: any[] = [];
    for (const k of keys) {
      const v = all.get(k);
      const obj = typeof v === "string" ? JSON.parse(v) : structuredClone(v);
      if (!match(obj)) continue;
      if (items.length === limit) return { items, rev, more: keyOf(items[items.length - 1]) };
      items.push(obj);
    }
    return { items, rev };
  }

  /**
   * Start a watch. Events after `fromRev` are replayed from the window first. Throws
   * ExpiredError when `fromRev` is older than the window.
   */
  watch(w: Watcher, fromRev: number): () => void {
    const backlog = this.window.since(fromRev);
    if (!backlog) throw new ExpiredError(fromRev, this.window.floor);
    let set = this.watchers.get(w.res);
    if (!set) this.watchers.set(w.res, (set = new Set()));
    set.add(w);
    for (const e of backlog) if (e.res === w.res) deliver(w, e);
    return () => {
      set!.delete(w);
    };
  }

  private publish(e: ChangeEvent): void {
    const set = this.watchers.get(e.res);
    if (!set) return;
    for (const w of set) deliver(w, e);
  }

  /** A consistent copy of state.db (for a Raft snapshot): `VACUUM INTO` a new file. */
  snapshotTo(file: string): { appliedIndex: number; rev: number } {
    rmSync(file, { force: true });
    const at = { appliedIndex: this.sm.appliedIndex, rev: this.sm.rev };
    this.sm.db.run("VACUUM INTO ?", [file]);
    return at;
  }

  /**
   * Replace state.db by a snapshot file (a follower installing the leader's snapshot) and
   * reopen. The watch window restarts from the snapshot's own event history; open watches
   * are ended (see below).
   */
  restoreFrom(file: string): void {
    const path = join(this.opts.dataDir, "state.db");
    this.sm.close();
    for (const f of [path, `${path}-wal`, `${path}-shm`]) rmSync(f, { force: true });
    copyFileSync(file, path);
    this.sm = new StateMachine(path, { synchronous: this.opts.synchronous });
    const cap = this.window.capacity;
    const loaded = this.sm.loadEvents(cap);
    const floor = loaded.length ? loaded[0]!.rev - 1 : this.sm.rev;
    this.window = new WatchWindow(cap, Math.max(floor, this.sm.compacted));
    for (const e of loaded) this.window.push(e);
    // Events between the old state and the snapshot were never seen here: end every watch so
    // clients resume from their last revision (served from the new window) or relist on 410.
    const open = [...this.watchers.values()].flatMap((set) => [...set]);
    this.watchers.clear();
    for (const w of open) w.close?.();
  }

  compact(): void {
    const keep = this.window.capacity;
    const upTo = Math.max(this.sm.rev - keep, this.window.floor);
    if (upTo > this.sm.compacted) this.sm.compact(upTo);
  }

  close(): void {
    clearInterval(this.compactTimer);
    this.sm.close();
  }
}

function keyOf(obj: any): { ns: string; name: string } {
  return { ns: obj?.metadata?.namespace ?? "", name: obj?.metadata?.name ?? "" };
}

/** Kubernetes watch semantics with selectors: objects entering the filter are ADDED, leaving it DELETED. */
function deliver(w: Watcher, e: ChangeEvent): void {
  if (w.ns !== undefined && e.ns !== w.ns) return;
  const now = w.match(e.obj);
  if (e.type === "ADDED") {
    if (now) w.send("ADDED", e.obj, e.rev);
    return;
  }
  if (e.type === "DELETED") {
    if (now || (e.prev && w.match(e.prev))) w.send("DELETED", e.obj, e.rev);
    return;
  }
  const before = e.prev ? w.match(e.prev) : now;
  if (now && before) w.send("MODIFIED", e.obj, e.rev);
  else if (now) w.send("ADDED", e.obj, e.rev);
  else if (before) w.send("DELETED", e.obj, e.rev);
}
