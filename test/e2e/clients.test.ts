// Issue 14, acceptance 4 and 5 (server part): the official Python client (PyPI `kubernetes`)
// and a client-go program (test/clients/) run their usual calls against a real `skiff server`:
// discovery, watch, informers (ADDED/MODIFIED/DELETED, resync), pagination with
// remainingItemCount, server-side apply, no-op re-applies that keep metadata.generation, patches
// on /scale and /status, streaming lists with bookmarks. Then the server's /metrics passes
// `promtool check metrics` and its request counters move by exactly the requests made.
// (@kubernetes/client-node's list and watch: test/e2e/client-node.test.ts.)
//
// The clients are built by scripts/setup-clients.sh; a missing one skips its test with the reason.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { REPO, startServer, type SkiffServer } from "../harness/server.ts";
import { clientTool, describeRun, run } from "../harness/clients.ts";
import { until } from "../harness/wait.ts";
import { join } from "node:path";

setDefaultTimeout(180_000);

const python = clientTool("python", import.meta.path);
const clientgo = clientTool("clientgo", import.meta.path);
const promtool = clientTool("promtool", import.meta.path);

/** The value of one sample line `name{labels} value` whose labels include all of `want`. */
export function sample(text: string, name: string, want: Record<string, string>): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const close = line.startsWith(`${name} `) ? name.length : line.lastIndexOf("}");
    const labels = Object.fromEntries([...line.slice(name.length + 1, close).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(want).every(([k, v]) => labels[k] === v)) sum += Number(line.slice(close + 1).trim());
  }
  return sum;
}

describe("official clients and metrics against skiff server", () => {
  let srv: SkiffServer;
  beforeAll(async () => {
    srv = await startServer({ name: "clients" });
  });
  afterAll(async () => {
    await srv?.stop();
  });

  const expectAllOk = (r: Awaited<ReturnType<typeof run>>) => {
    if (r.code !== 0 || !r.stdout.includes("ALL OK")) throw new Error(`${describeRun(r)}\n--- server log\n${srv.logTail(30)}`);
  };

  test.skipIf(!python)("the official Python client (kubernetes from PyPI)", async () => {
    const r = await run([python!, join(REPO, "test/clients/python/official_client.py"), srv.kubeconfig, "py-client"], { timeoutMs: 150_000 });
    expectAllOk(r);
    for (const step of ["discovery", "watch", "informer", "pagination", "server-side apply", "generation on re-apply", "scale subresource", "status subresource"])
      expect(r.stdout).toContain(`ok ${step}\n`);
  });

  test.skipIf(!clientgo)("a client-go program (typed, dynamic, informer, pager, SSA, watch list)", async () => {
    const r = await run([clientgo!, srv.kubeconfig, "go-client"], { timeoutMs: 150_000 });
    expectAllOk(r);
    for (const step of ["discovery", "informer", "pagination", "server-side apply", "scale and status subresources", "dynamic client", "watch list with bookmarks"])
      expect(r.stdout).toContain(`ok ${step}\n`);
  });

  test("/metrics: request counters move by the requests made; RBAC guards it", async () => {
    const scrape = async () => {
      const res = await srv.fetch("/metrics");
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toStartWith("text/plain; version=0.0.4");
      return res.text();
    };
    const list = { verb: "LIST", resource: "configmaps", scope: "namespace", code: "200", version: "v1" };
    const notFound = { verb: "GET", resource: "configmaps", scope: "resource", code: "404" };
    const before = await scrape();
    for (let i = 0; i < 5; i++) expect((await srv.fetch("/api/v1/namespaces/default/configmaps")).status).toBe(200);
    for (let i = 0; i < 2; i++) expect((await srv.fetch("/api/v1/namespaces/default/configmaps/nope")).status).toBe(404);
    const after = await scrape();
    expect(sample(after, "apiserver_request_total", list) - sample(before, "apiserver_request_total", list)).toBe(5);
    expect(sample(after, "apiserver_request_total", notFound) - sample(before, "apiserver_request_total", notFound)).toBe(2);
    expect(sample(after, "apiserver_request_duration_seconds_count", { verb: "LIST", resource: "configmaps" }) - sample(before, "apiserver_request_duration_seconds_count", { verb: "LIST", resource: "configmaps" })).toBe(5);
    expect(sample(after, "apiserver_storage_objects", { resource: "namespaces" })).toBeGreaterThanOrEqual(4);
    expect(sample(after, "skiff_raft_is_leader", {})).toBe(1);
    expect(sample(after, "skiff_raft_applied_index", {})).toBeGreaterThan(0);
    // The clients above made Deployments: the deployment controller's queue worked, and their
    // pods met a scheduler with no node to offer (this server runs no agent).
    expect(sample(after, "workqueue_adds_total", { name: "deployment" })).toBeGreaterThan(0);
    expect(sample(after, "workqueue_work_duration_seconds_count", { name: "replicaset" })).toBeGreaterThan(0);
    expect(sample(after, "scheduler_schedule_attempts_total", { result: "unschedulable" })).toBeGreaterThan(0);
    // An open watch shows in the watcher gauges until it ends.
    const ac = new AbortController();
    const w = await srv.fetch("/api/v1/namespaces/default/configmaps?watch=1", { signal: ac.signal });
    expect(w.status).toBe(200);
    const during = await scrape();
    expect(sample(during, "apiserver_registered_watchers", { kind: "ConfigMap" })).toBe(1);
    expect(sample(during, "apiserver_longrunning_requests", { verb: "WATCH", resource: "configmaps" })).toBe(1);
    ac.abort();
    await w.body?.cancel().catch(() => {});
    await until("the ended watch to leave apiserver_registered_watchers", async () => sample(await scrape(), "apiserver_registered_watchers", { kind: "ConfigMap" }) === 0, 5_000, 100);
    // Anonymous scrapes are refused; /metrics is a nonResourceURL granted by RBAC.
    const anon = await fetch(`${srv.url}/metrics`, { tls: { rejectUnauthorized: false } } as any);
    expect(anon.status).toBe(401);
  });

  test.skipIf(!promtool)("promtool check metrics passes on the server's /metrics", async () => {
    const text = await (await srv.fetch("/metrics")).text();
    const p = Bun.spawn([promtool!, "check", "metrics"], { stdin: new Blob([text]), stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    if (code !== 0) throw new Error(`promtool check metrics: exit ${code}\n${out}${err}`);
  });
});
