// One writer for every iptables rule and ipset the agent keeps (service proxy, NetworkPolicy,
// LoadBalancer/ingress ports): each part renders the chains and sets it wants, and the writer
// puts the difference in the kernel in one go:
//
//   1. `ipset restore`: new sets, added and removed members (a set rewritten whole is built aside
//      and swapped in, so it is never seen half-filled);
//   2. one `iptables-restore --noflush` for all tables: only the chains whose rules changed are
//      declared (which flushes them) and refilled, chains nobody wants any more are deleted;
//      every other chain, and every rule that is not ours, is left alone; the restore is one
//      transaction, so service and policy rules change together;
//   3. `ipset destroy` of the sets no rule refers to any more.
//
// A change to one Service or one policy therefore writes a few chains and set members, not
// everything. Someone flushing our rules (a firewall reload, `iptables -F`, `ipset destroy`) is
// noticed by a check every minute, and everything is written again. Everything the agent makes
// is named with the SKIFF- prefix (chains and sets), so it can be found and removed by that.

import { run, runSync } from "../cmd.ts";

export const PREFIX = "SKIFF-";

/** chain → its rules, each a whole `-A CHAIN …` line of iptables-restore input. */
export type ChainMap = Map<string, string[]>;
export type Table = "nat" | "filter";

export interface IpSet {
  type: "hash:ip" | "hash:net";
  /** Members ("10.42.0.5", "10.0.0.0/8", "10.1.0.0/16 nomatch"). */
  entries: string[];
}

export interface Rendered {
  tables: Partial<Record<Table, ChainMap>>;
  sets?: Map<string, IpSet>;
}

export interface RuleSource {
  /** What this part wants now; null while it does not know yet (keep what is in the kernel). */
  render(): Rendered | null;
  /** Is this chain or set name one of this part's? (Kept untouched while render() is null.) */
  owns(name: string): boolean;
}

/** A rule in a built-in chain that sends traffic into ours (inserted first, once). */
export interface Jump {
  table: Table;
  chain: string;
  rule: string[];
}

/** Groups iptables-restore lines (`:CHAIN` declarations and `-A CHAIN …`) by chain. */
export function chainsOf(text: string): ChainMap {
  const out: ChainMap = new Map();
  for (const line of text.split("\n")) {
    const decl = /^:(\S+) /.exec(line);
    if (decl) {
      if (!out.has(decl[1]!)) out.set(decl[1]!, []);
      continue;
    }
    const m = /^-A (\S+) /.exec(line);
    if (m) (out.get(m[1]!) ?? out.set(m[1]!, []).get(m[1]!)!).push(line);
  }
  return out;
}

/** Our chains in `iptables-save` output. */
export function ourChains(save: string): string[] {
  const out: string[] = [];
  for (const line of save.split("\n")) {
    const m = /^:(\S+) /.exec(line);
    if (m && m[1]!.startsWith(PREFIX)) out.push(m[1]!);
  }
  return out;
}

const same = (a: string[] | undefined, b: string[] | undefined) => !!a && !!b && a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * iptables-restore input for one table: the chains of `want` that differ from `applied` (all of
 * them when applied is null), and deletion of `stale` chains (ours, not wanted). "" when nothing
 * changes.
 */
export function tableScript(table: Table, want: ChainMap, applied: ChainMap | null, inKernel: string[]): string {
  const changed = [...want.keys()].filter((c) => !applied || !same(want.get(c), applied.get(c))).sort();
  const known = applied ? [...applied.keys()] : inKernel;
  const stale = known.filter((c) => c.startsWith(PREFIX) && !want.has(c)).sort();
  if (!changed.length && !stale.length) return "";
  return [
    `*${table}`,
    ...changed.map((c) => `:${c} - [0:0]`),
    ...stale.map((c) => `:${c} - [0:0]`),
    ...changed.flatMap((c) => want.get(c)!),
    ...stale.map((c) => `-X ${c}`),
    "COMMIT",
    "",
  ].join("\n");
}

const entryKey = (e: string) => e.split(" ")[0]!;

