// `skiff install [server|agent] [flags]`: install Skiff as a systemd service, the way K3s'
// install script does: the binary in /usr/local/bin, a unit with the flags given (KillMode=process
// so pods survive restarts, Delegate=yes, limits, Restart=always), the join token and server URL
// in an environment file only root can read, then `systemctl enable --now`.
import { chmodSync, copyFileSync, existsSync, mkdirSync, realpathSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { runSync } from "../../agent/cmd";
import { DEFAULT_BIN, systemdRunning, UNIT_DIR, unitName, unitText, type Mode } from "../host/systemd";

const USAGE = `Usage: skiff install [server|agent] [install flags] [flags of skiff server|agent]

Installs Skiff as a systemd service (skiff.service, or skiff-agent.service for an agent):
the binary, a unit that runs \`skiff server|agent\` with the flags given, and an environment file
(mode 0600) holding the token and server URL. Then enables and starts the service.

  skiff install server --tls-san 10.0.0.1
  skiff install agent --server https://10.0.0.1:6443 --token K10...

Install flags:
  --bin PATH        where the binary goes (default ${DEFAULT_BIN})
  --skip-enable     do not enable the service (no start at boot)
  --skip-start      do not start the service now
  --root DIR        install into DIR as the file system root (images, tests); nothing is started

Environment: SKIFF_TOKEN and SKIFF_URL (agent) / SKIFF_SERVER (server join) are written to the
environment file when --token / --server are not given.`;

/** Flags whose values are secrets or per-cluster: kept out of the world-readable unit. */
function extractEnv(mode: Mode, flags: string[]): { flags: string[]; env: Record<string, string> } {
  const env: Record<string, string> = {};
  const keep: string[] = [];
  const serverVar = mode === "agent" ? "SKIFF_URL" : "SKIFF_SERVER";
  const take: Record<string, string> = { "--token": "SKIFF_TOKEN", "-t": "SKIFF_TOKEN", "--server": serverVar, "-s": serverVar, "--join": serverVar };
  for (let i = 0; i < flags.length; i++) {
    const a = flags[i]!;
    const eq = a.indexOf("=");
    const name = eq > 0 ? a.slice(0, eq) : a;
    const v = take[name];
    if (!v) {
      keep.push(a);
      continue;
    }
    const value = eq > 0 ? a.slice(eq + 1) : flags[++i];
    if (value === undefined) throw new Error(`flag needs an argument: ${name}`);
    env[v] = value;
  }
  if (!env.SKIFF_TOKEN && process.env.SKIFF_TOKEN) env.SKIFF_TOKEN = process.env.SKIFF_TOKEN;
  if (!env[serverVar] && process.env[serverVar]) env[serverVar] = process.env[serverVar]!;
  return { flags: keep, env };
}

/** systemd EnvironmentFile value: double-quoted with backslash escapes. */
const envLine = (k: string, v: string) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\$/g, "\\$")}"`;

/** The command that runs this very skiff (compiled binary, or bun with cli/main.ts). */
function selfCommand(): string[] {
  return compiled() ? [process.execPath] : [process.execPath, Bun.main];
}
const compiled = () => Bun.main.startsWith("/$bunfs/") || Bun.main.startsWith("B:/~BUN/");

/** The same parser `skiff server|agent` uses decides whether the flags are valid. */
function checkFlags(mode: Mode, flags: string[]): string | undefined {
  const r = Bun.spawnSync([...selfCommand(), mode, ...flags, "--help"], { stdout: "ignore", stderr: "pipe", env: { ...process.env } });
  return r.exitCode === 0 ? undefined : r.stderr.toString().trim().replace(/^error: /i, "") || `skiff ${mode} rejected the flags`;
}

function installBinary(target: string): void {
  if (!compiled()) {
    if (existsSync(target)) return;
    throw new Error(`skiff install copies the running binary to ${target}, but this is not a compiled skiff (run dist/skiff install …, or put the binary at --bin first)`);
  }
  if (existsSync(target) && realpathSync(target) === realpathSync(process.execPath)) return;
  mkdirSync(dirname(target), { recursive: true });
  // Replace by rename: a running skiff keeps its old inode, and the copy is never seen half-written.
  const tmp = `${target}.tmp-${process.pid}`;
  copyFileSync(process.execPath, tmp);
  chmodSync(tmp, 0o755);
  renameSync(tmp, target);
}

