// PodSecurity through the registry: enforce refuses with each violation in upstream's words,
// warn admits with a warning, workloads get warnings for their templates, namespace labels
// are validated, and a compliant restricted pod passes.
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findByKind } from "../../schemas/registry";
import { bootstrap } from "../../server/bootstrap";
import type { ApiError } from "../../server/errors";
import { APISERVER_USER, writeCtx } from "../../server/registry/ctx";
import { newRegistry } from "../../server/registry/index";
import type { Registry } from "../../server/registry/registry";
import { Store } from "../../server/store/store";

const kind = (apiVersion: string, k: string) => findByKind(apiVersion, k)!;
const ctx = () => writeCtx(APISERVER_USER, "t");
let dir: string;
let store: Store;
afterEach(() => {
  store?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function setup(): Promise<Registry> {
  dir = mkdtempSync(join(tmpdir(), "skiff-psa-"));
  store = new Store({ dataDir: dir });
  const registry = newRegistry(store);
  await bootstrap(registry);
  return registry;
}
const ns = (registry: Registry, name: string, labels: Record<string, string>) => registry.create(ctx(), kind("v1", "Namespace"), undefined, { metadata: { name, labels } });
const refusal = (p: Promise<unknown>) => p.then(() => undefined, (e: ApiError) => [e.code, e.message]);

const privileged = {
  metadata: { name: "bad" },
  spec: {
    hostNetwork: true,
    volumes: [{ name: "root", hostPath: { path: "/" } }],
    containers: [{ name: "app", image: "busybox", securityContext: { privileged: true, capabilities: { add: ["NET_ADMIN"] } }, ports: [{ containerPort: 80, hostPort: 8080 }] }],
  },
};
const compliant = {
  metadata: { name: "good" },
  spec: {
    securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: "RuntimeDefault" } },
    containers: [{ name: "app", image: "busybox", securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } } }],
  },
};

test("restricted enforce refuses a privileged pod listing each violation; a compliant pod passes", async () => {
  const registry = await setup();
  await ns(registry, "locked", { "pod-security.kubernetes.io/enforce": "restricted" });
  expect(await refusal(registry.create(ctx(), kind("v1", "Pod"), "locked", structuredClone(privileged)))).toEqual([
    403,
    'pods "bad" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "app" must set securityContext.allowPrivilegeEscalation=false), ' +
      'unrestricted capabilities (container "app" must set securityContext.capabilities.drop=["ALL"]; container "app" must not include "NET_ADMIN" in securityContext.capabilities.add), ' +
      "host namespaces (hostNetwork=true), " +
      'hostPort (container "app" uses hostPort 8080), ' +
      'privileged (container "app" must not set securityContext.privileged=true), ' +
      'restricted volume types (volume "root" uses restricted volume type "hostPath"), ' +
      'runAsNonRoot != true (pod or container "app" must set securityContext.runAsNonRoot=true), ' +
      'seccompProfile (pod or container "app" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")',
  ]);
  await registry.create(ctx(), kind("v1", "Pod"), "locked", structuredClone(compliant));
  // A plain pod misses the four restricted settings.
  const plain = await refusal(registry.create(ctx(), kind("v1", "Pod"), "locked", { metadata: { name: "plain" }, spec: { containers: [{ name: "c", image: "x" }, { name: "d", image: "x" }] } }));
  expect(plain?.[1]).toBe(
    'pods "plain" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false (containers "c", "d" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (containers "c", "d" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or containers "c", "d" must set securityContext.runAsNonRoot=true), seccompProfile (pod or containers "c", "d" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")',
  );
});

test("baseline with a version label; runAsUser=0 and explicit false are named", async () => {
  const registry = await setup();
  await ns(registry, "base", { "pod-security.kubernetes.io/enforce": "baseline", "pod-security.kubernetes.io/enforce-version": "v1.29" });
  expect((await refusal(registry.create(ctx(), kind("v1", "Pod"), "base", structuredClone(privileged))))?.[1]).toBe(
    'pods "bad" is forbidden: violates PodSecurity "baseline:v1.29": non-default capabilities (container "app" must not include "NET_ADMIN" in securityContext.capabilities.add), host namespaces (hostNetwork=true), hostPath volumes (volume "root"), hostPort (container "app" uses hostPort 8080), privileged (container "app" must not set securityContext.privileged=true)',
  );
  // Root is fine at baseline.
  await registry.create(ctx(), kind("v1", "Pod"), "base", { metadata: { name: "root" }, spec: { securityContext: { runAsUser: 0 }, containers: [{ name: "c", image: "x" }] } });
  await ns(registry, "strict", { "pod-security.kubernetes.io/enforce": "restricted" });
  const root = structuredClone(compliant);
  root.spec.securityContext = { runAsNonRoot: false, runAsUser: 0, seccompProfile: { type: "RuntimeDefault" } } as any;
  expect((await refusal(registry.create(ctx(), kind("v1", "Pod"), "strict", root)))?.[1]).toBe(
    'pods "good" is forbidden: violates PodSecurity "restricted:latest": runAsNonRoot != true (pod must not set securityContext.runAsNonRoot=false), runAsUser=0 (pod must not set runAsUser=0)',
  );
});