/**
 * `ipset restore` input: `before` creates sets and changes members (before the rules that use
 * them), `after` destroys the sets nobody wants (once no rule refers to them). With applied null
 * (first write, or after a flush) every wanted set is rewritten; one already in the kernel is
 * filled aside and swapped in.
 */
export function ipsetScript(want: Map<string, IpSet>, applied: Map<string, IpSet> | null, inKernel: Set<string>): { before: string; after: string } {
  const before: string[] = [];
  const create = (name: string, s: IpSet) => `create ${name} ${s.type} family inet hashsize 64 maxelem 262144 -exist`;
  let tmp = 0;
  for (const [name, s] of [...want].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const old = applied?.get(name);
    if (old && old.type === s.type) {
      const had = new Map(old.entries.map((e) => [entryKey(e), e]));
      const now = new Map(s.entries.map((e) => [entryKey(e), e]));
      for (const [k, e] of had) if (now.get(k) !== e) before.push(`del ${name} ${k} -exist`);
      for (const [k, e] of now) if (had.get(k) !== e) before.push(`add ${name} ${e} -exist`);
    } else if (inKernel.has(name) || old) {
      const t = `${PREFIX}TMP-${tmp++}`;
      before.push(`create ${t} ${s.type} family inet hashsize 64 maxelem 262144 -exist`, `flush ${t}`);
      before.push(...s.entries.map((e) => `add ${t} ${e} -exist`));
      before.push(create(name, s), `swap ${t} ${name}`, `destroy ${t}`);
    } else {
      before.push(create(name, s), ...s.entries.map((e) => `add ${name} ${e} -exist`));
    }
  }
  const known = applied ? [...applied.keys()] : [...inKernel];
  const after = known.filter((n) => n.startsWith(PREFIX) && !want.has(n)).sort().map((n) => `destroy ${n}`);
  return { before: before.length ? before.join("\n") + "\n" : "", after: after.length ? after.join("\n") + "\n" : "" };
}

/** The chains and sets of all parts together. */
function merge(rendered: Map<string, Rendered | null>): { want: Record<Table, ChainMap>; sets: Map<string, IpSet> } {
  const want: Record<Table, ChainMap> = { nat: new Map(), filter: new Map() };
  const sets = new Map<string, IpSet>();
  for (const r of rendered.values()) {
    if (!r) continue;
    for (const [table, chains] of Object.entries(r.tables) as [Table, ChainMap][]) for (const [c, rules] of chains) want[table].set(c, rules);
    for (const [n, set] of r.sets ?? []) sets.set(n, set);
  }
  return { want, sets };
}

export interface RuleWriterOptions {
  log: (msg: string) => void;
  /** Coalesce changes for this long before writing (default 100 ms). */
  syncDelayMs?: number;
  /** How often our rules are looked for having been flushed (default 60 s). */
  checkMs?: number;
}

export class RuleWriter {
  private readonly sources = new Map<string, { source: RuleSource; jumps: Jump[]; applied: Rendered | null }>();
  private applied: Record<Table, ChainMap> | null = null;
  private appliedSets: Map<string, IpSet> | null = null;
  private jumpsReady = false;
  /** Parts whose render() was null at the last full write. */
  private unknown = new Set<string>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private check: ReturnType<typeof setInterval> | null = null;
  private running = false;
  private again = false;
  private stopped = false;
  private waiters: (() => void)[] = [];
  /** Successful writes, and the last one's size (for logs, tests and benchmarks). */
  writes = 0;
  lastWrite = { chains: 0, setOps: 0, ms: 0 };
  lastError = "";

  constructor(private readonly o: RuleWriterOptions) {}

  add(name: string, source: RuleSource, jumps: Jump[] = []): void {
    this.sources.set(name, { source, jumps, applied: null });
    this.jumpsReady = false;
  }

