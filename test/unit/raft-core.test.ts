// Unit tests of the pure Raft core (server/raft/core), on a synchronous in-process cluster.
import { describe, expect, test } from "bun:test";
import { RaftError, message } from "../../server/raft/core/types";
import { dataOf, TestCluster, te } from "../sim/harness";

/**
 * Elect a second leader whose first entry is not yet committed: it has won the vote but
 * the append carrying its entry has not been delivered.
 */
function leaderWithUncommittedEntry(c: TestCluster) {
  const l = c.elect();
  c.tick(2);
  const next = c.get([...c.nodes.keys()].find((id) => id !== l.id)!);
  next.raft.step(message({ type: "timeoutNow", from: l.id, to: next.id, term: next.raft.term }));
  const pump = (id: number, deliver: (m: ReturnType<typeof message>) => void) => {
    const rd = c.get(id).raft.ready();
    if (!rd) return;
    c.get(id).storage.append(rd.entries);
    if (rd.hardState) c.get(id).storage.setHardState(rd.hardState);
    c.get(id).raft.advance(rd);
    for (const m of rd.messages) deliver(m);
  };
  pump(next.id, (m) => c.get(m.to).raft.step(m)); // vote requests
  for (const id of c.nodes.keys()) if (id !== next.id) pump(id, (m) => m.to === next.id && next.raft.step(m));
  expect(next.raft.role).toBe("leader");
  expect(next.raft.log.committed).toBeLessThan(next.raft.log.lastIndex());
  return next;
}

function propose(c: TestCluster, leaderId: number, s: string) {
  const r = c.get(leaderId).raft.propose(te.encode(s));
  c.settle();
  return r;
}

describe("raft core: elections", () => {
  test("a 3-node cluster elects exactly one leader that everyone follows", () => {
    const c = new TestCluster([1, 2, 3]);
    const l = c.elect();
    expect(c.leaders().length).toBe(1);
    for (const n of c.nodes.values()) {
      expect(n.raft.lead).toBe(l.id);
      expect(n.raft.term).toBe(l.raft.term);
    }
    // The leader's first entry (empty, its term) commits everywhere.
    c.tick(3);
    for (const n of c.nodes.values()) expect(n.raft.log.committed).toBe(l.raft.log.lastIndex());
  });

  test("a single-node cluster elects itself and commits immediately", () => {
    const c = new TestCluster([1]);
    const l = c.elect();
    expect(l.id).toBe(1);
    const r = propose(c, 1, "a");
    expect(r).not.toBeInstanceOf(RaftError);
    expect(dataOf(l)).toEqual(["a"]);
  });

  test("election timeouts are randomized in [electionTick, 2*electionTick)", () => {
    const seen = new Set<number>();
    for (let seed = 1; seed < 40; seed++) {
      const c = new TestCluster([1, 2, 3], { preVote: false }, seed);
      let t = 0;
      while (c.get(1).raft.role === "follower" && t < 100) {
        c.get(1).raft.tick(); // only node 1 ticks; its own timeout decides
        t++;
      }
      seen.add(t);
      expect(t).toBeGreaterThanOrEqual(10);
      expect(t).toBeLessThan(20);
    }
    expect(seen.size).toBeGreaterThan(3);
  });

  test("a follower proposing gets notLeader", () => {
    const c = new TestCluster([1, 2, 3]);
    const l = c.elect();
    const f = [...c.nodes.values()].find((n) => n.id !== l.id)!;
    const r = f.raft.propose(te.encode("x"));
    expect(r).toBeInstanceOf(RaftError);
    expect((r as RaftError).code).toBe("notLeader");
  });

  test("a candidate with a stale log does not win", () => {
    const c = new TestCluster([1, 2, 3]);
    const l = c.elect();
    const stale = [...c.nodes.values()].find((n) => n.id !== l.id)!;
    c.isolate(stale.id);
    propose(c, l.id, "committed-while-away");
    c.heal();
    // Force the stale node to campaign right away (bypassing pre-vote via TimeoutNow-style hup).
    stale.raft.step(message({ type: "timeoutNow", from: l.id, to: stale.id, term: stale.raft.term }));
    c.settle();
    expect(stale.raft.role).not.toBe("leader");
    const l2 = c.elect();
    expect(dataOf(l2)).toContain("committed-while-away");
  });
});

