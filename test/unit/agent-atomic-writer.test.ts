// configMap/secret volume writes cannot be redirected by a symlink planted in the volume.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeAtomic, type FileProjection } from "../../agent/volumes/atomic-writer";

let root: string;
let outside: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "skiff-atomic-"));
  outside = join(root, "outside");
  mkdirSync(outside);
  writeFileSync(join(outside, "passwd"), "host file\n");
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const files = (m: Record<string, string>) => new Map<string, FileProjection>(Object.entries(m).map(([k, v]) => [k, { data: v, mode: 0o644 }]));

test("a volume directory that is a symlink is refused", () => {
  symlinkSync(outside, join(root, "vol"));
  expect(() => writeAtomic(join(root, "vol"), files({ passwd: "evil\n" }))).toThrow("symlink or not a directory");
  expect(readFileSync(join(outside, "passwd"), "utf8")).toBe("host file\n");
});

test("planted top-level links and ..data are replaced, never written through or emptied", () => {
  const vol = join(root, "vol");
  mkdirSync(vol);
  symlinkSync(join(outside, "passwd"), join(vol, "passwd"));
  symlinkSync("../outside", join(vol, "..data"));
  symlinkSync(outside, join(vol, "nested"));
  expect(writeAtomic(vol, files({ passwd: "mine\n", "nested/x": "y" }))).toBe(true);
  expect(readFileSync(join(outside, "passwd"), "utf8")).toBe("host file\n");
  expect(readdirNames(outside)).toEqual(["passwd"]);
  expect(readFileSync(join(vol, "passwd"), "utf8")).toBe("mine\n");
  expect(readFileSync(join(vol, "nested", "x"), "utf8")).toBe("y");
  expect(readlinkSync(join(vol, "..data"))).toMatch(/^\.\.\d{4}_/);
  expect(lstatSync(join(vol, "nested")).isSymbolicLink()).toBe(true);
  expect(readlinkSync(join(vol, "nested"))).toBe("..data/nested");
});

test("an update swaps versions and leaves no old version behind", () => {
  const vol = join(root, "vol");
  writeAtomic(vol, files({ a: "1" }));
  const v1 = readlinkSync(join(vol, "..data"));
  expect(writeAtomic(vol, files({ a: "1" }))).toBe(false);
  writeAtomic(vol, files({ a: "2", "d/e": "3" }));
  expect(readFileSync(join(vol, "a"), "utf8")).toBe("2");
  expect(existsSync(join(vol, v1))).toBe(false);
});

function readdirNames(d: string): string[] {
  return (require("node:fs") as typeof import("node:fs")).readdirSync(d).sort();
}
