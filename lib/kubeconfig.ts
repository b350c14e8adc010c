// Kubeconfig loading: which file, which context, and the connection settings it names.
// Follows kubectl's precedence (--kubeconfig, then $KUBECONFIG, then ~/.kube/config) and,
// like K3s, falls back to the file the server writes when the user has no kubeconfig yet.
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { parse as parseYaml } from "yaml";

export interface ClientConfig {
  /** Base URL, no trailing slash: "https://127.0.0.1:6443". */
  server: string;
  /** PEM text of the CA bundle that signs the server certificate. */
  ca?: string;
  /** PEM text of the client certificate and key (mutual TLS). */
  cert?: string;
  key?: string;
  token?: string;
  username?: string;
  password?: string;
  insecureSkipTLSVerify?: boolean;
  /** The context's namespace, "default" when unset. */
  namespace: string;
  contextName?: string;
  /** Files the config was read from (empty when nothing was found). */
  sources: string[];
}

export interface LoadOptions {
  /** --kubeconfig */
  path?: string;
  /** --context */
  context?: string;
  /** --server / -s overrides the cluster's server. */
  server?: string;
  /** --token */
  token?: string;
  /** --insecure-skip-tls-verify */
  insecureSkipTLSVerify?: boolean;
  env?: Record<string, string | undefined>;
  home?: string;
}

interface RawConfig {
  "current-context"?: string;
  clusters?: { name: string; cluster: Record<string, any> }[];
  users?: { name: string; user: Record<string, any> }[];
  contexts?: { name: string; context: Record<string, any> }[];
}

/** The kubeconfig files to read, in precedence order (earlier wins on conflicts). */
export function kubeconfigPaths(opts: LoadOptions = {}): string[] {
  const env = opts.env ?? process.env;
  const home = opts.home ?? env.HOME ?? homedir();
  if (opts.path) return [opts.path];
  if (env.KUBECONFIG) {
    const sep = process.platform === "win32" ? ";" : ":";
    const files = env.KUBECONFIG.split(sep).filter((p) => p && existsSync(p));
    if (files.length) return files;
  }
  const candidates = [join(home, ".kube", "config"), "/var/lib/skiff/kubeconfig.yaml", join(home, ".skiff", "kubeconfig.yaml")];
  const found = candidates.find((p) => existsSync(p));
  return found ? [found] : [];
}

/** Merge several kubeconfig documents the way kubectl does: the first file to set a value wins. */
export function mergeConfigs(docs: { raw: RawConfig; file: string }[]): RawConfig & { _dirs: Map<string, string> } {
  const out: RawConfig & { _dirs: Map<string, string> } = { clusters: [], users: [], contexts: [], _dirs: new Map() };
  for (const { raw, file } of docs) {
    if (!raw || typeof raw !== "object") continue;
    if (!out["current-context"] && raw["current-context"]) out["current-context"] = raw["current-context"];
    for (const key of ["clusters", "users", "contexts"] as const) {
      for (const entry of (raw[key] ?? []) as any[]) {
        if (!entry?.name) continue;
        const list = out[key] as any[];
        if (list.some((e) => e.name === entry.name)) continue;
        list.push(entry);
        // Relative file paths inside a kubeconfig are relative to that file's directory.
        out._dirs.set(`${key}/${entry.name}`, dirname(resolve(file)));
      }
    }
  }
  return out;
}

function readMaybeFile(data: string | undefined, path: string | undefined, dir: string): string | undefined {
  if (data) return Buffer.from(data, "base64").toString("utf8");
  if (path) return readFileSync(isAbsolute(path) ? path : join(dir, path), "utf8");
  return undefined;
}

export class KubeconfigError extends Error {}

/** Parse kubeconfig text(s) into connection settings. Exported for tests. */
export function configFromRaw(
  docs: { raw: RawConfig; file: string }[],
  opts: Pick<LoadOptions, "context" | "server" | "token" | "insecureSkipTLSVerify"> = {},
): ClientConfig {
  const merged = mergeConfigs(docs);
  const sources = docs.map((d) => d.file);
  const contextName = opts.context ?? merged["current-context"];
  const ctx = merged.contexts?.find((c) => c.name === contextName)?.context;
  if (opts.context && !ctx) throw new KubeconfigError(`context "${opts.context}" does not exist`);
  const clusterEntry = merged.clusters?.find((c) => c.name === ctx?.cluster);
  const userEntry = merged.users?.find((u) => u.name === ctx?.user);
  const cluster = clusterEntry?.cluster ?? {};
  const user = userEntry?.user ?? {};
  const cdir = merged._dirs.get(`clusters/${clusterEntry?.name}`) ?? process.cwd();
  const udir = merged._dirs.get(`users/${userEntry?.name}`) ?? process.cwd();
  let server: string = opts.server ?? cluster.server ?? "http://localhost:8080";
  if (!/^https?:\/\//.test(server)) server = `https://${server}`;
  server = server.replace(/\/+$/, "");
  let token: string | undefined = opts.token ?? user.token;
  if (!token && user.tokenFile) token = readFileSync(isAbsolute(user.tokenFile) ? user.tokenFile : join(udir, user.tokenFile), "utf8").trim();
  return {
    server,
    ca: readMaybeFile(cluster["certificate-authority-data"], cluster["certificate-authority"], cdir),
    cert: readMaybeFile(user["client-certificate-data"], user["client-certificate"], udir),
    key: readMaybeFile(user["client-key-data"], user["client-key"], udir),
    token,
    username: user.username,
    password: user.password,
    insecureSkipTLSVerify: opts.insecureSkipTLSVerify ?? cluster["insecure-skip-tls-verify"] === true,
    namespace: ctx?.namespace || "default",
    contextName,
    sources,
  };
}

/** Find, read and resolve the kubeconfig. Without any file, points at localhost:8080 like kubectl. */
export function loadKubeconfig(opts: LoadOptions = {}): ClientConfig {
  const files = kubeconfigPaths(opts);
  if (opts.path && !existsSync(opts.path)) throw new KubeconfigError(`stat ${opts.path}: no such file or directory`);
  const docs = files.map((file) => {
    let raw: RawConfig;
    try {
      raw = (parseYaml(readFileSync(file, "utf8")) ?? {}) as RawConfig;
    } catch (e) {
      throw new KubeconfigError(`error loading config file "${file}": ${(e as Error).message}`);
    }
    return { raw, file };
  });
  return configFromRaw(docs, opts);
}