describe("raft core: pre-vote and check-quorum", () => {
  test("pre-vote: a partitioned node does not inflate its term and does not disrupt on rejoin", () => {
    const c = new TestCluster([1, 2, 3]);
    const l = c.elect();
    const term = l.raft.term;
    const x = [...c.nodes.values()].find((n) => n.id !== l.id)!;
    c.isolate(x.id);
    c.tick(200);
    expect(x.raft.term).toBe(term); // pre-votes fail, the term never moves
    expect(l.raft.role).toBe("leader");
    c.heal();
    c.tick(30);
    expect(l.raft.role).toBe("leader");
    expect(l.raft.term).toBe(term);
    expect(x.raft.lead).toBe(l.id);
  });

  test("without pre-vote the same rejoin disrupts the leader (control)", () => {
    const c = new TestCluster([1, 2, 3], { preVote: false, checkQuorum: false });
    const l = c.elect();
    const term = l.raft.term;
    const x = [...c.nodes.values()].find((n) => n.id !== l.id)!;
    c.isolate(x.id);
    c.tick(100);
    expect(x.raft.term).toBeGreaterThan(term + 2);
    c.heal();
    c.tick(25); // x times out again and campaigns with its inflated term
    expect(l.raft.term).toBeGreaterThan(term); // the leader was deposed by the higher term
  });

  test("check-quorum: an isolated leader steps down within two election timeouts", () => {
    const c = new TestCluster([1, 2, 3]);
    const l = c.elect();
    c.isolate(l.id);
    let t = 0;
    while (l.raft.role === "leader" && t < 100) {
      l.raft.tick();
      c.settle();
      t++;
    }
    expect(l.raft.role).toBe("follower");
    expect(t).toBeLessThanOrEqual(2 * l.raft.electionTimeout);
  });

  test("leader lease: followers ignore a vote request while they hear from a leader", () => {
    const c = new TestCluster([1, 2, 3]);
    const l = c.elect();
    const f = [...c.nodes.values()].find((n) => n.id !== l.id)!;
    const other = [...c.nodes.values()].find((n) => n.id !== l.id && n.id !== f.id)!;
    const term = f.raft.term;
    f.raft.step(message({ type: "vote", from: other.id, to: f.id, term: term + 5, index: 1000, logTerm: term + 4 }));
    expect(f.raft.term).toBe(term);
    expect(f.raft.vote).toBe(l.id);
  });
});

describe("raft core: replication and flow control", () => {
  test("many proposals are replicated and applied in order everywhere", () => {
    const c = new TestCluster([1, 2, 3], { maxSizePerMsg: 200, maxInflightMsgs: 2 });
    const l = c.elect();
    const want: string[] = [];
    for (let i = 0; i < 100; i++) {
      l.raft.propose(te.encode(`v${i}`));
      want.push(`v${i}`);
      if (i % 7 === 0) c.settle();
    }
    c.settle();
    c.tick(5);
    for (const n of c.nodes.values()) expect(dataOf(n)).toEqual(want);
  });

  test("batching: appends respect maxSizePerMsg; pipelining respects the inflight window", () => {
    const c = new TestCluster([1, 2], { maxSizePerMsg: 100, maxInflightMsgs: 3 });
    const l = c.elect();
    c.tick(3);
    const f = [...c.nodes.values()].find((n) => n.id !== l.id)!;
    c.cutLink(f.id, l.id, false); // responses lost: the window fills up
    for (let i = 0; i < 50; i++) l.raft.propose(te.encode(`entry-${i}-${"x".repeat(20)}`));
    c.log = [];
    c.settle();
    const apps = c.log.filter((m) => m.type === "app" && m.to === f.id);
    expect(apps.length).toBe(3); // window of 3 messages
    for (const m of apps) {
      const bytes = m.entries.reduce((s, e) => s + e.data.length + 24, 0);
      expect(m.entries.length).toBeGreaterThan(0);
      expect(bytes <= 100 || m.entries.length === 1).toBe(true);
    }
    c.heal();
    c.tick(10);
    expect(dataOf(f).length).toBe(50);
  });

  test("a follower with a divergent uncommitted suffix is repaired", () => {
    const c = new TestCluster([1, 2, 3]);
    const l = c.elect();
    c.isolate(l.id);
    for (let i = 0; i < 5; i++) l.raft.propose(te.encode(`lost-${i}`)); // never committed
    c.settle();
    c.tick(60);
    const l2 = c.elect();
    expect(l2.id).not.toBe(l.id);
    propose(c, l2.id, "kept");
    c.heal();
    c.tick(20);
    for (const n of c.nodes.values()) {
      expect(dataOf(n)).toEqual(["kept"]);
      expect(n.raft.log.lastIndex()).toBe(l2.raft.log.lastIndex());
    }
  });

  test("restart recovers exactly the persisted state", () => {
    const c = new TestCluster([1, 2, 3]);
    const l = c.elect();
    for (let i = 0; i < 10; i++) l.raft.propose(te.encode(`p${i}`));
    c.settle();
    c.tick(3);
    const before = l.raft.hardState();
    c.restart(l.id);
    const after = c.get(l.id).raft;
    expect(after.term).toBe(before.term);
    expect(after.vote).toBe(before.vote);
    expect(after.log.committed).toBe(before.commit);
    expect(after.role).toBe("follower");
  });
});

