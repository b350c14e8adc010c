// A follower restarts while the leader still owes its previous process an answer (a write
// forwarded on the peer stream, a ReadIndex request): the leader, stalled, reads them late and
// answers the server by id after the restart. The new process must not take those answers
// for its own requests — with ids counted from 1 in every process it did, acknowledging a
// write with another write's result (simulator seed 1109781736, issue 15).
import { afterEach, expect, test } from "bun:test";
import { message, type Message } from "../../server/raft/core/types";
import { RaftNode } from "../../server/raft/node/node";
import type { Proposal } from "../../server/raft/transport/codec";
import { KvApp, type KvCmd } from "../sim/kv-app";
import type { KvOutput } from "../sim/linearizability";
import { MemoryLogStorage } from "../sim/memory-log";

type Node = RaftNode<KvCmd, KvOutput, Uint8Array>;
const LEADER = 2;
const TERM = 2;
const running: Node[] = [];
afterEach(async () => {
  for (const n of running.splice(0)) await n.stop();
});

/** One process of server 1 (a voter of 1, 2, 3) over the storage that survives it. */
function processOf(storage: MemoryLogStorage) {
  const props: Proposal[] = [];
  const sent: Message[] = [];
  const app = new KvApp(1);
  app.hooks = { later: (fn, ms) => void setTimeout(fn, ms), commitDelay: 0, checkpointDue: () => undefined, onApply() {}, onConf() {}, onCommand() {} };
  storage.disk = { fsync: (complete, resolve) => void setTimeout(() => complete() && resolve(), 0), checkpointDue: () => false, installing() {} };
  const node: Node = new RaftNode({
    id: 1,
    storage,
    app,
    transport: {
      send: (ms) => void sent.push(...ms),
      propose: (_to, p) => (props.push(p), true),
      proposalResult() {},
      flushOutbox() {},
      forward: () => Promise.reject(new Error("not used")),
    },
    timing: { tickMs: 10, proposalTimeoutMs: 400, leaderWaitMs: 200, retryMs: 5, readYourWritesMs: 50, leaderChangeGraceMs: 20 },
    electionTick: 1000, // stays a follower of server 2
    log: () => {},
  });
  node.start();
  running.push(node);
  // Server 2 leads term 2.
  node.step([message({ type: "heartbeat", from: LEADER, to: 1, term: TERM, commit: 1 })]);
  return { node, app, props, sent };
}

/** Server 2 appends `cmds` at `index` (term 2) and commits it. */
function append(p: ReturnType<typeof processOf>, index: number, cmds: KvCmd[]): void {
  const prevTerm = index - 1 === 1 ? 1 : TERM;
  p.node.step([
    message({ type: "app", from: LEADER, to: 1, term: TERM, index: index - 1, logTerm: prevTerm, commit: index, entries: [{ index, term: TERM, type: "normal", data: p.app.encode(cmds) }] }),
  ]);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Wait (on a loaded machine, as long as it takes) until `cond` holds. */
async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}
function settled<T>(p: Promise<T>): { state: "pending" | "ok" | "failed"; value?: T } {
  const s: { state: "pending" | "ok" | "failed"; value?: T } = { state: "pending" };
  p.then(
    (v) => Object.assign(s, { state: "ok", value: v }),
    (e) => Object.assign(s, { state: "failed", error: e }),
  );
  return s;
}

test("a write answered to the server's previous process is not taken for a write of the new one", async () => {
  const storage = new MemoryLogStorage([1, 2, 3]);
  const a = processOf(storage);
  const oldWrite = settled(a.node.propose({ id: "old", k: "cas", key: "x", v: "a", e: null }));
  await until(() => a.props.length === 1, "the write forwarded on the stream to server 2");
  await a.node.stop(); // the process dies before the answer
  running.splice(running.indexOf(a.node), 1);
  await until(() => oldWrite.state === "failed", "the old write to fail");

  const b = processOf(storage);
  const newWrite = settled(b.node.propose({ id: "new", k: "put", key: "x", v: "b" }));
  await until(() => b.props.length === 1, "the new write forwarded");
  // The stalled leader now reads the old process's write, proposes it at 2 and answers by id.
  b.node.onProposalResults(LEADER, [{ id: a.props[0]!.id, index: 2, term: TERM, error: "", code: 0 }]);
  append(b, 2, [{ id: "old", k: "cas", key: "x", v: "a", e: null }]);
  await until(() => b.app.applied === 2, "entry 2 applied");
  await sleep(20);
  // The new write is not in the log: it must not be acknowledged (with the old write's result).
  expect(newWrite.state).toBe("pending");

  // Its own answer and entry do settle it.
  b.node.onProposalResults(LEADER, [{ id: b.props[0]!.id, index: 3, term: TERM, error: "", code: 0 }]);
  append(b, 3, [{ id: "new", k: "put", key: "x", v: "b" }]);
  await until(() => newWrite.state !== "pending", "the new write to settle");
  expect(newWrite.state).toBe("ok");
  expect(b.app.kv.get("x")).toBe("b");
});

test("a ReadIndex answer meant for the server's previous process does not serve a read of the new one", async () => {
  const storage = new MemoryLogStorage([1, 2, 3]);
  const a = processOf(storage);
  settled(a.node.readBarrier());
  await until(() => a.sent.some((m) => m.type === "readIndex"), "the old ReadIndex request");
  const oldReq = a.sent.find((m) => m.type === "readIndex");
  await a.node.stop();
  running.splice(running.indexOf(a.node), 1);

  // Meanwhile the leader commits a write at 2 (and its client is told); this server has not
  // heard of it yet when a read is called on it.
  const b = processOf(storage);
  const read = settled(b.node.readBarrier());
  await until(() => b.sent.some((m) => m.type === "readIndex"), "the new ReadIndex request");
  const newReq = b.sent.find((m) => m.type === "readIndex");
  // The stalled leader confirms the old request at the commit index it had then (1): served
  // now, the read would miss the write at 2 (a stale read).
  b.node.step([message({ type: "readIndexResp", from: LEADER, to: 1, term: TERM, index: 1, context: oldReq!.context })]);
  await sleep(50);
  expect(read).toEqual({ state: "pending" });
  // Its own answer (index 2) serves it once 2 is applied here.
  b.node.step([message({ type: "readIndexResp", from: LEADER, to: 1, term: TERM, index: 2, context: newReq!.context })]);
  await sleep(20);
  expect(read).toEqual({ state: "pending" });
  append(b, 2, [{ id: "w", k: "put", key: "x", v: "new" }]);
  await until(() => read.state !== "pending", "the read to be served");
  expect(read.state).toBe("ok");
  expect(b.app.kv.get("x")).toBe("new");
});
