// Start a cluster of real skiff server processes on loopback ports for the Raft e2e test and
// benchmark.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, openSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";

export const REPO = resolve(import.meta.dir, "../..");
export const BUN = join(REPO, "node_modules/.bin/bun");

export async function freePort(): Promise<number> {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const p = s.port;
  s.stop(true);
  return p;
}

export class ServerProc {
  proc: Subprocess | undefined;
  token = "";
  joinToken = "";
  /** More flags for the next start (e.g. --cluster-reset). */
  extraArgs: string[] = [];
  constructor(
    readonly name: string,
    readonly dataDir: string,
    readonly port: number,
    readonly raftPort: number,
    readonly logFile: string,
    private readonly join: () => { server: string; token: string } | undefined,
    private readonly env: Record<string, string>,
    /** The address the server binds and advertises (a loopback one unless the test gives others). */
    readonly host = "127.0.0.1",
  ) {}

  get url(): string {
    return `https://${this.host}:${this.port}`;
  }

  async start(): Promise<void> {
    const j = this.join();
    // SKIFF_BENCH_BUN_ARGS="--cpu-prof --cpu-prof-dir=/tmp/p": extra runtime flags (profiling a benchmark; stop with SIGTERM).
    const extra = process.env.SKIFF_BENCH_BUN_ARGS?.split(" ").filter(Boolean) ?? [];
    const base = [BUN, ...extra, join(REPO, "cli/main.ts"), "server", "--disable-agent", "--write-kubeconfig", join(this.dataDir, "kubeconfig.yaml")];
    const args = [...base, "--data-dir", this.dataDir, "--https-listen-port", String(this.port), "--raft-listen-port", String(this.raftPort), "--node-name", this.name];
    if (this.host !== "127.0.0.1") args.push("--bind-address", this.host);
    if (j) args.push("--server", j.server, "--token", j.token);
    args.push(...this.extraArgs);
    const fd = openSync(this.logFile, "a");
    this.proc = Bun.spawn(args, { stdout: fd, stderr: fd, env: { ...process.env, SKIFF_RAFT_FAULTS: "1", ...this.env } });
    closeSync(fd);
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (this.proc.exitCode !== null) throw new Error(`${this.name} exited (${this.proc.exitCode}); log:\n${readFileSync(this.logFile, "utf8").slice(-3000)}`);
      try {
        this.token = readFileSync(join(this.dataDir, "server/admin-token"), "utf8").trim();
        this.joinToken = readFileSync(join(this.dataDir, "server/token"), "utf8").trim();
        const r = await fetch(`${this.url}/api/v1/namespaces/default?resourceVersion=0`, { headers: this.headers(), tls: { rejectUnauthorized: false }, signal: AbortSignal.timeout(2000) } as RequestInit);
        if (r.status === 200) return;
      } catch {}
      if (Date.now() > deadline) throw new Error(`${this.name} not ready in 60 s; log:\n${readFileSync(this.logFile, "utf8").slice(-3000)}`);
      await Bun.sleep(100);
    }
  }

  headers(): Record<string, string> {
    return { authorization: `Bearer ${this.token}`, "content-type": "application/json", accept: "application/json" };
  }

  fetch(path: string, init: RequestInit & { timeoutMs?: number } = {}): Promise<Response> {
    return fetch(`${this.url}${path}`, {
      ...init,
      headers: { ...this.headers(), ...(init.headers as any) },
      tls: { rejectUnauthorized: false },
      signal: AbortSignal.timeout(init.timeoutMs ?? 10_000),
    } as RequestInit);
  }

  alive(): boolean {
    return !!this.proc && this.proc.exitCode === null && !this.proc.killed;
  }

  async kill(sig: NodeJS.Signals = "SIGKILL"): Promise<void> {
    if (!this.proc || this.proc.exitCode !== null) return;
    this.proc.kill(sig);
    if (sig === "SIGKILL" || sig === "SIGTERM") await this.proc.exited;
  }

  signal(sig: NodeJS.Signals): void {
    this.proc?.kill(sig);
  }
}

export interface Member {
  id: string;
  name: string;
  role: string;
  leader: boolean;
  applied?: number;
  lag?: number;
  reachable: boolean;
}

export class Cluster {
  readonly servers: ServerProc[] = [];
  readonly dir: string;
  constructor(
    readonly size: number,
    /** hosts: each server's bind address (default loopback), e.g. addresses on a test link. */
    readonly opts: { env?: Record<string, string>; label?: string; hosts?: string[] } = {},
  ) {
    this.dir = mkdtempSync(join(tmpdir(), `skiff-raft-${opts.label ?? "e2e"}-`));
  }

  async start(): Promise<void> {
    for (let i = 0; i < this.size; i++) {
      const name = `s${i + 1}`;
      const dataDir = join(this.dir, name);
      mkdirSync(dataDir, { recursive: true });
      const first = this.servers[0];
      const s = new ServerProc(name, dataDir, await freePort(), await freePort(), join(this.dir, `${name}.log`), () => (first && i > 0 ? { server: first.url, token: first.joinToken } : undefined), this.opts.env ?? {}, this.opts.hosts?.[i]);
      this.servers.push(s);
      await s.start();
    }
    await this.waitVoters(this.size, 60_000);
  }

  byName(name: string): ServerProc {
    return this.servers.find((s) => s.name === name)!;
  }

  async members(via?: ServerProc): Promise<Member[] | undefined> {
    for (const s of via ? [via] : this.servers.filter((x) => x.alive())) {
      try {
        const r = await s.fetch("/v1-skiff/raft/members", { timeoutMs: 4000 });
        if (r.ok) return ((await r.json()) as any).members;
      } catch {}
    }
    return undefined;
  }

  async waitVoters(n: number, ms: number): Promise<Member[]> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = await this.members();
      if (m && m.filter((x) => x.role === "voter").length === n && m.some((x) => x.leader)) return m;
      if (Date.now() > deadline) throw new Error(`cluster did not reach ${n} voters: ${JSON.stringify(m)}`);
      await Bun.sleep(200);
    }
  }

  async leader(ms = 15_000): Promise<ServerProc> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = await this.members();
      const l = m?.find((x) => x.leader);
      if (l) {
        const s = this.byName(l.name);
        if (s?.alive()) return s;
      }
      if (Date.now() > deadline) throw new Error("no leader");
      await Bun.sleep(100);
    }
  }

  async stop(): Promise<void> {
    for (const s of this.servers) {
      s.signal("SIGCONT");
      await s.kill("SIGKILL");
    }
  }

  cleanup(): void {
    if (process.env.KEEP_RAFT_DIRS !== "1") rmSync(this.dir, { recursive: true, force: true });
  }
}
