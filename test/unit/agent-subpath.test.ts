// subPath safety (CVE-2017-1002101): symlinks out of the volume are refused, a swapped-in
// symlink is not followed, the bind mount is of the opened directory, and subPathExpr expands
// from the container's environment like kubelet's.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync, lstatSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkSubPath, expandSubPathExpr, openWithin, prepareSubPath, SubPathError } from "../../agent/volumes/subpath";
import { isMountPoint, unmountAll } from "../../agent/volumes/mount";
import { closeSync } from "node:fs";

let root: string;
let vol: string;
let pod: string;
const root0 = process.getuid?.() === 0;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "skiff-subpath-"));
  vol = join(root, "vol");
  pod = join(root, "pod");
  mkdirSync(join(vol, "data", "inner"), { recursive: true });
  writeFileSync(join(vol, "data", "inner", "file.txt"), "in the volume\n");
  symlinkSync("/", join(vol, "escape"));
  symlinkSync("/etc", join(vol, "data", "etc"));
  symlinkSync("data/inner", join(vol, "alias"));
  symlinkSync(join(root, "nowhere"), join(vol, "dangling"));
});
afterAll(() => {
  unmountAll(pod);
  rmSync(root, { recursive: true, force: true });
});

const mountOf = (subPath: string, index = 0) => prepareSubPath({ volumePath: vol, volumeName: "v", subPath, podDir: pod, container: "c", index });

describe("checks", () => {
  test("absolute paths and '..' are refused with kubelet's messages", () => {
    expect(() => checkSubPath("/etc")).toThrow('SubPath "/etc" must not be an absolute path');
    expect(() => checkSubPath("a/../../b")).toThrow("must not contain '..'");
    expect(() => checkSubPath("a/b..c")).not.toThrow();
  });
  test("a symlink out of the volume is refused before anything is mounted", () => {
    expect(() => mountOf("escape")).toThrow(/subpath "\/" not within volume path/);
    expect(() => mountOf("data/etc/passwd")).toThrow(/not within volume path/);
    expect(() => mountOf("dangling")).toThrow(SubPathError);
    expect(existsSync(join(pod, "volume-subpaths"))).toBe(false);
  });
  test("opening component by component refuses a symlink even where the path resolves inside", () => {
    // "alias" -> data/inner stays inside; the O_NOFOLLOW walk still refuses to pass through it,
    // which is what stops a symlink swapped in between the check and the open.
    expect(() => openWithin(vol, "alias/file.txt")).toThrow(/symlink/);
    expect(() => openWithin(vol, "escape")).toThrow(/symlink/);
    closeSync(openWithin(vol, "data/inner/file.txt"));
  });
  test("missing components are created as directories, never through a symlink", () => {
    closeSync(openWithin(vol, "made/a/b", true));
    expect(lstatSync(join(vol, "made/a/b")).isDirectory()).toBe(true);
    expect(() => openWithin(vol, "escape/tmp-skiff-x", true)).toThrow(/symlink/);
    expect(existsSync("/tmp-skiff-x")).toBe(false);
  });
});

describe.skipIf(!root0)("bind mounts (root)", () => {
  test("a directory subPath is bind-mounted from the opened fd; a symlink inside the volume resolves", () => {
    const t = mountOf("data/inner", 0);
    expect(t).toBe(join(pod, "volume-subpaths", "v", "c", "0"));
    expect(isMountPoint(t)).toBe(true);
    expect(readFileSync(join(t, "file.txt"), "utf8")).toBe("in the volume\n");
    const viaAlias = mountOf("alias", 1);
    expect(readFileSync(join(viaAlias, "file.txt"), "utf8")).toBe("in the volume\n");
  });
  test("a file subPath, and a missing one made as a directory; a second mount replaces the first", () => {
    const f = mountOf("data/inner/file.txt", 2);
    expect(readFileSync(f, "utf8")).toBe("in the volume\n");
    const d = mountOf("new/dir", 3);
    expect(lstatSync(join(vol, "new/dir")).isDirectory()).toBe(true);
    expect(isMountPoint(d)).toBe(true);
    const again = mountOf("data", 3);
    expect(existsSync(join(again, "inner", "file.txt"))).toBe(true);
  });
});

describe("subPathExpr", () => {
  test("expands $(VAR) and $$ from the container's env; a missing or empty variable is an error", () => {
    const env = [
      { key: "POD_NAME", value: "web-0" },
      { key: "EMPTY", value: "" },
    ];
    expect(expandSubPathExpr("logs/$(POD_NAME)", env)).toBe("logs/web-0");
    expect(expandSubPathExpr("a$$b", env)).toBe("a$b");
    expect(() => expandSubPathExpr("$(NOPE)/$(EMPTY)", env)).toThrow("missing value for EMPTY, NOPE");
  });
});
