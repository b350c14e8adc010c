// Deterministic simulation of a Raft cluster in one process, running the real node driver
// (server/raft/node: the Ready loop, proposals and forwarding, ReadIndex, snapshots,
// membership) over an in-memory log with real durability rules (memory-log.ts), a key-value
// application (kv-app.ts), a lossy network (network.ts, transport.ts) and simulated time
// (clock.ts). Everything — network, clocks, disks, crashes, clients — is driven by one
// seeded PRNG, so a seed replays exactly.
//
// Each time unit: faults may fire, clients call nodes (writes are forwarded to the leader
// by the driver), due packets are delivered (in random order), every timer and event-loop
// callback due is run, and the safety invariants are checked. After the chaos phase the
// network heals and crashed nodes restart (quiesce); the cluster must then converge, every
// request must have been answered, and the client history must be linearizable.
import { drainMicrotasks } from "bun:jsc";
import type { TestingBugs } from "../../server/raft/core/raft";
import { decodeConfChange } from "../../server/raft/core/config";
import type { Entry, NodeId } from "../../server/raft/core/types";
import { RaftNode } from "../../server/raft/node/node";
import type { Timing } from "../../server/raft/node/types";
import { Scheduler, SimClock, type Process } from "./clock";
import { SafetyChecker, Violation } from "./invariants";
import { KvApp, type KvCmd } from "./kv-app";
import { checkLinearizable, formatHistory, type HistoryOp, type KvInput, type KvOutput } from "./linearizability";
import { MemoryLogStorage } from "./memory-log";
import { Network } from "./network";
import { Rng } from "./rng";
import { SimTransport, type SimNet, type SimPacket } from "./transport";

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
  failedWrites: number;
  reads: number;
  forwarded: number;
  crashes: number;
  powerLosses: number;
  partitions: number;
  confChanges: number;
  transfers: number;
  pauses: number;
  snapshotsInstalled: number;
  snapshotChunks: number;
  messages: number;
  dropped: number;
  tasks: number;
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

const KEYS = ["x", "y"];
/** One time unit is one simulated millisecond; the driver's waits are scaled to it. */
const TIMING: Timing = {
  tickMs: 2,
  leaderWaitMs: 60,
  proposalTimeoutMs: 150,
  retryMs: 2,
  peerDownGraceMs: 6,
  leaderChangeGraceMs: 20,
  readYourWritesMs: 40,
  transferWaitMs: 30,
};
/** A client gives up waiting (and moves on) after this; the server must still answer. */
const CLIENT_TIMEOUT = 400;
const MAX_TASKS_PER_UNIT = 50_000;

type Node = RaftNode<KvCmd, KvOutput, Uint8Array>;

interface SimNode {
  id: NodeId;
  storage: MemoryLogStorage;
  app: KvApp;
  proc: Process;
  node: Node | undefined;
  transport: SimTransport | undefined;
  removed: boolean;
  restartAt: number;
}

interface Client {
  id: number;
  busy: Op | undefined;
  guess: NodeId;
}

interface Op {
  client: Client;
  input: KvInput;
  call: number;
  at: number;
  node: SimNode;
  life: number;
  hist: HistoryOp | undefined; // writes: recorded at invocation
  settled: boolean;
  abandoned: boolean;
}

export function replayCommand(o: { seed: number; nodes: number; steps: number }): string {
  return `bun test/sim/run.ts --seed ${o.seed} --nodes ${o.nodes} --steps ${o.steps}`;
}

export function runSeed(opts: SimOptions): SimResult {
  return new Simulation(opts).run();
}

