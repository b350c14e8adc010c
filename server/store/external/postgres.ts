// The PostgreSQL backend, in the kine design: one table, one row per revision (a bigserial id is
// the revision; a delete is a tombstone row), the latest row of a key is its state. Writers
// take one transaction-scoped advisory lock, so ids become visible in id order and a follower
// reading `id > last` never skips a row that commits later. Followers wake on LISTEN/NOTIFY and
// poll every second as a fallback (a lost notification costs latency, never an event).
// Compaction deletes superseded rows in the background without the writers' lock.
// Client: the `postgres` package (pooling, reconnects, LISTEN).
import postgres from "postgres";
import type { ApplyResult, Command } from "../commands";
import { committed, decode, encode, plan, StoreUnavailable, withTimeout, type Backend, type Current, type Guess, type Plan, type RawEvent, type Snapshot } from "./backend";

const CALL_MS = 5000;
const WRITE_LOCK = 0x736b6966; // "skif": the advisory lock every writer holds until it commits
const SCHEMA_LOCK = 0x736b6967;
const CHANNEL = "skiff_log";
const POLL_MS = 1000;

export interface PostgresOptions {
  url: string;
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
}

type Sql = postgres.Sql<Record<string, never>>;
type Row = { id: string; res: string; ns: string; name: string; created: boolean; deleted: boolean; value: string };

class Rollback extends Error {}

export class PostgresBackend implements Backend {
  readonly kind = "postgres";
  private sql: Sql;
  private kicks = new Set<() => void>();
  /** The running follower: where it is, and how to hand it rows read by a writer. */
  private follower: { last(): number; deliver(rows: Row[]): void } | undefined;
  private ready: Promise<void> | undefined;

  constructor(o: PostgresOptions) {
    const tls = o.tls && (o.tls.ca || o.tls.cert) ? { ca: o.tls.ca?.toString(), cert: o.tls.cert?.toString(), key: o.tls.key?.toString() } : undefined;
    this.sql = postgres(o.url, {
      max: 8,
      connect_timeout: 3,
      idle_timeout: 60,
      // While PostgreSQL is down a write waiting for a connection is given up unsent (the
      // client gets 503 and the write does not happen later), before withTimeout's backstop.
      queue_timeout: 3,
      query_timeout: 4,
      onnotice: () => {},
      ...(tls ? { ssl: tls } : {}),
    }) as unknown as Sql;
  }

  /** Tables on first use (several servers may start at once: under an advisory lock). */
  private schema(): Promise<void> {
    this.ready ??= withTimeout(
      this.sql.begin(async (tx) => {
        await tx`SELECT pg_advisory_xact_lock(${SCHEMA_LOCK})`;
        await tx`CREATE TABLE IF NOT EXISTS skiff_log (
          id bigserial PRIMARY KEY,
          res text NOT NULL, ns text NOT NULL, name text NOT NULL,
          created boolean NOT NULL,
          deleted boolean NOT NULL,
          value text NOT NULL)`;
        await tx`CREATE INDEX IF NOT EXISTS skiff_log_key ON skiff_log (res, ns, name, id)`;
        await tx`CREATE TABLE IF NOT EXISTS skiff_meta (k text PRIMARY KEY, v text NOT NULL)`;
      }),
      CALL_MS * 2,
      "postgres schema",
    ).then(
      () => {},
      (e) => {
        this.ready = undefined;
        throw e;
      },
    );
    return this.ready;
  }

