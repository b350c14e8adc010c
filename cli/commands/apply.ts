// skiff apply -f: server-side apply of every document (SSA also creates), reported like kubectl.
import { ApiError, resourcePath } from "../../lib/client";
import { err,
  dryRunQuery,
  formatError,
  makeCtx,
  manifestNamespace,
  out,
  parseFlags,
  readManifests,
  reportError,
  resourceForManifest,
  UsageError,
  type FlagSpec,
} from "./common";
import { kindDotGroup, stripManagedFields, toJson, toYaml } from "./printers";

const spec: FlagSpec = {
  filename: { type: "strings", short: "f", default: [] },
  recursive: { type: "bool", short: "R" },
  "server-side": { type: "bool" },
  "force-conflicts": { type: "bool" },
  "dry-run": { type: "string", noOptDefault: "unchanged" },
  "field-manager": { type: "string", default: "skiff" },
  output: { type: "string", short: "o", default: "" },
  validate: { type: "string", noOptDefault: "strict", default: "strict" },
};

export async function run(args: string[]): Promise<number> {
  try {
    const p = parseFlags(args, spec, "skiff apply");
    if (p.positional.length) throw new UsageError(`Unexpected args: [${p.positional.join(" ")}]\nSee 'skiff apply -h' for help and examples`);
    const output: string = p.flags.output;
    if (!["", "yaml", "json", "name"].includes(output)) throw new UsageError(`unable to match a printer suitable for the output format "${output}", allowed formats are: json,name,yaml`);
    const dry = dryRunQuery(p.flags["dry-run"] === "unchanged" ? "client" : p.flags["dry-run"]);
    const ctx = makeCtx(p);
    const manifests = await readManifests(p.flags.filename, p.flags.recursive);
    if (!manifests.length) throw new UsageError("no objects passed to apply");
    const validation = String(p.flags.validate) === "false" || p.flags.validate === "ignore" ? "Ignore" : p.flags.validate === "warn" ? "Warn" : "Strict";
    let failed = false;
    for (const m of manifests) {
      try {
        const r = resourceForManifest(m);
        const name: string | undefined = m.obj.metadata?.name;
        if (!name) throw new UsageError(`error when retrieving current configuration of:\nResource: "${r.plural}", GroupVersionKind: "${r.apiVersion}, Kind=${r.kind}"\nfrom server for: "${m.source}": resource name may not be empty`);
        const ns = manifestNamespace(m, r, ctx);
        const body = structuredClone(m.obj);
        if (ns) body.metadata = { ...body.metadata, namespace: ns };
        const path = resourcePath(r, ns, name);
        let before: any;
        try {
          before = await ctx.client.get(path);
        } catch (e) {
          if (!(e instanceof ApiError && e.code === 404)) throw e;
        }
        const id = `${kindDotGroup(r.kind, r.group)}/${name}`;
        let result: any = body;
        if (!dry.client) {
          try {
            result = await ctx.client.patch(path, body, "application/apply-patch+yaml", {
              fieldManager: p.flags["field-manager"],
              fieldValidation: validation,
              force: p.flags["force-conflicts"] ? "true" : "false",
              dryRun: dry.dryRun,
            });
          } catch (e) {
            if (e instanceof ApiError) {
              const what = before ? "applying" : "creating";
              throw new ApiError({ ...e.status, message: `error when ${what} "${m.source}": ${e.message}` }, e.code);
            }
            throw e;
          }
        }
        if (output === "yaml") out(`---\n${toYaml(stripManagedFields(result))}`);
        else if (output === "json") out(toJson(stripManagedFields(result)));
        else if (output === "name") out(`${id}\n`);
        else {
          let verb: string;
          if (p.flags["server-side"]) verb = "serverside-applied";
          else if (!before) verb = "created";
          else if (dry.dryRun ? sameContent(before, result) : !dry.client && before.metadata?.resourceVersion === result?.metadata?.resourceVersion) verb = "unchanged";
          else verb = "configured";
          out(`${id} ${verb}${dry.suffix}\n`);
        }
      } catch (e) {
        failed = true;
        err(formatError(e) + "\n");
      }
    }
    return failed ? 1 : 0;
  } catch (e) {
    return reportError(e);
  }
}

/** For server dry runs (the resourceVersion does not move): did anything but bookkeeping change? */
function sameContent(a: any, b: any): boolean {
  const norm = (o: any) => {
    const { resourceVersion: _rv, managedFields: _mf, generation: _g, ...meta } = o?.metadata ?? {};
    const { status: _s, ...rest } = o ?? {};
    return JSON.stringify(sortDeep({ ...rest, metadata: meta }));
  };
  return norm(a) === norm(b);
}

function sortDeep(v: any): any {
  if (Array.isArray(v)) return v.map(sortDeep);
  if (v && typeof v === "object") return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortDeep(v[k])]));
  return v;
}
