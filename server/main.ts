// `skiff server`: the API server, its store and the leader's controllers in one process.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { createApp } from "./api/app";
import { bootstrap } from "./bootstrap";
import { GarbageCollector } from "./controllers/garbage-collector";
import { NamespaceController } from "./controllers/namespace";
import { Store } from "./store/store";

export interface ServerFlags {
  dataDir: string;
  bindAddress: string;
  port: number;
  writeKubeconfig: string;
  disableAgent: boolean;
  nodeName: string;
}

export function defaultDataDir(): string {
  return process.getuid?.() === 0 ? "/var/lib/skiff" : join(homedir(), ".skiff");
}

function loadOrCreateKey(path: string): Uint8Array {
  if (existsSync(path)) return new Uint8Array(readFileSync(path));
  const key = crypto.getRandomValues(new Uint8Array(32));
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, key, { mode: 0o600 });
  return key;
}

export function kubeconfigYaml(server: string): string {
  return `apiVersion: v1
kind: Config
clusters:
- cluster:
    server: ${server}
  name: default
contexts:
- context:
    cluster: default
    user: default
  name: default
current-context: default
preferences: {}
users:
- name: default
  user: {}
`;
}

export async function runServer(flags: ServerFlags): Promise<{ stop: () => Promise<void>; url: string }> {
  const serverDir = join(flags.dataDir, "server");
  mkdirSync(serverDir, { recursive: true, mode: 0o700 });
  const windowSize = Number(process.env.SKIFF_WATCH_WINDOW) > 0 ? Number(process.env.SKIFF_WATCH_WINDOW) : undefined;
  const store = new Store({ dataDir: join(serverDir, "db"), windowSize });
  const tokenKey = loadOrCreateKey(join(serverDir, "token-key"));
  await bootstrap(store);
  const gc = new GarbageCollector(store);
  const nsc = new NamespaceController(store);

  const host = flags.bindAddress === "0.0.0.0" || flags.bindAddress === "::" ? "127.0.0.1" : flags.bindAddress;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${flags.port}`;
  const app = createApp({ store, tokenKey }, { serverAddress: () => `${host}:${flags.port}` });
  const server = Bun.serve({
    hostname: flags.bindAddress,
    port: flags.port,
    fetch: app.fetch,
    // Bodies over 3 MiB are refused by the API with a Status; this only stops abuse earlier.
    maxRequestBodySize: 16 * 1024 * 1024,
    // Watches are long-lived and may be quiet for minutes.
    idleTimeout: 0,
  });
  mkdirSync(dirname(flags.writeKubeconfig), { recursive: true });
  writeFileSync(flags.writeKubeconfig, kubeconfigYaml(url), { mode: 0o600 });
  console.log(`skiff server listening on ${url} (data dir ${flags.dataDir})`);
  console.log(`kubeconfig written to ${flags.writeKubeconfig}: kubectl --kubeconfig ${flags.writeKubeconfig} get nodes`);
  if (!flags.disableAgent) console.log("note: the embedded agent is not built yet; this server runs the control plane only");
  return {
    url,
    stop: async () => {
      gc.stop();
      nsc.stop();
      server.stop(true);
      store.close();
    },
  };
}