export async function run(args: string[]): Promise<number> {
  let mode: Mode = "server";
  let rest = args;
  if (args[0] === "server" || args[0] === "agent") [mode, rest] = [args[0], args.slice(1)];
  if (rest.includes("--help") || rest.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  let root = "/";
  let bin = DEFAULT_BIN;
  let enable = true;
  let start = true;
  const service: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    const val = (name: string) => {
      if (a.startsWith(name + "=")) return a.slice(name.length + 1);
      const v = rest[++i];
      if (v === undefined) throw new Error(`flag needs an argument: ${name}`);
      return v;
    };
    if (a === "--root" || a.startsWith("--root=")) root = resolve(val("--root"));
    else if (a === "--bin" || a.startsWith("--bin=")) bin = val("--bin");
    else if (a === "--skip-enable") enable = false;
    else if (a === "--skip-start") start = false;
    else service.push(a);
  }
  if (!bin.startsWith("/")) {
    console.error(`error: --bin must be an absolute path (the unit runs it), got "${bin}"`);
    return 1;
  }
  if (process.getuid?.() !== 0 && root === "/") {
    console.error("error: skiff install writes to /etc/systemd/system and /usr/local/bin: run it as root (sudo)");
    return 1;
  }
  let split: ReturnType<typeof extractEnv>;
  try {
    split = extractEnv(mode, service);
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    return 1;
  }
  const bad = checkFlags(mode, split.flags);
  if (bad) {
    console.error(`error: these flags are not valid for skiff ${mode}: ${bad}`);
    return 1;
  }
  if (mode === "agent" && (!split.env.SKIFF_URL || !split.env.SKIFF_TOKEN)) {
    console.error("error: an agent needs --server https://SERVER:6443 and --token TOKEN (or SKIFF_URL and SKIFF_TOKEN in the environment)");
    return 1;
  }

  const unit = unitName(mode);
  const unitPath = join(root, UNIT_DIR, unit);
  const envPath = `${join(UNIT_DIR, unit)}.env`;
  installBinary(join(root, bin));
  console.log(`installed ${join(root, bin)}`);
  mkdirSync(dirname(unitPath), { recursive: true });
  const envText = `# Written by \`skiff install\`: secrets for ${unit}, readable by root only.\n${Object.entries(split.env)
    .map(([k, v]) => envLine(k, v))
    .join("\n")}\n`;
  // Created 0600 (never briefly world-readable), then moved into place.
  const envTmp = join(root, `${envPath}.tmp-${process.pid}`);
  writeFileSync(envTmp, envText, { mode: 0o600 });
  chmodSync(envTmp, 0o600);
  renameSync(envTmp, join(root, envPath));
  writeFileSync(unitPath, unitText({ mode, bin, flags: split.flags, envFile: envPath }), { mode: 0o644 });
  console.log(`wrote ${unitPath} and ${join(root, envPath)} (mode 0600)`);

  if (root === "/" && systemdRunning()) {
    const steps: string[][] = [["daemon-reload"], ...(enable ? [["enable", unit]] : []), ...(start ? [["restart", unit]] : [])];
    for (const s of steps) {
      const r = runSync(["systemctl", ...s]);
      if (!r.ok) {
        console.error(`error: systemctl ${s.join(" ")}: ${r.err}`);
        return 1;
      }
    }
    console.log(`${enable ? "enabled" : "not enabled"}${start ? ` and started ${unit}: journalctl -u ${unit} -f` : ` ${unit}`}`);
    return 0;
  }
  // No systemd to talk to (a container, an image being built): enable offline, start nothing.
  if (enable) {
    const r = runSync(["systemctl", `--root=${root}`, "enable", unit]);
    if (!r.ok) {
      console.error(`error: systemctl --root=${root} enable ${unit}: ${r.err}`);
      return 1;
    }
  }
  console.log(
    `${enable ? `enabled ${unit} for the next boot` : `${unit} not enabled`}; ${root === "/" ? "systemd is not running on this machine, so nothing was started" : `installed under ${root}, nothing was started`}`,
  );
  return 0;
}
