// A tiny synchronous cluster for unit tests of the Raft core: messages are delivered
// immediately (unless a link is cut), Readies are processed completely.
import { Raft, type RaftConfig } from "../../server/raft/core/raft";
import { MemoryStorage } from "../../server/raft/core/storage";
import type { Entry, Message, NodeId, ReadState } from "../../server/raft/core/types";
import { Rng } from "./rng";

export interface TNode {
  id: NodeId;
  raft: Raft;
  storage: MemoryStorage;
  applied: Entry[];
  readStates: ReadState[];
  snapshotsInstalled: number;
}

export class TestCluster {
  nodes = new Map<NodeId, TNode>();
  queue: Message[] = [];
  cut = new Set<string>();
  /** Every message delivered, for assertions. */
  log: Message[] = [];
  private rng: Rng;

  constructor(
    voters: NodeId[],
    readonly opts: Partial<RaftConfig> = {},
    seed = 1,
  ) {
    this.rng = new Rng(seed);
    for (const id of voters) this.add(id, new MemoryStorage(voters));
  }

  add(id: NodeId, storage = new MemoryStorage()): TNode {
    const rng = this.rng.fork();
    const n: TNode = {
      id,
      storage,
      raft: new Raft({ id, storage, rand: () => rng.next(), ...this.opts }),
      applied: [],
      readStates: [],
      snapshotsInstalled: 0,
    };
    this.nodes.set(id, n);
    return n;
  }

  get(id: NodeId): TNode {
    return this.nodes.get(id)!;
  }

  /** Cut both directions between a and every other node. */
  isolate(a: NodeId): void {
    for (const b of this.nodes.keys()) if (b !== a) this.cutLink(a, b, true);
  }

  cutLink(a: NodeId, b: NodeId, both = true): void {
    this.cut.add(`${a}>${b}`);
    if (both) this.cut.add(`${b}>${a}`);
  }

  heal(): void {
    this.cut.clear();
  }

  /** Process readies and deliver messages until quiet. */
  settle(maxRounds = 1000): void {
    for (let i = 0; i < maxRounds; i++) {
      let progress = false;
      for (const n of this.nodes.values()) {
        const rd = n.raft.ready();
        if (!rd) continue;
        progress = true;
        if (rd.snapshot) {
          n.storage.applySnapshot(rd.snapshot);
          n.snapshotsInstalled++;
        }
        n.storage.append(rd.entries);
        if (rd.hardState) n.storage.setHardState(rd.hardState);
        this.queue.push(...rd.messages);
        n.applied.push(...rd.committedEntries);
        n.readStates.push(...rd.readStates);
        n.raft.advance(rd);
      }
      const q = this.queue;
      this.queue = [];
      for (const m of q) {
        if (this.cut.has(`${m.from}>${m.to}`)) continue;
        const t = this.nodes.get(m.to);
        if (!t) continue;
        this.log.push(m);
        t.raft.step(m);
        progress = true;
      }
      if (!progress) return;
    }
  }

  tick(n = 1): void {
    for (let i = 0; i < n; i++) {
      for (const node of this.nodes.values()) node.raft.tick();
      this.settle();
    }
  }

  leaders(): TNode[] {
    return [...this.nodes.values()].filter((n) => n.raft.role === "leader");
  }

  /** Tick until exactly one leader exists (the one with the highest term). */
  elect(maxTicks = 200): TNode {
    for (let i = 0; i < maxTicks; i++) {
      const ls = this.leaders().filter((l) => !this.isIsolated(l.id));
      if (ls.length === 1) return ls[0]!;
      this.tick();
    }
    throw new Error("no leader elected");
  }

  private isIsolated(id: NodeId): boolean {
    for (const b of this.nodes.keys()) if (b !== id && !this.cut.has(`${id}>${b}`)) return false;
    return this.nodes.size > 1;
  }

  /** Restart a node from its persisted storage. */
  restart(id: NodeId): TNode {
    const old = this.get(id);
    const rng = this.rng.fork();
    old.raft = new Raft({ id, storage: old.storage, rand: () => rng.next(), ...this.opts });
    return old;
  }
}

export const te = new TextEncoder();
export const td = new TextDecoder();
export function dataOf(n: TNode): string[] {
  return n.applied.filter((e) => e.type === "normal" && e.data.length > 0).map((e) => td.decode(e.data));
}
