// skiff create -f FILE | namespace NAME | configmap | secret generic | deployment | serviceaccount.
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { ApiError, resourcePath } from "../../lib/client";
import { findByKind } from "../../schemas/registry";
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
  type Ctx,
  type FlagSpec,
} from "./common";
import { kindDotGroup, stripManagedFields, toJson, toYaml } from "./printers";

const spec: FlagSpec = {
  filename: { type: "strings", short: "f", default: [] },
  recursive: { type: "bool", short: "R" },
  "dry-run": { type: "string", noOptDefault: "unchanged" },
  output: { type: "string", short: "o", default: "" },
  "field-manager": { type: "string", default: "skiff" },
  validate: { type: "string", noOptDefault: "strict", default: "strict" },
  "from-literal": { type: "array", default: [] },
  "from-file": { type: "array", default: [] },
  image: { type: "strings", default: [] },
  replicas: { type: "int", short: "r", default: 1 },
  port: { type: "int", default: -1 },
};

export async function run(args: string[]): Promise<number> {
  try {
    const p = parseFlags(args, spec, "skiff create");
    const output: string = p.flags.output;
    if (!["", "yaml", "json", "name"].includes(output)) throw new UsageError(`unable to match a printer suitable for the output format "${output}", allowed formats are: json,name,yaml`);
    const dry = dryRunQuery(p.flags["dry-run"] === "unchanged" ? "client" : p.flags["dry-run"]);
    const ctx = makeCtx(p);
    const query = { fieldManager: p.flags["field-manager"], fieldValidation: p.flags.validate === "false" ? "Ignore" : "Strict", dryRun: dry.dryRun };

    if (p.flags.filename.length) {
      if (p.positional.length) throw new UsageError(`Unexpected args: [${p.positional.join(" ")}]`);
      const manifests = await readManifests(p.flags.filename, p.flags.recursive);
      let failed = false;
      for (const m of manifests) {
        try {
          const r = resourceForManifest(m);
          const ns = manifestNamespace(m, r, ctx);
          const body = structuredClone(m.obj);
          if (ns) body.metadata = { ...body.metadata, namespace: ns };
          let created = body;
          if (!dry.client) {
            try {
              created = await ctx.client.create(resourcePath(r, ns), body, query);
            } catch (e) {
              if (e instanceof ApiError) throw new ApiError({ ...e.status, message: `error when creating "${m.source}": ${e.message}` }, e.code);
              throw e;
            }
          }
          print(created, `${kindDotGroup(r.kind, r.group)}/${created.metadata?.name ?? body.metadata?.name}`, output, dry.suffix);
        } catch (e) {
          failed = true;
          err(formatError(e) + "\n");
        }
      }
      return failed ? 1 : 0;
    }

    const [sub, name, ...rest] = p.positional;
    if (!sub) throw new UsageError("must specify one of -f and -k");
    const obj = generate(sub, name, rest, p.flags, ctx);
    const r = findByKind(obj.apiVersion, obj.kind);
    if (!r) throw new UsageError(`the server doesn't have a resource type "${obj.kind}"`);
    const ns = r.namespaced ? ctx.namespace : undefined;
    if (ns) obj.metadata.namespace = ns;
    const created = dry.client ? obj : await ctx.client.create(resourcePath(r, ns), obj, query);
    print(created, `${kindDotGroup(r.kind, r.group)}/${created.metadata?.name}`, output, dry.suffix);
    return 0;
  } catch (e) {
    return reportError(e);
  }
}

function print(o: any, id: string, output: string, suffix: string): void {
  if (output === "yaml") out(toYaml(stripManagedFields(o)));
  else if (output === "json") out(toJson(stripManagedFields(o)));
  else if (output === "name") out(`${id}\n`);
  else out(`${id} created${suffix}\n`);
}

/** The object a `create <kind> NAME` generator builds. */
function generate(sub: string, name: string | undefined, rest: string[], flags: Record<string, any>, _ctx: Ctx): any {
  const need = () => {
    if (!name) throw new UsageError("exactly one NAME is required, got 0");
    if (rest.length && sub !== "secret") throw new UsageError(`exactly one NAME is required, got ${rest.length + 1}`);
    return name;
  };
  switch (sub) {
    case "namespace":
    case "ns":
      return { apiVersion: "v1", kind: "Namespace", metadata: { name: need() } };
    case "serviceaccount":
    case "sa":
      return { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: need() } };
    case "configmap":
    case "cm":
      return { apiVersion: "v1", kind: "ConfigMap", metadata: { name: need() }, data: keyValues(flags, false) };
    case "secret": {
      // `create secret generic NAME`
      if (name !== "generic") throw new UsageError(`unsupported secret type "${name ?? ""}" (only "generic" is supported)`);
      const n = rest[0];
      if (!n) throw new UsageError("exactly one NAME is required, got 0");
      return { apiVersion: "v1", kind: "Secret", metadata: { name: n }, type: "Opaque", data: keyValues(flags, true) };
    }
    case "deployment":
    case "deploy": {
      const n = need();
      const images: string[] = flags.image;
      if (!images.length) throw new UsageError("required flag(s) \"image\" not set");
      const containers = images.map((image, i) => {
        const cname = images.length === 1 ? imageName(image) : `${imageName(image)}${i === 0 ? "" : `-${i}`}`;
        const c: any = { name: cname, image, resources: {} };
        if (flags.port >= 0) c.ports = [{ containerPort: flags.port }];
        return c;
      });
      return {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: n, labels: { app: n } },
        spec: {
          replicas: flags.replicas,
          selector: { matchLabels: { app: n } },
          strategy: {},
          template: { metadata: { labels: { app: n } }, spec: { containers } },
        },
      };
    }
    default:
      throw new UsageError(`unknown command "${sub}" for "skiff create"`);
  }
}

function imageName(image: string): string {
  const last = image.split("/").pop()!;
  return last.split(/[:@]/)[0]!.replace(/[^a-z0-9-]/g, "-");
}

function keyValues(flags: Record<string, any>, b64: boolean): Record<string, string> {
  const data: Record<string, string> = {};
  const enc = (v: string) => (b64 ? Buffer.from(v).toString("base64") : v);
  for (const kv of flags["from-literal"] as string[]) {
    const eq = kv.indexOf("=");
    if (eq <= 0) throw new UsageError(`invalid literal source ${kv}, expected key=value`);
    data[kv.slice(0, eq)] = enc(kv.slice(eq + 1));
  }
  for (const f of flags["from-file"] as string[]) {
    const eq = f.indexOf("=");
    const [key, path] = eq > 0 ? [f.slice(0, eq), f.slice(eq + 1)] : [basename(f), f];
    data[key] = enc(readFileSync(path, "utf8"));
  }
  return data;
}
