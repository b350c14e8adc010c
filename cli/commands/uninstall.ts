// `skiff uninstall [--keep-data] [--data-dir DIR]`: remove Skiff from this host (K3s'
// k3s-uninstall.sh): the installed units and their environment files, everything `skiff killall`
// stops and removes, then the data dir (unless --keep-data) and the binary the units ran.
import { existsSync, rmSync, unlinkSync } from "node:fs";
import { join, resolve } from "node:path";
import { runSync } from "../../agent/cmd";
import { defaultDataDir } from "../../lib/paths";
import { killall, mountsUnder } from "../host/killall";
import { flagValue } from "../host/processes";
import { installedUnits, systemdRunning } from "../host/systemd";
import { parseDataDir } from "./killall";

const USAGE = `Usage: skiff uninstall [--keep-data] [--data-dir DIR]

Stops and removes skiff.service / skiff-agent.service and their environment files, stops every pod
and removes Skiff's network state (as skiff killall), then deletes the data dir and the installed
binary. With --keep-data the data dir (cluster state, certificates, images) stays.

Flags:
  --data-dir DIR   data dir to remove (default: the installed units' --data-dir, else ${defaultDataDir()})
  --keep-data      keep the data dir
  --root DIR       act on an install made with skiff install --root DIR`;

export async function run(args: string[]): Promise<number> {
  const explicitDir = args.some((a) => a === "--data-dir" || a.startsWith("--data-dir="));
  const p = parseDataDir(args, USAGE, ["--keep-data", "--root="]);
  if (typeof p === "number") return p;
  if (process.getuid?.() !== 0) {
    console.error("error: skiff uninstall removes services, containers, iptables rules and links: run it as root (sudo)");
    return 1;
  }
  const root = resolve(p.values.root ?? "/");
  const keep = p.flags.has("keep-data");
  const units = installedUnits(root);
  const dataDirs = explicitDir ? [p.dataDir] : units.length ? [...new Set(units.map((u) => u.dataDir))] : [p.dataDir];
  const errors: string[] = [];

  for (const u of units) {
    const r = root === "/" && systemdRunning() ? runSync(["systemctl", "disable", "--now", u.name]) : runSync(["systemctl", `--root=${root}`, "disable", u.name]);
    if (!r.ok) errors.push(`systemctl disable ${u.name}: ${r.err}`);
  }
  for (const dataDir of dataDirs) {
    const k = await killall({ dataDir, root, log: (m) => console.log(m) });
    errors.push(...k.errors);
    console.log(`stopped ${k.processes} process(es), removed ${k.sandboxes} pod sandbox(es), ${k.unmounted.length} mount(s), ${k.removed.length} network/cgroup object(s)`);
  }
  for (const u of units) {
    for (const f of [u.path, u.envFile]) if (existsSync(f)) unlinkSync(f);
    console.log(`removed ${u.path}`);
  }
  if (units.length && root === "/" && systemdRunning()) runSync(["systemctl", "daemon-reload"]);

  if (!keep) {
    for (const dir of dataDirs) {
      // Never delete through a mount that is still there (a hostPath bind would lose host files).
      const left = mountsUnder(dir);
      if (left.length) {
        errors.push(`${dir} not removed: still mounted: ${left.join(", ")}`);
        continue;
      }
      if (existsSync(dir)) {
        rmSync(dir, { recursive: true, force: true });
        console.log(`removed ${dir}`);
      }
    }
    // A kubeconfig written outside the data dir (--write-kubeconfig) goes with it.
    for (const u of units) {
      const kc = flagValue(u.args, "--write-kubeconfig");
      if (kc && existsSync(join(root, kc))) {
        rmSync(join(root, kc), { force: true });
        console.log(`removed ${join(root, kc)}`);
      }
    }
  }
  for (const bin of new Set(units.map((u) => join(root, u.bin)))) {
    if (existsSync(bin)) {
      unlinkSync(bin); // a running copy (this one) keeps its inode until it exits
      console.log(`removed ${bin}`);
    }
  }
  for (const e of errors) console.error(`warning: ${e}`);
  if (!units.length) console.log("no skiff service was installed; stopped and removed what the data dir's Skiff ran");
  return errors.length ? 1 : 0;
}
