// Deterministic simulation of the real Raft node driver: seeds 1..500 (odd seeds 3 nodes, even seeds 5).
import { test } from "bun:test";
import { runSeedRange } from "./seeds";

test("raft simulation seeds 1..500 keep every safety invariant and stay linearizable", () => {
  runSeedRange(1, 500);
}, 300_000);
