// Running a host command (iptables, ip, mount) with Bun's spawn, not node:child_process: the
// agent loads no child_process module (idle memory). `run` waits off the event loop; `runSync`
// is for start-up steps and clean-ups that must finish before the next line.

export interface CmdResult {
  ok: boolean;
  out: string;
  err: string;
}

const stdinOf = (stdin: string | undefined) => (stdin === undefined ? "ignore" : new TextEncoder().encode(stdin));

export async function run(argv: string[], stdin?: string): Promise<CmdResult> {
  try {
    const p = Bun.spawn(argv, { stdin: stdinOf(stdin), stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    return { ok: code === 0, out, err: err.trim() };
  } catch (e) {
    return { ok: false, out: "", err: (e as Error).message };
  }
}

export function runSync(argv: string[], stdin?: string): CmdResult {
  try {
    const r = Bun.spawnSync(argv, { stdin: stdinOf(stdin), stdout: "pipe", stderr: "pipe" });
    return { ok: r.exitCode === 0, out: r.stdout.toString(), err: r.stderr.toString().trim() };
  } catch (e) {
    return { ok: false, out: "", err: (e as Error).message };
  }
}
