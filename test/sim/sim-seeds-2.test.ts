// Deterministic simulation: seeds 551..1100 (odd seeds 3 nodes, even seeds 5 nodes).
import { test } from "bun:test";
import { runSeedRange } from "./seeds";

test("raft simulation seeds 551..1100 keep every safety invariant and stay linearizable", () => {
  runSeedRange(551, 550);
}, 120_000);