test("warn admits with a warning; workloads warn for their template; labels are validated", async () => {
  const registry = await setup();
  await ns(registry, "soft", { "pod-security.kubernetes.io/warn": "baseline" });
  const c = ctx();
  await registry.create(c, kind("v1", "Pod"), "soft", structuredClone(privileged));
  expect(c.warnings).toEqual([
    'would violate PodSecurity "baseline:latest": non-default capabilities (container "app" must not include "NET_ADMIN" in securityContext.capabilities.add), host namespaces (hostNetwork=true), hostPath volumes (volume "root"), hostPort (container "app" uses hostPort 8080), privileged (container "app" must not set securityContext.privileged=true)',
  ]);
  await ns(registry, "enf", { "pod-security.kubernetes.io/enforce": "baseline" });
  const d = ctx();
  const tpl = { metadata: { labels: { a: "b" } }, spec: { containers: [{ name: "c", image: "x", securityContext: { privileged: true } }] } };
  await registry.create(d, kind("apps/v1", "Deployment"), "enf", { metadata: { name: "dep" }, spec: { selector: { matchLabels: { a: "b" } }, template: tpl } });
  expect(d.warnings).toEqual(['would violate PodSecurity "baseline:latest": privileged (container "c" must not set securityContext.privileged=true)']);
  const badLabel = await refusal(ns(registry, "typo", { "pod-security.kubernetes.io/enforce": "strict" }));
  expect(badLabel).toEqual([422, 'Namespace "typo" is invalid: metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "strict": must be one of privileged, baseline, restricted']);
  // Tightening a namespace with a violating pod warns about it.
  const e = ctx();
  await registry.update(e, kind("v1", "Namespace"), "", "soft", (n) => ((n.metadata.labels["pod-security.kubernetes.io/enforce"] = "baseline"), n));
  expect(e.warnings).toEqual(['existing pods in namespace "soft" violate the new PodSecurity enforce level "baseline:latest"', "bad: non-default capabilities, host namespaces, hostPath volumes, hostPort, privileged"]);
});

test("audit admits and annotates the audit event, also when enforce refuses; workloads get it for their template", async () => {
  const registry = await setup();
  await ns(registry, "audited", { "pod-security.kubernetes.io/audit": "baseline", "pod-security.kubernetes.io/enforce": "privileged" });
  const c = { ...ctx(), audit: { annotations: {} as Record<string, string> } };
  await registry.create(c, kind("v1", "Pod"), "audited", structuredClone(privileged));
  expect(c.warnings).toEqual([]);
  expect(c.audit.annotations["pod-security.kubernetes.io/enforce-policy"]).toBe("privileged:latest");
  expect(c.audit.annotations["pod-security.kubernetes.io/audit-violations"]).toBe(
    'would violate PodSecurity "baseline:latest": non-default capabilities (container "app" must not include "NET_ADMIN" in securityContext.capabilities.add), host namespaces (hostNetwork=true), ' +
      'hostPath volumes (volume "root"), hostPort (container "app" uses hostPort 8080), privileged (container "app" must not set securityContext.privileged=true)',
  );
  const ok = { ...ctx(), audit: { annotations: {} as Record<string, string> } };
  await registry.create(ok, kind("v1", "Pod"), "audited", structuredClone(compliant));
  expect(ok.audit.annotations["pod-security.kubernetes.io/audit-violations"]).toBeUndefined();

  await ns(registry, "both", { "pod-security.kubernetes.io/audit": "restricted", "pod-security.kubernetes.io/enforce": "restricted" });
  const refused = { ...ctx(), audit: { annotations: {} as Record<string, string> } };
  expect((await refusal(registry.create(refused, kind("v1", "Pod"), "both", structuredClone(privileged))))?.[0]).toBe(403);
  expect(refused.audit.annotations["pod-security.kubernetes.io/audit-violations"]).toStartWith('would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false');

  const d = { ...ctx(), audit: { annotations: {} as Record<string, string> } };
  await registry.create(d, kind("apps/v1", "Deployment"), "audited", {
    metadata: { name: "d", namespace: "audited" },
    spec: { selector: { matchLabels: { a: "b" } }, template: { metadata: { labels: { a: "b" } }, spec: structuredClone(privileged.spec) } },
  });
  expect(d.audit.annotations["pod-security.kubernetes.io/audit-violations"]).toStartWith('would violate PodSecurity "baseline:latest": non-default capabilities');
});
