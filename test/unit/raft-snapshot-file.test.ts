// A follower writes the snapshot the leader sends to a file chunk by chunk (bounded memory),
// checking order and checksums, and installs it from that file; partial files of a transfer
// cut short are removed at the next start (issue 15).
import { afterEach, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bootstrapEntries } from "../../server/raft/core/config";
import { Raft } from "../../server/raft/core/raft";
import { chunkCrc } from "../../server/raft/core/snapshot-receiver";
import { message, type Message, type SnapshotMetadata } from "../../server/raft/core/types";
import { SegmentLogStorage } from "../../server/raft/storage/segment-log";
import { FileSnapshotReceiver, isReceivedSnapshot } from "../../server/raft/storage/snapshot-file";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const META: SnapshotMetadata = { index: 40, term: 3, confState: { voters: [1, 2], learners: [] } };
const CHUNK = 1000;

function follower() {
  const dir = mkdtempSync(join(tmpdir(), "skiff-snapfile-"));
  dirs.push(dir);
  const storage = new SegmentLogStorage(dir);
  storage.bootstrap(bootstrapEntries([1, 2]));
  const raft = new Raft({ id: 2, storage, rand: () => 0.5, snapshotReceiver: new FileSnapshotReceiver(dir) });
  return { dir, storage, raft };
}

const parts = (dir: string) => readdirSync(dir).filter((f) => f.endsWith(".part"));

/** Chunk `i` of `body` as the leader (1, term 3) sends it; `patch` spoils it. */
function chunk(body: Uint8Array, i: number, patch: Partial<Message> = {}): Message {
  const data = body.subarray(i * CHUNK, (i + 1) * CHUNK);
  return message({
    type: "snap",
    from: 1,
    to: 2,
    term: 3,
    snapshot: META,
    snapOffset: i * CHUNK,
    snapData: data,
    snapDone: (i + 1) * CHUNK >= body.length,
    snapCrc: chunkCrc(data),
    ...patch,
  });
}

/** The follower's answers so far (from a Ready without a snapshot; nothing to persist). */
function answers(raft: Raft): Message[] {
  const rd = raft.ready();
  if (!rd) return [];
  expect(rd.snapshot).toBeUndefined();
  raft.advance(rd);
  return rd.messages;
}

test("chunks go to a file as they arrive, in order and checked, and the snapshot is installed from it", () => {
  const { dir, storage, raft } = follower();
  const body = crypto.getRandomValues(new Uint8Array(CHUNK * 5 + 123));
  const n = Math.ceil(body.length / CHUNK);

  raft.step(chunk(body, 0));
  expect(answers(raft).at(-1)).toMatchObject({ type: "snapResp", snapOffset: CHUNK, reject: false });
  const [part] = parts(dir);
  expect(part).toBeDefined();
  expect(statSync(join(dir, part!)).size).toBe(CHUNK); // on disk, not buffered

  // A gap (chunk 2 before 1): refused, the follower says where it is; nothing written.
  raft.step(chunk(body, 2));
  expect(answers(raft).at(-1)).toMatchObject({ type: "snapResp", snapOffset: CHUNK, reject: true });
  // A damaged chunk (checksum mismatch): refused and not written.
  const bad = chunk(body, 1);
  bad.snapData = bad.snapData!.slice();
  bad.snapData[7]! ^= 0xff;
  raft.step(bad);
  expect(answers(raft).at(-1)).toMatchObject({ type: "snapResp", snapOffset: CHUNK, reject: true });
  expect(statSync(join(dir, part!)).size).toBe(CHUNK);
  // A duplicate of chunk 0: ignored (answered with the offset reached).
  raft.step(chunk(body, 0));
  expect(answers(raft).at(-1)).toMatchObject({ type: "snapResp", snapOffset: CHUNK });

  for (let i = 1; i < n; i++) {
    raft.step(chunk(body, i));
    if (i < n - 1) {
      answers(raft);
      expect(statSync(join(dir, part!)).size).toBe((i + 1) * CHUNK);
    }
  }
  const rd = raft.ready()!;
  expect(rd.snapshot).toBeDefined();
  expect(isReceivedSnapshot(rd.snapshot!)).toBe(true);
  // Installed by a rename: snap-<index>.db holds exactly the bytes sent; no partial file left.
  const file = storage.applySnapshot(rd.snapshot!);
  raft.advance(rd);
  expect(new Uint8Array(readFileSync(file))).toEqual(body);
  expect(parts(dir)).toEqual([]);
  expect(storage.snapshot().metadata.index).toBe(META.index);
  expect(raft.log.committed).toBe(META.index);
  storage.close();
});

test("a transfer that starts over, or a snapshot the follower already has, leaves no file behind", () => {
  const { dir, storage, raft } = follower();
  const body = crypto.getRandomValues(new Uint8Array(CHUNK * 3));
  raft.step(chunk(body, 0));
  answers(raft);
  expect(parts(dir).length).toBe(1);
  // The leader of a newer term starts again from offset 0: the old partial file goes.
  raft.step(chunk(body, 0, { term: 4 }));
  answers(raft);
  expect(parts(dir).length).toBe(1);
  raft.step(chunk(body, 1, { term: 4 }));
  answers(raft);
  raft.step(chunk(body, 2, { term: 4 }));
  const rd = raft.ready()!;
  storage.applySnapshot(rd.snapshot!);
  raft.advance(rd);
  // The same snapshot again (a duplicate transfer): already committed, nothing kept.
  raft.step(chunk(body, 0, { term: 4 }));
  expect(answers(raft).at(-1)).toMatchObject({ type: "appResp", index: META.index });
  expect(parts(dir)).toEqual([]);
  storage.close();
});

test("partial files of a transfer cut short by a crash are removed at the next start", () => {
  const dir = mkdtempSync(join(tmpdir(), "skiff-snapfile-"));
  dirs.push(dir);
  const partial = join(dir, "recv-0000000000000040-1.db.part");
  writeFileSync(partial, "half a snapshot");
  writeFileSync(join(dir, "snap-0000000000000030.db"), "a snapshot");
  new FileSnapshotReceiver(dir);
  expect(existsSync(partial)).toBe(false);
  expect(existsSync(join(dir, "snap-0000000000000030.db"))).toBe(true);
});
