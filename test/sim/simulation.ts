// Deterministic simulation of a Raft cluster in one process. Everything — network, clocks,
// crashes, clients — is driven by one seeded PRNG, so a seed replays exactly.
//
// Each time unit: faults may fire, clients issue ops, nodes tick (with skew), due messages
// are delivered (in random order), every node's Ready is processed (persist → send →
// apply → advance), and the safety invariants are checked. After the chaos phase the
// network heals and crashed nodes restart (quiesce); the cluster must then converge, and
// the client history must be linearizable.
import { decodeConfChange } from "../../server/raft/core/config";
import { Raft, type TestingBugs } from "../../server/raft/core/raft";
import { MemoryStorage } from "../../server/raft/core/storage";
import { RaftError, type Entry, type Message, type NodeId, type Ready } from "../../server/raft/core/types";
import { SafetyChecker, Violation } from "./invariants";
import { checkLinearizable, formatHistory, type HistoryOp, type KvInput, type KvOutput } from "./linearizability";
import { Network } from "./network";
import { Rng } from "./rng";

export interface SimOptions {
  seed: number;
  nodes: 3 | 5;
  /** Time units of the chaos phase. */
  steps: number;
  /** Time units of the fault-free phase at the end. Default 400. */
  quiesce?: number;
  bugs?: TestingBugs;
  /** Print an event trace. */
  trace?: boolean;
}

export interface SimStats {
  leadersSeen: number;
  committed: number;
  ops: number;
  okWrites: number;
  unknownWrites: number;
  reads: number;
  crashes: number;
  partitions: number;
  confChanges: number;
  transfers: number;
  pauses: number;
  snapshotsTaken: number;
  snapshotsInstalled: number;
  snapshotChunks: number;
  messages: number;
  dropped: number;
  explored: number;
}

export interface SimResult {
  ok: boolean;
  seed: number;
  nodes: number;
  steps: number;
  failure?: { kind: string; message: string; time: number };
  stats: SimStats;
  replay: string;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const KEYS = ["x", "y"];
const TICK_EVERY = 2;
const CLIENT_TIMEOUT = 150;

interface Client {
  id: number;
  busy: Pending | undefined;
  leaderGuess: NodeId;
}

interface Pending {
  client: Client;
  opId: string;
  input: KvInput;
  call: number;
  deadline: number;
  hist: HistoryOp | undefined; // writes: recorded at invocation
  done: boolean;
}

interface KvCmd {
  id: string;
  k: "put" | "cas";
  key: string;
  v: string;
  e?: string | null;
}

class SimNode {
  raft: Raft | undefined;
  kv = new Map<string, string>();
  applied = 0;
  removed = false;
  incarnation = 0;
  proposals = new Map<string, Pending>();
  reads = new Map<string, Pending>();
  readWait: { index: number; p: Pending }[] = [];
  restartAt = 0;
  /** A Ready persisted but not yet sent/applied/advanced (asynchronous storage). */
  inflight: { rd: Ready; at: number } | undefined;
  /** SIGSTOP: no ticks, no message processing, no Ready handling until then. */
  pausedUntil = 0;
  phase: number;

  constructor(
    readonly id: NodeId,
    readonly storage: MemoryStorage,
    phase: number,
  ) {
    this.phase = phase;
  }

  get alive(): boolean {
    return this.raft !== undefined;
  }

  paused(now: number): boolean {
    return now < this.pausedUntil;
  }
}

export function replayCommand(o: { seed: number; nodes: number; steps: number }): string {
  return `bun test/sim/run.ts --seed ${o.seed} --nodes ${o.nodes} --steps ${o.steps}`;
}

export function runSeed(opts: SimOptions): SimResult {
  const sim = new Simulation(opts);
  return sim.run();
}

class Simulation {
  private rng: Rng;
  private net: Network;
  private nodes = new Map<NodeId, SimNode>();
  private spares: NodeId[] = [];
  private clients: Client[] = [];
  private history: HistoryOp[] = [];
  private checker = new SafetyChecker();
  private now = 0;
  private hclock = 0;
  private opSeq = 0;
  private healAt = 0;
  private stats: SimStats = {
    leadersSeen: 0,
    committed: 0,
    ops: 0,
    okWrites: 0,
    unknownWrites: 0,
    reads: 0,
    crashes: 0,
    partitions: 0,
    confChanges: 0,
    transfers: 0,
    pauses: 0,
    snapshotsTaken: 0,
    snapshotsInstalled: 0,
    snapshotChunks: 0,
    messages: 0,
    dropped: 0,
    explored: 0,
  };
  private lastLeader = new Map<NodeId, number>();
  // Fault profile (per seed).
  private crashRate: number;
  private partitionRate: number;
  private confRate: number;
  private snapRate: number;
  private transferRate: number;
  private pauseRate: number;
  private asyncReadyRate: number;
  private killRemoved: boolean;
  private opRate: number;
  private maxCrashed: number;
  /** False alarms of the transport's "leader connection reset" hint (leader alive). */
  private leaderDownRate: number;

