// skiff logs POD [-c C] [-f] [-p] [--tail N] [--timestamps] [--since 5m] [--limit-bytes N]:
// GET pods/NAME/log, the body copied to stdout as it arrives (kept open with -f).
import { writeSync } from "node:fs";
import { toApiError } from "../../lib/client";
import { makeCtx, parseFlags, reportError, UsageError, type FlagSpec } from "./common";
import { pickContainer, podPath, resolvePod } from "./pod-target";

const spec: FlagSpec = {
  container: { type: "string", short: "c" },
  follow: { type: "bool", short: "f" },
  previous: { type: "bool", short: "p" },
  tail: { type: "int", default: -1 },
  timestamps: { type: "bool" },
  since: { type: "string" },
  "since-time": { type: "string" },
  "limit-bytes": { type: "int" },
};

/** Go durations as kubectl --since takes them: "90s", "5m", "1h30m", "1.5h". */
export function parseGoDuration(s: string): number {
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let ms = 0;
  let m: RegExpExecArray | null;
  let end = 0;
  while ((m = re.exec(s))) {
    ms += Number(m[1]) * unit[m[2]!]!;
    end = re.lastIndex;
  }
  if (!s || end !== s.length) throw new UsageError(`invalid argument "${s}" for "--since" flag: time: invalid duration "${s}"`);
  return ms;
}

function writeBytes(b: Uint8Array): void {
  let off = 0;
  while (off < b.length) {
    try {
      off += writeSync(1, b, off, b.length - off);
    } catch (e: any) {
      if (e?.code !== "EAGAIN") throw e;
      Bun.sleepSync(1);
    }
  }
}

export async function run(args: string[]): Promise<number> {
  try {
    const p = parseFlags(args, spec, "skiff logs");
    if (p.positional.length === 0) throw new UsageError("expected POD or TYPE/NAME: skiff logs POD [-c CONTAINER] [-f]");
    if (p.positional.length > 2) throw new UsageError("expected POD [CONTAINER] only");
    if (p.flags.since && p.flags["since-time"]) throw new UsageError("at most one of `sinceTime` or `sinceSeconds` may be specified");
    const ctx = makeCtx(p);
    const pod = await resolvePod(ctx, p.positional[0]!);
    // `kubectl logs POD CONTAINER` (the old form) is accepted too.
    const container = pickContainer(pod, p.flags.container ?? p.positional[1]);
    const query: Record<string, string | number | boolean | undefined> = { container };
    if (p.flags.follow) query.follow = true;
    if (p.flags.previous) query.previous = true;
    if (p.flags.timestamps) query.timestamps = true;
    if (p.flags.tail >= 0) query.tailLines = p.flags.tail;
    if (p.given.has("limit-bytes")) {
      if (p.flags["limit-bytes"] < 1) throw new UsageError("--limit-bytes must be greater than 0");
      query.limitBytes = p.flags["limit-bytes"];
    }
    if (p.flags.since) query.sinceSeconds = Math.max(1, Math.ceil(parseGoDuration(p.flags.since) / 1000));
    if (p.flags["since-time"]) {
      if (Number.isNaN(Date.parse(p.flags["since-time"]))) throw new UsageError(`--since-time must be RFC 3339, got "${p.flags["since-time"]}"`);
      query.sinceTime = p.flags["since-time"];
    }
    const res = await ctx.client.request("GET", podPath(pod.metadata.namespace, pod.metadata.name, "log"), { query, accept: "*/*" });
    if (!res.ok) throw toApiError(res.status, await res.text());
    if (res.body) for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) writeBytes(chunk);
    return 0;
  } catch (e) {
    return reportError(e);
  }
}
