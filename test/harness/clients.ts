// The third-party clients scripts/setup-clients.sh builds into its cache (Helm 3 and 4,
// promtool, the client-go test program, a Python venv with the official client), and a
// runner that captures their output with a deadline.
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export const CLIENTS_CACHE = process.env.SKIFF_CLIENTS_CACHE ?? join(homedir(), ".cache", "skiff-clients");

const TOOLS = {
  helm3: "helm3/helm",
  helm4: "helm4/helm",
  promtool: "promtool/promtool",
  clientgo: "clientgo/clientgo",
  python: "py/bin/python",
} as const;
export type Tool = keyof typeof TOOLS;

/** Path of a built client, or undefined (and a printed SKIP reason) when setup did not build it. */
export function clientTool(tool: Tool, testFile: string): string | undefined {
  const p = join(CLIENTS_CACHE, TOOLS[tool]);
  if (existsSync(p)) return p;
  console.warn(`SKIP ${testFile.split("/").slice(-2).join("/")} (${tool}): ${p} missing: run scripts/setup-clients.sh (needs Go and Python)`);
  return undefined;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  cmd: string;
}

/** Run a command with a deadline (default 120 s); never throws on a non-zero exit. */
export async function run(cmd: string[], o: { env?: Record<string, string>; timeoutMs?: number; cwd?: string } = {}): Promise<RunResult> {
  const p = Bun.spawn(cmd, { env: { ...(process.env as Record<string, string>), ...o.env }, stdout: "pipe", stderr: "pipe", stdin: "ignore", cwd: o.cwd });
  const timer = setTimeout(() => p.kill("SIGKILL"), o.timeoutMs ?? 120_000);
  const [stdout, stderr] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  const code = await p.exited;
  clearTimeout(timer);
  return { code, stdout, stderr, cmd: cmd.join(" ") };
}

export function describeRun(r: RunResult): string {
  return `$ ${r.cmd}\nexit ${r.code}\n--- stdout\n${r.stdout.slice(-4000)}\n--- stderr\n${r.stderr.slice(-4000)}`;
}
