// Deterministic simulation of the real Raft node driver: 500 seeds never run before, new on
// every run (the fixed seeds 1..2000 run in sim-seeds-*.test.ts). A failure prints its seed
// and the command that replays it.
import { test } from "bun:test";
import { runFreshSeeds } from "./seeds";

test("raft simulation: 500 fresh random seeds keep every safety invariant and stay linearizable", () => {
  runFreshSeeds(500);
}, 300_000);
