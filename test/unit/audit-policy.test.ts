// The audit policy (audit.k8s.io/v1 Policy): parsing with errors that name the field, and rule
// matching as upstream's policy checker does it (first match wins, users/groups/verbs,
// resources with subresource patterns, namespaces, nonResourceURLs, omitStages).
import { expect, test } from "bun:test";
import { requestAttributes, type UserInfo } from "../../server/auth/attributes";
import { evaluate, parsePolicy, PolicyError } from "../../server/audit/policy";

const policy = parsePolicy(`
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: None
    users: ["system:kube-proxy"]
    verbs: ["watch"]
  - level: None
    userGroups: ["system:nodes"]
    nonResourceURLs: ["/healthz*", "/version"]
  - level: Metadata
    resources:
      - group: ""
        resources: ["secrets", "configmaps"]
  - level: Request
    resources:
      - group: ""
        resources: ["pods/log", "pods/status"]
  - level: RequestResponse
    resources:
      - group: apps
        resources: ["deployments/*"]
      - group: ""
        resources: ["*/scale"]
  - level: Request
    resources:
      - group: batch
    namespaces: ["jobs-ns"]
  - level: Metadata
    resources:
      - group: ""
        resources: ["services"]
        resourceNames: ["kubernetes"]
  - level: None
    namespaces: [""]
    resources:
      - group: ""
        resources: ["nodes"]
  - level: RequestResponse
    omitStages: [ResponseStarted]
`);

const alice: UserInfo = { user: "alice", groups: ["system:authenticated"] };
const at = (method: string, path: string, u: UserInfo = alice) => evaluate(policy, u, requestAttributes(method, new URL(`https://x${path}`)));
const level = (method: string, path: string, u?: UserInfo) => at(method, path, u).level;

test("the first matching rule decides; users, groups and verbs narrow a rule", () => {
  expect(level("GET", "/api/v1/pods?watch=true", { user: "system:kube-proxy", groups: [] })).toBe("None");
  expect(level("GET", "/api/v1/pods", { user: "system:kube-proxy", groups: [] })).toBe("RequestResponse");
  expect(level("GET", "/healthz/ready", { user: "system:node:a", groups: ["system:nodes"] })).toBe("None");
  expect(level("GET", "/healthz", alice)).toBe("RequestResponse");
  expect(level("GET", "/versionx", { user: "n", groups: ["system:nodes"] })).toBe("RequestResponse");
});

test("resources: plain names, resource/subresource, resource/*, */subresource, whole groups, resourceNames", () => {
  expect(level("GET", "/api/v1/namespaces/a/secrets/s")).toBe("Metadata");
  expect(level("POST", "/api/v1/namespaces/a/secrets")).toBe("Metadata");
  expect(level("GET", "/api/v1/namespaces/a/configmaps")).toBe("Metadata");
  expect(level("GET", "/api/v1/namespaces/a/pods/p/log")).toBe("Request");
  // "pods/log" does not select pods themselves.
  expect(level("GET", "/api/v1/namespaces/a/pods/p")).toBe("RequestResponse");
  expect(level("PUT", "/apis/apps/v1/namespaces/a/deployments/d/scale")).toBe("RequestResponse");
  expect(level("PUT", "/api/v1/namespaces/a/replicationcontrollers/r/scale")).toBe("RequestResponse");
  expect(level("POST", "/apis/batch/v1/namespaces/jobs-ns/jobs")).toBe("Request");
  expect(level("POST", "/apis/batch/v1/namespaces/other/jobs")).toBe("RequestResponse");
  expect(level("GET", "/api/v1/namespaces/default/services/kubernetes")).toBe("Metadata");
  expect(level("GET", "/api/v1/namespaces/default/services/other")).toBe("RequestResponse");
  // namespaces [""] selects cluster-scoped requests only.
  expect(level("GET", "/api/v1/nodes/n1")).toBe("None");
});

test("omitStages of the policy and of the rule add up", () => {
  expect([...at("GET", "/api/v1/pods").omitStages].sort()).toEqual(["RequestReceived", "ResponseStarted"]);
  expect([...at("GET", "/api/v1/namespaces/a/secrets").omitStages]).toEqual(["RequestReceived"]);
});

test("a request no rule matches is not audited", () => {
  const p = parsePolicy("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n  verbs: [create]\n");
  expect(evaluate(p, alice, requestAttributes("GET", new URL("https://x/api/v1/pods"))).level).toBe("None");
  expect(evaluate(p, alice, requestAttributes("POST", new URL("https://x/api/v1/namespaces/a/pods"))).level).toBe("Metadata");
});

test("bad policies are refused with the field to fix", () => {
  const bad = (text: string) => {
    try {
      parsePolicy(text);
    } catch (e) {
      expect(e).toBeInstanceOf(PolicyError);
      return (e as Error).message;
    }
    throw new Error("accepted");
  };
  const head = "apiVersion: audit.k8s.io/v1\nkind: Policy\n";
  expect(bad("apiVersion: v1\nkind: Policy\nrules: [{level: None}]")).toBe("expected apiVersion audit.k8s.io/v1 and kind Policy, got v1 Policy");
  expect(bad(head)).toBe("rules: at least one rule is required");
  expect(bad(head + "rules: [{level: Everything}]")).toBe('rules[0].level: must be one of None, Metadata, Request, RequestResponse, got "Everything"');
  expect(bad(head + "rules: [{level: None, omitStages: [Done]}]")).toBe('rules[0].omitStages: unknown stage "Done" (one of RequestReceived, ResponseStarted, ResponseComplete, Panic)');
  expect(bad(head + "rules: [{level: None, nonResourceURLs: [/x], namespaces: [a]}]")).toBe("rules[0]: rules cannot apply to both regular resources and non-resource URLs");
  expect(bad(head + "rules: [{level: None, nonResourceURLs: [healthz]}]")).toBe('rules[0].nonResourceURLs: "healthz" must start with "/"');
  expect(bad(head + "rules: [{level: None, users: alice}]")).toBe("rules[0].users: must be a list of strings");
  expect(bad(head + "rules: [{level: None, resources: [{resources: ['a/b/c']}]}]")).toContain('"a/b/c" is not a resource');
  expect(bad("{")).toStartWith("not YAML or JSON");
});
