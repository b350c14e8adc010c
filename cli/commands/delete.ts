// skiff delete: by file, by name, by label selector or --all; waits until the objects are gone.
import { ApiError, resourcePath, type KubeClient } from "../../lib/client";
import type { RegisteredResource } from "../../schemas/registry";
import {
  err,
  makeCtx,
  manifestNamespace,
  out,
  forEachTarget,
  parseFlags,
  parseTypeNames,
  readManifests,
  reportError,
  resourceForManifest,
  UsageError,
  dryRunQuery,
  type FlagSpec,
} from "./common";
import { kindDotGroup, pluralDotGroup } from "./printers";

const spec: FlagSpec = {
  filename: { type: "strings", short: "f", default: [] },
  recursive: { type: "bool", short: "R" },
  selector: { type: "string", short: "l" },
  "field-selector": { type: "string" },
  all: { type: "bool" },
  "all-namespaces": { type: "bool", short: "A" },
  cascade: { type: "string", default: "background", noOptDefault: "background" },
  "grace-period": { type: "int", default: -1 },
  now: { type: "bool" },
  force: { type: "bool" },
  wait: { type: "bool", default: true },
  timeout: { type: "string", default: "0s" },
  "ignore-not-found": { type: "bool" },
  "dry-run": { type: "string", noOptDefault: "unchanged" },
  output: { type: "string", short: "o", default: "" },
};

interface Target {
  r: RegisteredResource;
  ns: string | undefined;
  name: string;
}

export async function run(args: string[]): Promise<number> {
  try {
    const p = parseFlags(args, spec, "skiff delete");
    const policy = propagation(p.flags.cascade);
    let grace: number = p.flags["grace-period"];
    if (p.flags.now) grace = 1;
    if (p.flags.force && grace < 0) grace = 0;
    if (p.flags.force && grace === 0) err("Warning: Immediate deletion does not wait for confirmation that the running resource has been terminated. The resource may continue to run on the cluster indefinitely.\n");
    const dry = dryRunQuery(p.flags["dry-run"] === "unchanged" ? "client" : p.flags["dry-run"]);
    const timeoutMs = parseDuration(p.flags.timeout);
    const ctx = makeCtx(p);
    const allNs = !!p.flags["all-namespaces"];

    const targets: Target[] = [];
    let ignoreNotFound = !!p.flags["ignore-not-found"];
    if (p.flags.filename.length) {
      if (p.positional.length) throw new UsageError("resource(s) were provided, but no name was specified");
      for (const m of await readManifests(p.flags.filename, p.flags.recursive)) {
        const r = resourceForManifest(m);
        targets.push({ r, ns: manifestNamespace(m, r, ctx), name: m.obj.metadata?.name });
      }
    } else {
      const t = parseTypeNames(p.positional);
      if (t.typed) {
        for (const [r, name] of t.typed) targets.push({ r, ns: r.namespaced ? ctx.namespace : undefined, name });
      } else {
        const bySelector = !!(p.flags.selector || p.flags["field-selector"] || p.flags.all);
        if (t.names.length && bySelector) throw new UsageError("name cannot be provided when a selector is specified");
        if (!t.names.length && !bySelector) throw new UsageError("resource(s) were provided, but no name was specified");
        for (const r of t.res) {
          if (t.names.length) {
            for (const name of t.names) targets.push({ r, ns: r.namespaced ? ctx.namespace : undefined, name });
            continue;
          }
          // Selector/--all deletes list first, like kubectl, then delete each object.
          const list = await ctx.client.list(resourcePath(r, allNs ? undefined : ctx.namespace), {
            labelSelector: p.flags.selector,
            fieldSelector: p.flags["field-selector"],
          });
          for (const o of list.items ?? []) targets.push({ r, ns: r.namespaced ? o.metadata?.namespace : undefined, name: o.metadata.name });
        }
        if (!targets.length) {
          err(allNs || !t.res.some((r) => r.namespaced) ? "No resources found\n" : `No resources found in ${ctx.namespace} namespace.\n`);
          return 0;
        }
        ignoreNotFound = true; // listed objects may vanish before we get to them
      }
    }

    const body: Record<string, unknown> = { kind: "DeleteOptions", apiVersion: "v1", propagationPolicy: policy };
    if (grace >= 0) body.gracePeriodSeconds = grace;
    if (dry.dryRun) body.dryRun = [dry.dryRun];
    const deleted: { t: Target; uid?: string }[] = [];
    let failed = await forEachTarget(
      targets,
      async (t) => {
        if (!t.name) throw new UsageError(`resource name may not be empty`);
        let res: any;
        if (!dry.client) res = await ctx.client.delete(resourcePath(t.r, t.ns, t.name), body);
        out(p.flags.output === "name" ? `${kindDotGroup(t.r.kind, t.r.group)}/${t.name}\n` : `${kindDotGroup(t.r.kind, t.r.group)} "${t.name}" deleted${dry.suffix}\n`);
        // A Status reply means the object is already gone; an object reply means it is terminating.
        if (!dry.client && !dry.dryRun && res?.kind !== "Status") deleted.push({ t, uid: res?.metadata?.uid });
      },
      (e) => e instanceof ApiError && e.code === 404 && ignoreNotFound,
    );
    if (p.flags.wait && deleted.length) {
      const deadline = timeoutMs > 0 ? Date.now() + timeoutMs : Infinity;
      const waitFailed = await forEachTarget(deleted, async ({ t, uid }) => {
        if (!(await waitGone(ctx.client, t, uid, deadline))) throw new Error(`timed out waiting for the condition on ${pluralDotGroup(t.r.plural, t.r.group)}/${t.name}`);
      });
      failed ||= waitFailed;
    }
    return failed ? 1 : 0;
  } catch (e) {
    return reportError(e);
  }
}

