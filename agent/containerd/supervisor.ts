// Starts and supervises the agent's own containerd (K3s style): generated config, own
// root/state/socket under <data-dir>/agent/containerd/, restart with back-off when it dies,
// clean stop on shutdown. Containers survive a containerd restart or an agent stop (their
// shims keep running), like with kubelet; `cleanup()` removes everything for tests/uninstall.

import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { runSync } from "../cmd.ts";
import { CriClient } from "../cri/client.ts";
import { PAUSE_IMAGE } from "../images/pause.ts";
import { agentPaths, containerdConfig, type AgentPaths } from "./config.ts";
import { preflight, type PreflightResult } from "./preflight.ts";
import { stateOnTmpfs } from "./state-tmpfs.ts";

export type SupervisorEvent =
  | { type: "starting"; attempt: number }
  | { type: "ready"; pid: number; ms: number }
  | { type: "exited"; pid: number; code: number | null; signal: string | null }
  | { type: "restarting"; inMs: number }
  | { type: "warning"; message: string };

export interface SupervisorOptions {
  dataDir: string;
  /** Default: the agent's own pause image. */
  sandboxImage?: string;
  logLevel?: "debug" | "info" | "warn" | "error";
  /** Restart containerd when it dies (default true). */
  restart?: boolean;
  /** How long start() waits for CRI to answer (default 30 s). */
  readyTimeoutMs?: number;
  onEvent?: (e: SupervisorEvent) => void;
  /** Path of the containerd binary (default: found in PATH). */
  containerdBin?: string;
}

export class PreflightError extends Error {
  override name = "PreflightError";
  constructor(readonly result: PreflightResult) {
    super(`containerd cannot run on this host: ${result.errors.join("; ")}`);
  }
}

const MAX_LOG_BYTES = 50 * 1024 * 1024;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  } catch {
    return [];
  }
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!pidAlive(pid)) return true;
    await Bun.sleep(20);
  }
  return !pidAlive(pid);
}

export class ContainerdSupervisor {
  readonly paths: AgentPaths;
  readonly sandboxImage: string;
  preflight: PreflightResult | null = null;
  private proc: ReturnType<typeof Bun.spawn> | null = null;
  private stopping = false;
  private restartTimer: ReturnType<typeof setTimeout> | null = null;
  private backoffMs = 500;
  private lastReady = 0;
  private attempt = 0;

  constructor(readonly opts: SupervisorOptions) {
    this.paths = agentPaths(opts.dataDir);
    this.sandboxImage = opts.sandboxImage ?? PAUSE_IMAGE;
  }

  get socket(): string {
    return this.paths.socket;
  }

  get pid(): number | null {
    return this.proc?.pid ?? null;
  }

  private emit(e: SupervisorEvent): void {
    this.opts.onEvent?.(e);
  }

  /** Runs the preflight checks, writes the config, starts containerd and waits for CRI. */
  async start(): Promise<void> {
    this.stopping = false;
    const pf = preflight({ dataDir: this.opts.dataDir });
    this.preflight = pf;
    if (!pf.ok) throw new PreflightError(pf);
    for (const w of pf.warnings) this.emit({ type: "warning", message: w });
    for (const d of [this.paths.containerdDir, this.paths.root, this.paths.state, this.paths.cniConfDir, this.paths.cniIpamDir, this.paths.imagesDir, this.paths.registryConfigDir]) {
      mkdirSync(d, { recursive: true, mode: 0o700 });
    }
    // task bundles hold each container's env (Secret values too): memory only, like /run/containerd
    if (process.getuid?.() === 0) stateOnTmpfs(this.paths.state, (message) => this.emit({ type: "warning", message }));
    writeFileSync(
      this.paths.config,
      containerdConfig({
        paths: this.paths,
        sandboxImage: this.sandboxImage,
        restrictOomScoreAdj: pf.restrictOomScoreAdj,
        snapshotter: pf.snapshotter,
        logLevel: this.opts.logLevel,
      }),
    );
    await this.killStale();
    await this.spawnAndWait();
  }

  /** A containerd left over by a previous agent that died holds the DB lock: stop it. */
  private async killStale(): Promise<void> {
    const pidFile = this.pidFile();
    if (!existsSync(pidFile)) return;
    const pid = Number(readFileSync(pidFile, "utf8").trim());
    if (pid > 0 && pidAlive(pid) && cmdline(pid).includes(this.paths.config)) {
      this.emit({ type: "warning", message: `stopping stale containerd (pid ${pid}) from a previous run` });
      process.kill(pid, "SIGTERM");
      if (!(await waitGone(pid, 10_000))) process.kill(pid, "SIGKILL");
      await waitGone(pid, 5_000);
    }
    rmSync(pidFile, { force: true });
  }

  private pidFile(): string {
    return this.paths.containerdDir + "/containerd.pid";
  }

  private openLog(): number {
    try {
      if (statSync(this.paths.log).size > MAX_LOG_BYTES) renameSync(this.paths.log, this.paths.log + ".1");
    } catch {}
    return openSync(this.paths.log, "a");
  }

