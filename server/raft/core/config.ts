// Membership: single-server changes, one at a time, taking effect WHEN APPENDED.
//
// Every node uses the latest configuration present in its log (committed or not), as in the
// Raft dissertation (§4.1). If a suffix of the log is truncated, the configuration reverts
// with it. This is the approach for which the single-server change argument is proven:
// consecutive configurations differ by one voter, so any majority of one overlaps any
// majority of the next. Two rules keep at most one change "in flight":
//   - the leader refuses a change while the latest conf entry in its log is uncommitted;
//   - the leader refuses a change until it has committed an entry of its own term (the fix
//     for the bug described in Ongaro's raft-dev post of 2015).
// Learners (non-voters) receive the log but are not counted in any quorum.
import type { ConfChange, ConfState, Entry, NodeId } from "./types";

const enc = new TextEncoder();
const dec = new TextDecoder();

export function encodeConfChange(cc: ConfChange): Uint8Array {
  return enc.encode(JSON.stringify({ type: cc.type, node: cc.node }));
}

/**
 * The first entry of a new cluster's log (index 1, term 1) sets the initial voters, so that
 * the log alone describes the membership: a server that joins later with an empty log
 * learns the configuration from the entries (or a snapshot) it receives.
 */
export interface BootstrapChange {
  type: "bootstrap";
  voters: NodeId[];
}
export type ConfChangeEntry = ConfChange | BootstrapChange;

export function encodeBootstrap(voters: NodeId[]): Uint8Array {
  return enc.encode(JSON.stringify({ type: "bootstrap", voters: [...voters].sort((a, b) => a - b) }));
}

/** The log of a brand-new cluster: persist these entries and HardState {term 1, commit 1}. */
export function bootstrapEntries(voters: NodeId[]): Entry[] {
  if (voters.length === 0) throw new Error("bootstrap needs at least one voter");
  return [{ index: 1, term: 1, type: "conf", data: encodeBootstrap(voters) }];
}

export function decodeConfChange(data: Uint8Array): ConfChangeEntry {
  const v = JSON.parse(dec.decode(data)) as ConfChangeEntry;
  if (v.type === "bootstrap") return { type: "bootstrap", voters: [...v.voters] };
  return { type: v.type, node: v.node };
}

/** Validate a change against a configuration; returns an error message or undefined. */
export function validateConfChange(cs: ConfState, cc: ConfChange): string | undefined {
  if (!Number.isInteger(cc.node) || cc.node <= 0) return `invalid node id ${cc.node}`;
  const isVoter = cs.voters.includes(cc.node);
  const isLearner = cs.learners.includes(cc.node);
  switch (cc.type) {
    case "addLearner":
      if (isVoter || isLearner) return `node ${cc.node} is already a member`;
      return undefined;
    case "promote":
      if (!isLearner) return `node ${cc.node} is not a learner`;
      return undefined;
    case "remove":
      if (!isVoter && !isLearner) return `node ${cc.node} is not a member`;
      if (isVoter && cs.voters.length === 1) return `cannot remove the last voter`;
      return undefined;
    default:
      return `unknown conf change type ${(cc as ConfChange).type}`;
  }
}

/** Apply a change. Invalid changes are no-ops (deterministically, on every node). */
export function applyConfChange(cs: ConfState, cc: ConfChangeEntry): ConfState {
  if (cc.type === "bootstrap") {
    if (cs.voters.length > 0 || cs.learners.length > 0) return cs;
    return normalize({ voters: cc.voters, learners: [] });
  }
  if (validateConfChange(cs, cc) !== undefined) return cs;
  const out = cloneConf(cs);
  switch (cc.type) {
    case "addLearner":
      out.learners.push(cc.node);
      break;
    case "promote":
      out.learners = out.learners.filter((n) => n !== cc.node);
      out.voters.push(cc.node);
      break;
    case "remove":
      out.learners = out.learners.filter((n) => n !== cc.node);
      out.voters = out.voters.filter((n) => n !== cc.node);
      break;
  }
  out.voters.sort((a, b) => a - b);
  out.learners.sort((a, b) => a - b);
  return out;
}

export function cloneConf(c: ConfState): ConfState {
  return { voters: [...c.voters], learners: [...c.learners] };
}

export function confEquals(a: ConfState, b: ConfState): boolean {
  return a.voters.join(",") === b.voters.join(",") && a.learners.join(",") === b.learners.join(",");
}

/**
 * The configuration as a function of the log: a base (from the snapshot) plus one element
 * per conf entry after it. The current configuration is the last element.
 */
export class ConfigHistory {
  private items: { index: number; conf: ConfState }[];

  constructor(baseIndex: number, base: ConfState) {
    this.items = [{ index: baseIndex, conf: normalize(base) }];
  }

  current(): ConfState {
    return this.items[this.items.length - 1]!.conf;
  }

  /** Index of the latest conf entry (or the base snapshot index). */
  lastChangeIndex(): number {
    return this.items[this.items.length - 1]!.index;
  }

  /** Entries were written starting at ents[0].index (anything from there on was replaced). */
  onAppend(ents: Entry[]): void {
    if (ents.length === 0) return;
    const from = ents[0]!.index;
    while (this.items.length > 1 && this.items[this.items.length - 1]!.index >= from) this.items.pop();
    for (const e of ents) {
      if (e.type !== "conf") continue;
      const next = applyConfChange(this.current(), decodeConfChange(e.data));
      this.items.push({ index: e.index, conf: next });
    }
  }

  restore(index: number, conf: ConfState): void {
    this.items = [{ index, conf: normalize(conf) }];
  }

  /** The configuration in effect at index i (i >= base index). */
  confAt(i: number): ConfState {
    let c = this.items[0]!.conf;
    for (const it of this.items) {
      if (it.index <= i) c = it.conf;
      else break;
    }
    return c;
  }

  /** Fold history up to i into the base (after a snapshot at i). */
  compact(i: number): void {
    let k = 0;
    while (k + 1 < this.items.length && this.items[k + 1]!.index <= i) k++;
    if (k > 0) this.items = this.items.slice(k);
  }
}

function normalize(c: ConfState): ConfState {
  return {
    voters: [...c.voters].sort((a, b) => a - b),
    learners: [...c.learners].sort((a, b) => a - b),
  };
}
