// Raft's safety properties (Figure 3 of the Raft paper), checked after every simulation step
// against the in-memory state of every live node.
//
//  election safety:        at most one leader per term
//  leader append-only:     a leader never overwrites or deletes entries in its log
//  log matching:           same index and term ⇒ same entry and same preceding log
//  leader completeness:    an entry committed in term T is in the log of every leader of a
//                          term > T
//  state machine safety:   no two nodes apply different entries at the same index
import type { Raft } from "../../server/raft/core/raft";
import type { Entry, NodeId, SnapshotMetadata } from "../../server/raft/core/types";

export class Violation extends Error {
  constructor(
    readonly kind: string,
    message: string,
  ) {
    super(`${kind}: ${message}`);
    this.name = "Violation";
  }
}

const dec = new TextDecoder();
const keyCache = new WeakMap<Entry, string>();
export function entryKey(e: Entry): string {
  let k = keyCache.get(e);
  if (k === undefined) {
    k = `${e.type}:${dec.decode(e.data)}`;
    keyCache.set(e, k);
  }
  return k;
}

interface CommittedRec {
  term: number;
  key: string;
  obsTerm: number;
}

export class SafetyChecker {
  private leaderOfTerm = new Map<number, NodeId>();
  private leaderView = new Map<NodeId, { term: number; lastIndex: number; lastTerm: number }>();
  /** Log matching registry: `${index}:${term}` → entry key and the term of the entry before it. */
  private reg = new Map<string, { key: string; prev: number }>();
  private verified = new Map<NodeId, { index: number; term: number }>();
  private committed: (CommittedRec | undefined)[] = [];
  maxCommitted = 0;
  private commitSeen = new Map<NodeId, number>();
  private termSeen = new Map<NodeId, number>();
  private leaderChecked = new Map<NodeId, { term: number; upTo: number }>();
  private appliedAt: (string | undefined)[] = [];
  appliedMax = 0;

  /** A node restarted from its persisted state: per-incarnation views start over. */
  restarted(id: NodeId): void {
    this.verified.delete(id);
    this.leaderView.delete(id);
    this.leaderChecked.delete(id);
    this.commitSeen.delete(id);
  }