describe("raft core: leadership transfer", () => {
  test("transfer hands leadership to the target; proposals are refused meanwhile", () => {
    const c = new TestCluster([1, 2, 3]);
    const l = c.elect();
    const to = [...c.nodes.keys()].find((id) => id !== l.id)!;
    c.cutLink(l.id, to); // target is behind: the transfer must wait for catch-up
    propose(c, l.id, "before");
    c.heal();
    expect(l.raft.transferLeadership(to)).toBeNull();
    const r = l.raft.propose(te.encode("during"));
    expect(r).toBeInstanceOf(RaftError);
    expect((r as RaftError).code).toBe("transferInProgress");
    c.settle();
    c.tick(3);
    expect(c.get(to).raft.role).toBe("leader");
    expect(l.raft.role).toBe("follower");
    expect(dataOf(c.get(to))).toContain("before");
  });

  test("a follower forwards a transfer request to the leader", () => {
    const c = new TestCluster([1, 2, 3]);
    const l = c.elect();
    const f = [...c.nodes.keys()].find((id) => id !== l.id)!;
    const target = [...c.nodes.keys()].find((id) => id !== l.id && id !== f)!;
    expect(c.get(f).raft.transferLeadership(target)).toBeNull();
    c.settle();
    c.tick(2);
    expect(c.get(target).raft.role).toBe("leader");
  });

  test("a transfer to an unreachable node is aborted after an election timeout", () => {
    const c = new TestCluster([1, 2, 3]);
    const l = c.elect();
    const to = [...c.nodes.keys()].find((id) => id !== l.id)!;
    c.isolate(to);
    l.raft.transferLeadership(to);
    expect(l.raft.propose(te.encode("x"))).toBeInstanceOf(RaftError);
    for (let i = 0; i < l.raft.electionTimeout + 1; i++) {
      l.raft.tick();
      c.settle();
    }
    expect(l.raft.role).toBe("leader");
    expect(l.raft.propose(te.encode("y"))).not.toBeInstanceOf(RaftError);
  });
});

