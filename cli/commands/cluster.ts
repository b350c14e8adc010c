// skiff cluster members | remove NAME: the control-plane servers (Raft members).
//   members  id, name, address, role (voter/learner), leader, term, applied index, lag
//   remove   take a server out of the cluster (a leader hands leadership over first)
import { err, makeCtx, out, parseFlags, reportError, UsageError, type FlagSpec } from "./common";

const spec: FlagSpec = {
  output: { type: "string", short: "o", default: "" },
};

const USAGE = `Usage:
  skiff cluster members [-o json]   List the control-plane servers
  skiff cluster remove NAME         Remove a server from the cluster`;

export async function run(args: string[]): Promise<number> {
  try {
    const p = parseFlags(args, spec, "skiff cluster");
    const [sub, ...rest] = p.positional;
    const ctx = makeCtx(p);
    if (sub === "members" || sub === "member" || sub === "list") {
      const r = await ctx.client.json<{ members: any[] }>("GET", "/v1-skiff/raft/members");
      if (p.flags.output === "json") {
        out(JSON.stringify(r, null, 2) + "\n");
        return 0;
      }
      const rows = [["ID", "NAME", "ADDRESS", "ROLE", "LEADER", "TERM", "APPLIED", "LAG", "STATUS"]];
      for (const m of r.members) {
        rows.push([m.id, m.name, m.address, m.role, m.leader ? "*" : "", m.term ?? "-", m.applied ?? "-", m.lag ?? "-", m.reachable ? "ok" : `unreachable`].map(String));
      }
      const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
      out(rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]! + 3))).join("")).join("\n") + "\n");
      const voters = r.members.filter((m) => m.role === "voter").length;
      if (voters > 0 && voters % 2 === 0) err(`warning: ${voters} voters: an even number tolerates no more failures than ${voters - 1}\n`);
      return 0;
    }
    if (sub === "remove") {
      const name = rest[0];
      if (!name || rest.length > 1) throw new UsageError(`exactly one server NAME is required\n${USAGE}`);
      const r = await ctx.client.json<{ removed: string; id: string }>("POST", "/v1-skiff/raft/remove", { body: { name } });
      out(`server ${r.removed} (id ${r.id}) removed from the cluster\n`);
      return 0;
    }
    throw new UsageError(sub ? `unknown subcommand "${sub}"\n${USAGE}` : USAGE);
  } catch (e) {
    return reportError(e);
  }
}
