// End to end: the real server as a child process, the CLI verbs as child processes against it.
import { removeDataDir } from "../harness/wait";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dir, "../..");
const bun = join(root, "node_modules/.bin/bun");
const main = join(root, "cli/main.ts");

let dataDir: string;
let kubeconfig: string;
let server: ReturnType<typeof Bun.spawn> | undefined;
let port: number;
let ready = false;

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
}

async function skiff(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const p = Bun.spawn([bun, main, ...args, "--kubeconfig", kubeconfig], { cwd: root, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "skiff-cli-e2e-"));
  kubeconfig = join(dataDir, "kubeconfig.yaml");
  port = await freePort();
  if (!existsSync(main)) return;
  server = Bun.spawn(
    [bun, main, "server", "--data-dir", dataDir, "--https-listen-port", String(port), "--raft-listen-port", String(await freePort()), "--bind-address", "127.0.0.1", "--disable-agent"],
    { cwd: root, stdout: "ignore", stderr: "pipe" },
  );
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline && server.exitCode === null) {
    for (const scheme of ["https", "http"]) {
      try {
        const r = await fetch(`${scheme}://127.0.0.1:${port}/readyz`, { tls: { rejectUnauthorized: false } } as RequestInit);
        if (r.status === 200 && existsSync(kubeconfig)) {
          ready = true;
          return;
        }
      } catch {
        /* not up yet */
      }
    }
    await Bun.sleep(200);
  }
}, 40_000);

afterAll(async () => {
  if (server) {
    server.kill("SIGTERM");
    await Promise.race([server.exited, Bun.sleep(5000)]);
    if (server.exitCode === null) server.kill("SIGKILL");
  }
  if (dataDir) removeDataDir(dataDir);
});

const manifest = (replicas: number, cmData = "one") => `
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
data:
  greeting: ${cmData}
---
# an empty document
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: ${replicas}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
        ports:
        - containerPort: 80
`;

