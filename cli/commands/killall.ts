// `skiff killall [--data-dir DIR]`: stop Skiff, every container and shim it runs and the network
// state it made on this host, leaving the data (K3s' k3s-killall.sh). See cli/host/killall.ts.
import { resolve } from "node:path";
import { defaultDataDir } from "../../lib/paths";
import { killall } from "../host/killall";

const USAGE = `Usage: skiff killall [--data-dir DIR]

Stops skiff server/agent, every pod container and containerd shim, unmounts what they mounted,
and removes Skiff's iptables rules and chains, ipsets, pod bridge, veths and node routes.
The data directory is kept: start skiff again and the pods come back.

Flags:
  --data-dir DIR   the data dir of the Skiff to stop (default ${defaultDataDir()})`;

export function parseDataDir(args: string[], usage: string, extra: string[] = []): { dataDir: string; flags: Set<string>; values: Record<string, string> } | number {
  let dataDir = defaultDataDir();
  const flags = new Set<string>();
  const values: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "-h" || a === "--help") {
      console.log(usage);
      return 0;
    }
    const [name, inline] = a.startsWith("--") && a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined];
    if (name === "--data-dir" || extra.includes(`${name}=`)) {
      const v = inline ?? args[++i];
      if (!v) {
        console.error(`error: flag needs an argument: ${name}`);
        return 1;
      }
      if (name === "--data-dir") dataDir = resolve(v);
      else values[name.slice(2)] = v;
    } else if (extra.includes(name) && inline === undefined) flags.add(name.slice(2));
    else {
      console.error(`error: unknown argument "${a}"\n${usage}`);
      return 1;
    }
  }
  return { dataDir, flags, values };
}

export async function run(args: string[]): Promise<number> {
  const p = parseDataDir(args, USAGE);
  if (typeof p === "number") return p;
  if (process.getuid?.() !== 0) {
    console.error("error: skiff killall stops containers and changes iptables and links: run it as root (sudo)");
    return 1;
  }
  const r = await killall({ dataDir: p.dataDir, log: (m) => console.log(m) });
  console.log(`killall: ${r.processes} process(es) stopped, ${r.sandboxes} pod sandbox(es) removed, ${r.unmounted.length} mount(s) and ${r.removed.length} network/cgroup object(s) removed; data kept in ${p.dataDir}`);
  for (const e of r.errors) console.error(`warning: ${e}`);
  return r.errors.length ? 1 : 0;
}
