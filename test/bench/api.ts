// API throughput: ConfigMap creates and gets over HTTP at 1, 16 and 64 concurrent clients,
// each for a fixed duration, against a fresh `skiff server` child process (the load
// generator runs in this process, never in the server's). Prints ops/s, p50 and p99.
// Env: BENCH_SECONDS (default 5), BENCH_CLIENTS (default "1,16,64"), SKIFF_E2E_BIN (dist/skiff).
// `--datastore embedded,etcd,postgres` (or the flag repeated) runs the creates against each
// store in turn on the same run — etcd and PostgreSQL started here, on loopback, with their
// default durability (fsync on) — and prints creates/s and p99 side by side.
// BENCH_AUDIT=Metadata|Request|RequestResponse: the server writes an audit log of every request
// at that level (--audit-policy-file, --audit-log-path), to compare against a run without.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { recordUpdate } from "../../server/registry/patch/index";
import { startDatastore, type Datastore, type DatastoreKind } from "../harness/datastore";
import { startServer, type SkiffServer } from "../harness/server";

interface Row {
  op: string;
  clients: number;
  ops: number;
  seconds: number;
  errors: number;
  lat: number[];
  firstError?: string;
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function phase(op: string, clients: number, seconds: number, once: (client: number, i: number) => Promise<string | undefined>): Promise<Row> {
  const row: Row = { op, clients, ops: 0, seconds, errors: 0, lat: [] };
  const end = performance.now() + seconds * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      let i = 0;
      while (performance.now() < end) {
        const s = performance.now();
        let err: string | undefined;
        try {
          err = await once(c, i++);
        } catch (e) {
          err = (e as Error).message;
        }
        const d = performance.now() - s;
        if (err) {
          row.errors++;
          row.firstError ??= err;
        } else {
          row.ops++;
          row.lat.push(d);
        }
      }
    }),
  );
  row.seconds = (performance.now() - t0) / 1000;
  row.lat.sort((a, b) => a - b);
  return row;
}

function table(rows: Row[]): string {
  const head = ["op", "clients", "ops/s", "p50 ms", "p99 ms", "errors"];
  const body = rows.map((r) => [r.op, String(r.clients), (r.ops / r.seconds).toFixed(0), pct(r.lat, 50).toFixed(2), pct(r.lat, 99).toFixed(2), String(r.errors)]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join("  ");
  return [line(head), line(w.map((n) => "-".repeat(n))), ...body.map(line)].join("\n");
}

function datastoresFrom(args: string[]): DatastoreKind[] | undefined {
  const out: DatastoreKind[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const v = a === "--datastore" ? args[++i] : a.startsWith("--datastore=") ? a.slice(12) : undefined;
    if (v === undefined) continue;
    for (const k of v.split(",")) {
      if (k !== "embedded" && k !== "etcd" && k !== "postgres") throw new Error(`--datastore ${k}: use embedded, etcd or postgres`);
      out.push(k);
    }
  }
  return out.length ? out : undefined;
}

export async function main(args: string[]): Promise<void> {
  const stores = datastoresFrom(args);
  if (!stores) return single();
  const seconds = Number(process.env.BENCH_SECONDS ?? 5);
  const clientCounts = (process.env.BENCH_CLIENTS ?? "1,16,64").split(",").map(Number);
  const json = { "content-type": "application/json", accept: "application/json" };
  const results: { store: string; rows: Row[] }[] = [];
  for (const store of stores) {
    let ds: Datastore | undefined;
    let srv: SkiffServer | undefined;
    try {
      if (store !== "embedded") ds = await startDatastore(store, { durable: true });
      srv = await startServer({ name: `bench-${store}`, datastore: ds ? { endpoint: await ds.endpoint() } : "embedded" });
      const ns = await srv.fetch("/api/v1/namespaces", { method: "POST", headers: json, body: JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: "bench" } }) });
      if (ns.status !== 201) throw new Error(`create namespace bench: HTTP ${ns.status} ${await ns.text()}`);
      const rows: Row[] = [];
      for (const clients of clientCounts) {
        rows.push(
          await phase("create", clients, seconds, async (c, i) => {
            const r = await srv!.fetch("/api/v1/namespaces/bench/configmaps", {
              method: "POST",
              headers: json,
              body: JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: `cm-${clients}-${c}-${i}`, labels: { bench: "api" } }, data: { key: "value", n: String(i) } }),
            });
            const text = await r.text();
            return r.status === 201 ? undefined : `HTTP ${r.status} ${text.slice(0, 200)}`;
          }),
        );
      }
      results.push({ store, rows });
    } finally {
      await srv?.stop();
      await ds?.stop();
    }
  }
  console.log(`
skiff API creates per store (${seconds} s per row; etcd and PostgreSQL started here with fsync on, on loopback)\n`);
  const head = ["store", "clients", "creates/s", "p50 ms", "p99 ms", "errors"];
  const body = results.flatMap(({ store, rows }) => rows.map((r) => [store, String(r.clients), (r.ops / r.seconds).toFixed(0), pct(r.lat, 50).toFixed(2), pct(r.lat, 99).toFixed(2), String(r.errors)]));
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join("  ");
  console.log([line(head), line(w.map((n) => "-".repeat(n))), ...body.map(line)].join("\n"));
  for (const { store, rows } of results) for (const r of rows) if (r.firstError) console.log(`${store} create@${r.clients}: ${r.errors} errors, first: ${r.firstError}`);
}

