// `skiff images import FILE… | ls | rm REF…`: manage images in the node's containerd, the way
// K3s users side-load air-gap images. Talks to the agent's own containerd socket.
import { existsSync } from "node:fs";
import { agentPaths } from "../../agent/containerd/config";
import { CriClient } from "../../agent/cri/client";
import { importImageArchive, listImages, removeImage } from "../../agent/images/images";
import { defaultDataDir } from "../../lib/paths";
import { err, out, parseFlags, reportError, UsageError } from "./common";

const USAGE = `Usage:
  skiff images import FILE.tar [FILE.tar...]   import OCI-layout or docker-archive tars
  skiff images ls                              list images
  skiff images rm REF [REF...]                 remove images

Flags:
  --data-dir DIR                  agent data dir (default ${defaultDataDir()})
  --container-runtime-endpoint S  containerd socket (default <data-dir>/agent/containerd/containerd.sock)`;

export async function run(args: string[]): Promise<number> {
  try {
    const p = parseFlags(args, { "data-dir": { type: "string" }, "container-runtime-endpoint": { type: "string" }, help: { type: "bool", short: "h" } }, "skiff images");
    const [sub, ...rest] = p.positional;
    if (p.flags.help || !sub) {
      out(USAGE);
      return sub || p.flags.help ? 0 : 1;
    }
    const socket = (p.flags["container-runtime-endpoint"] as string | undefined)?.replace(/^unix:\/\//, "") ?? agentPaths((p.flags["data-dir"] as string | undefined) ?? defaultDataDir()).socket;
    if (!existsSync(socket)) {
      err(`error: no containerd socket at ${socket}: start the agent (skiff agent or skiff server) first, or pass --container-runtime-endpoint`);
      return 1;
    }
    if (sub === "import") {
      if (!rest.length) throw new UsageError("skiff images import needs at least one FILE.tar");
      for (const f of rest) {
        for (const img of await importImageArchive(f, { address: socket })) out(`imported ${img.name} (${img.digest})`);
      }
      return 0;
    }
    const cri = await CriClient.connect(`unix://${socket}`);
    try {
      if (sub === "ls" || sub === "list") {
        const imgs = await listImages(cri);
        const rows = imgs.flatMap((i) => (i.names.length ? i.names : ["<none>"]).map((t) => [t, i.id.replace(/^sha256:/, "").slice(0, 13), humanBytes(i.size)]));
        printTable([["IMAGE", "IMAGE ID", "SIZE"], ...rows]);
        return 0;
      }
      if (sub === "rm" || sub === "remove") {
        if (!rest.length) throw new UsageError("skiff images rm needs at least one image reference");
        let code = 0;
        for (const ref of rest) {
          if (await removeImage(cri, ref)) out(`deleted ${ref}`);
          else {
            err(`error: image "${ref}" not found`);
            code = 1;
          }
        }
        return code;
      }
      throw new UsageError(`unknown images subcommand "${sub}": use import, ls or rm`);
    } finally {
      cri.close();
    }
  } catch (e) {
    return reportError(e);
  }
}

function humanBytes(n: number): string {
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)}MB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)}kB`;
  return `${n}B`;
}

function printTable(rows: string[][]): void {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  out(rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]! + 3))).join("")).join("\n"));
}
