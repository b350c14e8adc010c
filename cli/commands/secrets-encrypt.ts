// skiff secrets-encrypt status|enable|disable|prepare|rotate|reencrypt|rotate-keys (K3s'
// `k3s secrets-encrypt`). Secrets are encrypted at rest by default (secretbox). rotate-keys
// makes a new key, waits until every server uses it, re-encrypts every Secret with it and
// drops the old key, with no restart and no downtime. The manual steps are there too:
// prepare (add a key), rotate (make it the write key), reencrypt (rewrite, drop unused keys);
// enable/disable choose sealed or clear writes, which reencrypt then applies to stored Secrets.
import { makeCtx, out, parseFlags, reportError, UsageError, type FlagSpec } from "./common";

const spec: FlagSpec = {
  output: { type: "string", short: "o", default: "" },
};

const OPS = ["enable", "disable", "prepare", "rotate", "reencrypt", "rotate-keys"];
const USAGE = `Usage:
  skiff secrets-encrypt status [-o json]   Encryption state, rotation stage, keys and servers
  skiff secrets-encrypt rotate-keys        New key, re-encrypt every secret, drop the old key
  skiff secrets-encrypt prepare            Add a new key (not yet used for writes)
  skiff secrets-encrypt rotate             Write with the key added by prepare
  skiff secrets-encrypt reencrypt          Rewrite every secret as configured; drop unused keys
  skiff secrets-encrypt enable|disable     Write secrets encrypted or in clear (then reencrypt)`;

interface Status {
  enabled: boolean;
  stage: string;
  generation: number;
  active: string;
  keys: { name: string; active: boolean; secrets: number }[];
  plaintextSecrets: number;
  servers: { name: string; generation?: number; current: boolean }[];
  hashesMatch: boolean;
}

function print(s: Status): string {
  const lines = [`Encryption Status: ${s.enabled ? "Enabled" : "Disabled"}`, `Current Rotation Stage: ${s.stage}`];
  const behind = s.servers.filter((x) => !x.current).map((x) => x.name);
  lines.push(`Server Encryption Hashes: ${s.hashesMatch ? "All hashes match" : `hash does not match on ${behind.join(", ")}`}`);
  lines.push("", "Active  Key Type   Secrets  Name", "------  ---------  -------  ----");
  for (const k of s.keys) lines.push(`${k.active ? " *" : "  "}      secretbox  ${String(k.secrets).padEnd(7)}  ${k.name}`);
  if (s.plaintextSecrets) lines.push(`        identity   ${String(s.plaintextSecrets).padEnd(7)}  (stored in clear)`);
  return lines.join("\n") + "\n";
}

export async function run(args: string[]): Promise<number> {
  try {
    const p = parseFlags(args, spec, "skiff secrets-encrypt");
    const [sub, ...rest] = p.positional;
    if (!sub || rest.length || (sub !== "status" && !OPS.includes(sub))) throw new UsageError(sub ? `unknown subcommand "${sub}"\n${USAGE}` : USAGE);
    const ctx = makeCtx(p);
    const s = sub === "status" ? await ctx.client.json<Status>("GET", "/v1-skiff/secrets-encrypt/status") : await ctx.client.json<Status>("POST", `/v1-skiff/secrets-encrypt/${sub}`, { body: {} });
    if (p.flags.output === "json") out(JSON.stringify(s, null, 2) + "\n");
    else {
      if (sub === "enable" || sub === "disable") out(`secrets encryption ${sub}d for new writes; run \`skiff secrets-encrypt reencrypt\` to rewrite stored secrets\n`);
      else if (sub !== "status") out(`secrets-encrypt ${sub}: done\n`);
      out(print(s));
    }
    return 0;
  } catch (e) {
    return reportError(e);
  }
}