async function single(): Promise<void> {
  const seconds = Number(process.env.BENCH_SECONDS ?? 5);
  const clientCounts = (process.env.BENCH_CLIENTS ?? "1,16,64").split(",").map(Number);
  const audit = process.env.BENCH_AUDIT;
  const auditDir = audit ? mkdtempSync(join(tmpdir(), "skiff-bench-audit-")) : undefined;
  if (auditDir) writeFileSync(join(auditDir, "policy.yaml"), `apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: ${audit}\n`);
  const auditArgs = auditDir ? ["--audit-policy-file", join(auditDir, "policy.yaml"), "--audit-log-path", join(auditDir, "audit.log")] : [];
  const srv: SkiffServer = await startServer({ name: "bench", datastore: "embedded", extraArgs: auditArgs });
  try {
    const json = { "content-type": "application/json", accept: "application/json" };
    const ns = await srv.fetch("/api/v1/namespaces", { method: "POST", headers: json, body: JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: "bench" } }) });
    if (ns.status !== 201) throw new Error(`create namespace bench: HTTP ${ns.status} ${await ns.text()}`);
    const created: string[] = [];
    const rows: Row[] = [];
    for (const clients of clientCounts) {
      rows.push(
        await phase("create", clients, seconds, async (c, i) => {
          const name = `cm-${clients}-${c}-${i}`;
          const r = await srv.fetch("/api/v1/namespaces/bench/configmaps", {
            method: "POST",
            headers: json,
            body: JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, labels: { bench: "api" } }, data: { key: "value", n: String(i) } }),
          });
          const text = await r.text();
          if (r.status !== 201) return `HTTP ${r.status} ${text.slice(0, 200)}`;
          created.push(name);
          return undefined;
        }),
      );
    }
    if (created.length === 0) throw new Error(`no creates succeeded: ${rows.map((r) => r.firstError).join("; ")}`);
    for (const clients of clientCounts) {
      rows.push(
        await phase("get", clients, seconds, async () => {
          const name = created[Math.floor(Math.random() * created.length)];
          const r = await srv.fetch(`/api/v1/namespaces/bench/configmaps/${name}`, { headers: json });
          const text = await r.text();
          return r.status === 200 ? undefined : `HTTP ${r.status} ${text.slice(0, 200)}`;
        }),
      );
    }
    console.log(`\nskiff API benchmark (${seconds} s per row, server ${srv.url}, ${created.length} configmaps created${audit ? `, audit log at level ${audit}` : ""})\n`);
    console.log(table(rows));
    const c64 = rows.find((r) => r.op === "create" && r.clients === 64);
    if (c64) {
      const rate = c64.ops / c64.seconds;
      const p99 = pct(c64.lat, 99);
      console.log(`\ntarget (issue 2): >= 3000 creates/s at 64 clients with p99 <= 50 ms: ${rate.toFixed(0)}/s, p99 ${p99.toFixed(1)} ms -> ${rate >= 3000 && p99 <= 50 ? "met" : "NOT met"}`);
    }
    for (const r of rows) if (r.firstError) console.log(`${r.op}@${r.clients}: ${r.errors} errors, first: ${r.firstError}`);
    const per = recordUpdateMicros();
    console.log(`\nmanagedFields on a ConfigMap update (recordUpdate, in process): ${per.toFixed(1)} µs per write; target < 100 µs -> ${per < 100 ? "met" : "NOT met"}`);
  } finally {
    await srv.stop();
    if (auditDir) {
      const log = readFileSync(join(auditDir, "audit.log"), "utf8");
      console.log(`\naudit log: ${log.split("\n").filter(Boolean).length} events, ${(log.length / 1024 / 1024).toFixed(1)} MB`);
      rmSync(auditDir, { recursive: true, force: true });
    }
  }
}

/** The field-ownership bookkeeping every write to an applied object pays, in µs per update. */
function recordUpdateMicros(): number {
  const data: Record<string, string> = {};
  for (let i = 0; i < 10; i++) data["key" + i] = "value" + i;
  const v1: any = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "cm", namespace: "default", labels: { app: "x" } }, data };
  v1.metadata.managedFields = recordUpdate(undefined, v1, { manager: "alice", apiVersion: "v1", now: "2024-01-01T00:00:00Z", root: undefined });
  const v2: any = structuredClone(v1);
  v2.data.key3 = "new";
  const opts = { manager: "bob", apiVersion: "v1", now: "2024-01-01T00:01:00Z", root: undefined };
  for (let i = 0; i < 2000; i++) recordUpdate(v1, v2, opts);
  const n = 20_000;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) recordUpdate(v1, v2, opts);
  return ((performance.now() - t0) / n) * 1000;
}