describe("raft core: membership", () => {
  test("learner: receives the log, never campaigns, is not counted in quorums", () => {
    const c = new TestCluster([1, 2, 3]);
    const l = c.elect();
    c.add(4);
    c.tick(2);
    expect(l.raft.proposeConfChange({ type: "addLearner", node: 4 })).not.toBeInstanceOf(RaftError);
    c.settle();
    c.tick(5);
    propose(c, l.id, "to-learner");
    c.tick(3);
    expect(dataOf(c.get(4))).toEqual(["to-learner"]);
    expect(c.get(4).raft.confState().learners).toEqual([4]);
    // Isolated for a long time, the learner never campaigns.
    c.isolate(4);
    c.tick(100);
    expect(c.get(4).raft.role).toBe("follower");
    expect(c.get(4).raft.term).toBe(l.raft.term);
    c.heal();
    // With two voters down, the learner's acknowledgement does not make a quorum.
    const others = [1, 2, 3].filter((id) => id !== l.id);
    for (const id of others) c.isolate(id);
    const before = l.raft.log.committed;
    l.raft.propose(te.encode("needs-quorum"));
    c.settle();
    expect(c.get(4).raft.log.lastIndex()).toBe(l.raft.log.lastIndex()); // learner has it
    expect(l.raft.log.committed).toBe(before); // but it does not count
  });

  test("one membership change at a time; add learner → promote → remove", () => {
    const c = new TestCluster([1, 2, 3]);
    const l = c.elect();
    c.add(4);
    c.add(5);
    c.tick(2);
    expect(l.raft.proposeConfChange({ type: "addLearner", node: 4 })).not.toBeInstanceOf(RaftError);
    const second = l.raft.proposeConfChange({ type: "addLearner", node: 5 });
    expect(second).toBeInstanceOf(RaftError);
    expect((second as RaftError).code).toBe("confChangePending");
    c.settle();
    c.tick(3);
    // Invalid changes are refused up front.
    expect((l.raft.proposeConfChange({ type: "promote", node: 5 }) as RaftError).code).toBe("invalidConfChange");
    expect((l.raft.proposeConfChange({ type: "remove", node: l.id }) as RaftError).code).toBe("invalidConfChange");
    expect(l.raft.proposeConfChange({ type: "promote", node: 4 })).not.toBeInstanceOf(RaftError);
    c.settle();
    c.tick(3);
    expect(l.raft.confState()).toEqual({ voters: [1, 2, 3, 4], learners: [] });
    const victim = [1, 2, 3].find((id) => id !== l.id)!;
    expect(l.raft.proposeConfChange({ type: "remove", node: victim })).not.toBeInstanceOf(RaftError);
    c.settle();
    c.tick(3);
    const voters = [1, 2, 3, 4].filter((id) => id !== victim);
    for (const id of voters) expect(c.get(id).raft.confState().voters).toEqual(voters);
    // The cluster keeps committing without the removed node.
    c.isolate(victim);
    propose(c, l.id, "after-remove");
    c.tick(2);
    for (const id of voters) expect(dataOf(c.get(id))).toContain("after-remove");
  });

  test("a new leader may not change membership before committing an entry of its term", () => {
    const c = new TestCluster([1, 2, 3]);
    const next = leaderWithUncommittedEntry(c);
    const r = next.raft.proposeConfChange({ type: "addLearner", node: 9 });
    expect((r as RaftError).code).toBe("notCommittedInTerm");
    c.settle();
    c.tick(2);
    expect(next.raft.proposeConfChange({ type: "addLearner", node: 9 })).not.toBeInstanceOf(RaftError);
  });

  test("a joining node with an empty log learns the configuration from the log", () => {
    const c = new TestCluster([1]);
    const l = c.elect();
    propose(c, 1, "a");
    const n2 = c.add(2);
    expect(n2.raft.promotable()).toBe(false);
    l.raft.proposeConfChange({ type: "addLearner", node: 2 });
    c.settle();
    c.tick(3);
    l.raft.proposeConfChange({ type: "promote", node: 2 });
    c.settle();
    c.tick(3);
    expect(n2.raft.confState()).toEqual({ voters: [1, 2], learners: [] });
    expect(dataOf(n2)).toEqual(["a"]);
    // Now a 2-voter cluster: losing node 2 stops commits.
    c.isolate(2);
    const before = l.raft.log.committed;
    propose(c, 1, "b");
    expect(l.raft.log.committed).toBe(before);
  });
});

