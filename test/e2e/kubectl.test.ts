// Acceptance 1 (issue 2): the real kubectl against a fresh `skiff server`.
// Every assertion message names the kubectl command, its exit code, stdout and stderr.
import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { readFileSync, writeFileSync, chmodSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml, parseAllDocuments, stringify } from "yaml";
import { REPO, startServer, type SkiffServer } from "../harness/server";
import {
  describeResult,
  expectOk,
  kubectl,
  parseTable,
  spawnKubectl,
  unexpectedStderr,
  type KubectlOptions,
  type KubectlResult,
} from "../harness/kubectl";
import { KINDS, apiVersionOf, factsFor, objectRef, resourceArg, type KindFacts } from "../harness/kinds";

// bunfig's [test] timeout is not applied to every test; these start real processes.
setDefaultTimeout(120_000);

const NS = "skiff-e2e";
const OPS = "e2e-ops";
const FIXTURE = join(REPO, "test/fixtures/all-kinds.yaml");
const fixtureDocs: any[] = parseAllDocuments(readFileSync(FIXTURE, "utf8")).map((d) => d.toJS());

let srv: SkiffServer;

const k = (args: string[], opts?: KubectlOptions) => kubectl(srv, args, opts);
async function ok(args: string[], what: string, opts?: KubectlOptions): Promise<KubectlResult> {
  return expectOk(await k(args, opts), what);
}
async function getJson(res: string, name: string, ns?: string): Promise<any> {
  const r = await ok(["get", res, name, ...(ns ? ["-n", ns] : []), "-o", "json"], `get ${res}/${name} -o json`);
  try {
    return JSON.parse(r.stdout);
  } catch (e) {
    throw new Error(`get ${res}/${name} -o json printed unparseable JSON: ${(e as Error).message}\n${describeResult(r)}`);
  }
}
function nsArgs(f: KindFacts): string[] {
  return f.namespaced ? ["-n", NS] : [];
}
function refOf(doc: any): string {
  return objectRef(doc.kind, doc.apiVersion, doc.metadata.name);
}
/** Every object of `docs` has an output line "<ref> <verb>" (verb may be a regexp alternative). */
function expectApplyLines(r: KubectlResult, docs: any[], verbFor: (doc: any) => string, what: string) {
  const lines = r.stdout.split("\n").map((l) => l.trim());
  const problems: string[] = [];
  for (const d of docs) {
    const ref = refOf(d);
    const want = verbFor(d);
    const line = lines.find((l) => l.startsWith(ref + " "));
    if (!line) problems.push(`${ref}: no output line (want "${ref} ${want}")`);
    else if (!new RegExp(`^${ref.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} (${want})$`).test(line))
      problems.push(`${ref}: got "${line}", want "${ref} ${want}"`);
  }
  if (problems.length) throw new Error(`${what}:\n  ${problems.join("\n  ")}\n${describeResult(r)}`);
}
function writeTemp(name: string, text: string): string {
  const p = join(srv.runDir, name);
  writeFileSync(p, text);
  return p;
}
function toYaml(docs: any[]): string {
  return docs.map((d) => stringify(d)).join("---\n");
}
function changedCopy(): any[] {
  const docs = structuredClone(fixtureDocs);
  const cm = docs.find((d) => d.kind === "ConfigMap");
  cm.data.LOG_LEVEL = "debug";
  const dep = docs.find((d) => d.kind === "Deployment");
  dep.spec.template.spec.containers[0].image = "nginx:1.27.1";
  return docs;
}
function notFound(r: KubectlResult): boolean {
  return r.code !== 0 && /NotFound|not found/i.test(r.stderr);
}

beforeAll(async () => {
  srv = await startServer({ name: "kubectl" });
}, { timeout: 90_000 });

afterAll(async () => {
  await srv?.stop();
});

