// Deterministic simulation of the real Raft node driver: seeds 1501..2000 (odd seeds 3 nodes, even seeds 5).
import { test } from "bun:test";
import { runRegressionSeeds, runSeedRange } from "./seeds";

test("raft simulation seeds 1501..2000 keep every safety invariant and stay linearizable", () => {
  runSeedRange(1501, 500);
}, 300_000);

test("raft simulation: seeds that once failed (REGRESSION_SEEDS) pass", () => {
  runRegressionSeeds();
}, 60_000);
