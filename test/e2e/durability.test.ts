// Acceptance 3 (issue 2): kill -9 the server while 1,000 creates are in flight; after a
// restart on the same data dir every acknowledged (201) create is there, revisions never go
// backwards, and a watch resumes from the last resourceVersion its client saw.
import { afterAll, beforeAll, expect, test, setDefaultTimeout } from "bun:test";
import { startServer, type SkiffServer } from "../harness/server";
import { openWatch } from "../harness/watch";

// bunfig's [test] timeout is not applied to every test; these start real processes.
setDefaultTimeout(120_000);

const NS = "dur";
const TOTAL = 1000;
const CONCURRENCY = 50;
const KILL_AFTER_ACKS = 300;

let srv: SkiffServer;

beforeAll(async () => {
  srv = await startServer({ name: "durability" });
}, { timeout: 90_000 });

afterAll(async () => {
  await srv?.stop();
});

const json = { "content-type": "application/json", accept: "application/json" };

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, Bun.sleep(ms).then(() => Promise.reject(new Error(`${what} (within ${ms} ms)`)))]);
}

test("acknowledged creates survive kill -9; watch resumes from the last seen revision", async () => {
  const ns = await srv.fetch("/api/v1/namespaces", {
    method: "POST",
    headers: json,
    body: JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: NS } }),
  });
  expect(ns.status, `POST namespace ${NS}: ${await ns.clone().text()}`).toBe(201);

  const list0 = await srv.fetch(`/api/v1/namespaces/${NS}/configmaps`, { headers: json });
  expect(list0.status, "initial LIST").toBe(200);
  const rv0 = ((await list0.json()) as any).metadata.resourceVersion as string;

  // A watcher that follows along until the kill; it remembers the last revision it saw.
  // (Its status is checked once events flow: some servers hold headers back until then.)
  const w1 = openWatch(srv, `/api/v1/namespaces/${NS}/configmaps?watch=true&resourceVersion=${rv0}`);
  await Bun.sleep(200);

  const acked = new Map<string, string | undefined>(); // name -> resourceVersion from the 201 body
  const rejectedBeforeKill: string[] = [];
  let connErrors = 0;
  let maxAckedRv = 0;
  let killed = false;
  let next = 0;
  const killAt: { acks?: number; inFlight?: number } = {};
  let inFlight = 0;

  const worker = async () => {
    while (next < TOTAL) {
      const i = next++;
      const name = `cm-${String(i).padStart(4, "0")}`;
      const body = JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: NS }, data: { i: String(i), pad: "x".repeat(200) } });
      inFlight++;
      try {
        const r = await srv.fetch(`/api/v1/namespaces/${NS}/configmaps`, { method: "POST", headers: json, body });
        if (r.status === 201) {
          let rv: string | undefined;
          try {
            rv = ((await r.json()) as any)?.metadata?.resourceVersion;
          } catch {
            // The 201 arrived, the body was cut by the kill: still an acknowledgement.
          }
          acked.set(name, rv);
          if (rv) maxAckedRv = Math.max(maxAckedRv, Number(rv));
        } else if (!killed) {
          rejectedBeforeKill.push(`${name}: HTTP ${r.status} ${(await r.text()).slice(0, 200)}`);
        }
      } catch {
        connErrors++;
      } finally {
        inFlight--;
      }
      if (!killed && acked.size >= KILL_AFTER_ACKS) {
        killed = true;
        killAt.acks = acked.size;
        killAt.inFlight = inFlight;
        srv.proc.kill(9);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  await srv.proc.exited;
  expect(killed, `server was never killed: only ${acked.size} creates acknowledged (rejected: ${rejectedBeforeKill.slice(0, 5).join("; ")})`).toBe(true);
  expect(rejectedBeforeKill, "creates rejected before the kill (all should be 201)").toEqual([]);
  expect(killAt.inFlight!, `kill -9 should land while creates are in flight (in flight at kill: ${killAt.inFlight})`).toBeGreaterThan(0);

  const st1 = await withTimeout(w1.status, 5000, "watch started before the creates never answered");
  expect(st1, `watch from list RV ${rv0}: ${await w1.errorBody}`).toBe(200);
  await withTimeout(w1.ended, 10_000, "watch stream did not end after kill -9"); // the stream dies with the server
  const seenBeforeKill = w1.events.filter((e) => e.type === "ADDED").map((e) => e.object?.metadata?.name as string);
  const lastSeenRv = w1.events.reduce((m, e) => Math.max(m, Number(e.object?.metadata?.resourceVersion ?? 0)), Number(rv0));
  expect(w1.garbage, "watch stream lines that are not JSON").toEqual([]);

  await srv.restart();

  // Every acknowledged create is there, with the revision it was acknowledged at.
  const names = [...acked.keys()];
  const missing: string[] = [];
  const wrongRv: string[] = [];
  let idx = 0;
  await Promise.all(
    Array.from({ length: 20 }, async () => {
      while (idx < names.length) {
        const name = names[idx++]!;
        const r = await srv.fetch(`/api/v1/namespaces/${NS}/configmaps/${name}`, { headers: json });
        if (r.status !== 200) {
          missing.push(`${name} (HTTP ${r.status})`);
          continue;
        }
        const o = (await r.json()) as any;
        const want = acked.get(name);
        if (want && o.metadata?.resourceVersion !== want) wrongRv.push(`${name}: rv ${o.metadata?.resourceVersion}, acknowledged ${want}`);
      }
    }),
  );
  if (missing.length)
    throw new Error(
      `${missing.length} of ${acked.size} acknowledged (201) creates are missing after kill -9 + restart: ${missing.slice(0, 20).join(", ")}${missing.length > 20 ? " ..." : ""}`,
    );
  expect(wrongRv, "objects whose resourceVersion changed across the restart").toEqual([]);

  const list1 = (await (await srv.fetch(`/api/v1/namespaces/${NS}/configmaps`, { headers: json })).json()) as any;
  expect(Number(list1.metadata.resourceVersion), "list resourceVersion after restart must not go backwards").toBeGreaterThanOrEqual(maxAckedRv);
  expect(list1.items.length, "configmaps listed after restart").toBeGreaterThanOrEqual(acked.size);

  // The watcher reconnects from the last revision it saw: no 410, and it gets everything after.
  const w2 = openWatch(srv, `/api/v1/namespaces/${NS}/configmaps?watch=true&resourceVersion=${lastSeenRv}`);
  await Bun.sleep(200);
  try {
    const after = await srv.fetch(`/api/v1/namespaces/${NS}/configmaps`, {
      method: "POST",
      headers: json,
      body: JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "after-restart" }, data: { ok: "yes" } }),
    });
    expect(after.status, `create after restart: ${await after.clone().text()}`).toBe(201);
    const st = await withTimeout(w2.status, 10_000, `watch from ${lastSeenRv} after restart never answered`);
    expect(st, `watch from last seen resourceVersion ${lastSeenRv} after restart: HTTP ${st} ${await w2.errorBody}`).toBe(200);
    const afterRv = Number(((await after.json()) as any).metadata.resourceVersion);
    expect(afterRv, "a write after restart gets a revision above every acknowledged one").toBeGreaterThan(maxAckedRv);

    await w2.waitFor((e) => e.type === "ERROR" || (e.type === "ADDED" && e.object?.metadata?.name === "after-restart"), 10_000);
    const errs = w2.events.filter((e) => e.type === "ERROR");
    expect(errs.map((e) => JSON.stringify(e.object)), `resumed watch from ${lastSeenRv} must not get ERROR (e.g. 410 Expired)`).toEqual([]);
    const resumedRvs = w2.events.map((e) => Number(e.object?.metadata?.resourceVersion));
    expect(resumedRvs.every((rv) => rv > lastSeenRv), `resumed watch delivers only revisions after ${lastSeenRv}: ${resumedRvs.slice(0, 10)}`).toBe(true);
    // Nothing acknowledged is lost between the two watches.
    const seen = new Set([...seenBeforeKill, ...w2.events.filter((e) => e.type === "ADDED").map((e) => e.object?.metadata?.name)]);
    const unseen = names.filter((n) => !seen.has(n));
    expect(unseen.slice(0, 20), `acknowledged creates never delivered by the watch before the kill or after resuming (${unseen.length})`).toEqual([]);
  } finally {
    w2.close();
  }
  console.log(
    `durability: ${acked.size} acked, killed after ${killAt.acks} acks with ${killAt.inFlight} in flight, ${connErrors} connection errors, ` +
      `watch saw ${seenBeforeKill.length} before kill, resumed from ${lastSeenRv}`,
  );
}, 120_000);