describe("raft core: snapshots", () => {
  test("a follower too far behind catches up via a chunked snapshot", () => {
    const c = new TestCluster([1, 2, 3], { maxSnapshotChunkBytes: 16 });
    const l = c.elect();
    const lag = [...c.nodes.keys()].find((id) => id !== l.id)!;
    c.isolate(lag);
    for (let i = 0; i < 30; i++) l.raft.propose(te.encode(`s${i}`));
    c.settle();
    c.tick(2);
    // The application snapshots its state and compacts the log.
    const applied = l.raft.log.applied;
    const state = te.encode(JSON.stringify({ upTo: applied, data: "x".repeat(100) }));
    const snap = l.raft.createSnapshot(applied, state);
    expect(snap).not.toBeInstanceOf(RaftError);
    l.storage.saveSnapshot(snap as Exclude<typeof snap, RaftError>);
    expect(l.storage.firstIndex()).toBe(applied + 1);
    c.log = [];
    c.heal();
    c.tick(20);
    const chunks = c.log.filter((m) => m.type === "snap" && m.to === lag);
    expect(chunks.length).toBeGreaterThanOrEqual(Math.ceil(state.length / 16));
    expect(chunks.some((m) => m.snapDone)).toBe(true);
    const f = c.get(lag);
    expect(f.snapshotsInstalled).toBe(1);
    expect(f.storage.snapshot().data).toEqual(state);
    expect(f.raft.log.committed).toBe(l.raft.log.committed);
    propose(c, l.id, "after-snapshot");
    c.tick(2);
    expect(dataOf(f)).toEqual(["after-snapshot"]);
  });

  test("snapshot chunks survive loss: missing chunks are retransmitted", () => {
    const c = new TestCluster([1, 2, 3], { maxSnapshotChunkBytes: 8 });
    const l = c.elect();
    const f = c.get([...c.nodes.keys()].find((id) => id !== l.id)!);
    c.isolate(f.id);
    for (let i = 0; i < 10; i++) l.raft.propose(te.encode(`s${i}`));
    c.settle();
    c.tick(2);
    const data = te.encode("0123456789abcdefghijklmnopqrstuvwxyz");
    const snap = l.raft.createSnapshot(l.raft.log.applied, data);
    if (snap instanceof RaftError) throw snap;
    l.storage.saveSnapshot(snap);
    // Drop every other snapshot chunk on the way to f.
    let n = 0;
    const origStep = f.raft.step.bind(f.raft);
    f.raft.step = (m) => {
      if (m.type === "snap" && n++ % 2 === 0) return;
      origStep(m);
    };
    c.heal();
    c.tick(60);
    expect(n).toBeGreaterThan(Math.ceil(data.length / 8));
    expect(f.snapshotsInstalled).toBe(1);
    expect(f.storage.snapshot().data).toEqual(data);
    expect(f.raft.log.committed).toBe(l.raft.log.committed);
  });
});

describe("raft core: ReadIndex", () => {
  test("the leader confirms leadership with a heartbeat round before answering", () => {
    const c = new TestCluster([1, 2, 3]);
    const l = c.elect();
    c.tick(2);
    propose(c, l.id, "w");
    const commit = l.raft.log.committed;
    expect(l.raft.readIndex("r1")).toBeNull();
    // Nothing before the heartbeat round.
    const rd = l.raft.ready();
    expect(rd?.readStates ?? []).toEqual([]);
    expect(rd!.messages.some((m) => m.type === "heartbeat" && m.context === "r1")).toBe(true);
    l.raft.advance(rd!);
    c.queue.push(...rd!.messages);
    c.settle();
    expect(l.readStates).toEqual([{ index: commit, ctx: "r1" }]);
  });

  test("a follower's read is forwarded and answered with the leader's commit index", () => {
    const c = new TestCluster([1, 2, 3]);
    const l = c.elect();
    c.tick(2);
    propose(c, l.id, "w");
    const f = c.get([...c.nodes.keys()].find((id) => id !== l.id)!);
    expect(f.raft.readIndex("fr")).toBeNull();
    c.settle();
    expect(f.readStates).toEqual([{ index: l.raft.log.committed, ctx: "fr" }]);
  });

  test("an isolated leader never answers a read", () => {
    const c = new TestCluster([1, 2, 3]);
    const l = c.elect();
    c.tick(2);
    c.isolate(l.id);
    l.raft.readIndex("lost");
    c.tick(5);
    expect(l.readStates).toEqual([]);
  });

  test("a new leader defers reads until it has committed an entry in its term", () => {
    const c = new TestCluster([1, 2, 3]);
    const next = leaderWithUncommittedEntry(c);
    next.raft.readIndex("early");
    const rd2 = next.raft.ready();
    expect((rd2?.messages ?? []).some((m) => m.context === "early")).toBe(false);
    if (rd2) {
      next.storage.append(rd2.entries);
      next.raft.advance(rd2);
      c.queue.push(...rd2.messages);
    }
    c.settle();
    c.tick(2);
    expect(next.readStates.map((r) => r.ctx)).toEqual(["early"]);
    expect(next.readStates[0]!.index).toBeGreaterThanOrEqual(next.raft.log.lastIndex() - 1);
  });

  test("single voter answers reads immediately", () => {
    const c = new TestCluster([1]);
    const l = c.elect();
    l.raft.readIndex("solo");
    c.settle();
    expect(l.readStates).toEqual([{ index: l.raft.log.committed, ctx: "solo" }]);
  });
});

