// Shared by the CI seed-range test files: run a range of seeds, report every failure with
// its replay command.
import { expect } from "bun:test";
import { runSeed } from "./simulation";

export const CI_STEPS = 1500;

export function runSeedRange(from: number, count: number): void {
  const failures: string[] = [];
  for (let seed = from; seed < from + count; seed++) {
    const nodes = seed % 2 === 0 ? 5 : 3;
    const r = runSeed({ seed, nodes, steps: CI_STEPS });
    if (!r.ok) {
      failures.push(`seed ${seed} (${nodes} nodes) at t=${r.failure!.time}: ${r.failure!.message}\n  replay: ${r.replay}`);
    }
  }
  if (failures.length > 0) console.error(failures.join("\n\n"));
  expect(failures).toEqual([]);
}
