// Linearizability checker for a key-value store with put / get / compare-and-set, in the
// style of Wing & Gong with Lowe's memoization, as in Porcupine: the history is split by
// key (each key is an independent register, so the whole history is linearizable iff every
// per-key sub-history is), then a depth-first search tries to linearize call events in
// order, backtracking when a return event is reached whose call could not be linearized.
// A cache of (set of linearized operations, state) prunes repeated sub-searches.
//
// Operations with an unknown outcome (the client timed out or the server died) have
// ret = Infinity and output undefined: they may take effect at any point after their call,
// or never (taking effect after everything else is indistinguishable from never).

export type KvInput =
  | { kind: "put"; key: string; value: string }
  | { kind: "get"; key: string }
  | { kind: "cas"; key: string; expected: string | null; value: string };

/** get → value; cas → ok; put → {}; undefined = unknown outcome. */
export type KvOutput = { value?: string | null; ok?: boolean };

export interface HistoryOp {
  client: number;
  input: KvInput;
  output: KvOutput | undefined;
  call: number;
  ret: number;
}

export interface CheckResult {
  ok: boolean;
  /** "timeout" if the search budget ran out (treat as a failure to decide). */
  result: "linearizable" | "not-linearizable" | "timeout";
  key?: string;
  /** For failures: the per-key sub-history, for printing. */
  ops?: HistoryOp[];
  explored: number;
}

type State = string | null;

function step(state: State, input: KvInput, output: KvOutput | undefined): [boolean, State] {
  switch (input.kind) {
    case "put":
      return [true, input.value];
    case "get":
      if (output === undefined) return [true, state];
      return [output.value === state, state];
    case "cas":
      if (output === undefined || output.ok === undefined) {
        return [true, state === input.expected ? input.value : state];
      }
      if (output.ok) return [state === input.expected, input.value];
      return [state !== input.expected, state];
  }
}

interface Node {
  isCall: boolean;
  id: number;
  time: number;
  match: Node | undefined; // call → its return
  prev: Node | undefined;
  next: Node | undefined;
}

/**
 * Drop unknown-outcome puts that nothing could have observed: no get returned their
 * value, no cas expected it, and no cas that failed or has an unknown outcome returned after
 * they were called (such a cas may take effect after the put, even one called before it: a
 * failed cas is explained by any value other than the one it expected). Such a put can
 * always be linearized after everything else, so removing it preserves the verdict while
 * keeping the search small.
 */
function prune(ops: HistoryOp[]): HistoryOp[] {
  const observed = new Set<string>();
  for (const o of ops) {
    if (o.input.kind === "get" && o.output?.value != null) observed.add(o.output.value);
    if (o.input.kind === "cas" && o.input.expected !== null) observed.add(o.input.expected);
  }
  return ops.filter((o) => {
    if (o.input.kind !== "put" || o.output !== undefined || o.ret !== Infinity) return true;
    if (observed.has(o.input.value)) return true;
    const call = o.call;
    for (const p of ops) {
      if (p.input.kind === "cas" && p.ret > call && (p.output === undefined || p.output.ok !== true)) return true;
    }
    return false;
  });
}

/** Stands for every value no get returned and no cas expected (see canonical). */
const UNSEEN = "\u0001unseen";

/**
 * Written values that no get returned and no cas expected all behave alike (every get and
 * cas tells them apart from observed values only), so they become one value: states that
 * differ only in which unseen value is stored merge in the search cache.
 */
function canonical(ops: HistoryOp[]): HistoryOp[] {
  const observed = new Set<string>();
  for (const o of ops) {
    if (o.input.kind === "get" && o.output?.value != null) observed.add(o.output.value);
    if (o.input.kind === "cas" && o.input.expected !== null) observed.add(o.input.expected);
  }
  return ops.map((o) => (o.input.kind !== "get" && !observed.has(o.input.value) ? { ...o, input: { ...o.input, value: UNSEEN } } : o));
}

/**
 * For each op of unknown outcome, the previous-called op of unknown outcome with the same
 * input (-1 if none). Such ops are interchangeable, so the search linearizes them in call
 * order only: any linearization that places a later one first can swap the two.
 */
function sameUnknownBefore(ops: HistoryOp[]): Int32Array {
  const prev = new Int32Array(ops.length).fill(-1);
  const last = new Map<string, number>();
  const order = ops.map((_, i) => i).sort((a, b) => ops[a]!.call - ops[b]!.call);
  for (const i of order) {
    const o = ops[i]!;
    if (o.ret !== Infinity || o.output !== undefined) continue;
    const sig = JSON.stringify(o.input);
    const p = last.get(sig);
    if (p !== undefined) prev[i] = p;
    last.set(sig, i);
  }
  return prev;
}

