// Cost of custom resources and admission webhooks on the write path, in process (registry +
// admission + store, no HTTP): creates of a ConfigMap (baseline), of a custom resource whose
// schema has defaults, patterns, a keyed list and a CEL rule, and of a ConfigMap sent to a
// validating and a mutating webhook over HTTPS on loopback. Prints ops/s, p50 and p99.
// Env: BENCH_OPS (default 2000 per row; webhook rows a quarter of that).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { findByKind, findByPlural, setCustomResources } from "../../schemas/registry";
import { bootstrap } from "../../server/bootstrap";
import { APISERVER_USER, writeCtx } from "../../server/registry/ctx";
import { newRegistry } from "../../server/registry/index";
import type { Registry } from "../../server/registry/registry";
import { Store } from "../../server/store/store";
import { issue, makeCa } from "../../server/tls/pki";
import { REPO } from "../harness/server";

interface Row {
  op: string;
  lat: number[];
  seconds: number;
}

const pct = (s: number[], p: number) => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;

async function measure(op: string, n: number, once: (i: number) => Promise<unknown>): Promise<Row> {
  const lat: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    await once(i);
    lat.push(performance.now() - s);
  }
  lat.sort((a, b) => a - b);
  return { op, lat, seconds: (performance.now() - t0) / 1000 };
}

function table(rows: Row[]): string {
  const head = ["op", "n", "ops/s", "p50 ms", "p99 ms"];
  const body = rows.map((r) => [r.op, String(r.lat.length), (r.lat.length / r.seconds).toFixed(0), pct(r.lat, 50).toFixed(3), pct(r.lat, 99).toFixed(3)]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  return [head, w.map((x) => "-".repeat(x)), ...body].map((cells) => cells.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join("  ")).join("\n");
}

export async function main(_args: string[]): Promise<void> {
  const n = Number(process.env.BENCH_OPS ?? 2000);
  const dir = mkdtempSync(join(tmpdir(), "skiff-bench-crd-"));
  const store = new Store({ dataDir: dir });
  const reg: Registry = newRegistry(store);
  await bootstrap(reg);
  const ctx = () => writeCtx(APISERVER_USER, "bench");
  const rows: Row[] = [];
  const cm = findByKind("v1", "ConfigMap")!;
  rows.push(await measure("configmap create", n, (i) => reg.create(ctx(), cm, "default", { metadata: { name: `cm-${i}` }, data: { a: "1" } })));

  const crdDoc = parseAllDocuments(readFileSync(join(REPO, "test/fixtures/crd-widgets.yaml"), "utf8"))[0]!.toJS();
  await reg.create(ctx(), findByKind("apiextensions.k8s.io/v1", "CustomResourceDefinition")!, undefined, crdDoc);
  await Bun.sleep(50);
  const widget = findByPlural("example.com", "v1", "widgets")!;
  rows.push(
    await measure("custom resource create", n, (i) =>
      reg.create(ctx(), widget, "default", widget.decode!({ metadata: { name: `w-${i}` }, spec: { image: "busybox:1", port: "http", ports: [{ name: "a", port: 1 }, { name: "b", port: 2 }], config: { x: [1, 2, 3] } } }).value),
    ),
  );

  const ca = await makeCa();
  const leaf = await issue(ca, { cn: "bench", ips: ["127.0.0.1"], server: true });
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    tls: { cert: leaf.cert, key: leaf.key },
    async fetch(r) {
      const review: any = await r.json();
      const patch = new URL(r.url).pathname === "/mutate" ? { patchType: "JSONPatch", patch: Buffer.from(JSON.stringify([{ op: "add", path: "/metadata/labels", value: { hooked: "yes" } }])).toString("base64") } : {};
      return Response.json({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response: { uid: review.request.uid, allowed: true, ...patch } });
    },
  });
  const hook = (name: string, path: string) => ({
    name,
    clientConfig: { url: `https://127.0.0.1:${server.port}${path}`, caBundle: Buffer.from(ca.cert).toString("base64") },
    rules: [{ operations: ["CREATE"], apiGroups: [""], apiVersions: ["v1"], resources: ["configmaps"] }],
    sideEffects: "None",
    admissionReviewVersions: ["v1"],
  });
  await reg.create(ctx(), findByKind("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration")!, undefined, { metadata: { name: "v" }, webhooks: [hook("v.bench.test", "/validate")] });
  rows.push(await measure("configmap + validating webhook", Math.ceil(n / 4), (i) => reg.create(ctx(), cm, "default", { metadata: { name: `v-${i}` } })));
  await reg.create(ctx(), findByKind("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration")!, undefined, { metadata: { name: "m" }, webhooks: [hook("m.bench.test", "/mutate")] });
  rows.push(await measure("configmap + both webhooks", Math.ceil(n / 4), (i) => reg.create(ctx(), cm, "default", { metadata: { name: `m-${i}` } })));
  server.stop(true);
  store.close();
  setCustomResources("widgets.example.com", []);
  rmSync(dir, { recursive: true, force: true });
  console.log(table(rows));
}