  async snapshot(): Promise<Snapshot> {
    await this.schema();
    return withTimeout(
      this.sql.begin("isolation level repeatable read read only", async (tx) => {
        const [{ rev }] = await tx<{ rev: string }[]>`SELECT coalesce(max(id), 0) AS rev FROM skiff_log`;
        const rows = await tx<Row[]>`SELECT DISTINCT ON (res, ns, name) id, res, ns, name, deleted, value FROM skiff_log ORDER BY res, ns, name, id DESC`;
        const live = rows.filter((r) => !r.deleted).map((r) => ({ rev: Number(r.id), res: r.res, ns: r.ns, name: r.name, value: r.value }));
        live.sort((a, b) => a.rev - b.rev);
        return { rev: Number(rev), rows: live };
      }) as Promise<Snapshot>,
      CALL_MS * 6,
      "postgres snapshot",
    );
  }

  async history(fromRev: number, toRev: number): Promise<RawEvent[] | undefined> {
    if (toRev <= fromRev) return [];
    return withTimeout(
      this.sql.begin("isolation level repeatable read read only", async (tx) => {
        const [c] = await tx<{ v: string }[]>`SELECT v FROM skiff_meta WHERE k = 'compacted'`;
        if (c && Number(c.v) > fromRev) return undefined;
        const rows = await tx<Row[]>`SELECT id, res, ns, name, created, deleted, value FROM skiff_log WHERE id > ${fromRev} AND id <= ${toRev} ORDER BY id`;
        return rows.map((r): RawEvent => ({ rev: Number(r.id), type: r.deleted ? "delete" : "put", res: r.res, ns: r.ns, name: r.name, value: r.value, created: r.created }));
      }) as Promise<RawEvent[] | undefined>,
      CALL_MS * 6,
      "postgres history",
    );
  }

  follow(fromRev: number, h: { events(evs: RawEvent[]): void; lost(why: string): void }): () => void {
    let last = fromRev;
    let stopped = false;
    let running = false;
    let again = false;
    const toEvents = (rows: Row[]): RawEvent[] =>
      rows.map((r) => (r.deleted ? { rev: Number(r.id), type: "delete", res: r.res, ns: r.ns, name: r.name } : { rev: Number(r.id), type: "put", res: r.res, ns: r.ns, name: r.name, value: r.value }));
    const follower = {
      last: () => last,
      deliver: (rows: Row[]) => {
        if (stopped || !rows.length) return;
        last = Math.max(last, Number(rows[rows.length - 1]!.id));
        h.events(toEvents(rows));
      },
    };
    this.follower = follower;
    const poll = async (): Promise<void> => {
      if (stopped) return;
      if (running) {
        again = true;
        return;
      }
      running = true;
      try {
        do {
          again = false;
          // One statement, one snapshot: the rows and the compaction point they were read with. (No
          // rows means nothing new: compaction always keeps the newest row.)
          const rows = await withTimeout(
            this.sql<(Row & { compacted: string | null })[]>`SELECT id, res, ns, name, deleted, value, (SELECT v FROM skiff_meta WHERE k = 'compacted') AS compacted FROM skiff_log WHERE id > ${last} ORDER BY id LIMIT 1000`,
            CALL_MS,
            "postgres poll",
          );
          if (stopped) return;
          const c = rows[0]?.compacted;
          if (c && Number(c) > last) return void ((stopped = true), h.lost(`revision ${last} is compacted (${c})`));
          if (rows.length) {
            last = Math.max(last, Number(rows[rows.length - 1]!.id));
            h.events(toEvents(rows));
            if (rows.length === 1000) again = true;
          }
        } while (again && !stopped);
      } catch {
        // The datastore is down: the timer tries again (recovery needs no restart).
      } finally {
        running = false;
      }
    };
    const kick = () => void poll();
    this.kicks.add(kick);
    const timer = setInterval(kick, POLL_MS);
    let unlisten: (() => Promise<void>) | undefined;
    // postgres.js re-LISTENs after reconnecting and then calls onlisten: poll for what was missed.
    this.sql.listen(CHANNEL, kick, kick).then(
      (l) => (stopped ? void l.unlisten().catch(() => {}) : (unlisten = l.unlisten)),
      () => {}, // no LISTEN while down: polling covers it
    );
    kick();
    return () => {
      stopped = true;
      clearInterval(timer);
      this.kicks.delete(kick);
      if (this.follower === follower) this.follower = undefined;
      void unlisten?.().catch(() => {});
    };
  }

