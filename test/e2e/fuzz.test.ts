// Acceptance 4 (issue 2): fast-check throws ~3,000 generated requests at a live server —
// malformed and valid, several kinds, every verb that takes a body. Properties:
//   * never a 5xx, never a hang, the process stays up;
//   * every 4xx body is a Status {kind, apiVersion v1, status Failure, code, reason, message};
//   * valid objects round-trip: GET returns what was sent (modulo defaults and metadata).
// Seeded (FUZZ_SEED, default below), so a run is reproducible; a failure prints its seed and path.
import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import fc from "fast-check";
import { stringify as toYaml } from "yaml";
import { startServer, type SkiffServer } from "../harness/server";

// bunfig's [test] timeout is not applied to every test; these start real processes.
setDefaultTimeout(120_000);

const NS = "fuzz";
const MiB = 1024 * 1024;
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : 20261207;
const runs = (n: number) => ({ numRuns: n, seed: SEED });

const COLL: Record<string, string> = {
  ConfigMap: `/api/v1/namespaces/${NS}/configmaps`,
  Secret: `/api/v1/namespaces/${NS}/secrets`,
  Pod: `/api/v1/namespaces/${NS}/pods`,
  Service: `/api/v1/namespaces/${NS}/services`,
  Event: `/api/v1/namespaces/${NS}/events`,
  Deployment: `/apis/apps/v1/namespaces/${NS}/deployments`,
  Job: `/apis/batch/v1/namespaces/${NS}/jobs`,
  Lease: `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases`,
  Role: `/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/roles`,
};
const API_VERSION: Record<string, string> = {
  ConfigMap: "v1",
  Secret: "v1",
  Pod: "v1",
  Service: "v1",
  Event: "v1",
  Deployment: "apps/v1",
  Job: "batch/v1",
  Lease: "coordination.k8s.io/v1",
  Role: "rbac.authorization.k8s.io/v1",
};

let srv: SkiffServer;
let seq = 0;
const uniq = (p = "f") => `${p}${(seq++).toString(36)}`;
const stats = { requests: 0, byStatus: new Map<number, number>() };

interface Resp {
  status: number;
  text: string;
  json?: any;
  ctx: string;
}

function preview(body: unknown): string {
  if (body === undefined) return "(no body)";
  if (typeof body === "string") return body.length > 300 ? `${JSON.stringify(body.slice(0, 300))}… (${body.length} chars)` : JSON.stringify(body);
  if (body instanceof Uint8Array) return `${body.length} bytes: ${Buffer.from(body.subarray(0, 64)).toString("hex")}${body.length > 64 ? "…" : ""}`;
  return "(stream)";
}

async function send(
  method: string,
  path: string,
  body?: string | Uint8Array | ReadableStream,
  contentType?: string,
  extra: Record<string, string> = {},
  timeoutMs = 15_000,
): Promise<Resp> {
  const headers: Record<string, string> = { accept: "application/json", ...extra };
  if (contentType !== undefined) headers["content-type"] = contentType;
  const ctx = `${method} ${path} content-type=${JSON.stringify(contentType)} body=${preview(body)}`;
  let res: Response;
  try {
    res = await srv.fetch(path, { method, headers, body: body as any, signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    throw new Error(`${ctx}\n-> no response: ${(e as Error).message} (server ${srv.alive() ? "alive" : "DEAD"})\n${srv.alive() ? "" : srv.logTail()}`);
  }
  const text = await res.text();
  stats.requests++;
  stats.byStatus.set(res.status, (stats.byStatus.get(res.status) ?? 0) + 1);
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, text, json, ctx };
}

function describeResp(r: Resp): string {
  return `${r.ctx}\n-> HTTP ${r.status} ${r.text.slice(0, 600)}`;
}

/** The invariant for every response: no 5xx; a 4xx is a well-formed Status. */
function check(r: Resp): Resp {
  if (r.status >= 500) throw new Error(`5xx from the server:\n${describeResp(r)}`);
  if (r.status >= 400) {
    const s = r.json;
    const problems: string[] = [];
    if (!s || typeof s !== "object") problems.push("body is not JSON");
    else {
      if (s.kind !== "Status") problems.push(`kind=${JSON.stringify(s.kind)}`);
      if (s.apiVersion !== "v1") problems.push(`apiVersion=${JSON.stringify(s.apiVersion)}`);
      if (s.status !== "Failure") problems.push(`status=${JSON.stringify(s.status)}`);
      if (s.code !== r.status) problems.push(`code=${JSON.stringify(s.code)} (HTTP ${r.status})`);
      if (typeof s.reason !== "string" || !s.reason) problems.push(`reason=${JSON.stringify(s.reason)}`);
      if (typeof s.message !== "string" || !s.message) problems.push(`message=${JSON.stringify(s.message)}`);
    }
    if (problems.length) throw new Error(`4xx body is not a proper Status (${problems.join(", ")}):\n${describeResp(r)}`);
  }
  return r;
}

function expect4xx(r: Resp, what: string, codes?: number[]): Resp {
  check(r);
  if (r.status < 400 || (codes && !codes.includes(r.status)))
    throw new Error(`${what}: want ${codes ? codes.join(" or ") : "a 4xx"}, got ${r.status}\n${describeResp(r)}`);
  return r;
}

function expectStatus(r: Resp, code: number, what: string): Resp {
  check(r);
  if (r.status !== code) throw new Error(`${what}: want HTTP ${code}, got ${r.status}\n${describeResp(r)}`);
  return r;
}

/** Paths where `got` differs from `sent` (sent must be a subset of got). */
function subsetMismatches(sent: any, got: any, path = ""): string[] {
  if (sent === null || typeof sent !== "object") return Object.is(sent, got) ? [] : [`${path || "."}: sent ${JSON.stringify(sent)?.slice(0, 80)}, got ${JSON.stringify(got)?.slice(0, 80)}`];
  if (Array.isArray(sent)) {
    if (!Array.isArray(got) || got.length !== sent.length) return [`${path}: sent array[${sent.length}], got ${JSON.stringify(got)?.slice(0, 80)}`];
    return sent.flatMap((v, i) => subsetMismatches(v, got[i], `${path}[${i}]`));
  }
  if (got === null || typeof got !== "object" || Array.isArray(got)) return [`${path}: sent object, got ${JSON.stringify(got)?.slice(0, 80)}`];
  // An empty map or list may come back absent (upstream's omitempty drops empty labels, annotations...).
  const empty = (v: any) => v !== null && typeof v === "object" && Object.keys(v).length === 0;
  return Object.keys(sent).flatMap((k) =>
    Object.hasOwn(got, k) ? subsetMismatches(sent[k], got[k], `${path}.${k}`) : empty(sent[k]) ? [] : [`${path}.${k}: sent ${JSON.stringify(sent[k])?.slice(0, 80)}, missing in GET`],
  );
}

async function roundTrip(kind: string, obj: any, what: string, via: "json" | "yaml" | "json-charset" = "json") {
  const body = via === "yaml" ? toYaml(obj) : JSON.stringify(obj);
  const ct = via === "yaml" ? "application/yaml" : via === "json-charset" ? "application/json; charset=utf-8" : "application/json";
  const c = expectStatus(await send("POST", COLL[kind]!, body, ct), 201, `${what}: valid ${kind} create`);
  expect(c.json?.metadata?.name, `${what}: create response names the object`).toBe(obj.metadata.name);
  const g = expectStatus(await send("GET", `${COLL[kind]}/${obj.metadata.name}`), 200, `${what}: GET after create`);
  const mism = subsetMismatches(obj, g.json);
  if (mism.length) throw new Error(`${what}: ${kind} does not round-trip (sent via ${via}):\n  ${mism.slice(0, 10).join("\n  ")}\n${describeResp(g)}`);
  for (const f of ["uid", "resourceVersion", "creationTimestamp"])
    if (!g.json?.metadata?.[f]) throw new Error(`${what}: GET lacks metadata.${f}\n${describeResp(g)}`);
  return g.json;
}

// ---- arbitraries -------------------------------------------------------------------------
const dnsLabel = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?$/);
const objName = fc.tuple(dnsLabel, fc.option(dnsLabel, { nil: undefined })).map(([a, b]) => (b ? `${a}.${b}` : a));
// Kubernetes IsConfigMapKey: [-._a-zA-Z0-9]+, not ".", not starting with "..".
const cmKey = fc.stringMatching(/^[-._a-zA-Z0-9]{1,40}$/).filter((s) => s !== "." && !s.startsWith(".."));
const labelKey = fc
  .tuple(fc.option(fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,10}[a-z0-9])?(\.[a-z]{2,5})?$/), { nil: undefined }), fc.stringMatching(/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,20}[A-Za-z0-9])?$/))
  .map(([p, n]) => (p ? `${p}/${n}` : n));
