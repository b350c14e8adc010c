// skiff token rotate [--type server|agent] [--new-token T] [--output FILE]: a new join token,
// in force on every server at once (K3s `token rotate`). Agents already joined keep working:
// they hold their own node credentials and renew those, not the token. The new token is
// written to the answering server's <data-dir>/server/{token,agent-token} (and to --output),
// never printed: terminals and CI logs are not where secrets belong.
import { writeFileSync } from "node:fs";
import { makeCtx, out, parseFlags, reportError, UsageError, type FlagSpec } from "./common";

const spec: FlagSpec = {
  type: { type: "string", default: "server" },
  "new-token": { type: "string", default: "" },
  output: { type: "string", short: "o", default: "" },
};

const USAGE = `Usage:
  skiff token rotate [--type server|agent] [--new-token TOKEN] [-o FILE]
      A new server token (joins servers and agents) or agent token (joins agents only), random
      unless --new-token is given; written to <data-dir>/server/token or agent-token on the
      server that answered, and to FILE with -o. Joined agents and servers keep working.`;

export async function run(args: string[]): Promise<number> {
  try {
    const p = parseFlags(args, spec, "skiff token");
    const [sub, ...rest] = p.positional;
    if (sub !== "rotate" || rest.length) throw new UsageError(sub && sub !== "rotate" ? `unknown subcommand "${sub}"\n${USAGE}` : USAGE);
    const type = String(p.flags.type);
    if (type !== "server" && type !== "agent") throw new UsageError(`--type must be server or agent, got "${type}"`);
    const ctx = makeCtx(p);
    const body: Record<string, string> = { type };
    if (p.flags["new-token"]) body.newToken = String(p.flags["new-token"]);
    const r = await ctx.client.json<{ type: string; file: string; token: string }>("POST", "/v1-skiff/tokens/rotate", { body });
    if (p.flags.output) writeFileSync(String(p.flags.output), r.token + "\n", { mode: 0o600 });
    out(`${type} token rotated: the new one is in ${r.file} on the server at ${ctx.client.server}${p.flags.output ? ` and in ${p.flags.output}` : ""}\n`);
    return 0;
  } catch (e) {
    return reportError(e);
  }
}