  constructor(private readonly opts: SimOptions) {
    this.rng = new Rng(opts.seed);
    const r = this.rng;
    this.net = new Network(r.fork(), {
      dropRate: r.pick([0, 0.01, 0.05, 0.15]),
      dupRate: r.pick([0, 0.01, 0.05]),
      minDelay: 1,
      maxDelay: r.pick([2, 3, 6]),
      longDelayRate: r.pick([0, 0.002, 0.01]),
      longDelayMax: 120,
    });
    this.crashRate = r.pick([0, 0.002, 0.005, 0.01]);
    this.partitionRate = r.pick([0, 0.002, 0.005, 0.01]);
    this.confRate = r.pick([0, 0.005, 0.02]);
    this.snapRate = r.pick([0.005, 0.02, 0.05]);
    this.transferRate = r.pick([0, 0.002, 0.005]);
    this.pauseRate = r.pick([0, 0.002, 0.005]);
    this.asyncReadyRate = r.pick([0, 0, 0.2, 0.6]);
    this.killRemoved = r.chance(0.6);
    this.opRate = r.pick([0.05, 0.15, 0.3]);
    this.maxCrashed = r.pick([1, opts.nodes - 1, opts.nodes]);
    this.leaderDownRate = r.pick([0, 0.002, 0.01]);
    const voters: NodeId[] = [];
    for (let i = 1; i <= opts.nodes; i++) voters.push(i);
    for (const id of voters) this.addNode(id, new MemoryStorage(voters));
    for (let i = 1; i <= 4; i++) this.spares.push(opts.nodes + i);
    const nClients = r.range(3, 5);
    for (let i = 0; i < nClients; i++) this.clients.push({ id: i, busy: undefined, leaderGuess: 1 });
  }

  private trace(msg: string): void {
    if (this.opts.trace) console.log(`[t=${this.now}] ${msg}`);
  }

  private addNode(id: NodeId, storage: MemoryStorage): SimNode {
    const n = new SimNode(id, storage, this.rng.int(TICK_EVERY));
    this.nodes.set(id, n);
    this.start(n);
    return n;
  }

  private start(n: SimNode): void {
    n.incarnation++;
    n.raft = new Raft({
      id: n.id,
      storage: n.storage,
      rand: this.rng.fork().next.bind(this.rng.fork()),
      electionTick: 10,
      heartbeatTick: 2,
      maxSizePerMsg: 400,
      maxInflightMsgs: 4,
      maxSnapshotChunkBytes: 64,
      maxCommittedSizePerReady: 2000,
      testingBugs: this.opts.bugs,
    });
    const snap = n.storage.snapshot();
    n.kv = decodeKv(snap.data);
    n.applied = snap.metadata.index;
    n.proposals.clear();
    n.reads.clear();
    n.readWait = [];
    this.checker.restarted(n.id);
  }

  private crash(n: SimNode, why: string): void {
    if (!n.raft) return;
    this.trace(`crash ${n.id} (${why})`);
    n.raft = undefined;
    // Most peers see its connections reset (a real transport's hint; not all: partitions).
    for (const x of this.nodes.values()) if (x.raft && this.rng.chance(0.8)) x.raft.reportLeaderDown(n.id);
    n.inflight = undefined;
    // Clients see the connection drop: outcome unknown.
    for (const p of n.proposals.values()) this.abandon(p);
    for (const p of n.reads.values()) this.abandon(p);
    for (const w of n.readWait) this.abandon(w.p);
    n.proposals.clear();
    n.reads.clear();
    n.readWait = [];
    this.stats.crashes++;
  }

