// The systemd units `skiff install` writes (K3s' k3s.service / k3s-agent.service habits) and
// reading them back for `skiff uninstall|killall`.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { flagValue } from "./processes.ts";

export const UNIT_DIR = "/etc/systemd/system";
export const DEFAULT_BIN = "/usr/local/bin/skiff";

export type Mode = "server" | "agent";

export const unitName = (mode: Mode) => (mode === "server" ? "skiff.service" : "skiff-agent.service");

/** systemd is the init system of this machine (sd_booted(3)). */
export function systemdRunning(): boolean {
  return existsSync("/run/systemd/system");
}

/**
 * One argument of ExecStart, quoted for systemd.service(5): specifiers (%) and variables ($)
 * are escaped, anything beyond a plain word goes in double quotes with C-style escapes.
 */
export function quoteArg(a: string): string {
  const esc = a.replace(/%/g, "%%").replace(/\$/g, "$$$$");
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(esc)) return esc;
  return `"${esc.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
}

export interface UnitOptions {
  mode: Mode;
  bin: string;
  /** Flags for `skiff server|agent` (the token and server URL live in the environment file). */
  flags: string[];
  envFile: string;
}

const RELOAD = `# systemctl reload: serve certificates rotated on disk (skiff certificate rotate does this itself).
ExecReload=/bin/kill -HUP $MAINPID
`;

export function unitText(o: UnitOptions): string {
  // One flag (with its value) per line, as K3s writes them.
  const exec: string[] = [`${quoteArg(o.bin)} ${o.mode}`];
  for (let i = 0; i < o.flags.length; i++) {
    const f = o.flags[i]!;
    const v = o.flags[i + 1];
    if (f.startsWith("-") && !f.includes("=") && v !== undefined && !v.startsWith("-")) {
      exec.push(`${quoteArg(f)} ${quoteArg(v)}`);
      i++;
    } else exec.push(quoteArg(f));
  }
  return `# Written by \`skiff install\`; \`skiff uninstall\` removes it.
[Unit]
Description=Skiff ${o.mode === "server" ? "server (Kubernetes-compatible control plane and node)" : "agent (Kubernetes-compatible node)"}
Wants=network-online.target
After=network-online.target

[Install]
WantedBy=multi-user.target

[Service]
Type=exec
EnvironmentFile=-/etc/default/%N
EnvironmentFile=-${o.envFile}
# Only skiff itself is stopped: containerd's shims and the pods they run keep running across a
# restart or upgrade of skiff (skiff killall stops them).
KillMode=process
# systemd leaves alone the cgroups skiff, containerd and the pods make.
Delegate=yes
LimitNOFILE=1048576
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
TimeoutStartSec=0
TimeoutStopSec=60
Restart=always
RestartSec=5s
ExecStartPre=-/sbin/modprobe br_netfilter
ExecStartPre=-/sbin/modprobe overlay
ExecStart=${exec.join(" \\\n    ")}
${o.mode === "server" ? RELOAD : ""}`;
}

export interface InstalledUnit {
  name: string;
  path: string;
  mode: Mode;
  bin: string;
  args: string[];
  dataDir: string;
  envFile: string;
}

/** Splits an ExecStart value the way quoteArg wrote it. */
export function splitExec(v: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (const m of v.replace(/\\\n/g, " ").matchAll(re)) {
    const raw = m[1] !== undefined ? m[1].replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c)) : m[2]!;
    out.push(raw.replace(/%%/g, "%").replace(/\$\$/g, "$"));
  }
  return out;
}

/** The skiff units installed under root (default /), with the data dir each one uses. */
export function installedUnits(root = "/"): InstalledUnit[] {
  const dir = join(root, UNIT_DIR);
  if (!existsSync(dir)) return [];
  const out: InstalledUnit[] = [];
  for (const name of readdirSync(dir)) {
    if (!/^skiff(-agent)?\.service$/.test(name)) continue;
    const path = join(dir, name);
    const text = readFileSync(path, "utf8");
    const m = /^ExecStart=((?:.*\\\n)*.*)$/m.exec(text);
    if (!m) continue;
    const [bin, mode, ...args] = splitExec(m[1]!);
    if (!bin || (mode !== "server" && mode !== "agent")) continue;
    out.push({ name, path, mode, bin, args, dataDir: (flagValue(args, "--data-dir") ?? "/var/lib/skiff").replace(/\/+$/, ""), envFile: `${path}.env` });
  }
  return out;
}
