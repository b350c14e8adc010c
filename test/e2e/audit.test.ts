// Issue 12: the API audit log (kube-apiserver's --audit-policy-file / --audit-log-path) with the
// real kubectl against one `skiff server` (no agent): a pod that violates `restricted` in a
// namespace labelled pod-security.kubernetes.io/audit=restricted is admitted and its create
// event carries pod-security.kubernetes.io/audit-violations; Secrets logged at Metadata never
// put their data in the log; authorization decisions (allow/forbid with the RBAC reason) and
// impersonation are recorded; a policy file with a mistake stops the server with what to fix.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { describeResult, expectOk, kubectl } from "../harness/kubectl";
import { BUN, REPO, startServer, type SkiffServer } from "../harness/server";
import { until } from "../harness/wait";

setDefaultTimeout(90_000);

const NS = "audit-e2e";
const SECRET_VALUE = "hunter2-d7f1c0a9";

const POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: []
rules:
  # Secrets: who touched which one, never their content.
  - level: Metadata
    resources:
      - group: ""
        resources: ["secrets"]
  - level: None
    nonResourceURLs: ["/healthz*", "/readyz*", "/livez*", "/openapi*", "/api", "/apis", "/version"]
  - level: Request
    verbs: ["create"]
    resources:
      - group: ""
        resources: ["pods"]
  - level: Metadata
    omitStages: ["RequestReceived"]
