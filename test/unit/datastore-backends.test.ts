// The external datastores under the store seam, without a server: a real etcd and a real
// PostgreSQL (started here on loopback, free ports, temp dirs; no agent, so no lock). The
// same store semantics as the embedded store: preconditions, conflicts, revisions from the
// datastore, several servers' mirrors agreeing, and 410 (Expired) once history is compacted.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDatastore, type Datastore } from "../harness/datastore";
import { ExternalMirror } from "../../server/store/external/mirror";
import { datastoreKind, etcdHosts, openBackend } from "../../server/store/external/open";
import { plan } from "../../server/store/external/backend";
import { ExpiredError } from "../../server/store/store";

test("endpoints: K3s' spellings pick the engine; anything else is a clear error", () => {
  expect(datastoreKind("postgres://u:p@h:5432/db")).toBe("postgres");
  expect(datastoreKind("postgresql://h/db")).toBe("postgres");
  expect(datastoreKind("https://10.0.0.1:2379,10.0.0.2:2379")).toBe("etcd");
  expect(datastoreKind("etcd://h:2379")).toBe("etcd");
  expect(() => datastoreKind("mysql://h/db")).toThrow(/use http\(s\):\/\/host:2379/);
  expect(etcdHosts("https://a:2379,b,https://c:2380")).toEqual(["https://a:2379", "https://b:2379", "https://c:2380"]);
  expect(etcdHosts("etcd://a:2379")).toEqual(["http://a:2379"]);
});

test("plan: the embedded state machine's rules, decided before the compare-and-swap", () => {
  const cur = { rev: 5, obj: { metadata: { name: "a", uid: "u1" } } };
  expect(plan({ op: "create", res: "configmaps", ns: "d", name: "a", obj: {} }, cur)).toEqual({ kind: "error", error: { code: "AlreadyExists" } });
  expect(plan({ op: "update", res: "configmaps", ns: "d", name: "a", obj: {}, pre: { rev: 4 } }, cur)).toEqual({ kind: "error", error: { code: "Conflict", currentRev: 5 } });
  expect(plan({ op: "delete", res: "configmaps", ns: "d", name: "a", pre: { uid: "u2" } }, cur)).toEqual({ kind: "error", error: { code: "UidMismatch" } });
  expect(plan({ op: "delete", res: "configmaps", ns: "d", name: "b" }, undefined)).toEqual({ kind: "error", error: { code: "NotFound" } });
  // The last finalizer removed from an object being deleted: the update deletes it.
  const last = { metadata: { name: "a", deletionTimestamp: "2026-01-01T00:00:00Z", finalizers: [] } };
  expect(plan({ op: "update", res: "configmaps", ns: "d", name: "a", obj: last }, cur).kind).toBe("delete");
});

for (const kind of ["etcd", "postgres"] as const) {
  describe(kind, () => {
    let ds: Datastore;
    let endpoint: string;
    const dirs: string[] = [];
    const mirrors: ExternalMirror[] = [];
    const open = async () => {
      const dir = mkdtempSync(join(tmpdir(), "skiff-ds-unit-"));
      dirs.push(dir);
      const m = await ExternalMirror.open(await openBackend({ endpoint }), { dir, log: () => {} });
      mirrors.push(m);
      return m;
    };
    beforeAll(async () => {
      ds = await startDatastore(kind);
      endpoint = await ds.endpoint();
    }, 60_000);
    afterAll(async () => {
      for (const m of mirrors) await m.close().catch(() => {});
      await ds?.stop();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    });

    test("preconditions, conflicts and revisions come from the datastore; two servers agree", async () => {
      const a = await open();
      const b = await open();
      const cm = (name: string, v: string) => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: "d", uid: `uid-${name}` }, data: { v } });
      const c1 = await a.store.propose({ op: "create", res: "configmaps", ns: "d", name: "x", obj: cm("x", "1") });
      expect(c1.ok).toBe(true);
      const rev1 = c1.ok ? c1.rev : 0;
      expect(a.store.get("configmaps", "d", "x")?.obj.metadata.resourceVersion).toBe(String(rev1));
      expect(await a.store.propose({ op: "create", res: "configmaps", ns: "d", name: "x", obj: cm("x", "2") })).toEqual({ ok: false, error: { code: "AlreadyExists" } });
      // b has not necessarily seen x yet: its write still compares against the datastore.
      const u = await b.store.propose({ op: "update", res: "configmaps", ns: "d", name: "x", obj: cm("x", "2") });
      expect(u.ok && u.rev > rev1).toBe(true);
      expect(await a.store.propose({ op: "update", res: "configmaps", ns: "d", name: "x", obj: cm("x", "3"), pre: { rev: rev1 } })).toEqual({ ok: false, error: { code: "Conflict", currentRev: u.ok ? u.rev : -1 } });
      expect(await a.store.propose({ op: "delete", res: "configmaps", ns: "d", name: "x", pre: { uid: "other" } })).toEqual({ ok: false, error: { code: "UidMismatch" } });
      await a.store.readBarrier();
      await b.store.readBarrier();
      expect(a.store.get("configmaps", "d", "x")).toEqual(b.store.get("configmaps", "d", "x"));
      expect(a.store.get("configmaps", "d", "x")?.obj.data.v).toBe("2");
      const d = await a.store.propose({ op: "delete", res: "configmaps", ns: "d", name: "x" });
      expect(d.ok && d.deleted).toBe(true);
      expect(await b.store.propose({ op: "delete", res: "configmaps", ns: "d", name: "x" })).toEqual({ ok: false, error: { code: "NotFound" } });
      // Lists carry the revision they were read at, the same on both once caught up.
      await b.store.readBarrier();
      expect(a.store.list("configmaps", "d").rev).toBe(b.store.list("configmaps", "d").rev);
    });

    test("a watch that cannot resume after compaction ends, and resuming it is Expired (410)", async () => {
      const a = await open();
      const from = a.store.rev;
      for (let i = 0; i < 5; i++) await a.store.propose({ op: "create", res: "configmaps", ns: "c", name: `c${i}`, obj: { metadata: { name: `c${i}`, namespace: "c" } } });
      const got: number[] = [];
      let closed = false;
      a.store.watch({ res: "configmaps", ns: "c", match: () => true, send: (_t, _o, rev) => got.push(rev), close: () => (closed = true) }, from);
      expect(got.length).toBe(5);
      // Everything up to now compacted: the mirror's stream is lost (simulated: the datastore
      // moved past it), it reloads, and ends its watches instead of leaving a gap.
      await a.compact(a.store.rev);
      await (a as any).resync("test: compacted");
      expect(closed).toBe(true);
      expect(() => a.store.watch({ res: "configmaps", ns: "c", match: () => true, send: () => {} }, from)).toThrow(ExpiredError);
      expect(a.store.list("configmaps", "c").items.length).toBe(5);
    });
  });
}
