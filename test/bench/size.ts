// `bun run bench size`: the sizes of dist/skiff and dist/skiff-arm64 as built, and compressed
// the ways they are shipped (gzip -9, xz -9). Builds first unless --no-build.
import { existsSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

const REPO = resolve(import.meta.dir, "../..");
const BINARIES = ["dist/skiff", "dist/skiff-arm64"];

function compressedSize(cmd: string[], file: string): number {
  const p = Bun.spawnSync([...cmd, file], { stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`${cmd.join(" ")} ${file}: ${p.stderr.toString()}`);
  return p.stdout.byteLength;
}

const mb = (n: number) => (n / 1e6).toFixed(1);

export async function main(args: string[]): Promise<void> {
  if (!args.includes("--no-build")) {
    const b = Bun.spawnSync([process.execPath, "run", "build"], { cwd: REPO, stdout: "pipe", stderr: "pipe" });
    if (b.exitCode !== 0) throw new Error(`bun run build failed: ${b.stderr.toString()}`);
  }
  const rows: string[][] = [];
  for (const rel of BINARIES) {
    const f = join(REPO, rel);
    if (!existsSync(f)) throw new Error(`${rel} is missing (bun run build)`);
    const raw = statSync(f).size;
    const gz = compressedSize(["gzip", "-9", "-c"], f);
    const xz = compressedSize(["xz", "-9", "-T2", "-c"], f);
    rows.push([rel, mb(raw), mb(gz), mb(xz), `${((xz / raw) * 100).toFixed(0)} %`]);
  }
  const head = ["binary", "MB", "gzip -9 MB", "xz -9 MB", "xz/raw"];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join("  ");
  console.log([line(head), line(w.map((n) => "-".repeat(n))), ...rows.map(line)].join("\n"));
}