  kick(): void {
    for (const k of this.kicks) k();
  }

  /**
   * One transaction per batch (group commit), under the writers' lock. First every command is
   * planned from this server's mirror and sent at once (pipelined: one round trip for the whole
   * batch) as an insert that only happens if the key is still at the revision planned from; the
   * few whose guess was stale (or that failed on it) are then decided from the datastore's own
   * rows, one by one, in the same transaction.
   */
  async commit(cmds: Command[], guess: Guess): Promise<ApplyResult[]> {
    await this.schema();
    const results: (ApplyResult | undefined)[] = new Array(cmds.length);
    let catchUp: { f: NonNullable<PostgresBackend["follower"]>; rows: Row[] } | undefined;
    await withTimeout(
      this.sql.begin(async (tx) => {
        const t = tx as unknown as Sql;
        const sent: Promise<void>[] = [t`SELECT pg_advisory_xact_lock(${WRITE_LOCK})`.then(() => {})];
        cmds.forEach((cmd, i) => {
          if (cmd.op === "txn") return;
          const p = plan(cmd, guess(cmd.res, cmd.ns, cmd.name));
          if (p.kind === "error") return; // confirmed below from the datastore
          sent.push(this.insertIf(t, cmd, p).then((r) => void (results[i] = r)));
        });
        await Promise.all(sent);
        for (let i = 0; i < cmds.length; i++) results[i] ??= await this.applyOne(t, cmds[i]!);
        if (!results.some((r) => r?.ok)) return;
        // Still holding the lock, every row up to ours is committed and visible: read what this
        // server's follower has not seen yet, so that it need not poll for its own writes.
        const f = this.follower;
        const [, rows] = await Promise.all([
          t`SELECT pg_notify(${CHANNEL}, '')`,
          f ? t<Row[]>`SELECT id, res, ns, name, deleted, value FROM skiff_log WHERE id > ${f.last()} ORDER BY id LIMIT 1000` : Promise.resolve(undefined),
        ]);
        catchUp = f && rows ? { f, rows: rows as Row[] } : undefined;
      }),
      CALL_MS,
      "postgres write",
    );
    if (catchUp) catchUp.f.deliver(catchUp.rows);
    if (!catchUp || catchUp.rows.length === 1000) this.kick();
    return results as ApplyResult[];
  }

  /**
   * Insert the planned row if the key's latest live revision is still `p.expectRev` (0: no live
   * row). (ORDER BY l.id, qualified: a CASE whose ELSE is `id` is itself named "id" in its output.)
   */
  private async insertIf(tx: Sql, cmd: Exclude<Command, { op: "txn" }>, p: Extract<Plan, { kind: "put" | "delete" }>): Promise<ApplyResult | undefined> {
    const created = p.kind === "put" && p.expectRev === 0;
    const value = encode(p.kind === "put" ? p.obj : p.last);
    const rows = await tx<{ id: string }[]>`INSERT INTO skiff_log (res, ns, name, created, deleted, value)
      SELECT ${cmd.res}, ${cmd.ns}, ${cmd.name}, ${created}, ${p.kind === "delete"}, ${value}
      WHERE coalesce((SELECT CASE WHEN l.deleted THEN 0 ELSE l.id END FROM skiff_log l WHERE l.res = ${cmd.res} AND l.ns = ${cmd.ns} AND l.name = ${cmd.name} ORDER BY l.id DESC LIMIT 1), 0) = ${p.expectRev}
      RETURNING id`;
    return rows[0] ? committed(p, Number(rows[0].id)) : undefined;
  }