function checkKey(opsIn: HistoryOp[], budget: number): { result: CheckResult["result"]; explored: number } {
  const ops = canonical(prune(opsIn).filter((o) => !(o.input.kind === "get" && o.output === undefined)));
  const n = ops.length;
  if (n === 0) return { result: "linearizable", explored: 0 };
  const before = sameUnknownBefore(ops);
  // Events sorted by time; at equal times returns come first (real-time order is strict).
  const events: Node[] = [];
  for (let i = 0; i < n; i++) {
    const o = ops[i]!;
    if (!(o.ret >= o.call)) throw new Error(`op returns before its call: ${JSON.stringify(o)}`);
    const call: Node = { isCall: true, id: i, time: o.call, match: undefined, prev: undefined, next: undefined };
    const ret: Node = { isCall: false, id: i, time: o.ret, match: undefined, prev: undefined, next: undefined };
    call.match = ret;
    events.push(call, ret);
  }
  events.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? a.id - b.id : a.isCall ? 1 : -1));
  const head: Node = { isCall: false, id: -1, time: -Infinity, match: undefined, prev: undefined, next: undefined };
  let prev = head;
  for (const e of events) {
    prev.next = e;
    e.prev = prev;
    prev = e;
  }

  const lift = (call: Node) => {
    call.prev!.next = call.next;
    if (call.next) call.next.prev = call.prev;
    const ret = call.match!;
    ret.prev!.next = ret.next;
    if (ret.next) ret.next.prev = ret.prev;
  };
  const unlift = (call: Node) => {
    const ret = call.match!;
    ret.prev!.next = ret;
    if (ret.next) ret.next.prev = ret;
    call.prev!.next = call;
    if (call.next) call.next.prev = call;
  };

  const words = Math.ceil(n / 32);
  const linearized = new Uint32Array(words);
  const cache = new Set<string>();
  const keyOf = (bits: Uint32Array, s: State) => `${bits.join(",")}|${s === null ? "\u0000" : s}`;
  const stack: { call: Node; state: State }[] = [];
  let state: State = null;
  let entry = head.next;
  let explored = 0;
  while (head.next !== undefined) {
    if (++explored > budget) return { result: "timeout", explored };
    const e = entry!;
    if (e.isCall) {
      const o = ops[e.id]!;
      const b = before[e.id]!;
      if (b >= 0 && !(linearized[b >>> 5]! & (1 << (b & 31)))) {
        entry = e.next;
        continue;
      }
      const [ok, next] = step(state, o.input, o.output);
      if (ok) {
        linearized[e.id >>> 5]! |= 1 << (e.id & 31);
        const k = keyOf(linearized, next);
        if (!cache.has(k)) {
          cache.add(k);
          stack.push({ call: e, state });
          state = next;
          lift(e);
          entry = head.next;
          continue;
        }
        linearized[e.id >>> 5]! &= ~(1 << (e.id & 31));
      }
      entry = e.next;
    } else {
      // A return whose call is not yet linearized: backtrack.
      const top = stack.pop();
      if (!top) return { result: "not-linearizable", explored };
      state = top.state;
      linearized[top.call.id >>> 5]! &= ~(1 << (top.call.id & 31));
      unlift(top.call);
      entry = top.call.next;
    }
  }
  return { result: "linearizable", explored };
}

export function checkLinearizable(history: HistoryOp[], budget = 5_000_000): CheckResult {
  const byKey = new Map<string, HistoryOp[]>();
  for (const o of history) {
    let l = byKey.get(o.input.key);
    if (!l) byKey.set(o.input.key, (l = []));
    l.push(o);
  }
  let explored = 0;
  for (const key of [...byKey.keys()].sort()) {
    const ops = byKey.get(key)!;
    const r = checkKey(ops, budget);
    explored += r.explored;
    if (r.result !== "linearizable") return { ok: false, result: r.result, key, ops, explored };
  }
  return { ok: true, result: "linearizable", explored };
}

export function formatHistory(ops: HistoryOp[]): string {
  const fmt = (t: number) => (t === Infinity ? "∞" : String(t));
  return [...ops]
    .sort((a, b) => a.call - b.call)
    .map((o) => {
      const i = o.input;
      const desc =
        i.kind === "put"
          ? `put(${i.key}, ${i.value})`
          : i.kind === "get"
            ? `get(${i.key})`
            : `cas(${i.key}, ${i.expected}, ${i.value})`;
      const out = o.output === undefined ? "?" : i.kind === "get" ? String(o.output.value) : i.kind === "cas" ? String(o.output.ok) : "ok";
      return `  c${o.client} [${fmt(o.call)}, ${fmt(o.ret)}] ${desc} -> ${out}`;
    })
    .join("\n");
}
