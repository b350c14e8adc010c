import { describe, expect, test } from "bun:test";
import { parseFlags, parseManifests, UsageError, formatError, dryRunQuery } from "../../cli/commands/common";
import { ApiError, ConnectionError, resourcePath, toApiError } from "../../lib/client";
import { parseDuration } from "../../cli/commands/delete";

const spec = {
  output: { type: "string" as const, short: "o", default: "" },
  "all-namespaces": { type: "bool" as const, short: "A" },
  watch: { type: "bool" as const, short: "w" },
  filename: { type: "strings" as const, short: "f", default: [] },
  "from-literal": { type: "array" as const, default: [] },
  replicas: { type: "int" as const },
  wait: { type: "bool" as const, default: true },
  "dry-run": { type: "string" as const, noOptDefault: "unchanged" },
};

describe("parseFlags", () => {
  test("long, short, attached and = forms", () => {
    const p = parseFlags(["pods", "-n", "kube-system", "-oyaml", "--kubeconfig=/k", "web"], spec);
    expect(p.positional).toEqual(["pods", "web"]);
    expect(p.flags.namespace).toBe("kube-system");
    expect(p.flags.output).toBe("yaml");
    expect(p.flags.kubeconfig).toBe("/k");
    expect(p.given.has("namespace")).toBe(true);
    expect(parseFlags(["-n=foo", "-o", "wide"], spec).flags).toMatchObject({ namespace: "foo", output: "wide" });
    expect(parseFlags(["-nfoo"], spec).flags.namespace).toBe("foo");
  });
  test("bool runs and explicit values", () => {
    const p = parseFlags(["-Aw", "--wait=false"], spec);
    expect(p.flags["all-namespaces"]).toBe(true);
    expect(p.flags.watch).toBe(true);
    expect(p.flags.wait).toBe(false);
    expect(parseFlags([], spec).flags.wait).toBe(true);
  });
  test("repeatable and comma lists", () => {
    const p = parseFlags(["-f", "a.yaml,b.yaml", "-f", "c.yaml", "--from-literal=a=1,2", "--from-literal", "b=x"], spec);
    expect(p.flags.filename).toEqual(["a.yaml", "b.yaml", "c.yaml"]);
    expect(p.flags["from-literal"]).toEqual(["a=1,2", "b=x"]);
  });
  test("ints, noOptDefault, --", () => {
    expect(parseFlags(["--replicas=3"], spec).flags.replicas).toBe(3);
    expect(parseFlags(["--replicas", "0"], spec).flags.replicas).toBe(0);
    expect(parseFlags(["--dry-run", "x"], spec).flags["dry-run"]).toBe("unchanged");
    expect(parseFlags(["--dry-run=server"], spec).flags["dry-run"]).toBe("server");
    expect(parseFlags(["--", "-n", "x"], spec).positional).toEqual(["-n", "x"]);
  });
  test("errors", () => {
    expect(() => parseFlags(["--nope"], spec)).toThrow(UsageError);
    expect(() => parseFlags(["-z"], spec)).toThrow(UsageError);
    expect(() => parseFlags(["--replicas=x"], spec)).toThrow(/invalid argument "x"/);
    expect(() => parseFlags(["-n"], spec)).toThrow(/flag needs an argument/);
    expect(() => parseFlags(["--wait=maybe"], spec)).toThrow(UsageError);
  });
});

describe("manifests", () => {
  test("multi-document YAML, empty docs, List flattening", () => {
    const text = `
---
apiVersion: v1
kind: ConfigMap
metadata: {name: a}
---
# only a comment
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Secret
  metadata: {name: b}
- apiVersion: v1
  kind: Namespace
  metadata: {name: c}
---
`;
    const ms = parseManifests(text, "x.yaml");
    expect(ms.map((m) => `${m.obj.kind}/${m.obj.metadata.name}`)).toEqual(["ConfigMap/a", "Secret/b", "Namespace/c"]);
    expect(ms[0]!.source).toBe("x.yaml");
  });
  test("JSON documents and syntax errors", () => {
    expect(parseManifests(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}`, "p.json")[0]!.obj.kind).toBe("Pod");
    expect(() => parseManifests("a: [1, 2\nb: c", "bad.yaml")).toThrow(/bad\.yaml/);
  });
});

describe("client helpers", () => {
  test("resource paths", () => {
    const pods = { group: "", version: "v1", plural: "pods", namespaced: true };
    const deps = { group: "apps", version: "v1", plural: "deployments", namespaced: true };
    const nodes = { group: "", version: "v1", plural: "nodes", namespaced: false };
    expect(resourcePath(pods, "default", "web")).toBe("/api/v1/namespaces/default/pods/web");
    expect(resourcePath(pods)).toBe("/api/v1/pods");
    expect(resourcePath(deps, "ns", "web", "scale")).toBe("/apis/apps/v1/namespaces/ns/deployments/web/scale");
    expect(resourcePath(nodes, "ignored", "n1")).toBe("/api/v1/nodes/n1");
  });
  test("Status errors are printed like kubectl", () => {
    const e = toApiError(404, JSON.stringify({ kind: "Status", status: "Failure", reason: "NotFound", code: 404, message: 'deployments.apps "x" not found' }));
    expect(formatError(e)).toBe('Error from server (NotFound): deployments.apps "x" not found');
    const plain = toApiError(500, "boom");
    expect(plain).toBeInstanceOf(ApiError);
    expect(formatError(plain)).toBe("Error from server (InternalError): boom");
    expect(formatError(new ConnectionError("127.0.0.1:6443", "refused", "x"))).toBe(
      "The connection to the server 127.0.0.1:6443 was refused - did you specify the right host or port?",
    );
    expect(formatError(new UsageError("bad"))).toBe("error: bad");
  });
  test("durations and dry-run", () => {
    expect(parseDuration("0s")).toBe(0);
    expect(parseDuration("1m30s")).toBe(90000);
    expect(parseDuration("5")).toBe(5000);
    expect(() => parseDuration("x")).toThrow();
    expect(dryRunQuery("server")).toEqual({ dryRun: "All", suffix: " (server dry run)", client: false });
    expect(dryRunQuery(undefined).suffix).toBe("");
  });
});
