// Majority quorum arithmetic over a set of voters.
import type { NodeId } from "./types";

export type VoteResult = "won" | "lost" | "pending";

/** The largest index acknowledged by a majority of voters (Infinity for no voters). */
export function committedIndex(voters: Iterable<NodeId>, matchOf: (id: NodeId) => number): number {
  const ms: number[] = [];
  for (const id of voters) ms.push(matchOf(id));
  if (ms.length === 0) return Infinity;
  ms.sort((a, b) => b - a);
  return ms[Math.floor(ms.length / 2)]!;
}

export function voteResult(voters: ReadonlySet<NodeId>, votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  if (voters.size === 0) return "won";
  let granted = 0;
  let rejected = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === true) granted++;
    else if (v === false) rejected++;
  }
  const q = Math.floor(voters.size / 2) + 1;
  if (granted >= q) return "won";
  if (granted + (voters.size - granted - rejected) >= q) return "pending";
  return "lost";
}
