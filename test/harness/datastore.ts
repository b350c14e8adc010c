// Real external datastores for tests: an etcd or a PostgreSQL of their own (Debian's etcd-server
// and postgresql), on loopback, on free ports, in temp dirs, stopped and removed afterwards.
// SKIFF_TEST_DATASTORE=etcd|postgres makes the server and controller harnesses run every
// existing suite on that datastore (default: the embedded store).
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { alive } from "../../cli/host/processes.ts";

export type DatastoreKind = "embedded" | "etcd" | "postgres";

export interface Datastore {
  kind: "etcd" | "postgres";
  /** A --datastore-endpoint for a new, empty database (PostgreSQL: a fresh database each call; etcd: the one keyspace). */
  endpoint(): Promise<string>;
  /** kill -9 the datastore process (its data stays). */
  kill(): Promise<void>;
  /** Start it again on the same port and data. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** The datastore the suites run on: SKIFF_TEST_DATASTORE (embedded, etcd, postgres). */
export function testDatastoreKind(): DatastoreKind {
  const v = (process.env.SKIFF_TEST_DATASTORE ?? "embedded").toLowerCase();
  if (v === "embedded" || v === "etcd" || v === "postgres") return v;
  throw new Error(`SKIFF_TEST_DATASTORE=${v}: use embedded, etcd or postgres`);
}

function freePort(): number {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const p = s.port;
  s.stop(true);
  return p;
}

async function until(what: string, ok: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await ok().catch(() => false)) return;
    await Bun.sleep(100);
  }
  throw new Error(`${what}: not ready after ${ms} ms`);
}

export interface DatastoreOptions {
  /** fsync as in production (benchmarks); tests leave it off (the disk is shared with other tests). */
  durable?: boolean;
}

export async function startEtcd(o: DatastoreOptions = {}): Promise<Datastore> {
  const dir = mkdtempSync(join(tmpdir(), "skiff-etcd-"));
  const client = freePort();
  const peer = freePort();
  let proc: Subprocess | undefined;
  const start = async () => {
    proc = Bun.spawn(
      [
        "etcd",
        "--name=test",
        `--data-dir=${join(dir, "data")}`,
        `--listen-client-urls=http://127.0.0.1:${client}`,
        `--advertise-client-urls=http://127.0.0.1:${client}`,
        `--listen-peer-urls=http://127.0.0.1:${peer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`,
        `--initial-cluster=test=http://127.0.0.1:${peer}`,
        "--log-level=error",
        // A test datastore: fsync off the path, as the embedded store's tests do (kill -9 of etcd
        // still loses nothing: its writes reach the OS before it answers).
        ...(o.durable ? [] : ["--unsafe-no-fsync"]),
      ],
      { stdout: Bun.file(join(dir, "etcd.log")), stderr: Bun.file(join(dir, "etcd.err")) },
    );
    await until("etcd", async () => (await fetch(`http://127.0.0.1:${client}/health`)).ok);
  };
  await start();
  killAtExit(() => proc, 9);
  return {
    kind: "etcd",
    endpoint: async () => `http://127.0.0.1:${client}`,
    async kill() {
      proc?.kill(9);
      await proc?.exited;
    },
    start,
    async stop() {
      proc?.kill(9);
      await proc?.exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function pgBin(name: string): string {
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) if (existsSync(join(root, v, "bin", name))) return join(root, v, "bin", name);
  return name;
}

/**
 * Removes the PostgreSQL dirs of test processes that are gone. The shared one of a store-suite
 * run is never stopped (its postmaster dies with the test process; exit hooks do not run at
 * the end of `bun test`), and each left ~280 MB behind.
 */
function sweepDeadPostgresDirs(): void {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith("skiff-pg-")) continue;
    const dir = join(tmpdir(), name);
    let owner: number;
    try {
      owner = Number(readFileSync(join(dir, "owner"), "utf8"));
    } catch {
      continue; // being made, or not ours to judge
    }
    if (!alive(owner)) rmSync(dir, { recursive: true, force: true });
  }
}