class Simulation implements SimNet {
  private rng: Rng;
  private sched = new Scheduler();
  private net: Network<SimPacket>;
  private nodes = new Map<NodeId, SimNode>();
  private spares: NodeId[] = [];
  private clients: Client[] = [];
  private history: HistoryOp[] = [];
  /** Writes answered 503 (certainly not applied), with the answer. */
  private dropped = new Map<HistoryOp, { id: string; why: string }>();
  private appliedIds = new Set<string>();
  private ops: Op[] = [];
  private checker = new SafetyChecker();
  private hclock = 0;
  private opSeq = 0;
  private healAt = 0;
  private chaos = true;
  private fatalError: unknown;
  private pendingKills: NodeId[] = [];
  private lastLeader = new Map<NodeId, number>();
  private stats: SimStats = {
    leadersSeen: 0,
    committed: 0,
    ops: 0,
    okWrites: 0,
    unknownWrites: 0,
    failedWrites: 0,
    reads: 0,
    forwarded: 0,
    crashes: 0,
    powerLosses: 0,
    partitions: 0,
    confChanges: 0,
    transfers: 0,
    pauses: 0,
    snapshotsInstalled: 0,
    snapshotChunks: 0,
    messages: 0,
    dropped: 0,
    tasks: 0,
    explored: 0,
  };
  // Fault profile (per seed).
  private crashRate: number;
  private powerLossRate: number;
  private partitionRate: number;
  private confRate: number;
  private transferRate: number;
  private pauseRate: number;
  private killRemoved: boolean;
  private opRate: number;
  private maxCrashed: number;
  /** False alarms of the transport's "leader connection reset" hint (leader alive). */
  private leaderDownRate: number;
  private fsyncDelays: number[];
  private checkpointRate: number;
  /** Power failures while a disk syncs, per fsync (where durability bugs show). */
  private fsyncCrashRate: number;
  /** How long the application keeps its transaction open before committing. */
  private commitDelay: number;
  private snapshotEntries: number;
  private keepEntries: number;

  constructor(private readonly opts: SimOptions) {
    this.rng = new Rng(opts.seed);
    const r = this.rng;
    this.net = new Network<SimPacket>(r.fork(), {
      dropRate: r.pick([0, 0.01, 0.05, 0.15]),
      dupRate: r.pick([0, 0.01, 0.05]),
      minDelay: 1,
      maxDelay: r.pick([2, 3, 6]),
      longDelayRate: r.pick([0, 0.002, 0.01]),
      longDelayMax: 120,
    });
    this.crashRate = r.pick([0, 0.002, 0.005, 0.01]);
    this.powerLossRate = r.pick([0, 0.5, 1]);
    this.partitionRate = r.pick([0, 0.002, 0.005, 0.01]);
    this.confRate = r.pick([0, 0.005, 0.02]);
    this.transferRate = r.pick([0, 0.002, 0.005]);
    this.pauseRate = r.pick([0, 0.002, 0.005]);
    this.killRemoved = r.chance(0.6);
    this.opRate = r.pick([0.05, 0.15, 0.3]);
    this.maxCrashed = r.pick([1, opts.nodes - 1, opts.nodes]);
    this.leaderDownRate = r.pick([0, 0.002, 0.01]);
    this.fsyncDelays = r.pick([[0], [0, 1], [0, 1, 2, 3], [1, 4]]);
    this.checkpointRate = r.pick([0, 0.01, 0.05]);
    this.fsyncCrashRate = r.pick([0, 0.001, 0.005, 0.02]);
    this.commitDelay = r.pick([0, 1, 5, 25]);
    this.snapshotEntries = r.pick([5, 10, 25, 60]);
    this.keepEntries = r.pick([0, 2, 5]);
    const voters: NodeId[] = [];
    for (let i = 1; i <= opts.nodes; i++) voters.push(i);
    for (const id of voters) this.addNode(id, new MemoryLogStorage(voters));
    for (let i = 1; i <= 4; i++) this.spares.push(opts.nodes + i);
    const nClients = r.range(3, 5);
    for (let i = 0; i < nClients; i++) this.clients.push({ id: i, busy: undefined, guess: 1 });
  }

  private get now(): number {
    return this.sched.now;
  }

  private trace(msg: string): void {
    if (this.opts.trace) console.log(`[t=${this.now}] ${msg}`);
  }

  // ------------------------------------------------------------ SimNet (for the transports)

  send(p: SimPacket): void {
    if (p.kind === "raft" && p.m.type === "snap") this.stats.snapshotChunks++;
    // A stream never delivers a frame twice: only bare Raft messages are duplicated.
    if ((p.kind === "raft" || p.kind === "frame") && (p.props || p.results)) p.once = true;
    this.net.send(p, this.now);
  }