  run(): SimResult {
    const { steps } = this.opts;
    const quiesce = this.opts.quiesce ?? 400;
    try {
      for (this.now = 1; this.now <= steps + quiesce; this.now++) {
        const chaos = this.now <= steps;
        if (this.now === steps + 1) this.enterQuiesce();
        if (chaos) this.faults();
        this.restarts(chaos);
        if (chaos) this.clientsAct();
        this.clientTimeouts();
        this.tickAll();
        this.deliver();
        this.processReadies(chaos);
        this.checkInvariants();
      }
      this.checkConverged();
      this.finishHistory();
      const lin = checkLinearizable(this.history);
      this.stats.explored = lin.explored;
      if (!lin.ok) {
        throw new Violation(
          lin.result === "timeout" ? "linearizability-timeout" : "linearizability",
          `history of key ${lin.key} is ${lin.result}:\n${formatHistory(lin.ops ?? [])}`,
        );
      }
    } catch (e) {
      return this.result(e);
    }
    return this.result(undefined);
  }

  private dump(): void {
    if (!this.opts.trace) return;
    for (const n of this.nodes.values()) {
      if (!n.raft) {
        console.log(`   node ${n.id}: down${n.removed ? " (removed)" : ""}`);
        continue;
      }
      const s = n.raft.status();
      const st = n.storage;
      console.log(
        `   node ${n.id}: ${s.role} term ${s.term} vote ${s.vote} lead ${s.lead} commit ${s.commit} applied ${s.applied} last ${s.lastIndex}/t${n.raft.log.lastTerm()} conf v[${s.conf.voters}] l[${s.conf.learners}] storage first ${st.firstIndex()} last ${st.lastIndex()} snap ${st.snapshot().metadata.index}` +
          (s.progress ? ` prs ${JSON.stringify(s.progress)}` : ""),
      );
    }
  }

  private result(e: unknown): SimResult {
    if (e !== undefined) this.dump();
    this.stats.messages = this.net.sent;
    this.stats.snapshotChunks = this.net.snapChunks;
    this.stats.dropped = this.net.dropped;
    this.stats.committed = this.checker.maxCommitted;
    const base = {
      seed: this.opts.seed,
      nodes: this.opts.nodes,
      steps: this.opts.steps,
      stats: this.stats,
      replay: replayCommand(this.opts),
    };
    if (e === undefined) return { ok: true, ...base };
    const kind = e instanceof Violation ? e.kind : "exception";
    const message = e instanceof Error ? (e instanceof Violation ? e.message : `${e.message}\n${e.stack}`) : String(e);
    return { ok: false, failure: { kind, message, time: this.now }, ...base };
  }

  // ------------------------------------------------------------ faults

  private aliveMembers(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.alive);
  }