const labelValue = fc.oneof(fc.constant(""), fc.stringMatching(/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,30}[A-Za-z0-9])?$/));
const labels = fc.dictionary(labelKey, labelValue, { maxKeys: 4 });
const annotations = fc.dictionary(labelKey, fc.string({ unit: "binary", maxLength: 60 }), { maxKeys: 3 });
const anyText = fc.string({ unit: "binary", maxLength: 200 });
const image = fc.constantFrom("busybox:1.36", "nginx:1.27", "registry.local:5000/team/app@sha256:" + "a".repeat(64), "alpine");

const validConfigMap = fc.record({
  name: objName,
  labels,
  annotations,
  data: fc.dictionary(cmKey, anyText, { maxKeys: 6 }),
  binary: fc.dictionary(cmKey, fc.uint8Array({ maxLength: 64 }), { maxKeys: 2 }),
});

const validPod = fc.record({
  name: objName,
  labels,
  restartPolicy: fc.constantFrom("Always", "OnFailure", "Never"),
  containers: fc.uniqueArray(
    fc.record({
      name: dnsLabel,
      image,
      command: fc.option(fc.array(fc.string({ maxLength: 20 }), { minLength: 1, maxLength: 3 }), { nil: undefined }),
      env: fc.option(
        fc.uniqueArray(fc.record({ name: fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,15}$/), value: fc.string({ unit: "binary", maxLength: 30 }) }), {
          maxLength: 3,
          selector: (e) => e.name,
        }),
        { nil: undefined },
      ),
    }),
    { minLength: 1, maxLength: 3, selector: (c) => c.name },
  ),
});

function baseObject(kind: string, name: string): any {
  const meta = { name, namespace: NS };
  const tmpl = { metadata: { labels: { app: name.slice(0, 60) } }, spec: { containers: [{ name: "c", image: "busybox:1.36" }] } };
  switch (kind) {
    case "ConfigMap":
      return { apiVersion: "v1", kind, metadata: meta, data: { a: "b" } };
    case "Secret":
      return { apiVersion: "v1", kind, metadata: meta, type: "Opaque", data: { a: btoa("b") } };
    case "Pod":
      return { apiVersion: "v1", kind, metadata: meta, spec: { containers: [{ name: "c", image: "busybox:1.36", ports: [{ containerPort: 80 }] }] } };
    case "Service":
      return { apiVersion: "v1", kind, metadata: meta, spec: { selector: { app: "x" }, ports: [{ port: 80, targetPort: 8080 }] } };
    case "Event":
      return {
        apiVersion: "v1",
        kind,
        metadata: meta,
        involvedObject: { kind: "Pod", name: "p", namespace: NS },
        reason: "Fuzz",
        message: "m",
        type: "Normal",
        firstTimestamp: "2025-01-01T00:00:00Z",
        lastTimestamp: "2025-01-01T00:00:00Z",
        count: 1,
      };
    case "Deployment":
      return { apiVersion: "apps/v1", kind, metadata: meta, spec: { replicas: 1, selector: { matchLabels: tmpl.metadata.labels }, template: tmpl } };
    case "Job":
      return { apiVersion: "batch/v1", kind, metadata: meta, spec: { template: { spec: { ...tmpl.spec, restartPolicy: "Never" } } } };
    case "Lease":
      return { apiVersion: "coordination.k8s.io/v1", kind, metadata: meta, spec: { holderIdentity: "x", leaseDurationSeconds: 10 } };
    case "Role":
      return { apiVersion: "rbac.authorization.k8s.io/v1", kind, metadata: meta, rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["get"] }] };
  }
  throw new Error(kind);
}

