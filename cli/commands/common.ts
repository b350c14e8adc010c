// Shared by the kubectl-like verbs: flag parsing, client setup from the kubeconfig,
// resource resolution, manifest reading and kubectl-style error output.
import { existsSync, readdirSync, readFileSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { ApiError, ConnectionError, KubeClient } from "../../lib/client";
import { KubeconfigError, loadKubeconfig, type ClientConfig } from "../../lib/kubeconfig";
import { findByKind, resolveUserResource, type RegisteredResource } from "../../schemas/registry";

export class UsageError extends Error {}

/** strings: comma-separated and repeatable (stringSlice); array: repeatable, no splitting (stringArray). */
export type FlagType = "string" | "bool" | "int" | "strings" | "array";
export interface FlagDef {
  type: FlagType;
  short?: string;
  default?: unknown;
  /** Value when the flag is given without "=value" (kubectl's NoOptDefVal, e.g. --dry-run). */
  noOptDefault?: string;
}
export type FlagSpec = Record<string, FlagDef>;

/** Flags every verb accepts (kubectl's global flags that matter here). */
export const globalFlags: FlagSpec = {
  kubeconfig: { type: "string" },
  namespace: { type: "string", short: "n" },
  context: { type: "string" },
  server: { type: "string", short: "s" },
  token: { type: "string" },
  "insecure-skip-tls-verify": { type: "bool" },
  "request-timeout": { type: "string" },
  v: { type: "int", short: "v" },
};

export interface Parsed {
  flags: Record<string, any>;
  positional: string[];
  /** Flags the user actually gave (to tell "-n default" from no -n). */
  given: Set<string>;
}

const BOOL_VALUES: Record<string, boolean> = { true: true, false: false, "1": true, "0": false, t: true, f: false, TRUE: true, FALSE: false, True: true, False: false };

/** Parse kubectl-style flags: --a=b, --a b, -n ns, -nns, -n=ns, --bool, --bool=false, -Aw, `--`. */
export function parseFlags(args: string[], spec: FlagSpec, verb = "skiff"): Parsed {
  const all: FlagSpec = { ...globalFlags, ...spec };
  const byShort = new Map<string, string>();
  for (const [name, d] of Object.entries(all)) if (d.short) byShort.set(d.short, name);
  const flags: Record<string, any> = {};
  for (const [name, d] of Object.entries(all)) if (d.default !== undefined) flags[name] = d.default;
  const given = new Set<string>();
  const positional: string[] = [];

  const set = (name: string, raw: string | undefined, next: () => string | undefined) => {
    const d = all[name]!;
    given.add(name);
    if (d.type === "bool") {
      if (raw === undefined) flags[name] = true;
      else if (raw in BOOL_VALUES) flags[name] = BOOL_VALUES[raw];
      else throw new UsageError(`invalid argument "${raw}" for "--${name}" flag: strconv.ParseBool: parsing "${raw}": invalid syntax`);
      return;
    }
    const v = raw ?? (d.noOptDefault !== undefined ? d.noOptDefault : next());
    if (v === undefined) throw new UsageError(`flag needs an argument: --${name}`);
    if (d.type === "int") {
      if (!/^-?\d+$/.test(v)) throw new UsageError(`invalid argument "${v}" for "--${name}" flag: strconv.ParseInt: parsing "${v}": invalid syntax`);
      flags[name] = Number(v);
    } else if (d.type === "strings") {
      flags[name] = [...(Array.isArray(flags[name]) ? flags[name] : []), ...v.split(",").filter(Boolean)];
    } else if (d.type === "array") {
      flags[name] = [...(Array.isArray(flags[name]) ? flags[name] : []), v];
    } else flags[name] = v;
  };

  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const next = () => (i + 1 < args.length ? args[++i] : undefined);
    if (a === "--") {
      positional.push(...args.slice(i + 1));
      break;
    }
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      if (!all[name]) throw new UsageError(`unknown flag: --${name}\nSee '${verb} --help' for usage.`);
      set(name, eq >= 0 ? a.slice(eq + 1) : undefined, next);
    } else if (a.startsWith("-") && a.length > 1 && !/^-\d/.test(a)) {
      // Short flags: a run of bools (-Aw), or one flag with its value attached (-nfoo, -n=foo, -oyaml).
      for (let j = 1; j < a.length; j++) {
        const ch = a[j]!;
        const name = byShort.get(ch);
        if (!name) throw new UsageError(`unknown shorthand flag: '${ch}' in ${a}\nSee '${verb} --help' for usage.`);
        if (all[name]!.type === "bool") {
          if (a[j + 1] === "=") {
            set(name, a.slice(j + 2), next);
            break;
          }
          set(name, undefined, next);
          continue;
        }
        let rest = a.slice(j + 1);
        if (rest.startsWith("=")) rest = rest.slice(1);
        set(name, rest === "" ? undefined : rest, next);
        break;
      }
    } else positional.push(a);
  }
  return { flags, positional, given };
}