  private async spawnAndWait(): Promise<void> {
    this.attempt++;
    this.emit({ type: "starting", attempt: this.attempt });
    const t0 = performance.now();
    const bin = this.opts.containerdBin ?? this.preflight?.binaries.containerd ?? "containerd";
    rmSync(this.paths.socket, { force: true });
    const logFd = this.openLog();
    const env = { ...process.env };
    // runc lives in /usr/sbin on Debian; make sure containerd can find it and the shims.
    env.PATH = [...new Set([...(env.PATH ?? "").split(":").filter(Boolean), "/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"])].join(":");
    const proc = Bun.spawn([bin, "--config", this.paths.config], {
      stdin: "ignore",
      stdout: logFd,
      stderr: logFd,
      env,
    });
    closeSync(logFd);
    this.proc = proc;
    writeFileSync(this.pidFile(), String(proc.pid));
    proc.exited.then((code) => this.onExit(proc, code));
    try {
      await this.waitReady(proc, this.opts.readyTimeoutMs ?? 30_000);
    } catch (e) {
      if (this.proc === proc && proc.exitCode === null) {
        proc.kill("SIGKILL");
        await proc.exited;
      }
      throw e;
    }
    this.lastReady = Date.now();
    this.emit({ type: "ready", pid: proc.pid, ms: Math.round(performance.now() - t0) });
  }

  private async waitReady(proc: ReturnType<typeof Bun.spawn>, timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    let lastErr = "socket not created";
    while (Date.now() < end) {
      if (proc.exitCode !== null || proc.signalCode) {
        throw new Error(`containerd exited during start (code ${proc.exitCode ?? proc.signalCode}); last log lines:\n${this.tailLog()}`);
      }
      if (existsSync(this.paths.socket)) {
        const c = new CriClient(this.paths.socket, { timeoutMs: 2000 });
        try {
          await c.version({ timeoutMs: 2000 });
          return;
        } catch (e) {
          lastErr = String(e);
        } finally {
          c.close();
        }
      }
      await Bun.sleep(25);
    }
    throw new Error(`containerd did not answer CRI within ${timeoutMs} ms (${lastErr}); last log lines:\n${this.tailLog()}`);
  }

  /** Last lines of containerd's log, for error messages. */
  tailLog(lines = 15): string {
    try {
      return readFileSync(this.paths.log, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
    } catch {
      return "(no log)";
    }
  }

  private onExit(proc: ReturnType<typeof Bun.spawn>, code: number): void {
    if (this.proc !== proc) return;
    this.proc = null;
    this.emit({ type: "exited", pid: proc.pid, code, signal: proc.signalCode ? String(proc.signalCode) : null });
    if (this.stopping || this.opts.restart === false) return;
    if (Date.now() - this.lastReady > 60_000) this.backoffMs = 500;
    const inMs = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, 30_000);
    this.emit({ type: "restarting", inMs });
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (this.stopping) return;
      this.spawnAndWait().catch((e) => {
        this.emit({ type: "warning", message: `containerd restart failed: ${e instanceof Error ? e.message : e}` });
        // onExit of the failed process schedules the next try if it died; if it hung, retry here.
        if (!this.proc && !this.stopping && !this.restartTimer) this.onExitRetry();
      });
    }, inMs);
  }

  private onExitRetry(): void {
    const inMs = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, 30_000);
    this.emit({ type: "restarting", inMs });
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (!this.stopping) this.spawnAndWait().catch(() => this.onExitRetry());
    }, inMs);
  }

  /** Stops containerd (SIGTERM, then SIGKILL after timeoutMs). Containers keep running. */
  async stop(timeoutMs = 10_000): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    const proc = this.proc;
    if (!proc) return;
    proc.kill("SIGTERM");
    const done = await Promise.race([proc.exited.then(() => true), Bun.sleep(timeoutMs).then(() => false)]);
    if (!done) {
      proc.kill("SIGKILL");
      await proc.exited;
    }
    this.proc = null;
    rmSync(this.pidFile(), { force: true });
  }

  /**
   * Removes every pod sandbox through CRI, stops containerd, kills shims still bound to this
   * containerd and unmounts anything left under its root/state dirs. For tests and uninstall.
   */
  async cleanup(): Promise<void> {
    if (this.proc) {
      const cri = new CriClient(this.paths.socket, { timeoutMs: 30_000 });
      try {
        for (const s of await cri.listPodSandbox()) {
          await cri.stopPodSandbox(s.id).catch(() => {});
          await cri.removePodSandbox(s.id).catch(() => {});
        }
      } catch {}
      cri.close();
    }
    await this.stop();
    await killShims(this.paths.socket);
    unmountUnder(this.paths.containerdDir);
  }
}

/** Kills containerd shims started by the containerd listening on `socket`. */
export async function killShims(socket: string): Promise<number[]> {
  const killed: number[] = [];
  for (const d of readdirSync("/proc")) {
    const pid = Number(d);
    if (!pid) continue;
    const args = cmdline(pid);
    if (!args[0]?.includes("containerd-shim")) continue;
    const i = args.indexOf("-address");
    if (i >= 0 && args[i + 1] === socket) {
      try {
        process.kill(pid, "SIGKILL");
        killed.push(pid);
      } catch {}
    }
  }
  for (const pid of killed) await waitGone(pid, 5_000);
  return killed;
}

/** Mount points at or below `dir`, deepest first. */
export function mountsUnder(dir: string): string[] {
  const prefix = dir.endsWith("/") ? dir : dir + "/";
  const out: string[] = [];
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const mp = line.split(" ")[4];
    if (!mp) continue;
    const path = mp.replace(/\\(\d{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
    if (path === dir || path.startsWith(prefix)) out.push(path);
  }
  return out.sort((a, b) => b.length - a.length);
}

export function unmountUnder(dir: string): string[] {
  const mps = mountsUnder(dir);
  for (const mp of mps) runSync(["umount", "-l", mp]);
  return mps;
}

export { agentPaths };
