#!/usr/bin/env bun
// The one entry point: `skiff server`, `skiff agent` and the kubectl-like verbs.
// @peculiar/x509 (server PKI) needs the Reflect metadata polyfill before it loads, even when bundled.
import "reflect-metadata";
import { parseArgs } from "node:util";
import pkg from "../package.json" with { type: "json" };
import { KUBE_VERSION } from "../server/api/discovery";

const VERBS: Record<string, string> = {
  apply: "Apply a configuration from files or stdin (server-side apply)",
  get: "Display one or many resources",
  describe: "Show details of a resource and its events",
  delete: "Delete resources by file, name or label selector",
  create: "Create a namespace or resources from a file",
  scale: "Set a new size for a Deployment, ReplicaSet or StatefulSet",
  images: "Import, list or remove images in this node's containerd (air-gap)",
};

const HELP = `skiff — a Kubernetes-compatible orchestrator for edge machines

Usage:
  skiff server [flags]        Run a control-plane node (API server, store, controllers)
  skiff agent  [flags]        Run a node agent (not available yet)
  skiff <verb> [args]         Talk to a cluster like kubectl
  skiff version               Print the version

Verbs:
${Object.entries(VERBS)
  .map(([v, d]) => `  ${v.padEnd(10)} ${d}`)
  .join("\n")}

Server flags:
  --data-dir DIR              State directory (default /var/lib/skiff, or ~/.skiff when not root)
  --bind-address ADDR         Address to listen on (default 127.0.0.1)
  --https-listen-port PORT    API port (default 6443, HTTPS with the cluster's own CA)
  --tls-san NAME|IP           Extra name or IP for the serving certificate (repeatable)
  -t, --token SECRET          Join secret for agents (default: generated, stored in <data-dir>/server/token)
  --write-kubeconfig FILE     Where to write the admin kubeconfig (default <data-dir>/kubeconfig.yaml)
  --disable-agent             Do not run the embedded node agent
  --node-name NAME            Node name (default: the hostname)

Client flags (every verb):
  --kubeconfig FILE           Kubeconfig to use (default $KUBECONFIG, ~/.kube/config, then <data-dir>/kubeconfig.yaml)
  -n, --namespace NS          Namespace
`;

async function server(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      "data-dir": { type: "string" },
      "bind-address": { type: "string", default: "127.0.0.1" },
      "https-listen-port": { type: "string", default: "6443" },
      "write-kubeconfig": { type: "string" },
      "disable-agent": { type: "boolean", default: false },
      "node-name": { type: "string" },
      "tls-san": { type: "string", multiple: true },
      token: { type: "string", short: "t" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const { runServer, defaultDataDir } = await import("../server/main");
  const dataDir = values["data-dir"] ?? defaultDataDir();
  const port = Number(values["https-listen-port"]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    console.error(`error: --https-listen-port must be a port number (1-65535), got "${values["https-listen-port"]}"`);
    return 1;
  }
  const { hostname } = await import("node:os");
  const srv = await runServer({
    dataDir,
    bindAddress: values["bind-address"]!,
    port,
    writeKubeconfig: values["write-kubeconfig"] ?? `${dataDir}/kubeconfig.yaml`,
    disableAgent: values["disable-agent"]!,
    nodeName: values["node-name"] ?? hostname(),
    tlsSans: values["tls-san"],
    token: values.token ?? process.env.SKIFF_TOKEN,
  });
  const shutdown = async () => {
    await srv.stop();
    process.exit(0);
  };
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);
  return await new Promise<number>(() => {});
}

export async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (!verb || verb === "--help" || verb === "-h" || verb === "help") {
    console.log(HELP);
    return 0;
  }
  if (verb === "version" || verb === "--version") {
    console.log(`skiff version v${pkg.version} (Kubernetes API ${KUBE_VERSION.gitVersion}, bun ${Bun.version})`);
    return 0;
  }
  if (verb === "server") return server(rest);
  if (verb === "agent") {
    console.error("error: `skiff agent` is not available yet in this build");
    return 1;
  }
  if (verb in VERBS) {
    const mod = await loadVerb(verb);
    return mod.run(rest);
  }
  console.error(`error: unknown command "${verb}" for "skiff"\nRun 'skiff --help' for usage.`);
  return 1;
}

// Static imports per verb so `bun build --compile` bundles them all.
async function loadVerb(verb: string): Promise<{ run: (args: string[]) => Promise<number> }> {
  switch (verb) {
    case "apply":
      return import("./commands/apply");
    case "get":
      return import("./commands/get");
    case "describe":
      return import("./commands/describe");
    case "delete":
      return import("./commands/delete");
    case "create":
      return import("./commands/create");
    case "images":
      return import("./commands/images");
    default:
      return import("./commands/scale");
  }
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    // Let buffered output reach a pipe before exiting.
    (code) => process.stdout.write("", () => process.exit(code)),
    (e) => {
      console.error(`error: ${(e as Error)?.message ?? e}`);
      process.exit(1);
    },
  );
}
