// The dashboard's built files (dist/dashboard/*.gz, made by ./build.ts), imported as files: in
// the compiled binary they are embedded and read only when served, so an idle server holds none
// of them in memory. Only ./serve.ts imports this module, on the first dashboard request.
import indexHtml from "../../dist/dashboard/index.html.gz" with { type: "file" };
import appJs from "../../dist/dashboard/app.js.gz" with { type: "file" };
import appCss from "../../dist/dashboard/app.css.gz" with { type: "file" };
import termJs from "../../dist/dashboard/term.js.gz" with { type: "file" };
import termCss from "../../dist/dashboard/term.css.gz" with { type: "file" };

/** File name → path of its gzip file and its media type. */
export const ASSETS: Record<string, { path: string; type: string }> = {
  "index.html": { path: indexHtml, type: "text/html; charset=utf-8" },
  "app.js": { path: appJs, type: "text/javascript; charset=utf-8" },
  "app.css": { path: appCss, type: "text/css; charset=utf-8" },
  "term.js": { path: termJs, type: "text/javascript; charset=utf-8" },
  "term.css": { path: termCss, type: "text/css; charset=utf-8" },
};