  start(): void {
    this.check = setInterval(() => void this.verify(), this.o.checkMs ?? 60_000);
    this.check.unref?.();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.check) clearInterval(this.check);
    for (const w of this.waiters.splice(0)) w();
  }

  /** A source changed: write soon (changes close together are written once). */
  schedule(): void {
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.running) this.again = true;
      else void this.loop();
    }, this.o.syncDelayMs ?? 100);
  }

  /** Resolves after the next write that starts from now (tests, benchmarks). */
  settled(): Promise<void> {
    return new Promise((r) => {
      this.waiters.push(r);
      this.schedule();
    });
  }

  private async loop(): Promise<void> {
    this.running = true;
    try {
      do {
        this.again = false;
        const waiting = this.waiters.splice(0);
        await this.sync();
        for (const w of waiting) w();
      } while (this.again && !this.stopped);
    } finally {
      this.running = false;
    }
  }

  private async verify(): Promise<void> {
    if (this.running || !this.applied) return;
    const missing = await this.missing();
    if (!missing) return;
    this.o.log(`network rules: rules went missing from iptables (${missing}: flushed by someone else?); putting them back`);
    this.reset();
    this.schedule();
  }

  /**
   * What of ours is not in the kernel as written ("" when all is): a jump, a chain whose rule
   * count differs (one iptables-save per table, not a call per chain), a set or its members.
   */
  async missing(): Promise<string> {
    if (!this.applied) return "";
    if (!this.jumpsReady) return "a jump rule";
    for (const { jumps } of this.sources.values())
      for (const j of jumps) if (!(await run(["iptables", "-w", "5", "-t", j.table, "-C", j.chain, ...j.rule])).ok) return `the ${j.table} ${j.chain} jump`;
    for (const table of ["nat", "filter"] as Table[]) {
      const save = await run(["iptables-save", "-t", table]);
      if (!save.ok) continue;
      const have = chainsOf(save.out);
      for (const [c, rules] of this.applied[table]) if ((have.get(c)?.length ?? -1) !== rules.length) return `chain ${c}`;
    }
    if (this.appliedSets?.size) {
      const save = await run(["ipset", "save"]);
      if (save.ok) {
        const members = new Map<string, number>();
        for (const line of save.out.split("\n")) {
          const m = /^(create|add) (\S+)/.exec(line);
          if (m) members.set(m[2]!, (members.get(m[2]!) ?? 0) + (m[1] === "add" ? 1 : 0));
        }
        for (const [n, set] of this.appliedSets) if (members.get(n) !== set.entries.length) return `ipset ${n}`;
      }
    }
    return "";
  }

  /** Forget what was written: the next write reads the kernel and writes everything. */
  reset(): void {
    this.applied = null;
    this.appliedSets = null;
    this.jumpsReady = false;
  }

  /** Renders every source and writes the difference. */
  async sync(): Promise<void> {
    const started = performance.now();
    const rendered = new Map<string, Rendered | null>();
    for (const [name, s] of this.sources) rendered.set(name, s.source.render() ?? s.applied);
    // A part that did not know its rules at the last full write (not synced yet: e.g. an agent
    // started offline, whose rules from before must stay) and knows them now: its leftovers in
    // the kernel are only found by reading the kernel again.
    if ([...this.unknown].some((n) => rendered.get(n))) this.reset();
    const full = !this.applied;
    const inKernel: Record<Table, string[]> = { nat: [], filter: [] };
    let setsInKernel = new Set<string>();
    if (full) {
      this.unknown = new Set([...rendered].filter(([, r]) => !r).map(([n]) => n));
      const keep = (n: string) => [...this.unknown].some((u) => this.sources.get(u)!.source.owns(n));
      for (const table of ["nat", "filter"] as Table[]) {
        const save = await run(["iptables-save", "-t", table]);
        inKernel[table] = save.ok ? ourChains(save.out).filter((c) => !keep(c)) : [];
      }
      const l = await run(["ipset", "list", "-n"]);
      setsInKernel = new Set(l.ok ? l.out.split("\n").filter((n) => n.startsWith(PREFIX) && !keep(n)) : []);
    }
    let { want, sets } = merge(rendered);
    let ipset = ipsetScript(sets, this.appliedSets, setsInKernel);
    let setsFailed = "";
    if (ipset.before) {
      const r = await run(["ipset", "restore"], ipset.before);
      if (!r.ok) {
        // Without ipset (not installed, or refused) the parts that need sets keep what they had;
        // the others (the service proxy) are still written.
        setsFailed = `ipset restore failed: ${r.err || "is ipset installed?"}`;
        this.o.log(`network rules: ${setsFailed}; rules that need sets (NetworkPolicy) are not updated`);
        for (const [name, r2] of rendered) if (r2?.sets?.size) rendered.set(name, this.sources.get(name)!.applied);
        ({ want, sets } = merge(rendered));
        ipset = { before: "", after: "" };
      }
    }
    const script = (["nat", "filter"] as Table[]).map((t) => tableScript(t, want[t], this.applied?.[t] ?? null, inKernel[t])).join("");
    if (script) {
      const r = await run(["iptables-restore", "-w", "5", "--noflush"], script);
      if (!r.ok) return this.failed(`iptables-restore failed: ${r.err}`);
    }
    if (ipset.after) {
      const r = await run(["ipset", "restore"], ipset.after);
      // A set still in use elsewhere (or gone already) is not worth a rewrite of everything.
      if (!r.ok) this.o.log(`network rules: could not remove an unused ipset: ${r.err}`);
    }
    this.applied = want;
    this.appliedSets = setsFailed ? null : sets;
    for (const [name, r] of rendered) this.sources.get(name)!.applied = r;
    this.lastError = setsFailed;
    if (script || ipset.before || ipset.after) {
      this.writes++;
      this.lastWrite = { chains: (script.match(/^:/gm) ?? []).length, setOps: (ipset.before.match(/\n/g) ?? []).length, ms: performance.now() - started };
    }
    if (!this.jumpsReady) this.jumpsReady = await this.ensureJumps(rendered);
  }

  private failed(msg: string): void {
    this.lastError = msg;
    this.o.log(`service proxy: ${msg}`);
    this.reset(); // read what is there next time
  }

  /** Inserts the jump rules that are missing; true when all are in place. */
  private async ensureJumps(rendered: Map<string, Rendered | null>): Promise<boolean> {
    let ok = true;
    for (const [name, { jumps }] of this.sources) {
      // Its chains may not exist yet: its jumps come once it knows its rules.
      if (!rendered.get(name)) {
        ok = false;
        continue;
      }
      for (const j of jumps) {
        if ((await run(["iptables", "-w", "5", "-t", j.table, "-C", j.chain, ...j.rule])).ok) continue;
        const r = await run(["iptables", "-w", "5", "-t", j.table, "-I", j.chain, "1", ...j.rule]);
        if (!r.ok) {
          ok = false;
          this.o.log(`cannot add the ${j.table} ${j.chain} jump: ${r.err}`);
        }
      }
    }
    return ok;
  }

  /** Removes every jump, chain and set this writer's kind made (tests, uninstall). */
  static removeAll(jumps: Jump[]): void {
    for (const j of jumps) while (runSync(["iptables", "-w", "5", "-t", j.table, "-D", j.chain, ...j.rule]).ok);
    // Jumps from built-in chains to ours that someone else's list did not name.
    for (const table of ["nat", "filter"] as Table[]) {
      const save = runSync(["iptables-save", "-t", table]);
      if (!save.ok) continue;
      for (const line of save.out.split("\n")) {
        const m = /^-A (PREROUTING|INPUT|FORWARD|OUTPUT|POSTROUTING) (.*-j SKIFF-\S+.*)$/.exec(line);
        if (m) runSync(["sh", "-c", `iptables -w 5 -t ${table} -D ${m[1]} ${m[2]}`]);
      }
      const mine = ourChains(save.out);
      if (mine.length) runSync(["iptables-restore", "-w", "5", "--noflush"], [`*${table}`, ...mine.map((c) => `:${c} - [0:0]`), ...mine.map((c) => `-X ${c}`), "COMMIT", ""].join("\n"));
    }
    const sets = runSync(["ipset", "list", "-n"]);
    for (const n of sets.ok ? sets.out.split("\n") : []) if (n.startsWith(PREFIX)) runSync(["ipset", "destroy", n]);
  }
}