describe("raft core: Ready contract", () => {
  test("ready() twice without advance() is an error; entries are offered once", () => {
    const c = new TestCluster([1]);
    const l = c.elect();
    l.raft.propose(te.encode("a"));
    const rd = l.raft.ready()!;
    expect(() => l.raft.ready()).toThrow();
    expect(rd.entries.length).toBe(1);
    expect(rd.mustSync).toBe(true);
    l.storage.append(rd.entries);
    l.raft.advance(rd);
    // The leader counts its own copy only once persisted (advance), so a lone voter commits
    // now: the next Ready applies the entry without offering it again.
    const rd2 = l.raft.ready()!;
    expect(rd2.entries.length).toBe(0);
    expect(rd2.committedEntries.map((e) => e.index)).toEqual(rd.entries.map((e) => e.index));
    l.raft.advance(rd2);
    expect(l.raft.ready()).toBeUndefined();
  });

  test("the leader counts itself toward commit only after persisting (sends may precede its fsync)", () => {
    const c = new TestCluster([1, 2, 3]);
    const l = c.elect();
    l.raft.propose(te.encode("x"));
    const rd = l.raft.ready()!;
    const idx = rd.entries[rd.entries.length - 1]!.index;
    const app = rd.messages.filter((m) => m.type === "app" && m.entries.length > 0);
    expect(app.length).toBe(2);
    // Both followers acknowledge before the leader's own write finished: a quorum without it.
    l.raft.step({ ...app[0]!, type: "appResp", from: app[0]!.to, to: l.id, index: idx, entries: [] } as any);
    expect(l.raft.log.committed).toBe(idx - 1);
    l.raft.step({ ...app[1]!, type: "appResp", from: app[1]!.to, to: l.id, index: idx, entries: [] } as any);
    expect(l.raft.log.committed).toBe(idx);
    l.storage.append(rd.entries);
    l.raft.advance(rd);
  });

  test("no Math.random, Date or timers: same seed, same messages", () => {
    const run = () => {
      const c = new TestCluster([1, 2, 3, 4, 5], {}, 42);
      c.elect();
      for (let i = 0; i < 20; i++) {
        const l = c.leaders()[0]!;
        l.raft.propose(te.encode(`x${i}`));
        c.tick(1);
      }
      // A snapshot, a transfer, a read and a membership change too: every path of the core.
      const l = c.leaders()[0]!;
      l.raft.readIndex("r1");
      l.raft.createSnapshot(l.raft.log.committed, te.encode("state"));
      l.raft.proposeConfChange({ type: "addLearner", node: 6 });
      c.add(6);
      c.tick(5);
      l.raft.transferLeadership([...c.nodes.keys()].find((id) => id !== l.id && id !== 6)!);
      c.tick(5);
      return JSON.stringify(c.log.map((m) => [m.type, m.from, m.to, m.term, m.index, m.commit]));
    };
    // Any clock, timer or ambient randomness used by the core throws while it runs.
    const g = globalThis as any;
    const banned: [any, string][] = [
      [Date, "now"],
      [Math, "random"],
      [performance, "now"],
      [crypto, "getRandomValues"],
      [g, "setTimeout"],
      [g, "setInterval"],
      [g, "setImmediate"],
      [g, "queueMicrotask"],
    ];
    const saved = banned.map(([o, k]) => o[k]);
    const RealDate = Date;
    const used: string[] = [];
    for (const [o, k] of banned) {
      o[k] = () => {
        used.push(k);
        throw new Error(`the Raft core called ${k}`);
      };
    }
    g.Date = new Proxy(RealDate, {
      construct() {
        used.push("new Date");
        throw new Error("the Raft core called new Date");
      },
      apply() {
        used.push("Date()");
        throw new Error("the Raft core called Date()");
      },
    });
    let a: string;
    let b: string;
    try {
      a = run();
      b = run();
    } finally {
      g.Date = RealDate;
      banned.forEach(([o, k], i) => (o[k] = saved[i]));
    }
    expect(used).toEqual([]);
    expect(a).toBe(b);
  });
});