`;

let srv: SkiffServer;
let log: string;
const dir = mkdtempSync(join(tmpdir(), "skiff-audit-e2e-"));
const admin = async (args: string[], stdin?: string) => expectOk(await kubectl(srv, args, stdin !== undefined ? { stdin } : {}), `kubectl ${args.join(" ")}`);
const events = (): any[] =>
  existsSync(log)
    ? readFileSync(log, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l))
    : [];
const waitEvents = <T>(what: string, f: (evs: any[]) => T | undefined | false) => until(what, async () => f(events()), 15_000, 100, () => srv.logTail(20));

describe("audit log", () => {
  beforeAll(async () => {
    const policy = join(dir, "policy.yaml");
    writeFileSync(policy, POLICY);
    log = join(dir, "logs", "audit.log");
    srv = await startServer({ name: "audit", extraArgs: ["--audit-policy-file", policy, "--audit-log-path", log, "--audit-log-maxsize", "10", "--audit-log-maxbackup", "2"] });
  });
  afterAll(async () => {
    await srv?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("a pod violating restricted in an audit=restricted namespace is admitted; its event lists the violations", async () => {
    await admin(["create", "namespace", NS]);
    await admin(["label", "namespace", NS, "pod-security.kubernetes.io/audit=restricted"]);
    const pod = { apiVersion: "v1", kind: "Pod", metadata: { name: "loose", namespace: NS }, spec: { containers: [{ name: "c", image: "busybox", command: ["sleep", "3600"] }] } };
    const r = await admin(["apply", "-f", "-"], stringify(pod));
    // Audit mode neither refuses nor warns.
    expect(r.stderr, describeResult(r)).not.toContain("PodSecurity");
    const create = await waitEvents("the pod's create event", (evs) => evs.find((e) => e.objectRef?.resource === "pods" && e.objectRef?.name === "loose" && e.verb === "create" && e.stage === "ResponseComplete"));
    expect(create.apiVersion).toBe("audit.k8s.io/v1");
    expect(create.kind).toBe("Event");
    expect(create.level).toBe("Request");
    expect(create.objectRef).toEqual({ resource: "pods", namespace: NS, name: "loose", apiVersion: "v1" });
    expect(create.responseStatus.code).toBe(201);
    expect(create.requestObject.metadata.name).toBe("loose");
    expect(create.responseObject).toBeUndefined();
    expect(create.user.username).toBe("system:admin");
    expect(create.sourceIPs).toContain("127.0.0.1");
    expect(create.userAgent).toStartWith("kubectl");
    expect(create.annotations["authorization.k8s.io/decision"]).toBe("allow");
    expect(create.annotations["pod-security.kubernetes.io/enforce-policy"]).toBe("privileged:latest");
    const v = create.annotations["pod-security.kubernetes.io/audit-violations"];
    expect(v).toStartWith('would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false)');
    expect(v).toContain("runAsNonRoot != true");
    expect(v).toContain("seccompProfile");
    // Both stages, one auditID; timestamps are RFC 3339 with microseconds.
    const received = events().find((e) => e.auditID === create.auditID && e.stage === "RequestReceived");
    expect(received?.verb).toBe("create");
    expect(create.requestReceivedTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect(Date.parse(create.stageTimestamp)).toBeGreaterThanOrEqual(Date.parse(create.requestReceivedTimestamp));
    expect(expectOk(await kubectl(srv, ["get", "pod", "loose", "-n", NS, "-o", "name"]), "get pod").stdout.trim()).toBe("pod/loose");
  });

  test("Secrets at Metadata level: events for create, get and update, never the data", async () => {
    await admin(["create", "secret", "generic", "s1", "-n", NS, `--from-literal=password=${SECRET_VALUE}`]);
    await admin(["get", "secret", "s1", "-n", NS, "-o", "yaml"]);
    await admin(["patch", "secret", "s1", "-n", NS, "-p", JSON.stringify({ stringData: { other: `${SECRET_VALUE}-2` } })]);
    const evs = await waitEvents("three secret events", (evs) => {
      const s = evs.filter((e) => e.objectRef?.resource === "secrets" && e.objectRef?.name === "s1" && e.stage === "ResponseComplete");
      return s.some((e) => e.verb === "patch") && s;
    });
    // kubectl patch reads the secret first: create, get, get, patch.
    expect([...new Set(evs.map((e: any) => e.verb))].sort()).toEqual(["create", "get", "patch"]);
    for (const e of evs) {
      expect(e.level).toBe("Metadata");
      expect(e.requestObject).toBeUndefined();
      expect(e.responseObject).toBeUndefined();
    }
    const text = readFileSync(log, "utf8");
    for (const needle of [SECRET_VALUE, Buffer.from(SECRET_VALUE).toString("base64"), Buffer.from(`${SECRET_VALUE}-2`).toString("base64")]) expect(text.includes(needle)).toBe(false);
  });

  test("a refused request is audited with the decision, and impersonation names both users", async () => {
    const r = await kubectl(srv, ["get", "configmaps", "-n", NS, "--as=mallory"]);
    expect(r.code, describeResult(r)).not.toBe(0);
    const e = await waitEvents("the forbidden list", (evs) => evs.find((x) => x.impersonatedUser?.username === "mallory" && x.objectRef?.resource === "configmaps"));
    expect(e.stage).toBe("ResponseComplete");
    expect(e.level).toBe("Metadata");
    expect(e.verb).toBe("list");
    expect(e.user.username).toBe("system:admin");
    expect(e.responseStatus).toMatchObject({ code: 403, status: "Failure", reason: "Forbidden" });
    expect(e.responseStatus.message).toContain('User "mallory" cannot list resource "configmaps"');
    expect(e.annotations["authorization.k8s.io/decision"]).toBe("forbid");
    // The rule's omitStages: no RequestReceived for Metadata-level requests.
    expect(events().some((x) => x.auditID === e.auditID && x.stage === "RequestReceived")).toBe(false);
    // nonResourceURLs at None: no /healthz, /version or discovery in the log.
    expect(events().some((x) => x.requestURI === "/version" || x.requestURI?.startsWith("/healthz"))).toBe(false);
  });

  test("ValidatingAdmissionPolicy with kubectl: Deny refuses in upstream's words, Audit lands in the event", async () => {
    const vap = {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingAdmissionPolicy",
      metadata: { name: "cm-size" },
      spec: {
        matchConstraints: { resourceRules: [{ apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE", "UPDATE"], resources: ["configmaps"] }] },
        validations: [{ expression: "!has(object.data) || object.data.size() <= 1", messageExpression: "'at most one key, got ' + string(object.data.size())" }],
      },
    };
    const bind = (name: string, actions: string[], ns: string) => ({
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingAdmissionPolicyBinding",
      metadata: { name },
      spec: { policyName: "cm-size", validationActions: actions, matchResources: { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": ns } } } },
    });
    await admin(["apply", "-f", "-"], [vap, bind("cm-size-deny", ["Deny"], NS), bind("cm-size-audit", ["Audit"], "default")].map((o) => stringify(o)).join("---\n"));
    const r = await kubectl(srv, ["create", "configmap", "two", "-n", NS, "--from-literal=a=1", "--from-literal=b=2"]);
    expect(r.code, describeResult(r)).not.toBe(0);
    expect(r.stderr).toContain("ValidatingAdmissionPolicy 'cm-size' with binding 'cm-size-deny' denied request: at most one key, got 2");
    await admin(["create", "configmap", "two", "-n", "default", "--from-literal=a=1", "--from-literal=b=2"]);
    const e = await waitEvents("the audited configmap create", (evs) => evs.find((x) => x.objectRef?.resource === "configmaps" && x.objectRef?.name === "two" && x.objectRef?.namespace === "default" && x.stage === "ResponseComplete"));
    expect(e.responseStatus.code).toBe(201);
    expect(JSON.parse(e.annotations["validation.policy.admission.k8s.io/validation_failure"])).toEqual([
      { message: "at most one key, got 2", policy: "cm-size", binding: "cm-size-audit", expressionIndex: 0, validationActions: ["Audit"] },
    ]);
  });

  test("a policy with a mistake stops the server with the field to fix", async () => {
    const bad = join(dir, "bad-policy.yaml");
    writeFileSync(bad, "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n  - level: Verbose\n");
    const p = Bun.spawnSync([BUN, join(REPO, "cli/main.ts"), "server", "--disable-agent", "--data-dir", join(dir, "bad-data"), "--https-listen-port", "1", "--audit-policy-file", bad, "--audit-log-path", "-"], { stderr: "pipe", stdout: "pipe", timeout: 30_000 });
    expect(p.exitCode).toBe(1);
    expect(p.stderr.toString()).toContain(`error: --audit-policy-file ${bad}: rules[0].level: must be one of None, Metadata, Request, RequestResponse, got "Verbose"`);
    expect(p.stderr.toString()).not.toContain("    at ");
  });
});
