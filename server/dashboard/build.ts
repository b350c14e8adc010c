// Builds the dashboard's browser code (dashboard/, Preact + TSX) into dist/dashboard/: one gzip
// file per asset, with fixed names so server/dashboard/assets.ts can import them into the binary.
// `bun run build` runs this before `bun build --compile`; tests that start the server from
// source call buildDashboard() when the assets are missing or older than their sources.
//
//   bun server/dashboard/build.ts        # prints each asset's raw and gzipped size
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

export const REPO = resolve(import.meta.dir, "../..");
export const SRC = join(REPO, "dashboard");
export const OUT = join(REPO, "dist/dashboard");

/** The files the server serves; assets.ts imports exactly these. */
export const ASSET_NAMES = ["index.html", "app.js", "app.css", "term.js", "term.css"] as const;

export interface BuiltAsset {
  name: string;
  raw: number;
  gzip: number;
}

/** Newest modification time of the dashboard's sources (and this builder). */
export function sourcesMtime(): number {
  let newest = statSync(import.meta.path).mtimeMs;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  walk(SRC);
  return newest;
}

/** True when every asset exists and is newer than the sources. */
export function dashboardFresh(): boolean {
  const src = sourcesMtime();
  return ASSET_NAMES.every((n) => existsSync(join(OUT, `${n}.gz`)) && statSync(join(OUT, `${n}.gz`)).mtimeMs >= src);
}

export async function buildDashboard(): Promise<BuiltAsset[]> {
  const tmp = join(OUT, ".build");
  rmSync(tmp, { recursive: true, force: true });
  // Two entries, no code splitting: the shell's terminal (xterm) is loaded only when a shell
  // is opened, and shares nothing with the app, so each bundle stands alone with a fixed name.
  const r = await Bun.build({
    entrypoints: [join(SRC, "src/app.tsx"), join(SRC, "src/term.ts")],
    outdir: tmp,
    target: "browser",
    format: "esm",
    minify: true,
    naming: { entry: "[name].[ext]", asset: "[name].[ext]" },
    define: { "process.env.NODE_ENV": '"production"' },
  });
  if (!r.success) throw new AggregateError(r.logs, `dashboard build failed:\n${r.logs.map(String).join("\n")}`);
  writeFileSync(join(tmp, "index.html"), readFileSync(join(SRC, "index.html")));
  mkdirSync(OUT, { recursive: true });
  const out: BuiltAsset[] = [];
  for (const name of ASSET_NAMES) {
    const p = join(tmp, name);
    if (!existsSync(p)) throw new Error(`dashboard build did not produce ${name} (got ${readdirSync(tmp).join(", ")})`);
    const raw = readFileSync(p);
    const gz = Bun.gzipSync(raw, { level: 9 });
    writeFileSync(join(OUT, `${name}.gz`), gz);
    out.push({ name, raw: raw.byteLength, gzip: gz.byteLength });
  }
  rmSync(tmp, { recursive: true, force: true });
  return out;
}

if (import.meta.main) {
  const assets = await buildDashboard();
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
  for (const a of assets) console.log(`${a.name.padEnd(12)} ${kb(a.raw).padStart(10)} ${kb(a.gzip).padStart(10)} gzip`);
  const sum = (k: "raw" | "gzip") => assets.reduce((s, a) => s + a[k], 0);
  console.log(`${"total".padEnd(12)} ${kb(sum("raw")).padStart(10)} ${kb(sum("gzip")).padStart(10)} gzip`);
}