function propagation(cascade: string): string {
  switch (cascade) {
    case "background":
    case "true":
      return "Background";
    case "foreground":
      return "Foreground";
    case "orphan":
    case "false":
      return "Orphan";
    default:
      throw new UsageError(`invalid cascade value (${cascade}). Must be "background", "foreground", or "orphan"`);
  }
}

export function parseDuration(s: string): number {
  if (/^\d+$/.test(s)) return Number(s) * 1000;
  let ms = 0;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let m: RegExpExecArray | null;
  let consumed = 0;
  while ((m = re.exec(s))) {
    ms += Number(m[1]) * { ms: 1, s: 1000, m: 60000, h: 3600000 }[m[2] as "ms" | "s" | "m" | "h"];
    consumed += m[0].length;
  }
  if (consumed !== s.length) throw new UsageError(`invalid argument "${s}" for "--timeout" flag: time: invalid duration "${s}"`);
  return ms;
}

/**
 * Wait until the object (with this uid) no longer exists: GET, then watch by name from the
 * GET's resourceVersion. Says on stderr what it waits for when that takes more than 2 s.
 */
async function waitGone(client: KubeClient, t: Target, uid: string | undefined, deadline: number): Promise<boolean> {
  const path = resourcePath(t.r, t.ns, t.name);
  const collection = resourcePath(t.r, t.ns);
  const progress = setTimeout(() => err(`waiting for ${kindDotGroup(t.r.kind, t.r.group)} "${t.name}" to be deleted...\n`), 2000);
  try {
    while (Date.now() < deadline) {
      let cur: any;
      try {
        cur = await client.get(path);
      } catch (e) {
        if (e instanceof ApiError && e.code === 404) return true;
        throw e;
      }
      if (uid && cur?.metadata?.uid !== uid) return true;
      const ac = new AbortController();
      const remaining = deadline - Date.now();
      // Re-check by GET now and then in case the watch is quiet (e.g. a missed event).
      const timer = setTimeout(() => ac.abort(), Math.min(remaining, 10_000));
      let gone = false;
      try {
        await client.watch(
          collection,
          { fieldSelector: `metadata.name=${t.name}`, resourceVersion: cur?.metadata?.resourceVersion, allowWatchBookmarks: "true", timeoutSeconds: 300 },
          (ev) => {
            if (ev.type === "DELETED" && (!uid || ev.object?.metadata?.uid === uid)) {
              gone = true;
              return false;
            }
            if (ev.type === "ERROR") return false;
          },
          ac.signal,
        );
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        // The watch was refused (e.g. 410): fall back to the GET loop.
        await Bun.sleep(500);
      } finally {
        clearTimeout(timer);
      }
      if (gone) return true;
      await Bun.sleep(200);
    }
    return false;
  } finally {
    clearTimeout(progress);
  }
}