  /** persistedTerm: the term in the node's durable hard state. */
  checkNode(id: NodeId, r: Raft, persistedTerm: number): void {
    const log = r.log;
    // Durable terms never go backwards (a term only in memory may be lost in a crash: no
    // message carrying it was sent before it was persisted).
    const ts = this.termSeen.get(id) ?? 0;
    if (persistedTerm < ts) throw new Violation("term-regression", `node ${id} term ${persistedTerm} < previously persisted ${ts}`);
    if (r.term < persistedTerm) throw new Violation("term-regression", `node ${id} term ${r.term} < persisted ${persistedTerm}`);
    this.termSeen.set(id, persistedTerm);

    // Election safety.
    if (r.role === "leader") {
      const prev = this.leaderOfTerm.get(r.term);
      if (prev !== undefined && prev !== id) {
        throw new Violation("election-safety", `nodes ${prev} and ${id} are both leaders of term ${r.term}`);
      }
      this.leaderOfTerm.set(r.term, id);
    }

    const lastIndex = log.lastIndex();
    const lastTerm = log.lastTerm();

    // Leader append-only.
    if (r.role === "leader") {
      const v = this.leaderView.get(id);
      if (v && v.term === r.term) {
        const t = log.term(v.lastIndex);
        if (lastIndex < v.lastIndex || (t !== undefined && t !== v.lastTerm)) {
          throw new Violation(
            "leader-append-only",
            `leader ${id} (term ${r.term}) had (${v.lastIndex}, t${v.lastTerm}), now last ${lastIndex}, term there ${t}`,
          );
        }
      }
      this.leaderView.set(id, { term: r.term, lastIndex, lastTerm });
    } else {
      this.leaderView.delete(id);
    }

    // Log matching, incrementally: verify entries not yet verified against the registry.
    const first = log.firstIndex();
    let start = first;
    const ver = this.verified.get(id);
    if (ver && ver.index >= first - 1 && log.term(ver.index) === ver.term) start = ver.index + 1;
    if (start <= lastIndex) {
      const ents = log.slice(start, lastIndex + 1, Infinity);
      if (!ents) throw new Violation("log", `node ${id}: entries ${start}..${lastIndex} unavailable`);
      let prevTerm = log.term(start - 1);
      if (prevTerm === undefined) throw new Violation("log", `node ${id}: no term at ${start - 1}`);
      for (const e of ents) {
        const k = `${e.index}:${e.term}`;
        const key = entryKey(e);
        const rec = this.reg.get(k);
        if (rec === undefined) this.reg.set(k, { key, prev: prevTerm });
        else if (rec.key !== key || rec.prev !== prevTerm) {
          throw new Violation(
            "log-matching",
            `node ${id} has entry (${e.index}, t${e.term}) = ${key} after t${prevTerm}; elsewhere ${rec.key} after t${rec.prev}`,
          );
        }
        prevTerm = e.term;
      }
    }
    this.verified.set(id, { index: lastIndex, term: lastTerm });

    // Committed entries never change; record them (with the observer's term).
    const cs = this.commitSeen.get(id) ?? 0;
    if (log.committed < cs) throw new Violation("commit-regression", `node ${id} commit ${log.committed} < ${cs}`);
    if (log.committed > cs) {
      const lo = Math.max(cs + 1, first);
      if (lo <= log.committed) {
        const ents = log.slice(lo, log.committed + 1, Infinity) ?? [];
        for (const e of ents) this.recordCommitted(id, e.index, e.term, entryKey(e), r.term);
      }
      this.commitSeen.set(id, log.committed);
    }

    // Leader completeness.
    if (r.role === "leader") {
      const lc = this.leaderChecked.get(id);
      let i = lc && lc.term === r.term ? lc.upTo + 1 : 1;
      i = Math.max(i, first);
      for (; i <= this.maxCommitted; i++) {
        const c = this.committed[i];
        if (!c) continue;
        if (c.obsTerm > r.term) break; // we are a stale leader; newer commits need not be here
        const t = log.term(i);
        if (t !== c.term) {
          throw new Violation(
            "leader-completeness",
            `leader ${id} of term ${r.term} has term ${t} at index ${i}, but (${i}, t${c.term}) was committed`,
          );
        }
      }
      this.leaderChecked.set(id, { term: r.term, upTo: i - 1 });
    }
  }

  private recordCommitted(id: NodeId, index: number, term: number, key: string, obsTerm: number): void {
    const c = this.committed[index];
    if (c === undefined) {
      this.committed[index] = { term, key, obsTerm };
      if (index > this.maxCommitted) this.maxCommitted = index;
    } else if (c.term !== term || c.key !== key) {
      throw new Violation(
        "committed-entry-changed",
        `node ${id} has committed (${index}, t${term}) ${key}; previously committed (${index}, t${c.term}) ${c.key}`,
      );
    }
  }

  /** A node installed a snapshot: it must agree with what is known committed. */
  checkSnapshot(id: NodeId, m: SnapshotMetadata): void {
    const c = this.committed[m.index];
    if (c && c.term !== m.term) {
      throw new Violation("snapshot", `node ${id} installed snapshot (${m.index}, t${m.term}); committed t${c.term}`);
    }
  }

  /** State machine safety. */
  onApply(id: NodeId, e: Entry): void {
    const key = `${e.term}|${entryKey(e)}`;
    const prev = this.appliedAt[e.index];
    if (prev === undefined) {
      this.appliedAt[e.index] = key;
      if (e.index > this.appliedMax) this.appliedMax = e.index;
    } else if (prev !== key) {
      throw new Violation("state-machine-safety", `node ${id} applied ${key} at ${e.index}; another node applied ${prev}`);
    }
  }

  appliedKey(index: number): string | undefined {
    return this.appliedAt[index];
  }
}
