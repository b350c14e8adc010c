// Run simulation seeds from the command line.
//   bun test/sim/run.ts --seeds N [--seed S] [--nodes 3|5] [--steps K] [--trace] [--start S]
// Without --nodes, seeds alternate between 3 and 5 nodes. A failure prints the command that
// replays it exactly.
import { runSeed, type SimResult } from "./simulation";

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const seedArg = arg("seed");
const nSeeds = Number(arg("seeds") ?? (seedArg ? 1 : 100));
const start = Number(arg("start") ?? seedArg ?? 1);
const nodesArg = arg("nodes");
const steps = Number(arg("steps") ?? 1500);
const trace = process.argv.includes("--trace");
const bug = arg("bug"); // e.g. --bug skipAppendTermCheck (proves the checkers catch it)
const bugs = bug ? { [bug]: true } : undefined;

let failed = 0;
const t0 = performance.now();
const totals = { ops: 0, okWrites: 0, reads: 0, unknownWrites: 0, failedWrites: 0, forwarded: 0, crashes: 0, powerLosses: 0, partitions: 0, confChanges: 0, snapshotsInstalled: 0, snapshotChunks: 0, leadersSeen: 0, transfers: 0, pauses: 0, tasks: 0 };
for (let i = 0; i < nSeeds; i++) {
  const seed = start + i;
  const nodes = (nodesArg ? Number(nodesArg) : seed % 2 === 0 ? 5 : 3) as 3 | 5;
  const r: SimResult = runSeed({ seed, nodes, steps, trace, bugs });
  for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += r.stats[k];
  if (!r.ok) {
    failed++;
    console.log(`FAIL seed ${seed} (${nodes} nodes) at t=${r.failure!.time}: ${r.failure!.kind}\n${r.failure!.message}`);
    console.log(`replay: ${r.replay}${bug ? ` --bug ${bug}` : ""}`);
  } else if (seedArg) {
    console.log(`ok seed ${seed}: ${JSON.stringify(r.stats)}`);
  }
}
const secs = (performance.now() - t0) / 1000;
console.log(`${nSeeds - failed}/${nSeeds} seeds passed in ${secs.toFixed(1)}s (${steps} steps each); totals ${JSON.stringify(totals)}`);
process.exit(failed > 0 ? 1 : 0);
