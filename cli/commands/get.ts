// skiff get: tables from the server's Table responses, -o yaml|json|name|wide, -A, -l, -w.
import { ApiError, resourcePath, TABLE_ACCEPT, type KubeClient } from "../../lib/client";
import { registry, type RegisteredResource } from "../../schemas/registry";
import { err, makeCtx, out, parseFlags, parseTypeNames, reportError, UsageError, type Ctx, type FlagSpec } from "./common";
import { customColumns, jsonpath } from "./jsonpath";
import {
  alignRows,
  columnWidths,
  kindDotGroup,
  stripManagedFields,
  tableRows,
  toJson,
  toYaml,
  type Table,
  type TableOptions,
} from "./printers";

const spec: FlagSpec = {
  output: { type: "string", short: "o", default: "" },
  "all-namespaces": { type: "bool", short: "A" },
  selector: { type: "string", short: "l" },
  "field-selector": { type: "string" },
  watch: { type: "bool", short: "w" },
  "watch-only": { type: "bool" },
  "show-labels": { type: "bool" },
  "show-kind": { type: "bool" },
  "no-headers": { type: "bool" },
  "ignore-not-found": { type: "bool" },
  "chunk-size": { type: "int" },
  filename: { type: "strings", short: "f" },
};

interface Query {
  res: RegisteredResource;
  names: string[];
}

export async function run(args: string[]): Promise<number> {
  try {
    const p = parseFlags(args, spec, "skiff get");
    const ctx = makeCtx(p);
    let output: string = p.flags.output;
    let template = "";
    const tm = /^(jsonpath|custom-columns)=(.*)$/s.exec(output);
    if (tm) {
      output = tm[1]!;
      template = tm[2]!.replace(/^'(.*)'$/s, "$1");
    }
    if (!["", "wide", "yaml", "json", "name", "jsonpath", "custom-columns"].includes(output) || (tm && !template))
      throw new UsageError(
        `unable to match a printer suitable for the output format "${p.flags.output}", allowed formats are: custom-columns,json,jsonpath,name,wide,yaml`,
      );
    const plain = ["yaml", "json", "name", "jsonpath", "custom-columns"].includes(output);
    const queries = buildQueries(p.positional);
    const allNs = !!p.flags["all-namespaces"];
    const query = {
      labelSelector: p.flags.selector,
      fieldSelector: p.flags["field-selector"],
    };
    if (p.flags.watch || p.flags["watch-only"]) {
      if (queries.length !== 1) throw new UsageError("you may only specify a single resource type");
      return await watchCmd(ctx, queries[0]!, allNs, query, output, p.flags);
    }
    const multiKind = queries.length > 1 || p.flags["show-kind"];
    let failed = false;
    let anyRows = false;
    const objects: any[] = [];
    let singleObject = false;
    let printedTables = 0;
    for (const q of queries) {
      const ns = allNs ? undefined : ctx.namespace;
      if (plain) {
        if (q.names.length) {
          for (const name of q.names) {
            try {
              objects.push(withTypeMeta(await ctx.client.get(resourcePath(q.res, ns, name)), q.res));
            } catch (e) {
              if (e instanceof ApiError && e.code === 404 && p.flags["ignore-not-found"]) continue;
              failed = true;
              reportError(e);
            }
          }
          singleObject = queries.length === 1 && q.names.length === 1;
        } else {
          const list = await ctx.client.list(resourcePath(q.res, ns), query);
          for (const item of list.items ?? []) objects.push(withTypeMeta(item, q.res));
        }
        continue;
      }
      // Table output.
      let table: Table | undefined;
      if (q.names.length) {
        for (const name of q.names) {
          try {
            const t = asTable(await ctx.client.get(resourcePath(q.res, ns, name), undefined, TABLE_ACCEPT), q.res);
            if (!table) table = t;
            else table.rows.push(...t.rows);
          } catch (e) {
            if (e instanceof ApiError && e.code === 404 && p.flags["ignore-not-found"]) continue;
            failed = true;
            reportError(e);
          }
        }
      } else {
        table = asTable(await ctx.client.list(resourcePath(q.res, ns), query, TABLE_ACCEPT), q.res);
      }
      if (!table || table.rows.length === 0) continue;
      anyRows = true;
      const opts: TableOptions = {
        wide: output === "wide",
        withNamespace: allNs && q.res.namespaced,
        noHeaders: p.flags["no-headers"],
        showLabels: p.flags["show-labels"],
        kindPrefix: multiKind ? kindDotGroup(q.res.kind, q.res.group) : undefined,
      };
      if (printedTables++ > 0) out("\n");
      out(alignRows(tableRows(table, opts)).join("\n") + "\n");
    }
    if (output === "custom-columns") {
      const rows = customColumns(template, objects);
      if (p.flags["no-headers"]) rows.shift();
      if (objects.length) out(alignRows(rows).join("\n") + "\n");
      else if (!failed && queries.every((q) => !q.names.length)) noResources(ctx, queries, allNs);
    } else if (output === "yaml" || output === "json" || output === "jsonpath") {
      const doc = singleObject && objects.length === 1 ? stripManagedFields(objects[0]) : { apiVersion: "v1", items: objects.map(stripManagedFields), kind: "List", metadata: { resourceVersion: "" } };
      if (singleObject && objects.length === 0) return 1;
      if (output === "jsonpath") out(jsonpath(template, doc));
      else out(output === "yaml" ? toYaml(doc) : toJson(doc));
    } else if (output === "name") {
      for (const o of objects) {
        const r = queries.find((q) => q.res.kind === o.kind)?.res;
        out(`${r ? kindDotGroup(r.kind, r.group) : String(o.kind).toLowerCase()}/${o.metadata?.name}\n`);
      }
      if (objects.length === 0 && !failed && queries.every((q) => !q.names.length)) noResources(ctx, queries, allNs);
    } else if (!anyRows && !failed && queries.every((q) => !q.names.length)) {
      noResources(ctx, queries, allNs);
    }
    return failed ? 1 : 0;
  } catch (e) {
    return reportError(e);
  }
}

