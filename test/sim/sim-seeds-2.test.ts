// Deterministic simulation of the real Raft node driver: seeds 501..1000 (odd seeds 3 nodes, even seeds 5).
import { test } from "bun:test";
import { runSeedRange } from "./seeds";

test("raft simulation seeds 501..1000 keep every safety invariant and stay linearizable", () => {
  runSeedRange(501, 500);
}, 300_000);
