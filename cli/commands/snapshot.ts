// `skiff snapshot save|ls|delete|restore` (K3s: `k3s etcd-snapshot`):
//   save     the running server takes a consistent, compressed snapshot (secrets sealed)
//   ls       the server's snapshots (or the files of --dir, with no server running)
//   delete   remove snapshots by name
//   restore  offline, on a stopped server: its data dir starts over from a snapshot as a
//            cluster of one (the same as `skiff server --cluster-reset --cluster-reset-restore-path`)
import { resolve } from "node:path";
import { defaultDataDir } from "../../lib/paths";
import { findOurProcesses } from "../host/processes";
import { err, makeCtx, out, parseFlags, reportError, UsageError, type FlagSpec } from "./common";

const USAGE = `Usage:
  skiff snapshot save [--name NAME]           Take a snapshot on the server now (default name on-demand)
  skiff snapshot ls [-o json] [--dir DIR]     List the server's snapshots (--dir: the files there, no server needed)
  skiff snapshot delete NAME... [--dir DIR]   Delete snapshots (names as ls prints them)
  skiff snapshot restore FILE [--data-dir DIR] [--token TOKEN]
                                              With the server stopped: start its data over from FILE as a
                                              cluster of one (the token: the cluster's server token, needed on
                                              an empty data dir), then start skiff server

Snapshots are taken on a schedule too (skiff server --snapshot-cron, default every 12 hours,
--snapshot-retention 5); they go to <data-dir>/server/db/snapshots unless --snapshot-dir says otherwise.`;

const spec: FlagSpec = {
  name: { type: "string", default: "" },
  output: { type: "string", short: "o", default: "" },
  dir: { type: "string", default: "" },
  "data-dir": { type: "string", default: "" },
};

interface Info {
  name: string;
  file: string;
  size: number;
  created: string;
  node: string;
  rev: number;
}

function table(list: Info[]): string {
  const rows = [["NAME", "NODE", "SIZE", "CREATED", "REVISION"], ...list.map((s) => [s.name, s.node, String(s.size), s.created.replace(/\.\d{3}Z$/, "Z"), String(s.rev)])];
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]! + 3))).join("")).join("\n") + "\n";
}

export async function run(args: string[]): Promise<number> {
  try {
    if (!args.length || args[0] === "-h" || args[0] === "--help") {
      out(USAGE + "\n");
      return args.length ? 0 : 1;
    }
    const p = parseFlags(args, spec, "skiff snapshot");
    const [sub, ...rest] = p.positional;
    if (sub === "save") {
      if (rest.length) throw new UsageError(`save takes no arguments (the name: --name)\n${USAGE}`);
      const r = await makeCtx(p).client.json<Info>("POST", "/v1-skiff/snapshots", { body: p.flags.name ? { name: p.flags.name } : {} });
      out(`Snapshot ${r.name} saved (${r.size} bytes, revision ${r.rev}) in ${r.file}\n`);
      return 0;
    }
    if (sub === "ls" || sub === "list") {
      let list: Info[];
      if (p.flags.dir) {
        const { listSnapshots } = await import("../../server/store/backup/snapshots");
        list = await listSnapshots(resolve(p.flags.dir));
      } else list = (await makeCtx(p).client.json<{ snapshots: Info[] }>("GET", "/v1-skiff/snapshots")).snapshots;
      if (p.flags.output === "json") out(JSON.stringify(list, null, 2) + "\n");
      else if (!list.length) err("No snapshots found\n");
      else out(table(list));
      return 0;
    }
    if (sub === "delete" || sub === "rm") {
      if (!rest.length) throw new UsageError(`name at least one snapshot\n${USAGE}`);
      if (p.flags.dir) {
        const { deleteSnapshots } = await import("../../server/store/backup/snapshots");
        const done = deleteSnapshots(resolve(p.flags.dir), rest);
        for (const n of rest) done.includes(n) ? out(`Snapshot ${n} deleted\n`) : err(`snapshot ${n}: not found in ${p.flags.dir}\n`);
        return done.length === rest.length ? 0 : 1;
      }
      const ctx = makeCtx(p);
      let failed = 0;
      for (const n of rest) {
        try {
          await ctx.client.json("DELETE", `/v1-skiff/snapshots/${encodeURIComponent(n)}`);
          out(`Snapshot ${n} deleted\n`);
        } catch (e) {
          failed++;
          reportError(e);
        }
      }
      return failed ? 1 : 0;
    }
    if (sub === "restore") {
      if (rest.length !== 1) throw new UsageError(`restore takes exactly one snapshot FILE\n${USAGE}`);
      const dataDir = resolve(p.flags["data-dir"] || defaultDataDir());
      const running = findOurProcesses(dataDir).skiff;
      if (running.length) {
        err(`error: skiff is running on ${dataDir} (pid ${running.map((r) => r.pid).join(", ")}): stop it first (skiff killall, or systemctl stop skiff)\n`);
        return 1;
      }
      const { clusterReset } = await import("../../server/raft/cluster/reset");
      await clusterReset({ serverDir: resolve(dataDir, "server"), restorePath: resolve(rest[0]!), token: p.flags.token || undefined, log: (m) => err(m + "\n") });
      out(`Restored. Start the server (skiff server --data-dir ${dataDir} ...): it is a cluster of one; other servers join it again from an empty data dir.\n`);
      return 0;
    }
    throw new UsageError(sub ? `unknown subcommand "${sub}"\n${USAGE}` : USAGE);
  } catch (e) {
    return reportError(e);
  }
}
