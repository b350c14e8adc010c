// Deterministic simulation: seeds 1..550 (odd seeds 3 nodes, even seeds 5 nodes).
import { test } from "bun:test";
import { runSeedRange } from "./seeds";

test("raft simulation seeds 1..550 keep every safety invariant and stay linearizable", () => {
  runSeedRange(1, 550);
}, 120_000);
