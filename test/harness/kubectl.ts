// Run the real kubectl (and other minors) against a test server. Each server gets its own
// HOME and discovery cache dir so runs never see a stale cache from another server.
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import type { SkiffServer } from "./server";

export const KUBECTL = "/usr/bin/kubectl";

/** Path of kubectl for a minor version (27..33); undefined = /usr/bin/kubectl (1.32). */
export function kubectlPath(minor?: number): string {
  if (minor === undefined) return KUBECTL;
  const p = `/usr/lib/google-cloud-sdk/bin/kubectl.1.${minor}`;
  if (!existsSync(p)) throw new Error(`kubectl 1.${minor} not installed at ${p}`);
  return p;
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
  /** The command line, for error messages. */
  cmd: string;
  timedOut: boolean;
}

export interface KubectlOptions {
  minor?: number;
  env?: Record<string, string>;
  stdin?: string;
  /** Kill kubectl after this long (default 30 s). */
  timeoutMs?: number;
}

export interface KubectlTarget {
  kubeconfig: string;
  runDir: string;
}

function baseEnv(t: KubectlTarget, extra?: Record<string, string>): Record<string, string> {
  const home = join(t.runDir, "home");
  mkdirSync(home, { recursive: true });
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  delete env.KUBECONFIG;
  delete env.KUBE_EDITOR;
  delete env.EDITOR;
  return { ...env, HOME: home, KUBECONFIG: t.kubeconfig, KUBECTL_KUBERC: "false", ...extra };
}

function argv(t: KubectlTarget, args: string[], minor?: number): string[] {
  return [kubectlPath(minor), "--kubeconfig", t.kubeconfig, "--cache-dir", join(t.runDir, "kube-cache"), ...args];
}

function quote(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

export async function kubectl(t: KubectlTarget | SkiffServer, args: string[], opts: KubectlOptions = {}): Promise<KubectlResult> {
  const cmdArgs = argv(t, args, opts.minor);
  const cmd = cmdArgs.map(quote).join(" ");
  const proc = Bun.spawn(cmdArgs, {
    env: baseEnv(t, opts.env),
    stdin: opts.stdin !== undefined ? new TextEncoder().encode(opts.stdin) : "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    proc.kill(9);
  }, opts.timeoutMs ?? 30_000);
  const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  const code = await proc.exited;
  clearTimeout(timer);
  return { code: timedOut ? -1 : code, stdout, stderr, cmd, timedOut };
}

/** Human-readable dump of a kubectl result for assertion messages. */
export function describeResult(r: KubectlResult): string {
  return `$ ${r.cmd}\nexit ${r.code}${r.timedOut ? " (TIMED OUT, killed)" : ""}\n--- stdout ---\n${r.stdout.slice(0, 4000)}\n--- stderr ---\n${r.stderr.slice(0, 4000)}`;
}

/** stderr lines that are not acceptable: anything but deprecation warnings and kubectl's own
 *  "No resources found" notice. */
export function unexpectedStderr(stderr: string): string[] {
  return stderr
    .split("\n")
    .map((l) => l.trimEnd())
    .filter((l) => l.length > 0)
    .filter((l) => !/deprecat/i.test(l) && !/^No resources found/.test(l));
}

/** Throw unless kubectl exited 0 with nothing but deprecation warnings on stderr. */
export function expectOk(r: KubectlResult, what: string): KubectlResult {
  if (r.code !== 0) throw new Error(`${what}: kubectl failed\n${describeResult(r)}`);
  const bad = unexpectedStderr(r.stderr);
  if (bad.length) throw new Error(`${what}: kubectl printed warnings/errors about the server:\n  ${bad.join("\n  ")}\n${describeResult(r)}`);
  return r;
}

/** A long-running kubectl (e.g. `get -w`) whose stdout lines can be awaited. */
export interface KubectlStream {
  proc: Subprocess;
  lines: string[];
  stderr(): string;
  /** Resolve with the first line index >= from matching pred, or throw after ms. */
  waitForLine(pred: (line: string) => boolean, ms: number, from?: number): Promise<number>;
  kill(): Promise<void>;
  cmd: string;
}

export function spawnKubectl(t: KubectlTarget | SkiffServer, args: string[], opts: KubectlOptions = {}): KubectlStream {
  const cmdArgs = argv(t, args, opts.minor);
  const cmd = cmdArgs.map(quote).join(" ");
  const proc = Bun.spawn(cmdArgs, { env: baseEnv(t, opts.env), stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const lines: string[] = [];
  let err = "";
  let partial = "";
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const w of waiters) w();
  };
  (async () => {
    const dec = new TextDecoder();
    for await (const chunk of proc.stdout as ReadableStream<Uint8Array>) {
      partial += dec.decode(chunk, { stream: true });
      const parts = partial.split("\n");
      partial = parts.pop() ?? "";
      lines.push(...parts);
      notify();
    }
    if (partial) lines.push(partial);
    notify();
  })();
  (async () => {
    const dec = new TextDecoder();
    for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) err += dec.decode(chunk, { stream: true });
  })();
  const stream: KubectlStream = {
    proc,
    lines,
    cmd,
    stderr: () => err,
    waitForLine(pred, ms, from = 0) {
      return new Promise((resolveP, reject) => {
        const check = () => {
          for (let i = from; i < lines.length; i++) {
            if (pred(lines[i]!)) {
              cleanup();
              resolveP(i);
              return true;
            }
          }
          if (proc.exitCode !== null || proc.signalCode !== null) {
            cleanup();
            reject(new Error(`${cmd} exited (${proc.exitCode}) before the expected line appeared.\nstdout:\n${lines.join("\n")}\nstderr:\n${err}`));
            return true;
          }
          return false;
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`${cmd}: expected line did not appear within ${ms} ms.\nstdout so far:\n${lines.join("\n")}\nstderr:\n${err}`));
        }, ms);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(onLine);
        };
        const onLine = () => void check();
        if (!check()) {
          waiters.add(onLine);
          proc.exited.then(() => setTimeout(onLine, 50));
        }
      });
    },
    async kill() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      await proc.exited;
    },
  };
  return stream;
}

/** Split a kubectl table header into column names ("NOMINATED NODE" stays one column). */
export function headerColumns(tableOutput: string): string[] {
  const first = tableOutput.split("\n").find((l) => l.trim().length > 0) ?? "";
  return first.trim().split(/\s{2,}/);
}

export interface ParsedTable {
  columns: string[];
  rows: Record<string, string>[];
}

/** Parse kubectl's aligned table output using the header's column start positions
 *  (cells may contain spaces, e.g. "pods: 0/50, requests.cpu: 0/4"; empty cells stay ""). */
export function parseTable(out: string): ParsedTable {
  const lines = out.split("\n").filter((l) => l.trim().length > 0);
  if (lines.length === 0) return { columns: [], rows: [] };
  const header = lines[0]!;
  const starts: number[] = [];
  const columns: string[] = [];
  for (const m of header.matchAll(/\S+(?: \S+)*/g)) {
    starts.push(m.index!);
    columns.push(m[0]);
  }
  const rows = lines.slice(1).map((line) => {
    const row: Record<string, string> = {};
    columns.forEach((c, i) => {
      const end = i + 1 < starts.length ? starts[i + 1] : undefined;
      row[c] = line.slice(starts[i], end).trim();
    });
    return row;
  });
  return { columns, rows };
}