describe("skiff CLI against a real server", () => {
  const t = (name: string, fn: () => Promise<void>, timeout = 30_000) =>
    test(
      name,
      async () => {
        if (!ready) {
          console.warn(`server not available (${existsSync(main) ? "did not become ready" : "cli/main.ts missing"}); skipping`);
          return;
        }
        await fn();
      },
      timeout,
    );

  t("apply creates, then unchanged, then configured", async () => {
    const file = join(dataDir, "app.yaml");
    writeFileSync(file, manifest(2));
    let r = await skiff("apply", "-f", file);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("configmap/web-config created\ndeployment.apps/web created\n");
    expect(r.code).toBe(0);
    r = await skiff("apply", "-f", file);
    expect(r.stdout).toBe("configmap/web-config unchanged\ndeployment.apps/web unchanged\n");
    writeFileSync(file, manifest(2, "two"));
    r = await skiff("apply", "-f", file);
    expect(r.stdout).toBe("configmap/web-config configured\ndeployment.apps/web unchanged\n");
    r = await skiff("apply", "--server-side", "-f", file);
    expect(r.stdout).toBe("configmap/web-config serverside-applied\ndeployment.apps/web serverside-applied\n");
  });

  t("get prints kubectl's table", async () => {
    const r = await skiff("get", "deployments");
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^NAME\s{3,}READY\s{3,}UP-TO-DATE\s{3,}AVAILABLE\s{3,}AGE$/);
    expect(lines[1]).toMatch(/^web\s{3,}\d+\/2\s{3,}\d+\s{3,}\d+\s{3,}\S+$/);
    const cm = await skiff("get", "cm", "web-config", "--no-headers");
    expect(cm.stdout).toMatch(/^web-config\s{3,}1\s{3,}\S+\n$/);
    const all = await skiff("get", "deploy,cm", "-A");
    expect(all.stdout).toMatch(/^NAMESPACE\s+NAME\s+READY/m);
    expect(all.stdout).toContain("deployment.apps/web");
    expect(all.stdout).toContain("configmap/web-config");
    const name = await skiff("get", "deploy", "-o", "name");
    expect(name.stdout).toBe("deployment.apps/web\n");
  });

  t("get -o yaml / json", async () => {
    const y = await skiff("get", "deployment", "web", "-o", "yaml");
    expect(y.code).toBe(0);
    expect(y.stdout).toStartWith("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n");
    expect(y.stdout).toContain("  name: web\n");
    expect(y.stdout).not.toContain("managedFields");
    const j = JSON.parse((await skiff("get", "cm", "-o", "json")).stdout);
    expect(j.kind).toBe("List");
    expect(j.items.some((i: any) => i.kind === "ConfigMap" && i.metadata.name === "web-config")).toBe(true);
  });

  t("describe deployment", async () => {
    const r = await skiff("describe", "deployment", "web");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Name:\s+web\nNamespace:\s+default\n/);
    expect(r.stdout).toMatch(/Replicas:\s+2 desired \| \d+ updated \| \d+ total \| \d+ available \| \d+ unavailable/);
    expect(r.stdout).toMatch(/StrategyType:\s+RollingUpdate/);
    expect(r.stdout).toContain("Pod Template:");
    expect(r.stdout).toMatch(/Image:\s+nginx:1\.25/);
    expect(r.stdout).toMatch(/Events:/);
  });

  t("scale", async () => {
    const r = await skiff("scale", "deployment", "web", "--replicas=3");
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("deployment.apps/web scaled\n");
    const y = await skiff("get", "deploy/web", "-o", "json");
    expect(JSON.parse(y.stdout).spec.replicas).toBe(3);
  });

  t("create namespace, get it, create -f", async () => {
    let r = await skiff("create", "namespace", "team-a");
    expect(r.stdout).toBe("namespace/team-a created\n");
    r = await skiff("create", "namespace", "team-a");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^Error from server \(AlreadyExists\): namespaces "team-a" already exists/);
    r = await skiff("get", "ns", "team-a");
    expect(r.stdout).toMatch(/^NAME\s+STATUS\s+AGE\nteam-a\s+Active\s+\S+\n$/);
    const f = join(dataDir, "cm.yaml");
    writeFileSync(f, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra, namespace: team-a}\ndata: {a: b}\n");
    r = await skiff("create", "-f", f);
    expect(r.stdout).toBe("configmap/extra created\n");
    r = await skiff("get", "cm", "-n", "team-a", "extra", "-o", "name");
    expect(r.stdout).toBe("configmap/extra\n");
  });

  t("errors: not found, unknown kind in a file, unknown resource type", async () => {
    let r = await skiff("get", "deployment", "nope");
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('Error from server (NotFound): deployments.apps "nope" not found\n');
    const f = join(dataDir, "bad.yaml");
    writeFileSync(f, "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n");
    r = await skiff("apply", "-f", f);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no matches for kind "Widget" in version "example.com/v1"');
    expect(r.stderr).toContain(f);
    r = await skiff("get", "widgets");
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('error: the server doesn\'t have a resource type "widgets"\n');
    r = await skiff("get", "pods", "--bogus");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("unknown flag: --bogus");
    r = await skiff("get", "pods", "-n", "empty-ns");
    expect(r.stderr).toBe("No resources found in empty-ns namespace.\n");
  });

  t("delete -f waits until gone", async () => {
    const file = join(dataDir, "app.yaml");
    const r = await skiff("delete", "-f", file);
    expect(r.stdout).toBe('configmap "web-config" deleted\ndeployment.apps "web" deleted\n');
    expect(r.code).toBe(0);
    const g = await skiff("get", "deployment", "web");
    expect(g.code).toBe(1);
    expect(g.stderr).toContain("NotFound");
    const n = await skiff("delete", "namespace", "team-a", "--wait=false");
    expect(n.stdout).toBe('namespace "team-a" deleted\n');
  });

  t("connection refused message", async () => {
    const kc = join(dataDir, "dead.yaml");
    const dead = await freePort();
    writeFileSync(kc, `clusters: [{name: c, cluster: {server: "http://127.0.0.1:${dead}"}}]\ncontexts: [{name: c, context: {cluster: c}}]\ncurrent-context: c\n`);
    const p = Bun.spawn([bun, main, "get", "pods", "--kubeconfig", kc], { cwd: root, stdout: "pipe", stderr: "pipe" });
    const stderr = await new Response(p.stderr).text();
    expect(await p.exited).toBe(1);
    expect(stderr).toBe(`The connection to the server 127.0.0.1:${dead} was refused - did you specify the right host or port?\n`);
  });
});