describe("kubectl 1.32 against skiff", () => {
  test("version: server reports a 1.32 minor, no skew warning", async () => {
    const r = await ok(["version", "-o", "json"], "kubectl version");
    const v = JSON.parse(r.stdout);
    expect(v.serverVersion, `kubectl version shows no serverVersion:\n${describeResult(r)}`).toBeDefined();
    expect(`${v.serverVersion.major}.${String(v.serverVersion.minor).replace(/\D.*$/, "")}`, "server /version major.minor").toBe("1.32");
  });

  test("api-resources lists every kind with group/version, short names and scope", async () => {
    const r = await ok(["api-resources"], "kubectl api-resources");
    const t = parseTable(r.stdout);
    expect(t.columns, "api-resources header").toEqual(["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]);
    const problems: string[] = [];
    for (const f of KINDS) {
      const row = t.rows.find((x) => x.NAME === f.plural && x.APIVERSION === apiVersionOf(f));
      if (!row) {
        problems.push(`${f.plural} (${apiVersionOf(f)}) missing`);
        continue;
      }
      const sn = row.SHORTNAMES ? row.SHORTNAMES.split(",").sort() : [];
      if (sn.join(",") !== [...f.shortNames].sort().join(","))
        problems.push(`${f.plural}: shortnames "${row.SHORTNAMES}", want "${f.shortNames.join(",")}"`);
      if (row.NAMESPACED !== String(f.namespaced)) problems.push(`${f.plural}: NAMESPACED ${row.NAMESPACED}, want ${f.namespaced}`);
      if (row.KIND !== f.kind) problems.push(`${f.plural}: KIND ${row.KIND}, want ${f.kind}`);
    }
    if (problems.length) throw new Error(`api-resources:\n  ${problems.join("\n  ")}\n${describeResult(r)}`);
  });

  test("apply -f all-kinds.yaml creates one object of every kind", async () => {
    const kinds = new Set(fixtureDocs.map((d) => d.kind));
    for (const f of KINDS) expect(kinds.has(f.kind), `fixture lacks a ${f.kind}`).toBe(true);
    const r = await ok(["apply", "-f", FIXTURE], "apply -f all-kinds.yaml", { timeoutMs: 60_000 });
    expectApplyLines(r, fixtureDocs, () => "created", "apply -f all-kinds.yaml (first time)");
  });

  test("apply again reports every object unchanged", async () => {
    const r = await ok(["apply", "-f", FIXTURE], "second apply -f all-kinds.yaml", { timeoutMs: 60_000 });
    expectApplyLines(r, fixtureDocs, () => "unchanged", "second apply of the same manifest must change nothing");
  });

  test("apply of a changed copy reports configured and the change is visible", async () => {
    const before = await getJson("deployments.apps", "web", NS);
    const docs = changedCopy();
    const file = writeTemp("all-kinds-changed.yaml", toYaml(docs));
    const r = await ok(["apply", "-f", file], "apply -f changed copy", { timeoutMs: 60_000 });
    expectApplyLines(r, docs, (d) => (d.kind === "ConfigMap" || d.kind === "Deployment" ? "configured" : "unchanged"), "apply of changed copy");
    const cm = await getJson("configmaps", "web-config", NS);
    expect(cm.data?.LOG_LEVEL, "configmap web-config data.LOG_LEVEL after changed apply").toBe("debug");
    const dep = await getJson("deployments.apps", "web", NS);
    expect(dep.spec.template.spec.containers[0].image, "deployment web image after changed apply").toBe("nginx:1.27.1");
    expect(dep.metadata.generation, `deployment generation must bump on spec change (was ${before.metadata.generation})`).toBeGreaterThan(
      before.metadata.generation,
    );
    expect(
      dep.metadata.annotations?.["kubectl.kubernetes.io/last-applied-configuration"],
      "last-applied-configuration annotation kept",
    ).toContain("nginx:1.27.1");
  });

  test("apply --server-side: existing objects and a new one are serverside-applied", async () => {
    const docs = changedCopy();
    const file = writeTemp("all-kinds-ssa.yaml", toYaml(docs));
    const r = await ok(["apply", "--server-side", "-f", file], "apply --server-side -f all-kinds", { timeoutMs: 60_000 });
    expectApplyLines(r, docs, () => "serverside-applied", "apply --server-side of the (unchanged) manifest");

    const mk = (v: string) =>
      stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "ssa-only", namespace: NS }, data: { mode: v } });
    const r1 = await ok(["apply", "--server-side", "-f", "-"], "apply --server-side of a new configmap", { stdin: mk("first") });
    expect(r1.stdout.trim(), describeResult(r1)).toBe("configmap/ssa-only serverside-applied");
    expect((await getJson("configmaps", "ssa-only", NS)).data, "ssa-only after first server-side apply").toEqual({ mode: "first" });
    const r2 = await ok(["apply", "--server-side", "-f", "-"], "second apply --server-side with a change", { stdin: mk("second") });
    expect(r2.stdout.trim(), describeResult(r2)).toBe("configmap/ssa-only serverside-applied");
    expect((await getJson("configmaps", "ssa-only", NS)).data, "ssa-only after changed server-side apply").toEqual({ mode: "second" });
  });

  for (const f of KINDS) {
    test(`get ${resourceArg(f)}: table, -o wide, -o yaml, -o json`, async () => {
      const doc = fixtureDocs.find((d) => d.kind === f.kind)!;
      const name = doc.metadata.name;
      const [table, wide, yamlOut, jsonOut] = await Promise.all([
        ok(["get", resourceArg(f), ...nsArgs(f)], `get ${resourceArg(f)}`),
        ok(["get", resourceArg(f), ...nsArgs(f), "-o", "wide"], `get ${resourceArg(f)} -o wide`),
        ok(["get", resourceArg(f), name, ...nsArgs(f), "-o", "yaml"], `get ${resourceArg(f)} ${name} -o yaml`),
        ok(["get", resourceArg(f), name, ...nsArgs(f), "-o", "json"], `get ${resourceArg(f)} ${name} -o json`),
      ]);

      const t = parseTable(table.stdout);
      const okCols = [f.columns, ...(f.columnsAlt ?? [])].some((c) => c.join("|") === t.columns.join("|"));
      if (!okCols)
        throw new Error(
          `kubectl get ${resourceArg(f)} columns are [${t.columns.join(", ")}], Kubernetes shows [${f.columns.join(", ")}] ` +
            `(the server's Table columnDefinitions)\n${describeResult(table)}`,
        );
      const findRow = (rows: Record<string, string>[]) =>
        f.kind === "Event" ? rows.find((x) => x.REASON === doc.reason && x.OBJECT === "pod/debug") : rows.find((x) => x.NAME === name);
      if (!findRow(t.rows)) throw new Error(`kubectl get ${resourceArg(f)}: no row for ${name}\n${describeResult(table)}`);
      if (f.kind === "Pod") {
        const row = findRow(t.rows)!;
        expect(row.READY, `pods READY cell for ${name} (containers ready/total)`).toMatch(/^\d+\/1$/);
        expect(row.STATUS, `pods STATUS cell for ${name}`).not.toBe("");
        expect(row.RESTARTS, `pods RESTARTS cell for ${name}`).toMatch(/^\d+/);
      }
      if (f.kind === "Deployment") {
        const row = findRow(t.rows)!;
        expect(row.READY, `deployments READY cell for ${name} (ready/desired)`).toMatch(/^\d+\/2$/);
      }

      const w = parseTable(wide.stdout);
      const wantWide = f.wide ?? f.columns;
      const okWide = [wantWide, ...(f.wide ? [] : f.columnsAlt ?? [])].some((c) => c.join("|") === w.columns.join("|"));
      if (!okWide)
        throw new Error(`kubectl get ${resourceArg(f)} -o wide columns are [${w.columns.join(", ")}], Kubernetes shows [${wantWide.join(", ")}]\n${describeResult(wide)}`);
      if (!findRow(w.rows)) throw new Error(`kubectl get ${resourceArg(f)} -o wide: no row for ${name}\n${describeResult(wide)}`);

      for (const [fmt, out, parser] of [
        ["yaml", yamlOut, (s: string) => parseYaml(s)],
        ["json", jsonOut, (s: string) => JSON.parse(s)],
      ] as const) {
        let obj: any;
        try {
          obj = parser(out.stdout);
        } catch (e) {
          throw new Error(`get -o ${fmt} output does not parse: ${(e as Error).message}\n${describeResult(out)}`);
        }
        const m = `get ${resourceArg(f)} ${name} -o ${fmt}`;
        expect(obj?.kind, `${m}: kind`).toBe(f.kind);
        expect(obj?.apiVersion, `${m}: apiVersion`).toBe(apiVersionOf(f));
        expect(obj?.metadata?.name, `${m}: metadata.name`).toBe(name);
        if (f.namespaced) expect(obj?.metadata?.namespace, `${m}: metadata.namespace`).toBe(NS);
        expect(obj?.metadata?.resourceVersion, `${m}: metadata.resourceVersion`).toMatch(/^\d+$/);
        expect(obj?.metadata?.uid, `${m}: metadata.uid`).toBeTruthy();
        expect(obj?.metadata?.creationTimestamp, `${m}: metadata.creationTimestamp`).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      }
    });
  }

  test("get all (category) and short names", async () => {
    const r = await ok(["get", "all", "-n", NS], "get all -n skiff-e2e");
    const want = [
      "pod/debug",
      "service/web",
      "deployment.apps/web",
      "replicaset.apps/worker",
      "statefulset.apps/db",
      "daemonset.apps/log-agent",
      "job.batch/migrate",
      "cronjob.batch/nightly-backup",
      "horizontalpodautoscaler.autoscaling/web",
    ];
    const missing = want.filter((w) => !new RegExp(`^${w.replace(/\./g, "\\.")}\\s`, "m").test(r.stdout));
    if (missing.length) throw new Error(`get all is missing ${missing.join(", ")} (categories: ["all"])\n${describeResult(r)}`);
    const s = await ok(["get", "deploy,cm,po,svc,sts,ds,rs,cj,hpa,netpol,ing,quota,limits,ep,sa,pvc,ev", "-n", NS], "get by short names");
    for (const w of ["deployment.apps/web", "configmap/web-config", "pod/debug", "service/web", "ingress.networking.k8s.io/web"])
      expect(s.stdout, `get by short names should list ${w}`).toContain(w);
  });

  test("create namespace / configmap / secret / deployment (protobuf request bodies)", async () => {
    const ns = await ok(["create", "namespace", OPS], "create namespace");
    expect(ns.stdout.trim()).toBe(`namespace/${OPS} created`);
    expect((await getJson("namespaces", OPS)).status?.phase, "new namespace status.phase").toBe("Active");

    const cm = await ok(["create", "configmap", "literal", "-n", OPS, "--from-literal=a=1", "--from-literal=b=two words"], "create configmap --from-literal");
    expect(cm.stdout.trim()).toBe("configmap/literal created");
    expect((await getJson("configmaps", "literal", OPS)).data, "configmap created from literals").toEqual({ a: "1", b: "two words" });

    const sec = await ok(["create", "secret", "generic", "creds", "-n", OPS, "--from-literal=user=admin", "--from-literal=pass=s3cr3t"], "create secret generic");
    expect(sec.stdout.trim()).toBe("secret/creds created");
    const s = await getJson("secrets", "creds", OPS);
    expect(s.type, "secret type").toBe("Opaque");
    expect(s.data, "secret data (base64)").toEqual({ user: btoa("admin"), pass: btoa("s3cr3t") });

    const dep = await ok(["create", "deployment", "hello", "-n", OPS, "--image=nginx:1.27", "--replicas=2"], "create deployment --image");
    expect(dep.stdout.trim()).toBe("deployment.apps/hello created");
    const d = await getJson("deployments.apps", "hello", OPS);
    expect(d.spec.replicas, "created deployment replicas").toBe(2);
    expect(d.spec.selector?.matchLabels, "created deployment selector").toEqual({ app: "hello" });
    expect(d.spec.template.spec.containers.map((c: any) => c.image), "created deployment images").toEqual(["nginx:1.27"]);
  });

  test("other typed create helpers (protobuf): serviceaccount, service, role, quota, job", async () => {
    const cases: [string[], string][] = [
      [["create", "serviceaccount", "builder", "-n", OPS], "serviceaccount/builder created"],
      [["create", "service", "clusterip", "hello", "-n", OPS, "--tcp=80:8080"], "service/hello created"],
      [["create", "role", "pod-reader", "-n", OPS, "--verb=get,list", "--resource=pods"], "role.rbac.authorization.k8s.io/pod-reader created"],
      [["create", "quota", "small", "-n", OPS, "--hard=configmaps=100"], "resourcequota/small created"],
      [["create", "job", "once", "-n", OPS, "--image=busybox:1.36", "--", "true"], "job.batch/once created"],
    ];
    for (const [args, want] of cases) {
      const r = await ok(args, `kubectl ${args.slice(0, 3).join(" ")}`);
      expect(r.stdout.trim(), describeResult(r)).toBe(want);
    }
    const svc = await getJson("services", "hello", OPS);
    expect(svc.spec.ports?.[0]?.port, "service hello port").toBe(80);
    expect(String(svc.spec.ports?.[0]?.targetPort), "service hello targetPort").toBe("8080");
  });

  test("auth can-i create pods answers yes", async () => {
    const r = await ok(["auth", "can-i", "create", "pods"], "auth can-i create pods");
    expect(r.stdout.trim(), describeResult(r)).toBe("yes");
  });

  test("get -w sees a change made by another client", async () => {
    await ok(["create", "configmap", "watched", "-n", OPS, "--from-literal=a=1"], "create configmap watched");
    const w = spawnKubectl(srv, ["get", "configmap", "watched", "-n", OPS, "-w"]);
    try {
      const first = await w.waitForLine((l) => l.trim().split(/\s+/)[0] === "watched", 10_000);
      const cols = w.lines[first]!.trim().split(/\s+/);
      expect(cols[1], `first watch row DATA column: "${w.lines[first]}"`).toBe("1");
      await ok(["patch", "configmap", "watched", "-n", OPS, "--type=merge", "-p", '{"data":{"b":"2"}}'], "patch watched configmap");
      await w.waitForLine((l) => {
        const c = l.trim().split(/\s+/);
        return c[0] === "watched" && c[1] === "2";
      }, 10_000, first + 1);
    } finally {
      await w.kill();
    }
    const bad = unexpectedStderr(w.stderr());
    if (bad.length) throw new Error(`get -w printed warnings/errors:\n${bad.join("\n")}`);
  });

  test("describe deployment and pod", async () => {
    const d = await ok(["describe", "deployment", "web", "-n", NS], "describe deployment web");
    for (const re of [/^Name:\s+web$/m, /^Namespace:\s+skiff-e2e$/m, /^Selector:\s+app=web$/m, /^Replicas:\s+2 desired/m, /^Pod Template:/m, /Image:\s+nginx:1\.27\.1/, /^Events:/m])
      if (!re.test(d.stdout)) throw new Error(`describe deployment output lacks ${re}\n${describeResult(d)}`);
    const p = await ok(["describe", "pod", "debug", "-n", NS], "describe pod debug");
    for (const re of [/^Name:\s+debug$/m, /^Namespace:\s+skiff-e2e$/m, /^Status:\s+\S+/m, /^Containers:/m, /^\s+shell:$/m, /Image:\s+busybox:1\.36/, /^Events:/m])
      if (!re.test(p.stdout)) throw new Error(`describe pod output lacks ${re}\n${describeResult(p)}`);
  });

  test("label and annotate", async () => {
    const l = await ok(["label", "configmap", "web-config", "-n", NS, "tier=backend"], "label");
    expect(l.stdout.trim()).toBe("configmap/web-config labeled");
    expect((await getJson("configmaps", "web-config", NS)).metadata.labels, "labels after kubectl label").toEqual({ app: "web", tier: "backend" });
    const l2 = await ok(["label", "configmap", "web-config", "-n", NS, "tier=db", "--overwrite"], "label --overwrite");
    expect(l2.stdout.trim()).toBe("configmap/web-config labeled");
    await ok(["label", "configmap", "web-config", "-n", NS, "tier-"], "label removal (tier-)");
    expect((await getJson("configmaps", "web-config", NS)).metadata.labels, "labels after removing tier").toEqual({ app: "web" });
    const sel = await ok(["get", "configmaps", "-n", NS, "-l", "app=web", "-o", "name"], "get -l app=web");
    expect(sel.stdout.trim(), "label selector app=web").toBe("configmap/web-config");

    const a = await ok(["annotate", "deployment", "web", "-n", NS, "owner=team-a"], "annotate");
    expect(a.stdout.trim()).toBe("deployment.apps/web annotated");
    expect((await getJson("deployments.apps", "web", NS)).metadata.annotations?.owner, "annotation owner").toBe("team-a");
  });

  test("patch: strategic merge (default), --type=merge and --type=json", async () => {
    const dep = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "patchme", namespace: OPS, labels: { app: "patchme" } },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: "patchme" } },
        template: {
          metadata: { labels: { app: "patchme" } },
          spec: {
            containers: [
              { name: "app", image: "nginx:1.27" },
              { name: "sidecar", image: "busybox:1.36", command: ["sleep", "infinity"] },
            ],
          },
        },
      },
    };
    await ok(["apply", "-f", "-"], "apply deployment patchme", { stdin: JSON.stringify(dep) });

    const smp = await ok(
      ["patch", "deployment", "patchme", "-n", OPS, "-p", '{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"nginx:1.28"}]}}}}'],
      "patch (strategic merge)",
    );
    expect(smp.stdout.trim()).toBe("deployment.apps/patchme patched");
    let d = await getJson("deployments.apps", "patchme", OPS);
    expect(
      d.spec.template.spec.containers.map((c: any) => `${c.name}=${c.image}`),
      "strategic merge patch merges containers by name (sidecar must survive)",
    ).toEqual(["app=nginx:1.28", "sidecar=busybox:1.36"]);

    const mp = await ok(["patch", "deployment", "patchme", "-n", OPS, "--type=merge", "-p", '{"metadata":{"labels":{"patched":"merge"}}}'], "patch --type=merge");
    expect(mp.stdout.trim()).toBe("deployment.apps/patchme patched");
    const mp2 = await ok(
      ["patch", "deployment", "patchme", "-n", OPS, "--type=merge", "-p", '{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"nginx:1.29"}]}}}}'],
      "patch --type=merge replacing a list",
    );
    expect(mp2.stdout.trim()).toBe("deployment.apps/patchme patched");
    d = await getJson("deployments.apps", "patchme", OPS);
    expect(d.metadata.labels, "labels after merge patch").toEqual({ app: "patchme", patched: "merge" });
    expect(
      d.spec.template.spec.containers.map((c: any) => `${c.name}=${c.image}`),
      "JSON merge patch replaces lists wholesale",
    ).toEqual(["app=nginx:1.29"]);

    const jp = await ok(
      [
        "patch",
        "deployment",
        "patchme",
        "-n",
        OPS,
        "--type=json",
        "-p",
        '[{"op":"replace","path":"/spec/replicas","value":4},{"op":"add","path":"/metadata/labels/json-patched","value":"yes"},{"op":"test","path":"/spec/template/spec/containers/0/name","value":"app"}]',
      ],
      "patch --type=json",
    );
    expect(jp.stdout.trim()).toBe("deployment.apps/patchme patched");
    d = await getJson("deployments.apps", "patchme", OPS);
    expect(d.spec.replicas, "replicas after JSON patch").toBe(4);
    expect(d.metadata.labels["json-patched"], "label added by JSON patch").toBe("yes");

    const bad = await k(["patch", "deployment", "patchme", "-n", OPS, "--type=json", "-p", '[{"op":"test","path":"/spec/replicas","value":99}]']);
    expect(bad.code, `a failing JSON patch "test" op must be rejected\n${describeResult(bad)}`).not.toBe(0);
    expect(bad.stderr, `a failing JSON patch must be a clean 4xx error\n${describeResult(bad)}`).not.toMatch(/InternalError|500/);
  });

  test("scale deployment --replicas=3", async () => {
    const r = await ok(["scale", "deployment", "patchme", "-n", OPS, "--replicas=3"], "scale deployment");
    expect(r.stdout.trim()).toBe("deployment.apps/patchme scaled");
    expect((await getJson("deployments.apps", "patchme", OPS)).spec.replicas, "spec.replicas after scale").toBe(3);
  });

  test("edit with a scripted EDITOR", async () => {
    await ok(["create", "configmap", "editme", "-n", OPS, "--from-literal=greeting=foo"], "create configmap editme");
    const script = writeTemp("editor.sh", `#!/bin/sh\nsed -i 's/greeting: foo/greeting: bar/' "$1"\n`);
    chmodSync(script, 0o755);
    const r = await ok(["edit", "configmap", "editme", "-n", OPS], "kubectl edit", { env: { KUBE_EDITOR: script } });
    expect(r.stdout.trim(), describeResult(r)).toBe("configmap/editme edited");
    expect((await getJson("configmaps", "editme", OPS)).data, "configmap after edit").toEqual({ greeting: "bar" });
  });

  test("explain pods.spec.containers", async () => {
    const r = await ok(["explain", "pods.spec.containers"], "kubectl explain pods.spec.containers");
    for (const re of [/KIND:\s+Pod/, /VERSION:\s+v1/, /FIELD:\s+containers\s+<\[\]Container>/, /DESCRIPTION:/, /^\s+image\s+<string>/m, /^\s+name\s+<string> -required-/m])
      if (!re.test(r.stdout)) throw new Error(`explain output lacks ${re} (the OpenAPI v3 schema)\n${describeResult(r)}`);
  });

  test("delete deployment --cascade=foreground removes it and its dependents", async () => {
    await ok(["create", "deployment", "fg", "-n", OPS, "--image=nginx:1.27"], "create deployment fg");
    const r = await ok(["delete", "deployment", "fg", "-n", OPS, "--cascade=foreground", "--timeout=30s"], "delete --cascade=foreground", {
      timeoutMs: 45_000,
    });
    expect(r.stdout.trim()).toBe('deployment.apps "fg" deleted');
    const g = await k(["get", "deployment", "fg", "-n", OPS]);
    expect(notFound(g), `deployment fg must be gone after foreground delete\n${describeResult(g)}`).toBe(true);
    const rs = await ok(["get", "replicasets", "-n", OPS, "-l", "app=fg", "-o", "json"], "list replicasets of fg");
    expect(JSON.parse(rs.stdout).items.map((x: any) => x.metadata.name), "ReplicaSets of fg left after foreground delete").toEqual([]);
  });

  test("wait --for=delete returns when another client deletes the pod", async () => {
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "waitme", namespace: OPS },
      spec: { containers: [{ name: "c", image: "busybox:1.36", command: ["sleep", "3600"] }] },
    };
    await ok(["apply", "-f", "-"], "create pod waitme", { stdin: JSON.stringify(pod) });
    const waiting = k(["wait", "--for=delete", "pod/waitme", "-n", OPS, "--timeout=30s"], { timeoutMs: 40_000 });
    await Bun.sleep(1000);
    const del = await ok(["delete", "pod", "waitme", "-n", OPS, "--wait=false"], "delete pod waitme");
    expect(del.stdout.trim()).toBe('pod "waitme" deleted');
    const w = await waiting;
    expectOk(w, "wait --for=delete pod/waitme");
    const g = await k(["get", "pod", "waitme", "-n", OPS]);
    expect(notFound(g), `pod waitme must be gone\n${describeResult(g)}`).toBe(true);
  });

  for (const minor of [27, 33]) {
    test(`kubectl 1.${minor}: apply -f all-kinds and get pods`, async () => {
      const ns = `skiff-e2e-v${minor}`;
      const docs = structuredClone(fixtureDocs).map((d: any) => {
        if (d.kind === "Namespace") d.metadata.name = ns;
        if (d.metadata.namespace) d.metadata.namespace = ns;
        for (const s of d.subjects ?? []) if (s.namespace) s.namespace = ns;
        if (d.involvedObject?.namespace) d.involvedObject.namespace = ns;
        return d;
      });
      const file = writeTemp(`all-kinds-v${minor}.yaml`, toYaml(docs));
      const r = await ok(["apply", "-f", file], `kubectl 1.${minor} apply -f`, { minor, timeoutMs: 60_000 });
      expectApplyLines(r, docs, (d) => (d.metadata.namespace || d.kind === "Namespace" ? "created" : "created|configured|unchanged"), `kubectl 1.${minor} apply -f`);
      const p = await ok(["get", "pods", "-n", ns], `kubectl 1.${minor} get pods`, { minor });
      const t = parseTable(p.stdout);
      expect(t.columns, `kubectl 1.${minor} get pods header`).toEqual(factsFor("Pod").columns);
      expect(t.rows.map((x) => x.NAME), `kubectl 1.${minor} get pods rows`).toContain("debug");
      const dps = await ok(["get", "deployments", "-n", ns], `kubectl 1.${minor} get deployments`, { minor });
      expect(parseTable(dps.stdout).columns, `kubectl 1.${minor} get deployments header`).toEqual(factsFor("Deployment").columns);
    });
  }

  test("delete -f all-kinds.yaml removes every object", async () => {
    const r = await ok(["delete", "-f", FIXTURE, "--ignore-not-found", "--timeout=60s"], "delete -f all-kinds.yaml", { timeoutMs: 90_000 });
    // Deleting the namespace first may let the namespace controller win the race for the
    // objects inside it (kubectl then omits them with --ignore-not-found); cluster-scoped
    // objects and the namespace itself must be reported.
    const lines = r.stdout.split("\n").map((l) => l.trim());
    const unreported = fixtureDocs
      .filter((d) => !d.metadata.namespace)
      .map((d) => `${refOf(d).split("/")[0]} "${d.metadata.name}" deleted`)
      .filter((want) => !lines.includes(want));
    if (unreported.length) throw new Error(`delete -f did not report: ${unreported.join(", ")}\n${describeResult(r)}`);
    const deadline = Date.now() + 30_000;
    let left: string[] = [];
    do {
      left = [];
      for (const d of fixtureDocs) {
        const f = factsFor(d.kind);
        const g = await k(["get", resourceArg(f), d.metadata.name, ...(d.metadata.namespace ? ["-n", d.metadata.namespace] : []), "-o", "name"]);
        if (!notFound(g)) left.push(`${refOf(d)} (${g.code === 0 ? "still there" : g.stderr.trim()})`);
      }
      if (left.length === 0) break;
      await Bun.sleep(1000);
    } while (Date.now() < deadline);
    if (left.length) throw new Error(`objects still present 30 s after delete -f:\n  ${left.join("\n  ")}`);
  });
});
