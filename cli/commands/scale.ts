// skiff scale KIND NAME --replicas=N: merge-patch of the /scale subresource, like kubectl.
import { resourcePath } from "../../lib/client";
import type { RegisteredResource } from "../../schemas/registry";
import { forEachTarget, makeCtx, manifestNamespace, out, parseFlags, parseTypeNames, readManifests, reportError, resourceForManifest, UsageError, type FlagSpec } from "./common";
import { kindDotGroup } from "./printers";

const spec: FlagSpec = {
  replicas: { type: "int", default: -1 },
  "current-replicas": { type: "int", default: -1 },
  filename: { type: "strings", short: "f", default: [] },
  selector: { type: "string", short: "l" },
  all: { type: "bool" },
  output: { type: "string", short: "o", default: "" },
};

export async function run(args: string[]): Promise<number> {
  try {
    const p = parseFlags(args, spec, "skiff scale");
    const replicas: number = p.flags.replicas;
    if (!p.given.has("replicas")) throw new UsageError("required flag(s) \"replicas\" not set");
    if (replicas < 0) throw new UsageError("The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0");
    const ctx = makeCtx(p);
    const targets: { r: RegisteredResource; ns: string | undefined; name: string }[] = [];
    if (p.flags.filename.length) {
      for (const m of await readManifests(p.flags.filename)) {
        const r = resourceForManifest(m);
        targets.push({ r, ns: manifestNamespace(m, r, ctx), name: m.obj.metadata?.name });
      }
    } else {
      const t = parseTypeNames(p.positional);
      if (t.typed) for (const [r, name] of t.typed) targets.push({ r, ns: r.namespaced ? ctx.namespace : undefined, name });
      else {
        for (const r of t.res) {
          let names = t.names;
          if (!names.length && (p.flags.selector || p.flags.all)) {
            const list = await ctx.client.list(resourcePath(r, ctx.namespace), { labelSelector: p.flags.selector });
            names = (list.items ?? []).map((o: any) => o.metadata.name);
          }
          if (!names.length && !p.flags.selector && !p.flags.all) throw new UsageError("resource(s) were provided, but no name was specified");
          for (const name of names) targets.push({ r, ns: r.namespaced ? ctx.namespace : undefined, name });
        }
      }
    }
    const failed = await forEachTarget(targets, async ({ r, ns, name }) => {
        if (!r.subresources?.scale) throw new UsageError(`cannot scale ${r.plural}: the resource has no scale subresource`);
        const path = resourcePath(r, ns, name, "scale");
        if (p.flags["current-replicas"] >= 0) {
          const cur = await ctx.client.get(path);
          const have = cur?.spec?.replicas ?? 0;
          if (have !== p.flags["current-replicas"])
            throw new UsageError(`Expected replicas to be ${p.flags["current-replicas"]}, was ${have}`);
        }
        await ctx.client.patch(path, { spec: { replicas } }, "application/merge-patch+json");
        const id = `${kindDotGroup(r.kind, r.group)}/${name}`;
        out(p.flags.output === "name" ? `${id}\n` : `${id} scaled\n`);
    });
    return failed ? 1 : 0;
  } catch (e) {
    return reportError(e);
  }
}
