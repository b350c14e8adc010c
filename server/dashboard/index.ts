// The web dashboard's page and assets at /dashboard/ on the API's port. They hold no data, so
// they load without a token (the API's authentication skips isDashboardPath); the page then
// calls the public API as whoever signs in, and RBAC decides what it shows.
import { pathNotFound } from "../errors";

export const DASHBOARD_PREFIX = "/dashboard";

export function isDashboardPath(path: string): boolean {
  return path === DASHBOARD_PREFIX || path.startsWith(`${DASHBOARD_PREFIX}/`);
}

// Scripts and styles only from this origin; API calls and the shell's WebSocket to it too.
// Inline styles are allowed for the terminal (xterm sizes its rows with style attributes).
const SECURITY_HEADERS: Record<string, string> = {
  "Content-Security-Policy":
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
};

type Assets = Record<string, { path: string; type: string }>;
let assets: Promise<Assets> | undefined;
/** Strong validators, one per file, computed the first time it is served. */
const etags = new Map<string, string>();

/** Loaded on the first request, so a server nobody browses never maps the asset table. */
function loadAssets(): Promise<Assets> {
  assets ??= import("./assets").then(
    (m) => m.ASSETS,
    (e) => {
      assets = undefined; // built later (from source)? try again next time
      throw e;
    },
  );
  return assets;
}

function notBuilt(e: unknown): Response {
  const msg = `the dashboard is not built into this server (run \`bun run build\`, or \`bun server/dashboard/build.ts\` when running from source): ${(e as Error).message}`;
  return new Response(msg + "\n", { status: 503, headers: { "Content-Type": "text/plain; charset=utf-8" } });
}

export async function serveDashboard(req: Request): Promise<Response> {
  const url = new URL(req.url);
  if (url.pathname === DASHBOARD_PREFIX) return new Response(null, { status: 301, headers: { Location: `${DASHBOARD_PREFIX}/${url.search}` } });
  const name = url.pathname.slice(DASHBOARD_PREFIX.length + 1) || "index.html";
  let table: Assets;
  try {
    table = await loadAssets();
  } catch (e) {
    return notBuilt(e);
  }
  const asset = Object.hasOwn(table, name) ? table[name] : undefined;
  if (!asset) {
    const s = pathNotFound(url.pathname).toStatus();
    return Response.json(s, { status: 404 });
  }
  const gz = new Uint8Array(await Bun.file(asset.path).arrayBuffer());
  let etag = etags.get(name);
  if (!etag) etags.set(name, (etag = `"${Bun.hash(gz).toString(36)}"`));
  // Revalidate on every load (a 304 is cheap on the node's network) so an upgraded server's
  // page never runs with the previous version's script.
  const headers: Record<string, string> = { ...SECURITY_HEADERS, "Content-Type": asset.type, "Cache-Control": "no-cache", ETag: etag, Vary: "Accept-Encoding" };
  if (req.headers.get("if-none-match") === etag) return new Response(null, { status: 304, headers });
  if (/\bgzip\b/.test(req.headers.get("accept-encoding") ?? "")) return new Response(gz, { headers: { ...headers, "Content-Encoding": "gzip" } });
  return new Response(Bun.gunzipSync(gz), { headers });
}
