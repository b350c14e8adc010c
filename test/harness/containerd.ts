// Whether this machine can run the tests that need a real containerd, and why not if it
// cannot. As root, missing Debian packages are installed (scripts/setup-node.sh), like CI.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { basename, join } from "node:path";
import { preflight } from "../../agent/containerd/preflight.ts";
import { REPO } from "./server.ts";

/** The reason to skip (printed as "SKIP <file>: …"), or null when containerd tests can run. */
export function containerdSkipReason(testFile: string, o: { bins?: string[]; needs?: string } = {}): string | null {
  const reason = check(o);
  if (reason) console.warn(`SKIP test/e2e/${basename(testFile)}: ${reason}`);
  return reason;
}

function check(o: { bins?: string[]; needs?: string }): string | null {
  if (process.getuid?.() !== 0) return `not root: ${o.needs ?? "containerd"} need${o.needs ? "" : "s"} root`;
  let pf = preflight();
  if (pf.missingPackages.length || !existsSync("/bin/busybox")) {
    const r = spawnSync("bash", [join(REPO, "scripts/setup-node.sh")], { encoding: "utf8" });
    pf = preflight();
    if (pf.missingPackages.length) return `Debian packages missing and could not be installed (${pf.errors.join("; ")}): ${r.stderr}`;
  }
  for (const b of o.bins ?? []) if (spawnSync("sh", ["-c", `command -v ${b}`]).status !== 0) return `${b} not found`;
  if (!pf.ok) return pf.errors.join("; ");
  return null;
}