  private leader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const n of this.nodes.values()) {
      if (n.raft && n.raft.role === "leader" && (!best || n.raft.term > best.raft!.term)) best = n;
    }
    return best;
  }

  private faults(): void {
    const r = this.rng;
    if (r.chance(this.crashRate)) {
      const crashed = [...this.nodes.values()].filter((n) => !n.alive && !n.removed).length;
      const alive = this.aliveMembers().filter((n) => !n.removed);
      if (alive.length > 0 && crashed < this.maxCrashed) {
        // Prefer crashing the leader sometimes: that is where the interesting cases are.
        const l = this.leader();
        const victim = l && r.chance(0.4) ? l : r.pick(alive);
        this.crash(victim, "fault");
        victim.restartAt = this.now + r.range(5, 150);
      }
    }
    if (r.chance(this.pauseRate)) {
      // A process stall (GC pause, SIGSTOP): the leader is the interesting victim, since it
      // wakes up believing it still leads.
      const l = this.leader();
      const alive = this.aliveMembers();
      const victim = l && r.chance(0.6) ? l : alive.length > 0 ? r.pick(alive) : undefined;
      if (victim && !victim.paused(this.now)) {
        victim.pausedUntil = this.now + r.range(10, 120);
        this.stats.pauses++;
        this.trace(`pause ${victim.id} until ${victim.pausedUntil}`);
      }
    }
    if (this.healAt > 0 && this.now >= this.healAt) {
      this.net.heal();
      this.healAt = 0;
      this.trace("heal");
    }
    if (this.healAt === 0 && r.chance(this.partitionRate)) this.partition();
    if (r.chance(this.leaderDownRate)) {
      // A spurious "leader connection reset" at a follower whose leader is alive.
      const fs = this.aliveMembers().filter((x) => x.raft?.role === "follower" && x.raft.lead !== 0);
      if (fs.length > 0) {
        const f = r.pick(fs);
        this.trace(`leader-down hint at ${f.id} (leader ${f.raft!.lead} alive)`);
        f.raft!.reportLeaderDown(f.raft!.lead);
      }
    }
    if (r.chance(this.confRate)) this.confChange();
    if (r.chance(this.transferRate)) {
      const l = this.leader();
      if (l) {
        const voters = l.raft!.confState().voters.filter((v) => v !== l.id);
        if (voters.length > 0) {
          const to = r.pick(voters);
          this.trace(`transfer ${l.id} -> ${to}`);
          l.raft!.transferLeadership(to);
          this.stats.transfers++;
        }
      }
    }
    for (const n of this.nodes.values()) {
      if (n.raft && r.chance(this.snapRate)) this.takeSnapshot(n);
    }
  }

  private partition(): void {
    const r = this.rng;
    const ids = [...this.nodes.values()].filter((n) => !n.removed).map((n) => n.id);
    const kind = r.int(4);
    this.stats.partitions++;
    if (kind === 0) {
      const shuffled = r.shuffle(ids.slice());
      const k = r.range(1, Math.max(1, Math.floor(shuffled.length / 2)));
      this.net.partition(shuffled.slice(0, k), shuffled.slice(k));
      this.trace(`partition ${shuffled.slice(0, k)} | ${shuffled.slice(k)}`);
    } else if (kind === 1) {
      const l = this.leader();
      const x = l ? l.id : r.pick(ids);
      this.net.partition([x], ids.filter((i) => i !== x));
      this.trace(`isolate ${x}`);
    } else if (kind === 2) {
      const x = r.pick(ids);
      for (const y of ids) if (y !== x) this.net.block(x, y);
      this.trace(`one-way: ${x} cannot send`);
    } else {
      const x = r.pick(ids);
      for (const y of ids) if (y !== x && r.chance(0.7)) this.net.block(y, x);
      this.trace(`one-way: ${x} cannot receive (some)`);
    }
    this.healAt = this.now + r.range(20, 250);
  }

  private confChange(): void {
    const r = this.rng;
    const l = this.leader();
    if (!l) return;
    const raft = l.raft!;
    const cs = raft.confState();
    const choices: (() => void)[] = [];
    if (cs.learners.length > 0) {
      choices.push(() => this.propConf(l, { type: "promote", node: r.pick(cs.learners) }));
      choices.push(() => {
        if (r.chance(0.2)) this.propConf(l, { type: "remove", node: r.pick(cs.learners) });
      });
    }
    if (this.spares.length > 0 && cs.voters.length + cs.learners.length < this.opts.nodes + 2) {
      choices.push(() => {
        const id = this.spares[0]!;
        let n = this.nodes.get(id);
        if (!n) n = this.addNode(id, new MemoryStorage());
        if (this.propConf(l, { type: "addLearner", node: id })) this.spares.shift();
      });
    }
    if (cs.voters.length > 3) {
      const others = cs.voters.filter((v) => v !== l.id);
      choices.push(() => this.propConf(l, { type: "remove", node: r.pick(others) }));
    }
    if (choices.length > 0) r.pick(choices)();
  }

  private propConf(l: SimNode, cc: { type: "addLearner" | "promote" | "remove"; node: NodeId }): boolean {
    const res = l.raft!.proposeConfChange(cc);
    if (res instanceof RaftError) return false;
    this.trace(`conf ${cc.type} ${cc.node} at ${res.index} by ${l.id}`);
    this.stats.confChanges++;
    return true;
  }

  private takeSnapshot(n: SimNode): void {
    const raft = n.raft!;
    const cur = n.storage.snapshot().metadata.index;
    if (n.applied - cur < 5) return;
    const snap = raft.createSnapshot(n.applied, encodeKv(n.kv));
    if (snap instanceof RaftError) return; // e.g. a received snapshot is being installed
    const keep = this.rng.int(6);
    n.storage.saveSnapshot(snap, n.applied - keep);
    this.stats.snapshotsTaken++;
  }

  private restarts(chaos: boolean): void {
    for (const n of this.nodes.values()) {
      if (!n.alive && !n.removed && (n.restartAt <= this.now || !chaos)) {
        this.trace(`restart ${n.id}`);
        this.start(n);
      }
    }
  }

  private enterQuiesce(): void {
    this.trace("quiesce");
    for (const n of this.nodes.values()) n.pausedUntil = 0;
    this.net.heal();
    this.healAt = 0;
    this.net.cfg = { ...this.net.cfg, dropRate: 0, dupRate: 0, longDelayRate: 0 };
  }

  // ------------------------------------------------------------ clients

  private clientsAct(): void {
    const r = this.rng;
    for (const c of this.clients) {
      if (c.busy || !r.chance(this.opRate)) continue;
      const alive = this.aliveMembers().filter((n) => !n.paused(this.now));
      if (alive.length === 0) continue;
      const guess = this.nodes.get(c.leaderGuess);
      // A client connected to a stalled server waits for it (and then talks to it again).
      if (guess && guess.alive && guess.paused(this.now) && r.chance(0.9)) continue;
      const n = guess && guess.alive && !guess.paused(this.now) && r.chance(0.85) ? guess : r.pick(alive);
      const key = r.pick(KEYS);
      const opId = `${c.id}.${++this.opSeq}`;
      const roll = r.next();
      let input: KvInput;
      if (roll < 0.4) input = { kind: "put", key, value: `v${this.opSeq}` };
      else if (roll < 0.75) input = { kind: "get", key };
      else {
        const expected = r.chance(0.2) ? null : (n.kv.get(key) ?? null);
        input = { kind: "cas", key, expected, value: `v${this.opSeq}` };
      }
      this.invoke(c, n, opId, input);
    }
  }

  private invoke(c: Client, n: SimNode, opId: string, input: KvInput): void {
    const raft = n.raft!;
    const p: Pending = {
      client: c,
      opId,
      input,
      call: ++this.hclock,
      deadline: this.now + CLIENT_TIMEOUT,
      hist: undefined,
      done: false,
    };
    if (input.kind === "get") {
      const err = raft.readIndex(opId);
      if (err) {
        if (raft.lead !== 0) c.leaderGuess = raft.lead;
        return; // a read that never started constrains nothing
      }
      n.reads.set(opId, p);
    } else {
      const cmd: KvCmd =
        input.kind === "put"
          ? { id: opId, k: "put", key: input.key, v: input.value }
          : { id: opId, k: "cas", key: input.key, v: input.value, e: input.expected };
      const res = raft.propose(enc.encode(JSON.stringify(cmd)));
      if (res instanceof RaftError) {
        if (raft.lead !== 0) c.leaderGuess = raft.lead;
        return; // rejected before it entered the log: it never happens
      }
      p.hist = { client: c.id, input, output: undefined, call: p.call, ret: Infinity };
      this.history.push(p.hist);
      n.proposals.set(opId, p);
    }
    this.stats.ops++;
    c.busy = p;
  }

  private complete(p: Pending, output: KvOutput): void {
    if (p.done) return;
    p.done = true;
    const ret = ++this.hclock;
    if (p.hist) {
      p.hist.output = output;
      p.hist.ret = ret;
      this.stats.okWrites++;
    } else {
      this.history.push({ client: p.client.id, input: p.input, output, call: p.call, ret });
      this.stats.reads++;
    }
    if (p.client.busy === p) p.client.busy = undefined;
  }

  private clientTimeouts(): void {
    for (const c of this.clients) {
      const p = c.busy;
      if (p && this.now > p.deadline) {
        this.abandon(p);
        c.leaderGuess = this.rng.pick([...this.nodes.keys()]);
      }
    }
  }

  /** Outcome unknown: a write stays in the history with ret = ∞; a read is dropped. */
  private abandon(p: Pending): void {
    if (p.done) return;
    p.done = true;
    if (p.client.busy === p) p.client.busy = undefined;
    if (p.hist) this.stats.unknownWrites++;
  }

  private finishHistory(): void {
    for (const c of this.clients) {
      if (c.busy && c.busy.hist) this.stats.unknownWrites++;
    }
  }

  // ------------------------------------------------------------ time and messages

  private tickAll(): void {
    for (const n of this.nodes.values()) {
      if (!n.raft || n.paused(this.now)) continue;
      if ((this.now + n.phase) % TICK_EVERY !== 0) continue;
      // Clock skew: occasionally a tick is skipped or doubled.
      const x = this.rng.next();
      if (x < 0.03) continue;
      n.raft.tick();
      if (x > 0.97) n.raft.tick();
    }
  }

  private deliver(): void {
    for (const m of this.net.due(this.now)) {
      const n = this.nodes.get(m.to);
      if (!n || !n.raft) continue;
      if (n.paused(this.now)) {
        this.net.defer(m, n.pausedUntil + this.rng.int(8));
        continue;
      }
      n.raft.step(m);
    }
  }

  private processReadies(chaos: boolean): void {
    const order = [...this.nodes.values()];
    if (order.length > 1) this.rng.shuffle(order);
    for (const n of order) {
      if (!n.raft || n.paused(this.now)) continue;
      if (n.inflight) {
        // Asynchronous storage: the Ready was persisted earlier; the node kept stepping
        // messages and ticking meanwhile. Now send, apply and advance.
        if (this.now < n.inflight.at) continue;
        const rd = n.inflight.rd;
        n.inflight = undefined;
        this.finishReady(n, rd);
        continue;
      }
      const rd = n.raft.ready();
      if (!rd) continue;
      if (!this.persistReady(n, rd, chaos)) continue;
      if (chaos && this.rng.chance(this.asyncReadyRate)) {
        n.inflight = { rd, at: this.now + this.rng.range(1, 4) };
        continue;
      }
      this.finishReady(n, rd);
    }
  }

  /** Steps 1–2 of Ready handling (the "fsync"). Returns false if the node crashed. */
  private persistReady(n: SimNode, rd: Ready, chaos: boolean): boolean {
    const r = this.rng;
    if (chaos && this.crashRate > 0 && r.chance(this.crashRate * 0.2)) {
      // Crash before the write reached the disk: this Ready is lost entirely.
      this.crash(n, "before persisting a Ready");
      n.restartAt = this.now + r.range(5, 100);
      return false;
    }
    if (rd.snapshot) {
      this.checker.checkSnapshot(n.id, rd.snapshot.metadata);
      n.storage.applySnapshot(rd.snapshot);
      n.kv = decodeKv(rd.snapshot.data);
      n.applied = rd.snapshot.metadata.index;
      this.stats.snapshotsInstalled++;
      this.trace(`node ${n.id} installed snapshot at ${n.applied}`);
    }
    n.storage.append(rd.entries);
    if (rd.hardState) n.storage.setHardState(rd.hardState);
    if (chaos && this.crashRate > 0 && r.chance(this.crashRate * 0.2)) {
      // Crash after the fsync, before sending or applying.
      this.crash(n, "after persisting a Ready");
      n.restartAt = this.now + r.range(5, 100);
      return false;
    }
    return true;
  }

  private finishReady(n: SimNode, rd: Ready): void {
    const raft = n.raft!;
    // 3. send.
    for (const m of rd.messages) this.net.send(m as Message, this.now);
    // 4. apply.
    for (const e of rd.committedEntries) this.apply(n, e);
    // 5. reads.
    for (const rs of rd.readStates) {
      const p = n.reads.get(rs.ctx);
      if (p) {
        n.reads.delete(rs.ctx);
        n.readWait.push({ index: rs.index, p });
      }
    }
    raft.advance(rd);
    if (n.readWait.length > 0) {
      const still: { index: number; p: Pending }[] = [];
      for (const w of n.readWait) {
        if (w.index <= n.applied) {
          if (!w.p.done && w.p.input.kind === "get") this.complete(w.p, { value: n.kv.get(w.p.input.key) ?? null });
        } else still.push(w);
      }
      n.readWait = still;
    }
    if (rd.softState.role !== "leader" && n.proposals.size > 0) {
      // Lost leadership: like a real server, fail pending requests fast. The outcome of a
      // write is unknown (it may still commit), so it stays open in the history.
      for (const p of n.proposals.values()) this.abandon(p);
      n.proposals.clear();
      for (const p of n.reads.values()) this.abandon(p);
      n.reads.clear();
    }
    if (rd.softState.role === "leader" && this.lastLeader.get(n.id) !== raft.term) {
      this.lastLeader.set(n.id, raft.term);
      this.stats.leadersSeen++;
      this.trace(`node ${n.id} is leader of term ${raft.term}`);
      this.dump();
    }
  }

  private apply(n: SimNode, e: Entry): void {
    if (e.index !== n.applied + 1) {
      throw new Violation("apply-order", `node ${n.id} applies ${e.index} after ${n.applied}`);
    }
    this.checker.onApply(n.id, e);
    n.applied = e.index;
    if (e.type === "conf") {
      const cc = decodeConfChange(e.data);
      if (cc.type === "remove") {
        // Committed: the removed server is shut down for good.
        const x = this.nodes.get(cc.node);
        if (x && !x.removed) {
          x.removed = true;
          // Usually shut down; otherwise it lingers, possibly unaware it was removed
          // (pre-vote and the leader lease must keep it from disrupting the cluster).
          if (this.killRemoved) {
            this.crash(x, "removed from the cluster");
            this.stats.crashes--;
          }
        }
      }
      return;
    }
    if (e.data.length === 0) return;
    const cmd = JSON.parse(dec.decode(e.data)) as KvCmd;
    let out: KvOutput;
    if (cmd.k === "put") {
      n.kv.set(cmd.key, cmd.v);
      out = {};
    } else {
      const cur = n.kv.get(cmd.key) ?? null;
      const ok = cur === (cmd.e ?? null);
      if (ok) n.kv.set(cmd.key, cmd.v);
      out = { ok };
    }
    const p = n.proposals.get(cmd.id);
    if (p) {
      n.proposals.delete(cmd.id);
      this.complete(p, out);
    }
  }

  private checkInvariants(): void {
    for (const n of this.nodes.values()) {
      if (n.raft) this.checker.checkNode(n.id, n.raft, n.storage.initialState().hardState.term);
    }
  }

  /** After the quiet phase: one leader, and every member has applied everything. */
  private checkConverged(): void {
    const l = this.leader();
    if (!l) throw new Violation("liveness", `no leader after ${this.opts.quiesce ?? 400} quiet time units`);
    const raft = l.raft!;
    const cs = raft.confState();
    const last = raft.log.lastIndex();
    if (raft.log.committed !== last) {
      throw new Violation("liveness", `leader ${l.id} committed ${raft.log.committed} < last ${last} after quiesce`);
    }
    for (const id of [...cs.voters, ...cs.learners]) {
      const n = this.nodes.get(id);
      if (!n || !n.raft) throw new Violation("liveness", `member ${id} is not running after quiesce`);
      if (n.applied !== last) {
        throw new Violation("liveness", `member ${id} applied ${n.applied}, leader ${l.id} has ${last}`);
      }
      if (encodeKvString(n.kv) !== encodeKvString(l.kv)) {
        throw new Violation("state-divergence", `member ${id} state differs from leader ${l.id} at ${last}`);
      }
    }
  }
}

function encodeKvString(kv: Map<string, string>): string {
  return JSON.stringify([...kv.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)));
}

// Snapshots carry padding so that InstallSnapshot needs several chunks.
const PAD = "#".repeat(200);

function encodeKv(kv: Map<string, string>): Uint8Array {
  return enc.encode(JSON.stringify({ kv: JSON.parse(encodeKvString(kv)), pad: PAD }));
}

function decodeKv(data: Uint8Array): Map<string, string> {
  if (data.length === 0) return new Map();
  const v = JSON.parse(dec.decode(data)) as { kv: [string, string][]; pad: string };
  if (v.pad !== PAD) throw new Violation("snapshot-corrupt", "snapshot data was not reassembled intact");
  return new Map(v.kv);
}
