// The hand-written Batch codec must speak exactly the protobuf of schemas/proto/raft.proto:
// checked both ways against protobufjs on messages of every shape.
import { describe, expect, test } from "bun:test";
import protobuf from "protobufjs";
import protoText from "../../schemas/proto/raft.proto" with { type: "text" };
import type { Message } from "../../server/raft/core/types";
import { message } from "../../server/raft/core/types";
import { decodeBatch, encodeBatch, TYPES } from "../../server/raft/transport/codec";

const PBatch = protobuf.parse(protoText, { keepCase: false }).root.lookupType("skiff.raft.v1.Batch");
const big = 2 ** 48 + 12345; // node ids are 48-bit
const te = new TextEncoder();

function samples(): Message[] {
  const out: Message[] = [];
  for (const type of TYPES) out.push(message({ type, to: big, from: 7, term: 3 }));
  out.push(
    message({
      type: "app",
      from: big,
      to: 2 ** 52 + 1,
      term: 300,
      logTerm: 299,
      index: 2 ** 40,
      commit: 123456789,
      entries: [
        { term: 300, index: 2 ** 40 + 1, type: "normal", data: te.encode("x".repeat(300)) },
        { term: 300, index: 2 ** 40 + 2, type: "conf", data: new Uint8Array([1, 2, 3]) },
        { term: 300, index: 2 ** 40 + 3, type: "normal", data: new Uint8Array() },
      ],
    }),
    message({ type: "appResp", from: 1, to: 2, term: 5, index: 10, reject: true, rejectHint: 9, logTerm: 4 }),
    message({ type: "heartbeat", from: 1, to: 2, term: 5, commit: 8, context: "ctx/ü/1" }),
    message({
      type: "snap",
      from: 1,
      to: 2,
      term: 5,
      snapshot: { index: 1000, term: 4, confState: { voters: [big, 2, 3], learners: [2 ** 47] } },
      snapOffset: 1 << 20,
      snapData: new Uint8Array(5000).fill(7),
      snapDone: true,
      snapCrc: 0xfedcba98,
    }),
    message({ type: "snap", from: 1, to: 2, term: 5, snapshot: { index: 1, term: 1, confState: { voters: [1], learners: [] } }, snapData: new Uint8Array() }),
    message({ type: "transferLeader", from: 1, to: 2, term: 5, target: big }),
  );
  return out;
}

const norm = (m: Message) => ({ ...m, entries: m.entries.map((e) => ({ ...e, data: [...e.data] })), snapData: m.snapData ? [...m.snapData] : m.type === "snap" ? [] : undefined });

describe("raft transport codec", () => {
  test("round trip keeps every field", () => {
    const msgs = samples();
    const b = decodeBatch(encodeBatch({ from: big, cluster: "c-1", messages: msgs, proposals: [{ id: 1, data: te.encode("{}") }, { id: 2 ** 50, data: new Uint8Array() }], results: [{ id: 3, index: 2 ** 45, term: 9, error: "", code: 0 }, { id: 4, index: 0, term: 0, error: "notLeader", code: 503 }] }));
    expect(b.from).toBe(big);
    expect(b.cluster).toBe("c-1");
    expect(b.messages.map(norm)).toEqual(msgs.map(norm));
    expect(b.proposals.map((p) => ({ id: p.id, data: [...p.data] }))).toEqual([{ id: 1, data: [...te.encode("{}")] }, { id: 2 ** 50, data: [] }]);
    expect(b.results).toEqual([{ id: 3, index: 2 ** 45, term: 9, error: "", code: 0 }, { id: 4, index: 0, term: 0, error: "notLeader", code: 503 }]);
  });

  test("identical bytes to protobufjs, and reads what protobufjs writes", () => {
    const msgs = samples();
    const ours = encodeBatch({ from: big, cluster: "c-1", messages: msgs, proposals: [{ id: 5, data: te.encode("p") }], results: [{ id: 6, index: 7, term: 8, error: "e", code: 504 }] });
    const theirsObj = PBatch.toObject(PBatch.decode(ours), { longs: Number, bytes: Array, defaults: false }) as any;
    expect(theirsObj.from).toBe(big);
    expect(theirsObj.messages.length).toBe(msgs.length);
    expect(theirsObj.messages[TYPES.length].entries[1]).toEqual({ term: 300, index: 2 ** 40 + 2, conf: true, data: [1, 2, 3] });
    expect(theirsObj.results[0]).toEqual({ id: 6, index: 7, term: 8, error: "e", code: 504 });
    // protobufjs → ours
    const theirs = PBatch.encode(PBatch.fromObject(theirsObj)).finish();
    expect([...theirs]).toEqual([...ours]);
    const back = decodeBatch(theirs);
    expect(back.messages.map(norm)).toEqual(msgs.map(norm));
  });

  test("packed repeated ids and unknown fields are accepted; garbage is rejected", () => {
    // ConfState voters written packed (tag 10) by hand inside a snap message.
    const conf = [10, 2, 5, 6, 16, 7];
    const meta = [8, 10, 16, 2, 26, conf.length, ...conf];
    const msg = [8, 8, 106, meta.length, ...meta, 200, 1, 42]; // + unknown field 25 (varint)
    const batch = new Uint8Array([26, msg.length, ...msg]);
    const b = decodeBatch(batch);
    expect(b.messages[0]!.snapshot).toEqual({ index: 10, term: 2, confState: { voters: [5, 6], learners: [7] } });
    expect(() => decodeBatch(new Uint8Array([26, 50, 1]))).toThrow();
  });
});