function buildQueries(positional: string[]): Query[] {
  if (positional.length === 0)
    throw new UsageError(
      "You must specify the type of resource to get. Use \"skiff api-resources\" for a complete list of supported resources.",
    );
  const first = positional[0]!;
  if (!first.includes("/") && first.split(",").includes("all")) {
    const qs: Query[] = [];
    for (const kind of first.split(",")) {
      if (kind === "all") {
        // kubectl's order: core, then groups as discovery lists them; plural names A-Z within a group.
        const rank = (g: string) => ["", "apps", "autoscaling", "batch"].indexOf(g) >>> 0;
        const members = registry
          .filter((r) => r.categories?.includes("all"))
          .sort((a, b) => rank(a.group) - rank(b.group) || a.group.localeCompare(b.group) || a.plural.localeCompare(b.plural));
        for (const r of members) if (!qs.some((q) => q.res === r)) qs.push({ res: r, names: positional.slice(1) });
      } else qs.push(...parseTypeNames([kind, ...positional.slice(1)]).res.map((res) => ({ res, names: positional.slice(1) })));
    }
    return qs;
  }
  const t = parseTypeNames(positional);
  if (t.typed) {
    const qs: Query[] = [];
    for (const [res, name] of t.typed) {
      const q = qs.find((x) => x.res === res);
      if (q) q.names.push(name);
      else qs.push({ res, names: [name] });
    }
    return qs;
  }
  return t.res.map((res) => ({ res, names: t.names }));
}

function noResources(ctx: Ctx, queries: Query[], allNs: boolean): void {
  const namespaced = queries.some((q) => q.res.namespaced);
  if (allNs || !namespaced) err("No resources found\n");
  else err(`No resources found in ${ctx.namespace} namespace.\n`);
}

function withTypeMeta(o: any, r: RegisteredResource): any {
  return { apiVersion: o.apiVersion ?? r.apiVersion, kind: o.kind ?? r.kind, ...o };
}