export async function startPostgres(o: DatastoreOptions = {}): Promise<Datastore> {
  sweepDeadPostgresDirs();
  const dir = mkdtempSync(join(tmpdir(), "skiff-pg-"));
  writeFileSync(join(dir, "owner"), String(process.pid));
  const data = join(dir, "data");
  const port = freePort();
  // PostgreSQL refuses to run as root: as the postgres user when we are root.
  const asPg = process.getuid?.() === 0 ? ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"] : []; // exec, no wrapper: the pid is the postmaster
  if (asPg.length) chownSync(dir, Number(Bun.spawnSync(["id", "-u", "postgres"]).stdout.toString().trim()), Number(Bun.spawnSync(["id", "-g", "postgres"]).stdout.toString().trim()));
  const init = Bun.spawnSync([...asPg, pgBin("initdb"), "-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"], { stdout: "pipe", stderr: "pipe" });
  if (init.exitCode !== 0) throw new Error(`initdb: ${init.stderr.toString()}`);
  let proc: Subprocess | undefined;
  const url = (db: string) => `postgres://postgres@127.0.0.1:${port}/${db}`;
  const start = async () => {
    // fsync off (a test on a shared disk), but each commit is written to the OS before it is
    // acknowledged (synchronous_commit stays on), so kill -9 of PostgreSQL loses nothing acknowledged.
    // --pdeathsig: the postmaster goes with this test process however it ends (the exit hook
    // below did not run at the end of `bun test`: each store-suite run left one PostgreSQL).
    const tied = ["setpriv", "--pdeathsig", "QUIT", ...asPg.slice(1)];
    proc = Bun.spawn([...tied, pgBin("postgres"), "-D", data, "-p", String(port), "-k", dir, "-c", "listen_addresses=127.0.0.1", ...(o.durable ? [] : ["-c", "fsync=off", "-c", "full_page_writes=off"]), "-c", "max_connections=200"], {
      stdout: Bun.file(join(dir, "pg.log")),
      stderr: Bun.file(join(dir, "pg.err")),
    });
    await until("postgres", async () => Bun.spawnSync([pgBin("pg_isready"), "-h", "127.0.0.1", "-p", String(port)]).exitCode === 0);
  };
  await start();
  killAtExit(() => proc, 3);
  let n = 0;
  return {
    kind: "postgres",
    async endpoint() {
      const db = `skiff_${process.pid}_${n++}`;
      const r = Bun.spawnSync(["psql", url("postgres"), "-q", "-c", `CREATE DATABASE ${db}`], { stdout: "pipe", stderr: "pipe" });
      if (r.exitCode !== 0) throw new Error(`create database: ${r.stderr.toString()}`);
      return url(db);
    },
    async kill() {
      // The postmaster and its backends (its children, by pid): a crash of the whole server.
      const kids = childrenOf(proc?.pid ?? 0);
      proc?.kill(9);
      for (const k of kids) {
        try {
          process.kill(k, 9);
        } catch {}
      }
      await proc?.exited;
      await until("postgres gone", async () => kids.every((k) => !existsSync(`/proc/${k}`)), 10_000);
    },
    start,
    async stop() {
      proc?.kill(3); // SIGQUIT: immediate shutdown
      await proc?.exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Pids whose parent is `pid` (from /proc). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) out.push(Number(d));
    } catch {}
  }
  return out;
}

/** Our datastore processes do not outlive the test process, whatever way it ends. */
function killAtExit(p: () => Subprocess | undefined, signal: number): void {
  process.on("exit", () => {
    try {
      p()?.kill(signal);
    } catch {}
  });
}

export function startDatastore(kind: "etcd" | "postgres", o: DatastoreOptions = {}): Promise<Datastore> {
  return kind === "etcd" ? startEtcd(o) : startPostgres(o);
}

let shared: Promise<Datastore> | undefined;

/**
 * One datastore per test process for SKIFF_TEST_DATASTORE (each server gets its own database on
 * PostgreSQL; on etcd each server gets its own etcd, since one keyspace is one cluster).
 */
export async function endpointForTest(kind: "etcd" | "postgres"): Promise<{ endpoint: string; stop(): Promise<void> }> {
  if (kind === "etcd") {
    const d = await startEtcd();
    return { endpoint: await d.endpoint(), stop: () => d.stop() };
  }
  shared ??= startPostgres();
  const d = await shared;
  return { endpoint: await d.endpoint(), stop: async () => {} };
}
