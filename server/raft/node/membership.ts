// Membership as the leader runs it: single-server changes proposed one at a time, learners
// promoted once caught up, leadership handed to the most up-to-date voter.
import { ApiError } from "../../errors";
import { RaftError, type ConfState, type NodeId } from "../core/types";
import { unavailable, unknownOutcome } from "./errors";
import type { RaftNode } from "./node";

type AnyNode = RaftNode<any, any, any>;

/** Propose a membership change and wait until it is applied here. Retries while another change is pending. */
export async function confChange(node: AnyNode, type: "addLearner" | "promote" | "remove", target: NodeId, timeoutMs: number): Promise<void> {
  const deadline = node.clock.now() + timeoutMs;
  for (;;) {
    if (node.raft.role !== "leader") throw unavailable("not the leader");
    const r = node.raft.proposeConfChange({ type, node: target });
    if (!(r instanceof RaftError)) {
      node.schedule();
      await node.appliedWaits.wait(r.index, deadline);
      let t: number | undefined;
      try {
        t = node.storage.term(r.index);
      } catch {
        t = undefined;
      }
      if (t !== undefined && t !== r.term) throw unknownOutcome("leadership changed during the membership change; retry");
      return;
    }
    if (r.code === "invalidConfChange") throw new ApiError(400, "BadRequest", r.message);
    if (r.code === "notLeader" || r.code === "removed") throw unavailable(r.message);
    if (node.clock.now() > deadline) throw unavailable(`membership change not possible now: ${r.message}`);
    await node.clock.sleep(node.timing.retryMs * 2.5);
  }
}

/** On the leader (every few ticks): promote the first learner that has caught up. */
export function promoteCaughtUpLearners(node: AnyNode): void {
  const st = node.raft.status();
  for (const [id, p] of Object.entries(st.progress ?? {})) {
    if (!p.isLearner || p.state !== "replicate" || st.commit - p.match > 100) continue;
    if (!node.promotable(Number(id))) continue; // removed / unknown
    const r = node.raft.proposeConfChange({ type: "promote", node: Number(id) });
    if (!(r instanceof RaftError)) {
      node.log(`promoting learner ${Number(id).toString(16)} to voter`);
      node.schedule();
    }
    return;
  }
}

/** The most up-to-date voter that is active, to hand leadership to (undefined: none). */
export function transferTarget(node: AnyNode): NodeId | undefined {
  const st = node.raft.status();
  const best = Object.entries(st.progress ?? {})
    .filter(([id, p]) => Number(id) !== node.id && !p.isLearner && p.recentActive)
    .sort((a, b) => b[1].match - a[1].match)[0];
  return best ? Number(best[0]) : undefined;
}

const warnedEven = new WeakMap<AnyNode, number>();

/** An even number of voters tolerates no more failures than one fewer: the leader says so once per size. */
export function warnEvenVoters(node: AnyNode, cs: ConfState): void {
  const n = cs.voters.length;
  if (node.raft.role !== "leader" || n === 0 || n % 2 !== 0 || warnedEven.get(node) === n) return;
  warnedEven.set(node, n);
  node.log(`warning: the cluster has ${n} voters; an even number tolerates no more failures than ${n - 1} (quorum is ${Math.floor(n / 2) + 1})`);
}