  private async current(tx: Sql, res: string, ns: string, name: string): Promise<Current | undefined> {
    const [row] = await tx<Row[]>`SELECT id, deleted, value FROM skiff_log WHERE res = ${res} AND ns = ${ns} AND name = ${name} ORDER BY id DESC LIMIT 1`;
    return row && !row.deleted ? { rev: Number(row.id), obj: decode(row.value, Number(row.id)) } : undefined;
  }

  private async applyOne(tx: Sql, cmd: Command): Promise<ApplyResult> {
    if (cmd.op === "txn") {
      let out: ApplyResult = { ok: true, rev: 0, obj: undefined };
      try {
        await (tx as any).savepoint(async (sp: Sql) => {
          for (let i = 0; i < cmd.cmds.length; i++) {
            const r = await this.applyOne(sp, cmd.cmds[i]!);
            if (!r.ok) {
              out = { ...r, index: i };
              throw new Rollback();
            }
            out = r;
          }
        });
      } catch (e) {
        if (!(e instanceof Rollback)) throw e;
      }
      return out;
    }
    const p = plan(cmd, await this.current(tx, cmd.res, cmd.ns, cmd.name));
    if (p.kind === "error") return { ok: false, error: p.error };
    const value = encode(p.kind === "put" ? p.obj : p.last);
    const created = p.kind === "put" && p.expectRev === 0;
    const [row] = await tx<{ id: string }[]>`INSERT INTO skiff_log (res, ns, name, created, deleted, value) VALUES (${cmd.res}, ${cmd.ns}, ${cmd.name}, ${created}, ${p.kind === "delete"}, ${value}) RETURNING id`;
    return committed(p, Number(row!.id));
  }

  async currentRev(): Promise<number> {
    await this.schema();
    const [r] = await withTimeout(this.sql<{ rev: string }[]>`SELECT coalesce(max(id), 0) AS rev FROM skiff_log`, CALL_MS, "postgres revision");
    return Number(r!.rev);
  }

  /**
   * Delete the rows no revision after `rev` needs: versions superseded at or before it and
   * tombstones at or before it. The newest row always stays, so max(id) — the current
   * revision — never goes back.
   */
  async compact(rev: number): Promise<void> {
    await this.schema();
    await withTimeout(
      this.sql.begin(async (tx) => {
        await tx`DELETE FROM skiff_log l WHERE l.id <= ${rev} AND l.id < (SELECT max(id) FROM skiff_log)
          AND (l.deleted OR EXISTS (SELECT 1 FROM skiff_log n WHERE n.res = l.res AND n.ns = l.ns AND n.name = l.name AND n.id > l.id AND n.id <= ${rev}))`;
        await tx`INSERT INTO skiff_meta (k, v) VALUES ('compacted', ${String(rev)})
          ON CONFLICT (k) DO UPDATE SET v = GREATEST(skiff_meta.v::bigint, EXCLUDED.v::bigint)::text`;
      }),
      CALL_MS * 6,
      "postgres compact",
    );
  }

  async compactedRev(): Promise<number> {
    const [c] = await withTimeout(this.sql<{ v: string }[]>`SELECT v FROM skiff_meta WHERE k = 'compacted'`, CALL_MS, "postgres");
    return c ? Number(c.v) : 0;
  }

  async bootstrap(create: string): Promise<string> {
    await this.schema();
    await withTimeout(this.sql`INSERT INTO skiff_meta (k, v) VALUES ('bootstrap', ${create}) ON CONFLICT (k) DO NOTHING`, CALL_MS, "postgres bootstrap");
    const [r] = await withTimeout(this.sql<{ v: string }[]>`SELECT v FROM skiff_meta WHERE k = 'bootstrap'`, CALL_MS, "postgres bootstrap");
    if (!r) throw new StoreUnavailable("bootstrap data vanished");
    return r.v;
  }

  async close(): Promise<void> {
    for (const k of [...this.kicks]) this.kicks.delete(k);
    await this.sql.end({ timeout: 2 });
  }
}