  up(id: NodeId): boolean {
    return !!this.nodes.get(id)?.node;
  }

  blocked(from: NodeId, to: NodeId): boolean {
    return this.net.isBlocked(from, to);
  }

  // ------------------------------------------------------------ processes

  private addNode(id: NodeId, storage: MemoryLogStorage): SimNode {
    const n: SimNode = { id, storage, app: new KvApp(id), proc: { incarnation: 0, pausedUntil: 0 }, node: undefined, transport: undefined, removed: false, restartAt: 0 };
    this.nodes.set(id, n);
    this.start(n);
    return n;
  }

  private start(n: SimNode): void {
    const r = this.rng;
    n.proc.incarnation++;
    n.proc.pausedUntil = 0;
    const life = n.proc.incarnation;
    const later = (fn: () => void, delay: number) => this.sched.schedule(n.proc, this.now + delay, fn, undefined, life);
    n.storage.disk = {
      fsync: (complete, resolve) =>
        later(() => {
          // The power fails while the disk syncs: the writes it was syncing may be lost.
          if (this.chaos && r.chance(this.fsyncCrashRate)) return this.crash(n, "during an fsync", true);
          if (!complete()) return;
          // Died right after the fsync, before the driver heard of it.
          if (this.chaos && r.chance(this.crashRate * 0.2)) return this.crash(n, "right after an fsync");
          resolve();
        }, r.pick(this.fsyncDelays)),
      checkpointDue: () => r.chance(this.checkpointRate),
      installing: (meta) => {
        this.checker.checkSnapshot(n.id, meta);
        this.stats.snapshotsInstalled++;
        this.trace(`node ${n.id} installs snapshot at ${meta.index}`);
      },
    };
    n.app.hooks = {
      later,
      commitDelay: this.commitDelay,
      checkpointDue: () => (r.chance(this.checkpointRate) ? r.range(1, 5) : undefined),
      onApply: (e) => this.checker.onApply(n.id, e),
      onConf: (e) => this.onConf(e),
      onCommand: (id) => this.appliedIds.add(id),
    };
    const clock = new SimClock(this.sched, n.proc, r.fork(), 0.03);
    const transport = new SimTransport(n.id, this, clock);
    const rand = r.fork();
    const node: Node = new RaftNode({
      id: n.id,
      storage: n.storage,
      app: n.app,
      transport,
      clock,
      timing: TIMING,
      electionTick: 10,
      heartbeatTick: 2,
      snapshotEntries: this.snapshotEntries,
      keepEntries: this.keepEntries,
      rand: () => rand.next(),
      log: this.opts.trace ? (m) => this.trace(`node ${n.id}: ${m}`) : () => {},
      raftConfig: { maxSizePerMsg: 400, maxInflightMsgs: 4, maxSnapshotChunkBytes: 64, maxCommittedSizePerReady: 2000, testingBugs: this.opts.bugs },
      fatal: (e) => {
        this.fatalError ??= e;
      },
    });
    transport.unreachable = (id) => node.reportUnreachable(id);
    n.node = node;
    n.transport = transport;
    this.checker.restarted(n.id);
    node.start();
  }

  /** kill -9 (or a power loss) between two event-loop callbacks of the process. */
  private crash(n: SimNode, why: string, powerLoss = this.rng.chance(this.powerLossRate)): void {
    if (!n.node) return;
    const r = this.rng;
    this.trace(`crash ${n.id} (${why}${powerLoss ? ", power loss" : ""})`);
    this.stats.forwarded += n.transport!.forwarded;
    n.node = undefined;
    n.transport = undefined;
    n.proc.incarnation++; // its timers, fsyncs and callbacks die with it
    n.storage.crash(powerLoss, (k) => r.int(k + 1));
    n.app.crash(powerLoss, r.chance(0.5));
    if (powerLoss) this.stats.powerLosses++;
    // Most peers see its connections reset (a real transport's hint; not all: partitions).
    for (const x of this.nodes.values()) if (x.node && r.chance(0.8)) x.node.peerDown(n.id);
    // Callers on it see the connection drop: outcome unknown.
    for (const op of this.ops) if (op.node === n && !op.settled) this.abandon(op);
    this.stats.crashes++;
    n.restartAt = this.now + r.range(5, 150);
  }