export interface Ctx {
  client: KubeClient;
  cfg: ClientConfig;
  /** -n, else the context's namespace, else "default". */
  namespace: string;
  /** true when -n/--namespace was given. */
  explicitNamespace: boolean;
}

export function makeCtx(p: Parsed): Ctx {
  const cfg = loadKubeconfig({
    path: p.flags.kubeconfig,
    context: p.flags.context,
    server: p.flags.server,
    token: p.flags.token,
    insecureSkipTLSVerify: p.given.has("insecure-skip-tls-verify") ? p.flags["insecure-skip-tls-verify"] : undefined,
  });
  const explicitNamespace = p.given.has("namespace") && !!p.flags.namespace;
  return { client: new KubeClient(cfg), cfg, namespace: explicitNamespace ? p.flags.namespace : cfg.namespace, explicitNamespace };
}

/** What a user typed ("po", "deploy", "deployments.apps") → the resource, or a kubectl-like error. */
export function resolveResource(name: string): RegisteredResource {
  const r = resolveUserResource(name);
  if (!r) throw new UsageError(`the server doesn't have a resource type "${name}"`);
  return r;
}

/** Split KIND NAME... or KIND/NAME KIND2/NAME2 arguments into (resource, names) groups. */
export function parseTypeNames(positional: string[]): { res: RegisteredResource[]; names: string[]; typed?: [RegisteredResource, string][] } {
  if (positional.length === 0) throw new UsageError("you must specify the type of resource");
  if (positional.some((p) => p.includes("/"))) {
    const typed = positional.map((p): [RegisteredResource, string] => {
      const slash = p.indexOf("/");
      if (slash < 0) throw new UsageError(`there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'skiff get resource/<resource_name>' instead of 'skiff get resource resource/<resource_name>'`);
      return [resolveResource(p.slice(0, slash)), p.slice(slash + 1)];
    });
    return { res: [], names: [], typed };
  }
  const [kinds, ...names] = positional;
  return { res: kinds!.split(",").filter(Boolean).map(resolveResource), names };
}

/** Print an error the way kubectl does and return the exit code. */
export function reportError(e: unknown): number {
  err(formatError(e) + "\n");
  return 1;
}

/**
 * kubectl's rule for commands over several objects: each target runs on its own; a failing one
 * prints its error and the others still run, and the command then exits 1. `ignore` names
 * errors that are not failures (delete --ignore-not-found). Returns whether any target failed.
 */
export async function forEachTarget<T>(targets: Iterable<T>, f: (t: T) => Promise<void>, ignore: (e: unknown) => boolean = () => false): Promise<boolean> {
  let failed = false;
  for (const t of targets) {
    try {
      await f(t);
    } catch (e) {
      if (ignore(e)) continue;
      failed = true;
      reportError(e);
    }
  }
  return failed;
}

export function formatError(e: unknown): string {
  if (e instanceof ApiError) return `Error from server (${e.reason}): ${e.message}`;
  if (e instanceof ConnectionError) return e.message;
  if (e instanceof UsageError || e instanceof KubeconfigError || e instanceof ManifestError) return `error: ${e.message}`;
  return `error: ${(e as Error)?.message ?? String(e)}`;
}

export class ManifestError extends Error {}

export interface Manifest {
  obj: any;
  /** File name (or "STDIN") the object came from, for messages. */
  source: string;
}