/** The server's Table, or one built here from the registry's columns when it sent a plain object/list. */
export function asTable(body: any, r: RegisteredResource, now = Date.now()): Table {
  if (body?.kind === "Table") return { ...body, rows: body.rows ?? [] };
  const items: any[] = Array.isArray(body?.items) ? body.items : body?.metadata ? [body] : [];
  const cols = r.columns.length
    ? r.columns
    : [
        { name: "Name", type: "string" as const, format: "name", priority: 0 as const, description: "", cell: (o: any) => o.metadata?.name ?? "" },
        {
          name: "Age",
          type: "date" as const,
          priority: 0 as const,
          description: "",
          cell: (o: any) => o.metadata?.creationTimestamp ?? null,
        },
      ];
  return {
    kind: "Table",
    metadata: { resourceVersion: body?.metadata?.resourceVersion },
    columnDefinitions: cols.map((c) => ({ name: c.name, type: c.type, format: c.format, priority: c.priority })),
    rows: items.map((o) => ({ cells: cols.map((c) => c.cell(o, now)), object: { metadata: o.metadata } })),
  };
}

async function watchCmd(ctx: Ctx, q: Query, allNs: boolean, query: Record<string, string | undefined>, output: string, flags: Record<string, any>): Promise<number> {
  const ns = allNs ? undefined : ctx.namespace;
  if (q.names.length > 1) throw new UsageError("watch is only supported on individual resources and resource collections, but 2 resources were found");
  const fieldSelector = [query.fieldSelector, q.names[0] ? `metadata.name=${q.names[0]}` : undefined].filter(Boolean).join(",") || undefined;
  const listQuery = { labelSelector: query.labelSelector, fieldSelector };
  const path = resourcePath(q.res, ns);
  const table = output === "" || output === "wide";
  const opts: TableOptions = {
    wide: output === "wide",
    withNamespace: allNs && q.res.namespaced,
    noHeaders: flags["no-headers"],
    showLabels: flags["show-labels"],
  };
  const client: KubeClient = ctx.client;
  const printObjects = (objs: any[]) => {
    for (const o of objs) {
      const obj = stripManagedFields(withTypeMeta(o, q.res));
      if (output === "yaml") out("---\n" + toYaml(obj));
      else if (output === "json") out(toJson(obj));
      else out(`${kindDotGroup(q.res.kind, q.res.group)}/${o.metadata?.name}\n`);
    }
  };
  let widths: number[] | undefined;
  let headerPrinted = !!flags["no-headers"];
  let columns: Table["columnDefinitions"] | undefined;
  const printTableRows = (t: Table) => {
    // Watch events after the first carry rows only (columnDefinitions null): reuse the list's.
    if (t.columnDefinitions?.length) columns = t.columnDefinitions;
    else if (columns) t = { ...t, columnDefinitions: columns };
    const rows = tableRows(t, opts, !headerPrinted);
    if (!rows.length) return;
    if (!widths) widths = columnWidths(rows);
    headerPrinted = true;
    out(alignRows(rows, widths).join("\n") + "\n");
  };

  let rv: string | undefined;
  const list = await client.list(path, listQuery, table ? TABLE_ACCEPT : undefined);
  rv = list?.metadata?.resourceVersion;
  if (!flags["watch-only"]) {
    if (table) {
      const t = asTable(list, q.res);
      if (t.rows.length === 0 && !q.names.length) noResources(ctx, [q], allNs);
      printTableRows(t);
    } else printObjects(list.items ?? []);
  }
  const ac = new AbortController();
  const stop = () => ac.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    while (!ac.signal.aborted) {
      let expired = false;
      await client.watch(
        path,
        { ...listQuery, resourceVersion: rv, allowWatchBookmarks: "true" },
        (ev) => {
          if (ev.type === "ERROR") {
            if (ev.object?.code === 410) expired = true;
            else throw new ApiError(ev.object, ev.object?.code ?? 500);
            return false;
          }
          const newRv = ev.object?.metadata?.resourceVersion ?? ev.object?.rows?.[0]?.object?.metadata?.resourceVersion;
          if (newRv) rv = newRv;
          if (ev.type === "BOOKMARK") return;
          if (table) printTableRows(asTable(ev.object, q.res));
          else printObjects(ev.object?.kind === "Table" ? ev.object.rows.map((r: any) => r.object) : [ev.object]);
        },
        ac.signal,
        table ? TABLE_ACCEPT : undefined,
      );
      if (expired) {
        // Our resourceVersion fell out of the server's window: relist, then watch again.
        const l = await client.list(path, listQuery, table ? TABLE_ACCEPT : undefined);
        rv = l?.metadata?.resourceVersion;
      }
      if (!ac.signal.aborted) await Bun.sleep(200);
    }
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
  return 0;
}
