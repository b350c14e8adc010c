// The shared rule writer's diffs (agent/services/iptables.ts): a change writes only the chains
// and set members it touches; a first write (or after a flush) rewrites everything, swapping
// sets that already exist so they are never seen half-filled; unwanted chains and sets go.
import { expect, test } from "bun:test";
import { chainsOf, ipsetScript, tableScript, type IpSet } from "../../agent/services/iptables.ts";

const chains = (o: Record<string, string[]>) => new Map(Object.entries(o));

test("incremental: only changed chains are declared (flushed) and refilled; stale ones deleted", () => {
  const applied = chains({ "SKIFF-A": ["-A SKIFF-A -j ACCEPT"], "SKIFF-B": ["-A SKIFF-B -j DROP"], "SKIFF-OLD": [] });
  const want = chains({ "SKIFF-A": ["-A SKIFF-A -j ACCEPT"], "SKIFF-B": ["-A SKIFF-B -j RETURN"], "SKIFF-NEW": ["-A SKIFF-NEW -j SKIFF-B"] });
  const s = tableScript("filter", want, applied, []);
  expect(s).toBe(["*filter", ":SKIFF-B - [0:0]", ":SKIFF-NEW - [0:0]", ":SKIFF-OLD - [0:0]", "-A SKIFF-B -j RETURN", "-A SKIFF-NEW -j SKIFF-B", "-X SKIFF-OLD", "COMMIT", ""].join("\n"));
  expect(tableScript("filter", want, want, [])).toBe("");
  // First write: everything, and ours found in the kernel but not wanted is deleted.
  const first = tableScript("nat", want, null, ["SKIFF-A", "SKIFF-GONE"]);
  expect(first).toContain(":SKIFF-A - [0:0]");
  expect(first).toContain("-X SKIFF-GONE");
  expect(chainsOf(first).get("SKIFF-NEW")).toEqual(["-A SKIFF-NEW -j SKIFF-B"]);
});

test("ipsets: members added and removed one by one; match ↔ nomatch is a del + add; new sets created; stale destroyed after", () => {
  const applied = new Map<string, IpSet>([
    ["SKIFF-S1", { type: "hash:ip", entries: ["10.0.0.1", "10.0.0.2"] }],
    ["SKIFF-S2", { type: "hash:net", entries: ["10.0.0.0/8", "10.1.0.0/16"] }],
    ["SKIFF-OLD", { type: "hash:ip", entries: [] }],
  ]);
  const want = new Map<string, IpSet>([
    ["SKIFF-S1", { type: "hash:ip", entries: ["10.0.0.2", "10.0.0.3"] }],
    ["SKIFF-S2", { type: "hash:net", entries: ["10.0.0.0/8", "10.1.0.0/16 nomatch"] }],
    ["SKIFF-S3", { type: "hash:ip", entries: ["10.0.0.9"] }],
  ]);
  const { before, after } = ipsetScript(want, applied, new Set());
  expect(before.trim().split("\n")).toEqual([
    "del SKIFF-S1 10.0.0.1 -exist",
    "add SKIFF-S1 10.0.0.3 -exist",
    "del SKIFF-S2 10.1.0.0/16 -exist",
    "add SKIFF-S2 10.1.0.0/16 nomatch -exist",
    "create SKIFF-S3 hash:ip family inet hashsize 64 maxelem 262144 -exist",
    "add SKIFF-S3 10.0.0.9 -exist",
  ]);
  expect(after).toBe("destroy SKIFF-OLD\n");
  expect(ipsetScript(want, want, new Set())).toEqual({ before: "", after: "" });
});

test("ipsets, first write: a set already in the kernel is filled aside and swapped in", () => {
  const want = new Map<string, IpSet>([["SKIFF-S1", { type: "hash:ip", entries: ["10.0.0.2"] }]]);
  const { before, after } = ipsetScript(want, null, new Set(["SKIFF-S1", "SKIFF-LEFT"]));
  expect(before.trim().split("\n")).toEqual([
    "create SKIFF-TMP-0 hash:ip family inet hashsize 64 maxelem 262144 -exist",
    "flush SKIFF-TMP-0",
    "add SKIFF-TMP-0 10.0.0.2 -exist",
    "create SKIFF-S1 hash:ip family inet hashsize 64 maxelem 262144 -exist",
    "swap SKIFF-TMP-0 SKIFF-S1",
    "destroy SKIFF-TMP-0",
  ]);
  expect(after).toBe("destroy SKIFF-LEFT\n");
});