  /** A conf entry was applied somewhere: a removed server is shut down for good (usually). */
  private onConf(e: Entry): void {
    const cc = decodeConfChange(e.data);
    if (cc.type !== "remove") return;
    const x = this.nodes.get(cc.node);
    if (!x || x.removed) return;
    x.removed = true;
    // Otherwise it lingers, possibly unaware it was removed (pre-vote and the leader lease
    // must keep it from disrupting the cluster).
    if (this.killRemoved) this.pendingKills.push(x.id);
  }

  run(): SimResult {
    const { steps } = this.opts;
    const quiesce = this.opts.quiesce ?? 400;
    try {
      for (let t = 1; t <= steps + quiesce; t++) {
        this.sched.now = t;
        this.chaos = t <= steps;
        if (t === steps + 1) this.enterQuiesce();
        for (const id of this.pendingKills.splice(0)) {
          const x = this.nodes.get(id)!;
          this.crash(x, "removed from the cluster");
          this.stats.crashes--;
        }
        if (this.chaos) this.faults();
        this.restarts();
        if (this.chaos) this.clientsAct();
        this.clientTimeouts();
        this.drain();
        this.deliver();
        this.sched.runUntil(t, () => this.checkFatal(), MAX_TASKS_PER_UNIT);
        this.checkInvariants();
      }
      this.checkConverged();
      this.checkAnswered();
      for (const [h, d] of this.dropped) {
        if (this.appliedIds.has(d.id)) throw new Violation("503-applied", `${h.input.kind}(${h.input.key}) called at ${h.call} was answered 503 (${d.why}) but applied`);
      }
      const lin = checkLinearizable(this.history.filter((h) => !this.dropped.has(h)));
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

  private drain(): void {
    drainMicrotasks();
    this.checkFatal();
  }

  private checkFatal(): void {
    if (this.fatalError !== undefined) {
      const e = this.fatalError as Error;
      throw e instanceof Violation ? e : new Violation("fatal", `the driver stopped on a fatal error: ${e?.stack ?? e}`);
    }
  }

  private dump(): void {
    if (!this.opts.trace) return;
    for (const n of this.nodes.values()) {
      if (!n.node) {
        console.log(`   node ${n.id}: down${n.removed ? " (removed)" : ""}`);
        continue;
      }
      const s = n.node.raft.status();
      const st = n.storage;
      console.log(
        `   node ${n.id}: ${s.role} term ${s.term} vote ${s.vote} lead ${s.lead} commit ${s.commit} applied ${s.applied}/${n.app.applied} last ${s.lastIndex} conf v[${s.conf.voters}] l[${s.conf.learners}] storage first ${st.firstIndex()} last ${st.lastIndex()} snap ${st.snapshot().metadata.index}` +
          (s.progress ? ` prs ${JSON.stringify(s.progress)}` : ""),
      );
    }
  }

  private result(e: unknown): SimResult {
    if (e !== undefined) this.dump();
    for (const n of this.nodes.values()) if (n.transport) this.stats.forwarded += n.transport.forwarded;
    this.stats.messages = this.net.sent;
    this.stats.dropped = this.net.dropped;
    this.stats.committed = this.checker.maxCommitted;
    this.stats.tasks = this.sched.tasksRun;
    const base = { seed: this.opts.seed, nodes: this.opts.nodes, steps: this.opts.steps, stats: this.stats, replay: replayCommand(this.opts) };
    if (e === undefined) return { ok: true, ...base };
    const kind = e instanceof Violation ? e.kind : "exception";
    const message = e instanceof Error ? (e instanceof Violation ? e.message : `${e.message}\n${e.stack}`) : String(e);
    return { ok: false, failure: { kind, message, time: this.now }, ...base };
  }

  // ------------------------------------------------------------ faults

  private alive(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.node);
  }

  private leader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const n of this.nodes.values()) {
      if (n.node && n.node.raft.role === "leader" && (!best || n.node.raft.term > best.node!.raft.term)) best = n;
    }
    return best;
  }

  private paused(n: SimNode): boolean {
    return n.proc.pausedUntil > this.now;
  }

  private faults(): void {
    const r = this.rng;
    if (r.chance(this.crashRate)) {
      const crashed = [...this.nodes.values()].filter((n) => !n.node && !n.removed).length;
      const alive = this.alive().filter((n) => !n.removed);
      if (alive.length > 0 && crashed < this.maxCrashed) {
        // Prefer crashing the leader sometimes: that is where the interesting cases are.
        const l = this.leader();
        this.crash(l && r.chance(0.4) ? l : r.pick(alive), "fault");
      }
    }
    if (r.chance(this.pauseRate)) {
      // A process stall (GC pause, SIGSTOP): the leader is the interesting victim, since it
      // wakes up believing it still leads.
      const l = this.leader();
      const alive = this.alive();
      const victim = l && r.chance(0.6) ? l : alive.length > 0 ? r.pick(alive) : undefined;
      if (victim && !this.paused(victim)) {
        victim.proc.pausedUntil = this.now + r.range(10, 120);
        this.stats.pauses++;
        this.trace(`pause ${victim.id} until ${victim.proc.pausedUntil}`);
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
      const fs = this.alive().filter((x) => !this.paused(x) && x.node!.raft.role === "follower" && x.node!.raft.lead !== 0);
      if (fs.length > 0) {
        const f = r.pick(fs);
        this.trace(`leader-down hint at ${f.id} (leader ${f.node!.raft.lead} alive)`);
        f.node!.peerDown(f.node!.raft.lead);
      }
    }
    if (r.chance(this.confRate)) this.confChange();
    if (r.chance(this.transferRate)) {
      const l = this.leader();
      if (l && !this.paused(l)) {
        const voters = l.node!.raft.confState().voters.filter((v) => v !== l.id);
        if (voters.length > 0) {
          const to = r.pick(voters);
          this.trace(`transfer ${l.id} -> ${to}`);
          l.node!.transferLeadership(to);
          this.stats.transfers++;
        }
      }
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

  /** Through the driver's membership API, as `skiff server --join` and `skiff cluster remove` do. */
  private confChange(): void {
    const r = this.rng;
    const l = this.leader();
    if (!l || this.paused(l)) return;
    const node = l.node!;
    const cs = node.raft.confState();
    const change = (type: "addLearner" | "promote" | "remove", id: NodeId) => {
      this.trace(`conf ${type} ${id} via ${l.id}`);
      this.stats.confChanges++;
      node.confChange(type, id, 200).catch((e) => this.trace(`conf ${type} ${id}: ${(e as Error).message}`));
    };
    const choices: (() => void)[] = [];
    if (cs.learners.length > 0) {
      choices.push(() => change("promote", r.pick(cs.learners)));
      choices.push(() => r.chance(0.2) && change("remove", r.pick(cs.learners)));
    }
    if (this.spares.length > 0 && cs.voters.length + cs.learners.length < this.opts.nodes + 2) {
      choices.push(() => {
        const id = this.spares.shift()!;
        if (!this.nodes.has(id)) this.addNode(id, new MemoryLogStorage());
        change("addLearner", id);
      });
    }
    if (cs.voters.length > 3) {
      const others = cs.voters.filter((v) => v !== l.id);
      choices.push(() => change("remove", r.pick(others)));
    }
    if (choices.length > 0) r.pick(choices)();
  }

  private restarts(): void {
    for (const n of this.nodes.values()) {
      if (!n.node && !n.removed && (n.restartAt <= this.now || !this.chaos)) {
        this.trace(`restart ${n.id}`);
        this.start(n);
      }
    }
  }

  private enterQuiesce(): void {
    this.trace("quiesce");
    for (const n of this.nodes.values()) n.proc.pausedUntil = 0;
    this.net.heal();
    this.healAt = 0;
    this.net.cfg = { ...this.net.cfg, dropRate: 0, dupRate: 0, longDelayRate: 0 };
  }

  // ------------------------------------------------------------ clients

  private clientsAct(): void {
    const r = this.rng;
    for (const c of this.clients) {
      if (c.busy || !r.chance(this.opRate)) continue;
      const alive = this.alive().filter((n) => !this.paused(n));
      if (alive.length === 0) continue;
      const guess = this.nodes.get(c.guess);
      // A client connected to a stalled server waits for it (and then talks to it again).
      if (guess?.node && this.paused(guess) && r.chance(0.9)) continue;
      const n = guess?.node && !this.paused(guess) && r.chance(0.85) ? guess : r.pick(alive);
      c.guess = n.id;
      const key = r.pick(KEYS);
      const value = `v${++this.opSeq}`;
      const roll = r.next();
      let input: KvInput;
      if (roll < 0.4) input = { kind: "put", key, value };
      else if (roll < 0.75) input = { kind: "get", key };
      else input = { kind: "cas", key, expected: r.chance(0.2) ? null : (n.app.kv.get(key) ?? null), value };
      this.invoke(c, n, input);
    }
  }

  private invoke(c: Client, n: SimNode, input: KvInput): void {
    const node = n.node!;
    const op: Op = { client: c, input, call: ++this.hclock, at: this.now, node: n, life: n.proc.incarnation, hist: undefined, settled: false, abandoned: false };
    this.ops.push(op);
    this.stats.ops++;
    this.trace(`client ${c.id} calls ${input.kind}(${input.key}${"value" in input ? `, ${input.value}` : ""}) #${op.call} on ${n.id}`);
    c.busy = op;
    if (input.kind === "get") {
      node.readBarrier().then(
        () => {
          if (n.proc.incarnation === op.life) this.settle(op, { value: n.app.kv.get(input.key) ?? null });
        },
        (e) => this.failed(op, e),
      );
      return;
    }
    const id = `${c.id}.${op.call}`;
    const cmd: KvCmd = input.kind === "put" ? { id, k: "put", key: input.key, v: input.value } : { id, k: "cas", key: input.key, v: input.value, e: input.expected };
    op.hist = { client: c.id, input, output: undefined, call: op.call, ret: Infinity };
    this.history.push(op.hist);
    node.propose(cmd).then(
      (out) => this.settle(op, out),
      (e) => this.failed(op, e),
    );
  }

  private settle(op: Op, output: KvOutput): void {
    if (op.settled) return;
    op.settled = true;
    // A write is answered from the entry that carries it, applied first (here or at the
    // leader): an answer for one nobody applied is some other write's result.
    const id = `${op.client.id}.${op.call}`;
    if (op.hist && !this.appliedIds.has(id)) {
      this.fatalError ??= new Violation("answered-not-applied", `${op.input.kind}(${op.input.key}) #${op.call} on node ${op.node.id} was answered ${JSON.stringify(output)} but no node has applied it`);
    }
    if (op.client.busy === op) op.client.busy = undefined;
    if (op.abandoned) return; // the client stopped waiting: it never learns the outcome
    const ret = ++this.hclock;
    if (op.hist) {
      op.hist.output = output;
      op.hist.ret = ret;
      this.stats.okWrites++;
    } else {
      this.history.push({ client: op.client.id, input: op.input, output, call: op.call, ret });
      this.stats.reads++;
    }
  }

  /** 503: certainly not applied (the write leaves the history); 504: outcome unknown. */
  private failed(op: Op, e: unknown): void {
    if (op.settled) return;
    this.trace(`#${op.call} failed: ${(e as Error)?.message}`);
    op.settled = true;
    if (op.client.busy === op) op.client.busy = undefined;
    const code = (e as { code?: number })?.code;
    if (code !== 503 && code !== 504) {
      this.fatalError ??= new Violation("unexpected-error", `a ${op.input.kind} failed with ${(e as Error)?.stack ?? e}`);
      return;
    }
    if (!op.hist) return;
    if (code === 503) {
      this.dropped.set(op.hist, { id: `${op.client.id}.${op.call}`, why: (e as Error).message });
      this.stats.failedWrites++;
    } else this.stats.unknownWrites++;
  }

  /** The caller stops waiting (its connection dropped, or it timed out): a write's outcome is unknown. */
  private abandon(op: Op): void {
    if (op.abandoned) return;
    op.abandoned = true;
    if (op.client.busy === op) op.client.busy = undefined;
    if (op.hist && !op.settled) this.stats.unknownWrites++;
    if (op.node.proc.incarnation !== op.life) op.settled = true; // its server died: no answer will come
  }

  private clientTimeouts(): void {
    for (const c of this.clients) {
      const op = c.busy;
      if (op && this.now - op.at > CLIENT_TIMEOUT) {
        this.abandon(op);
        c.guess = this.rng.pick([...this.nodes.keys()]);
      }
    }
  }

  /** Every request to a server that stayed up was answered (a 503 or 504 counts). */
  private checkAnswered(): void {
    for (const op of this.ops) {
      if (op.settled || op.node.proc.incarnation !== op.life) continue;
      throw new Violation("unanswered", `node ${op.node.id} never answered a ${op.input.kind} called at t=${op.at}`);
    }
  }

  // ------------------------------------------------------------ messages

  private deliver(): void {
    for (const p of this.net.due(this.now)) {
      const n = this.nodes.get(p.to);
      const node = n?.node;
      if (!n || !node) continue;
      if (this.paused(n)) {
        this.net.defer(p, n.proc.pausedUntil + this.rng.int(8));
        continue;
      }
      this.dispatch(n, node, p);
      this.drain();
    }
  }

  private dispatch(n: SimNode, node: Node, p: SimPacket): void {
    switch (p.kind) {
      case "raft":
      case "frame":
        if (p.results) node.onProposalResults(p.from, p.results);
        if (p.kind === "raft") node.step([p.m]);
        if (p.props) node.onProposals(p.from, p.props);
        return;
      case "call": {
        const life = n.proc.incarnation;
        const reply = (ok: boolean, body: string) => {
          if (n.proc.incarnation === life) this.send({ kind: "reply", from: n.id, to: p.from, id: p.id, session: p.session, ok, body, once: true });
        };
        node.handleForward(p.from, JSON.parse(p.req)).then(
          (resp) => reply(true, JSON.stringify(resp ?? null)),
          (e) => reply(false, (e as Error).message),
        );
        return;
      }
      case "reply":
        n.transport!.reply(p);
        return;
    }
  }

  // ------------------------------------------------------------ checks

  private checkInvariants(): void {
    for (const n of this.nodes.values()) {
      const node = n.node;
      if (!node) continue;
      this.checker.checkNode(n.id, node.raft, n.storage.durableTerm());
      if (node.applied !== n.app.applied) throw new Violation("driver-applied", `node ${n.id}: the driver applied ${node.applied}, the application ${n.app.applied}`);
      if (node.raft.role === "leader" && this.lastLeader.get(n.id) !== node.raft.term) {
        this.lastLeader.set(n.id, node.raft.term);
        this.stats.leadersSeen++;
        this.trace(`node ${n.id} is leader of term ${node.raft.term}`);
      }
    }
  }

  /** After the quiet phase: one leader, and every member has applied everything. */
  private checkConverged(): void {
    const l = this.leader();
    if (!l) throw new Violation("liveness", `no leader after ${this.opts.quiesce ?? 400} quiet time units`);
    const raft = l.node!.raft;
    const cs = raft.confState();
    const last = raft.log.lastIndex();
    if (raft.log.committed !== last) throw new Violation("liveness", `leader ${l.id} committed ${raft.log.committed} < last ${last} after quiesce`);
    for (const id of [...cs.voters, ...cs.learners]) {
      const n = this.nodes.get(id);
      if (!n || !n.node) throw new Violation("liveness", `member ${id} is not running after quiesce`);
      if (n.app.applied !== last) throw new Violation("liveness", `member ${id} applied ${n.app.applied}, leader ${l.id} has ${last}`);
      if (n.app.state() !== l.app.state()) throw new Violation("state-divergence", `member ${id} state differs from leader ${l.id} at ${last}`);
    }
  }
}
