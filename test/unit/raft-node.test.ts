// The node driver with the real parts of `skiff server` (raft.db, state.db, the store as its
// application) as a cluster of one, in process: writes go through the log and the apply
// transaction, snapshots are taken, and a restart recovers — also with state.db lost.
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { storeApplication } from "../../server/raft/cluster/store-app";
import { bootstrapEntries } from "../../server/raft/core/config";
import { RaftNode } from "../../server/raft/node/node";
import { SegmentLogStorage } from "../../server/raft/storage/segment-log";
import { AppliedState } from "../../server/store/applied-state";
import { Store } from "../../server/store/store";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function open(dir: string) {
  const storage = new SegmentLogStorage(join(dir, "raft"));
  if (storage.isEmpty()) storage.bootstrap(bootstrapEntries([1]));
  const state = new AppliedState({ dataDir: join(dir, "db") });
  const logs: string[] = [];
  const node = new RaftNode({
    id: 1,
    storage,
    app: storeApplication(state, join(dir, "raft")),
    transport: { send: () => {}, forward: () => Promise.reject(new Error("no peers")) },
    snapshotEntries: 5,
    keepEntries: 1,
    log: (m) => logs.push(m),
  });
  node.start();
  const store = new Store({ state, proposer: { propose: (c) => node.propose(c) }, readBarrier: () => node.readBarrier() });
  return {
    storage,
    node,
    store,
    logs,
    async close() {
      await node.stop();
      storage.close();
      state.close();
    },
  };
}

const cm = (name: string) => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: "ns" }, data: { v: name } });

test("a cluster of one: writes through raft.db into state.db, snapshots, and a restart recovers even without state.db", async () => {
  const dir = mkdtempSync(join(tmpdir(), "skiff-raft-node-"));
  dirs.push(dir);
  let s = open(dir);
  for (let i = 0; i < 12; i++) {
    const r = await s.store.propose({ op: "create", res: "configmaps", ns: "ns", name: `c${i}`, obj: cm(`c${i}`) });
    expect(r.ok).toBe(true);
  }
  await s.store.readBarrier();
  expect(s.store.list("configmaps", "ns").items.length).toBe(12);
  // One entry per write (each awaited), so the log passed snapshotEntries: compacted behind a
  // snapshot (copied on a worker thread, recorded between Readies: wait for the second one).
  for (let i = 0; i < 200 && s.storage.snapshot().metadata.index <= 5; i++) await Bun.sleep(10);
  const snapAt = s.storage.snapshot().metadata.index;
  expect(snapAt).toBeGreaterThan(5);
  expect(s.storage.firstIndex()).toBeGreaterThan(1);
  const applied = s.node.applied;
  await s.close();

  // Restart: the state and the applied index come back.
  s = open(dir);
  expect(s.node.applied).toBe(applied);
  expect(s.store.list("configmaps", "ns").items.map((o) => o.metadata.name).sort()).toEqual(Array.from({ length: 12 }, (_, i) => `c${i}`).sort());
  const r = await s.store.propose({ op: "create", res: "configmaps", ns: "ns", name: "after", obj: cm("after") });
  expect(r.ok).toBe(true);
  await s.close();

  // state.db lost (e.g. a power loss before its checkpoint): restored from the snapshot, the log replays the rest.
  for (const f of ["state.db", "state.db-wal", "state.db-shm"]) rmSync(join(dir, "db", f), { force: true });
  s = open(dir);
  expect(s.logs.some((l) => /behind the snapshot/.test(l))).toBe(true);
  await s.store.readBarrier();
  expect(s.store.get("configmaps", "ns", "after")?.obj.data.v).toBe("after");
  expect(s.store.list("configmaps", "ns").items.length).toBe(13);
  await s.close();
});
