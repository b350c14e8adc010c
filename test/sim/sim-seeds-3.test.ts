// Deterministic simulation: seeds 1101..1650 (odd seeds 3 nodes, even seeds 5 nodes).
import { test } from "bun:test";
import { runSeedRange } from "./seeds";

test("raft simulation seeds 1101..1650 keep every safety invariant and stay linearizable", () => {
  runSeedRange(1101, 550);
}, 120_000);