/** Every path (as key arrays) in an object, interior nodes included. */
function paths(o: any, prefix: (string | number)[] = []): (string | number)[][] {
  if (o === null || typeof o !== "object") return [];
  const out: (string | number)[][] = [];
  for (const [k, v] of Object.entries(o)) {
    const p = [...prefix, Array.isArray(o) ? Number(k) : k];
    out.push(p, ...paths(v, p));
  }
  return out;
}
function setPath(o: any, p: (string | number)[], v: any, del: boolean) {
  let cur = o;
  for (const k of p.slice(0, -1)) cur = cur[k];
  const last = p[p.length - 1]!;
  if (del) {
    if (Array.isArray(cur)) cur.splice(Number(last), 1);
    else delete cur[last];
  } else cur[last] = v;
}

// ---- the test ----------------------------------------------------------------------------
beforeAll(async () => {
  srv = await startServer({ name: "fuzz" });
  expectStatus(await send("POST", "/api/v1/namespaces", JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: NS } }), "application/json"), 201, "create fuzz namespace");
}, { timeout: 90_000 });

afterAll(async () => {
  const top = [...stats.byStatus.entries()].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}:${n}`).join(" ");
  console.log(`fuzz: ${stats.requests} requests; by status ${top}`);
  await srv?.stop();
});

describe("fuzz: generated requests against a live server", () => {
  test("valid ConfigMaps round-trip (JSON, JSON;charset, YAML) and update", async () => {
    await fc.assert(
      fc.asyncProperty(validConfigMap, fc.constantFrom("json", "yaml", "json-charset") as fc.Arbitrary<"json" | "yaml" | "json-charset">, fc.boolean(), async (c, via, update) => {
        const name = `${uniq()}-${c.name}`.slice(0, 250).replace(/[-.]+$/, "") || uniq();
        const obj: any = { apiVersion: "v1", kind: "ConfigMap", metadata: { name, labels: c.labels, annotations: c.annotations }, data: c.data };
        const bin = Object.fromEntries(Object.entries(c.binary).filter(([k]) => !(k in c.data)).map(([k, v]) => [k, Buffer.from(v).toString("base64")]));
        if (Object.keys(bin).length) obj.binaryData = bin;
        const got = await roundTrip("ConfigMap", obj, "configmap", via);
        expect(got.data ?? {}, `configmap ${name}: data must round-trip exactly`).toEqual(c.data);
        if (update) {
          const upd = { ...got, data: { ...c.data, updated: "yes" } };
          const u = expectStatus(await send("PUT", `${COLL.ConfigMap}/${name}`, JSON.stringify(upd), "application/json"), 200, "PUT update");
          expect(Number(u.json?.metadata?.resourceVersion), "resourceVersion increases on update").toBeGreaterThan(Number(got.metadata.resourceVersion));
          const stale = await send("PUT", `${COLL.ConfigMap}/${name}`, JSON.stringify({ ...upd, data: { x: "stale" } }), "application/json");
          expect4xx(stale, "PUT with a stale resourceVersion", [409]);
          expect(stale.json.reason, "stale update reason").toBe("Conflict");
          const g = expectStatus(await send("GET", `${COLL.ConfigMap}/${name}`), 200, "GET after update");
          expect(g.json.data, "data after update").toEqual({ ...c.data, updated: "yes" });
        }
      }),
      runs(120),
    );
  }, 120_000);

  test("JavaScript-hazard keys (__proto__, constructor, toString) round-trip", async () => {
    // Valid Kubernetes keys that a JS server can lose or turn into prototype pollution.
    const keys = ["__proto__", "constructor", "prototype", "toString", "hasOwnProperty", "valueOf"];
    const data: Record<string, string> = {};
    for (const k of keys) Object.defineProperty(data, k, { value: `v-${k}`, enumerable: true, configurable: true, writable: true });
    const labels = { constructor: "x", toString: "y", "hasOwnProperty": "z" };
    const obj = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: uniq("proto"), labels, annotations: labels }, data };
    for (const via of ["json", "yaml"] as const) {
      const o = { ...obj, metadata: { ...obj.metadata, name: uniq("proto") } };
      const got = await roundTrip("ConfigMap", o, `hazard keys via ${via}`, via);
      expect(Object.keys(got.data ?? {}).sort(), `ConfigMap data keys after round trip (${via})`).toEqual([...keys].sort());
      const sel = expectStatus(await send("GET", `${COLL.ConfigMap}?labelSelector=${encodeURIComponent("constructor=x")}`), 200, "label selector on key 'constructor'");
      expect(sel.json.items.map((i: any) => i.metadata.name), "label selector constructor=x").toContain(o.metadata.name);
    }
    const sec = { apiVersion: "v1", kind: "Secret", metadata: { name: uniq("proto") }, data: Object.fromEntries(Object.keys(data).map((k) => [k, btoa(k)])) };
    Object.defineProperty(sec.data, "__proto__", { value: btoa("p"), enumerable: true, configurable: true, writable: true });
    const c = expectStatus(await send("POST", COLL.Secret!, JSON.stringify(sec), "application/json"), 201, "secret with __proto__ key");
    const g = expectStatus(await send("GET", `${COLL.Secret}/${c.json.metadata.name}`), 200, "GET secret with hazard keys");
    expect(Object.keys(g.json.data ?? {}).sort(), "Secret data keys after round trip").toEqual([...keys].sort());
    // A merge patch that sets "__proto__" must set a key, not the object's prototype.
    const name = c.json.metadata.name;
    expect4xx(
      await send("PATCH", `${COLL.Secret}/${name}`, '{"metadata":{"labels":{"__proto__":{"polluted":"yes"}}}}', "application/merge-patch+json"),
      "merge patch setting labels.__proto__ to an object (label values are strings)",
      [400, 422],
    );
    const after = expectStatus(await send("GET", `${COLL.Secret}/${name}`), 200, "GET after __proto__ patch");
    expect(JSON.stringify(after.json.metadata.labels ?? {}), "labels after the rejected __proto__ patch").not.toContain("polluted");
  });

  test("valid Secrets (data and stringData) and Pods round-trip", async () => {
    await fc.assert(
      fc.asyncProperty(objName, fc.dictionary(cmKey, fc.uint8Array({ maxLength: 100 }), { maxKeys: 4 }), fc.dictionary(cmKey, fc.string({ maxLength: 40 }), { maxKeys: 2 }), async (n, data, stringData) => {
        const name = `${uniq("s")}-${n}`.slice(0, 250);
        const enc = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString("base64")]));
        const sd = Object.fromEntries(Object.entries(stringData).filter(([k]) => !(k in enc)));
        const obj: any = { apiVersion: "v1", kind: "Secret", metadata: { name }, type: "Opaque", data: enc };
        if (Object.keys(sd).length) obj.stringData = sd;
        const c = expectStatus(await send("POST", COLL.Secret!, JSON.stringify(obj), "application/json"), 201, "secret create");
        const g = expectStatus(await send("GET", `${COLL.Secret}/${c.json.metadata.name}`), 200, "secret GET");
        const want = { ...enc, ...Object.fromEntries(Object.entries(sd).map(([k, v]) => [k, Buffer.from(v).toString("base64")])) };
        expect(g.json.data ?? {}, `secret ${name}: data (stringData merged into data, base64)`).toEqual(want);
        expect(g.json.stringData, "stringData is write-only").toBeUndefined();
      }),
      runs(80),
    );
    await fc.assert(
      fc.asyncProperty(validPod, async (p) => {
        const name = `${uniq("p")}-${p.name}`.slice(0, 250);
        const containers = p.containers.map((c) => Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined)));
        const obj = { apiVersion: "v1", kind: "Pod", metadata: { name, labels: p.labels }, spec: { restartPolicy: p.restartPolicy, containers } };
        await roundTrip("Pod", obj, "pod");
      }),
      runs(80),
    );
  }, 120_000);

  test("structurally mutated objects of several kinds: no 5xx, created ones stay readable", async () => {
    const kinds = Object.keys(COLL);
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...kinds), fc.nat(), fc.jsonValue({ maxDepth: 3 }), fc.boolean(), fc.constantFrom("POST", "PUT"), async (kind, pick, value, del, method) => {
        const name = uniq("m");
        const obj = baseObject(kind, name);
        const ps = paths(obj);
        const p = ps[pick % ps.length]!;
        setPath(obj, p, value, del);
        let path = COLL[kind]!;
        if (method === "PUT") {
          // PUT needs an existing object (or creates it, for kinds that allow create-on-update).
          check(await send("POST", path, JSON.stringify(baseObject(kind, name)), "application/json"));
          path = `${path}/${name}`;
        }
        const r = check(await send(method, path, JSON.stringify(obj), "application/json"));
        if (r.status < 300) {
          const storedName = r.json?.metadata?.name;
          if (typeof storedName === "string") check(await send("GET", `${COLL[kind]}/${encodeURIComponent(storedName)}`));
        }
      }),
      runs(250),
    );
  }, 120_000);

  test("invalid names are 422 Invalid", async () => {
    const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
    const bad = fc
      .oneof(
        fc.constantFrom("", ".", "..", "-a", "a-", "A", "a_b", "a b", "a/b", "a%2Fb", "ä", "a".repeat(254), "a..b", ".a", "a.", "UPPER.case"),
        fc.stringMatching(/^[A-Za-z0-9._~!@#$%^&*()+= \/-]{1,70}$/),
        fc.string({ unit: "binary", minLength: 1, maxLength: 20 }),
      )
      .filter((s) => !(dns1123Subdomain.test(s) && s.length <= 253));
    await fc.assert(
      fc.asyncProperty(bad, fc.constantFrom("ConfigMap", "Secret", "Pod", "Deployment"), async (name, kind) => {
        const obj = baseObject(kind, name);
        const r = await send("POST", COLL[kind]!, JSON.stringify(obj), "application/json");
        expect4xx(r, `POST ${kind} named ${JSON.stringify(name)}`, [422]);
        if (r.json.reason !== "Invalid") throw new Error(`invalid name: reason ${r.json.reason}, want Invalid\n${describeResp(r)}`);
      }),
      runs(150),
    );
    // RBAC objects are named like path segments ("system:node", even "UPPER case" is valid):
    // only ".", "..", "/", "%" (and, here, control characters) are refused.
    const badPath = fc.oneof(
      fc.constantFrom(".", "..", "a/b", "a%2Fb", "%", "/", "x\u0000", "\t"),
      fc.tuple(fc.string({ maxLength: 10 }), fc.constantFrom("/", "%", "\u0000", "\u001f", "\u007f"), fc.string({ maxLength: 10 })).map(([a, c, b]) => a + c + b),
    );
    await fc.assert(
      fc.asyncProperty(badPath, async (name) => {
        const r = await send("POST", COLL.Role!, JSON.stringify(baseObject("Role", name)), "application/json");
        expect4xx(r, `POST Role named ${JSON.stringify(name)}`, [422]);
        if (r.json.reason !== "Invalid") throw new Error(`invalid name: reason ${r.json.reason}, want Invalid\n${describeResp(r)}`);
      }),
      runs(60),
    );
    for (const name of ["system:node-reader", "UPPER case"]) {
      const r = await send("POST", COLL.Role!, JSON.stringify(baseObject("Role", name)), "application/json");
      if (r.status !== 201) throw new Error(`Role named ${JSON.stringify(name)} is valid in Kubernetes: want 201\n${describeResp(r)}`);
    }
    for (const name of ["a.b", "A", "x".repeat(64), "-x", "kube_system"]) {
      const r = await send("POST", "/api/v1/namespaces", JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name } }), "application/json");
      expect4xx(r, `namespace named ${JSON.stringify(name)} (namespaces are DNS-1123 labels)`, [422]);
    }
  }, 120_000);

  test("garbage bodies, bad JSON/YAML and wrong content types are 4xx", async () => {
    const targets = Object.values(COLL);
    const garbage = fc.oneof(
      fc.string({ unit: "binary", maxLength: 300 }),
      fc.json({ maxDepth: 4 }),
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
      fc.constantFrom("{", "}", "[]", "null", "0", '""', '{"apiVersion":"v1"', '{"kind":"ConfigMap","apiVersion":"v1","metadata":"x"}', "\u0000\u0001", '{"a":1,"a":2}', "\ufeff{}"),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...targets), garbage, fc.constantFrom("application/json", "application/yaml"), async (path, body, ct) => {
        check(await send("POST", path, body, ct));
      }),
      runs(300),
    );
    const badYaml = fc.oneof(
      fc.constantFrom(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: tabs",
        'apiVersion: "v1\nkind: ConfigMap',
        "a: &a [*a]",
        "- - - -\n  - : :",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x\n",
        "? [a\n: b",
        "%YAML 9.9\n---\na: 1",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dup\n  name: dup2\n",
      ),
      fc.string({ unit: "binary", maxLength: 200 }).map((s) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${s}\ndata: [${s}`),
    );
    await fc.assert(
      fc.asyncProperty(badYaml, async (body) => {
        check(await send("POST", COLL.ConfigMap!, body, "application/yaml"));
      }),
      runs(120),
    );
    // A YAML alias bomb must be refused quickly, not expanded.
    const bomb = ["a: &a [x,x,x,x,x,x,x,x,x]", ..."bcdefghi".split("").map((c, i) => `${c}: &${c} [${Array(9).fill("*" + "abcdefghi"[i]).join(",")}]`), "kind: ConfigMap", "apiVersion: v1", "metadata: {name: bomb}", "data: {x: *i}"].join("\n");
    const t0 = Date.now();
    check(await send("POST", COLL.ConfigMap!, bomb, "application/yaml"));
    expect(Date.now() - t0, "YAML alias bomb answered within 5 s").toBeLessThan(5000);

    const valid = JSON.stringify(baseObject("ConfigMap", "ct-check"));
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.constantFrom("text/plain", "application/xml", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded", "image/png", "application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"),
          fc.stringMatching(/^[a-z]{1,10}\/[a-z.+-]{1,20}$/).filter((s) => !/^application\/(json|yaml|vnd\.kubernetes\.protobuf)$/.test(s)),
        ),
        async (ct) => {
          const r = await send("POST", COLL.ConfigMap!, valid, ct);
          expect4xx(r, `POST with Content-Type ${ct}`, [415]);
        },
      ),
      runs(80),
    );
    const noCt = await send("POST", COLL.ConfigMap!, valid, undefined, { "content-type": "" });
    check(noCt);
  }, 120_000);

  test("protobuf garbage (with and without the k8s\\0 magic) is 4xx", async () => {
    const magic = new Uint8Array([0x6b, 0x38, 0x73, 0x00]);
    const withMagic = fc.uint8Array({ maxLength: 400 }).map((b) => {
      const o = new Uint8Array(magic.length + b.length);
      o.set(magic);
      o.set(b, magic.length);
      return o;
    });
    // A runtime.Unknown envelope whose fields are syntactically valid but lie about lengths.
    const lyingEnvelope = fc.tuple(fc.integer({ min: 0, max: 0x7f }), fc.uint8Array({ maxLength: 40 })).map(([len, tail]) => {
      const typeMeta = [0x0a, 0x02, 0x76, 0x31, 0x12, 0x09, ...new TextEncoder().encode("ConfigMap")];
      const raw = [0x12, len, ...tail];
      return new Uint8Array([...magic, 0x0a, typeMeta.length, ...typeMeta, ...raw]);
    });
    await fc.assert(
      fc.asyncProperty(fc.oneof(withMagic, fc.uint8Array({ maxLength: 200 }), lyingEnvelope), fc.constantFrom(...Object.values(COLL)), async (body, path) => {
        const r = await send("POST", path, body, "application/vnd.kubernetes.protobuf");
        expect4xx(r, "protobuf garbage");
      }),
      runs(250),
    );
  }, 120_000);

  test("PATCH and PUT fuzz on existing objects; objects stay readable", async () => {
    const kinds = ["ConfigMap", "Deployment", "Pod", "Service", "Lease"];
    const targets: Record<string, string> = {};
    for (const kd of kinds) {
      const n = uniq("patch");
      expectStatus(await send("POST", COLL[kd]!, JSON.stringify(baseObject(kd, n)), "application/json"), 201, `create ${kd} for patch fuzz`);
      targets[kd] = n;
    }
    const patchBody = fc.oneof(
      fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
      fc.string({ unit: "binary", maxLength: 200 }),
      fc
        .array(
          fc.record({
            op: fc.constantFrom("add", "remove", "replace", "move", "copy", "test", "bogus"),
            path: fc.constantFrom("/metadata/labels/x", "/spec", "/data/a", "/metadata/name", "/", "", "/spec/replicas", "/metadata/labels", "/a/b/c/d", "/spec/containers/0/image", "/spec/containers/-", "~1"),
            value: fc.jsonValue({ maxDepth: 2 }),
            from: fc.constantFrom("/metadata/labels", "/spec", "/nope"),
          }),
          { maxLength: 4 },
        )
        .map((ops) => JSON.stringify(ops)),
      fc.record({ metadata: fc.record({ labels: fc.jsonValue({ maxDepth: 2 }), resourceVersion: fc.constantFrom("1", "abc", "999999999") }) }).map((v) => JSON.stringify(v)),
      fc.constantFrom('{"$patch":"delete"}', '{"spec":{"$setElementOrder/containers":[{"name":"zz"}]}}', '{"spec":{"containers":[{"$patch":"replace"}]}}', '{"metadata":{"$deleteFromPrimitiveList/finalizers":["x"]}}'),
    );
    const patchTypes = ["application/merge-patch+json", "application/json-patch+json", "application/strategic-merge-patch+json", "application/apply-patch+yaml", "application/json", "text/plain"];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...kinds), patchBody, fc.constantFrom(...patchTypes), async (kd, body, ct) => {
        const url = `${COLL[kd]}/${targets[kd]}${ct === "application/apply-patch+yaml" ? "?fieldManager=fuzz&force=true" : ""}`;
        const r = check(await send("PATCH", url, body, ct));
        if ((ct === "application/json" || ct === "text/plain") && r.status !== 415)
          throw new Error(`PATCH with non-patch Content-Type ${ct}: want 415, got ${r.status}\n${describeResp(r)}`);
        const g = await send("GET", `${COLL[kd]}/${targets[kd]}`);
        if (g.status !== 200) {
          // A patch may legitimately delete nothing; but a GET of an object we never deleted must work.
          throw new Error(`after ${describeResp(r)}\nGET of the patched ${kd} failed: HTTP ${g.status} ${g.text.slice(0, 300)}`);
        }
      }),
      runs(200),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...kinds), fc.jsonValue({ maxDepth: 3 }), async (kd, v) => {
        const body = typeof v === "object" && v && !Array.isArray(v) ? { ...v, apiVersion: API_VERSION[kd], kind: kd, metadata: { name: targets[kd] } } : v;
        check(await send("PUT", `${COLL[kd]}/${targets[kd]}`, JSON.stringify(body), "application/json"));
      }),
      runs(100),
    );
    // PUT whose body names another object is rejected.
    const g = expectStatus(await send("GET", `${COLL.ConfigMap}/${targets.ConfigMap}`), 200, "GET configmap");
    expect4xx(await send("PUT", `${COLL.ConfigMap}/${targets.ConfigMap}`, JSON.stringify({ ...g.json, metadata: { ...g.json.metadata, name: "other" } }), "application/json"), "PUT with mismatched name", [400, 422]);
    // DELETE with a garbage body.
    check(await send("DELETE", `${COLL.ConfigMap}/does-not-exist`, "{garbage", "application/json"));
  }, 120_000);

  test("query parameter and path fuzz on reads", async () => {
    const param = fc.oneof(
      fc.tuple(fc.constantFrom("labelSelector", "fieldSelector", "limit", "continue", "resourceVersion", "resourceVersionMatch", "timeoutSeconds", "propagationPolicy", "dryRun", "fieldValidation", "allowWatchBookmarks"), fc.string({ unit: "binary", maxLength: 40 })),
      fc.tuple(fc.constant("labelSelector"), fc.constantFrom("a in (", "!!", "a=b,=", "a notin b", "x==y", "a=" + "b".repeat(100), "a,b,,c", "a in (b,c)", "!a", "a!=b")),
      fc.tuple(fc.constant("fieldSelector"), fc.constantFrom("metadata.name=", "spec.bogus=x", "status.phase==Running", "=", "metadata.name!=a,metadata.namespace=fuzz", "involvedObject.kind=Pod")),
      fc.tuple(fc.constant("limit"), fc.constantFrom("-1", "0", "abc", "1e9", "99999999999999999999")),
    );
    const seg = fc.oneof(fc.constantFrom("configmaps", "pods", "nope", "..", "%2e%2e", "%00", "configmaps/x/status", "pods/x/log", "deployments/x/scale", "secrets/"), fc.stringMatching(/^[a-zA-Z0-9%._~-]{1,30}$/));
    await fc.assert(
      fc.asyncProperty(fc.array(param, { maxLength: 3 }), fc.constantFrom(...Object.values(COLL)), async (ps, path) => {
        const q = new URLSearchParams(ps);
        const r = await send("GET", `${path}?${q}`);
        check(r);
        if (r.status === 200 && !Array.isArray(r.json?.items)) throw new Error(`LIST answered 200 without items\n${describeResp(r)}`);
      }),
      runs(150),
    );
    await fc.assert(
      fc.asyncProperty(seg, fc.constantFrom("/api/v1/namespaces/fuzz/", "/apis/apps/v1/namespaces/fuzz/", "/apis/", "/api/v1/", "/apis/nonexistent.example.com/v1/"), async (s, base) => {
        check(await send("GET", base + s));
      }),
      runs(120),
    );
  }, 120_000);

  test("huge, deep and oversized bodies", async () => {
    // Just under the 1 MiB ConfigMap data limit: accepted and stored intact.
    const under = baseObject("ConfigMap", uniq("big"));
    under.data = { blob: "x".repeat(MiB - 1024) };
    const c = expectStatus(await send("POST", COLL.ConfigMap!, JSON.stringify(under), "application/json"), 201, "ConfigMap with ~1 MiB of data");
    const g = expectStatus(await send("GET", `${COLL.ConfigMap}/${c.json.metadata.name}`), 200, "GET big configmap");
    expect(g.json.data.blob.length, "big configmap data length after round trip").toBe(MiB - 1024);

    // Over the 1 MiB ConfigMap data limit (body still < 3 MiB): Kubernetes validation says 422.
    const over = baseObject("ConfigMap", uniq("big"));
    over.data = { blob: "y".repeat(MiB + 10) };
    expect4xx(await send("POST", COLL.ConfigMap!, JSON.stringify(over), "application/json"), "ConfigMap with > 1 MiB of data", [422]);

    // A body just under 3 MiB: any non-5xx answer.
    const nearLimit = baseObject("Event", uniq("big"));
    nearLimit.message = "z".repeat(3 * MiB - 2048);
    check(await send("POST", COLL.Event!, JSON.stringify(nearLimit), "application/json"));

    // Over 3 MiB: 413 RequestEntityTooLarge, with and without Content-Length.
    const tooBig = baseObject("ConfigMap", uniq("big"));
    tooBig.data = { blob: "w".repeat(3 * MiB + 1) };
    const tooBigBody = JSON.stringify(tooBig);
    const r413 = expect4xx(await send("POST", COLL.ConfigMap!, tooBigBody, "application/json"), "body > 3 MiB", [413]);
    expect(r413.json.reason, "reason for a body > 3 MiB").toBe("RequestEntityTooLarge");
    const bytes = new TextEncoder().encode(tooBigBody);
    const chunked = new ReadableStream<Uint8Array>({
      start(ctl) {
        for (let i = 0; i < bytes.length; i += 64 * 1024) ctl.enqueue(bytes.subarray(i, i + 64 * 1024));
        ctl.close();
      },
    });
    expect4xx(await send("POST", COLL.ConfigMap!, chunked, "application/json"), "chunked body > 3 MiB (no Content-Length)", [413]);
    expect4xx(await send("POST", COLL.ConfigMap!, new Uint8Array(10 * MiB).fill(0x20), "application/json"), "10 MiB body", [413]);
    expect4xx(await send("PATCH", `${COLL.ConfigMap}/${c.json.metadata.name}`, JSON.stringify({ data: { blob: "v".repeat(3 * MiB + 1) } }), "application/merge-patch+json"), "PATCH body > 3 MiB", [413]);

    // Huge names and label values.
    expect4xx(await send("POST", COLL.ConfigMap!, JSON.stringify(baseObject("ConfigMap", "n".repeat(10_000))), "application/json"), "10k-char name", [422]);
    const lbl = baseObject("ConfigMap", uniq("lbl"));
    lbl.metadata.labels = { k: "v".repeat(64) };
    expect4xx(await send("POST", COLL.ConfigMap!, JSON.stringify(lbl), "application/json"), "64-char label value", [422]);

    // Many small keys.
    const many = baseObject("ConfigMap", uniq("many"));
    many.data = Object.fromEntries(Array.from({ length: 50_000 }, (_, i) => [`k${i}`, ""]));
    check(await send("POST", COLL.ConfigMap!, JSON.stringify(many), "application/json"));

    // Deep nesting, JSON and YAML: a 4xx, not a stack overflow.
    for (const depth of [100, 10_000, 200_000]) {
      const arr = "[".repeat(depth) + "]".repeat(depth);
      check(await send("POST", COLL.ConfigMap!, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"deep"},"data":{"x":${arr}}}`, "application/json"));
      const objs = '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
      check(await send("POST", COLL.Pod!, `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"deep","labels":${objs}},"spec":${objs}}`, "application/json"));
      check(await send("POST", COLL.ConfigMap!, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deepy}\ndata:\n  x: " + "[".repeat(depth) + "]".repeat(depth), "application/yaml"));
      check(await send("PATCH", `${COLL.ConfigMap}/${c.json.metadata.name}`, '{"data":' + '{"a":'.repeat(depth) + "1" + "}".repeat(depth + 1), "application/merge-patch+json"));
    }
  }, 120_000);

  // Issue 10 #7: paths and their encodings, every kind of query parameter (selectors, continue
  // tokens, booleans as Go parses them, log options), streams, TokenRequest and review bodies,
  // odd headers and methods. Only the invariant is asserted: a 2xx or a proper 4xx Status.
  test("paths, encodings, query parameters, streams, tokens and headers (issue 10)", async () => {
    const pod = baseObject("Pod", uniq("p"));
    expectStatus(await send("POST", COLL.Pod!, JSON.stringify(pod), "application/json"), 201, "a pod for log/exec paths");
    expectStatus(await send("POST", `/api/v1/namespaces/${NS}/serviceaccounts`, JSON.stringify({ metadata: { name: "fuzz-sa" } }), "application/json"), 201, "a service account");
    const badPct = fc.constantFrom("%ZZ", "%", "%2", "%E0%A4%A", "%C0%AF", "%00", "%FF%FE", "%2F", "%25", "%u0041", "..%2F..", "%2e%2e", "a%20b", "\u00e9");
    const word = fc.oneof(badPct, fc.stringMatching(/^[a-zA-Z0-9%._~:@!$&'()*+,;=-]{0,20}$/), fc.constantFrom(pod.metadata.name, NS, "default", "fuzz-sa"));
    const templates = [
      (a: string, b: string) => `/api/v1/namespaces/${a}/pods/${b}/log`,
      (a: string, b: string) => `/api/v1/namespaces/${NS}/pods/${a}/${b}`,
      (a: string, b: string) => `/api/v1/namespaces/${a}/${b}`,
      (a: string, b: string) => `/apis/${a}/${b}/namespaces/${NS}/deployments`,
      (a: string, b: string) => `/api/v1/namespaces/${NS}/serviceaccounts/${a}/${b}`,
      (a: string, b: string) => `/api/v1/${a}/${b}`,
      (a: string, b: string) => `/apis/apps/v1/watch/namespaces/${a}/deployments/${b}`,
      (a: string, b: string) => `/${a}/${b}`,
      (a: string, b: string) => `/api/v1/namespaces/${NS}/pods/${pod.metadata.name}/${a}?${b}`,
    ];
    const goBools = fc.constantFrom("true", "True", "TRUE", "t", "T", "1", "false", "False", "f", "0", "yes", "", "2", "tru");
    const num = fc.oneof(fc.integer().map(String), fc.constantFrom("-1", "0", "abc", "1e9", "1.5", "99999999999999999999", "9007199254740993", "0x10", " 5", "NaN", "Infinity", ""));
    const rfc3339 = fc.oneof(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), fc.constantFrom("2024-13-40T99:99:99Z", "yesterday", "", "0000-00-00T00:00:00Z", "9999-12-31T23:59:59Z"));
    const continueToken = fc.oneof(
      fc.string({ unit: "binary", maxLength: 40 }),
      fc.constantFrom("%ZZ", "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6OTk5OTk5OTk5OSwic3RhcnQiOiJ6In0", "e30", "bnVsbA", "W10"),
      fc.record({ v: fc.constantFrom("meta.k8s.io/v1", "x"), rv: fc.oneof(fc.integer(), fc.constant(1e15), fc.string()), start: fc.string({ maxLength: 10 }) }).map((o) => btoa(JSON.stringify(o))),
    );
    const logParam = fc.oneof(
      fc.tuple(fc.constantFrom("sinceSeconds", "tailLines", "limitBytes"), num),
      fc.tuple(fc.constant("sinceTime"), rfc3339),
      fc.tuple(fc.constantFrom("follow", "previous", "timestamps", "insecureSkipTLSVerifyBackend"), goBools),
      fc.tuple(fc.constant("container"), word),
    );
    const listParam = fc.oneof(
      fc.tuple(fc.constantFrom("watch", "allowWatchBookmarks", "sendInitialEvents"), goBools),
      fc.tuple(fc.constant("continue"), continueToken),
      fc.tuple(fc.constantFrom("limit", "timeoutSeconds", "resourceVersion"), num),
      fc.tuple(fc.constant("resourceVersionMatch"), fc.constantFrom("NotOlderThan", "Exact", "bogus", "")),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(logParam, { maxLength: 4 }), async (ps) => {
        check(await send("GET", `/api/v1/namespaces/${NS}/pods/${pod.metadata.name}/log?${new URLSearchParams(ps)}`, undefined, undefined, {}, 5000));
      }),
      runs(250),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(listParam, { maxLength: 3 }), fc.constantFrom(COLL.ConfigMap!, COLL.Pod!, COLL.Deployment!), async (ps, path) => {
        const q = new URLSearchParams(ps);
        // A valid watch stays open: ask for at most one second of it.
        q.set("timeoutSeconds", "1");
        const r = await send("GET", `${path}?${q}`, undefined, undefined, {}, 10_000);
        // The one 5xx upstream answers on purpose: a resourceVersion newer than the store is
        // 504 "Too large resource version" (reason Timeout), which clients retry.
        if (r.status === 504 && r.json?.reason === "Timeout" && /^Too large resource version/.test(r.json.message ?? "") && !q.get("continue")) return;
        check(r);
      }),
      runs(250),
    );
    const anyJson = fc.oneof(fc.string({ maxLength: 10 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 2 }));
    const reviews = ["/apis/authentication.k8s.io/v1/tokenreviews", "/apis/authorization.k8s.io/v1/subjectaccessreviews", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", `/apis/authorization.k8s.io/v1/namespaces/${NS}/localsubjectaccessreviews`, "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews"];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...reviews), fc.oneof(anyJson, fc.record({ spec: fc.oneof(anyJson, fc.record({ token: anyJson, audiences: anyJson, user: anyJson, groups: anyJson, resourceAttributes: anyJson, nonResourceAttributes: anyJson, namespace: anyJson }, { requiredKeys: [] })) })), async (path, body) => {
        check(await send("POST", path, JSON.stringify(body), "application/json"));
      }),
      runs(200),
    );
    const header = fc.oneof(
      fc.tuple(fc.constantFrom("impersonate-user", "impersonate-group", "impersonate-uid", "impersonate-extra-scopes"), fc.string({ maxLength: 20 }).map((v) => v.replace(/[\r\n\0]/g, ""))),
      fc.tuple(fc.constant("accept"), fc.constantFrom("application/json;as=Table;v=v1;g=meta.k8s.io", "application/json;as=Bogus", "text/html", "*/*", "application/vnd.kubernetes.protobuf", "application/yaml", ";;;", "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io")),
      fc.tuple(fc.constant("content-type"), fc.constantFrom("application/json", "application/json; charset=latin1", "text/plain", "application/strategic-merge-patch+json", "application/apply-patch+yaml", "multipart/form-data; boundary=x", ";")),
      fc.tuple(fc.constant("authorization"), fc.constantFrom("Bearer", "Bearer  ", "Basic Zm9vOmJhcg==", "Bearer a.b.c", "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "bearer x y")),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(header, { maxLength: 3 }), fc.constantFrom("GET", "POST", "PATCH"), fc.constantFrom(COLL.ConfigMap!, `${COLL.ConfigMap}/x`, "/api/v1/namespaces", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"), async (hs, method, path) => {
        const h: Record<string, string> = {};
        for (const [k, v] of hs) h[k] = v;
        const ct = h["content-type"] ?? (method === "GET" ? undefined : "application/json");
        delete h["content-type"];
        const body = method === "GET" ? undefined : JSON.stringify(baseObject("ConfigMap", uniq("h")));
        const r = await send(method, path, body, ct, h);
        if (r.status >= 500) throw new Error(`5xx from the server:\n${describeResp(r)}`);
        // A 401 from a forged token is a Status too; an Accept the server cannot satisfy may be 406.
        if (r.status >= 400) check(r);
      }),
      runs(250),
    );
    // Last: DELETEs among these may remove the pod and account the properties above use.
    await fc.assert(
      fc.asyncProperty(fc.nat(templates.length - 1), word, word, fc.constantFrom("GET", "GET", "DELETE", "HEAD", "OPTIONS", "PUT", "PATCH"), async (t, a, b, method) => {
        const r = await send(method, templates[t]!(a, b), method === "PUT" || method === "PATCH" ? "{}" : undefined, method === "PATCH" ? "application/merge-patch+json" : undefined);
        if (method !== "HEAD") check(r);
        else if (r.status >= 500) throw new Error(`5xx from the server:\n${describeResp(r)}`);
      }),
      runs(400),
    );
  }, 300_000);

  // serviceaccounts/token is served by server/auth/sa-tokens.ts issueServiceAccountToken
  // (test/unit/sa-tokens.test.ts runs the same bodies against the function directly).
  test("TokenRequest fields, fuzzed: 201 or a 4xx Status (issue 10)", async () => {
    expectStatus(await send("POST", `/api/v1/namespaces/${NS}/serviceaccounts`, JSON.stringify({ metadata: { name: "fuzz-tr" } }), "application/json"), 201, "a service account");
    const anyJson = fc.oneof(fc.string({ maxLength: 10 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 2 }));
    const tokenSpec = fc.record(
      {
        audiences: fc.oneof(anyJson, fc.array(fc.string({ maxLength: 20 }), { maxLength: 3 })),
        expirationSeconds: fc.oneof(anyJson, fc.constantFrom("abc", 599, 600, 3600, 2 ** 32, 2 ** 32 + 1, -1, 1.5, 1e300)),
        boundObjectRef: fc.oneof(anyJson, fc.record({ kind: fc.constantFrom("Pod", "Secret", "Node", "Deployment", 7), apiVersion: fc.constantFrom("v1", "apps/v1", 3), name: fc.oneof(fc.constant("p0"), fc.string({ maxLength: 10 })), uid: fc.oneof(fc.constant(undefined), fc.string({ maxLength: 10 })) }, { requiredKeys: [] })),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(tokenSpec.map((spec) => ({ spec })), anyJson), async (body) => {
        const r = check(await send("POST", `/api/v1/namespaces/${NS}/serviceaccounts/fuzz-tr/token`, JSON.stringify(body), "application/json"));
        if (r.status === 201 && typeof r.json?.status?.token !== "string") throw new Error(`TokenRequest 201 without a token\n${describeResp(r)}`);
      }),
      runs(250),
    );
  }, 120_000);

  test("after the fuzz: server alive, lists and Tables of every kind still served", async () => {
    expect(srv.alive(), `server process exited during fuzzing\n${srv.logTail()}`).toBe(true);
    const ready = await srv.fetch("/readyz");
    expect(ready.status, "/readyz after fuzzing").toBe(200);
    for (const [kind, path] of Object.entries(COLL)) {
      const l = expectStatus(await send("GET", path), 200, `LIST ${kind} after fuzzing`);
      expect(Array.isArray(l.json?.items), `LIST ${kind} has items`).toBe(true);
      const t = expectStatus(await send("GET", path, undefined, undefined, { accept: "application/json;as=Table;v=v1;g=meta.k8s.io,application/json" }), 200, `Table LIST ${kind} after fuzzing`);
      expect(t.json?.kind, `Table LIST ${kind}`).toBe("Table");
      expect(t.json.rows.length, `Table ${kind} has a row per object`).toBe(l.json.items.length);
    }
  }, 60_000);
});