/** Parse multi-document YAML/JSON; skips empty documents and flattens `kind: List`. */
export function parseManifests(text: string, source: string): Manifest[] {
  const out: Manifest[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length) throw new ManifestError(`error parsing ${source}: ${doc.errors[0]!.message}`);
    const obj = doc.toJS({ maxAliasCount: 100 });
    if (obj === null || obj === undefined) continue;
    if (typeof obj !== "object" || Array.isArray(obj)) throw new ManifestError(`error parsing ${source}: a document is not an object`);
    if (Object.keys(obj).length === 0) continue;
    if (typeof obj.kind === "string" && obj.kind.endsWith("List") && Array.isArray(obj.items)) {
      for (const item of obj.items) if (item && typeof item === "object") out.push({ obj: item, source });
      continue;
    }
    out.push({ obj, source });
  }
  return out;
}

async function readStdin(): Promise<string> {
  return await new Response(Bun.stdin.stream()).text();
}

/** Read -f arguments: files, directories (*.yaml, *.yml, *.json), "-" (stdin) or http(s) URLs. */
export async function readManifests(files: string[], recursive = false): Promise<Manifest[]> {
  if (!files.length) throw new UsageError("must specify one of -f and -k");
  const out: Manifest[] = [];
  const readPath = async (f: string, top: boolean): Promise<void> => {
    if (f === "-") {
      out.push(...parseManifests(await readStdin(), "STDIN"));
      return;
    }
    if (/^https?:\/\//.test(f)) {
      const res = await fetch(f);
      if (!res.ok) throw new ManifestError(`unable to read URL "${f}", server reported ${res.status} ${res.statusText}`);
      out.push(...parseManifests(await res.text(), f));
      return;
    }
    if (!existsSync(f)) throw new ManifestError(`the path "${f}" does not exist`);
    if (statSync(f).isDirectory()) {
      if (!top && !recursive) return;
      for (const e of readdirSync(f).sort()) {
        const p = join(f, e);
        if (statSync(p).isDirectory()) await readPath(p, false);
        else if (/\.(ya?ml|json)$/i.test(e)) await readPath(p, false);
      }
      return;
    }
    out.push(...parseManifests(readFileSync(f, "utf8"), f));
  };
  for (const f of files) await readPath(f, true);
  return out;
}

/** The resource for a manifest's apiVersion+kind, or an error naming the kind and the file. */
export function resourceForManifest(m: Manifest): RegisteredResource {
  const { apiVersion, kind, metadata } = m.obj;
  if (!apiVersion || !kind) {
    const missing = !apiVersion ? "apiVersion" : "kind";
    throw new ManifestError(`error validating "${m.source}": error validating data: ${missing} not set`);
  }
  const r = findByKind(apiVersion, kind);
  if (!r)
    throw new ManifestError(
      `resource mapping not found for name: "${metadata?.name ?? ""}" namespace: "${metadata?.namespace ?? ""}" from "${m.source}": no matches for kind "${kind}" in version "${apiVersion}"\nensure CRDs are installed first`,
    );
  return r;
}

/** The namespace a manifest goes to; errors like kubectl when -n disagrees with the file. */
export function manifestNamespace(m: Manifest, r: RegisteredResource, ctx: Ctx): string | undefined {
  if (!r.namespaced) return undefined;
  const ns = m.obj.metadata?.namespace;
  if (ns && ctx.explicitNamespace && ns !== ctx.namespace)
    throw new ManifestError(
      `the namespace from the provided object "${ns}" does not match the namespace "${ctx.namespace}". You must pass '--namespace=${ns}' to perform this operation.`,
    );
  return ns || ctx.namespace;
}

/**
 * Synchronous writes: the dispatcher may call process.exit() right after a verb returns, and
 * process.stdout.write() to a pipe would lose whatever is still buffered.
 */
function writeAll(fd: number, s: string): void {
  const buf = Buffer.from(s);
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(fd, buf, off, buf.length - off);
    } catch (e: any) {
      if (e?.code !== "EAGAIN") throw e;
      Bun.sleepSync(1);
    }
  }
}
export function out(s: string): void {
  writeAll(1, s);
}
export function err(s: string): void {
  writeAll(2, s);
}

/** Dry-run flag value → the API's dryRun query parameter. */
export function dryRunQuery(v: string | undefined): { dryRun?: string; suffix: string; client: boolean } {
  if (v === undefined || v === "none" || v === "false") return { suffix: "", client: false };
  if (v === "server") return { dryRun: "All", suffix: " (server dry run)", client: false };
  if (v === "client" || v === "true" || v === "") return { suffix: " (dry run)", client: true };
  throw new UsageError(`Invalid dry-run value (${v}). Must be "none", "server", or "client".`);
}
