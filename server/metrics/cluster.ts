// Metrics read from the store and Raft when scraped (nothing is sampled in the background):
// objects per resource and this server's view of the Raft group.
import { Counter, Gauge } from "./prom";
import type { Store } from "../store/store";
import type { Consensus } from "../raft/cluster/consensus";
import { metricsRegistry } from "./apiserver";

/** "apps/deployments" (the store key) → "deployments.apps" (upstream's resource label). */
function resourceLabel(res: string): string {
  const i = res.indexOf("/");
  return i < 0 ? res : `${res.slice(i + 1)}.${res.slice(0, i)}`;
}

export function registerClusterMetrics(store: Store, consensus?: Consensus): void {
  const r = [metricsRegistry];
  new Gauge({
    name: "apiserver_storage_objects",
    help: "Number of stored objects at the time of last check split by kind.",
    labelNames: ["resource"],
    registers: r,
    collect() {
      this.reset();
      for (const { res, n } of store.countByResource()) this.set({ resource: resourceLabel(res) }, n);
    },
  });
  new Gauge({
    name: "skiff_store_revision",
    help: "The store's latest applied revision (metadata.resourceVersion of the newest write).",
    registers: r,
    collect() {
      this.set(store.rev);
    },
  });
  if (!consensus) return;
  const status = () => consensus.node.localStatus();
  const gauge = (name: string, help: string, value: () => number) =>
    new Gauge({
      name,
      help,
      registers: r,
      collect() {
        this.set(value());
      },
    });
  gauge("skiff_raft_term", "The Raft term this server is in.", () => status().term);
  gauge("skiff_raft_is_leader", "1 if this server is the Raft leader, else 0.", () => (consensus.isLeader() ? 1 : 0));
  gauge("skiff_raft_has_leader", "1 if this server knows a Raft leader, else 0.", () => (status().lead ? 1 : 0));
  gauge("skiff_raft_commit_index", "The highest Raft log index known committed.", () => status().commit);
  gauge("skiff_raft_applied_index", "The highest Raft log index applied to the state database.", () => status().appliedIndex);
  gauge("skiff_raft_last_index", "The last index in this server's Raft log.", () => status().lastIndex);
  const voters = gauge("skiff_raft_voters", "Voting members in the Raft configuration.", () => status().conf.voters.length);
  void voters;
  const changes = new Counter({ name: "skiff_raft_leader_changes_seen_total", help: "Times this server saw itself gain or lose Raft leadership.", registers: r });
  consensus.onLeaderChange(() => changes.inc());
}
